"""The export step shared by the PyTorch examples (mlp, cnn, attention): run the model on
x, export it to <dir>/model.onnx (input "x", output "y", constant folding on) and save
<dir>/inputs/x.npy and <dir>/expected/y.npy (PyTorch's output)."""
import os

import numpy as np
import torch


def export_example(here, model, x, opset, **export_args):
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, (x,), os.path.join(here, "model.onnx"), opset_version=opset,
                      input_names=["x"], output_names=["y"], do_constant_folding=True, **export_args)
    os.makedirs(os.path.join(here, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(here, "expected"), exist_ok=True)
    np.save(os.path.join(here, "inputs", "x.npy"), x.numpy())
    np.save(os.path.join(here, "expected", "y.npy"), y.numpy())
    print("model.onnx: x", tuple(x.shape), "-> y", tuple(y.shape))
