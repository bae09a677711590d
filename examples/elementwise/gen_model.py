#!/usr/bin/python3
"""Generate the elementwise example: model.onnx, inputs/<name>.npy and expected/y.npy.

    y = max(relu(a * b + c), d)

a [8,16] and d [8,16] are inputs, b [16] is an input broadcast along rows, c [8,1] is a
constant (initializer) broadcast along columns. fp32, opset 14. Regenerate with
    /usr/bin/python3 examples/elementwise/gen_model.py
(needs Debian's python3-onnx and python3-numpy; the build and tests do not).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, COLS = 8, 16


def main():
    rng = np.random.default_rng(20240601)
    a = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    b = rng.standard_normal((COLS,)).astype(np.float32)
    c = rng.standard_normal((ROWS, 1)).astype(np.float32)
    d = (0.25 * rng.standard_normal((ROWS, COLS))).astype(np.float32)

    nodes = [
        helper.make_node("Mul", ["a", "b"], ["ab"], name="mul"),
        helper.make_node("Add", ["ab", "c"], ["abc"], name="add"),
        helper.make_node("Relu", ["abc"], ["r"], name="relu"),
        helper.make_node("Max", ["r", "d"], ["y"], name="max"),
    ]
    graph = helper.make_graph(
        nodes,
        "elementwise",
        inputs=[
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [ROWS, COLS]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [COLS]),
            helper.make_tensor_value_info("d", TensorProto.FLOAT, [ROWS, COLS]),
        ],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [ROWS, COLS])],
        initializer=[numpy_helper.from_array(c, name="c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              producer_name="openrdu-examples")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "model.onnx"))

    # Expected output from NumPy (fp32 throughout), independent of the compiler.
    y = np.maximum(np.maximum(a * b + c, np.float32(0)), d).astype(np.float32)
    for sub, name, arr in (("inputs", "a", a), ("inputs", "b", b), ("inputs", "d", d), ("expected", "y", y)):
        os.makedirs(os.path.join(HERE, sub), exist_ok=True)
        np.save(os.path.join(HERE, sub, name + ".npy"), np.ascontiguousarray(arr, dtype="<f4"))


if __name__ == "__main__":
    main()
