#!/usr/bin/python3
"""PyTorch layers over 1, 2 and 3 spatial dimensions exported to ONNX, for
compiler_model_tests NdWindow.* (test_nd_window.cc):

    nd_window/<name>/model.onnx   one layer, input "x", output "y" (opset 13)
    nd_window/<name>/x.pb, y.pb   the input (seeded, uniform in [-1, 1)) and PyTorch's output

and ONNX nodes that PyTorch does not export as such (LpPool: PyTorch writes a composition
with Sign; AveragePool 3-D with count_include_pad: PyTorch writes Pad + AveragePool),
built with onnx.helper, their expected outputs from PyTorch's functional form or, for
LpPool, numpy (sum of |x|^p over each zero-padded window, to the power 1/p, in float64).

Run with Debian's Python (python3-torch): /usr/bin/python3 compiler/tests/data/gen_nd_window.py
Seeded, so the files are reproducible; they are committed so that the tests need no Python.
"""
import os

import numpy as np
import onnx
import onnx.numpy_helper
from onnx import TensorProto, helper
import torch
from torch import nn

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nd_window")

# name: (layer, input shape, positive inputs)
CASES = {
    "conv1d_stride_pad": (nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 11), False),
    "conv1d_group_dilation": (nn.Conv1d(4, 6, 3, padding=2, dilation=2, groups=2), (1, 4, 9), False),
    "conv3d": (nn.Conv3d(2, 3, (2, 3, 3), stride=(1, 2, 1), padding=(1, 1, 0)), (1, 2, 4, 5, 5), False),
    "conv3d_batch2": (nn.Conv3d(2, 2, 2, padding=1, bias=False), (2, 2, 3, 3, 4), False),
    "maxpool1d_dilation_ceil": (nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 3, 12), False),
    "avgpool1d_ceil": (nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 10),
                       False),
    "maxpool3d": (nn.MaxPool3d(2, stride=2, padding=1), (1, 2, 5, 4, 6), False),
    "avgpool3d_include_pad": (nn.AvgPool3d((2, 3, 2), stride=(2, 1, 2), padding=(1, 1, 0), count_include_pad=True),
                              (1, 2, 5, 4, 6), False),
    "convtranspose1d_output_padding": (nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 5),
                                       False),
    "convtranspose2d_group_dilation": (nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0),
                                                          output_padding=(1, 2), groups=2, dilation=(1, 2)),
                                       (1, 4, 3, 4), False),
}


# name: (ONNX node, input shape, expected output of x as a numpy array)
def lp_pool(x, kernel, strides, pads, p):
    nd = len(kernel)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(pads[a], pads[nd + a]) for a in range(nd)])
    out_shape = [(xp.shape[2 + a] - kernel[a]) // strides[a] + 1 for a in range(nd)]
    y = np.zeros(list(x.shape[:2]) + out_shape)
    for o in np.ndindex(*out_shape):
        window = tuple(slice(o[a] * strides[a], o[a] * strides[a] + kernel[a]) for a in range(nd))
        y[(Ellipsis,) + o] = (np.abs(xp[(slice(None), slice(None)) + window]) ** p).sum(
            axis=tuple(range(2, 2 + nd))) ** (1.0 / p)
    return y.astype(np.float32)


NODES = {
    "lppool1d_p2": (helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1], p=2),
                    (2, 3, 10), lambda x: lp_pool(x, [3], [2], [1, 1], 2)),
    "lppool2d_p3": (helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 1], p=3),
                    (1, 2, 5, 4), lambda x: lp_pool(x, [2, 2], [2, 1], [0, 0, 0, 0], 3)),
    "lppool3d_p1": (helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2, 2], strides=[1, 2, 2], p=1),
                    (1, 2, 3, 4, 4), lambda x: lp_pool(x, [2, 2, 2], [1, 2, 2], [0] * 6, 1)),
    "avgpool3d_count_include_pad": (
        helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3, 2], strides=[2, 1, 2],
                         pads=[1, 1, 0, 1, 1, 0], count_include_pad=1),
        (1, 2, 5, 4, 6),
        lambda x: torch.nn.functional.avg_pool3d(torch.from_numpy(x), (2, 3, 2), (2, 1, 2), (1, 1, 0),
                                                 count_include_pad=True).numpy()),
}


def save_node(name, node, shape, expected):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    x = (torch.rand(*shape) * 2.0 - 1.0).numpy()
    y = expected(x)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y.shape))])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(d, "model.onnx"))
    save_pb(x, os.path.join(d, "x.pb"), "x")
    save_pb(y, os.path.join(d, "y.pb"), "y")
    print(name, shape, "->", y.shape, [node.op_type])


def save_pb(array, path, name):
    t = onnx.numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def main():
    torch.manual_seed(20261207)
    for name, (layer, shape, positive) in CASES.items():
        d = os.path.join(HERE, name)
        os.makedirs(d, exist_ok=True)
        layer.eval()
        x = torch.rand(*shape) * 0.9 + 0.1 if positive else torch.rand(*shape) * 2.0 - 1.0
        with torch.no_grad():
            y = layer(x)
        torch.onnx.export(layer, (x,), os.path.join(d, "model.onnx"), opset_version=13, input_names=["x"],
                          output_names=["y"], do_constant_folding=True)
        save_pb(x.numpy(), os.path.join(d, "x.pb"), "x")
        save_pb(y.numpy(), os.path.join(d, "y.pb"), "y")
        ops = [n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node]
        print(name, tuple(x.shape), "->", tuple(y.shape), ops)
    for name, (node, shape, expected) in NODES.items():
        save_node(name, node, shape, expected)


if __name__ == "__main__":
    main()
