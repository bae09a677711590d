// Operators the compiler runs as a composition of others, for the lowering and the CPU
// reference alike (so the device and the reference compute the same steps): legalize()
// (lower_graph.cc) replaces the node by the composition, and the reference (reference.cc)
// interprets the same composition on a sub-graph whose inputs that are constants in the
// model stay constants (so the same host-side folding happens in both).
#pragma once
#include <vector>

#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

// Softmax(x, axis) = Div(e, ReduceSum(e)) with e = Exp(Sub(x, ReduceMax(x))), and
// LogSoftmax(x, axis) = Sub(d, Log(ReduceSum(Exp(d)))) with d = Sub(x, ReduceMax(x)),
// the reductions over `axis` with keepdims (canonical nodes, shapes known). Appends the
// intermediate tensors "<y>.max", "<y>.shift", "<y>.exp", "<y>.sum" (and "<y>.logsum")
// to g and returns the nodes in order; the last one writes n's output.
std::vector<Node> decompose_softmax(Graph& g, const Node& n);

// Every decomposed operator (canonical node, shapes known): appends the intermediate
// tensors and constants to g and returns the nodes in order; the last writes n's output.
//  * Softmax, LogSoftmax: decompose_softmax.
//  * Conv (2-D, canonical pads [t, l, b, r]): X padded with zeros by Concat along H then
//    W (only as far as the last window reaches), one Slice per kernel tap (i, j)
//    (starts i*dh, j*dw; steps sh, sw) giving [N, C, OH, OW], Unsqueeze'd to
//    [N, C, 1, OH, OW] and concatenated on axis 2 into the im2col tensor
//    [N, C, kh*kw, OH, OW] (K order c, i, j: the order of W's elements). Reshaped to
//    [N?, g?, C/g*kh*kw, OH*OW] (N and group dims only when > 1), multiplied by W
//    reshaped to [g?, M/g, C/g*kh*kw] (MatMul: the FMA chain over c, i, j), reshaped to
//    [N, M, OH, OW], plus B reshaped to [M, 1, 1] (Add) when given. A constant W or B is
//    reshaped at compile time (a new constant), a run-time one by a Reshape view.
//  * MaxPool: the same taps on X padded with -inf, concatenated, ReduceMax over axis 2
//    (keepdims 0). AveragePool: padded with 0, ReduceSum over axis 2, then Mul by a
//    constant [OH, OW] of fp32(1/count), count = the taps inside the input
//    (count_include_pad 0) or inside the input and its declared pads (1). ceil_mode:
//    windows that reach past the padded input read padding (-inf, or 0 not counted).
//  * GlobalAveragePool / GlobalMaxPool: ReduceMean / ReduceMax over axes 2.. (keepdims).
//  * BatchNormalization (inference), parameters reshaped to [C, 1, ...]: when scale, B,
//    mean and var are all constants, Y = Add(Mul(X, a), b) with a = scale / sqrt(var +
//    eps) and b = B - mean * a computed on the host in fp32 (IEEE sqrt and division, one
//    rounding per operation); otherwise Y = Add(Mul(Div(Sub(X, mean), Sqrt(Add(var,
//    eps))), scale), B), ONNX's order, each operator on the device.
//  * LayerNormalization over axes [axis, rank): m = ReduceMean(X), d = Sub(X, m),
//    v = ReduceMean(Mul(d, d)), Y = Mul(Div(d, Sqrt(Add(v, eps))), scale) [Add B]; its
//    Mean output (iattr output 1) is m, InvStdDev (2) Reciprocal(Sqrt(Add(v, eps))).
//  * ArgMax, ArgMin, TopK, Expand, Tile, OneHot and ReduceL1/L2/SumSquare/LogSum/
//    LogSumExp: decompose_ops.cc.
std::vector<Node> decompose(Graph& g, const Node& n);

bool is_decomposed_op(const std::string& op);

// An elementwise node whose broadcast needs more address dimensions than an AGCU stream's
// four (plan_access, lower.h): one node per index of the output's outermost dimension of
// size > 1 (at most kBroadcastSplitMax), each reading Slices of the operands that have
// that dimension, the parts concatenated along it (decompose_ops.cc); a part that still
// needs more than four is split again. Empty when n needs no split or has too many parts
// (lowering then reports the broadcast, naming the node).
constexpr int64_t kBroadcastSplitMax = 64;
std::vector<Node> split_wide_broadcast(Graph& g, const Node& n);

}  // namespace openrdu::compiler::detail
