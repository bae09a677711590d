#!/usr/bin/python3
"""Writes torch_mlp.onnx and its test data: the graph torch.onnx.export (opset 17)
emits for

    class Net(nn.Module):            # x: [2, 3, 4]
        def forward(self, x):
            h = x.view(x.size(0), -1)                  # Shape, Gather, Unsqueeze, Concat, Reshape
            h = torch.relu(self.fc1(h))                # Gemm (transB=1), Relu
            h = self.fc2(h).view(x.size(0), 2, -1)     # Gemm, shape arithmetic, Reshape
            return torch.log_softmax(h.transpose(1, 2), dim=-1)   # Transpose, LogSoftmax

with int64 value_info, Constant nodes and a Cast, as the exporter writes them. The
expected output is computed with numpy (float64, rounded to fp32), so tests compare it
within a tolerance. Run: /usr/bin/python3 gen_torch_style.py (writes next to itself).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261122)
x = rng.uniform(-2, 2, (2, 3, 4)).astype(np.float32)
w1 = rng.uniform(-0.5, 0.5, (8, 12)).astype(np.float32)   # nn.Linear(12, 8): weight [out, in]
b1 = rng.uniform(-0.5, 0.5, (8,)).astype(np.float32)
w2 = rng.uniform(-0.5, 0.5, (6, 8)).astype(np.float32)    # nn.Linear(8, 6)
b2 = rng.uniform(-0.5, 0.5, (6,)).astype(np.float32)


def const(name, value):
    return helper.make_node("Constant", [], [name], name=name + "_const",
                            value=numpy_helper.from_array(np.array(value, dtype=np.int64), name))


nodes = [
    helper.make_node("Shape", ["x"], ["onnx::Gather_1"], name="/Shape"),
    const("/Constant_output_0", 0),
    helper.make_node("Gather", ["onnx::Gather_1", "/Constant_output_0"], ["/Gather_output_0"], name="/Gather",
                     axis=0),
    const("/Constant_1_output_0", [0]),
    helper.make_node("Unsqueeze", ["/Gather_output_0", "/Constant_1_output_0"], ["/Unsqueeze_output_0"],
                     name="/Unsqueeze"),
    const("/Constant_2_output_0", [-1]),
    helper.make_node("Concat", ["/Unsqueeze_output_0", "/Constant_2_output_0"], ["/Concat_output_0"],
                     name="/Concat", axis=0),
    helper.make_node("Reshape", ["x", "/Concat_output_0"], ["/Reshape_output_0"], name="/Reshape"),
    helper.make_node("Gemm", ["/Reshape_output_0", "fc1.weight", "fc1.bias"], ["/fc1/Gemm_output_0"],
                     name="/fc1/Gemm", alpha=1.0, beta=1.0, transB=1),
    helper.make_node("Relu", ["/fc1/Gemm_output_0"], ["/Relu_output_0"], name="/Relu"),
    helper.make_node("Gemm", ["/Relu_output_0", "fc2.weight", "fc2.bias"], ["/fc2/Gemm_output_0"],
                     name="/fc2/Gemm", alpha=1.0, beta=1.0, transB=1),
    # view(x.size(0), 2, -1): the exporter recomputes the size, casts and concatenates.
    helper.make_node("Shape", ["x"], ["/Shape_1_output_0"], name="/Shape_1"),
    helper.make_node("Slice", ["/Shape_1_output_0", "/Constant_1_output_0", "/Constant_3_output_0"],
                     ["/Slice_output_0"], name="/Slice"),
    const("/Constant_3_output_0", [1]),
    helper.make_node("Cast", ["/Slice_output_0"], ["/Cast_output_0"], name="/Cast", to=TensorProto.INT64),
    const("/Constant_4_output_0", [2]),
    helper.make_node("Concat", ["/Cast_output_0", "/Constant_4_output_0", "/Constant_2_output_0"],
                     ["/Concat_1_output_0"], name="/Concat_1", axis=0),
    helper.make_node("Reshape", ["/fc2/Gemm_output_0", "/Concat_1_output_0"], ["/Reshape_1_output_0"],
                     name="/Reshape_1"),
    helper.make_node("Transpose", ["/Reshape_1_output_0"], ["/Transpose_output_0"], name="/Transpose",
                     perm=[0, 2, 1]),
    helper.make_node("LogSoftmax", ["/Transpose_output_0"], ["y"], name="/LogSoftmax", axis=-1),
]
# The exporter's order has the Slice before its Constant: the importer sorts.
graph = helper.make_graph(
    nodes, "torch_jit",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 2])],
    initializer=[numpy_helper.from_array(w1, "fc1.weight"), numpy_helper.from_array(b1, "fc1.bias"),
                 numpy_helper.from_array(w2, "fc2.weight"), numpy_helper.from_array(b2, "fc2.bias")],
    value_info=[helper.make_tensor_value_info("onnx::Gather_1", TensorProto.INT64, [3]),
                helper.make_tensor_value_info("/Concat_output_0", TensorProto.INT64, [2])])
model = helper.make_model(graph, producer_name="pytorch", producer_version="2.1.0",
                          opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.save(model, os.path.join(HERE, "torch_mlp.onnx"))

# Expected output in float64.
xd = x.astype(np.float64)
h = xd.reshape(2, -1) @ w1.T.astype(np.float64) + b1
h = np.maximum(h, 0) @ w2.T.astype(np.float64) + b2
h = h.reshape(2, 2, -1).transpose(0, 2, 1)
m = h.max(-1, keepdims=True)
y = (h - m - np.log(np.exp(h - m).sum(-1, keepdims=True))).astype(np.float32)
d = os.path.join(HERE, "torch_mlp")
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "input_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(x, "x").SerializeToString())
with open(os.path.join(d, "output_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(y, "y").SerializeToString())
print("wrote", os.path.join(HERE, "torch_mlp.onnx"), "and", d)
