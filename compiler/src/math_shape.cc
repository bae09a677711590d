// Math programs at -O1/-O3 (lower_math.h, `expand_math_node` with `by_shape`): the same
// ops as math_program, so the same bits as the CPU reference, fewer of them on the
// output's elements:
//  * a constant scalar operand becomes an immediate and the ops it alone determines are
//    evaluated here with the device's rules (model::pcu_op): div(x, 4.0f)'s range scale
//    and reciprocal of 4 are immediates;
//  * FMUL(x, 1.0f) is dropped where only FMUL, FMA, FADD and FSUB read it (x*1 = x but
//    for a NaN's payload, which those ops make canonical anyway; subnormals are kept);
//  * the ops that read only operands smaller than the output (all of one shape S, e.g.
//    a LayerNorm's or a softmax's divisor [..., R, 1]) run as their own segments over S;
//    the rest reads their results broadcast.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <optional>

#include "lower_math.h"
#include "openrdu/model/unit.h"

namespace openrdu::compiler::detail {

using arch::Opcode;

namespace {

constexpr uint32_t kOneBits = 0x3F800000u;

// p's ops where keep[j], renumbered for a program of `ninputs` inputs: an operand of
// value v reads ren[v] (the caller sets it for inputs and for ops not kept).
MathProgram rebuild(const MathProgram& p, int ninputs, std::vector<ValRef> ren, const std::vector<bool>& keep) {
  MathProgram q;
  q.ninputs = ninputs;
  const int k = p.ninputs;
  for (size_t j = 0; j < p.ops.size(); ++j) {
    if (!keep[j]) continue;
    SectionOp o = p.ops[j];
    for (ValRef* v : {&o.a, &o.b, &o.c})
      if (v->kind == ValRef::Val) *v = ren.at(size_t(v->id));
    q.ops.push_back(o);
    ren[size_t(k) + j] = ValRef::val(ninputs + int(q.ops.size()) - 1);
  }
  return q;
}

// Does op `o` with its operands renamed hold at most one distinct immediate (a stage's
// one IMM)?
bool one_immediate(const SectionOp& o) {
  std::optional<uint32_t> imm;
  for (const ValRef* v : {&o.a, &o.b, &o.c})
    if (v->kind == ValRef::Imm) {
      if (imm && *imm != v->imm) return false;
      imm = v->imm;
    }
  return true;
}

// Constant scalar inputs as immediates, the ops reading only immediates evaluated.
// nullopt when an op would need two immediates or the result itself is constant.
std::optional<MathProgram> fold_constants(const Graph& g, const Node& n, const MathProgram& p) {
  const int k = p.ninputs;
  std::vector<ValRef> ren(size_t(k) + p.ops.size());
  std::vector<bool> keep(p.ops.size(), true);
  for (int i = 0; i < k; ++i) {
    const Tensor& t = g.tensors.at(size_t(n.inputs.at(size_t(i))));
    const bool scalar = t.kind == TensorKind::Constant && t.dtype != DType::I64 && t.data.size() == 1;
    ren[size_t(i)] = scalar ? ValRef::immediate(std::bit_cast<uint32_t>(t.data[0])) : ValRef::val(i);
  }
  for (size_t j = 0; j < p.ops.size(); ++j) {
    SectionOp o = p.ops[j];
    bool all_known = true;
    for (ValRef* v : {&o.a, &o.b, &o.c}) {
      if (v->kind == ValRef::Val) *v = ren[size_t(v->id)];
      all_known = all_known && v->kind != ValRef::Val && v->kind != ValRef::Scalar;
    }
    if (all_known) {
      auto bits = [](const ValRef& v) { return v.kind == ValRef::Imm ? v.imm : 0u; };
      ren[size_t(k) + j] = ValRef::immediate(model::pcu_op(o.op, bits(o.a), bits(o.b), bits(o.c)));
      keep[j] = false;
    } else if (!one_immediate(o)) {
      return std::nullopt;
    } else {
      ren[size_t(k) + j] = ValRef::val(k + int(j));  // set again by rebuild
    }
  }
  if (!keep.back()) return std::nullopt;
  return rebuild(p, k, ren, keep);
}

// FMUL(x, 1.0f) dropped where every reader is FMUL, FMA, FADD or FSUB (not the result).
MathProgram drop_unit_products(const MathProgram& p) {
  const int k = p.ninputs;
  const size_t m = p.ops.size();
  std::vector<bool> plain_readers(size_t(k) + m, true);
  for (const SectionOp& o : p.ops) {
    const bool canon = o.op == Opcode::FMUL || o.op == Opcode::FMA || o.op == Opcode::FADD || o.op == Opcode::FSUB;
    if (!canon) for_reads(o, [&](int id) { plain_readers[size_t(id)] = false; });
  }
  MathProgram q;
  q.ninputs = k;
  std::vector<ValRef> now(size_t(k) + m);
  for (int i = 0; i < k; ++i) now[size_t(i)] = ValRef::val(i);
  for (size_t j = 0; j < m; ++j) {
    SectionOp o = p.ops[j];
    for (ValRef* v : {&o.a, &o.b, &o.c})
      if (v->kind == ValRef::Val) *v = now[size_t(v->id)];
    const bool a_one = o.a.kind == ValRef::Imm && o.a.imm == kOneBits && o.b.kind == ValRef::Val;
    const bool b_one = o.b.kind == ValRef::Imm && o.b.imm == kOneBits && o.a.kind == ValRef::Val;
    if (o.op == Opcode::FMUL && j + 1 < m && plain_readers[size_t(k) + j] && (a_one || b_one)) {
      now[size_t(k) + j] = a_one ? o.b : o.a;
      continue;
    }
    q.ops.push_back(o);
    now[size_t(k) + j] = ValRef::val(k + int(q.ops.size()) - 1);
  }
  return q;
}

// The ops that value v needs, stopping at inputs and at the values in `stops`.
std::vector<bool> cone(const MathProgram& p, int v, const std::vector<int>& stops) {
  const int k = p.ninputs;
  std::vector<bool> in(p.ops.size(), false);
  std::function<void(int)> visit = [&](int id) {
    if (id < k || in[size_t(id - k)] || std::find(stops.begin(), stops.end(), id) != stops.end()) return;
    in[size_t(id - k)] = true;
    for_reads(p.ops[size_t(id - k)], visit);
  };
  in[size_t(v - k)] = true;
  for_reads(p.ops[size_t(v - k)], visit);
  return in;
}

// A program over `ninputs` = p's inputs then the values `extra` (as inputs k, k+1, ...)
// holding the ops `keep`.
MathProgram subprogram(const MathProgram& p, const std::vector<int>& extra, const std::vector<bool>& keep) {
  const int k = p.ninputs;
  std::vector<ValRef> ren(size_t(k) + p.ops.size());
  for (int i = 0; i < k; ++i) ren[size_t(i)] = ValRef::val(i);
  for (size_t s = 0; s < extra.size(); ++s) ren[size_t(extra[s])] = ValRef::val(k + int(s));
  return rebuild(p, k + int(extra.size()), ren, keep);
}

bool same_ref(const ValRef& a, const ValRef& b) { return a.kind == b.kind && a.id == b.id && a.imm == b.imm; }

bool same_program(const MathProgram& p, const MathProgram& q) {
  if (p.ninputs != q.ninputs || p.ops.size() != q.ops.size()) return false;
  for (size_t j = 0; j < p.ops.size(); ++j) {
    const SectionOp &a = p.ops[j], &b = q.ops[j];
    if (a.op != b.op || !same_ref(a.a, b.a) || !same_ref(a.b, b.b) || !same_ref(a.c, b.c)) return false;
  }
  return true;
}

int64_t elements(const std::vector<int64_t>& s) {
  int64_t e = 1;
  for (int64_t d : s) e *= d;
  return e;
}

// The small values that the ops `big` read (ascending): each a part's result, loaded
// broadcast by the ops per element. A value whose ops (up to the other parts' results)
// are at most `recompute_ops` is computed per element instead (its ops join `big`): a
// PCU stage costs less than a load stream, which takes a request per vector.
std::vector<int> part_results(const MathProgram& p, const std::vector<bool>& small, std::vector<bool>& big,
                              int recompute_ops) {
  const int k = p.ninputs;
  while (true) {
    std::vector<int> outs;
    for (size_t j = 0; j < p.ops.size(); ++j)
      if (big[j])
        for_reads(p.ops[j], [&](int id) {
          if (id >= k && small[size_t(id)] && !big[size_t(id - k)] && std::find(outs.begin(), outs.end(), id) == outs.end())
            outs.push_back(id);
        });
    std::sort(outs.begin(), outs.end());
    bool grown = false;
    for (size_t t = 0; t < outs.size() && !grown; ++t) {
      std::vector<int> others = outs;
      others.erase(others.begin() + long(t));
      const std::vector<bool> c = cone(p, outs[t], others);
      int ops = 0;
      for (size_t j = 0; j < c.size(); ++j) ops += c[j] && !big[j];
      if (ops > recompute_ops) continue;
      for (size_t j = 0; j < c.size(); ++j) big[j] = big[j] || c[j];
      grown = true;
    }
    if (!grown) return outs;
  }
}

}  // namespace

MathByShape math_by_shape(const Graph& g, const Node& n, int recompute_ops) {
  const MathProgram p0 = math_program(g, n);
  const std::optional<MathProgram> folded = fold_constants(g, n, p0);
  const MathProgram p1 = drop_unit_products(folded ? *folded : p0);
  MathByShape r{p1, {}, {}, !same_program(p0, p1)};
  const int k = p1.ninputs;
  // Small inputs: fewer elements than the output, all of one shape.
  const auto& out = g.tensors.at(size_t(n.outputs.at(0))).shape;
  std::vector<bool> small(size_t(k) + p1.ops.size(), false), read(size_t(k), false);
  for (const SectionOp& o : p1.ops) for_reads(o, [&](int id) { if (id < k) read[size_t(id)] = true; });
  std::optional<std::vector<int64_t>> shape;
  bool used_big = false;
  for (int i = 0; i < k; ++i) {
    const auto& s = g.tensors.at(size_t(n.inputs[size_t(i)])).shape;
    if (!read[size_t(i)]) continue;
    if (elements(s) >= elements(out)) {
      used_big = true;
    } else {
      if (shape && *shape != s) return r;  // two small shapes: not split
      shape = s;
      small[size_t(i)] = true;
    }
  }
  if (!shape || !used_big) return r;
  for (size_t j = 0; j < p1.ops.size(); ++j) {  // small: reads only small values (and immediates)
    bool s = true;
    for_reads(p1.ops[j], [&](int id) { s = s && small[size_t(id)]; });
    small[size_t(k) + j] = s;
  }
  if (small.back()) return r;
  std::vector<bool> big(p1.ops.size());  // the ops computed per output element
  for (size_t j = 0; j < big.size(); ++j) big[j] = !small[size_t(k) + j];
  std::vector<int> outs = part_results(p1, small, big, recompute_ops);
  if (outs.empty()) return r;
  for (size_t t = 0; t < outs.size(); ++t) {
    const std::vector<int> before(outs.begin(), outs.begin() + long(t));
    r.parts.push_back(subprogram(p1, before, cone(p1, outs[t], before)));
  }
  r.part_shape = *shape;
  r.program = subprogram(p1, outs, big);
  r.changed = true;
  return r;
}

}  // namespace openrdu::compiler::detail
