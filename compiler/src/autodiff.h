// Reverse-mode automatic differentiation over the graph IR (docs/training.md lists every
// rule with its formula). Internal to the compiler: train.cc builds the training graph
// on it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

// Appends canonical nodes to a graph under construction: new value tensors get unique
// names from a base, shapes from node_output_shape, and producers as they are added.
class GraphBuilder {
 public:
  explicit GraphBuilder(Graph& g) : g_(g) {}
  Graph& graph() { return g_; }
  const Tensor& t(int i) const { return g_.tensors.at(size_t(i)); }
  // A copy: adding tensors moves the vector that holds them.
  std::vector<int64_t> shape(int i) const { return t(i).shape; }
  std::string fresh(const std::string& base) const;
  // A node `op` on `in`; its output a new value named after `base` (type `dt`).
  int add(const std::string& base, const std::string& op, std::vector<int> in,
          std::map<std::string, std::vector<int64_t>> iattrs = {}, std::map<std::string, float> attrs = {},
          DType dt = DType::F32);
  int constant(const std::string& base, const std::vector<int64_t>& shape, std::vector<float> data);
  int scalar(const std::string& base, float v) { return constant(base, {}, {v}); }
  // A state input (device-resident, initial data) named exactly `name`.
  int state(const std::string& name, const std::vector<int64_t>& shape, std::vector<float> data);

 private:
  Graph& g_;
  int nodes_ = 0;
};

// Gradients of `loss` (a scalar: one element) with respect to each tensor of `wrt`, added
// to b's graph: wrt tensor -> its gradient tensor (absent when the loss does not depend
// on it). The graph's nodes must be canonical, in topological order, and have a gradient
// rule each where the gradient flows (decompose() first for the composite operators);
// otherwise a CompileError names the node and operator.
std::map<int, int> gradients(GraphBuilder& b, int loss, const std::vector<int>& wrt);

// Operators with a gradient rule of their own.
bool has_gradient_rule(const std::string& op);

}  // namespace openrdu::compiler::detail
