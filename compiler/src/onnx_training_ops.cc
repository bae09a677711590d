// The ONNX training operators of the domain ai.onnx.preview.training (Adagrad, Momentum,
// Adam), expanded at import into the operators the compiler lowers, one output value
// per node, with the ONNX specification's formulas and order of operations.
#include "onnx_training_ops.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace openrdu::compiler::detail {

namespace {

// Raw (not yet canonical) nodes appended to the graph, their outputs new values.
struct Expander {
  Graph& g;
  std::string base;  // the node's name: every new tensor and node is named after it
  int count = 0;

  int value(const std::string& name) {
    Tensor t;
    t.name = name;
    t.kind = TensorKind::Value;
    t.producer = int(g.nodes.size());
    return g.add_tensor(std::move(t));
  }
  int node(const std::string& op, std::vector<int> in, const std::string& out_name = "",
           std::map<std::string, std::vector<int64_t>> iattrs = {}) {
    Node n;
    n.name = fmt::format("{}/{}{}", base, op, count++);
    n.op = op;
    n.inputs = std::move(in);
    n.iattrs = std::move(iattrs);
    n.outputs = {value(out_name.empty() ? n.name + ":0" : out_name)};
    g.nodes.push_back(std::move(n));
    return g.nodes.back().outputs[0];
  }
  int c(float v) {
    Tensor t;
    t.name = fmt::format("{}/c{}", base, count++);
    t.kind = TensorKind::Constant;
    t.shape_known = true;
    t.data = {v};
    return g.add_tensor(std::move(t));
  }
  int mul(int a, int b) { return node("Mul", {a, b}); }
  int add(int a, int b) { return node("Add", {a, b}); }
};

struct TrainingNode {
  const std::string& op;
  std::map<std::string, float> f;
  std::string mode = "standard";
  std::vector<int> in;                   // R, T, then the groups of tensors
  std::vector<std::string> out;          // output names
};

// Attributes with their ONNX defaults; an unknown one is an error naming it.
void read_attrs(const onnx::NodeProto& np, TrainingNode& t, const std::string& what) {
  static const std::map<std::string, std::map<std::string, float>> kDefaults = {
      {"Adagrad", {{"decay_factor", 0.0f}, {"epsilon", 0.0f}, {"norm_coefficient", 0.0f}}},
      {"Momentum", {{"alpha", 0.0f}, {"beta", 0.0f}, {"norm_coefficient", 0.0f}}},
      {"Adam",
       {{"alpha", 0.9f}, {"beta", 0.999f}, {"epsilon", 0.0f}, {"norm_coefficient", 0.0f},
        {"norm_coefficient_post", 0.0f}}}};
  t.f = kDefaults.at(t.op);
  for (const auto& a : np.attribute()) {
    if (t.op == "Momentum" && a.name() == "mode") {
      t.mode = a.s();
      if (t.mode != "standard" && t.mode != "nesterov")
        throw CompileError(fmt::format("{}: mode '{}' is not standard or nesterov", what, t.mode));
    } else if (t.f.count(a.name()) && a.type() == onnx::AttributeProto::FLOAT) {
      t.f[a.name()] = a.f();
    } else {
      throw CompileError(fmt::format("{}: unsupported attribute '{}'", what, a.name()));
    }
  }
  if (t.op == "Momentum" && (np.attribute_size() < 4))
    throw CompileError(fmt::format("{}: alpha, beta, mode and norm_coefficient are required", what));
}

// x_new (and the state's new values) of one group, per the specification.
void expand_group(Expander& e, const TrainingNode& t, size_t k, size_t n, int r, int tf) {
  const int x = t.in[2 + k], g = t.in[2 + n + k];
  const int gr = e.add(e.mul(e.c(t.f.at("norm_coefficient")), x), g);  // norm_coefficient * X + G
  if (t.op == "Adagrad") {
    const int h = t.in[2 + 2 * n + k];
    const int hn = e.node("Add", {h, e.mul(gr, gr)}, t.out[n + k]);
    const int hs = e.add(e.node("Sqrt", {hn}), e.c(t.f.at("epsilon")));
    e.node("Sub", {x, e.node("Div", {e.mul(r, gr), hs})}, t.out[k]);
  } else if (t.op == "Momentum") {
    const int v = t.in[2 + 2 * n + k];
    const int pos = e.node("Greater", {tf, e.c(0.0f)});
    const int beta = e.node("Where", {pos, e.c(t.f.at("beta")), e.c(1.0f)});
    const int vn = e.node("Add", {e.mul(e.c(t.f.at("alpha")), v), e.mul(beta, gr)}, t.out[n + k]);
    const int step = t.mode == "standard" ? vn : e.add(gr, e.mul(e.c(t.f.at("alpha")), vn));
    e.node("Sub", {x, e.mul(r, step)}, t.out[k]);
  } else {  // Adam
    const float a = t.f.at("alpha"), b = t.f.at("beta");
    const int v = t.in[2 + 2 * n + k], h = t.in[2 + 3 * n + k];
    const int vn = e.node("Add", {e.mul(e.c(a), v), e.mul(e.c(float(1.0 - a)), gr)}, t.out[n + k]);
    const int hn = e.node("Add", {e.mul(e.c(b), h), e.mul(e.c(float(1.0 - b)), e.mul(gr, gr))}, t.out[2 * n + k]);
    const int hs = e.add(e.node("Sqrt", {hn}), e.c(t.f.at("epsilon")));
    // r * sqrt(1 - beta^T) / (1 - alpha^T) when T > 0, else r.
    auto one_minus_pow = [&](float base) { return e.node("Sub", {e.c(1.0f), e.node("Pow", {e.c(base), tf})}); };
    const int adj = e.node("Div", {e.mul(r, e.node("Sqrt", {one_minus_pow(b)})), one_minus_pow(a)});
    const int ra = e.node("Where", {e.node("Greater", {tf, e.c(0.0f)}), adj, r});
    const int xn = e.node("Sub", {x, e.mul(ra, e.node("Div", {vn, hs}))});
    e.node("Mul", {e.c(float(1.0 - t.f.at("norm_coefficient_post"))), xn}, t.out[k]);
  }
}

}  // namespace

bool is_training_domain(const std::string& domain) { return domain == "ai.onnx.preview.training"; }

void expand_training_node(const onnx::NodeProto& np, const std::string& name, Graph& g,
                          const std::function<int(const std::string&)>& input) {
  const std::string what = fmt::format("{}: node '{}' ({}, domain {})", g.source, name, np.op_type(), np.domain());
  static const std::map<std::string, size_t> kGroups = {{"Adagrad", 3}, {"Momentum", 3}, {"Adam", 4}};
  auto it = kGroups.find(np.op_type());
  if (it == kGroups.end()) throw CompileError(fmt::format("{}: unsupported operator", what));
  TrainingNode t{np.op_type(), {}, "standard", {}, {}};
  read_attrs(np, t, what);
  const size_t per = it->second, ins = size_t(np.input_size());
  if (ins < 2 + per || (ins - 2) % per != 0)
    throw CompileError(fmt::format("{}: {} inputs; expected R, T and {} groups of tensors", what, ins, per));
  const size_t n = (ins - 2) / per;
  if (size_t(np.output_size()) != (per - 1) * n)
    throw CompileError(fmt::format("{}: {} outputs, expected {}", what, np.output_size(), (per - 1) * n));
  for (const auto& s : np.input()) t.in.push_back(input(s));
  for (const auto& s : np.output()) t.out.push_back(s);
  Expander e{g, name};
  const int tf = e.node("Cast", {t.in[1]}, "", {{"to", {1}}});
  int r = t.in[0];
  if (t.op == "Adagrad")  // R / (1 + T * decay_factor)
    r = e.node("Div", {r, e.add(e.c(1.0f), e.mul(tf, e.c(t.f.at("decay_factor"))))});
  for (size_t k = 0; k < n; ++k) expand_group(e, t, k, n, r, tf);
}

}  // namespace openrdu::compiler::detail
