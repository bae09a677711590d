#!/usr/bin/python3
"""Export a transformer encoder block (post-norm, as torch.nn.TransformerEncoderLayer) to ONNX:

    x [1,32,64] -> q, k, v = three Linear 64->64 (4 heads of 16) -> scores = q k^T / sqrt(16)
               -> softmax -> @ v -> Linear 64->64 -> + x -> LayerNorm
               -> Linear 64->256 -> GELU (erf) -> Linear 256->64 -> + -> LayerNorm -> y [1,32,64]

The block of issue 20's target (d_model 64, 4 heads, seq 32, batch 1). The three separate
projections keep Split (not supported) out of the graph; GELU exports as
x * 0.5 * (1 + erf(x / sqrt(2))) at opset 14, LayerNorm as the ONNX LayerNormalization
operator at opset 17.
Run with Debian's Python (python3-torch): /usr/bin/python3 examples/transformer/export.py
Writes, next to this script: model.onnx, inputs/x.npy (uniform in [-1, 1)) and
expected/y.npy (PyTorch's output). Seeded, so the files are reproducible; they are
committed so that the tests need no Python.
"""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_export import export_example  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
B, T, D, HEADS, FF = 1, 32, 64, 4, 256


class EncoderBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.proj = nn.Linear(D, D)
        self.norm1 = nn.LayerNorm(D)
        self.fc1 = nn.Linear(D, FF)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(FF, D)
        self.norm2 = nn.LayerNorm(D)

    def attention(self, x):
        b, t, d = x.shape
        hd = D // HEADS
        q = self.q(x).view(b, t, HEADS, hd).transpose(1, 2)
        k = self.k(x).view(b, t, HEADS, hd).transpose(1, 2)
        v = self.v(x).view(b, t, HEADS, hd).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)
        y = torch.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.fc2(self.act(self.fc1(x))))


def main():
    torch.manual_seed(20261207)
    model = EncoderBlock().eval()
    with torch.no_grad():  # non-trivial LayerNorm affine parameters
        for n in (model.norm1, model.norm2):
            n.weight.uniform_(0.5, 1.5)
            n.bias.uniform_(-0.5, 0.5)
    x = torch.rand(B, T, D, dtype=torch.float32) * 2.0 - 1.0
    export_example(HERE, model, x, 17)


if __name__ == "__main__":
    main()
