// CPU reference: interpret the IR on the host with the device's fp32 semantics
// (binary32, round to nearest even, subnormals kept, every NaN result the canonical
// NaN 0x7FC00000, max/min propagate NaN, max(-0,+0) = +0, min(-0,+0) = -0).
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "openrdu/compiler/ir.h"
#include "openrdu/gen/isa.h"

namespace openrdu::compiler {

namespace {

float canon(float x) { return std::isnan(x) ? std::bit_cast<float>(gen::kCanonicalNan) : x; }

float fmax_dev(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::bit_cast<float>(gen::kCanonicalNan);
  if (a == 0.0f && b == 0.0f) return std::signbit(a) ? b : a;  // +0 wins
  return a > b ? a : b;
}

float fmin_dev(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::bit_cast<float>(gen::kCanonicalNan);
  if (a == 0.0f && b == 0.0f) return std::signbit(a) ? a : b;  // -0 wins
  return a < b ? a : b;
}

// Element strides of `in` as seen from an index of `out` (0 for broadcast dims).
std::vector<int64_t> bcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t di = in.size() - 1 - k, d = out.size() - 1 - k;
    st[d] = in[di] == 1 ? 0 : s;
    s *= in[di];
  }
  return st;
}

}  // namespace

std::map<std::string, HostTensor> reference_run(const Graph& g, const std::map<std::string, HostTensor>& inputs) {
  std::vector<std::vector<float>> val(g.tensors.size());
  std::vector<bool> have(g.tensors.size(), false);
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].kind == TensorKind::Constant) {
      val[i] = g.tensors[i].data;
      have[i] = true;
    }
  for (int i : g.inputs) {
    const Tensor& t = g.tensors[i];
    auto it = inputs.find(t.name);
    if (it == inputs.end()) throw CompileError(fmt::format("{}: no value given for input '{}'", g.source, t.name));
    if (it->second.shape != t.shape)
      throw CompileError(fmt::format("{}: input '{}' has shape {}, the model expects {}", g.source, t.name,
                                     shape_str(it->second.shape), shape_str(t.shape)));
    if (int64_t(it->second.data.size()) != t.elements())
      throw CompileError(fmt::format("{}: input '{}' holds {} values, its shape needs {}", g.source, t.name,
                                     it->second.data.size(), t.elements()));
    val[i] = it->second.data;
    have[i] = true;
  }
  for (const auto& [name, _] : inputs) {
    const int i = g.find(name);
    if (i < 0 || g.tensors[i].kind != TensorKind::Input)
      throw CompileError(fmt::format("{}: '{}' is not an input of the model", g.source, name));
  }

  for (const Node& n : g.nodes) {
    const Tensor& out = g.tensors[n.outputs[0]];
    const size_t r = out.shape.size();
    const int64_t count = out.elements();
    std::vector<std::vector<int64_t>> st;
    for (int i : n.inputs) {
      if (!have[i])
        throw CompileError(fmt::format("{}: {}: input '{}' has no value", g.source, g.describe(n), g.tensors[i].name));
      st.push_back(bcast_strides(g.tensors[i].shape, out.shape));
    }
    std::vector<float> res(count);
    std::vector<int64_t> idx(r, 0);
    std::vector<float> args(n.inputs.size());
    for (int64_t e = 0; e < count; ++e) {
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        int64_t off = 0;
        for (size_t d = 0; d < r; ++d) off += idx[d] * st[k][d];
        args[k] = val[n.inputs[k]][off];
      }
      float y;
      if (n.op == "Add")
        y = canon(args[0] + args[1]);
      else if (n.op == "Sub")
        y = canon(args[0] - args[1]);
      else if (n.op == "Mul")
        y = canon(args[0] * args[1]);
      else if (n.op == "Max" || n.op == "Min") {
        y = args[0];
        for (size_t k = 1; k < args.size(); ++k) y = n.op == "Max" ? fmax_dev(y, args[k]) : fmin_dev(y, args[k]);
      } else if (n.op == "Relu")
        y = fmax_dev(args[0], 0.0f);
      else if (n.op == "Identity")
        y = args[0];
      else if (n.op == "Abs")
        y = canon(std::fabs(args[0]));
      else if (n.op == "Neg")
        y = canon(-args[0]);
      else if (n.op == "Sum") {
        y = args[0];
        for (size_t k = 1; k < args.size(); ++k) y = canon(y + args[k]);
      } else if (n.op == "Clip") {
        y = args[0];
        size_t next = 1;
        for (const char* key : {"min", "max"}) {
          float bound;
          if (n.has_attr(std::string(key) + "_input"))
            bound = args.at(next++);
          else if (n.has_attr(key))
            bound = n.attr(key);
          else
            continue;
          y = key[1] == 'i' ? fmax_dev(y, bound) : fmin_dev(y, bound);
        }
      } else if (n.op == "LeakyRelu" || n.op == "PRelu") {
        // x < 0 ? x * slope : x, the operand itself (bits unchanged) otherwise.
        const float slope = n.op == "PRelu" ? args[1] : n.attr("alpha");
        y = args[0] < 0.0f ? canon(args[0] * slope) : args[0];
      } else if (n.op == "HardSigmoid") {
        // Two roundings: the product is rounded to binary32 before the sum.
        const volatile float prod = canon(args[0] * n.attr("alpha"));
        y = fmin_dev(fmax_dev(canon(prod + n.attr("beta")), 0.0f), 1.0f);
      } else
        throw CompileError(fmt::format("{}: {}: unsupported operator", g.source, g.describe(n)));
      res[e] = y;
      for (size_t d = r; d-- > 0;) {
        if (++idx[d] < out.shape[d]) break;
        idx[d] = 0;
      }
    }
    val[n.outputs[0]] = std::move(res);
    have[n.outputs[0]] = true;
  }

  std::map<std::string, HostTensor> result;
  for (int o : g.outputs) {
    if (!have[o]) throw CompileError(fmt::format("{}: output '{}' has no value", g.source, g.tensors[o].name));
    result[g.tensors[o].name] = HostTensor{g.tensors[o].shape, val[o]};
  }
  return result;
}

std::map<std::string, HostTensor> reference_run(const std::string& onnx_path,
                                                const std::map<std::string, HostTensor>& inputs) {
  return reference_run(import_onnx_file(onnx_path), inputs);
}

}  // namespace openrdu::compiler
