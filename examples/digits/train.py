#!/usr/bin/python3
"""Digits demo model: an MLP 64-32-10 (ReLU) on scikit-learn's 8x8 digits.

Run with /usr/bin/python3 (python3-sklearn, python3-torch, python3-onnx). Writes, next to
this file:
  model.onnx     opset 13, input "x" float32 [1, 64] (pixels / 16), output "logits" [1, 10]
  test_x.npy     float32 [450, 64], the held-out samples (same scaling)
  test_y.npy     float32 [450], their labels (float32: the runtime reads only '<f4' .npy)
  expected.json  PyTorch's CPU test accuracy and checksums of the test logits
Deterministic: fixed seeds, one thread, full-batch training.
"""
import json
import os

import numpy as np
import torch

from digits_common import SEED, load_split, mlp

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    x_train, x_test, y_train, y_test = load_split()

    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x_test)).numpy()
        train_acc = float((model(xt).argmax(1) == yt).float().mean())
    acc = float((logits.argmax(1) == y_test).mean())

    torch.onnx.export(model, torch.zeros(1, 64), os.path.join(HERE, "model.onnx"), input_names=["x"],
                      output_names=["logits"], opset_version=13)
    np.save(os.path.join(HERE, "test_x.npy"), x_test)
    np.save(os.path.join(HERE, "test_y.npy"), y_test.astype(np.float32))
    expected = {
        "samples": int(len(y_test)),
        "train_samples": int(len(y_train)),
        "seed": SEED,
        "final_loss": round(float(loss), 6),
        "train_accuracy": round(train_acc, 6),
        "test_accuracy": round(acc, 6),
        "test_correct": int((logits.argmax(1) == y_test).sum()),
        "logits_sum": float(logits.astype(np.float64).sum()),
        "logits_abs_sum": float(np.abs(logits.astype(np.float64)).sum()),
        "torch": torch.__version__,
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    print(json.dumps(expected, indent=2))


if __name__ == "__main__":
    main()
