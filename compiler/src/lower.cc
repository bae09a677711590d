// Lowering of elementwise operators: PCU stage programs and AGCU affine accesses.
#include "lower.h"
#include "lower_math.h"

#include <fmt/format.h>

#include <bit>
#include <limits>
#include <optional>

namespace openrdu::compiler::detail {

using arch::Opcode;

namespace {
uint32_t fbits(float f) { return std::bit_cast<uint32_t>(f); }
}  // namespace

namespace {

bool is_compare_or_logic(const std::string& op) {
  return op == "Equal" || op == "Greater" || op == "Less" || op == "GreaterOrEqual" || op == "LessOrEqual" ||
         op == "Not" || op == "And" || op == "Or" || op == "Xor";
}

// Comparisons (fp32 operands: FEQ/FLT/FLE give the bool words 1.0f/0), logic on bool
// words (AND/OR/XOR; Not is XOR with 1.0f), Where (SEL), Cast (int32 words to fp32:
// ITOF; bool to fp32: the words as they are; fp32 to bool: not (x == 0)).
template <class Emit>
ValRef append_typed_ops(const Graph& g, const Node& n, const std::vector<ValRef>& in, Emit&& emit) {
  const ValRef one = ValRef::immediate(fbits(1.0f)), none = ValRef::none();
  const std::string& op = n.op;
  if (op == "Equal") return emit(Opcode::FEQ, in.at(0), in.at(1), none);
  if (op == "Greater") return emit(Opcode::FLT, in.at(1), in.at(0), none);
  if (op == "Less") return emit(Opcode::FLT, in.at(0), in.at(1), none);
  if (op == "GreaterOrEqual") return emit(Opcode::FLE, in.at(1), in.at(0), none);
  if (op == "LessOrEqual") return emit(Opcode::FLE, in.at(0), in.at(1), none);
  if (op == "Not") return emit(Opcode::XOR, in.at(0), one, none);
  if (op == "And") return emit(Opcode::AND, in.at(0), in.at(1), none);
  if (op == "Or") return emit(Opcode::OR, in.at(0), in.at(1), none);
  if (op == "Xor") return emit(Opcode::XOR, in.at(0), in.at(1), none);
  if (op == "Where") return emit(Opcode::SEL, in.at(0), in.at(1), in.at(2));
  const DType from = g.tensors.at(n.inputs.at(0)).dtype, to = g.tensors.at(n.outputs.at(0)).dtype;
  if (from == DType::I64 && to == DType::F32) return emit(Opcode::ITOF, in.at(0), none, none);
  if (from == DType::BOOL && to == DType::F32) return emit(Opcode::MOV, in.at(0), ValRef::immediate(0), none);
  // To int64 (device int32 words): truncation toward zero (FTOI; bool 1.0f gives 1).
  if ((from == DType::F32 || from == DType::BOOL) && to == DType::I64) return emit(Opcode::FTOI, in.at(0), none, none);
  if (from == DType::F32 && to == DType::BOOL) {
    const ValRef zero = emit(Opcode::FEQ, in.at(0), ValRef::immediate(fbits(0.0f)), none);
    return emit(Opcode::XOR, zero, one, none);
  }
  throw CompileError(fmt::format("{}: {}: cast from {} to {} is not lowered", g.source, g.describe(n),
                                 dtype_name(from), dtype_name(to)));
}

// Integer operators on int32 words (run-time int32/int64 tensors; docs/compiler.md): Add,
// Sub, Mul, Sum wrap (IADD, ISUB, IMUL); Neg = 0 - x, Abs by ILT + SEL, Max/Min by ILT +
// SEL, left to right; comparisons give the bool words 1.0f/0: Less/Greater ITOF(ILT)
// (ITOF(1) = 1.0f), GreaterOrEqual/LessOrEqual SEL(ILT, +0, 1.0f), Equal SEL(a XOR b, +0,
// 1.0f) (B unset reads ZERO); Cast to bool SEL(x, 1.0f, x). Null when n is none of these.
template <class Emit>
std::optional<ValRef> append_int_ops(const Graph& g, const Node& n, const std::vector<ValRef>& in, Emit&& emit) {
  if (n.inputs.empty() || g.tensors.at(n.inputs[0]).dtype != DType::I64) return std::nullopt;
  const ValRef one = ValRef::immediate(fbits(1.0f)), zero = ValRef::immediate(0), none = ValRef::none();
  const std::string& op = n.op;
  auto lt = [&](ValRef a, ValRef b) { return emit(Opcode::ILT, a, b, none); };
  auto not_lt = [&](ValRef a, ValRef b) { return emit(Opcode::SEL, lt(a, b), none, one); };
  auto fold = [&](auto&& step) {
    ValRef r = in.at(0);
    for (size_t k = 1; k < in.size(); ++k) r = step(r, in[k]);
    return in.size() == 1 ? emit(Opcode::MOV, r, zero, none) : r;
  };
  if (op == "Add" || op == "Sum") return fold([&](ValRef a, ValRef b) { return emit(Opcode::IADD, a, b, none); });
  if (op == "Sub") return emit(Opcode::ISUB, in.at(0), in.at(1), none);
  if (op == "Mul") return emit(Opcode::IMUL, in.at(0), in.at(1), none);
  if (op == "Neg") return emit(Opcode::ISUB, zero, in.at(0), none);
  if (op == "Abs") return emit(Opcode::SEL, lt(in.at(0), zero), emit(Opcode::ISUB, zero, in.at(0), none), in.at(0));
  if (op == "Max") return fold([&](ValRef a, ValRef b) { return emit(Opcode::SEL, lt(a, b), b, a); });
  if (op == "Min") return fold([&](ValRef a, ValRef b) { return emit(Opcode::SEL, lt(a, b), a, b); });
  if (op == "Less") return emit(Opcode::ITOF, lt(in.at(0), in.at(1)), none, none);
  if (op == "Greater") return emit(Opcode::ITOF, lt(in.at(1), in.at(0)), none, none);
  if (op == "GreaterOrEqual") return not_lt(in.at(0), in.at(1));
  if (op == "LessOrEqual") return not_lt(in.at(1), in.at(0));
  if (op == "Equal") return emit(Opcode::SEL, emit(Opcode::XOR, in.at(0), in.at(1), none), none, one);
  if (op == "Cast" && g.tensors.at(n.outputs.at(0)).dtype == DType::BOOL)
    return emit(Opcode::SEL, in.at(0), one, in.at(0));
  return std::nullopt;
}

// Max, Min, Sum of one or more inputs, left to right.
template <class Emit>
ValRef append_variadic(const Node& n, const std::vector<ValRef>& in, Emit&& emit) {
  const Opcode op = n.op == "Max" ? Opcode::FMAX : n.op == "Min" ? Opcode::FMIN : Opcode::FADD;
  if (in.size() == 1) return emit(Opcode::MOV, in[0], ValRef::immediate(0), ValRef::none());
  ValRef r = emit(op, in[0], in[1], ValRef::none());
  for (size_t k = 2; k < in.size(); ++k) r = emit(op, r, in[k], ValRef::none());
  return r;
}

// Clip: min(max(x, lo), hi), as numpy.clip: lo > hi gives hi; a NaN bound or x gives NaN.
// A bound is an immediate, a run-time input ("min_input"/"max_input"), or absent.
template <class Emit>
ValRef append_clip(const Node& n, const std::vector<ValRef>& in, Emit&& emit) {
  ValRef r = in.at(0);
  size_t next = 1;
  bool any = false;
  for (const char* key : {"min", "max"}) {
    const Opcode op = key[1] == 'i' ? Opcode::FMAX : Opcode::FMIN;
    ValRef bound = ValRef::none();
    if (n.has_attr(std::string(key) + "_input"))
      bound = in.at(next++);
    else if (n.has_attr(key))
      bound = ValRef::immediate(fbits(n.attr(key)));
    if (bound.kind == ValRef::None) continue;
    r = emit(op, r, bound, ValRef::none());
    any = true;
  }
  if (!any) r = emit(Opcode::MOV, in[0], ValRef::immediate(0), ValRef::none());
  return r;
}

}  // namespace

int append_node_ops(const Graph& g, const Node& n, const std::vector<ValRef>& in, SectionPlan& plan) {
  const int base = int(plan.ext_inputs.size());
  auto emit = [&](Opcode op, ValRef a, ValRef b, ValRef c = ValRef::none()) {
    plan.ops.push_back({op, a, b, c});
    return ValRef::val(base + int(plan.ops.size()) - 1);
  };
  const ValRef none = ValRef::none();
  // x < 0 ? x * slope : x (LeakyRelu, PRelu): the comparison's 1.0f/+0 selects.
  auto neg_slope = [&](ValRef x, ValRef slope) {
    const ValRef scaled = emit(Opcode::FMUL, x, slope);
    const ValRef neg = emit(Opcode::FLT, x, ValRef::immediate(fbits(0.0f)));
    return emit(Opcode::SEL, neg, scaled, x);
  };
  ValRef r;
  if (const std::optional<ValRef> ir = append_int_ops(g, n, in, emit))
    r = *ir;
  else if (n.op == "Add")
    r = emit(Opcode::FADD, in.at(0), in.at(1));
  else if (n.op == "Sub")
    r = emit(Opcode::FSUB, in.at(0), in.at(1));
  else if (n.op == "Mul")
    r = emit(Opcode::FMUL, in.at(0), in.at(1));
  else if (n.op == "Max" || n.op == "Min" || n.op == "Sum")
    r = append_variadic(n, in, emit);
  else if (n.op == "Relu")
    r = emit(Opcode::FMAX, in.at(0), ValRef::immediate(fbits(0.0f)));
  else if (n.op == "Identity")
    r = emit(Opcode::MOV, in.at(0), ValRef::immediate(0));
  else if (n.op == "Abs")
    r = emit(Opcode::FABS, in.at(0), none);
  else if (n.op == "Neg")
    r = emit(Opcode::FNEG, in.at(0), none);
  else if (n.op == "Clip")
    r = append_clip(n, in, emit);
  else if (n.op == "LeakyRelu")
    r = neg_slope(in.at(0), ValRef::immediate(fbits(n.attr("alpha"))));
  else if (n.op == "PRelu")
    r = neg_slope(in.at(0), in.at(1));
  else if (n.op == "HardSigmoid") {
    // max(0, min(1, alpha*x + beta)) with two roundings (FMUL then FADD), as ONNX's
    // reference; max before min as numpy.clip.
    r = emit(Opcode::FMUL, in.at(0), ValRef::immediate(fbits(n.attr("alpha"))));
    r = emit(Opcode::FADD, r, ValRef::immediate(fbits(n.attr("beta"))));
    r = emit(Opcode::FMAX, r, ValRef::immediate(fbits(0.0f)));
    r = emit(Opcode::FMIN, r, ValRef::immediate(fbits(1.0f)));
  } else if (n.op == "MeanScale") {
    // ReduceMean's sum times the fp32 value of 1/count (legalize()).
    r = emit(Opcode::FMUL, in.at(0), ValRef::immediate(fbits(n.attr("scale"))));
  } else if (n.op == "GemmEpilogue") {
    // Gemm's Y = [fl(alpha*P)] then [fma(beta, C, .)] (the CPU reference's order).
    r = in.at(0);
    const float alpha = n.attr("alpha");
    if (alpha != 1.0f) r = emit(Opcode::FMUL, r, ValRef::immediate(fbits(alpha)));
    if (n.attr("has_c") != 0.0f) r = emit(Opcode::FMA, ValRef::immediate(fbits(n.attr("beta"))), in.at(1), r);
    if (r.id == in.at(0).id && r.kind == in.at(0).kind) r = emit(Opcode::MOV, in[0], ValRef::immediate(0));
  } else if (is_compare_or_logic(n.op) || n.op == "Where" || n.op == "Cast") {
    r = append_typed_ops(g, n, in, emit);
  } else if (n.op == "MathSeg")
    r = append_math_segment(n, in, plan);
  else
    throw CompileError(fmt::format("{}: {}: unsupported operator (no lowering)", g.source, g.describe(n)));
  return r.id;
}

arch::PcuConfig pcu_program(const arch::Config& cfg, const SectionPlan& plan, uint32_t count, const std::string& what) {
  const int k = int(plan.ext_inputs.size());
  if (k < 1 || k > int(cfg.vin))
    throw CompileError(fmt::format("{}: {} distinct inputs, a PCU has {} vector inputs", what, k, cfg.vin));
  if (plan.ops.empty()) throw CompileError(fmt::format("{}: nothing to compute", what));
  if (plan.ops.size() > cfg.stages)
    throw CompileError(fmt::format("{}: needs {} stages, a PCU of configuration '{}' has {}", what, plan.ops.size(),
                                   cfg.name, cfg.stages));
  const int nvals = k + int(plan.ops.size());
  const int final_val = nvals - 1;
  // Last op index reading each value (-1: never read); the output lives to the end.
  std::vector<int> last_use(nvals, -1);
  for (size_t j = 0; j < plan.ops.size(); ++j)
    for (const ValRef* v : {&plan.ops[j].a, &plan.ops[j].b, &plan.ops[j].c})
      if (v->kind == ValRef::Val) last_use.at(v->id) = int(j);
  last_use[final_val] = std::numeric_limits<int>::max();

  std::vector<int> reg_val(cfg.regs, -1);  // value held by each register
  std::vector<int> val_reg(nvals, -1);
  for (int i = 0; i < k; ++i) {
    reg_val.at(i) = i;
    val_reg[i] = i;
  }
  arch::PcuConfig pc;
  pc.enable = true;
  pc.count = count;
  pc.vin_mask = uint8_t((1u << k) - 1);
  for (size_t j = 0; j < plan.ops.size(); ++j) {
    const SectionOp& op = plan.ops[j];
    arch::PcuStage st;
    st.op = op.op;
    bool imm_used = false;
    auto src = [&](const ValRef& v, bool is_b) -> uint8_t {
      if (v.kind == ValRef::None) return is_b ? uint8_t(arch::Src::ZERO) : 0;  // unread: ZERO / REG0
      if (v.kind == ValRef::Scalar) {  // the group's scalar: IMM read with simm
        if (imm_used && !st.simm)
          throw CompileError(fmt::format("{}: op {} reads an immediate and the scalar input", what, j));
        imm_used = true;
        st.simm = true;
        st.imm = 0;
        return uint8_t(arch::Src::IMM);
      }
      if (v.kind == ValRef::Imm) {
        if (op.op == Opcode::MOV && is_b) return uint8_t(arch::Src::ZERO);
        if (imm_used && (st.simm || st.imm != v.imm))
          throw CompileError(fmt::format("{}: op {} has two different immediates", what, j));
        imm_used = true;
        st.imm = v.imm;
        return uint8_t(arch::Src::IMM);
      }
      const int r = val_reg.at(v.id);
      if (r < 0) throw CompileError(fmt::format("{}: value {} is not in a register at op {}", what, v.id, j));
      return uint8_t(r);
    };
    st.src_a = src(op.a, false);
    st.src_b = src(op.b, true);
    st.src_c = src(op.c, false);
    // Destination: the lowest register whose value is dead after this op.
    int dst = -1;
    for (int r = 0; r < int(cfg.regs) && dst < 0; ++r)
      if (reg_val[r] < 0 || last_use[reg_val[r]] <= int(j)) dst = r;
    if (dst < 0)
      throw CompileError(fmt::format("{}: needs more than the {} pipeline registers of a PCU", what, cfg.regs));
    if (reg_val[dst] >= 0) val_reg[reg_val[dst]] = -1;
    reg_val[dst] = k + int(j);
    val_reg[k + int(j)] = dst;
    st.dst = uint8_t(dst);
    pc.stages.push_back(st);
  }
  pc.out_reg = uint8_t(val_reg[final_val]);
  return pc;
}

// "[a,b] and [c]": the shapes of an error message.
static std::string shapes_text(const std::vector<std::vector<int64_t>>& shapes) {
  std::string s;
  for (const auto& sh : shapes) s += (s.empty() ? "" : " and ") + shape_str(sh);
  return s;
}

namespace {

// One address dimension of an elementwise access: its size, the output's stride ([0]) and
// input i's ([1+i], 0 where it broadcasts).
struct Dim {
  int64_t size;
  std::vector<int64_t> st;
};

// The address dimensions of the broadcast of in_shapes to out_shape, outer to inner: size-1
// dims dropped, neighbours every operand walks contiguously merged.
std::vector<Dim> collapsed_dims(const std::vector<std::vector<int64_t>>& in_shapes,
                                const std::vector<int64_t>& out_shape, const std::string& what) {
  const size_t r = out_shape.size(), n = in_shapes.size();
  std::vector<Dim> dims;  // outer to inner, size-1 dims dropped
  std::vector<int64_t> in_acc(n, 1);
  std::vector<Dim> all(r);
  int64_t out_acc = 1;
  for (size_t k = 0; k < r; ++k) {
    const size_t d = r - 1 - k;
    all[d].size = out_shape[d];
    all[d].st.assign(n + 1, 0);
    all[d].st[0] = out_acc;
    out_acc *= out_shape[d];
    for (size_t i = 0; i < n; ++i) {
      const auto& s = in_shapes[i];
      if (k >= s.size()) continue;  // missing leading dim: broadcast
      const int64_t sz = s[s.size() - 1 - k];
      if (sz != 1 && sz != out_shape[d])
        throw CompileError(
            fmt::format("{}: input shape {} does not broadcast to {}", what, shape_str(s), shape_str(out_shape)));
      all[d].st[1 + i] = sz == 1 ? 0 : in_acc[i];
      in_acc[i] *= sz;
    }
  }
  for (const Dim& d : all) {
    if (d.size == 1) continue;
    if (!dims.empty()) {
      Dim& p = dims.back();
      bool merge = true;
      for (size_t i = 0; i <= n; ++i) merge = merge && p.st[i] == d.st[i] * d.size;
      if (merge) {
        p.size *= d.size;
        p.st = d.st;
        continue;
      }
    }
    dims.push_back(d);
  }
  return dims;
}

}  // namespace

size_t broadcast_address_dims(const std::vector<std::vector<int64_t>>& in_shapes,
                              const std::vector<int64_t>& out_shape, const std::string& what) {
  return collapsed_dims(in_shapes, out_shape, what).size();
}

AccessPlan plan_access(const std::vector<std::vector<int64_t>>& in_shapes, const std::vector<int64_t>& out_shape,
                       const std::string& what) {
  const size_t n = in_shapes.size();
  std::vector<Dim> dims = collapsed_dims(in_shapes, out_shape, what);
  if (dims.empty()) dims.push_back({1, std::vector<int64_t>(n + 1, 1)});
  if (dims.size() > 4)
    throw CompileError(fmt::format("{}: the broadcast of {} to {} needs {} address dimensions, an AGCU stream has 4",
                                   what, shapes_text(in_shapes), shape_str(out_shape), dims.size()));
  while (dims.size() < 4) dims.insert(dims.begin(), Dim{1, std::vector<int64_t>(n + 1, 0)});

  AccessPlan p;
  p.c3 = uint64_t(dims[0].size);
  p.c2 = uint64_t(dims[1].size);
  p.c1 = uint64_t(dims[2].size);
  p.inner = uint64_t(dims[3].size);
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  if (p.c3 > kU32 || p.c2 > kU32 || p.c1 > kU32 || p.inner > kU32)
    throw CompileError(fmt::format("{}: tensor {} is too large for an AGCU stream", what, shape_str(out_shape)));
  auto access = [&](size_t i) {
    const int64_t si = dims[3].st[i];
    if (si != 0 && si != 1 && dims[3].size > 1)
      throw CompileError(fmt::format("{}: operand {} has inner stride {}", what, i, si));
    Access a;
    a.bcast = si == 0 && dims[3].size > 1;
    a.s1 = dims[2].st[i];
    a.s2 = dims[1].st[i];
    a.s3 = dims[0].st[i];
    for (int64_t s : {a.s1, a.s2, a.s3})
      if (s > std::numeric_limits<int32_t>::max())
        throw CompileError(fmt::format("{}: stride {} does not fit an AGCU stream", what, s));
    return a;
  };
  p.out = access(0);
  for (size_t i = 0; i < n; ++i) p.in.push_back(access(1 + i));
  if (p.vectors(1) > kU32) throw CompileError(fmt::format("{}: {} elements is too many", what, p.vectors(1)));
  return p;
}

}  // namespace openrdu::compiler::detail
