#!/usr/bin/python3
"""Integer arithmetic and comparisons on run-time int64/int32 tensors (issue 23), for
compiler_model_tests IntOps.* (ops_ext_test.cc) and e2e_test IntArithmeticAndAccuracy*:

    int_ops/<name>/model.onnx      the model
    int_ops/<name>/in_<k>.pb       its inputs (TensorProto named as the graph input)
    int_ops/<name>/out_<k>.pb      its expected outputs (named as the graph output)

  accuracy_helper  ReduceSum(Cast(Equal(ArgMax(logits, axis=1), labels))), onnx.helper,
                   labels int64; expected from numpy
  accuracy_torch   (logits.argmax(1) == labels).float().sum() and .mean() exported by
                   torch.onnx.export (opset 13); expected from PyTorch
  int64_arith      Add, Sub, Mul, Neg, Abs, Max, Min, Sum, Add of a constant, Equal,
                   Greater, Less, GreaterOrEqual, LessOrEqual, Cast to bool, Where of the
                   comparisons, Mod by zero, on int64 values within int32 (the edges
                   included); expected from numpy on int32 (Add, Sub, Mul, Neg, Abs, Sum
                   wrap like int32 on the device: docs/compiler.md), Mod by zero 0
  int32_compare    Equal, Greater, LessOrEqual and Mul of int32 inputs (int32 outputs)
  broadcast5       Add of fp32 [2,1,3,1,2] and [1,4,1,5,1] (5 address dimensions) and Equal
                   of int64 [2,1,2,1,2,3] and [1,2,1,2,1,3] (6): split into parts by the
                   compiler (split_wide_broadcast); expected from numpy

Run with Debian's Python (python3-torch): /usr/bin/python3 compiler/tests/data/gen_int_ops.py
Seeded, so the files are reproducible; they are committed so that the tests need no Python.
"""
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from onnx import TensorProto, helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "int_ops")
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def save(name, model, inputs, outputs):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for kind, values in (("in", inputs), ("out", outputs)):
        for k, (nm, v) in enumerate(values):
            with open(os.path.join(d, f"{kind}_{k}.pb"), "wb") as f:
                f.write(onnx.numpy_helper.from_array(np.asarray(v), nm).SerializeToString())


def logits_and_labels(rng, n, c):
    logits = rng.standard_normal((n, c)).astype(np.float32)
    labels = rng.integers(0, c, n).astype(np.int64)
    labels[: n // 2] = logits[: n // 2].argmax(1)  # half right for sure
    return logits, labels


def accuracy_helper(rng):
    n, c = 37, 10
    logits, labels = logits_and_labels(rng, n, c)
    nodes = [
        helper.make_node("ArgMax", ["logits"], ["pred"], "argmax", axis=1, keepdims=0),
        helper.make_node("Equal", ["pred", "labels"], ["hit"], "equal"),
        helper.make_node("Cast", ["hit"], ["hitf"], "cast", to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["hitf"], ["correct"], "sum", keepdims=0),
    ]
    g = helper.make_graph(nodes, "accuracy",
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [n, c]),
                           helper.make_tensor_value_info("labels", TensorProto.INT64, [n])],
                          [helper.make_tensor_value_info("correct", TensorProto.FLOAT, [])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    correct = np.float32((logits.argmax(1) == labels).sum())
    save("accuracy_helper", m, [("logits", logits), ("labels", labels)], [("correct", correct)])


class Accuracy(torch.nn.Module):
    def forward(self, logits, labels):
        hit = (logits.argmax(1) == labels).float()
        return hit.sum(), hit.mean()


def accuracy_torch(rng):
    logits, labels = logits_and_labels(rng, 24, 7)
    d = os.path.join(HERE, "accuracy_torch")
    os.makedirs(d, exist_ok=True)
    tl, tb = torch.from_numpy(logits), torch.from_numpy(labels)
    s, mean = Accuracy()(tl, tb)
    torch.onnx.export(Accuracy(), (tl, tb), os.path.join(d, "model.onnx"), input_names=["logits", "labels"],
                      output_names=["correct", "accuracy"], opset_version=13)
    m = onnx.load(os.path.join(d, "model.onnx"))
    save("accuracy_torch", m, [("logits", logits), ("labels", labels)],
         [("correct", s.numpy()), ("accuracy", mean.numpy())])


def int64_arith(rng):
    edge = np.array([0, 1, -1, 7, -7, I32_MAX, I32_MIN, I32_MAX - 1, I32_MIN + 1, 65536, -65536, 46341], np.int64)
    n = 40
    a = np.concatenate([edge, rng.integers(-1000, 1000, n - len(edge))]).astype(np.int64)
    b = np.concatenate([edge[::-1], rng.integers(-1000, 1000, n - len(edge))]).astype(np.int64)
    b[20:25] = a[20:25]  # some equal pairs
    c = rng.integers(I32_MIN, I32_MAX, n, endpoint=True).astype(np.int64)
    k = np.array([5], np.int64)
    z = np.zeros(n, np.int64)
    z[::2] = b[::2]
    nodes = [
        helper.make_node("Add", ["a", "b"], ["add"], "add"),
        helper.make_node("Sub", ["a", "b"], ["sub"], "sub"),
        helper.make_node("Mul", ["a", "b"], ["mul"], "mul"),
        helper.make_node("Neg", ["a"], ["neg"], "neg"),
        helper.make_node("Abs", ["a"], ["abs"], "abs"),
        helper.make_node("Max", ["a", "b", "c"], ["max"], "max"),
        helper.make_node("Min", ["a", "b"], ["min"], "min"),
        helper.make_node("Sum", ["a", "b", "c"], ["sum"], "sum"),
        helper.make_node("Add", ["a", "k"], ["addk"], "addk"),
        helper.make_node("Equal", ["a", "b"], ["eq"], "eq"),
        helper.make_node("Greater", ["a", "b"], ["gt"], "gt"),
        helper.make_node("Less", ["a", "b"], ["lt"], "lt"),
        helper.make_node("GreaterOrEqual", ["a", "b"], ["ge"], "ge"),
        helper.make_node("LessOrEqual", ["a", "b"], ["le"], "le"),
        helper.make_node("Cast", ["z"], ["nz"], "cast_bool", to=TensorProto.BOOL),
        helper.make_node("Where", ["gt", "a", "b"], ["sel"], "where"),
        helper.make_node("Mod", ["a", "z"], ["mod"], "mod"),
    ]
    outs = ["add", "sub", "mul", "neg", "abs", "max", "min", "sum", "addk", "eq", "gt", "lt", "ge", "le", "nz",
            "sel", "mod"]
    bool_outs = {"eq", "gt", "lt", "ge", "le", "nz"}
    ins = [("a", a), ("b", b), ("c", c), ("z", z)]
    g = helper.make_graph(
        nodes, "int64_arith", [helper.make_tensor_value_info(nm, TensorProto.INT64, [n]) for nm, _ in ins],
        [helper.make_tensor_value_info(o, TensorProto.BOOL if o in bool_outs else TensorProto.INT64, [n])
         for o in outs],
        [onnx.numpy_helper.from_array(k, "k")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    a32, b32, c32 = a.astype(np.int32), b.astype(np.int32), c.astype(np.int32)
    with np.errstate(over="ignore"):
        mod = np.where(z != 0, np.mod(a, np.where(z != 0, z, 1)), 0)  # fmod = 0: the divisor's sign; 0 by 0
        want = {
            "add": a32 + b32, "sub": a32 - b32, "mul": a32 * b32, "neg": -a32, "abs": np.abs(a32),
            "max": np.maximum(np.maximum(a, b), c), "min": np.minimum(a, b), "sum": a32 + b32 + c32,
            "addk": a32 + np.int32(5), "eq": a == b, "gt": a > b, "lt": a < b, "ge": a >= b, "le": a <= b,
            "nz": z != 0, "sel": np.where(a > b, a, b), "mod": mod,
        }
    outputs = [(o, want[o] if o in bool_outs else want[o].astype(np.int64)) for o in outs]
    save("int64_arith", m, ins, outputs)


def int32_compare(rng):
    n = 16
    a = rng.integers(-50, 50, n).astype(np.int32)
    b = rng.integers(-50, 50, n).astype(np.int32)
    b[:4] = a[:4]
    nodes = [
        helper.make_node("Equal", ["a", "b"], ["eq"], "eq"),
        helper.make_node("Greater", ["a", "b"], ["gt"], "gt"),
        helper.make_node("LessOrEqual", ["a", "b"], ["le"], "le"),
        helper.make_node("Mul", ["a", "b"], ["mul"], "mul"),
    ]
    g = helper.make_graph(nodes, "int32_compare",
                          [helper.make_tensor_value_info(x, TensorProto.INT32, [n]) for x in "ab"],
                          [helper.make_tensor_value_info(o, TensorProto.BOOL, [n]) for o in ("eq", "gt", "le")] +
                          [helper.make_tensor_value_info("mul", TensorProto.INT32, [n])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    save("int32_compare", m, [("a", a), ("b", b)], [("eq", a == b), ("gt", a > b), ("le", a <= b), ("mul", a * b)])


def broadcast5(rng):
    a = rng.standard_normal((2, 1, 3, 1, 2)).astype(np.float32)
    b = rng.standard_normal((1, 4, 1, 5, 1)).astype(np.float32)
    i = rng.integers(0, 3, (2, 1, 2, 1, 2, 3)).astype(np.int64)
    j = rng.integers(0, 3, (1, 2, 1, 2, 1, 3)).astype(np.int64)
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], "add5"), helper.make_node("Equal", ["i", "j"], ["e"], "eq6")]
    ins = [("a", a), ("b", b), ("i", i), ("j", j)]
    types = {"a": TensorProto.FLOAT, "b": TensorProto.FLOAT, "i": TensorProto.INT64, "j": TensorProto.INT64}
    g = helper.make_graph(nodes, "broadcast5", [helper.make_tensor_value_info(n, types[n], v.shape) for n, v in ins],
                          [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2, 4, 3, 5, 2]),
                           helper.make_tensor_value_info("e", TensorProto.BOOL, [2, 2, 2, 2, 2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    save("broadcast5", m, ins, [("s", a + b), ("e", i == j)])


def main():
    rng = np.random.default_rng(23)
    torch.manual_seed(23)
    accuracy_helper(rng)
    accuracy_torch(rng)
    int64_arith(rng)
    int32_compare(rng)
    broadcast5(rng)


if __name__ == "__main__":
    main()
