// Constant folding and canonical parameters (see ir.h), and the attribute schema of the
// front ends.
#include "fold.h"
#include "ops_ext.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <set>

namespace openrdu::compiler {

namespace detail {

int64_t Value::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const char* attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::Float: return "a float (FLOAT)";
    case AttrKind::Int: return "an integer (INT)";
    case AttrKind::Ints: return "a list of integers (INTS)";
    case AttrKind::Tensor: return "a tensor (TENSOR)";
  }
  return "?";
}

int64_t norm_axis(int64_t a, int64_t rank, const std::string& what, const char* key) {
  if (a < -rank || a >= rank)
    throw CompileError(fmt::format("{}: {} {} is out of range for rank {}", what, key, a, rank));
  return a < 0 ? a + rank : a;
}

const Tensor& const_param(const Graph& g, int t, const char* role, const std::string& what) {
  if (t < 0) throw CompileError(fmt::format("{}: the {} input is missing", what, role));
  const Tensor& x = g.tensors.at(size_t(t));
  if (x.kind != TensorKind::Constant)
    throw CompileError(fmt::format("{}: input '{}' ({}) must be a compile-time constant, but it depends on {}", what,
                                   x.name, role, x.kind == TensorKind::Input ? "a graph input" : "run-time data"));
  return x;
}

namespace {
struct AttrSpec {
  const char* op;
  const char* name;
  AttrKind kind;
  int min_opset, max_opset;  // inclusive
};
constexpr int kAny = 1000;
const AttrSpec kAttrs[] = {
    {"LeakyRelu", "alpha", AttrKind::Float, 0, kAny},
    {"HardSigmoid", "alpha", AttrKind::Float, 0, kAny},
    {"HardSigmoid", "beta", AttrKind::Float, 0, kAny},
    {"Elu", "alpha", AttrKind::Float, 0, kAny},
    {"Selu", "alpha", AttrKind::Float, 0, kAny},
    {"Selu", "gamma", AttrKind::Float, 0, kAny},
    {"Clip", "min", AttrKind::Float, 0, kAny},  // Clip-6 style, accepted at any opset (v1)
    {"Clip", "max", AttrKind::Float, 0, kAny},
    {"Gemm", "alpha", AttrKind::Float, 0, kAny},
    {"Gemm", "beta", AttrKind::Float, 0, kAny},
    {"Gemm", "transA", AttrKind::Int, 0, kAny},
    {"Gemm", "transB", AttrKind::Int, 0, kAny},
    {"Gemm", "broadcast", AttrKind::Int, 0, 6},
    {"Transpose", "perm", AttrKind::Ints, 0, kAny},
    {"Reshape", "allowzero", AttrKind::Int, 14, kAny},
    {"Reshape", "shape", AttrKind::Ints, 0, 4},
    {"Flatten", "axis", AttrKind::Int, 0, kAny},
    {"Squeeze", "axes", AttrKind::Ints, 0, 12},
    {"Unsqueeze", "axes", AttrKind::Ints, 0, 12},
    {"Softmax", "axis", AttrKind::Int, 0, kAny},
    {"LogSoftmax", "axis", AttrKind::Int, 0, kAny},
    {"Concat", "axis", AttrKind::Int, 0, kAny},
    {"Gather", "axis", AttrKind::Int, 0, kAny},
    {"Shape", "start", AttrKind::Int, 15, kAny},
    {"Shape", "end", AttrKind::Int, 15, kAny},
    {"ConstantOfShape", "value", AttrKind::Tensor, 0, kAny},
    {"Constant", "value", AttrKind::Tensor, 0, kAny},
    {"Constant", "value_float", AttrKind::Float, 12, kAny},
    {"Constant", "value_floats", AttrKind::Ints, 12, kAny},  // read specially (floats)
    {"Constant", "value_int", AttrKind::Int, 12, kAny},
    {"Constant", "value_ints", AttrKind::Ints, 12, kAny},
    {"Slice", "starts", AttrKind::Ints, 0, 9},
    {"Slice", "ends", AttrKind::Ints, 0, 9},
    {"Slice", "axes", AttrKind::Ints, 0, 9},
    {"Cast", "to", AttrKind::Int, 0, kAny},
    // auto_pad is a STRING in ONNX: the importer maps NOTSET/VALID/SAME_UPPER/SAME_LOWER
    // to 0/1/2/3 (kAutoPad*), which canonicalize() turns into explicit pads.
    {"Conv", "auto_pad", AttrKind::Int, 0, kAny},
    {"Conv", "dilations", AttrKind::Ints, 0, kAny},
    {"Conv", "group", AttrKind::Int, 0, kAny},
    {"Conv", "kernel_shape", AttrKind::Ints, 0, kAny},
    {"Conv", "pads", AttrKind::Ints, 0, kAny},
    {"Conv", "strides", AttrKind::Ints, 0, kAny},
    {"MaxPool", "auto_pad", AttrKind::Int, 0, kAny},
    {"MaxPool", "ceil_mode", AttrKind::Int, 10, kAny},
    {"MaxPool", "dilations", AttrKind::Ints, 10, kAny},
    {"MaxPool", "kernel_shape", AttrKind::Ints, 0, kAny},
    {"MaxPool", "pads", AttrKind::Ints, 0, kAny},
    {"MaxPool", "storage_order", AttrKind::Int, 8, kAny},
    {"MaxPool", "strides", AttrKind::Ints, 0, kAny},
    {"AveragePool", "auto_pad", AttrKind::Int, 0, kAny},
    {"AveragePool", "ceil_mode", AttrKind::Int, 10, kAny},
    {"AveragePool", "count_include_pad", AttrKind::Int, 7, kAny},
    {"AveragePool", "kernel_shape", AttrKind::Ints, 0, kAny},
    {"AveragePool", "pads", AttrKind::Ints, 0, kAny},
    {"AveragePool", "strides", AttrKind::Ints, 0, kAny},
    {"Trilu", "upper", AttrKind::Int, 0, kAny},
    {"Split", "axis", AttrKind::Int, 0, kAny},
    {"Split", "split", AttrKind::Ints, 0, 12},
    {"Split", "num_outputs", AttrKind::Int, 18, kAny},
    {"ConvTranspose", "auto_pad", AttrKind::Int, 0, kAny},
    {"ConvTranspose", "dilations", AttrKind::Ints, 0, kAny},
    {"ConvTranspose", "group", AttrKind::Int, 0, kAny},
    {"ConvTranspose", "kernel_shape", AttrKind::Ints, 0, kAny},
    {"ConvTranspose", "output_padding", AttrKind::Ints, 0, kAny},
    {"ConvTranspose", "output_shape", AttrKind::Ints, 0, kAny},
    {"ConvTranspose", "pads", AttrKind::Ints, 0, kAny},
    {"ConvTranspose", "strides", AttrKind::Ints, 0, kAny},
    {"LpPool", "auto_pad", AttrKind::Int, 0, kAny},
    {"LpPool", "ceil_mode", AttrKind::Int, 18, kAny},
    {"LpPool", "dilations", AttrKind::Ints, 18, kAny},
    {"LpPool", "kernel_shape", AttrKind::Ints, 0, kAny},
    {"LpPool", "p", AttrKind::Int, 0, kAny},
    {"LpPool", "pads", AttrKind::Ints, 0, kAny},
    {"LpPool", "strides", AttrKind::Ints, 0, kAny},
    {"BatchNormalization", "epsilon", AttrKind::Float, 0, kAny},
    {"BatchNormalization", "momentum", AttrKind::Float, 0, kAny},
    {"BatchNormalization", "spatial", AttrKind::Int, 0, 8},
    {"BatchNormalization", "training_mode", AttrKind::Int, 14, kAny},
    {"LayerNormalization", "axis", AttrKind::Int, 0, kAny},
    {"LayerNormalization", "epsilon", AttrKind::Float, 0, kAny},
    {"LayerNormalization", "stash_type", AttrKind::Int, 0, kAny},
    {"Cast", "saturate", AttrKind::Int, 19, kAny},
    {"Dropout", "seed", AttrKind::Int, 0, kAny},
    // mode is a STRING in ONNX: the importer maps constant/reflect/edge to 0/1/2.
    {"Pad", "mode", AttrKind::Int, 0, kAny},
    {"Pad", "pads", AttrKind::Ints, 0, 10},
    {"Pad", "value", AttrKind::Float, 0, 10},
    {"Dropout", "ratio", AttrKind::Float, 0, 11},
    {"Dropout", "is_test", AttrKind::Int, 0, 6},
    // reduction is a STRING in ONNX: the importer maps it to kReduction*.
    {"SoftmaxCrossEntropyLoss", "reduction", AttrKind::Int, 12, kAny},
    {"SoftmaxCrossEntropyLoss", "ignore_index", AttrKind::Int, 12, kAny},
    {"NegativeLogLikelihoodLoss", "reduction", AttrKind::Int, 12, kAny},
    {"NegativeLogLikelihoodLoss", "ignore_index", AttrKind::Int, 12, kAny},
    // Issue 23 (ops_ext.h).
    {"ArgMax", "axis", AttrKind::Int, 0, kAny},
    {"ArgMax", "keepdims", AttrKind::Int, 0, kAny},
    {"ArgMax", "select_last_index", AttrKind::Int, 12, kAny},
    {"ArgMin", "axis", AttrKind::Int, 0, kAny},
    {"ArgMin", "keepdims", AttrKind::Int, 0, kAny},
    {"ArgMin", "select_last_index", AttrKind::Int, 12, kAny},
    {"IsInf", "detect_positive", AttrKind::Int, 0, kAny},
    {"IsInf", "detect_negative", AttrKind::Int, 0, kAny},
    {"Mod", "fmod", AttrKind::Int, 0, kAny},
    {"OneHot", "axis", AttrKind::Int, 0, kAny},
    {"TopK", "axis", AttrKind::Int, 0, kAny},
    {"TopK", "largest", AttrKind::Int, 11, kAny},
    {"TopK", "sorted", AttrKind::Int, 11, kAny},
};

// The reductions' attributes: axes until opset 17 (ReduceSum: 12; an input after),
// keepdims, noop_with_empty_axes from opset 18 (ReduceSum: 13).
bool reduce_attr_kind(const std::string& op, const std::string& name, int opset, AttrKind& kind) {
  if (op.rfind("Reduce", 0) != 0 || !find_op(op)) return false;
  const bool sum = op == "ReduceSum";
  if (name == "axes" && opset <= (sum ? 12 : 17))
    kind = AttrKind::Ints;
  else if (name == "keepdims" || (name == "noop_with_empty_axes" && opset >= (sum ? 13 : 18)))
    kind = AttrKind::Int;
  else
    return false;
  return true;
}
}  // namespace

bool attr_kind(const std::string& op, const std::string& name, int opset, AttrKind& kind) {
  if (reduce_attr_kind(op, name, opset, kind)) return true;
  for (const AttrSpec& s : kAttrs)
    if (op == s.op && name == s.name && opset >= s.min_opset && opset <= s.max_opset) {
      kind = s.kind;
      return true;
    }
  return false;
}

void fill_attr_defaults(Node& n, int opset) {
  auto f = [&](const char* k, float v) {
    if (!n.has_attr(k)) n.attrs[k] = v;
  };
  auto i = [&](const char* k, int64_t v) {
    if (!n.has_iattr(k)) n.iattrs[k] = {v};
  };
  const std::string& op = n.op;
  if (op == "LeakyRelu") f("alpha", 0.01f);
  if (op == "Elu") f("alpha", 1.0f);
  if (op == "Selu") {
    f("alpha", 1.67326319217681884765625f);
    f("gamma", 1.05070102214813232421875f);
  }
  if (op == "HardSigmoid") {
    f("alpha", 0.2f);
    f("beta", 0.5f);
  }
  if (op == "Gemm") {
    f("alpha", 1.0f);
    f("beta", 1.0f);
    i("transA", 0);
    i("transB", 0);
    n.iattrs.erase("broadcast");  // Gemm-6: C broadcasts in every case we accept
  }
  if (op == "Reshape") i("allowzero", 0);
  if (op == "Flatten") i("axis", 1);
  if (op == "Concat" && opset < 4) i("axis", 1);
  if (op == "Trilu") i("upper", 1);
  if (op == "Split") {
    i("axis", 0);
    i("output", 0);
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    i("axis", opset < 13 ? 1 : -1);
    if (opset < 13) n.iattrs["legacy2d"] = {1};
  }
  if (op == "Gather") i("axis", 0);
  if (op.rfind("Reduce", 0) == 0) {
    i("keepdims", 1);
    if (op == "ReduceSum") i("noop_with_empty_axes", 0);
  }
  if (op == "Shape") i("start", 0);
  if (op == "Conv" || op == "MaxPool" || op == "AveragePool" || op == "ConvTranspose" || op == "LpPool") {
    i("auto_pad", kAutoPadNotSet);
    if (op == "Conv" || op == "ConvTranspose") i("group", 1);
    if (op != "Conv" && op != "ConvTranspose") i("ceil_mode", 0);
    if (op == "LpPool") i("p", 2);
    if (op == "AveragePool") i("count_include_pad", 0);
  }
  if (op == "BatchNormalization") {
    f("epsilon", 1e-5f);
    i("training_mode", 0);
  }
  if (op == "LayerNormalization") {
    i("axis", -1);
    f("epsilon", 1e-5f);
    i("stash_type", 1);
  }
  if (op == "SoftmaxCrossEntropyLoss" || op == "NegativeLogLikelihoodLoss") i("reduction", kReductionMean);
  ext_attr_defaults(n);
}

}  // namespace detail

namespace {

using detail::Value;
using detail::kAutoPadNotSet;
using detail::kAutoPadSameLower;
using detail::kAutoPadSameUpper;
using detail::kAutoPadValid;

using detail::norm_axis;

std::vector<int64_t> norm_axes(const std::vector<int64_t>& axes, int64_t rank, const std::string& what,
                               const char* key) {
  std::set<int64_t> s;
  for (int64_t a : axes)
    if (!s.insert(norm_axis(a, rank, what, key)).second)
      throw CompileError(fmt::format("{}: {} {} names axis {} twice", what, key, fmt::join(axes, ","), a));
  return {s.begin(), s.end()};
}

Value value_of(const Tensor& t) {
  Value v;
  v.dtype = t.dtype;
  v.shape = t.shape;
  v.f = t.data;
  v.i = t.idata;
  return v;
}

// The integer values of a constant parameter input.
std::vector<int64_t> const_ints(const Graph& g, const Node& n, int t, const char* role) {
  const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
  const Tensor& x = detail::const_param(g, t, role, what);
  if (x.dtype != DType::I64)
    throw CompileError(fmt::format("{}: input '{}' ({}) is {}, expected int64", what, x.name, role,
                                   dtype_name(x.dtype)));
  return x.idata;
}

// ConvTranspose after the common window checks: pads [begin..., end...] from auto_pad or
// output_shape (ONNX's total padding s*(in-1) + output_padding + (k-1)*d + 1 - out, split
// as SAME_UPPER: begin total/2, otherwise begin total - total/2; a negative total grows
// the output at the end), output_padding folded into the end pads (which may then be
// negative: more output at the end). Leaves kernel_shape, strides, dilations, pads, group.
void canonicalize_conv_transpose(const Graph& g, Node& n, const std::string& what) {
  const std::vector<int64_t>& x = g.tensors.at(n.inputs.at(0)).shape;
  const size_t nd = x.size() - 2;
  const std::vector<int64_t>& w = g.tensors.at(n.inputs.at(1)).shape;
  if (x[1] != w[0] || w[0] % n.iattr("group") != 0)
    throw CompileError(fmt::format("{}: weights {} do not fit input {} with group {} (W must be [C, M/group, k...])",
                                   what, shape_str(w), shape_str(x), n.iattr("group")));
  const auto &k = n.ints("kernel_shape"), &s = n.ints("strides"), &d = n.ints("dilations");
  std::vector<int64_t> op = n.has_iattr("output_padding") ? n.ints("output_padding") : std::vector<int64_t>(nd, 0);
  if (op.size() != nd)
    throw CompileError(fmt::format("{}: output_padding [{}] must hold {} values", what, fmt::join(op, ","), nd));
  for (size_t a = 0; a < nd; ++a)
    if (op[a] < 0 || (op[a] >= s[a] && op[a] >= d[a]))
      throw CompileError(fmt::format("{}: output_padding [{}] must be below the stride or the dilation", what,
                                     fmt::join(op, ",")));
  const int64_t ap = n.iattr("auto_pad");
  std::vector<int64_t> out = n.has_iattr("output_shape") ? n.ints("output_shape") : std::vector<int64_t>{};
  if (out.size() == nd + 2) out.erase(out.begin(), out.begin() + 2);
  if (!out.empty() && out.size() != nd)
    throw CompileError(fmt::format("{}: output_shape [{}] must hold {} values", what, fmt::join(out, ","), nd));
  if (out.empty() && (ap == kAutoPadSameUpper || ap == kAutoPadSameLower))
    for (size_t a = 0; a < nd; ++a) out.push_back(x[2 + a] * s[a]);
  std::vector<int64_t> p = n.ints("pads");
  for (size_t a = 0; a < nd && !out.empty(); ++a) {
    const int64_t total = s[a] * (x[2 + a] - 1) + op[a] + (k[a] - 1) * d[a] + 1 - out[a];
    p[a] = total < 0 ? 0 : ap == kAutoPadSameUpper ? total / 2 : total - total / 2;
    p[nd + a] = total - p[a];
  }
  for (size_t a = 0; a < nd; ++a) p[nd + a] -= op[a];
  n.iattrs["pads"] = p;
  for (const char* key : {"auto_pad", "output_padding", "output_shape"}) n.iattrs.erase(key);
}

// Conv, MaxPool, AveragePool (and ConvTranspose, LpPool): explicit kernel_shape, strides,
// dilations, pads [begin..., end...] (auto_pad resolved) over 1, 2 or 3 spatial axes
// (inputs of rank 3, 4 or 5).
void canonicalize_window(const Graph& g, Node& n, const std::string& what) {
  const std::vector<int64_t>& x = g.tensors.at(n.inputs.at(0)).shape;
  if (x.size() < 3 || x.size() > 5)
    throw CompileError(fmt::format("{}: input '{}' {} has rank {}; {} takes 1-, 2- or 3-D inputs (rank 3 to 5, N C "
                                   "spatial...)",
                                   what, g.tensors[n.inputs[0]].name, shape_str(x), x.size(), n.op));
  const size_t nd = x.size() - 2;
  if (n.op == "Conv" || n.op == "ConvTranspose") {
    const std::vector<int64_t>& w = g.tensors.at(n.inputs.at(1)).shape;
    if (w.size() != x.size())
      throw CompileError(fmt::format("{}: weights '{}' {} must have rank {} (the input's)", what,
                                     g.tensors[n.inputs[1]].name, shape_str(w), x.size()));
    const std::vector<int64_t> k(w.begin() + 2, w.end());
    if (n.has_iattr("kernel_shape") && n.ints("kernel_shape") != k)
      throw CompileError(fmt::format("{}: kernel_shape [{}] differs from the weights' {}", what,
                                     fmt::join(n.ints("kernel_shape"), ","), shape_str(w)));
    n.iattrs["kernel_shape"] = k;
    if (n.iattr("group") < 1) throw CompileError(fmt::format("{}: group {} < 1", what, n.iattr("group")));
  } else if (!n.has_iattr("kernel_shape")) {
    throw CompileError(fmt::format("{}: kernel_shape is required", what));
  }
  auto check = [&](const char* key, size_t count, int64_t lo, int64_t dflt) {
    if (!n.has_iattr(key)) n.iattrs[key] = std::vector<int64_t>(count, dflt);
    const auto& v = n.ints(key);
    if (v.size() != count)
      throw CompileError(fmt::format("{}: {} [{}] must hold {} values ({}-D)", what, key, fmt::join(v, ","), count, nd));
    for (int64_t e : v)
      if (e < lo) throw CompileError(fmt::format("{}: {} [{}]: values must be >= {}", what, key, fmt::join(v, ","), lo));
  };
  check("kernel_shape", nd, 1, 1);
  check("strides", nd, 1, 1);
  check("dilations", nd, 1, 1);
  const int64_t ap = n.iattr("auto_pad");
  if (ap != kAutoPadNotSet && n.has_iattr("pads"))
    throw CompileError(fmt::format("{}: pads and auto_pad are both given", what));
  check("pads", 2 * nd, 0, 0);
  if (n.op == "ConvTranspose") return canonicalize_conv_transpose(g, n, what);
  if (ap == kAutoPadSameUpper || ap == kAutoPadSameLower) {
    std::vector<int64_t> p(2 * nd, 0);
    for (size_t a = 0; a < nd; ++a) {
      const int64_t in = x[2 + a], s = n.ints("strides")[a];
      const int64_t span = (n.ints("kernel_shape")[a] - 1) * n.ints("dilations")[a] + 1;
      const int64_t out = (in + s - 1) / s, total = std::max<int64_t>(0, (out - 1) * s + span - in);
      p[a] = ap == kAutoPadSameUpper ? total / 2 : total - total / 2;
      p[nd + a] = total - p[a];
    }
    n.iattrs["pads"] = p;
  } else if (ap != kAutoPadNotSet && ap != kAutoPadValid) {
    throw CompileError(fmt::format("{}: auto_pad {} is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", what, ap));
  }
  n.iattrs.erase("auto_pad");
  if (n.op == "MaxPool") {
    if (n.has_iattr("storage_order") && n.iattr("storage_order") != 0 && n.iattr("storage_order") != 1)
      throw CompileError(fmt::format("{}: storage_order must be 0 or 1", what));
    n.iattrs.erase("storage_order");  // only the Indices output (not supported) depends on it
  }
}

// Moves parameter inputs into attributes and normalizes the parameters (ir.h, Node).
// Dropout: ratio (input or opset < 12 attribute, default 0.5) and training_mode (input,
// default false) must be constants. Not training, or ratio 0: Identity. Training:
// DropoutTrain(x, index, step) with index a constant of x's shape holding each element's
// flat index (fp32, exact below 2^24) and step 0 (a training graph gives it its step
// counter), attributes ratio and seed (default 0).
void canonicalize_dropout(Graph& g, Node& n, int ratio_in, int training_in, const std::string& what) {
  auto scalar = [&](int t, const char* role) {
    const Tensor& c = g.tensors.at(size_t(t));
    if (c.kind != TensorKind::Constant || c.data.size() != 1)
      throw CompileError(fmt::format("{}: {} '{}' must be a constant scalar", what, role, c.name));
    return c.data[0];
  };
  const bool training = training_in >= 0 && scalar(training_in, "training_mode") != 0.0f;
  const float ratio = !training ? 0.0f : ratio_in >= 0 ? scalar(ratio_in, "ratio") : n.has_attr("ratio") ? n.attr("ratio") : 0.5f;
  if (!(ratio >= 0.0f && ratio < 1.0f)) throw CompileError(fmt::format("{}: ratio {} is not in [0, 1)", what, ratio));
  const int x = n.inputs.at(0);
  n.attrs.clear();
  if (!training || ratio == 0.0f) {
    n.op = "Identity";
    n.iattrs.clear();
    return;
  }
  const std::vector<int64_t> shape = g.tensors.at(size_t(x)).shape;
  Tensor idx;
  idx.name = g.tensors[size_t(x)].name + ".dropout_index";
  for (int i = 1; g.find(idx.name) >= 0; ++i) idx.name = fmt::format("{}.dropout_index.{}", g.tensors[size_t(x)].name, i);
  idx.kind = TensorKind::Constant;
  idx.shape = shape;
  idx.shape_known = true;
  const int64_t count = idx.elements();
  if (count > (int64_t(1) << 24))
    throw CompileError(fmt::format("{}: {} elements; training-mode Dropout supports at most 2^24", what, count));
  idx.data.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) idx.data[size_t(i)] = float(i);
  Tensor step = idx;
  step.name = idx.name + ".step";
  step.shape = {};
  step.data = {0.0f};
  const int64_t seed = n.has_iattr("seed") ? n.iattr("seed") : 0;
  n.op = "DropoutTrain";
  n.iattrs = {{"seed", {seed}}};
  n.attrs = {{"ratio", ratio}};
  n.inputs = {x, g.add_tensor(std::move(idx)), g.add_tensor(std::move(step))};
}

// Pad: constant mode only; pads (input, or opset < 11 attribute) as [begins..., ends...]
// over every axis (axes input: the listed ones, others 0); value (input or attribute)
// a constant scalar, default 0. Negative pads crop.
void canonicalize_pad(Graph& g, Node& n, int pads_in, int value_in, int axes_in, const std::string& what) {
  if (n.has_iattr("mode") && n.iattr("mode") != 0)
    throw CompileError(fmt::format("{}: mode {} is not supported (constant only)",
                                   what, n.iattr("mode") == 1 ? "reflect" : n.iattr("mode") == 2 ? "edge" : "?"));
  const int64_t r = int64_t(g.tensors.at(size_t(n.inputs.at(0))).shape.size());
  std::vector<int64_t> p = pads_in >= 0 ? const_ints(g, n, pads_in, "pads") : n.has_iattr("pads") ? n.ints("pads")
                                                                                                   : std::vector<int64_t>{};
  std::vector<int64_t> axes;
  if (axes_in >= 0)
    axes = norm_axes(const_ints(g, n, axes_in, "axes"), r, what, "axes");
  else
    for (int64_t d = 0; d < r; ++d) axes.push_back(d);
  if (p.size() != 2 * axes.size())
    throw CompileError(fmt::format("{}: {} pads for {} axes (expected begins and ends)", what, p.size(), axes.size()));
  std::vector<int64_t> full(size_t(2 * r), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    full[size_t(axes[k])] = p[k];
    full[size_t(axes[k] + r)] = p[k + axes.size()];
  }
  float value = n.has_attr("value") ? n.attr("value") : 0.0f;
  if (value_in >= 0) {
    const Tensor& v = g.tensors.at(size_t(value_in));
    if (v.kind != TensorKind::Constant || v.data.size() != 1)
      throw CompileError(fmt::format("{}: constant_value '{}' must be a constant fp32 scalar", what, v.name));
    value = v.data[0];
  }
  n.iattrs = {{"pads", full}};
  n.attrs = {{"value", value}};
}

// The legacy broadcast of the binary operators (opsets 1-6, onnx_import.cc): with
// broadcast 1 and an axis, B's dimensions match A's from `axis` on; B gets trailing 1s up
// to A's rank (a new constant) and numpy broadcasting gives the same result. Without an
// axis B matches A's trailing dimensions (numpy's rule); broadcast 0 needs equal shapes
// (numpy's rule accepts them too).
void canonicalize_legacy_broadcast(Graph& g, Node& n, const std::string& what) {
  const bool bc = n.has_iattr("legacy_broadcast") && n.iattr("legacy_broadcast") != 0;
  const bool has_axis = n.has_iattr("legacy_axis");
  const int64_t axis0 = has_axis ? n.iattr("legacy_axis") : 0;
  n.iattrs.erase("legacy_broadcast");
  n.iattrs.erase("legacy_axis");
  if (!bc || !has_axis || n.inputs.size() != 2) return;
  const std::vector<int64_t> a = g.tensors.at(n.inputs[0]).shape;
  Tensor b = g.tensors.at(n.inputs[1]);
  const int64_t ra = int64_t(a.size()), rb = int64_t(b.shape.size()), axis = axis0 < 0 ? axis0 + ra : axis0;
  if (axis < 0 || axis + rb > ra)
    throw CompileError(fmt::format("{}: broadcast axis {} does not place B '{}' {} inside A {}", what, axis0, b.name,
                                   shape_str(b.shape), shape_str(a)));
  if (axis + rb == ra) return;
  if (b.kind != TensorKind::Constant)
    throw CompileError(fmt::format("{}: broadcast of run-time B '{}' {} at axis {} of A {} is not supported (a "
                                   "constant B, or B matching A's trailing dimensions)",
                                   what, b.name, shape_str(b.shape), axis0, shape_str(a)));
  const std::string base = b.name + ".aligned";
  b.name = base;
  for (int i = 1; g.find(b.name) >= 0; ++i) b.name = fmt::format("{}.{}", base, i);
  b.shape.resize(size_t(ra - axis), 1);
  b.is_output = false;
  n.inputs[1] = g.add_tensor(std::move(b));
}

// Trilu: k from its constant input (default 0; an already canonical node keeps its k).
void canonicalize_trilu(const Graph& g, Node& n, int k_in, const std::string& what) {
  if (k_in < 0 && n.has_iattr("k")) return;
  const std::vector<int64_t> k = k_in >= 0 ? const_ints(g, n, k_in, "k") : std::vector<int64_t>{0};
  if (k.size() != 1) throw CompileError(fmt::format("{}: k holds {} values, expected one", what, k.size()));
  n.iattrs["k"] = k;
}

// The parameter inputs (from info->param_from on) moved out of n.inputs: returned, and
// those read as constants (Reshape's shape, the axes of Squeeze, Unsqueeze and the
// reductions, Slice's starts/ends/axes/steps, Gather's indices, ConstantOfShape's shape)
// set as attributes.
std::vector<int> take_parameter_inputs(const Graph& g, Node& n, const OpInfo& info, const std::string& what) {
  std::vector<int> params;
  if (int(n.inputs.size()) > info.param_from) {
    params.assign(n.inputs.begin() + info.param_from, n.inputs.end());
    n.inputs.resize(info.param_from);
  }
  for (size_t k = 0; k < n.inputs.size(); ++k)
    if (n.inputs[k] < 0) throw CompileError(fmt::format("{}: input {} is omitted (not supported)", what, k));
  auto param = [&](size_t k) { return k < params.size() ? params[k] : -1; };
  const std::string& op = n.op;
  if (op == "Reshape")  // an already canonical Reshape has no shape input but a shape attribute
    n.iattrs["shape_in"] =
        param(0) < 0 && n.has_iattr("shape") ? n.ints("shape") : const_ints(g, n, param(0), "shape");
  if ((op == "Squeeze" || op == "Unsqueeze" || op.rfind("Reduce", 0) == 0) && param(0) >= 0) {
    if (n.has_iattr("axes"))
      throw CompileError(fmt::format("{}: axes given both as an attribute and as an input", what));
    n.iattrs["axes"] = const_ints(g, n, param(0), "axes");
  }
  if (op == "Slice" && !params.empty()) {
    const char* names[] = {"starts", "ends", "axes", "steps"};
    for (size_t k = 0; k < 4; ++k)
      if (param(k) >= 0) n.iattrs[names[k]] = const_ints(g, n, param(k), names[k]);
  }
  if (op == "Gather" && !(param(0) < 0 && n.has_iattr("indices"))) {
    n.iattrs["indices"] = const_ints(g, n, param(0), "indices");
    n.iattrs["indices_shape"] = g.tensors[param(0)].shape;
  }
  if (op == "ConstantOfShape") {
    n.iattrs["shape"] = const_ints(g, n, param(0), "shape");
    for (int64_t d : n.ints("shape"))
      if (d <= 0) throw CompileError(fmt::format("{}: shape {} has a size {} (sizes >= 1 only)", what,
                                                 shape_str(n.ints("shape")), d));
  }
  return params;
}

// Transpose: perm given (default: the axes reversed), a permutation, non-negative.
void canonicalize_transpose(Node& n, const std::vector<int64_t>& x, const std::string& what) {
  const int64_t r = int64_t(x.size());
  if (!n.has_iattr("perm")) {
    std::vector<int64_t> p;
    for (int64_t d = r - 1; d >= 0; --d) p.push_back(d);
    n.iattrs["perm"] = p;
  }
  std::vector<int64_t> p = n.ints("perm");
  std::vector<int64_t> sorted = p;
  for (int64_t& a : sorted) a = a < 0 ? a + r : a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t d = 0; d < r; ++d)
    if (int64_t(sorted.size()) != r || sorted[d] != d)
      throw CompileError(fmt::format("{}: perm [{}] is not a permutation of the {} axes of {}", what,
                                     fmt::join(p, ","), r, shape_str(x)));
  for (int64_t& a : p) a = a < 0 ? a + r : a;
  n.iattrs["perm"] = p;
}

// Reshape: shape_in with its 0s (copies, unless allowzero) and -1 (inferred) resolved.
void canonicalize_reshape(Node& n, const std::vector<int64_t>& x, const std::string& what) {
  std::vector<int64_t> s = n.ints("shape_in");
  n.iattrs.erase("shape_in");
  const bool allowzero = n.iattr("allowzero") != 0;
  int64_t known = 1, infer = -1, total = 1;
  for (int64_t d : x)
    if (__builtin_mul_overflow(total, d, &total))
      throw CompileError(fmt::format("{}: input shape {} has too many elements", what, shape_str(x)));
  for (size_t d = 0; d < s.size(); ++d) {
    if (s[d] == 0 && !allowzero) {
      if (d >= x.size())
        throw CompileError(fmt::format("{}: shape {}: 0 at dimension {} copies a dimension {} does not have", what,
                                       shape_str(s), d, shape_str(x)));
      s[d] = x[d];
    }
    if (s[d] == -1) {
      if (infer >= 0) throw CompileError(fmt::format("{}: shape {} has two -1", what, shape_str(s)));
      infer = int64_t(d);
    } else if (s[d] < 0) {
      throw CompileError(fmt::format("{}: shape {} has a negative size", what, shape_str(s)));
    } else if (__builtin_mul_overflow(known, s[d], &known)) {
      throw CompileError(fmt::format("{}: shape {} has too many elements", what, shape_str(s)));
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      throw CompileError(fmt::format("{}: cannot reshape {} to {}", what, shape_str(x), shape_str(s)));
    s[infer] = total / known;
  }
  n.iattrs["shape"] = s;
}

// Softmax, LogSoftmax: a non-negative axis. Opset < 13 (legacy2d): softmax over the
// flattened dimensions [axis, rank), the same as one axis when at most one of them has a
// size > 1.
void canonicalize_softmax(Node& n, const std::vector<int64_t>& x, const std::string& what) {
  const int64_t r = int64_t(x.size());
  int64_t a = norm_axis(n.iattr("axis"), r, what, "axis");
  if (n.has_iattr("legacy2d")) {
    int64_t big = -1;
    for (int64_t d = a; d < r; ++d)
      if (x[d] > 1) {
        if (big >= 0)
          throw CompileError(fmt::format(
              "{}: opset < 13 softmax over dimensions {}..{} of {} (more than one of size > 1) is not supported",
              what, a, r - 1, shape_str(x)));
        big = d;
      }
    a = big >= 0 ? big : r - 1;
    n.iattrs.erase("legacy2d");
  }
  n.iattrs["axis"] = {a};
}

// Slice: starts, ends and steps over every axis, clamped to the dimensions (axes dropped).
void canonicalize_slice(Node& n, const std::vector<int64_t>& x, const std::string& what) {
  const int64_t r = int64_t(x.size());
  if (!n.has_iattr("starts") || !n.has_iattr("ends"))
    throw CompileError(fmt::format("{}: starts and ends are required", what));
  const std::vector<int64_t> st = n.ints("starts"), en = n.ints("ends");
  std::vector<int64_t> axes = n.has_iattr("axes") ? n.ints("axes") : std::vector<int64_t>{};
  std::vector<int64_t> steps = n.has_iattr("steps") ? n.ints("steps") : std::vector<int64_t>{};
  if (axes.empty())
    for (size_t k = 0; k < st.size(); ++k) axes.push_back(int64_t(k));
  if (steps.empty()) steps.assign(st.size(), 1);
  if (en.size() != st.size() || axes.size() != st.size() || steps.size() != st.size())
    throw CompileError(fmt::format("{}: starts, ends, axes and steps differ in length ({}, {}, {}, {})", what,
                                   st.size(), en.size(), axes.size(), steps.size()));
  std::vector<int64_t> S(r, 0), E(x), P(r, 1);
  std::set<int64_t> seen;
  for (size_t k = 0; k < st.size(); ++k) {
    const int64_t a = norm_axis(axes[k], r, what, "axis");
    if (!seen.insert(a).second) throw CompileError(fmt::format("{}: axis {} is sliced twice", what, a));
    const int64_t dim = x[a], step = steps[k];
    if (step == 0) throw CompileError(fmt::format("{}: step 0 on axis {}", what, a));
    int64_t s = st[k], e = en[k];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    S[a] = s;
    E[a] = e;
    P[a] = step;
  }
  n.iattrs.erase("axes");
  n.iattrs["starts"] = S;
  n.iattrs["ends"] = E;
  n.iattrs["steps"] = P;
}

// Split becomes the Slice of its output (`output` of `outputs`, split_outputs in the
// importer): the sizes from `split` (attribute below opset 13, a constant input from 13)
// or, without them, ceil(dim / n) per output and the remainder last, n = num_outputs
// (opset 18) or the outputs; every part must hold at least one element.
void canonicalize_split(const Graph& g, Node& n, int split_in, const std::string& what) {
  const std::vector<int64_t>& x = g.tensors.at(n.inputs.at(0)).shape;
  const int64_t axis = norm_axis(n.iattr("axis"), int64_t(x.size()), what, "axis"), dim = x[size_t(axis)];
  const int64_t outs = n.has_iattr("outputs") ? n.iattr("outputs") : 1, k = n.iattr("output");
  if (n.has_iattr("num_outputs") && n.iattr("num_outputs") != outs)
    throw CompileError(
        fmt::format("{}: num_outputs = {} but the node has {} outputs", what, n.iattr("num_outputs"), outs));
  std::vector<int64_t> sizes = split_in >= 0          ? const_ints(g, n, split_in, "split")
                               : n.has_iattr("split") ? n.ints("split")
                                                      : std::vector<int64_t>{};
  if (sizes.empty()) {
    const int64_t each = (dim + outs - 1) / outs;
    for (int64_t o = 0; o < outs; ++o) sizes.push_back(std::min(each, dim - o * each));
  }
  int64_t total = 0;
  for (int64_t v : sizes) total += v;
  if (int64_t(sizes.size()) != outs || total != dim)
    throw CompileError(fmt::format("{}: split [{}] must give {} parts summing to dimension {} ({})", what,
                                   fmt::join(sizes, ","), outs, axis, dim));
  for (int64_t v : sizes)
    if (v < 1)
      throw CompileError(
          fmt::format("{}: split [{}]: a part of size {} (sizes >= 1 only)", what, fmt::join(sizes, ","), v));
  int64_t start = 0;
  for (int64_t o = 0; o < k; ++o) start += sizes[size_t(o)];
  n.op = "Slice";
  n.iattrs = {{"starts", {start}}, {"ends", {start + sizes[size_t(k)]}}, {"axes", {axis}}};
  canonicalize_slice(n, x, what);
}

// The reductions: axes non-negative, sorted (none: every axis); with none and
// noop_with_empty_axes the node becomes Identity.
void canonicalize_reduce(Node& n, int64_t r, const std::string& what) {
  std::vector<int64_t> axes = n.has_iattr("axes") ? n.ints("axes") : std::vector<int64_t>{};
  const bool noop = n.has_iattr("noop_with_empty_axes") && n.iattr("noop_with_empty_axes") != 0;
  n.iattrs.erase("noop_with_empty_axes");
  if (axes.empty() && noop) {
    n.op = "Identity";
    n.iattrs.clear();
    return;
  }
  if (axes.empty())
    for (int64_t d = 0; d < r; ++d) axes.push_back(d);
  n.iattrs["axes"] = norm_axes(axes, r, what, "axes");
}

// The axis attributes of Flatten, Squeeze, Unsqueeze, Concat and Gather (and Gather's
// indices) non-negative.
void canonicalize_axes(Node& n, const std::vector<int64_t>& x, const std::string& what) {
  const std::string& op = n.op;
  const int64_t r = int64_t(x.size());
  if (op == "Flatten") {
    int64_t a = n.iattr("axis");
    if (a < -r || a > r) throw CompileError(fmt::format("{}: axis {} is out of range for rank {}", what, a, r));
    n.iattrs["axis"] = {a < 0 ? a + r : a};
  } else if (op == "Squeeze") {
    if (!n.has_iattr("axes")) {
      std::vector<int64_t> axes;
      for (int64_t d = 0; d < r; ++d)
        if (x[d] == 1) axes.push_back(d);
      n.iattrs["axes"] = axes;
    } else {
      n.iattrs["axes"] = norm_axes(n.ints("axes"), r, what, "axes");
    }
  } else if (op == "Unsqueeze") {
    if (!n.has_iattr("axes")) throw CompileError(fmt::format("{}: axes are not given", what));
    n.iattrs["axes"] = norm_axes(n.ints("axes"), r + int64_t(n.ints("axes").size()), what, "axes");
  } else if (op == "Concat") {
    n.iattrs["axis"] = {norm_axis(n.iattr("axis"), r, what, "axis")};
  } else if (op == "Gather") {
    const int64_t a = norm_axis(n.iattr("axis"), r, what, "axis");
    n.iattrs["axis"] = {a};
    for (int64_t& i : n.iattrs["indices"]) {
      if (i < -x[a] || i >= x[a])
        throw CompileError(fmt::format("{}: index {} is out of range for dimension {} of size {}", what, i, a, x[a]));
      if (i < 0) i += x[a];
    }
  }
}

// BatchNormalization: spatial 1 only; inference drops training_mode and momentum, training
// gets momentum 0.9 by default. LayerNormalization: fp32 statistics, a non-negative axis.
void canonicalize_normalization(Node& n, int64_t r, const std::string& what) {
  const std::string& op = n.op;
  if (op == "BatchNormalization") {
    if (n.has_iattr("spatial") && n.iattr("spatial") != 1)
      throw CompileError(fmt::format("{}: spatial = 0 is not supported", what));
    n.iattrs.erase("spatial");
    if (n.iattr("training_mode") == 0) {  // inference: the running statistics, no momentum
      n.iattrs.erase("training_mode");
      n.attrs.erase("momentum");
    } else if (!n.has_attr("momentum")) {
      n.attrs["momentum"] = 0.9f;
    }
  } else if (op == "LayerNormalization") {
    if (n.iattr("stash_type") != 1)
      throw CompileError(fmt::format("{}: stash_type {} is not supported (1: fp32)", what, n.iattr("stash_type")));
    n.iattrs.erase("stash_type");
    n.iattrs["axis"] = {norm_axis(n.iattr("axis"), r, what, "axis")};
  }
}

void canonicalize(Graph& g, Node& n) {
  const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
  const OpInfo* info = find_op(n.op);
  if (!info) throw CompileError(fmt::format("{}: unsupported operator", what));
  const std::vector<int> params = take_parameter_inputs(g, n, *info, what);
  auto param = [&](size_t k) { return k < params.size() ? params[k] : -1; };
  const std::string& op = n.op;
  canonicalize_legacy_broadcast(g, n, what);
  if (op == "Trilu") canonicalize_trilu(g, n, param(0), what);
  if (op == "Split") return canonicalize_split(g, n, param(0), what);
  if (op == "Dropout") return canonicalize_dropout(g, n, param(0), param(1), what);
  if (op == "Pad") return canonicalize_pad(g, n, param(0), param(1), param(2), what);
  if (detail::canonicalize_ext(g, n, params, what)) return;
  if (info->folded_only && op != "ConstantOfShape") return;  // Shape, Constant, Cast: nothing to normalize
  if (op == "ConstantOfShape") return;

  const std::vector<int64_t>& x = g.tensors.at(n.inputs.at(0)).shape;
  if (op == "Transpose")
    canonicalize_transpose(n, x, what);
  else if (op == "Reshape")
    canonicalize_reshape(n, x, what);
  else if (op == "Softmax" || op == "LogSoftmax")
    canonicalize_softmax(n, x, what);
  else if (op.rfind("Reduce", 0) == 0)
    canonicalize_reduce(n, int64_t(x.size()), what);
  else if (op == "Conv" || op == "MaxPool" || op == "AveragePool" || op == "ConvTranspose" || op == "LpPool")
    canonicalize_window(g, n, what);
  else if (op == "Slice")
    canonicalize_slice(n, x, what);
  else if (op == "BatchNormalization" || op == "LayerNormalization")
    canonicalize_normalization(n, int64_t(x.size()), what);
  else
    canonicalize_axes(n, x, what);
}

DType cast_type(const Node& n, const std::string& what) {
  const int64_t to = n.iattr("to");
  if (to == 1) return DType::F32;                       // FLOAT
  if (to == 7 || to == 6) return DType::I64;            // INT64, INT32 (held as int64)
  if (to == 9) return DType::BOOL;                      // BOOL
  throw CompileError(fmt::format("{}: cast to data type {} is not supported (FLOAT, INT32, INT64, BOOL)", what, to));
}

bool is_comparison(const std::string& op) {
  return op == "Equal" || op == "Greater" || op == "Less" || op == "GreaterOrEqual" || op == "LessOrEqual";
}
bool is_logic(const std::string& op) { return op == "Not" || op == "And" || op == "Or" || op == "Xor"; }
bool is_loss(const std::string& op) { return op == "SoftmaxCrossEntropyLoss" || op == "NegativeLogLikelihoodLoss"; }

// The output type of a node other than Shape/Constant/ConstantOfShape; checks the
// operands' types (an error names the input and both types).
DType output_dtype(const Graph& g, const Node& n, const std::string& what) {
  auto in_dt = [&](size_t k) { return g.tensors.at(n.inputs.at(k)).dtype; };
  auto expect = [&](size_t k, DType want) {
    if (in_dt(k) != want)
      throw CompileError(fmt::format("{}: input '{}' is {}, expected {}", what, g.tensors[n.inputs[k]].name,
                                     dtype_name(in_dt(k)), dtype_name(want)));
  };
  const std::string& op = n.op;
  if (DType dt; detail::ext_output_dtype(g, n, what, dt)) return dt;
  if (op == "Cast") return cast_type(n, what);
  if (is_comparison(op)) {
    if (in_dt(0) == DType::BOOL) throw CompileError(fmt::format("{}: comparison of bool operands", what));
    expect(1, in_dt(0));
    return DType::BOOL;
  }
  if (is_logic(op)) {
    for (size_t k = 0; k < n.inputs.size(); ++k) expect(k, DType::BOOL);
    return DType::BOOL;
  }
  if (op == "Where") {
    expect(0, DType::BOOL);
    expect(2, in_dt(1));
    return in_dt(1);
  }
  if (is_loss(op)) {
    expect(0, DType::F32);
    expect(1, DType::I64);
    if (n.inputs.size() > 2) expect(2, DType::F32);
    return DType::F32;
  }
  static const std::set<std::string> kPoly = {"Add",     "Sub",       "Mul",    "Div",       "Max",   "Min",
                                              "Neg",     "Abs",       "Identity", "Reshape", "Flatten", "Squeeze", "Sum",
                                              "Unsqueeze", "Transpose", "Concat", "Slice",     "Gather", "Trilu"};
  const DType dt = kPoly.count(op) && !n.inputs.empty() ? in_dt(0) : DType::F32;
  for (size_t k = 0; k < n.inputs.size(); ++k) expect(k, dt);
  return dt;
}

// Checks the types of a node computed at run time: fp32 and bool values; int64 (device
// int32 words) read only by Cast, a loss's labels, OneHot, a comparison, a view, an
// int-preserving operator (Where, Expand, Tile, Trilu, Slice, Concat, Gather, Transpose:
// SEL and MOV copy the words) or integer arithmetic (Add, Sub, Mul, Neg, Abs, Max, Min,
// Sum, Mod: the PCU's integer operations, wrapping like int32), and made only by those or
// Cast, ArgMax, ArgMin, TopK and OneHot (makes_run_time_int).
void check_run_time_types(const Graph& g, const Node& n, DType out, const std::string& what) {
  static const std::set<std::string> kIntKeepers = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                                    "Where",   "Expand",  "Tile",    "Trilu",     "Mod",
                                                    "Slice",   "Concat",  "Gather",  "Transpose", "Add",
                                                    "Sub",     "Mul",     "Neg",     "Abs",       "Max",
                                                    "Min",     "Sum"};
  static const std::set<std::string> kIntReaders = {"Cast", "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss",
                                                    "OneHot"};
  for (int i : n.inputs) {
    const Tensor& t = g.tensors[i];
    if (t.dtype == DType::I64 && !kIntReaders.count(n.op) && !kIntKeepers.count(n.op) && !is_comparison(n.op))
      throw CompileError(
          fmt::format("{}: input '{}' is an integer tensor (int32 or int64); at run time integer values are "
                      "only cast, compared, used as loss labels or OneHot indices, reshaped, selected (Where), "
                      "copied (Expand, Tile, Trilu, Slice, Concat, Gather, Transpose) or combined by Add, Sub, "
                      "Mul, Neg, Abs, Max, Min, Sum and Mod",
                      what, t.name));
  }
  if (out == DType::I64 && !kIntKeepers.count(n.op) && !detail::makes_run_time_int(n))
    throw CompileError(fmt::format("{}: output '{}' would be int64 computed at run time (only fp32 and bool are)",
                                   what, g.tensors[n.outputs[0]].name));
}

// Pow with a constant integer exponent (ONNX allows int32/int64 y): y as fp32 (a new constant).
void float_pow_exponent(Graph& g, Node& n) {
  if (!(n.op == "Pow" && n.inputs.size() == 2 && g.tensors.at(n.inputs[1]).kind == TensorKind::Constant &&
        g.tensors[n.inputs[1]].dtype == DType::I64))
    return;
  Tensor y = g.tensors[n.inputs[1]];
  y.name = y.name + ".f32";
  for (int i = 1; g.find(y.name) >= 0; ++i) y.name = fmt::format("{}.f32.{}", g.tensors[n.inputs[1]].name, i);
  y.dtype = DType::F32;
  y.data.assign(y.idata.begin(), y.idata.end());
  y.idata.clear();
  y.is_output = false;
  n.inputs[1] = g.add_tensor(std::move(y));
}

// The shape of n's output, its type in `dt`; Shape's start and end clamped to the rank.
std::vector<int64_t> output_shape_and_type(const Graph& g, Node& n, const std::string& what, DType& dt) {
  const std::string& op = n.op;
  dt = DType::F32;
  std::vector<int64_t> shape;
  if (op == "Shape") {
    dt = DType::I64;
    const int64_t r = int64_t(g.tensors.at(n.inputs.at(0)).shape.size());
    int64_t s = n.iattr("start"), e = n.has_iattr("end") ? n.iattr("end") : r;
    s = std::clamp<int64_t>(s < 0 ? s + r : s, 0, r);
    e = std::clamp<int64_t>(e < 0 ? e + r : e, 0, r);
    n.iattrs["start"] = {s};
    n.iattrs["end"] = {e};
    shape = {std::max<int64_t>(0, e - s)};
  } else if (op == "Constant" || op == "ConstantOfShape") {
    if (op == "Constant" && n.tattrs.count("value") == 0)
      throw CompileError(fmt::format("{}: no value attribute", what));
    if (n.tattrs.count("value")) {
      const Tensor& v = g.tensors.at(n.tattrs.at("value"));
      dt = v.dtype;
      shape = v.shape;
      if (op == "ConstantOfShape" && v.elements() != 1)
        throw CompileError(fmt::format("{}: value holds {} elements, expected one", what, v.elements()));
    }
    if (op == "ConstantOfShape") shape = n.ints("shape");
  } else {
    shape = node_output_shape(g, n);
    dt = output_dtype(g, n, what);
  }
  return shape;
}

// n's output gets `shape` and `dt` (sizes >= 1, within the output limit, as declared if
// it was).
void set_output_type(Graph& g, const Node& n, const std::vector<int64_t>& shape, DType dt, const std::string& what) {
  for (int64_t d : shape)
    if (d <= 0)
      throw CompileError(fmt::format("{}: output shape {} has a dimension of size {} (sizes >= 1 only)", what,
                                     shape_str(shape), d));
  detail::check_output_size(shape, dt, what);
  Tensor& out = g.tensors.at(n.outputs.at(0));
  if (out.shape_known && out.shape != shape)
    throw CompileError(fmt::format("{}: output '{}' is declared {} but the operator gives {}", what, out.name,
                                   shape_str(out.shape), shape_str(shape)));
  out.shape = shape;
  out.shape_known = true;
  out.dtype = dt;
}

// The value of a node whose inputs are all constants (or a Shape).
Value folded_value(const Graph& g, const Node& n, const std::vector<int64_t>& shape, DType dt) {
  const std::string& op = n.op;
  Value v;
  if (op == "Shape") {
    v.dtype = DType::I64;
    v.shape = shape;
    const auto& xs = g.tensors[n.inputs[0]].shape;
    v.i.assign(xs.begin() + n.iattr("start"), xs.begin() + n.iattr("end"));
  } else if (op == "Constant" || op == "ConstantOfShape") {
    const Tensor* vt = n.tattrs.count("value") ? &g.tensors.at(n.tattrs.at("value")) : nullptr;
    v.dtype = dt;
    v.shape = shape;
    int64_t cnt = 1;
    for (int64_t d : shape) cnt *= d;
    if (op == "Constant") {
      v.f = vt->data;
      v.i = vt->idata;
    } else if (dt == DType::F32) {
      v.f.assign(cnt, vt ? vt->data.at(0) : 0.0f);
    } else {
      v.i.assign(cnt, vt->idata.at(0));
    }
  } else {
    std::vector<Value> ins;
    ins.reserve(n.inputs.size());
    for (int i : n.inputs) ins.push_back(value_of(g.tensors[i]));
    std::vector<const Value*> ptrs;
    for (const Value& x : ins) ptrs.push_back(&x);
    v = detail::eval_node(g, n, ptrs, shape, dt);
  }
  return v;
}

// Canonicalizes node ni, types its output and folds it when its value is known at compile
// time (then its output becomes a constant and the node is dead: true).
bool fold_node(Graph& g, size_t ni) {
  Node& n = g.nodes[ni];
  const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
  for (int i : n.inputs)
    if (i >= 0 && !g.tensors.at(i).shape_known)
      throw CompileError(fmt::format("{}: input '{}' has no known shape", what, g.tensors[i].name));
  if (!n.canonical) canonicalize(g, n);
  n.canonical = true;
  float_pow_exponent(g, n);
  DType dt = DType::F32;
  const std::vector<int64_t> shape = output_shape_and_type(g, n, what, dt);
  set_output_type(g, n, shape, dt, what);
  bool foldable = n.op == "Shape";
  if (!foldable) {
    foldable = true;
    for (int i : n.inputs) foldable &= g.tensors[i].kind == TensorKind::Constant;
  }
  if (foldable) {
    detail::check_fold_budget(g, n, shape, dt, what);
    Value v = folded_value(g, n, shape, dt);
    Tensor& o = g.tensors[n.outputs[0]];
    o.kind = TensorKind::Constant;
    o.producer = -1;
    o.data = std::move(v.f);
    o.idata = std::move(v.i);
    return true;
  }
  check_run_time_types(g, n, dt, what);
  if (n.op == "Cast" && g.tensors[n.inputs[0]].dtype == dt) {
    n.op = "Identity";
    n.iattrs.clear();
  }
  return false;
}

// Dead code: the nodes marked `dead` (folded), then those whose outputs nothing uses; the
// tensors nothing uses go too (graph inputs and outputs stay), the others renumbered.
void remove_dead_code(Graph& g, std::vector<bool>& dead) {
  std::vector<int> uses(g.tensors.size(), 0);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (!dead[ni])
      for (int i : g.nodes[ni].inputs) ++uses[i];
  for (const auto& [state, value] : g.updates) ++uses[value];  // the run's new state is used
  for (size_t ni = g.nodes.size(); ni-- > 0;) {
    if (dead[ni]) continue;
    const int o = g.nodes[ni].outputs[0];
    if (uses[o] == 0 && !g.tensors[o].is_output) {
      dead[ni] = true;
      for (int i : g.nodes[ni].inputs) --uses[i];
    }
  }
  std::vector<int> remap(g.tensors.size(), -1);
  std::vector<Tensor> tensors;
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const Tensor& x = g.tensors[t];
    const bool keep = x.kind == TensorKind::Input || x.is_output || uses[t] > 0;
    if (!keep) continue;
    remap[t] = int(tensors.size());
    tensors.push_back(std::move(g.tensors[t]));
  }
  std::vector<Node> nodes;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (dead[ni]) continue;
    Node n = std::move(g.nodes[ni]);
    n.tattrs.clear();
    for (int& i : n.inputs) i = remap[i];
    for (int& o : n.outputs) {
      o = remap[o];
      tensors[o].producer = int(nodes.size());
    }
    nodes.push_back(std::move(n));
  }
  for (int& i : g.inputs) i = remap[i];
  for (int& o : g.outputs) o = remap[o];
  for (auto& [state, value] : g.updates) {
    state = remap[state];
    value = remap[value];
  }
  g.tensors = std::move(tensors);
  g.nodes = std::move(nodes);
}

}  // namespace

void fold_constants(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) dead[ni] = fold_node(g, ni);
  remove_dead_code(g, dead);
}

}  // namespace openrdu::compiler
