#!/usr/bin/python3
"""Reference gradients, one case per ONNX operator gradient rule (issue 18, `sncompile --train`).

Run with /usr/bin/python3 (python3-torch 1.13, python3-onnx 1.12). Writes verif/train/grad/:
  <case>/model.onnx      training export (TrainingMode.TRAINING, no constant folding): every
                         differentiable tensor is an initializer named after its nn.Parameter;
                         the first and only output `loss` is a scalar
  <case>/inputs/<n>.npy  every graph input: `r` (float32, the fixed weights of the reduction
                         loss = (op(...) * r).sum()) or `y` (int64 labels of a loss operator)
  <case>/loss.npy        float32 loss, PyTorch float32 forward
  <case>/grads.npz       float32 d loss / d parameter by PyTorch autograd, keyed by initializer name
  <case>/fd.npz          float64 central finite differences of the same module run in double
                         (fd32.npz: the same rounded to float32, read by the C++ tests),
                         step 1e-6 * max(1, |p|), for every element of every parameter
  <case>/bn_state.npz    (BatchNorm cases) running_mean / running_var after the one training forward
  MANIFEST.json          per case: opset, ONNX ops, initializers by role, inputs, loss, the
                         autograd-vs-finite-difference error, ops the export made beyond the expected
Deterministic: each case seeds torch with crc32(case name); one thread; rerunning rewrites the
files identically. Non-smooth ops get inputs away from their kinks (|x| >= 0.05, distinct values).
"""
import copy
import os
import shutil
import sys
import warnings
import zlib

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refdata  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grad")
FD_STEP = 1e-6
PAD_NOTE = ("torch writes a Pad (constant 0, pads from a Constant; all zero when padding=0) before an "
            "AveragePool whose own pads are 0")
BN_NOTE = ("momentum attribute 0.9 is ONNX's (running = 0.9 running + 0.1 batch); bn_state.npz holds PyTorch's "
           "running_var, made from the UNBIASED batch variance (n / (n - 1)), where ONNX's reference uses "
           "the biased one; bn.running_mean / bn.running_var are float initializers but buffers, not trainable; "
           "num_batches_tracked is not exported")
# Ops every reduction case has: the `* r` and the `.sum()`.
LOSS_OPS = ("Mul", "ReduceSum")


# ---- seeded values (torch's generator, seeded per case) -----------------------------------
def randn(*shape):
    return torch.randn(*shape)


def away_from_zero(*shape, margin=0.05):
    """|x| in [margin, margin + 1], random sign: clear of the kink at 0."""
    sign = torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0)
    return sign * (margin + torch.rand(*shape))


def positive(*shape, lo=0.5, hi=2.0):
    return lo + (hi - lo) * torch.rand(*shape)


def distinct(*shape):
    """A random permutation of evenly spaced values in [-1, 1): no ties, gaps >= 2/numel."""
    n = int(np.prod(shape))
    return ((torch.randperm(n).to(torch.float32) - n / 2) * (2.0 / n)).reshape(shape)


# ---- the cases ------------------------------------------------------------------------------
class Case:
    """params: {name: tensor factory}; mods: {name: module factory}; fn(m, *labels) -> op output.
    kind 'r': loss = (fn(m) * r).sum() with graph input r; 'loss': fn(m, y) is the scalar loss
    with int64 graph input y = labels(). ops: the ONNX ops the export is expected to make."""

    def __init__(self, name, fn, ops, params=None, mods=None, kind="r", labels=None, opset=13, grads=True,
                 note="", export_as=None):
        self.name, self.fn, self.ops, self.kind, self.labels = name, fn, set(ops), kind, labels
        self.params, self.mods, self.opset, self.grads, self.note = params or {}, mods or {}, opset, grads, note
        # (fn, {op: op}): the module exported instead, its nodes renamed, for ONNX operators
        # PyTorch does not write (ReduceSumSquare, ReduceL2: the export of torch.norm(p=1),
        # one ReduceL1 with the same axes and keepdims, renamed).
        self.export_as = export_as
        if kind == "r":
            self.ops |= set(LOSS_OPS)


class CaseModule(nn.Module):
    def __init__(self, case):
        super().__init__()
        for name, make in case.mods.items():
            self.add_module(name, make())
        for name, make in case.params.items():
            setattr(self, name, nn.Parameter(make()))
        self.case = case

    def forward(self, *inputs):
        if self.case.kind == "r":
            return (self.case.fn(self) * inputs[0]).sum()
        return self.case.fn(self, *inputs)


def binary(op_name, torch_op, b_factory=randn):
    """The two broadcasting shapes of a binary op: [4,3] op [3] and [2,1,3] op [4,1]."""
    return [
        Case(f"{op_name.lower()}_bcast_row", lambda m: torch_op(m.a, m.b), [op_name],
             {"a": lambda: randn(4, 3), "b": lambda: b_factory(3)}),
        Case(f"{op_name.lower()}_bcast_3d", lambda m: torch_op(m.a, m.b), [op_name],
             {"a": lambda: randn(2, 1, 3), "b": lambda: b_factory(4, 1)}),
    ]


def unary(name, fn, ops, factory=lambda: randn(4, 6), note=""):
    return Case(name, lambda m: fn(m.x), ops, {"x": factory}, note=note)


def ce_labels(n_classes, *shape, ignored=0):
    def make():
        y = torch.randint(0, n_classes, shape)
        y.view(-1)[:ignored] = -100
        return y
    return make


def loss_case(name, fn, op, logits_shape, label_shape, ignored=0):
    return Case(name, lambda m, y: fn(m.x, y), [op], {"x": lambda: randn(*logits_shape)}, kind="loss",
                labels=ce_labels(logits_shape[1], *label_shape, ignored=ignored))


def cases():
    c = [
        Case("matmul_2d", lambda m: m.a @ m.b, ["MatMul"], {"a": lambda: randn(4, 5), "b": lambda: randn(5, 3)}),
        Case("matmul_3d_2d", lambda m: m.a @ m.b, ["MatMul"],
             {"a": lambda: randn(2, 4, 5), "b": lambda: randn(5, 3)}),
        Case("linear", lambda m: m.fc(m.x), ["Gemm"], {"x": lambda: randn(4, 5)}, {"fc": lambda: nn.Linear(5, 3)}),
    ]
    c += binary("Add", torch.add) + binary("Sub", torch.sub) + binary("Mul", torch.mul)
    c += binary("Div", torch.div, b_factory=lambda *s: away_from_zero(*s, margin=0.5))
    c += [
        unary("relu", F.relu, ["Relu"], lambda: away_from_zero(4, 6)),
        unary("leaky_relu", lambda x: F.leaky_relu(x, 0.1), ["LeakyRelu"], lambda: away_from_zero(4, 6)),
        unary("sigmoid", torch.sigmoid, ["Sigmoid"]),
        unary("tanh", torch.tanh, ["Tanh"]),
        unary("gelu", lambda x: F.gelu(x, approximate="none"), ["Erf", "Div", "Add", "Mul", "Constant"],
              note="opset 13 has no Gelu: torch writes x * 0.5 * (1 + erf(x / sqrt 2))"),
        unary("exp", torch.exp, ["Exp"]),
        unary("log", torch.log, ["Log"], lambda: positive(4, 6)),
        unary("sqrt", torch.sqrt, ["Sqrt"], lambda: positive(4, 6)),
        unary("pow3", lambda x: x ** 3, ["Pow", "Constant"], lambda: positive(4, 6)),
        unary("pow2_5", lambda x: x ** 2.5, ["Pow", "Constant"], lambda: positive(4, 6)),
        unary("softmax_last", lambda x: F.softmax(x, dim=-1), ["Softmax"], lambda: randn(3, 5)),
        unary("softmax_dim1_3d", lambda x: F.softmax(x, dim=1), ["Softmax"], lambda: randn(2, 4, 3)),
        unary("log_softmax", lambda x: F.log_softmax(x, dim=-1), ["LogSoftmax"], lambda: randn(3, 5)),
        loss_case("cross_entropy_mean", F.cross_entropy, "SoftmaxCrossEntropyLoss", (6, 5), (6,)),
        loss_case("cross_entropy_sum", lambda x, y: F.cross_entropy(x, y, reduction="sum"),
                  "SoftmaxCrossEntropyLoss", (6, 5), (6,)),
        loss_case("cross_entropy_ignore", F.cross_entropy, "SoftmaxCrossEntropyLoss", (6, 5), (6,), ignored=2),
        loss_case("cross_entropy_3d", F.cross_entropy, "SoftmaxCrossEntropyLoss", (2, 4, 3), (2, 3)),
        loss_case("nll_loss_mean", F.nll_loss, "NegativeLogLikelihoodLoss", (6, 5), (6,)),
        loss_case("nll_loss_sum", lambda x, y: F.nll_loss(x, y, reduction="sum"),
                  "NegativeLogLikelihoodLoss", (6, 5), (6,)),
        loss_case("nll_loss_ignore", F.nll_loss, "NegativeLogLikelihoodLoss", (6, 5), (6,), ignored=2),
        Case("mse_loss", lambda m: ((m.x - m.t) ** 2).mean(), ["Sub", "Pow", "ReduceMean", "Constant"],
             {"x": lambda: randn(4, 3), "t": lambda: randn(4, 3)},
             note="torch 1.13 cannot export F.mse_loss (aten::mse_loss) at opset 13: the mean of the squared "
                  "difference is the exportable form"),
        unary("sum_dims", lambda x: x.sum(dim=(0, 2)), ["ReduceSum", "Constant"], lambda: randn(2, 3, 4)),
        unary("sum_keepdim", lambda x: x.sum(dim=1, keepdim=True), ["ReduceSum", "Constant"],
              lambda: randn(2, 3, 4)),
        unary("mean_dims", lambda x: x.mean(dim=(0, 2)), ["ReduceMean"], lambda: randn(2, 3, 4)),
        unary("mean_keepdim", lambda x: x.mean(dim=1, keepdim=True), ["ReduceMean"], lambda: randn(2, 3, 4)),
        unary("amax", lambda x: torch.amax(x, dim=1), ["ReduceMax"], lambda: distinct(3, 5)),
        unary("reshape", lambda x: x.reshape(3, 4), ["Reshape", "Constant"], lambda: randn(2, 6)),
        unary("flatten", lambda x: torch.flatten(x, 1), ["Flatten"], lambda: randn(2, 3, 2, 2)),
        unary("transpose", lambda x: x.transpose(0, 2), ["Transpose"], lambda: randn(2, 3, 4)),
        unary("permute", lambda x: x.permute(1, 2, 0), ["Transpose"], lambda: randn(2, 3, 4)),
        Case("cat", lambda m: torch.cat([m.a, m.b], dim=1), ["Concat"],
             {"a": lambda: randn(2, 3), "b": lambda: randn(2, 4)}),
        unary("slice_range", lambda x: x[:, 1:5], ["Slice", "Constant"], lambda: randn(4, 8)),
        unary("slice_step", lambda x: x[:, ::2], ["Slice", "Constant"], lambda: randn(4, 8)),
        unary("index_select", lambda x: torch.index_select(x, 0, torch.tensor([4, 0, 2, 2])),
              ["Gather", "Constant"], lambda: randn(5, 3), note="index 2 taken twice: its gradient rows add"),
        unary("gather", lambda x: torch.gather(x, 1, torch.tensor([[0, 3], [2, 2], [1, 0]])),
              ["GatherElements", "Constant"], lambda: randn(3, 4), note="row 1 takes column 2 twice"),
        unary("squeeze", lambda x: x.squeeze(1), ["Squeeze", "Constant"], lambda: randn(3, 1, 4)),
        unary("unsqueeze", lambda x: x.unsqueeze(1), ["Unsqueeze", "Constant"], lambda: randn(3, 4)),
        Case("conv2d_s1p1", lambda m: m.conv(m.x), ["Conv"], {"x": lambda: randn(2, 3, 5, 5)},
             {"conv": lambda: nn.Conv2d(3, 4, 3, stride=1, padding=1)}),
        Case("conv2d_s2", lambda m: m.conv(m.x), ["Conv"], {"x": lambda: randn(1, 2, 7, 7)},
             {"conv": lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1)}),
        Case("conv2d_groups2", lambda m: m.conv(m.x), ["Conv"], {"x": lambda: randn(1, 4, 5, 5)},
             {"conv": lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2)}),
        unary("max_pool2d", lambda x: F.max_pool2d(x, 2), ["MaxPool"], lambda: distinct(1, 2, 6, 6)),
        unary("max_pool2d_overlap", lambda x: F.max_pool2d(x, 3, stride=2), ["MaxPool"],
              lambda: distinct(1, 2, 7, 7), note="3x3 windows at stride 2 overlap: a shared max gets two grads"),
        unary("avg_pool2d", lambda x: F.avg_pool2d(x, 2), ["AveragePool"], lambda: randn(1, 2, 6, 6),
              note=PAD_NOTE),
        unary("avg_pool2d_pad", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), ["AveragePool"],
              lambda: randn(1, 2, 6, 6), note="count_include_pad=True (PyTorch's default). " + PAD_NOTE),
        Case("layer_norm", lambda m: m.ln(m.x), ["LayerNormalization"], {"x": lambda: randn(4, 6)},
             {"ln": lambda: affine(nn.LayerNorm(6))}, opset=17),
        Case("batch_norm", lambda m: m.bn(m.x), ["BatchNormalization"], {"x": lambda: randn(4, 3, 3, 3)},
             {"bn": lambda: affine(nn.BatchNorm2d(3))},
             note="opset 13 = BatchNormalization-9: training mode is told by its 5 outputs. " + BN_NOTE),
        Case("batch_norm_opset15", lambda m: m.bn(m.x), ["BatchNormalization"], {"x": lambda: randn(4, 3, 3, 3)},
             {"bn": lambda: affine(nn.BatchNorm2d(3))}, opset=15,
             note="BatchNormalization-15: training_mode attribute, 3 outputs. " + BN_NOTE),
        unary("dropout", lambda x: F.dropout(x, 0.5, training=True), ["Dropout", "Constant"],
              lambda: randn(4, 6), note="random mask: export only, no reference gradients"),
    ]
    c[-1].grads = False
    return c + issue23_cases()


def l1_export(dim):
    return lambda m: torch.norm(m.x, p=1, dim=dim)


def issue23_cases():
    """Operators of issue 23 that trained models use (their rules: autodiff.cc, or through
    their composition, decompose_ops.cc)."""
    return [
        Case("where", lambda m: torch.where(m.x > 0, m.x, m.y * 0.5), ["Greater", "Mul", "Where"],
             {"x": lambda: away_from_zero(4, 5), "y": lambda: randn(4, 5)}),
        Case("expand", lambda m: m.x.expand(2, 4, 3), ["Expand", "Shape", "ConstantOfShape", "Equal", "Where"],
             {"x": lambda: randn(4, 1)}, note="torch writes the shape's -1 handling (Shape, Equal, Where: folded)"),
        unary("tile", lambda x: x.repeat(2, 3), ["Tile", "Expand", "Shape", "ConstantOfShape"],
              lambda: randn(2, 3), note="torch writes the repeats' shape arithmetic (folded)"),
        Case("split", lambda m: torch.split(m.x, [1, 3], dim=1)[0] * torch.split(m.x, [1, 3], dim=1)[1] + m.x[:, 1:],
             ["Split", "Mul", "Add", "Slice"], {"x": lambda: randn(3, 4)}),
        unary("cast_mask", lambda x: x * (x > 0).float(), ["Greater", "Cast", "Mul"], lambda: away_from_zero(4, 5),
              note="Cast of a bool carries no gradient; x's comes through Mul"),
        unary("reduce_l1", lambda x: torch.norm(x, p=1, dim=1), ["ReduceL1"], lambda: away_from_zero(3, 5)),
        Case("reduce_l2", lambda m: torch.sqrt((m.x * m.x).sum(dim=1)), ["ReduceL2"], {"x": lambda: randn(3, 5)},
             export_as=(l1_export(1), {"ReduceL1": "ReduceL2"})),
        Case("reduce_sum_square", lambda m: (m.x * m.x).sum(dim=1), ["ReduceSumSquare"], {"x": lambda: randn(3, 5)},
             export_as=(l1_export(1), {"ReduceL1": "ReduceSumSquare"})),
        unary("logsumexp", lambda x: torch.logsumexp(x, dim=1), ["ReduceLogSumExp"], lambda: randn(3, 5)),
        unary("var", lambda x: x.var(dim=1), ["ReduceMean", "Sub", "Mul", "Div", "Cast", "Shape", "Gather",
                                                 "ReduceProd"], lambda: randn(3, 5),
              note="torch writes the count as Shape, Gather, ReduceProd, Cast (folded)"),
    ]


def affine(module):
    """A norm layer with weight and bias away from their 1 / 0 defaults (and random running stats)."""
    with torch.no_grad():
        module.weight.copy_(1 + 0.5 * randn(*module.weight.shape))
        module.bias.copy_(0.5 * randn(*module.bias.shape))
        if getattr(module, "running_mean", None) is not None:
            module.running_mean.copy_(0.2 * randn(*module.running_mean.shape))
            module.running_var.copy_(positive(*module.running_var.shape))
    return module


# ---- running a case --------------------------------------------------------------------------
def finite_differences(module, inputs):
    """Central differences of the module run in float64, for every element of every parameter."""
    m = copy.deepcopy(module).double()
    args = [a.double() if a.is_floating_point() else a for a in inputs]
    out = {}
    with torch.no_grad():
        for name, p in m.named_parameters():
            flat, fd = p.view(-1), np.zeros(p.numel())
            for i in range(p.numel()):
                orig = float(flat[i])
                h = FD_STEP * max(1.0, abs(orig))
                flat[i] = orig + h
                plus = float(m(*args))
                flat[i] = orig - h
                minus = float(m(*args))
                flat[i] = orig
                fd[i] = (plus - minus) / (2 * h)
            out[name] = fd.reshape(p.shape)
    return out


def fd_error(grads, fd):
    """max |autograd - fd| / max(1, max |fd|) over all parameters."""
    scale = max(1.0, max(float(np.abs(v).max()) for v in fd.values()))
    return max(float(np.abs(grads[k].astype(np.float64) - fd[k]).max()) for k in fd) / scale


def case_inputs(case, module):
    if case.kind == "loss":
        return {"y": case.labels()}
    with torch.no_grad():
        shape = case.fn(module).shape
    return {"r": randn(*shape) if len(shape) else torch.randn(())}  # a scalar output: r is 0-d


def run_case(case):
    refdata.deterministic(zlib.crc32(case.name.encode()))
    module = CaseModule(case).train()
    inputs = case_inputs(case, module)
    out = os.path.join(OUT, case.name)
    shutil.rmtree(out, ignore_errors=True)
    exported = copy.deepcopy(module)
    if case.export_as:
        exported.case = copy.copy(case)
        exported.case.fn = case.export_as[0]
    model = refdata.export_training_onnx(exported, inputs.values(), os.path.join(out, "model.onnx"),
                                         inputs.keys(), case.opset)
    if case.export_as:
        for node in model.graph.node:
            node.op_type = case.export_as[1].get(node.op_type, node.op_type)
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(out, "model.onnx"))
    refdata.load_initializers(module, model)
    for name, value in inputs.items():
        refdata.save_npy(os.path.join(out, "inputs", name + ".npy"), value.numpy())
    ops = refdata.graph_ops(model)
    entry = {"name": case.name, "opset": case.opset, "ops": ops,
             "unexpected_ops": sorted(set(ops) - case.ops - {"Constant"}),
             "constant_dtypes": refdata.constant_dtypes(model),
             "initializers": refdata.describe_initializers(module, model),
             "inputs": [refdata.tensor_info(k, v.numpy()) for k, v in inputs.items()],
             "outputs": [o.name for o in model.graph.output]}
    if case.note:
        entry["note"] = case.note
    if not case.grads:
        entry["files"] = ["model.onnx", "inputs/"]
        return entry
    module.zero_grad()
    loss = module(*inputs.values())
    loss.backward()
    grads = refdata.parameter_arrays(module, "grad")
    refdata.save_npy(os.path.join(out, "loss.npy"), np.float32(loss.item()))
    refdata.save_npz(os.path.join(out, "grads.npz"), grads, np.float32)
    entry["files"] = ["model.onnx", "inputs/", "loss.npy", "grads.npz", "fd.npz", "fd32.npz"]
    bn_state = {k: v.numpy() for k, v in module.named_buffers() if k.endswith(("running_mean", "running_var"))}
    if bn_state:
        refdata.save_npz(os.path.join(out, "bn_state.npz"), bn_state, np.float32)
        entry["files"].append("bn_state.npz")
    fd = finite_differences(module, list(inputs.values()))
    refdata.save_npz(os.path.join(out, "fd.npz"), fd, np.float64)
    # The same rounded to float32, for the C++ tests (the runtime reads float32 .npz).
    refdata.save_npz(os.path.join(out, "fd32.npz"), fd, np.float32)
    entry["loss"] = float(np.float32(loss.item()))
    entry["grad_vs_fd_max_rel_error"] = float(f"{fd_error(grads, fd):.3g}")
    return entry


def main():
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # torch.tensor(...) indices: constants
    names = [c.name for c in cases()]
    if len(set(names)) != len(names):
        raise SystemExit("gen_grad_data: duplicate case names")
    manifest = {"generator": "verif/train/gen_grad_data.py", "torch": torch.__version__,
                "fd_step": "1e-6 * max(1, |p|), central, float64", "cases": []}
    for case in cases():
        entry = run_case(case)
        manifest["cases"].append(entry)
        err = entry.get("grad_vs_fd_max_rel_error", "-")
        print(f"{case.name:22s} opset {case.opset}  fd err {err}  ops {' '.join(entry['ops'])}"
              + (f"  UNEXPECTED {entry['unexpected_ops']}" if entry["unexpected_ops"] else ""))
        if isinstance(err, float) and err > 1e-4:
            raise SystemExit(f"gen_grad_data: case {case.name}: autograd and finite differences differ by {err}")
    refdata.save_json(os.path.join(OUT, "MANIFEST.json"), manifest)
    print(f"{len(manifest['cases'])} cases, {refdata.file_sizes(OUT)} bytes in {OUT}")


if __name__ == "__main__":
    main()
