// Graph IR helpers, shape inference and the verifier.
#include "openrdu/compiler/ir.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace openrdu::compiler {

int64_t Tensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int Graph::find(const std::string& name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return int(i);
  return -1;
}

int Graph::add_tensor(Tensor t) {
  if (find(t.name) >= 0) throw CompileError(fmt::format("{}: tensor '{}' is defined twice", source, t.name));
  tensors.push_back(std::move(t));
  return int(tensors.size() - 1);
}

float Node::attr(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) throw CompileError(fmt::format("node '{}' ({}): attribute '{}' is not set", name, op, key));
  return it->second;
}

std::string Graph::describe(const Node& n) const { return fmt::format("node '{}' ({})", n.name, n.op); }

namespace {
constexpr OpInfo kOps[] = {
    {"Add", 2, 2},  {"Sub", 2, 2},       {"Mul", 2, 2},   {"Max", 1, 3},         {"Min", 1, 3},
    {"Relu", 1, 1}, {"Identity", 1, 1},  {"Abs", 1, 1},   {"Neg", 1, 1},         {"Sum", 1, 8},
    {"Clip", 1, 3}, {"LeakyRelu", 1, 1}, {"PRelu", 2, 2}, {"HardSigmoid", 1, 1},
};
}  // namespace

const OpInfo* find_op(const std::string& op) {
  for (const OpInfo& o : kOps)
    if (op == o.name) return &o;
  return nullptr;
}

std::string shape_str(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                      const std::string& what) {
  const size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    // Align from the right.
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      throw CompileError(fmt::format("{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})", what,
                                     shape_str(a), shape_str(b), i, da, db));
  }
  return out;
}

void infer_shapes(Graph& g) {
  for (const Node& n : g.nodes) {
    const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
    std::vector<int64_t> shape;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const Tensor& in = g.tensors.at(n.inputs[k]);
      if (!in.shape_known) throw CompileError(fmt::format("{}: input '{}' has no known shape", what, in.name));
      shape = k == 0 ? in.shape : broadcast_shapes(shape, in.shape, what);
    }
    for (int o : n.outputs) {
      Tensor& t = g.tensors.at(o);
      if (t.shape_known && t.shape != shape)
        throw CompileError(fmt::format("{}: output '{}' is declared {} but the operator gives {}", what, t.name,
                                       shape_str(t.shape), shape_str(shape)));
      t.shape = shape;
      t.shape_known = true;
    }
  }
}

void verify(const Graph& g) {
  const std::string& src = g.source;
  std::set<std::string> names;
  for (const Tensor& t : g.tensors) {
    if (t.name.empty()) throw CompileError(fmt::format("{}: a tensor has an empty name", src));
    if (!names.insert(t.name).second) throw CompileError(fmt::format("{}: tensor '{}' is defined twice", src, t.name));
    if (!t.shape_known) throw CompileError(fmt::format("{}: tensor '{}' has no known shape", src, t.name));
    for (size_t d = 0; d < t.shape.size(); ++d)
      if (t.shape[d] <= 0)
        throw CompileError(fmt::format("{}: tensor '{}' has dimension {} of size {} (static sizes >= 1 only)", src,
                                       t.name, d, t.shape[d]));
    if (t.kind == TensorKind::Constant && int64_t(t.data.size()) != t.elements())
      throw CompileError(fmt::format("{}: constant '{}' holds {} values, its shape {} needs {}", src, t.name,
                                     t.data.size(), shape_str(t.shape), t.elements()));
    if (t.kind != TensorKind::Value && t.producer >= 0)
      throw CompileError(fmt::format("{}: tensor '{}' is a graph input or constant but node '{}' produces it", src,
                                     t.name, g.nodes.at(t.producer).name));
    if (t.kind == TensorKind::Value && t.producer < 0)
      throw CompileError(fmt::format("{}: tensor '{}' is used but nothing defines it", src, t.name));
  }
  for (int i : g.inputs)
    if (i < 0 || size_t(i) >= g.tensors.size() || g.tensors[i].kind != TensorKind::Input)
      throw CompileError(fmt::format("{}: graph input index {} is not an input tensor", src, i));
  if (g.outputs.empty()) throw CompileError(fmt::format("{}: the graph has no outputs", src));
  for (int o : g.outputs)
    if (o < 0 || size_t(o) >= g.tensors.size() || !g.tensors[o].is_output)
      throw CompileError(fmt::format("{}: graph output index {} is not marked as an output", src, o));

  std::vector<bool> defined(g.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) defined[i] = g.tensors[i].kind != TensorKind::Value;
  std::set<std::string> node_names;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const Node& n = g.nodes[ni];
    const std::string what = fmt::format("{}: {}", src, g.describe(n));
    if (!node_names.insert(n.name).second) throw CompileError(fmt::format("{}: node name is not unique", what));
    const OpInfo* info = find_op(n.op);
    if (!info) throw CompileError(fmt::format("{}: unsupported operator", what));
    if (int(n.inputs.size()) < info->min_inputs || int(n.inputs.size()) > info->max_inputs)
      throw CompileError(fmt::format("{}: {} inputs, the compiler supports {} to {}", what, n.inputs.size(),
                                     info->min_inputs, info->max_inputs));
    if (n.outputs.size() != 1) throw CompileError(fmt::format("{}: {} outputs, expected 1", what, n.outputs.size()));
    for (int i : n.inputs) {
      if (i < 0 || size_t(i) >= g.tensors.size())
        throw CompileError(fmt::format("{}: input index {} is invalid", what, i));
      if (!defined[i])
        throw CompileError(fmt::format("{}: input '{}' is used before it is computed", what, g.tensors[i].name));
    }
    for (int o : n.outputs) {
      if (o < 0 || size_t(o) >= g.tensors.size())
        throw CompileError(fmt::format("{}: output index {} is invalid", what, o));
      if (g.tensors[o].producer != int(ni))
        throw CompileError(
            fmt::format("{}: output '{}' does not name this node as its producer", what, g.tensors[o].name));
      if (defined[o]) throw CompileError(fmt::format("{}: output '{}' is defined twice", what, g.tensors[o].name));
      defined[o] = true;
    }
    // Output shape is the broadcast of the inputs.
    std::vector<int64_t> shape;
    for (size_t k = 0; k < n.inputs.size(); ++k)
      shape = k == 0 ? g.tensors[n.inputs[k]].shape : broadcast_shapes(shape, g.tensors[n.inputs[k]].shape, what);
    if (g.tensors[n.outputs[0]].shape != shape)
      throw CompileError(fmt::format("{}: output '{}' has shape {}, the inputs broadcast to {}", what,
                                     g.tensors[n.outputs[0]].name, shape_str(g.tensors[n.outputs[0]].shape),
                                     shape_str(shape)));
  }
}

}  // namespace openrdu::compiler
