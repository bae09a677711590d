// The graph builder of the passes that add to a graph (autodiff.cc and train.cc append
// nodes with it; decompose_builder.h makes its tensors with it): unique names, new value
// and constant tensors, canonical nodes appended with their output shapes.
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
  // `base`, or "<base>.<i>" with the first i that names no tensor yet.
  std::string fresh(const std::string& base) const;
  // A new value tensor named after `base` (no producer yet).
  int value(const std::string& base, const std::vector<int64_t>& shape, DType dt = DType::F32);
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

}  // namespace openrdu::compiler::detail
