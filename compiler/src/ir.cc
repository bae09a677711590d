// Graph IR helpers, shape inference and the verifier.
#include "openrdu/compiler/ir.h"

#include "fold.h"
#include "ops_ext.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
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

int64_t Node::iattr(const std::string& key) const {
  const std::vector<int64_t>& v = ints(key);
  if (v.size() != 1)
    throw CompileError(
        fmt::format("node '{}' ({}): attribute '{}' holds {} values, expected one", name, op, key, v.size()));
  return v[0];
}

const std::vector<int64_t>& Node::ints(const std::string& key) const {
  auto it = iattrs.find(key);
  if (it == iattrs.end()) throw CompileError(fmt::format("node '{}' ({}): attribute '{}' is not set", name, op, key));
  return it->second;
}

const char* dtype_name(DType t) { return t == DType::F32 ? "fp32" : t == DType::I64 ? "int64" : "bool"; }

std::string Graph::describe(const Node& n) const { return fmt::format("node '{}' ({})", n.name, n.op); }

namespace {
constexpr int kNoParam = 99;
constexpr int kMany = 64;
// name, ONNX min/max inputs, first parameter input, lowered, folded only.
const std::vector<OpInfo> kOps = {
    {"Add", 2, 2, kNoParam, true, false},
    {"Sub", 2, 2, kNoParam, true, false},
    {"Mul", 2, 2, kNoParam, true, false},
    {"Div", 2, 2, kNoParam, true, false},
    {"Max", 1, 3, kNoParam, true, false},
    {"Min", 1, 3, kNoParam, true, false},
    {"Relu", 1, 1, kNoParam, true, false},
    {"Identity", 1, 1, kNoParam, true, false},
    {"Abs", 1, 1, kNoParam, true, false},
    {"Neg", 1, 1, kNoParam, true, false},
    {"Sum", 1, 8, kNoParam, true, false},
    {"Clip", 1, 3, kNoParam, true, false},
    {"LeakyRelu", 1, 1, kNoParam, true, false},
    {"PRelu", 2, 2, kNoParam, true, false},
    {"HardSigmoid", 1, 1, kNoParam, true, false},
    {"Exp", 1, 1, kNoParam, true, false},
    {"Log", 1, 1, kNoParam, true, false},
    {"Sqrt", 1, 1, kNoParam, true, false},
    {"Reciprocal", 1, 1, kNoParam, true, false},
    {"Sigmoid", 1, 1, kNoParam, true, false},
    {"Tanh", 1, 1, kNoParam, true, false},
    {"Erf", 1, 1, kNoParam, true, false},
    {"Pow", 2, 2, kNoParam, true, false},
    {"Elu", 1, 1, kNoParam, true, false},
    {"Selu", 1, 1, kNoParam, true, false},
    {"Softplus", 1, 1, kNoParam, true, false},
    {"Softsign", 1, 1, kNoParam, true, false},
    {"Mean", 1, kMany, kNoParam, true, false},
    {"MatMul", 2, 2, kNoParam, true, false},
    {"Gemm", 2, 3, kNoParam, true, false},
    {"Transpose", 1, 1, kNoParam, true, false},
    {"Reshape", 2, 2, 1, true, false},
    {"Flatten", 1, 1, kNoParam, true, false},
    {"Squeeze", 1, 2, 1, true, false},
    {"Unsqueeze", 1, 2, 1, true, false},
    {"Softmax", 1, 1, kNoParam, true, false},
    {"LogSoftmax", 1, 1, kNoParam, true, false},
    {"Concat", 1, kMany, kNoParam, true, false},
    {"Gather", 2, 2, 1, true, false},
    {"ReduceSum", 1, 2, 1, true, false},
    {"ReduceMean", 1, 2, 1, true, false},
    {"ReduceMax", 1, 2, 1, true, false},
    {"ReduceMin", 1, 2, 1, true, false},
    {"Slice", 1, 5, 1, true, false},
    // Split: one Slice per output (the importer's split_outputs, fold.cc's canonical form).
    {"Split", 1, 2, 1, true, false},
    // CNN operators: lowered as compositions of the others (decompose.h).
    {"Conv", 2, 3, kNoParam, true, false},
    {"MaxPool", 1, 1, kNoParam, true, false},
    {"AveragePool", 1, 1, kNoParam, true, false},
    {"GlobalAveragePool", 1, 1, kNoParam, true, false},
    {"GlobalMaxPool", 1, 1, kNoParam, true, false},
    {"ConvTranspose", 2, 3, kNoParam, true, false},
    // Trilu (decompose.h): k is a parameter (a constant).
    {"Trilu", 1, 2, 1, true, false},
    {"LpPool", 1, 1, kNoParam, true, false},
    {"BatchNormalization", 5, 5, kNoParam, true, false},
    {"LayerNormalization", 2, 3, kNoParam, true, false},
    {"Shape", 1, 1, kNoParam, false, true},
    {"ConstantOfShape", 1, 1, 0, false, true},
    {"Constant", 0, 0, kNoParam, false, true},
    // Comparisons and logic (bool results: 1.0f/0 words on the device), Where, Cast.
    {"Equal", 2, 2, kNoParam, true, false},
    {"Greater", 2, 2, kNoParam, true, false},
    {"Less", 2, 2, kNoParam, true, false},
    {"GreaterOrEqual", 2, 2, kNoParam, true, false},
    {"LessOrEqual", 2, 2, kNoParam, true, false},
    {"Not", 1, 1, kNoParam, true, false},
    {"And", 2, 2, kNoParam, true, false},
    {"Or", 2, 2, kNoParam, true, false},
    {"Xor", 2, 2, kNoParam, true, false},
    {"Where", 3, 3, kNoParam, true, false},
    {"Cast", 1, 1, kNoParam, true, false},
    // Pad (constant mode; decompose.h): pads, constant_value (and axes) are parameters.
    {"Pad", 1, 4, 1, true, false},
    // Dropout: inference (or ratio 0) becomes Identity; training mode DropoutTrain(x,
    // element index, step) (lower_math.cc), its mask from a hash of the index and step.
    {"Dropout", 1, 3, 1, true, false},
    {"DropoutTrain", 3, 3, kNoParam, true, false},
    // Losses (decompose.h): scores [N, C, d...] and integer labels [N, d...].
    {"SoftmaxCrossEntropyLoss", 2, 3, kNoParam, true, false},
    {"NegativeLogLikelihoodLoss", 2, 3, kNoParam, true, false},
    // Issue 23 (ops_ext.h): elementwise math programs (lower_math.h), a product reduction,
    // decompositions (decompose_ops.cc) and Range (folded: its shape depends on its values).
    {"IsNaN", 1, 1, kNoParam, true, false},
    {"IsInf", 1, 1, kNoParam, true, false},
    {"Sign", 1, 1, kNoParam, true, false},
    {"Floor", 1, 1, kNoParam, true, false},
    {"Ceil", 1, 1, kNoParam, true, false},
    {"Round", 1, 1, kNoParam, true, false},
    {"Mod", 2, 2, kNoParam, true, false},
    {"ArgMax", 1, 1, kNoParam, true, false},
    {"ArgMin", 1, 1, kNoParam, true, false},
    {"Expand", 2, 2, 1, true, false},
    {"Tile", 2, 2, 1, true, false},
    {"Range", 3, 3, 0, false, true},
    {"OneHot", 3, 3, 1, true, false},
    {"TopK", 2, 2, 1, true, false},
    {"ReduceProd", 1, 2, 1, true, false},
    {"ReduceL1", 1, 2, 1, true, false},
    {"ReduceL2", 1, 2, 1, true, false},
    {"ReduceSumSquare", 1, 2, 1, true, false},
    {"ReduceLogSum", 1, 2, 1, true, false},
    {"ReduceLogSumExp", 1, 2, 1, true, false},
};
}  // namespace

const std::vector<OpInfo>& all_ops() { return kOps; }

bool is_elementwise(const std::string& op) {
  static const std::set<std::string> kElementwise = {
      "Add", "Sub", "Mul", "Div", "Max", "Min", "Relu", "Identity", "Abs", "Neg", "Sum", "Clip", "LeakyRelu", "PRelu",
      "HardSigmoid", "Exp", "Log", "Sqrt", "Reciprocal", "Sigmoid", "Tanh", "Erf", "Pow", "Elu", "Selu", "Softplus",
      "Softsign", "Mean", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Xor",
      "Where", "Cast", "DropoutTrain", "IsNaN", "IsInf", "Sign", "Floor", "Ceil", "Round", "Mod"};
  return kElementwise.count(op) != 0;
}

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

std::vector<int64_t> matmul_shape(const std::vector<int64_t>& a0, const std::vector<int64_t>& b0,
                                  const std::string& what) {
  if (a0.empty() || b0.empty()) throw CompileError(fmt::format("{}: MatMul of a scalar (rank 0)", what));
  std::vector<int64_t> a = a0, b = b0;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t k = a.back();
  if (b[b.size() - 2] != k)
    throw CompileError(fmt::format("{}: MatMul of {} and {}: inner dimensions {} and {} differ", what, shape_str(a0),
                                   shape_str(b0), k, b[b.size() - 2]));
  std::vector<int64_t> out = broadcast_shapes(std::vector<int64_t>(a.begin(), a.end() - 2),
                                              std::vector<int64_t>(b.begin(), b.end() - 2), what);
  if (a0.size() > 1) out.push_back(a[a.size() - 2]);
  if (b0.size() > 1) out.push_back(b.back());
  return out;
}

namespace {

const std::vector<int64_t>& known_shape(const Graph& g, const Node& n, size_t k, const std::string& what) {
  if (k >= n.inputs.size()) throw CompileError(fmt::format("{}: input {} is missing", what, k));
  const Tensor& t = g.tensors.at(n.inputs[k]);
  if (!t.shape_known) throw CompileError(fmt::format("{}: input '{}' has no known shape", what, t.name));
  return t.shape;
}

// Conv, MaxPool, AveragePool, LpPool (canonical, fold.cc): kernel_shape, strides,
// dilations, pads [begin..., end...], ceil_mode (pools), group (Conv); 1 to 3 spatial axes.
std::vector<int64_t> window_output_shape(const Graph& g, const Node& n, const std::string& what) {
  const auto& x = known_shape(g, n, 0, what);
  if (x.size() < 3 || x.size() > 5)
    throw CompileError(fmt::format("{}: input {} has rank {}; {} takes rank 3 to 5 (N C spatial...)", what,
                                   shape_str(x), x.size(), n.op));
  const size_t nd = x.size() - 2;
  const auto &k = n.ints("kernel_shape"), &s = n.ints("strides"), &d = n.ints("dilations"), &p = n.ints("pads");
  if (k.size() != nd || s.size() != nd || d.size() != nd || p.size() != 2 * nd)
    throw CompileError(fmt::format("{}: kernel_shape, strides, dilations or pads do not fit {} spatial axes", what, nd));
  const bool ceil = n.has_iattr("ceil_mode") && n.iattr("ceil_mode") != 0;
  std::vector<int64_t> out = {x[0], x[1]};
  if (n.op == "Conv") {
    const auto& w = known_shape(g, n, 1, what);
    const int64_t grp = n.iattr("group");
    if (w.size() != x.size() || grp < 1 || x[1] % grp != 0 || w[0] % grp != 0 || w[1] * grp != x[1])
      throw CompileError(fmt::format("{}: weights {} do not fit input {} with group {} (W must be [M, C/group, k...])",
                                     what, shape_str(w), shape_str(x), grp));
    out[1] = w[0];
    if (n.inputs.size() > 2 && known_shape(g, n, 2, what) != std::vector<int64_t>{w[0]})
      throw CompileError(fmt::format("{}: bias {} must have shape [{}]", what, shape_str(known_shape(g, n, 2, what)),
                                     w[0]));
  }
  for (size_t a = 0; a < nd; ++a) {
    const int64_t span = (k.at(a) - 1) * d.at(a) + 1, total = x[2 + a] + p.at(a) + p.at(nd + a) - span;
    if (total < 0)
      throw CompileError(fmt::format("{}: the kernel {} (dilated {}) is larger than the padded input {} on axis {}",
                                     what, k.at(a), span, x[2 + a] + p.at(a) + p.at(nd + a), 2 + a));
    int64_t o = (ceil ? (total + s.at(a) - 1) / s.at(a) : total / s.at(a)) + 1;
    // ceil_mode: the last window must start inside the input or its begin padding.
    if (ceil && (o - 1) * s.at(a) >= x[2 + a] + p.at(a)) --o;
    out.push_back(o);
  }
  return out;
}

// ConvTranspose (canonical, fold.cc): W [C, M/group, k...]; per spatial axis
// s*(in-1) + (k-1)*d + 1 - pad_begin - pad_end (the end pad may be negative).
std::vector<int64_t> conv_transpose_output_shape(const Graph& g, const Node& n, const std::string& what) {
  const auto &x = known_shape(g, n, 0, what), &w = known_shape(g, n, 1, what);
  const int64_t grp = n.iattr("group");
  if (x.size() < 3 || w.size() != x.size() || grp < 1 || x[1] != w[0] || w[0] % grp != 0)
    throw CompileError(fmt::format("{}: weights {} do not fit input {} with group {} (W must be [C, M/group, k...])",
                                   what, shape_str(w), shape_str(x), grp));
  const size_t nd = x.size() - 2;
  const auto &k = n.ints("kernel_shape"), &s = n.ints("strides"), &d = n.ints("dilations"), &p = n.ints("pads");
  std::vector<int64_t> out = {x[0], w[1] * grp};
  if (n.inputs.size() > 2 && known_shape(g, n, 2, what) != std::vector<int64_t>{out[1]})
    throw CompileError(fmt::format("{}: bias {} must have shape [{}]", what, shape_str(known_shape(g, n, 2, what)),
                                   out[1]));
  for (size_t a = 0; a < nd; ++a) {
    const int64_t o = s.at(a) * (x[2 + a] - 1) + (k.at(a) - 1) * d.at(a) + 1 - p.at(a) - p.at(nd + a);
    if (o < 1) throw CompileError(fmt::format("{}: the output would have size {} on axis {}", what, o, 2 + a));
    out.push_back(o);
  }
  return out;
}

}  // namespace

namespace {

// A node whose output shape is inferred: its inputs' shapes (in(k)) and the message prefix.
struct ShapeIn {
  const Graph& g;
  const Node& n;
  std::string what;
  const std::vector<int64_t>& operator()(size_t k) const {
    if (k >= n.inputs.size()) throw CompileError(fmt::format("{}: input {} is missing", what, k));
    const Tensor& t = g.tensors.at(n.inputs[k]);
    if (!t.shape_known) throw CompileError(fmt::format("{}: input '{}' has no known shape", what, t.name));
    return t.shape;
  }
};

std::vector<int64_t> shape_matmul(const ShapeIn& in) {
  return matmul_shape(in(0), in(1), in.what);
}

std::vector<int64_t> shape_gemm(const ShapeIn& in) {
  const auto &a = in(0), &b = in(1);
  if (a.size() != 2 || b.size() != 2)
    throw CompileError(fmt::format("{}: A {} and B {} must be matrices (rank 2)", in.what, shape_str(a), shape_str(b)));
  const bool ta = in.n.iattr("transA") != 0, tb = in.n.iattr("transB") != 0;
  const int64_t m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1], kb = tb ? b[1] : b[0], nn = tb ? b[0] : b[1];
  if (ka != kb)
    throw CompileError(fmt::format("{}: op(A) is [{},{}] and op(B) is [{},{}]: inner dimensions differ", in.what, m,
                                   ka, kb, nn));
  std::vector<int64_t> out = {m, nn};
  if (in.n.inputs.size() > 2 && broadcast_shapes(out, in(2), in.what) != out)
    throw CompileError(fmt::format("{}: C {} does not broadcast to [{},{}]", in.what, shape_str(in(2)), m, nn));
  return out;
}

std::vector<int64_t> shape_transpose(const ShapeIn& in) {
  const auto& x = in(0);
  const auto& perm = in.n.ints("perm");
  std::vector<int64_t> out;
  for (int64_t p : perm) out.push_back(x.at(size_t(p)));
  return out;
}

std::vector<int64_t> shape_reshape(const ShapeIn& in) {
  const auto& s = in.n.ints("shape");
  int64_t e = 1, ie = 1;
  for (int64_t d : s) e *= d;
  for (int64_t d : in(0)) ie *= d;
  if (e != ie)
    throw CompileError(fmt::format("{}: cannot reshape {} ({} elements) to {}", in.what, shape_str(in(0)), ie,
                                   shape_str(s)));
  return s;
}

std::vector<int64_t> shape_flatten(const ShapeIn& in) {
  const auto& x = in(0);
  const int64_t axis = in.n.iattr("axis");
  int64_t a = 1, b = 1;
  for (size_t d = 0; d < x.size(); ++d) (int64_t(d) < axis ? a : b) *= x[d];
  return {a, b};
}

std::vector<int64_t> shape_squeeze(const ShapeIn& in) {
  const auto& x = in(0);
  const auto& axes = in.n.ints("axes");
  std::vector<int64_t> out;
  for (size_t d = 0; d < x.size(); ++d) {
    if (std::find(axes.begin(), axes.end(), int64_t(d)) == axes.end())
      out.push_back(x[d]);
    else if (x[d] != 1)
      throw CompileError(fmt::format("{}: cannot squeeze axis {} of {} (size {})", in.what, d, shape_str(x), x[d]));
  }
  return out;
}

std::vector<int64_t> shape_unsqueeze(const ShapeIn& in) {
  const auto& x = in(0);
  const auto& axes = in.n.ints("axes");
  std::vector<int64_t> out;
  size_t k = 0;
  for (size_t d = 0; d < x.size() + axes.size(); ++d)
    out.push_back(std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end() ? 1 : x.at(k++));
  return out;
}

std::vector<int64_t> shape_softmax(const ShapeIn& in) {
  return in(0);
}

std::vector<int64_t> shape_concat(const ShapeIn& in) {
  const int64_t axis = in.n.iattr("axis");
  std::vector<int64_t> out = in(0);
  for (size_t k = 1; k < in.n.inputs.size(); ++k) {
    const auto& s = in(k);
    if (s.size() != out.size())
      throw CompileError(fmt::format("{}: inputs {} and {} differ in rank", in.what, shape_str(out), shape_str(s)));
    for (size_t d = 0; d < s.size(); ++d)
      if (int64_t(d) != axis && s[d] != out[d])
        throw CompileError(fmt::format("{}: input '{}' has shape {}, dimension {} differs from {}", in.what,
                                       in.g.tensors[in.n.inputs[k]].name, shape_str(s), d, shape_str(in(0))));
    out[axis] += s[axis];
  }
  return out;
}

std::vector<int64_t> shape_gather(const ShapeIn& in) {
  const auto& x = in(0);
  const int64_t axis = in.n.iattr("axis");
  std::vector<int64_t> out(x.begin(), x.begin() + axis);
  for (int64_t d : in.n.ints("indices_shape")) out.push_back(d);
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  return out;
}

std::vector<int64_t> shape_reduce(const ShapeIn& in) {
  const auto& x = in(0);
  const auto& axes = in.n.ints("axes");
  const bool keep = in.n.iattr("keepdims") != 0;
  std::vector<int64_t> out;
  for (size_t d = 0; d < x.size(); ++d) {
    if (std::find(axes.begin(), axes.end(), int64_t(d)) == axes.end())
      out.push_back(x[d]);
    else if (keep)
      out.push_back(1);
  }
  return out;
}

std::vector<int64_t> shape_slice(const ShapeIn& in) {
  const auto& x = in(0);
  const auto &st = in.n.ints("starts"), &en = in.n.ints("ends"), &sp = in.n.ints("steps");
  if (st.size() != x.size() || en.size() != x.size() || sp.size() != x.size())
    throw CompileError(fmt::format("{}: starts/ends/steps must have one value per dimension of {}", in.what,
                                   shape_str(x)));
  std::vector<int64_t> out;
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t c = sp[d] > 0 ? (en[d] - st[d] + sp[d] - 1) / sp[d] : (st[d] - en[d] - sp[d] - 1) / -sp[d];
    out.push_back(std::max<int64_t>(0, c));
  }
  return out;
}

std::vector<int64_t> shape_window(const ShapeIn& in) {
  return window_output_shape(in.g, in.n, in.what);
}

std::vector<int64_t> shape_conv_transpose(const ShapeIn& in) {
  return conv_transpose_output_shape(in.g, in.n, in.what);
}

std::vector<int64_t> shape_trilu(const ShapeIn& in) {
  if (in(0).size() < 2) throw CompileError(fmt::format("{}: input {} needs rank >= 2", in.what, shape_str(in(0))));
  return in(0);
}

std::vector<int64_t> shape_global_pool(const ShapeIn& in) {
  const auto& x = in(0);
  if (x.size() < 3)
    throw CompileError(fmt::format("{}: input {} needs rank >= 3 (N C spatial...)", in.what, shape_str(x)));
  std::vector<int64_t> out(x.begin(), x.begin() + 2);
  out.resize(x.size(), 1);
  return out;
}

std::vector<int64_t> shape_batchnorm(const ShapeIn& in) {
  const auto& x = in(0);
  if (x.size() < 2) throw CompileError(fmt::format("{}: input {} needs rank >= 2 (N C ...)", in.what, shape_str(x)));
  for (size_t k = 1; k < 5; ++k)
    if (in(k) != std::vector<int64_t>{x[1]})
      throw CompileError(fmt::format("{}: input '{}' has shape {}, expected [{}] (one value per channel)", in.what,
                                     in.g.tensors[in.n.inputs[k]].name, shape_str(in(k)), x[1]));
  return x;
}

std::vector<int64_t> shape_layernorm(const ShapeIn& in) {
  const auto& x = in(0);
  const int64_t axis = in.n.iattr("axis");
  const std::vector<int64_t> norm(x.begin() + axis, x.end());
  for (size_t k = 1; k < in.n.inputs.size(); ++k)
    if (broadcast_shapes(norm, in(k), in.what) != norm)
      throw CompileError(fmt::format("{}: input '{}' {} does not broadcast to the normalized shape {}", in.what,
                                     in.g.tensors[in.n.inputs[k]].name, shape_str(in(k)), shape_str(norm)));
  return x;
}

// Canonical pads [b0, b1, ..., e0, e1, ...]: begin and end per axis.
std::vector<int64_t> shape_pad(const ShapeIn& in) {
  std::vector<int64_t> out = in(0);
  const auto& p = in.n.ints("pads");
  for (size_t d = 0; d < out.size(); ++d) out[d] += p.at(d) + p.at(d + out.size());
  return out;
}

std::vector<int64_t> shape_loss(const ShapeIn& in) {
  in(1);  // the labels' shape is checked by the decomposition
  if (in.n.iattr("reduction") == detail::kReductionNone) return in(1);
  return {};
}

// The output shape rule of each operator that is not elementwise.
const std::map<std::string, std::vector<int64_t> (*)(const ShapeIn&)>& shape_rules() {
  static const std::map<std::string, std::vector<int64_t> (*)(const ShapeIn&)> rules = {
      {"MatMul", shape_matmul},
      {"Gemm", shape_gemm},
      {"Transpose", shape_transpose},
      {"Reshape", shape_reshape},
      {"Flatten", shape_flatten},
      {"Squeeze", shape_squeeze},
      {"Unsqueeze", shape_unsqueeze},
      {"Softmax", shape_softmax},
      {"LogSoftmax", shape_softmax},
      {"Concat", shape_concat},
      {"Gather", shape_gather},
      {"ReduceSum", shape_reduce},
      {"ReduceMean", shape_reduce},
      {"ReduceMax", shape_reduce},
      {"ReduceMin", shape_reduce},
      {"Slice", shape_slice},
      {"Conv", shape_window},
      {"MaxPool", shape_window},
      {"AveragePool", shape_window},
      {"LpPool", shape_window},
      {"ConvTranspose", shape_conv_transpose},
      {"Trilu", shape_trilu},
      {"GlobalAveragePool", shape_global_pool},
      {"GlobalMaxPool", shape_global_pool},
      {"BatchNormalization", shape_batchnorm},
      {"LayerNormalization", shape_layernorm},
      {"Pad", shape_pad},
      {"SoftmaxCrossEntropyLoss", shape_loss},
      {"NegativeLogLikelihoodLoss", shape_loss},
  };
  return rules;
}

}  // namespace

std::vector<int64_t> node_output_shape(const Graph& g, const Node& n) {
  const ShapeIn in{g, n, fmt::format("{}: {}", g.source, g.describe(n))};
  if (std::vector<int64_t> s; detail::ext_output_shape(g, n, in.what, s)) return s;
  if (const auto it = shape_rules().find(n.op); it != shape_rules().end()) return it->second(in);
  if (!is_elementwise(n.op)) throw CompileError(fmt::format("{}: unsupported operator", in.what));
  // Elementwise: the broadcast of the inputs.
  std::vector<int64_t> shape;
  for (size_t k = 0; k < n.inputs.size(); ++k) shape = k == 0 ? in(k) : broadcast_shapes(shape, in(k), in.what);
  return shape;
}

void infer_shapes(Graph& g) { fold_constants(g); }

void finalize(Graph& g) {
  fold_constants(g);
  verify(g);
}

void apply_weights(Graph& g, const std::map<std::string, HostTensor>& weights) {
  for (const auto& [name, w] : weights) {
    if (pef::is_optimizer_state_name(name)) continue;
    const int i = g.find(name);
    if (i < 0 || g.tensors[size_t(i)].kind != TensorKind::Constant || g.tensors[size_t(i)].dtype != DType::F32)
      throw CompileError(fmt::format("{}: weight '{}' is not an fp32 initializer of the model (weights of another "
                                     "model?)",
                                     g.source, name));
    Tensor& t = g.tensors[size_t(i)];
    if (w.shape != t.shape || w.data.size() != t.data.size())
      throw CompileError(fmt::format("{}: weight '{}' has shape {}, the initializer {}", g.source, name,
                                     shape_str(w.shape), shape_str(t.shape)));
    t.data = w.data;
  }
}

void make_params_state(Graph& g) {
  std::vector<bool> operand(g.tensors.size(), false);
  for (const Node& n : g.nodes) {
    const OpInfo* info = find_op(n.op);
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (n.inputs[k] >= 0 && (!info || int(k) < info->param_from)) operand[size_t(n.inputs[k])] = true;
  }
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    Tensor& x = g.tensors[t];
    if (!operand[t] || x.kind != TensorKind::Constant || x.dtype != DType::F32 || x.is_output) continue;
    x.kind = TensorKind::Input;
    x.state = true;
    g.inputs.push_back(int(t));
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
    const size_t held = t.dtype == DType::I64 && t.kind == TensorKind::Constant ? t.idata.size() : t.data.size();
    if ((t.kind == TensorKind::Constant || t.state) && int64_t(held) != t.elements())
      throw CompileError(fmt::format("{}: constant '{}' holds {} values, its shape {} needs {}", src, t.name, held,
                                     shape_str(t.shape), t.elements()));
    if (t.kind != TensorKind::Value && t.producer >= 0)
      throw CompileError(fmt::format("{}: tensor '{}' is a graph input or constant but node '{}' produces it", src,
                                     t.name, g.nodes.at(t.producer).name));
    if (t.kind == TensorKind::Value && t.producer < 0)
      throw CompileError(fmt::format("{}: tensor '{}' is used but nothing defines it", src, t.name));
  }
  for (int i : g.inputs)
    if (i < 0 || size_t(i) >= g.tensors.size() || g.tensors[i].kind != TensorKind::Input)
      throw CompileError(fmt::format("{}: graph input index {} is not an input tensor", src, i));
  for (const auto& [state, value] : g.updates) {
    if (state < 0 || size_t(state) >= g.tensors.size() || !g.tensors[state].state)
      throw CompileError(fmt::format("{}: an update names tensor index {}, which is not a state input", src, state));
    if (value < 0 || size_t(value) >= g.tensors.size() || g.tensors[value].shape != g.tensors[state].shape ||
        g.tensors[value].dtype != g.tensors[state].dtype)
      throw CompileError(fmt::format("{}: the update of state '{}' is not a tensor of its shape and type", src,
                                     g.tensors[state].name));
  }
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
    if (info->folded_only) throw CompileError(fmt::format("{}: operator was not folded to a constant", what));
    const int lo = std::min(info->min_inputs, info->param_from), hi = std::min(info->max_inputs, info->param_from);
    if (int(n.inputs.size()) < lo || int(n.inputs.size()) > hi)
      throw CompileError(fmt::format("{}: {} inputs, the compiler supports {} to {}", what, n.inputs.size(), lo, hi));
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
    const std::vector<int64_t> shape = node_output_shape(g, n);
    if (g.tensors[n.outputs[0]].shape != shape)
      throw CompileError(fmt::format("{}: output '{}' has shape {}, the {} {}", what, g.tensors[n.outputs[0]].name,
                                     shape_str(g.tensors[n.outputs[0]].shape),
                                     is_elementwise(n.op) ? "inputs broadcast to" : "operator gives",
                                     shape_str(shape)));
  }
}

}  // namespace openrdu::compiler
