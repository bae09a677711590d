// ONNX importer (opsets 6-17) and the TensorProto reader.
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {

namespace {

// Opsets 6-12 too: the supported operators have had their opset-13 semantics on fp32
// since opset 6 (Clip-6 bounds are attributes; opset-6 Add/Sub/Mul legacy broadcast
// attributes are rejected as unknown attributes; Max/Min/Sum broadcast since 8, a superset).
constexpr int kMinOpset = 6, kMaxOpset = 17;

std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw CompileError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw CompileError(fmt::format("{}: read error", path));
  return ss.str();
}

std::string dtype_name(int t) {
  if (onnx::TensorProto_DataType_IsValid(t)) return onnx::TensorProto_DataType_Name(onnx::TensorProto_DataType(t));
  return fmt::format("type {}", t);
}

// fp32 values of a TensorProto (raw_data little-endian or float_data).
std::vector<float> tensor_values(const onnx::TensorProto& t, const std::string& what) {
  if (t.data_type() != onnx::TensorProto::FLOAT)
    throw CompileError(fmt::format("{}: data type {} is not fp32 (FLOAT)", what, dtype_name(t.data_type())));
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw CompileError(fmt::format("{}: external data is not supported", what));
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) throw CompileError(fmt::format("{}: negative dimension {}", what, d));
    n *= d;
  }
  std::vector<float> v;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (int64_t(raw.size()) != 4 * n)
      throw CompileError(fmt::format("{}: raw_data holds {} bytes, {} elements need {}", what, raw.size(), n, 4 * n));
    v.resize(n);
    // The format is little-endian, as is every host we build for.
    std::memcpy(v.data(), raw.data(), raw.size());
  } else {
    if (t.float_data_size() != n)
      throw CompileError(
          fmt::format("{}: float_data holds {} values, {} elements need {}", what, t.float_data_size(), n, n));
    v.assign(t.float_data().begin(), t.float_data().end());
  }
  return v;
}

// Static fp32 shape of a graph input/output. Returns false when no shape is given.
bool value_shape(const onnx::ValueInfoProto& vi, const std::string& what, std::vector<int64_t>& shape, bool require) {
  if (!vi.has_type() || !vi.type().has_tensor_type()) throw CompileError(fmt::format("{}: not a tensor", what));
  const auto& tt = vi.type().tensor_type();
  if (tt.has_elem_type() && tt.elem_type() != onnx::TensorProto::FLOAT)
    throw CompileError(fmt::format("{}: data type {} is not fp32 (FLOAT)", what, dtype_name(tt.elem_type())));
  if (!tt.has_shape()) {
    if (require) throw CompileError(fmt::format("{}: shape is unknown (static shapes only)", what));
    return false;
  }
  shape.clear();
  for (int d = 0; d < tt.shape().dim_size(); ++d) {
    const auto& dim = tt.shape().dim(d);
    if (!dim.has_dim_value()) {
      if (!require) return false;
      throw CompileError(fmt::format("{}: dimension {} is not static{} (static shapes only)", what, d,
                                     dim.has_dim_param() ? fmt::format(" ('{}')", dim.dim_param()) : ""));
    }
    if (dim.dim_value() <= 0)
      throw CompileError(fmt::format("{}: dimension {} has size {} (sizes >= 1 only)", what, d, dim.dim_value()));
    shape.push_back(dim.dim_value());
  }
  return true;
}

// The float attributes of the supported operators, with their ONNX defaults; any other
// attribute, or one of another type, is an error naming the node and the attribute.
void read_attributes(const onnx::NodeProto& np, Node& n, const std::string& what) {
  struct Known {
    const char* op;
    const char* name;
    float def;
    bool has_default;
  };
  static const Known kKnown[] = {
      {"LeakyRelu", "alpha", 0.01f, true}, {"HardSigmoid", "alpha", 0.2f, true},
      {"HardSigmoid", "beta", 0.5f, true}, {"Clip", "min", 0.0f, false},  // Clip-6 style attributes
      {"Clip", "max", 0.0f, false},
  };
  for (const auto& a : np.attribute()) {
    const Known* k = nullptr;
    for (const Known& c : kKnown)
      if (n.op == c.op && a.name() == c.name) k = &c;
    if (!k) throw CompileError(fmt::format("{}: unsupported attribute '{}'", what, a.name()));
    if (a.type() != onnx::AttributeProto::FLOAT || !a.has_f())
      throw CompileError(fmt::format("{}: attribute '{}' must be a float (FLOAT)", what, a.name()));
    if (!std::isfinite(a.f()))
      throw CompileError(fmt::format("{}: attribute '{}' is {} (finite values only)", what, a.name(), a.f()));
    n.attrs[a.name()] = a.f();
  }
  for (const Known& c : kKnown)
    if (n.op == c.op && c.has_default && !n.has_attr(c.name)) n.attrs[c.name] = c.def;
}

Graph convert(const onnx::ModelProto& model, const std::string& src) {
  Graph g;
  g.source = src;
  // Opset of the default domain.
  int opset = -1;
  for (const auto& os : model.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx") opset = int(os.version());
  if (opset < 0) throw CompileError(fmt::format("{}: the model imports no ai.onnx opset", src));
  if (opset < kMinOpset || opset > kMaxOpset)
    throw CompileError(
        fmt::format("{}: opset {} is not supported (opsets {} to {})", src, opset, kMinOpset, kMaxOpset));
  if (!model.has_graph()) throw CompileError(fmt::format("{}: the model has no graph", src));
  const onnx::GraphProto& gp = model.graph();
  if (gp.sparse_initializer_size() > 0)
    throw CompileError(
        fmt::format("{}: initializer '{}' is sparse (not supported)", src, gp.sparse_initializer(0).values().name()));

  // Initializers become constants.
  for (const auto& init : gp.initializer()) {
    const std::string what = fmt::format("{}: initializer '{}'", src, init.name());
    Tensor t;
    t.name = init.name();
    t.kind = TensorKind::Constant;
    t.shape.assign(init.dims().begin(), init.dims().end());
    t.shape_known = true;
    t.data = tensor_values(init, what);
    g.add_tensor(std::move(t));
  }
  // Graph inputs (those that are not initializers).
  for (const auto& vi : gp.input()) {
    if (g.find(vi.name()) >= 0) {
      // An initializer listed as an input (IR < 4 style): a constant; check its type.
      std::vector<int64_t> s;
      value_shape(vi, fmt::format("{}: input '{}'", src, vi.name()), s, false);
      continue;
    }
    Tensor t;
    t.name = vi.name();
    t.kind = TensorKind::Input;
    value_shape(vi, fmt::format("{}: input '{}'", src, vi.name()), t.shape, true);
    t.shape_known = true;
    g.inputs.push_back(g.add_tensor(std::move(t)));
  }
  // Types of intermediate values, when given, must be fp32.
  for (const auto& vi : gp.value_info()) {
    std::vector<int64_t> s;
    value_shape(vi, fmt::format("{}: tensor '{}'", src, vi.name()), s, false);
  }

  // Nodes, in topological order (the format requires it; sort anyway).
  std::vector<const onnx::NodeProto*> pending;
  std::set<std::string> node_names;
  for (const auto& np : gp.node()) pending.push_back(&np);
  std::set<std::string> available;
  for (const Tensor& t : g.tensors) available.insert(t.name);
  std::vector<std::string> names(pending.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    const auto& np = *pending[i];
    names[i] = np.name().empty() ? fmt::format("{}_{}", np.op_type(), i) : np.name();
    if (!node_names.insert(names[i]).second) names[i] = fmt::format("{}_{}", names[i], i);
  }
  std::vector<bool> placed(pending.size(), false);
  size_t nplaced = 0;
  while (nplaced < pending.size()) {
    bool progress = false;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (placed[i]) continue;
      const auto& np = *pending[i];
      bool ready = true;
      for (const auto& in : np.input())
        if (!in.empty() && !available.count(in)) ready = false;
      if (!ready) continue;
      placed[i] = true;
      ++nplaced;
      progress = true;

      Node n;
      n.name = names[i];
      n.op = np.op_type();
      const std::string what = fmt::format("{}: node '{}' ({})", src, n.name, n.op);
      if (!(np.domain().empty() || np.domain() == "ai.onnx") || !find_op(n.op))
        throw CompileError(np.domain().empty() || np.domain() == "ai.onnx"
                               ? fmt::format("{}: unsupported operator", what)
                               : fmt::format("{}: unsupported operator (domain '{}')", what, np.domain()));
      const OpInfo* info = find_op(n.op);
      if (np.input_size() < info->min_inputs || np.input_size() > info->max_inputs)
        throw CompileError(fmt::format("{}: {} inputs, the compiler supports {} to {}", what, np.input_size(),
                                       info->min_inputs, info->max_inputs));
      read_attributes(np, n, what);
      for (int k = 0; k < np.input_size(); ++k) {
        const std::string& in = np.input(k);
        if (n.op == "Clip" && k > 0) {
          // Clip bounds: omitted, a constant scalar (an immediate), or a run-time scalar input.
          const char* key = k == 1 ? "min" : "max";
          if (in.empty()) continue;
          const Tensor& t = g.tensors[g.find(in)];
          if (t.elements() != 1)
            throw CompileError(fmt::format("{}: bound '{}' ({}) has shape {}, a scalar is required", what, in, key,
                                           shape_str(t.shape)));
          if (n.has_attr(key))
            throw CompileError(fmt::format("{}: {} is given both as an attribute and as input '{}'", what, key, in));
          if (t.kind == TensorKind::Constant)
            n.attrs[key] = t.data.at(0);
          else {
            n.attrs[std::string(key) + "_input"] = 1.0f;
            n.inputs.push_back(g.find(in));
          }
          continue;
        }
        if (in.empty()) throw CompileError(fmt::format("{}: an omitted optional input is not supported", what));
        n.inputs.push_back(g.find(in));
      }
      if (np.output_size() != 1) throw CompileError(fmt::format("{}: {} outputs, expected 1", what, np.output_size()));
      for (const auto& out : np.output()) {
        if (g.find(out) >= 0) throw CompileError(fmt::format("{}: output '{}' is already defined", what, out));
        Tensor t;
        t.name = out;
        t.kind = TensorKind::Value;
        t.producer = int(g.nodes.size());
        n.outputs.push_back(g.add_tensor(std::move(t)));
        available.insert(out);
      }
      g.nodes.push_back(std::move(n));
    }
    if (!progress) {
      for (size_t i = 0; i < pending.size(); ++i) {
        if (placed[i]) continue;
        for (const auto& in : pending[i]->input())
          if (!in.empty() && !available.count(in))
            throw CompileError(fmt::format("{}: node '{}' ({}): input '{}' is not defined (or the graph has a cycle)",
                                           src, names[i], pending[i]->op_type(), in));
      }
    }
  }

  // Graph outputs.
  for (const auto& vi : gp.output()) {
    const int idx = g.find(vi.name());
    const std::string what = fmt::format("{}: output '{}'", src, vi.name());
    if (idx < 0) throw CompileError(fmt::format("{}: nothing defines it", what));
    std::vector<int64_t> declared;
    const bool has_shape = value_shape(vi, what, declared, false);
    Tensor& t = g.tensors[idx];
    if (t.is_output) throw CompileError(fmt::format("{}: listed twice", what));
    t.is_output = true;
    if (has_shape && t.kind == TensorKind::Value) {
      t.shape = declared;
      t.shape_known = true;
    }
    g.outputs.push_back(idx);
  }

  infer_shapes(g);
  verify(g);
  return g;
}

}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const std::string& source_name) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes))
    throw CompileError(fmt::format("{}: not a valid ONNX model (protobuf parse failed)", source_name));
  if (!model.has_graph()) throw CompileError(fmt::format("{}: not a valid ONNX model (no graph)", source_name));
  return convert(model, source_name);
}

Graph import_onnx_file(const std::string& path) { return import_onnx_bytes(read_file_bytes(path), path); }

HostTensor load_tensor_pb(const std::string& path, std::string* name) {
  const std::string bytes = read_file_bytes(path);
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes))
    throw CompileError(fmt::format("{}: not a valid TensorProto (protobuf parse failed)", path));
  HostTensor h;
  h.shape.assign(t.dims().begin(), t.dims().end());
  h.data = tensor_values(t, fmt::format("{}: tensor '{}'", path, t.name()));
  if (name) *name = t.name();
  return h;
}

}  // namespace openrdu::compiler
