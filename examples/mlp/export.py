#!/usr/bin/python3
"""Export the example MLP (Flatten -> Linear 64x32 -> ReLU -> Linear 32x10) to ONNX.

Run with Debian's Python (python3-torch): /usr/bin/python3 examples/mlp/export.py
Writes, next to this script: model.onnx, inputs/x.npy (4 samples of 1x8x8) and
expected/y.npy (PyTorch's output for them). Everything is seeded, so the files are
reproducible; they are committed so that the tests need no Python.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_export import export_example  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64, 32)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


def main():
    torch.manual_seed(20261122)
    model = Mlp().eval()
    x = torch.rand(4, 1, 8, 8, dtype=torch.float32) * 2.0 - 1.0
    export_example(HERE, model, x, 13)


if __name__ == "__main__":
    main()
