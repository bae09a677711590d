// The builder of decompositions (decompose.cc, decompose_ops.cc): new nodes, values and
// constants named after the decomposed node's output (the tensors made by GraphBuilder).
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

// Builds the nodes of one decomposition: new tensors are named after n's output.
struct Builder {
  Graph& g;
  const Node& n;
  std::string base;
  std::vector<Node> nodes;
  Builder(Graph& g0, const Node& n0) : g(g0), n(n0), base(g0.tensors.at(n0.outputs.at(0)).name) {}

  // New tensors "<y><suffix>" (made unique by GraphBuilder::fresh).
  std::string fresh(const std::string& suffix) const { return GraphBuilder(g).fresh(base + suffix); }
  int value(const std::string& suffix, const std::vector<int64_t>& shape) {
    return GraphBuilder(g).value(base + suffix, shape);
  }
  int constant(const std::string& suffix, const std::vector<int64_t>& shape, std::vector<float> data) {
    return GraphBuilder(g).constant(base + suffix, shape, std::move(data));
  }
  int fill(const std::string& suffix, const std::vector<int64_t>& shape, float v) {
    int64_t e = 1;
    for (int64_t d : shape) e *= d;
    return constant(suffix, shape, std::vector<float>(size_t(e), v));
  }
  // A node writing `out` (a new value tensor "<y><suffix>" when out < 0); returns out.
  int add(const std::string& suffix, const std::string& op, std::vector<int> in, int out,
          std::map<std::string, std::vector<int64_t>> iattrs = {}, const std::vector<int64_t>* shape = nullptr) {
    Node k;
    k.name = n.name + suffix;
    for (int i = 1; std::any_of(nodes.begin(), nodes.end(), [&](const Node& o) { return o.name == k.name; }); ++i)
      k.name = fmt::format("{}{}.{}", n.name, suffix, i);
    k.op = op;
    k.inputs = std::move(in);
    k.iattrs = std::move(iattrs);
    k.canonical = true;
    if (out < 0) {  // the shape of the new node from its canonical attributes
      out = value(suffix, shape ? *shape : node_output_shape(g, k));
    }
    k.outputs = {out};
    nodes.push_back(std::move(k));
    return out;
  }
  // A node whose output is a new value tensor of type `dt` (comparisons, Cast).
  int add_typed(const std::string& suffix, const std::string& op, std::vector<int> in, DType dt,
                std::map<std::string, std::vector<int64_t>> iattrs = {}) {
    const int out = add(suffix, op, std::move(in), -1, std::move(iattrs));
    g.tensors[out].dtype = dt;
    return out;
  }
  const Tensor& t(int i) const { return g.tensors.at(size_t(i)); }
  bool is_const(int i) const { return t(i).kind == TensorKind::Constant; }
  // x reshaped to `shape`: a new constant when x is one, else a Reshape view.
  int reshaped(int x, const std::vector<int64_t>& shape, const std::string& suffix) {
    if (t(x).shape == shape) return x;
    if (is_const(x)) return constant(suffix, shape, t(x).data);
    return add(suffix, "Reshape", {x}, -1, {{"shape", shape}, {"allowzero", {0}}});
  }
};

}  // namespace openrdu::compiler::detail
