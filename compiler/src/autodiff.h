// Reverse-mode automatic differentiation over the graph IR (docs/training.md lists every
// rule with its formula). Internal to the compiler: train.cc builds the training graph
// on it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

// Gradients of `loss` (a scalar: one element) with respect to each tensor of `wrt`, added
// to b's graph: wrt tensor -> its gradient tensor (absent when the loss does not depend
// on it). The graph's nodes must be canonical, in topological order, and have a gradient
// rule each where the gradient flows (decompose() first for the composite operators);
// otherwise a CompileError names the node and operator.
std::map<int, int> gradients(GraphBuilder& b, int loss, const std::vector<int>& wrt);

// Operators with a gradient rule of their own.
bool has_gradient_rule(const std::string& op);

}  // namespace openrdu::compiler::detail
