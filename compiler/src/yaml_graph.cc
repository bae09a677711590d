// YAML test graphs (format: compiler/README.md) and front-end dispatch by extension.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fold.h"
#include "openrdu/compiler/pipeline.h"
#include "openrdu/arch/checked.h"
#include "openrdu/arch/file.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {

namespace {

class Loader {
 public:
  explicit Loader(std::string src) : src_(std::move(src)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& msg) const {
    const YAML::Mark m = at.Mark();
    if (m.is_null()) throw CompileError(fmt::format("{}: {}", src_, msg));
    throw CompileError(fmt::format("{}:{}: {}", src_, m.line + 1, msg));
  }

  void keys(const YAML::Node& map, std::initializer_list<const char*> allowed, const std::string& what) const {
    if (!map.IsMap()) fail(map, fmt::format("{} must be a mapping", what));
    for (const auto& kv : map) {
      const std::string k = kv.first.as<std::string>();
      bool ok = false;
      for (const char* a : allowed) ok |= k == a;
      if (!ok) fail(kv.first, fmt::format("{}: unknown key '{}'", what, k));
    }
  }

  std::string str(const YAML::Node& n, const std::string& what) const {
    if (!n || !n.IsScalar()) fail(n, fmt::format("{} must be a string", what));
    return n.as<std::string>();
  }

  // n as a T (int64_t, float); `kind` names T in messages.
  template <class T>
  T scalar(const YAML::Node& n, const std::string& what, const char* kind) const {
    if (!n || !n.IsScalar()) fail(n, fmt::format("{} must be {}", what, kind));
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      fail(n, fmt::format("{} must be {}, not '{}'", what, kind, n.Scalar()));
    }
  }
  int64_t integer(const YAML::Node& n, const std::string& what) const {
    return scalar<int64_t>(n, what, "an integer");
  }
  float number(const YAML::Node& n, const std::string& what) const { return scalar<float>(n, what, "a number"); }

  std::vector<int64_t> ints(const YAML::Node& n, const std::string& what) const {
    if (!n || !n.IsSequence()) fail(n, fmt::format("{} must be a list of integers", what));
    std::vector<int64_t> v;
    for (const auto& e : n) v.push_back(integer(e, what));
    return v;
  }

  std::vector<int64_t> shape(const YAML::Node& n, const std::string& what) const {
    std::vector<int64_t> s = ints(n, what);
    for (int64_t d : s)
      if (d <= 0) fail(n, fmt::format("{} {} has a dimension of size {} (sizes >= 1 only)", what, shape_str(s), d));
    if (const arch::ShapeSize sz = arch::shape_size_of(s, 4); !sz.ok()) fail(n, fmt::format("{}: {}", what, sz.error));
    return s;
  }

  // A constant: {name, shape, dtype?, values | fill}.
  Tensor constant(const YAML::Node& c, const std::string& name, const std::string& what) const {
    keys(c, {"name", "shape", "dtype", "values", "fill"}, what);
    Tensor t;
    t.name = name;
    t.kind = TensorKind::Constant;
    t.shape = c["shape"] ? ints(c["shape"], what + " shape") : std::vector<int64_t>{};
    for (int64_t d : t.shape)
      if (d <= 0) fail(c["shape"], fmt::format("{}: shape {} has a size {}", what, shape_str(t.shape), d));
    t.shape_known = true;
    const std::string dt = c["dtype"] ? str(c["dtype"], what + " dtype") : "float32";
    if (dt == "int64")
      t.dtype = DType::I64;
    else if (dt != "float32")
      fail(c["dtype"], fmt::format("{}: dtype '{}' (float32 or int64)", what, dt));
    const arch::ShapeSize sz = arch::shape_size_of(t.shape, t.dtype == DType::I64 ? 8 : 4);
    if (!sz.ok()) fail(c["shape"], fmt::format("{}: {}", what, sz.error));
    const int64_t n = int64_t(sz.elements);
    if (c["values"] && c["fill"]) fail(c, fmt::format("{}: give either values or fill", what));
    if (c["values"]) {
      const YAML::Node& v = c["values"];
      if (!v.IsSequence()) fail(v, fmt::format("{}: values must be a list", what));
      if (int64_t(v.size()) != n)
        fail(v, fmt::format("{}: {} values, shape {} needs {}", what, v.size(), shape_str(t.shape), n));
      for (const auto& e : v) {
        if (t.dtype == DType::I64)
          t.idata.push_back(integer(e, what + " value"));
        else
          t.data.push_back(number(e, what + " value"));
      }
    } else if (c["fill"]) {
      if (t.dtype == DType::I64)
        t.idata.assign(n, integer(c["fill"], what + " fill"));
      else
        t.data.assign(n, number(c["fill"], what + " fill"));
    } else {
      fail(c, fmt::format("{}: values or fill is required", what));
    }
    return t;
  }

  Graph load(const YAML::Node& root, const ImportOptions& opts) {
    Graph g;
    g.source = src_;
    if (!root.IsMap()) fail(root, "the document must be a mapping (inputs, outputs, constants, nodes)");
    keys(root, {"name", "opset", "inputs", "outputs", "constants", "nodes"}, "graph");
    const int opset = root["opset"] ? int(integer(root["opset"], "opset")) : 17;
    if (opset < 6 || opset > 18) fail(root["opset"], fmt::format("opset {} is not supported (6 to 18)", opset));
    for (const auto& c : seq(root, "constants")) {
      const std::string name = str(c["name"], "constant name");
      define(g, constant(c, name, fmt::format("constant '{}'", name)), c);
    }
    for (const auto& i : seq(root, "inputs")) {
      keys(i, {"name", "shape"}, "input");
      Tensor t;
      t.name = str(i["name"], "input name");
      t.kind = TensorKind::Input;
      t.shape = shape(i["shape"], fmt::format("input '{}' shape", t.name));
      t.shape_known = true;
      g.inputs.push_back(define(g, std::move(t), i));
    }
    std::set<std::string> node_names;
    int index = 0;
    for (const auto& nd : seq(root, "nodes")) node(g, nd, opset, index++, node_names);
    for (const auto& o : seq(root, "outputs")) output(g, o);
    if (g.outputs.empty()) fail(root, "the graph has no outputs");
    apply_weights(g, opts.weights);
    if (opts.params_as_state) make_params_state(g);
    if (opts.finalize) finalize(g);
    return g;
  }

 private:
  // root[key]: absent, or a list.
  YAML::Node seq(const YAML::Node& root, const char* key) const {
    YAML::Node n = root[key];
    if (n && !n.IsSequence()) fail(n, fmt::format("'{}' must be a list", key));
    return n;
  }

  int define(Graph& g, Tensor t, const YAML::Node& at) const {
    if (g.find(t.name) >= 0) fail(at, fmt::format("tensor '{}' is defined twice", t.name));
    return g.add_tensor(std::move(t));
  }

  // A node's attrs (detail::attr_kind) with their ONNX defaults; a Tensor attribute is a
  // number (fp32, shape [1]) or a constant mapping {shape, dtype, values | fill}.
  void attributes(Graph& g, const YAML::Node& at, Node& n, int opset, const std::string& what) const {
    if (!at.IsMap()) fail(at, fmt::format("{}: attrs must be a mapping", what));
    for (const auto& kv : at) {
      const std::string key = kv.first.as<std::string>();
      detail::AttrKind kind;
      if (!detail::attr_kind(n.op, key, opset, kind))
        fail(kv.first, fmt::format("{}: unsupported attribute '{}'", what, key));
      const std::string aw = fmt::format("{}: attribute '{}'", what, key);
      switch (kind) {
        case detail::AttrKind::Float: n.attrs[key] = number(kv.second, aw); break;
        case detail::AttrKind::Int: n.iattrs[key] = {integer(kv.second, aw)}; break;
        case detail::AttrKind::Ints: n.iattrs[key] = ints(kv.second, aw); break;
        case detail::AttrKind::Tensor: {
          Tensor t;
          const std::string tn = fmt::format("{}::{}", n.name, key);
          if (kv.second.IsScalar()) {
            t.name = tn;
            t.kind = TensorKind::Constant;
            t.shape = {1};
            t.shape_known = true;
            t.data = {number(kv.second, aw)};
          } else {
            t = constant(kv.second, tn, aw);
          }
          n.tattrs[key] = define(g, std::move(t), kv.second);
          break;
        }
      }
    }
  }

  // A node {name?, op, inputs, outputs: [one], attrs?}; its inputs defined before it.
  void node(Graph& g, const YAML::Node& nd, int opset, int index, std::set<std::string>& node_names) const {
    keys(nd, {"name", "op", "inputs", "outputs", "attrs"}, "node");
    Node n;
    n.op = str(nd["op"], "node op");
    n.name = nd["name"] ? str(nd["name"], "node name") : fmt::format("{}_{}", n.op, index);
    const std::string what = fmt::format("node '{}' ({})", n.name, n.op);
    if (!node_names.insert(n.name).second) fail(nd, fmt::format("{}: node name is not unique", what));
    const OpInfo* info = find_op(n.op);
    if (!info) fail(nd["op"], fmt::format("{}: unsupported operator", what));
    if (const YAML::Node& at = nd["attrs"]) attributes(g, at, n, opset, what);
    detail::fill_attr_defaults(n, opset);
    const YAML::Node& ins = nd["inputs"];
    if (ins && !ins.IsSequence()) fail(ins, fmt::format("{}: inputs must be a list", what));
    int k = 0;
    for (const auto& in : ins) {
      const std::string name = str(in, what + " input");
      if (name.empty() && k >= info->param_from) {
        n.inputs.push_back(-1);
      } else {
        const int t = g.find(name);
        if (t < 0)
          fail(in, fmt::format("{}: input '{}' is not defined (inputs, constants or an earlier node)", what, name));
        n.inputs.push_back(t);
      }
      ++k;
    }
    if (int(n.inputs.size()) < info->min_inputs || int(n.inputs.size()) > info->max_inputs)
      fail(nd, fmt::format("{}: {} inputs, the compiler supports {} to {}", what, n.inputs.size(), info->min_inputs,
                           info->max_inputs));
    const YAML::Node& outs = nd["outputs"];
    if (!outs || !outs.IsSequence() || outs.size() != 1)
      fail(outs ? outs : nd, fmt::format("{}: outputs must be a list of one tensor name", what));
    Tensor t;
    t.name = str(outs[0], what + " output");
    t.kind = TensorKind::Value;
    t.producer = int(g.nodes.size());
    n.outputs.push_back(define(g, std::move(t), outs[0]));
    g.nodes.push_back(std::move(n));
  }

  // A graph output: a name, or {name, shape} (the declared shape of a computed value).
  void output(Graph& g, const YAML::Node& o) const {
    std::string name;
    YAML::Node shp;
    bool has_shape = false;
    if (o.IsScalar()) {
      name = o.as<std::string>();
    } else {
      keys(o, {"name", "shape"}, "output");
      name = str(o["name"], "output name");
      has_shape = bool(o["shape"]);
      if (has_shape) shp = o["shape"];
    }
    const int t = g.find(name);
    if (t < 0) fail(o, fmt::format("output '{}': nothing defines it", name));
    if (g.tensors[t].is_output) fail(o, fmt::format("output '{}': listed twice", name));
    g.tensors[t].is_output = true;
    if (has_shape && g.tensors[t].kind == TensorKind::Value) {
      g.tensors[t].shape = shape(shp, fmt::format("output '{}' shape", name));
      g.tensors[t].shape_known = true;
    }
    g.outputs.push_back(t);
  }

  std::string src_;
};

}  // namespace

Graph load_yaml_string(const std::string& text, const std::string& source_name, const ImportOptions& opts) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw CompileError(fmt::format("{}:{}: YAML syntax error: {}", source_name, e.mark.line + 1, e.msg));
  }
  return Loader(source_name).load(root, opts);
}

Graph load_yaml_graph(const std::string& path, const ImportOptions& opts) {
  std::vector<uint8_t> b;
  try {  // a test graph: 16 MiB is plenty (yaml-cpp takes some 8 times the text)
    b = arch::read_file_capped(path, uint64_t(16) << 20);
  } catch (const std::runtime_error& e) {
    throw CompileError(e.what());
  }
  return load_yaml_string(std::string(b.begin(), b.end()), path, opts);
}

Graph load_graph_file(const std::string& path, const ImportOptions& opts) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".yaml" || ext == ".yml") return load_yaml_graph(path, opts);
  return import_onnx_file(path, opts);
}

pef::Pef compile_model_file(const std::string& path, const arch::Config& cfg, const Options& opts,
                            CompileStats* stats) {
  FrontEnd front;  // the whole pass pipeline (pipeline.h); GRAPH for an ONNX model
  front.path = path;
  return compile_file(front, cfg, opts, stats);
}

}  // namespace openrdu::compiler
