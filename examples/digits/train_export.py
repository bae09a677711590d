#!/usr/bin/python3
"""Digits training demo: the MLP 64-32-10 (ReLU) with its cross-entropy loss inside, for
`sncompile train.onnx --train`, and PyTorch's run of the same training as the reference.

Run with /usr/bin/python3 (python3-torch, python3-onnx, python3-sklearn). Writes, next to this file:
  train.onnx           opset 13 training export (TrainingMode.TRAINING, no constant folding):
                       inputs x float32 [32, 64], y int64 [32]; output loss (scalar, mean
                       cross-entropy); initializers net.0.weight, net.0.bias, net.2.weight,
                       net.2.bias, the initial weights of a fresh MLP after torch.manual_seed(0)
  train_x.npy          float32 [1347, 64], the training split (pixels / 16)
  train_y.npy          int64 [1347]
  test_y_i64.npy       int64 [450], test_y.npy's labels (test_y.npy itself stays float32)
  train_expected.json  SGD (lr 0.1, momentum 0.9), 5 epochs of floor(1347 / 32) = 42 batches taken
                       in order without shuffling (the last 3 samples unused): per epoch the mean
                       of its batch losses (each before its update), the accuracy of those batch
                       forwards, and the train (1347) and test (450) accuracy of the weights at the
                       epoch's end; the final test accuracy; the losses of the first 5 steps
  train_expected.npz   the parameters after the 5 epochs, by initializer name (float32)
  infer.onnx           the same MLP for inference (opset 13, x float32 [1, 64] -> logits [1, 10]),
                       no constant folding, so its initializers carry the training names
                       (net.0.weight, ...) and a checkpoint of train.onnx loads into it by name
Deterministic: seed 0, one thread, float32; rerunning rewrites the files identically.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from digits_common import SEED, WithCrossEntropy, load_split, mlp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "verif", "train"))
import refdata  # noqa: E402

BATCH, EPOCHS, LR, MOMENTUM = 32, 5, 0.1, 0.9


def accuracy(net, x, y):
    with torch.no_grad():
        return float((net(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def train_epoch(module, opt, x, y):
    """One pass over floor(N / BATCH) batches in order: (batch losses, accuracy of the batch forwards)."""
    losses, correct = [], 0
    for k in range(len(y) // BATCH):
        xb, yb = torch.from_numpy(x[k * BATCH:(k + 1) * BATCH]), torch.from_numpy(y[k * BATCH:(k + 1) * BATCH])
        opt.zero_grad()
        logits = module.net(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        correct += int((logits.argmax(1) == yb).sum())
    return np.array(losses, dtype=np.float32), correct / (len(losses) * BATCH)


class InferenceNet(torch.nn.Module):
    """forward(x) = net(x), the parameters named as in WithCrossEntropy (net.<i>.*)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def main():
    refdata.deterministic(SEED)
    x_train, x_test, y_train, y_test = load_split()
    module = WithCrossEntropy(mlp()).train()
    example = (torch.from_numpy(x_train[:BATCH]), torch.from_numpy(y_train[:BATCH]))
    model = refdata.export_training_onnx(copy.deepcopy(module), example, os.path.join(HERE, "train.onnx"),
                                         ["x", "y"], 13)
    refdata.load_initializers(module, model)
    infer = InferenceNet(copy.deepcopy(module.net)).eval()
    torch.onnx.export(infer, (torch.from_numpy(x_test[:1]),), os.path.join(HERE, "infer.onnx"), opset_version=13,
                      input_names=["x"], output_names=["logits"], do_constant_folding=False)
    refdata.save_npy(os.path.join(HERE, "train_x.npy"), x_train)
    refdata.save_npy(os.path.join(HERE, "train_y.npy"), y_train)
    refdata.save_npy(os.path.join(HERE, "test_y_i64.npy"), y_test)

    opt = torch.optim.SGD(module.parameters(), lr=LR, momentum=MOMENTUM)
    epochs, step_losses = [], []
    for epoch in range(1, EPOCHS + 1):
        losses, batch_acc = train_epoch(module, opt, x_train, y_train)
        step_losses += losses.tolist()
        mean_loss = float(np.mean(losses, dtype=np.float64))
        epochs.append({"epoch": epoch, "mean_loss": round(mean_loss, 6), "batch_accuracy": round(batch_acc, 6),
                       "train_accuracy": round(accuracy(module.net, x_train, y_train), 6),
                       "test_accuracy": round(accuracy(module.net, x_test, y_test), 6)})
        print(epochs[-1])
    refdata.save_npz(os.path.join(HERE, "train_expected.npz"), refdata.parameter_arrays(module), np.float32)
    with torch.no_grad():
        test_pred = module.net(torch.from_numpy(x_test)).argmax(1).numpy()
    expected = {
        "model": "train.onnx", "ops": refdata.graph_ops(model), "seed": SEED,
        "optimizer": {"torch": "SGD", "lr": LR, "momentum": MOMENTUM, "dampening": 0.0, "weight_decay": 0.0},
        "batch": BATCH, "epochs": EPOCHS, "train_samples": int(len(y_train)),
        "steps_per_epoch": int(len(y_train) // BATCH), "unused_samples_per_epoch": int(len(y_train) % BATCH),
        "first_step_losses": [round(v, 6) for v in step_losses[:5]], "per_epoch": epochs,
        "test_samples": int(len(y_test)), "test_correct": int((test_pred == y_test).sum()),
        "test_accuracy": round(float((test_pred == y_test).mean()), 6),
        "torch": torch.__version__,
    }
    refdata.save_json(os.path.join(HERE, "train_expected.json"), expected)
    print(f"test accuracy {expected['test_accuracy']} ({expected['test_correct']} / {len(y_test)})")


if __name__ == "__main__":
    main()
