// Operators the compiler runs as a composition of others, for the lowering and the CPU
// reference alike (so the device and the reference compute the same steps).
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

bool is_decomposed_op(const std::string& op);

}  // namespace openrdu::compiler::detail
