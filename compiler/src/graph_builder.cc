// The graph builder (graph_builder.h).
#include "graph_builder.h"

#include <fmt/format.h>

namespace openrdu::compiler::detail {

std::string GraphBuilder::fresh(const std::string& base) const {
  std::string name = base;
  for (int i = 1; g_.find(name) >= 0; ++i) name = fmt::format("{}.{}", base, i);
  return name;
}

int GraphBuilder::value(const std::string& base, const std::vector<int64_t>& shape, DType dt) {
  Tensor t;
  t.name = fresh(base);
  t.kind = TensorKind::Value;
  t.shape = shape;
  t.shape_known = true;
  t.dtype = dt;
  return g_.add_tensor(std::move(t));
}

int GraphBuilder::add(const std::string& base, const std::string& op, std::vector<int> in,
                      std::map<std::string, std::vector<int64_t>> iattrs, std::map<std::string, float> attrs,
                      DType dt) {
  Node n;
  n.name = fresh(fmt::format("{}/{}", base, op));
  for (const Node& o : g_.nodes)
    if (o.name == n.name) n.name = fmt::format("{}/{}#{}", base, op, nodes_);
  ++nodes_;
  n.op = op;
  n.inputs = std::move(in);
  n.iattrs = std::move(iattrs);
  n.attrs = std::move(attrs);
  n.canonical = true;
  const int out = value(base, node_output_shape(g_, n), dt);
  g_.tensors[size_t(out)].producer = int(g_.nodes.size());
  n.outputs = {out};
  g_.nodes.push_back(std::move(n));
  return out;
}

int GraphBuilder::constant(const std::string& base, const std::vector<int64_t>& shape, std::vector<float> data) {
  Tensor t;
  t.name = fresh(base);
  t.kind = TensorKind::Constant;
  t.shape = shape;
  t.shape_known = true;
  t.data = std::move(data);
  return g_.add_tensor(std::move(t));
}

int GraphBuilder::state(const std::string& name, const std::vector<int64_t>& shape, std::vector<float> data) {
  if (g_.find(name) >= 0)
    throw CompileError(fmt::format("{}: the optimizer state '{}' clashes with a tensor of the model", g_.source, name));
  Tensor t;
  t.name = name;
  t.kind = TensorKind::Input;
  t.state = true;
  t.shape = shape;
  t.shape_known = true;
  t.data = std::move(data);
  const int id = g_.add_tensor(std::move(t));
  g_.inputs.push_back(id);
  return id;
}

}  // namespace openrdu::compiler::detail
