// ONNX importer (opsets 1-18) and the TensorProto reader.
#include <fmt/format.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/onnx_pb.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "fold.h"
#include "onnx_training_ops.h"
#include "openrdu/arch/checked.h"
#include "openrdu/arch/file.h"
#include "openrdu/arch/memory.h"
#include "openrdu/compiler/graph_section.h"
#include "openrdu/arch/printable.h"
#include "openrdu/compiler/ir.h"
#include "onnx_wire.h"

namespace openrdu::compiler {

namespace {

// Opsets 1-18. The elementwise operators have had their opset-13 semantics on fp32 since
// opset 1 but for the legacy attributes that legacy_attribute maps (consumed_inputs,
// broadcast/axis, BatchNormalization is_test, Cast `to` by name, Pad paddings); Clip-6
// bounds are attributes; Max/Min/Sum broadcast since 8, a superset. Opset differences of
// the others are read per node: Squeeze/Unsqueeze and ReduceSum axes (attribute < 13,
// input >= 13), Slice starts/ends/axes (attributes < 10), Softmax/LogSoftmax axis
// (default 1 and 2-D coercion < 13, default -1 >= 13), Concat axis (default 1 < 4).
constexpr int kMinOpset = 1, kMaxOpset = 18;

// Protobuf parses at most 2 GiB: a larger file (or endless /dev/zero) is refused.
std::string read_file_bytes(const std::string& path) {
  try {
    const std::vector<uint8_t> b = arch::read_file_capped(path, uint64_t(2) << 30);
    return std::string(b.begin(), b.end());
  } catch (const std::runtime_error& e) {
    throw CompileError(e.what());
  }
}

std::string dtype_name(int t) {
  if (onnx::TensorProto_DataType_IsValid(t)) return onnx::TensorProto_DataType_Name(onnx::TensorProto_DataType(t));
  return fmt::format("type {}", t);
}

// The element count of a TensorProto's dims (arch::shape_size: no wrap, plausible size).
int64_t checked_elements(const onnx::TensorProto& t, uint64_t elem_bytes, const std::string& what) {
  const arch::ShapeSize sz = arch::shape_size_of(t.dims(), elem_bytes);
  if (!sz.ok()) throw CompileError(fmt::format("{}: {}", what, sz.error));
  return int64_t(sz.elements);
}

// Names are echoed in messages: one with a control character (a newline, a NUL) is
// refused, shown escaped (arch::printable).
void check_name(const std::string& name, const std::string& src, const char* what) {
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f)
      throw CompileError(
          fmt::format("{}: {} name '{}' contains a control character", src, what, arch::printable(name)));
}

// fp32 values of a TensorProto (raw_data little-endian or float_data). `consume`: the
// TensorProto's own raw_data, about to be deleted: its pages are released as they are
// copied (the model's copy and the graph's never both whole in memory).
std::vector<float> tensor_values(const onnx::TensorProto& t, const std::string& what, std::string* consume = nullptr) {
  if (t.data_type() != onnx::TensorProto::FLOAT)
    throw CompileError(fmt::format("{}: data type {} is not fp32 (FLOAT)", what, dtype_name(t.data_type())));
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw CompileError(fmt::format("{}: external data is not supported", what));
  const int64_t n = checked_elements(t, 4, what);
  std::vector<float> v;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (int64_t(raw.size()) != 4 * n)
      throw CompileError(fmt::format("{}: raw_data holds {} bytes, {} elements need {}", what, raw.size(), n, 4 * n));
    // The format is little-endian, as is every host we build for.
    if (consume) {  // grown chunk by chunk: the pages of v are touched as those of raw go
      v.reserve(n);
      arch::consume_chunks(reinterpret_cast<uint8_t*>(consume->data()), raw.size(),
                           [&](const uint8_t* p, size_t off, size_t len) {
                             v.resize((off + len) / 4);
                             std::memcpy(reinterpret_cast<uint8_t*>(v.data()) + off, p, len);
                           });
    } else {
      v.resize(n);
      std::memcpy(v.data(), raw.data(), raw.size());
    }
  } else {
    if (t.float_data_size() != n)
      throw CompileError(
          fmt::format("{}: float_data holds {} values, {} elements need {}", what, t.float_data_size(), n, n));
    v.assign(t.float_data().begin(), t.float_data().end());
  }
  return v;
}

// A new value `out`, the output of the node about to be added (g.nodes.size()), defined
// from now on; one already defined is an error.
int add_value(Graph& g, const std::string& out, const std::string& what, std::set<std::string>& available) {
  if (g.find(out) >= 0) throw CompileError(fmt::format("{}: output '{}' is already defined", what, out));
  Tensor t;
  t.name = out;
  t.kind = TensorKind::Value;
  t.producer = int(g.nodes.size());
  available.insert(out);
  return g.add_tensor(std::move(t));
}

// TopK (values, indices), LayerNormalization (Y, Mean, InvStdDev), BatchNormalization in
// training mode (Y, running mean, running var, BN-9's saved mean and var) and Split (its
// parts, iattr "outputs" their number): one node per output that is given (a name, not ""),
// the output's position in iattr "output" (none for Y), each node named "<node>" for its
// first output and "<node>.<position>" after.
void split_outputs(const onnx::NodeProto& np, Node n, Graph& g, std::set<std::string>& available) {
  const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
  bool first = true;
  for (int ko = 0; ko < np.output_size(); ++ko) {
    const std::string& out = np.output(ko);
    if (out.empty()) continue;
    Node k = n;
    if (!first) k.name = fmt::format("{}.{}", n.name, ko);
    if (ko > 0 || n.op == "TopK" || n.op == "Split") k.iattrs["output"] = {ko};
    if (n.op == "Split") k.iattrs["outputs"] = {np.output_size()};
    k.outputs = {add_value(g, out, what, available)};
    g.nodes.push_back(std::move(k));
    first = false;
  }
}

// The IR type of a graph input or output: FLOAT, INT64 or INT32 (held as int64, the
// device's int32 words), BOOL.
DType value_dtype(const onnx::TypeProto::Tensor& tt, const std::string& what) {
  if (!tt.has_elem_type() || tt.elem_type() == onnx::TensorProto::FLOAT) return DType::F32;
  if (tt.elem_type() == onnx::TensorProto::INT64 || tt.elem_type() == onnx::TensorProto::INT32) return DType::I64;
  if (tt.elem_type() == onnx::TensorProto::BOOL) return DType::BOOL;
  throw CompileError(
      fmt::format("{}: data type {} is not supported (FLOAT, INT64, INT32, BOOL)", what, dtype_name(tt.elem_type())));
}

// Static shape of a graph input/output (its type in *dtype when given). Returns false
// when no shape is given.
bool value_shape(const onnx::ValueInfoProto& vi, const std::string& what, std::vector<int64_t>& shape, bool require,
                 DType* dtype = nullptr) {
  if (!vi.has_type() || !vi.type().has_tensor_type()) throw CompileError(fmt::format("{}: not a tensor", what));
  const auto& tt = vi.type().tensor_type();
  const DType dt = value_dtype(tt, what);
  if (dtype) *dtype = dt;
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
  if (const arch::ShapeSize sz = arch::shape_size_of(shape, 4); !sz.ok())
    throw CompileError(fmt::format("{}: {}", what, sz.error));
  return true;
}

// int64 values of an INT64 or INT32 TensorProto (raw_data little-endian or int64_data /
// int32_data).
std::vector<int64_t> tensor_ints(const onnx::TensorProto& t, const std::string& what) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    throw CompileError(fmt::format("{}: external data is not supported", what));
  const bool i64 = t.data_type() == onnx::TensorProto::INT64;
  const int64_t n = checked_elements(t, i64 ? 8 : 4, what);
  std::vector<int64_t> v;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const int64_t w = i64 ? 8 : 4;
    if (int64_t(raw.size()) != w * n)
      throw CompileError(fmt::format("{}: raw_data holds {} bytes, {} elements need {}", what, raw.size(), n, w * n));
    for (int64_t k = 0; k < n; ++k) {
      if (i64) {
        int64_t x;
        std::memcpy(&x, raw.data() + 8 * k, 8);
        v.push_back(x);
      } else {
        int32_t x;
        std::memcpy(&x, raw.data() + 4 * k, 4);
        v.push_back(x);
      }
    }
  } else {
    const int got = i64 ? t.int64_data_size() : t.int32_data_size();
    if (got != n)
      throw CompileError(fmt::format("{}: {} holds {} values, {} elements need {}", what,
                                     i64 ? "int64_data" : "int32_data", got, n, n));
    if (i64)
      v.assign(t.int64_data().begin(), t.int64_data().end());
    else
      v.assign(t.int32_data().begin(), t.int32_data().end());
  }
  return v;
}

// 0.0f/1.0f values of a BOOL TensorProto (raw_data one byte each, or int32_data).
std::vector<float> tensor_bools(const onnx::TensorProto& t, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) throw CompileError(fmt::format("{}: negative dimension {}", what, d));
    n *= d;
  }
  std::vector<float> v;
  if (t.has_raw_data()) {
    if (int64_t(t.raw_data().size()) != n)
      throw CompileError(fmt::format("{}: raw_data holds {} bytes, {} bool elements need {}", what,
                                     t.raw_data().size(), n, n));
    for (char c : t.raw_data()) v.push_back(c != 0 ? 1.0f : 0.0f);
  } else {
    if (t.int32_data_size() != n)
      throw CompileError(fmt::format("{}: int32_data holds {} values, {} elements need {}", what,
                                     t.int32_data_size(), n, n));
    for (int32_t x : t.int32_data()) v.push_back(x != 0 ? 1.0f : 0.0f);
  }
  return v;
}

// A constant tensor from a TensorProto: fp32, or INT64/INT32 (held as int64, for shape
// values that folding consumes).
Tensor constant_tensor(const onnx::TensorProto& init, const std::string& name, const std::string& what,
                       std::string* consume = nullptr) {
  Tensor t;
  t.name = name;
  t.kind = TensorKind::Constant;
  t.shape.assign(init.dims().begin(), init.dims().end());
  t.shape_known = true;
  if (init.data_type() == onnx::TensorProto::INT64 || init.data_type() == onnx::TensorProto::INT32) {
    t.dtype = DType::I64;
    t.idata = tensor_ints(init, what);
  } else if (init.data_type() == onnx::TensorProto::BOOL) {
    t.dtype = DType::BOOL;
    t.data = tensor_bools(init, what);
  } else {
    t.data = tensor_values(init, what, consume);
  }
  return t;
}

// The binary operators whose opset-1..6 forms carry `broadcast` and `axis`.
bool legacy_broadcast_op(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" || op == "Equal" ||
         op == "Greater" || op == "Less" || op == "And" || op == "Or" || op == "Xor" || op == "PRelu";
}

// Attributes of opsets 1-6 with their meaning in today's terms; true when `a` is read.
//  * consumed_inputs (opsets 1-5): an in-place hint of the time, no effect on the result.
//  * broadcast, axis of the binary operators (opsets 1-6): kept as legacy_broadcast and
//    legacy_axis; canonicalize (fold.cc) aligns B to A at `axis` (B reshaped with
//    trailing 1s), numpy broadcasting then gives the legacy result.
//  * BatchNormalization is_test (opsets 1-6): dropped; training mode follows the outputs
//    (more than Y: training) as for the later opsets.
//  * Cast `to` as a type name (opsets 1-5): its TensorProto code.
//  * Pad `paddings` (opset 1): `pads`. LpPool `p` as a float (opset 1): an integer.
bool legacy_attribute(const onnx::AttributeProto& a, Node& n, int opset, const std::string& what) {
  if (opset >= 7) return false;
  const std::string& k = a.name();
  if (k == "consumed_inputs" && opset < 6) return true;
  if (k == "is_test" && n.op == "BatchNormalization") return true;
  if ((k == "broadcast" || k == "axis") && legacy_broadcast_op(n.op)) {
    n.iattrs[k == "axis" ? "legacy_axis" : "legacy_broadcast"] = {a.i()};
    return true;
  }
  if (k == "to" && n.op == "Cast" && a.type() == onnx::AttributeProto::STRING) {
    onnx::TensorProto_DataType t;
    if (!onnx::TensorProto_DataType_Parse(a.s(), &t))
      throw CompileError(fmt::format("{}: attribute 'to' names no data type ('{}')", what, arch::printable(a.s())));
    n.iattrs["to"] = {int64_t(t)};
    return true;
  }
  if (k == "paddings" && n.op == "Pad" && opset < 2) {
    n.iattrs["pads"].assign(a.ints().begin(), a.ints().end());
    return true;
  }
  if (k == "p" && n.op == "LpPool" && opset < 2 && a.type() == onnx::AttributeProto::FLOAT) {
    if (a.f() != std::floor(a.f()) || a.f() < 1)
      throw CompileError(fmt::format("{}: p {} is not a positive integer", what, a.f()));
    n.iattrs["p"] = {int64_t(a.f())};
    return true;
  }
  return false;
}

// The fewest inputs of op at `opset`: Reshape-1..4 takes its shape as an attribute.
int legacy_min_inputs(const OpInfo& op, int opset) {
  return std::string(op.name) == "Reshape" && opset < 5 ? 1 : op.min_inputs;
}

// The attributes that are STRINGs in ONNX and codes in the IR (fold.h): reduction, Pad's
// mode, auto_pad. True when `a` is one of them (then read into n).
bool string_attribute(const onnx::AttributeProto& a, detail::AttrKind kind, Node& n, const std::string& what) {
  using detail::AttrKind;
  if (a.name() == "reduction" && kind == AttrKind::Int) {
    const std::string& v = a.s();
    if (a.type() != onnx::AttributeProto::STRING && a.type() != onnx::AttributeProto::UNDEFINED)
      throw CompileError(fmt::format("{}: attribute 'reduction' must be a string (STRING)", what));
    if (v != "none" && v != "sum" && v != "mean")
      throw CompileError(fmt::format("{}: reduction '{}' is not none, sum or mean", what, v));
    n.iattrs["reduction"] = {v == "none" ? detail::kReductionNone : v == "sum" ? detail::kReductionSum
                                                                               : detail::kReductionMean};
    return true;
  }
  if (n.op == "Pad" && a.name() == "mode") {  // constant 0, reflect 1, edge 2
    const std::string& v = a.s();
    if (v != "constant" && v != "reflect" && v != "edge")
      throw CompileError(fmt::format("{}: mode '{}' is not constant, reflect or edge", what, v));
    n.iattrs["mode"] = {v == "constant" ? 0 : v == "reflect" ? 1 : 2};
    return true;
  }
  if (a.name() == "auto_pad" && kind == AttrKind::Int) {
    if (a.type() != onnx::AttributeProto::STRING && a.type() != onnx::AttributeProto::UNDEFINED)
      throw CompileError(fmt::format("{}: attribute 'auto_pad' must be a string (STRING)", what));
    const std::string& v = a.s();
    if (v == "NOTSET" || v.empty())
      n.iattrs["auto_pad"] = {detail::kAutoPadNotSet};
    else if (v == "VALID")
      n.iattrs["auto_pad"] = {detail::kAutoPadValid};
    else if (v == "SAME_UPPER")
      n.iattrs["auto_pad"] = {detail::kAutoPadSameUpper};
    else if (v == "SAME_LOWER")
      n.iattrs["auto_pad"] = {detail::kAutoPadSameLower};
    else
      throw CompileError(
          fmt::format("{}: auto_pad '{}' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", what, v));
    return true;
  }
  return false;
}

// `a` must have the ONNX type its kind reads (`floats`: Constant's value_floats, FLOATS).
// Old writers leave `type` unset (UNDEFINED); the field that is present is accepted then.
void check_attribute_type(const onnx::AttributeProto& a, detail::AttrKind kind, bool floats, const std::string& what) {
  using detail::AttrKind;
  const auto want = floats ? onnx::AttributeProto::FLOATS
                    : kind == AttrKind::Float ? onnx::AttributeProto::FLOAT
                    : kind == AttrKind::Int   ? onnx::AttributeProto::INT
                    : kind == AttrKind::Ints  ? onnx::AttributeProto::INTS
                                              : onnx::AttributeProto::TENSOR;
  const bool present = want == onnx::AttributeProto::FLOAT    ? a.has_f()
                       : want == onnx::AttributeProto::INT    ? a.has_i()
                       : want == onnx::AttributeProto::TENSOR ? a.has_t()
                                                              : true;
  if ((a.type() != want && a.type() != onnx::AttributeProto::UNDEFINED) || !present)
    throw CompileError(fmt::format("{}: attribute '{}' must be {}", what, a.name(),
                                   floats ? "a list of floats (FLOATS)" : detail::attr_kind_name(kind)));
}

// The value tensor of Constant's value_float(s) / value_int(s) (`floats`: value_floats).
Tensor constant_attribute(const onnx::AttributeProto& a, detail::AttrKind kind, bool floats, const std::string& name) {
  Tensor t;
  t.name = name;
  t.kind = TensorKind::Constant;
  t.shape_known = true;
  if (floats) {
    t.shape = {a.floats_size()};
    t.data.assign(a.floats().begin(), a.floats().end());
  } else if (kind == detail::AttrKind::Float) {
    t.data = {a.f()};
  } else {
    t.dtype = DType::I64;
    if (kind == detail::AttrKind::Int) {
      t.idata = {a.i()};
    } else {
      t.idata.assign(a.ints().begin(), a.ints().end());
      t.shape = {a.ints_size()};
    }
  }
  return t;
}

// The attributes of the supported operators (detail::attr_kind), with their ONNX defaults;
// any other attribute, or one of another type, is an error naming the node and the attribute.
void read_attributes(const onnx::NodeProto& np, Node& n, int opset, Graph& g, const std::string& what) {
  using detail::AttrKind;
  for (const auto& a : np.attribute()) {
    if (legacy_attribute(a, n, opset, what)) continue;
    AttrKind kind;
    if (!detail::attr_kind(n.op, a.name(), opset, kind))
      throw CompileError(fmt::format("{}: unsupported attribute '{}'", what, a.name()));
    if (string_attribute(a, kind, n, what)) continue;
    const bool floats = n.op == "Constant" && a.name() == "value_floats";
    check_attribute_type(a, kind, floats, what);
    const std::string vname = fmt::format("{}::{}", n.name, a.name());
    if (n.op == "Constant" && (floats || kind != AttrKind::Tensor)) {
      n.tattrs["value"] = g.add_tensor(constant_attribute(a, kind, floats, vname));
    } else if (kind == AttrKind::Float) {
      if (!std::isfinite(a.f()))
        throw CompileError(fmt::format("{}: attribute '{}' is {} (finite values only)", what, a.name(), a.f()));
      n.attrs[a.name()] = a.f();
    } else if (kind == AttrKind::Int) {
      n.iattrs[a.name()] = {a.i()};
    } else if (kind == AttrKind::Ints) {
      n.iattrs[a.name()].assign(a.ints().begin(), a.ints().end());
    } else {
      const std::string w = fmt::format("{}: attribute '{}'", what, a.name());
      n.tattrs[a.name()] = g.add_tensor(constant_tensor(a.t(), vname, w));
    }
  }
  if (n.tattrs.size() > 1) throw CompileError(fmt::format("{}: more than one value attribute", what));
  detail::fill_attr_defaults(n, opset);
}

// The opset of the default domain (the newest when the model imports only the training
// domain); one outside kMinOpset..kMaxOpset is an error.
int model_opset(const onnx::ModelProto& model, const std::string& src) {
  int opset = -1;
  for (const auto& os : model.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx") opset = int(os.version());
  bool training_domain = false;
  for (const auto& os : model.opset_import()) training_domain |= detail::is_training_domain(os.domain());
  if (opset < 0 && training_domain) opset = kMaxOpset;  // only training operators
  if (opset < 0) throw CompileError(fmt::format("{}: the model imports no ai.onnx opset", src));
  if (opset < kMinOpset || opset > kMaxOpset)
    throw CompileError(
        fmt::format("{}: opset {} is not supported (opsets {} to {})", src, opset, kMinOpset, kMaxOpset));
  return opset;
}

// Initializers become constants (fp32, or int64 shape values for folding). Each one's
// data is released from the model as it is copied (one copy, not two); for a GRAPH
// (opts.source) the model keeps the non-fp32 data and the fp32 digests.
void import_initializers(onnx::ModelProto& model, Graph& g, const std::string& src, const ImportOptions& opts) {
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    check_name(init.name(), src, "initializer");
    const std::string what = fmt::format("{}: initializer '{}'", src, init.name());
    const bool fp32 = init.data_type() == onnx::TensorProto::FLOAT;
    const int id = g.add_tensor(constant_tensor(init, init.name(), what, init.has_raw_data() ? init.mutable_raw_data() : nullptr));
    if (opts.source && fp32) {  // GRAPH: the model without this data, its digest
      Fp32Digest h;
      for (float f : g.tensors[id].data) h.add(std::bit_cast<uint32_t>(f));
      opts.source->fp32[init.name()] = {h.value(), 4 * uint64_t(g.tensors[id].data.size())};
      init.clear_float_data();
    }
    if (fp32 || !opts.source) delete init.release_raw_data();  // the data is in the graph now: one copy, not two
  }
}

// Graph inputs (those that are not initializers). Types of intermediate values are not
// checked: shape subgraphs carry int64 values, and folding rejects any that would have
// to be computed at run time.
void import_inputs(const onnx::GraphProto& gp, Graph& g, const std::string& src) {
  for (const auto& vi : gp.input()) {
    check_name(vi.name(), src, "input");
    if (g.find(vi.name()) >= 0) {
      // An initializer listed as an input (IR < 4 style): a constant; check its type.
      std::vector<int64_t> s;
      if (g.tensors[g.find(vi.name())].dtype == DType::F32)
        value_shape(vi, fmt::format("{}: input '{}'", src, vi.name()), s, false);
      continue;
    }
    Tensor t;
    t.name = vi.name();
    t.kind = TensorKind::Input;
    value_shape(vi, fmt::format("{}: input '{}'", src, vi.name()), t.shape, true, &t.dtype);
    t.shape_known = true;
    g.inputs.push_back(g.add_tensor(std::move(t)));
  }
}

// Clip's bound input k (1: min, 2: max): omitted, a constant scalar (an immediate), or a
// run-time scalar input.
void read_clip_bound(Graph& g, Node& n, int k, const std::string& in, const std::string& what) {
  const char* key = k == 1 ? "min" : "max";
  if (in.empty()) return;
  const Tensor& t = g.tensors[g.find(in)];
  if (t.dtype != DType::F32)
    throw CompileError(fmt::format("{}: bound '{}' ({}) is {}, expected fp32", what, in, key, dtype_name(t.dtype)));
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
}

void read_node_inputs(const onnx::NodeProto& np, const OpInfo& info, Node& n, Graph& g, const std::string& what) {
  for (int k = 0; k < np.input_size(); ++k) {
    const std::string& in = np.input(k);
    if (in.empty() && k >= info.param_from) {
      n.inputs.push_back(-1);  // an omitted optional parameter (e.g. Slice axes)
      continue;
    }
    if (n.op == "Clip" && k > 0) {
      read_clip_bound(g, n, k, in, what);
      continue;
    }
    if (in.empty()) throw CompileError(fmt::format("{}: an omitted optional input is not supported", what));
    n.inputs.push_back(g.find(in));
  }
}

// How many outputs of np are graph values: trailing optional outputs may be omitted
// (""), Dropout's mask is not one. A training-mode BatchNormalization's running mean and
// variance (and BN-9's saved mean and variance) get nodes of their own like TopK's,
// LayerNormalization's and Split's outputs (split_outputs); in a training compile they
// are unused (the running statistics' new values become the updates of their state,
// decompose.cc). Any other second output is an error.
int graph_outputs(const onnx::NodeProto& np, Node& n, int opset, const std::string& what) {
  int nout = np.output_size();
  while (nout > 1 && np.output(nout - 1).empty()) --nout;
  if (n.op == "Dropout" && nout == 2) nout = 1;
  if ((n.op == "TopK" || n.op == "LayerNormalization" || n.op == "Split") && nout > 1) return nout;
  if (n.op == "BatchNormalization" && nout > 1 && (opset < 14 || n.iattr("training_mode") != 0)) {
    n.iattrs["training_mode"] = {1};
    return nout;  // the running statistics (and BN-9's saved ones): nodes of their own
  }
  if (nout > 1) {
    const char* extra = n.op == "MaxPool"              ? "the Indices output"
                        : n.op == "LayerNormalization" ? "the Mean and InvStdDev outputs"
                        : n.op == "BatchNormalization" ? "the running mean/variance outputs (training mode)"
                                                       : nullptr;
    if (extra)
      throw CompileError(fmt::format("{}: {} outputs; {} ('{}') is not supported (one output only)", what, nout,
                                     extra, np.output(1)));
    throw CompileError(fmt::format("{}: {} outputs, expected 1", what, nout));
  }
  if (nout != 1) throw CompileError(fmt::format("{}: {} outputs, expected 1", what, nout));
  return nout;
}

// One node whose inputs are all defined: checked against the operator table, its
// attributes and inputs read, its outputs defined.
void import_node(const onnx::NodeProto& np, const std::string& name, int opset, Graph& g,
                 std::set<std::string>& available) {
  if (detail::is_training_domain(np.domain())) {
    detail::expand_training_node(np, name, g, [&](const std::string& in) { return g.find(in); });
    for (const auto& out : np.output()) available.insert(out);
    return;
  }
  Node n;
  n.name = name;
  n.op = np.op_type();
  const std::string what = fmt::format("{}: node '{}' ({})", g.source, n.name, n.op);
  if (!(np.domain().empty() || np.domain() == "ai.onnx") || !find_op(n.op))
    throw CompileError(np.domain().empty() || np.domain() == "ai.onnx"
                           ? fmt::format("{}: unsupported operator", what)
                           : fmt::format("{}: unsupported operator (domain '{}')", what, np.domain()));
  const OpInfo* info = find_op(n.op);
  if (np.input_size() < legacy_min_inputs(*info, opset) || np.input_size() > info->max_inputs)
    throw CompileError(fmt::format("{}: {} inputs, the compiler supports {} to {}", what, np.input_size(),
                                   info->min_inputs, info->max_inputs));
  read_attributes(np, n, opset, g, what);
  read_node_inputs(np, *info, n, g, what);
  if (graph_outputs(np, n, opset, what) > 1) return split_outputs(np, std::move(n), g, available);
  n.outputs.push_back(add_value(g, np.output(0), what, available));
  g.nodes.push_back(std::move(n));
}

// The nodes' names: their own, or "<op>_<position>" when empty; a repeated name gets
// "_<position>" appended. Every name a node gives is checked (check_name).
std::vector<std::string> node_names(const onnx::GraphProto& gp, const std::string& src) {
  std::set<std::string> seen;
  std::vector<std::string> names(size_t(gp.node_size()));
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    check_name(np.name(), src, "node");
    for (const auto& t : np.input()) check_name(t, src, "node input");
    for (const auto& t : np.output()) check_name(t, src, "node output");
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    names[size_t(i)] = np.name().empty() ? fmt::format("{}_{}", np.op_type(), i) : np.name();
    if (!seen.insert(names[size_t(i)]).second) names[size_t(i)] = fmt::format("{}_{}", names[size_t(i)], i);
  }
  return names;
}

// Nodes, in topological order (the format requires it; sorted anyway): each pass imports
// the nodes whose inputs are defined; a pass that imports none names an undefined input.
void import_nodes(const onnx::GraphProto& gp, int opset, Graph& g) {
  const std::vector<std::string> names = node_names(gp, g.source);
  std::set<std::string> available;
  for (const Tensor& t : g.tensors) available.insert(t.name);
  auto ready = [&](int i) {
    for (const auto& in : gp.node(i).input())
      if (!in.empty() && !available.count(in)) return false;
    return true;
  };
  std::vector<bool> placed(names.size(), false);
  size_t nplaced = 0;
  while (nplaced < names.size()) {
    bool progress = false;
    for (int i = 0; i < gp.node_size(); ++i) {
      if (placed[size_t(i)] || !ready(i)) continue;
      placed[size_t(i)] = true;
      ++nplaced;
      progress = true;
      import_node(gp.node(i), names[size_t(i)], opset, g, available);
    }
    for (int i = 0; i < gp.node_size() && !progress; ++i) {
      if (placed[size_t(i)]) continue;
      for (const auto& in : gp.node(i).input())
        if (!in.empty() && !available.count(in))
          throw CompileError(fmt::format("{}: node '{}' ({}): input '{}' is not defined (or the graph has a cycle)",
                                         g.source, names[size_t(i)], gp.node(i).op_type(), in));
    }
  }
}

void import_outputs(const onnx::GraphProto& gp, Graph& g, const std::string& src) {
  for (const auto& vi : gp.output()) {
    check_name(vi.name(), src, "output");
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
}

Graph convert(onnx::ModelProto& model, const std::string& src, const ImportOptions& opts) {
  Graph g;
  g.source = src;
  const int opset = model_opset(model, src);
  if (!model.has_graph()) throw CompileError(fmt::format("{}: the model has no graph", src));
  const onnx::GraphProto& gp = model.graph();
  if (gp.sparse_initializer_size() > 0)
    throw CompileError(
        fmt::format("{}: initializer '{}' is sparse (not supported)", src, gp.sparse_initializer(0).values().name()));
  import_initializers(model, g, src, opts);
  import_inputs(gp, g, src);
  import_nodes(gp, opset, g);
  import_outputs(gp, g, src);
  apply_weights(g, opts.weights);
  if (opts.params_as_state) make_params_state(g);
  if (opts.finalize) finalize(g);
  return g;
}

}  // namespace

namespace {
// `parsed`: whether protobuf parsed the model.
void check_parsed(bool parsed, const onnx::ModelProto& model, const std::string& source_name) {
  if (!parsed) throw CompileError(fmt::format("{}: not a valid ONNX model (protobuf parse failed)", source_name));
  if (!model.has_graph()) throw CompileError(fmt::format("{}: not a valid ONNX model (no graph)", source_name));
}
void parse_model(onnx::ModelProto& model, const void* data, size_t size, const std::string& source_name) {
  check_parsed(size <= size_t(INT32_MAX) && model.ParseFromArray(data, int(size)), model, source_name);
}
}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const std::string& source_name, const ImportOptions& opts) {
  onnx::ModelProto model;
  parse_model(model, bytes.data(), bytes.size(), source_name);
  return convert(model, source_name, opts);
}

void export_onnx_with_weights(const std::string& in_path, const std::map<std::string, HostTensor>& weights,
                              const std::string& out_path) {
  onnx::ModelProto model;
  if (!model.ParseFromString(read_file_bytes(in_path)))
    throw CompileError(fmt::format("{}: not a valid ONNX model (protobuf parse failed)", in_path));
  std::map<std::string, onnx::TensorProto*> inits;
  for (auto& t : *model.mutable_graph()->mutable_initializer()) inits[t.name()] = &t;
  for (const auto& [name, w] : weights) {
    if (pef::is_optimizer_state_name(name)) continue;
    auto it = inits.find(name);
    if (it == inits.end() || it->second->data_type() != onnx::TensorProto::FLOAT)
      throw CompileError(fmt::format("{}: weight '{}' is not an fp32 initializer of the model", in_path, name));
    onnx::TensorProto& t = *it->second;
    const std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    if (dims != w.shape) throw CompileError(fmt::format("{}: weight '{}' has shape {}, the initializer {}", in_path,
                                                        name, shape_str(w.shape), shape_str(dims)));
    t.clear_float_data();
    t.set_raw_data(std::string(reinterpret_cast<const char*>(w.data.data()), 4 * w.data.size()));
  }
  const std::string tmp = out_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f || !model.SerializeToOstream(&f)) throw CompileError(fmt::format("{}: cannot write", out_path));
  }
  if (std::rename(tmp.c_str(), out_path.c_str()) != 0)
    throw CompileError(fmt::format("{}: cannot write: {}", out_path, std::strerror(errno)));
}

namespace {
// A regular file's model with its large raw_data read by detail::strip_raw_data straight
// into their strings (protobuf would grow each one by doubling); false (the file rewound)
// when the scan does not follow the file, which protobuf then parses itself.
bool parse_file_stripped(const arch::ReadFd& file, onnx::ModelProto& model, const std::string& path) {
  constexpr size_t kMinPayload = 4096;
  const int fd = file.fd();
  const detail::WireRead read = [fd](char* p, size_t n) -> size_t {
    for (;;) {
      const ssize_t k = ::read(fd, p, n);
      if (k >= 0) return size_t(k);
      if (errno != EINTR) return 0;  // protobuf's own read of the file meets the error again
    }
  };
  std::optional<detail::StrippedModel> s = detail::strip_raw_data(read, file.size(), kMinPayload);
  if (!s) {
    if (::lseek(fd, 0, SEEK_SET) != 0)
      throw CompileError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    return false;
  }
  check_parsed(detail::parse_stripped(model, std::move(*s)), model, path);
  return true;
}
}  // namespace

// Parsed from the file as it is read (no buffer of the whole file beside the model; a
// regular file's large raw_data read into their tensors' strings); protobuf parses at
// most 2 GiB.
Graph import_onnx_file(const std::string& path, const ImportOptions& opts) {
  onnx::ModelProto model;
  try {
    constexpr int64_t kMax = int64_t(2) << 30;
    const arch::ReadFd file(path, kMax);
    if (!file.regular() || !parse_file_stripped(file, model, path)) {
      google::protobuf::io::FileInputStream in(file.fd());
      google::protobuf::io::LimitingInputStream capped(&in, kMax);
      check_parsed(model.ParseFromZeroCopyStream(&capped), model, path);
    }
  } catch (const CompileError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw CompileError(e.what());
  }
  Graph g = convert(model, path, opts);
  if (opts.source) opts.source->model = model.SerializeAsString();
  return g;
}

HostTensor load_tensor_pb(const std::string& path, std::string* name) {
  const std::string bytes = read_file_bytes(path);
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes))
    throw CompileError(fmt::format("{}: not a valid TensorProto (protobuf parse failed)", path));
  HostTensor h;
  h.shape.assign(t.dims().begin(), t.dims().end());
  const std::string what = fmt::format("{}: tensor '{}'", path, t.name());
  if (t.data_type() == onnx::TensorProto::INT64 || t.data_type() == onnx::TensorProto::INT32)
    h.idata = tensor_ints(t, what);
  else if (t.data_type() == onnx::TensorProto::BOOL)
    h.data = tensor_bools(t, what);  // 1.0f / 0.0f, as bool tensors are held
  else
    h.data = tensor_values(t, what);
  if (name) *name = t.name();
  return h;
}

}  // namespace openrdu::compiler
