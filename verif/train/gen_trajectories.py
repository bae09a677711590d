#!/usr/bin/python3
"""Reference training trajectories: 20 optimizer steps of two digits models under SGD, Adam, AdamW.

Run with /usr/bin/python3 (python3-torch 1.13, python3-onnx 1.12, python3-sklearn). Writes
verif/train/traj/:
  <model>_data/x.npy, y.npy  the 320 training samples (the first 320 of the digits demo's
                             seeded training split; float32 x, int64 y), shared by the
                             optimizers; step k (0-based) uses rows 16k .. 16k+15
  <model>_<opt>/model.onnx   training export before any step (inputs x, y; output loss)
  <model>_<opt>/losses.npy   float32 [20]: the loss of each step's batch before its update
  <model>_<opt>/step1.npz    every parameter after step 1, by ONNX initializer name
  <model>_<opt>/final.npz    every parameter after step 20
  <model>_<opt>/state.npz    optimizer state after step 20: "<param>.momentum_buffer" (sgd) or
                             "<param>.exp_avg", "<param>.exp_avg_sq" (adam, adamw); "optimizer.step" = 20
  MANIFEST.json              models, optimizer hyper-parameters, ONNX ops, parameter shapes
Deterministic (seed 0 for the weights, one thread, float32); rerunning rewrites the files identically.
"""
import copy
import os
import shutil
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "digits"))
import digits_common  # noqa: E402
import refdata  # noqa: E402

OUT = os.path.join(HERE, "traj")
BATCH, STEPS, SAMPLES = 16, 20, 320
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-4,
                              "nesterov": False}, ["momentum_buffer"]),
    "adam": (torch.optim.Adam, {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                                "amsgrad": False, "foreach": False}, ["exp_avg", "exp_avg_sq"]),
    "adamw": (torch.optim.AdamW, {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2,
                                  "amsgrad": False, "foreach": False}, ["exp_avg", "exp_avg_sq"]),
}


def cnn():
    """[B,1,8,8] -> Conv 1->4 3x3 pad 1 -> ReLU -> MaxPool 2 -> Conv 4->8 3x3 -> ReLU -> Flatten -> Linear 32->10."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(32, 10))


MODELS = {"mlp": (digits_common.mlp, (64,)), "cnn": (cnn, (1, 8, 8))}


def model_data(sample_shape):
    x_train, _, y_train, _ = digits_common.load_split()
    x = x_train[:SAMPLES].reshape((SAMPLES,) + sample_shape)
    return np.ascontiguousarray(x), y_train[:SAMPLES]


def train(module, opt_name, x, y):
    """STEPS steps over the batches in order. Returns (losses, parameters after step 1, optimizer)."""
    cls, hyper, _ = OPTIMIZERS[opt_name]
    opt = cls(module.parameters(), **hyper)
    losses, step1 = [], None
    for k in range(STEPS):
        xb = torch.from_numpy(x[k * BATCH:(k + 1) * BATCH])
        yb = torch.from_numpy(y[k * BATCH:(k + 1) * BATCH])
        opt.zero_grad()
        loss = module(xb, yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if k == 0:
            step1 = refdata.parameter_arrays(module)
    return np.array(losses, dtype=np.float32), step1, opt


def optimizer_state(module, opt, opt_name):
    state = {"optimizer.step": np.float32(STEPS)}
    for name, p in module.named_parameters():
        for key in OPTIMIZERS[opt_name][2]:
            state[f"{name}.{key}"] = opt.state[p][key].detach().numpy()
        if "step" in opt.state[p] and float(opt.state[p]["step"]) != STEPS:
            raise ValueError(f"{name}: optimizer step {float(opt.state[p]['step'])} != {STEPS}")
    return state


def run_case(model_name, opt_name, x, y):
    refdata.deterministic(digits_common.SEED)
    module = digits_common.WithCrossEntropy(MODELS[model_name][0]()).train()
    out = os.path.join(OUT, f"{model_name}_{opt_name}")
    shutil.rmtree(out, ignore_errors=True)
    example = (torch.from_numpy(x[:BATCH]), torch.from_numpy(y[:BATCH]))
    model = refdata.export_training_onnx(copy.deepcopy(module), example, os.path.join(out, "model.onnx"),
                                         ["x", "y"], 13)
    refdata.load_initializers(module, model)
    losses, step1, opt = train(module, opt_name, x, y)
    refdata.save_npy(os.path.join(out, "losses.npy"), losses)
    refdata.save_npz(os.path.join(out, "step1.npz"), step1, np.float32)
    refdata.save_npz(os.path.join(out, "final.npz"), refdata.parameter_arrays(module), np.float32)
    refdata.save_npz(os.path.join(out, "state.npz"), optimizer_state(module, opt, opt_name), np.float32)
    print(f"{model_name}_{opt_name:6s} loss {losses[0]:.4f} -> {losses[-1]:.4f}  ops {' '.join(refdata.graph_ops(model))}")
    return {"name": f"{model_name}_{opt_name}", "model": model_name, "optimizer": opt_name,
            "data": f"{model_name}_data", "opset": 13, "ops": refdata.graph_ops(model),
            "constant_dtypes": refdata.constant_dtypes(model),
            "initializers": refdata.describe_initializers(module, model),
            "inputs": [refdata.tensor_info(n, a) for n, a in zip(["x", "y"], (e.numpy() for e in example))],
            "losses": [float(v) for v in losses]}


def main():
    manifest = {"generator": "verif/train/gen_trajectories.py", "torch": torch.__version__, "batch": BATCH,
                "steps": STEPS, "samples": SAMPLES,
                "optimizers": {k: {"torch": v[0].__name__, **v[1], "state": v[2]} for k, v in OPTIMIZERS.items()},
                "cases": []}
    for model_name, (_, sample_shape) in MODELS.items():
        x, y = model_data(sample_shape)
        data_dir = os.path.join(OUT, f"{model_name}_data")
        refdata.save_npy(os.path.join(data_dir, "x.npy"), x)
        refdata.save_npy(os.path.join(data_dir, "y.npy"), y)
        for opt_name in OPTIMIZERS:
            manifest["cases"].append(run_case(model_name, opt_name, x, y))
    refdata.save_json(os.path.join(OUT, "MANIFEST.json"), manifest)
    print(f"{len(manifest['cases'])} cases, {refdata.file_sizes(OUT)} bytes in {OUT}")


if __name__ == "__main__":
    main()
