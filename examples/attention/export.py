#!/usr/bin/python3
"""Export a causal self-attention block to ONNX:

    x [2,8,16] -> q, k, v = three Linear 16->16 (2 heads of 8) -> scores = q k^T / sqrt(8)
               -> masked_fill(triu(ones(8,8), 1), -inf) -> softmax -> @ v -> Linear 16->16 -> y [2,8,16]

The causal mask is built in forward() with torch.triu and applied with masked_fill (the
exporter writes Trilu on a constant, Cast and Where), as GPT-style models do; the three
separate projections keep Split (not supported) out of the graph.
Run with Debian's Python (python3-torch): /usr/bin/python3 examples/attention/export.py
Writes, next to this script: model.onnx, inputs/x.npy (2 sequences, uniform in [-1, 1))
and expected/y.npy (PyTorch's output for them). Seeded, so the files are reproducible;
they are committed so that the tests need no Python.
"""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_export import export_example  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
T, D, HEADS = 8, 16, 2


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        b, t, d = x.shape
        hd = D // HEADS
        q = self.q(x).view(b, t, HEADS, hd).transpose(1, 2)
        k = self.k(x).view(b, t, HEADS, hd).transpose(1, 2)
        v = self.v(x).view(b, t, HEADS, hd).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


def main():
    torch.manual_seed(20261207)
    model = CausalSelfAttention().eval()
    x = torch.rand(2, T, D, dtype=torch.float32) * 2.0 - 1.0
    export_example(HERE, model, x, 14)


if __name__ == "__main__":
    main()
