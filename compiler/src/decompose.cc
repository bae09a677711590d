#include "decompose.h"

#include <fmt/format.h>

namespace openrdu::compiler::detail {

bool is_decomposed_op(const std::string& op) { return op == "Softmax" || op == "LogSoftmax"; }

std::vector<Node> decompose_softmax(Graph& g, const Node& n) {
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = g.tensors.at(x).shape;
  const int64_t axis = n.iattr("axis");
  std::vector<int64_t> rs = xs;
  rs.at(size_t(axis)) = 1;
  const std::string base = g.tensors.at(y).name;
  auto tensor = [&](const std::string& suffix, const std::vector<int64_t>& shape) {
    Tensor t;
    t.name = base + suffix;
    for (int i = 1; g.find(t.name) >= 0; ++i) t.name = fmt::format("{}{}.{}", base, suffix, i);
    t.kind = TensorKind::Value;
    t.shape = shape;
    t.shape_known = true;
    return g.add_tensor(std::move(t));
  };
  auto node = [&](const std::string& suffix, const std::string& op, std::vector<int> in, int out) {
    Node k;
    k.name = n.name + suffix;
    k.op = op;
    k.inputs = std::move(in);
    k.outputs = {out};
    k.canonical = true;
    if (op.rfind("Reduce", 0) == 0) {
      k.iattrs["axes"] = {axis};
      k.iattrs["keepdims"] = {1};
    }
    return k;
  };
  const int m = tensor(".max", rs), d = tensor(".shift", xs), e = tensor(".exp", xs), s = tensor(".sum", rs);
  std::vector<Node> v;
  v.push_back(node(".max", "ReduceMax", {x}, m));
  v.push_back(node(".shift", "Sub", {x, m}, d));
  v.push_back(node(".exp", "Exp", {d}, e));
  v.push_back(node(".sum", "ReduceSum", {e}, s));
  if (n.op == "Softmax") {
    v.push_back(node(".div", "Div", {e, s}, y));
  } else {
    const int ls = tensor(".logsum", rs);
    v.push_back(node(".log", "Log", {s}, ls));
    v.push_back(node(".out", "Sub", {d, ls}, y));
  }
  return v;
}

}  // namespace openrdu::compiler::detail
