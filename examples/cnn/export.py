#!/usr/bin/python3
"""Export the example CNN to ONNX:

    x [2,1,8,8] -> Conv 1->4 3x3 pad 1 -> BatchNorm -> ReLU -> MaxPool 2
                -> Conv 4->8 3x3 -> ReLU -> GlobalAveragePool -> Flatten -> Linear 8->3 -> y [2,3]

Run with Debian's Python (python3-torch): /usr/bin/python3 examples/cnn/export.py
Writes, next to this script: model.onnx, inputs/x.npy (2 samples, uniform in [-1, 1))
and expected/y.npy (PyTorch's output for them). Seeded, so the files are reproducible;
they are committed so that the tests need no Python. The BatchNorm running statistics
and affine parameters are set to non-trivial values, and the model is exported with
training=PRESERVE in eval mode so that the exporter keeps BatchNormalization as a node
(it would otherwise fold it into the first Conv).
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_export import export_example  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(self.gap(x), 1))


def main():
    torch.manual_seed(20261203)
    model = Cnn()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float32) * 2.0 - 1.0
    export_example(HERE, model, x, 13, training=torch.onnx.TrainingMode.PRESERVE)


if __name__ == "__main__":
    main()
