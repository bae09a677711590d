"""Shared helpers of the training reference-data generators (gen_grad_data.py,
gen_trajectories.py, examples/digits/train_export.py).

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-onnx 1.12, python3-numpy).
Every writer here is byte-deterministic, so rerunning a generator rewrites its files
identically: .npz archives are stored (not deflated) with a fixed 1980-01-01 timestamp,
which also keeps them trivial to read from C++ (each member is a plain .npy).
"""
import io
import json
import os
import zipfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def deterministic(seed):
    """One thread, float32 default, the given torch seed."""
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(seed)


def save_npy(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.array(array, order="C"))  # np.ascontiguousarray would make a scalar 1-d


def save_npz(path, arrays, dtype):
    """Writes {name: array} as an uncompressed .npz, every member cast to dtype, sorted by name."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(arrays[name], dtype=dtype, order="C"),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())


def _json_text(obj, indent=0):
    """JSON with every list or object that fits in 100 columns on one line, the rest indented by 1."""
    flat = json.dumps(obj)
    if not isinstance(obj, (list, dict)) or not obj or indent + len(flat) <= 100:
        return flat
    pad = " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {_json_text(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _json_text(v, indent + 1) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def save_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(_json_text(obj) + "\n")


def export_training_onnx(module, args, path, input_names, opset):
    """Exports module(*args) for training (initializers keep PyTorch's names), checks it,
    writes it and returns the ModelProto. The module is traced as it is: a training-mode
    trace runs the forward once, so BatchNorm running statistics in `module` change."""
    buf = io.BytesIO()
    torch.onnx.export(module, tuple(args), buf, input_names=list(input_names), output_names=["loss"],
                      opset_version=opset, training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False)
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return model


def graph_ops(model):
    """{op_type: count} over the main graph, sorted by op name."""
    counts = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def constant_dtypes(model):
    """Sorted element types of the graph's Constant nodes (e.g. INT64 axes, shapes, indices)."""
    types = {onnx.TensorProto.DataType.Name(a.t.data_type)
             for n in model.graph.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"}
    return sorted(types)


def initializers(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def load_initializers(module, model):
    """Copies every ONNX initializer named like an entry of module.state_dict() into the
    module, so the reference starts from exactly what the C++ side reads. Returns the
    initializer names that are not in the state dict (constants the exporter made)."""
    state = module.state_dict()
    extra = []
    with torch.no_grad():
        for name, value in initializers(model).items():
            if name not in state:
                extra.append(name)
                continue
            if tuple(state[name].shape) != value.shape:
                raise ValueError(f"initializer {name}: ONNX shape {value.shape} != torch {tuple(state[name].shape)}")
            state[name].copy_(torch.from_numpy(value.copy()))
    return extra


def tensor_info(name, array):
    return {"name": name, "shape": list(np.shape(array)), "dtype": str(np.asarray(array).dtype)}


def describe_initializers(module, model):
    """Lists the ONNX initializers split by role: 'parameters' (nn.Parameter: trainable),
    'buffers' (module buffers such as BatchNorm running statistics: not trainable) and
    'other' (initializers the exporter created)."""
    params = dict(module.named_parameters())
    buffers = dict(module.named_buffers())
    roles = {"parameters": [], "buffers": [], "other": []}
    for name, value in initializers(model).items():
        role = "parameters" if name in params else "buffers" if name in buffers else "other"
        roles[role].append(tensor_info(name, value))
    missing = [n for n in params if n not in {t["name"] for t in roles["parameters"]}]
    if missing:
        raise ValueError(f"parameters missing from the ONNX initializers: {missing}")
    return roles


def parameter_arrays(module, attr=None):
    """{name: float32 array} of every parameter (attr='grad' for the gradients)."""
    out = {}
    for name, p in module.named_parameters():
        t = p if attr is None else getattr(p, attr)
        if t is None:
            raise ValueError(f"parameter {name} has no {attr}: the loss does not depend on it")
        out[name] = t.detach().to(torch.float32).numpy().copy()
    return out


def file_sizes(root):
    """Total bytes of the files below root."""
    total = 0
    for dirpath, _, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return total
