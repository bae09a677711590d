"""What every digits script shares: the data split and the MLP (train.py, train_export.py,
verif/train/gen_trajectories.py).

Data: scikit-learn's 8x8 digits (1797 images), pixels / 16 as float32 [N, 64], labels int64,
split 1347 train / 450 test, stratified, random_state 0.
"""
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
TEST_SAMPLES = 450


def load_split():
    """x_train, x_test, y_train, y_test."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=TEST_SAMPLES, random_state=SEED, stratify=y)


def mlp():
    """The MLP 64-32-10 (ReLU); its initial weights come from torch's generator as it stands."""
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


class WithCrossEntropy(torch.nn.Module):
    """forward(x, y) = F.cross_entropy(net(x), y), the form `sncompile --train` takes: the loss is
    the model's only output and the parameters are named net.<i>.weight / net.<i>.bias."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, y):
        return F.cross_entropy(self.net(x), y)
