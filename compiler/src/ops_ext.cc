// Operators of issue 23 on the front end's paths (see ops_ext.h).
#include "ops_ext.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace openrdu::compiler::detail {

namespace {

std::vector<int64_t> param_ints(const Graph& g, int t, const char* role, const std::string& what) {
  const Tensor& x = const_param(g, t, role, what);
  if (x.dtype != DType::I64)
    throw CompileError(fmt::format("{}: input '{}' ({}) is {}, expected int64", what, x.name, role,
                                   dtype_name(x.dtype)));
  return x.idata;
}

// One number of a scalar constant parameter (int64 or fp32).
double param_scalar(const Graph& g, int t, const char* role, const std::string& what) {
  const Tensor& x = const_param(g, t, role, what);
  if (x.elements() != 1)
    throw CompileError(fmt::format("{}: input '{}' ({}) has shape {}, a single value is required", what, x.name, role,
                                   shape_str(x.shape)));
  return x.dtype == DType::I64 ? double(x.idata.at(0)) : double(x.data.at(0));
}

int64_t range_count(const Node& n) {
  const bool ints = n.has_iattr("start");
  const double s = ints ? double(n.iattr("start")) : n.attr("start");
  const double l = ints ? double(n.iattr("limit")) : n.attr("limit");
  const double d = ints ? double(n.iattr("delta")) : n.attr("delta");
  return std::max<int64_t>(0, int64_t(std::ceil((l - s) / d)));
}

void canonicalize_range(Graph& g, Node& n, const std::vector<int>& params, const std::string& what) {
  const char* names[] = {"start", "limit", "delta"};
  bool ints = true;
  for (size_t k = 0; k < 3; ++k) ints &= const_param(g, k < params.size() ? params[k] : -1, names[k], what).dtype ==
                                         DType::I64;
  for (size_t k = 0; k < 3; ++k) {
    const double v = param_scalar(g, params[k], names[k], what);
    if (ints)
      n.iattrs[names[k]] = {int64_t(v)};
    else
      n.attrs[names[k]] = float(v);
  }
  if ((ints ? double(n.iattr("delta")) : n.attr("delta")) == 0.0)
    throw CompileError(fmt::format("{}: delta is 0", what));
  const int64_t count = range_count(n);
  if (count < 1 || count > (int64_t(1) << 26))
    throw CompileError(fmt::format("{}: {} elements (1 to 2^26 supported)", what, count));
}

void canonicalize_onehot(Graph& g, Node& n, const std::vector<int>& params, const std::string& what) {
  const double depth = param_scalar(g, params.size() > 0 ? params[0] : -1, "depth", what);
  if (!(depth >= 1) || depth > double(int64_t(1) << 24))
    throw CompileError(fmt::format("{}: depth {} is not in [1, 2^24]", what, depth));
  const Tensor& v = const_param(g, params.size() > 1 ? params[1] : -1, "values", what);
  if (v.elements() != 2)
    throw CompileError(fmt::format("{}: values '{}' has shape {}, expected [off, on]", what, v.name,
                                   shape_str(v.shape)));
  if (v.dtype == DType::I64) {
    for (int64_t e : v.idata)
      if (std::llabs(e) > (int64_t(1) << 24))
        throw CompileError(fmt::format("{}: value {} is beyond 2^24 (the device computes it in fp32)", what, e));
    n.iattrs["values"] = v.idata;
  } else if (v.dtype == DType::F32) {
    n.attrs["off"] = v.data[0];
    n.attrs["on"] = v.data[1];
  } else {
    throw CompileError(fmt::format("{}: values '{}' is bool (fp32 or int64 only)", what, v.name));
  }
  n.iattrs["depth"] = {int64_t(depth)};
  const int64_t r = int64_t(g.tensors.at(size_t(n.inputs.at(0))).shape.size());
  n.iattrs["axis"] = {norm_axis(n.iattr("axis"), r + 1, what, "axis")};
}

void canonicalize_topk(Graph& g, Node& n, const std::vector<int>& params, const std::string& what) {
  const std::vector<int64_t> k = param_ints(g, params.empty() ? -1 : params[0], "K", what);
  const std::vector<int64_t>& x = g.tensors.at(size_t(n.inputs.at(0))).shape;
  const int64_t axis = norm_axis(n.iattr("axis"), int64_t(x.size()), what, "axis");
  if (k.size() != 1 || k[0] < 1 || k[0] > x[size_t(axis)])
    throw CompileError(fmt::format("{}: K [{}] must be one value in [1, {}] (axis {})", what, fmt::join(k, ","),
                                   x[size_t(axis)], axis));
  if (k[0] > kTopKMax)
    throw CompileError(fmt::format("{}: K = {}; TopK supports K <= {} (k rounds on the device)", what, k[0],
                                   kTopKMax));
  n.iattrs["k"] = k;
  n.iattrs["axis"] = {axis};
}

}  // namespace

bool is_composite_reduce(const std::string& op) {
  return op == "ReduceL1" || op == "ReduceL2" || op == "ReduceSumSquare" || op == "ReduceLogSum" ||
         op == "ReduceLogSumExp";
}

bool is_ext_decomposed(const std::string& op) {
  return op == "ArgMax" || op == "ArgMin" || op == "Expand" || op == "Tile" || op == "OneHot" || op == "TopK" ||
         is_composite_reduce(op);
}

bool is_ext_op(const std::string& op) {
  return is_ext_decomposed(op) || op == "Range" || op == "IsNaN" || op == "IsInf" || op == "Sign" ||
         op == "Floor" || op == "Ceil" || op == "Round" || op == "Mod" || op == "ReduceProd";
}

void ext_attr_defaults(Node& n) {
  auto i = [&](const char* k, int64_t v) {
    if (!n.has_iattr(k)) n.iattrs[k] = {v};
  };
  if (n.op == "ArgMax" || n.op == "ArgMin") {
    i("axis", 0);
    i("keepdims", 1);
    i("select_last_index", 0);
  }
  if (n.op == "IsInf") {
    i("detect_positive", 1);
    i("detect_negative", 1);
  }
  if (n.op == "Mod") i("fmod", 0);
  if (n.op == "OneHot") i("axis", -1);
  if (n.op == "TopK") {
    i("output", 0);
    i("axis", -1);
    i("largest", 1);
    i("sorted", 1);
  }
}

bool canonicalize_ext(Graph& g, Node& n, const std::vector<int>& params, const std::string& what) {
  const std::string& op = n.op;
  if (op == "Range") {
    canonicalize_range(g, n, params, what);
    return true;
  }
  if (!is_ext_op(op) || is_composite_reduce(op) || op == "ReduceProd") return false;
  const std::vector<int64_t>& x = g.tensors.at(size_t(n.inputs.at(0))).shape;
  const int64_t r = int64_t(x.size());
  if (op == "ArgMax" || op == "ArgMin") {
    n.iattrs["axis"] = {norm_axis(n.iattr("axis"), r, what, "axis")};
  } else if (op == "Mod") {
    if (g.tensors.at(size_t(n.inputs.at(0))).dtype == DType::F32 && n.iattr("fmod") != 1)
      throw CompileError(fmt::format("{}: fmod = 0 on fp32 operands (ONNX requires fmod = 1 for floats)", what));
  } else if (op == "Expand") {
    n.iattrs["shape"] = param_ints(g, params.empty() ? -1 : params[0], "shape", what);
  } else if (op == "Tile") {
    const std::vector<int64_t> rep = param_ints(g, params.empty() ? -1 : params[0], "repeats", what);
    if (int64_t(rep.size()) != r)
      throw CompileError(fmt::format("{}: repeats [{}] must hold one value per dimension of {}", what,
                                     fmt::join(rep, ","), shape_str(x)));
    for (int64_t v : rep)
      if (v < 1) throw CompileError(fmt::format("{}: repeats [{}]: values must be >= 1", what, fmt::join(rep, ",")));
    n.iattrs["repeats"] = rep;
  } else if (op == "OneHot") {
    canonicalize_onehot(g, n, params, what);
  } else if (op == "TopK") {
    canonicalize_topk(g, n, params, what);
  }
  return true;
}

bool ext_output_shape(const Graph& g, const Node& n, const std::string& what, std::vector<int64_t>& out) {
  const std::string& op = n.op;
  const bool norm_stat = (op == "LayerNormalization" || op == "BatchNormalization") && n.has_iattr("output");
  if (!is_ext_op(op) && !norm_stat) return false;
  if (op == "Range") {
    out = {range_count(n)};
    return true;
  }
  const std::vector<int64_t>& x = g.tensors.at(size_t(n.inputs.at(0))).shape;
  out = x;
  if (op == "ArgMax" || op == "ArgMin" || op == "TopK") {
    const size_t a = size_t(n.iattr("axis"));
    if (op == "TopK")
      out[a] = n.iattr("k");
    else if (n.iattr("keepdims") != 0)
      out[a] = 1;
    else
      out.erase(out.begin() + int64_t(a));
  } else if (op.rfind("Reduce", 0) == 0) {
    const auto& axes = n.ints("axes");
    out.clear();
    for (size_t d = 0; d < x.size(); ++d)
      if (std::find(axes.begin(), axes.end(), int64_t(d)) == axes.end())
        out.push_back(x[d]);
      else if (n.iattr("keepdims") != 0)
        out.push_back(1);
  } else if (op == "LayerNormalization") {
    for (size_t d = size_t(n.iattr("axis")); d < out.size(); ++d) out[d] = 1;
  } else if (op == "BatchNormalization") {
    out = {x.at(1)};  // a statistic per channel
  } else if (op == "Expand") {
    out = broadcast_shapes(x, n.ints("shape"), what);
  } else if (op == "Tile") {
    for (size_t d = 0; d < out.size(); ++d) out[d] *= n.ints("repeats")[d];
  } else if (op == "OneHot") {
    out.insert(out.begin() + n.iattr("axis"), n.iattr("depth"));
  } else if (op == "Mod") {
    out = broadcast_shapes(x, g.tensors.at(size_t(n.inputs.at(1))).shape, what);
  }
  return true;
}

bool ext_output_dtype(const Graph& g, const Node& n, const std::string& what, DType& out) {
  const std::string& op = n.op;
  if (!is_ext_op(op)) return false;
  auto in_dt = [&](size_t k) { return g.tensors.at(size_t(n.inputs.at(k))).dtype; };
  auto expect = [&](size_t k, DType want) {
    if (in_dt(k) != want)
      throw CompileError(fmt::format("{}: input '{}' is {}, expected {}", what, g.tensors[n.inputs[k]].name,
                                     dtype_name(in_dt(k)), dtype_name(want)));
  };
  if (op == "Range") {
    out = n.has_iattr("start") ? DType::I64 : DType::F32;
  } else if (op == "Expand" || op == "Tile") {
    out = in_dt(0);
  } else if (op == "OneHot") {
    if (in_dt(0) == DType::BOOL) expect(0, DType::F32);
    out = n.has_iattr("values") ? DType::I64 : DType::F32;
  } else if (op == "Sign" || op == "Mod" || op == "ArgMax" || op == "ArgMin" || op == "TopK") {
    if (in_dt(0) == DType::BOOL) expect(0, DType::F32);
    if (op == "Mod") expect(1, in_dt(0));
    out = op == "ArgMax" || op == "ArgMin" || (op == "TopK" && n.iattr("output") == 1) ? DType::I64 : in_dt(0);
  } else if (op == "ReduceProd" && in_dt(0) == DType::I64) {  // shape arithmetic (torch's var): folds
    out = DType::I64;
  } else {  // IsNaN, IsInf, Floor, Ceil, Round, the reductions: fp32 operands
    expect(0, DType::F32);
    out = op == "IsNaN" || op == "IsInf" ? DType::BOOL : DType::F32;
  }
  return true;
}

bool makes_run_time_int(const Node& n) {
  return n.op == "ArgMax" || n.op == "ArgMin" || n.op == "TopK" || n.op == "OneHot" || n.op == "Cast";
}

}  // namespace openrdu::compiler::detail
