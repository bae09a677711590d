// PCU special functions (compiler/src/lower_math.h):
//  * the documented max ULP bounds over 1M inputs per function (half random bit patterns
//    over the whole float range, half uniform in the function's range; seed OPENRDU_SEED)
//    against double libm rounded to binary32, through the reference (which is the device
//    sequence);
//  * documented special results (NaN, +-inf, +-0, subnormals), written by hand, on the
//    reference and on the functional model (tiny and small, -O0/-O1/-O3);
//  * every math operator on random data: model == reference bit for bit, long sequences
//    split over several PCUs / sections at every level.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <limits>
#include <random>

#include "lower_math.h"
#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/model/unit.h"
#include "test_util.h"
#include "ulp_measure.h"

namespace openrdu::compiler {
namespace {

using test::bits;
using test::ModelBuilder;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::bit_cast<float>(0x7FC00000u);

uint64_t seed() {
  const char* s = std::getenv("OPENRDU_SEED");
  const uint64_t v = s ? std::strtoull(s, nullptr, 0) : 20261122u;
  std::printf("OPENRDU_SEED=%llu\n", (unsigned long long)v);
  return v;
}

// Documented max ULP per function (bench/ulp measures them over 10M inputs).
double documented_bound(const std::string& fn) {
  if (fn == "exp" || fn == "log" || fn == "sqrt" || fn == "reciprocal") return 1.0;
  if (fn == "rsqrt" || fn == "tanh" || fn == "div" || fn == "erf") return 2.0;
  if (fn == "sigmoid") return 3.0;
  return 0;
}

TEST(MathUlp, DocumentedBoundsOnOneMillionInputs) {
  const uint64_t s = seed();
  for (const std::string& fn : ulp::functions()) {
    const ulp::Stats st = ulp::run(fn, 1'000'000, s);
    EXPECT_LE(st.max_ulp, documented_bound(fn)) << fn << ": worst input " << st.worst_x << ", " << st.worst_y;
    EXPECT_EQ(st.special_bad, 0u) << fn << ": wrong special result, e.g. input " << st.worst_x << ", "
                                  << st.worst_y;
    EXPECT_GE(st.n, 1'000'000u);
  }
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& x,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(bits(got[i]) == bits(want[i]) || (std::isnan(got[i]) && std::isnan(want[i]) &&
                                                   bits(got[i]) == 0x7FC00000u))
        << what << " element " << i << " x = " << x[i] << ": got 0x" << std::hex << bits(got[i]) << " (" << got[i]
        << "), expected 0x" << bits(want[i]) << " (" << want[i] << ")";
}

ModelBuilder unary(const std::string& op, int64_t n) {
  ModelBuilder b;
  b.input("x", {n});
  b.node(op, {"x"}, {"y"}, "n");
  b.output("y");
  return b;
}

// Reference and model (tiny and small, -O0/-O1/-O3) both give `want`; NaN results
// must be the canonical NaN.
void check_unary(const std::string& op, const std::vector<float>& x, const std::vector<float>& want) {
  const ModelBuilder b = unary(op, int64_t(x.size()));
  const Graph g = import_onnx_bytes(b.bytes(), op + ".onnx");
  const std::map<std::string, HostTensor> in = {{"x", HostTensor{{int64_t(x.size())}, x}}};
  expect_same(reference_run(g, in).at("y").data, want, x, op + ": reference");
  test::for_each_target(g, in, [&](const std::map<std::string, HostTensor>& out, const std::string& where) {
    expect_same(out.at("y").data, want, x, op + ": " + where);
  });
}

TEST(MathSpecial, DocumentedResultsOnModelAndReference) {
  const float sub = 0x1p-140f, nan = kNaN;
  const std::vector<float> x = {nan, -0.0f, 0.0f, kInf, -kInf, sub, -sub};
  const float erf_sub = std::bit_cast<float>(0x00000242u);  // 2^-140 * 1.128379166, on the subnormal grid
  check_unary("Exp", x, {nan, 1, 1, kInf, 0, 1, 1});
  check_unary("Log", x, {nan, -kInf, -kInf, kInf, nan, -97.04060f, nan});
  check_unary("Sqrt", x, {nan, -0.0f, 0, kInf, nan, 0x1p-70f, nan});
  check_unary("Reciprocal", x, {nan, -kInf, kInf, 0, -0.0f, kInf, -kInf});
  check_unary("Sigmoid", x, {nan, 0.5f, 0.5f, 1, 0, 0.5f, 0.5f});
  check_unary("Tanh", x, {nan, -0.0f, 0, 1, -1, sub, -sub});
  check_unary("Erf", x, {nan, -0.0f, 0, 1, -1, erf_sub, -erf_sub});
  check_unary("Softsign", x, {nan, -0.0f, 0, 1, -1, sub, -sub});
  // Subnormal inputs and results: exact where the result is representable.
  check_unary("Reciprocal", {0x1p-127f, -0x1p127f, 0x1p-129f, 4.0f}, {0x1p127f, -0x1p-127f, kInf, 0.25f});
}

// Every math operator on random data, model == reference bit for bit; Div and Pow with
// a broadcast second operand, Pow also with constant exponents.
TEST(MathOps, RandomDataModelEqualsReference) {
  std::mt19937_64 rng(seed());
  std::uniform_real_distribution<float> d(-6.0f, 6.0f);
  const int64_t n = 37;
  auto rnd = [&](int64_t k, bool positive) {
    std::vector<float> v(k);
    for (float& f : v) f = positive ? std::fabs(d(rng)) + 0.01f : d(rng);
    return v;
  };
  struct Case {
    std::string op;
    int inputs;
    float pow_const;  // Pow: constant exponent (NaN: run-time exponent)
  };
  const std::vector<Case> cases = {{"Exp", 1, 0},      {"Log", 1, 0},      {"Sqrt", 1, 0},     {"Reciprocal", 1, 0},
                                   {"Div", 2, 0},      {"Sigmoid", 1, 0},  {"Tanh", 1, 0},     {"Erf", 1, 0},
                                   {"Elu", 1, 0},      {"Selu", 1, 0},     {"Softplus", 1, 0}, {"Softsign", 1, 0},
                                   {"Mean", 3, 0},     {"Pow", 2, kNaN},   {"Pow", 2, 2.0f},   {"Pow", 2, 0.5f},
                                   {"Pow", 2, 3.0f},   {"Pow", 2, -1.0f},  {"Pow", 2, 1.7f}};
  for (const Case& c : cases) {
    ModelBuilder b;
    b.input("x", {n});
    std::map<std::string, HostTensor> in = {{"x", HostTensor{{n}, rnd(n, c.op == "Log" || c.op == "Pow")}}};
    std::string name = c.op;
    if (c.op == "Pow" && !std::isnan(c.pow_const)) {
      b.init("y0", {}, {c.pow_const});
      b.node("Pow", {"x", "y0"}, {"y"}, "n");
      name += fmt::format("^{}", c.pow_const);
    } else if (c.inputs == 2) {
      b.input("b", {1});
      in["b"] = HostTensor{{1}, {c.op == "Div" ? -2.75f : 1.3f}};
      b.node(c.op, {"x", "b"}, {"y"}, "n");
    } else if (c.inputs == 3) {
      b.input("b", {n});
      b.input("c", {n});
      in["b"] = HostTensor{{n}, rnd(n, false)};
      in["c"] = HostTensor{{n}, rnd(n, false)};
      b.node(c.op, {"x", "b", "c"}, {"y"}, "n");
    } else
      b.node(c.op, {"x"}, {"y"}, "n");
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), name + ".onnx");
    const auto want = reference_run(g, in).at("y").data;
    // The reference is within a few ULP of the true function (spot check: Exp).
    if (c.op == "Exp") {
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_NEAR(want[i], std::exp(double(in["x"].data[i])), 3e-7 * std::exp(double(in["x"].data[i])));
      }
    }
    for (const char* cfgname : {"tiny", "small"}) {
      const arch::Config cfg = arch::load_config(cfgname);
      for (int level : {0, 1, 3}) {
        Options o;
        o.opt_level = level;
        CompileStats stats;
        const auto out = test::run_on_model(cfg, compile_graph(g, cfg, o, &stats), in);
        expect_same(out.at("y").data, want, in["x"].data, fmt::format("{}: {} -O{}", name, cfgname, level));
      }
    }
  }
}

// Long sequences: segments fit the PCU; -O3 chains several PCUs of a section on small.
TEST(MathSplit, SegmentsFitAndO3Pipelines) {
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    for (const std::string& fn : ulp::functions()) {
      const detail::MathProgram p = detail::function_program(fn);
      const auto segs = detail::split_program(cfg, p, fn);
      size_t ops = 0;
      for (const auto& s : segs) {
        EXPECT_LE(size_t(s.last - s.first + 1), cfg.stages) << fn;
        EXPECT_LE(s.inputs.size(), cfg.vin) << fn;
        ops += size_t(s.last - s.first + 1);
      }
      EXPECT_EQ(ops, p.ops.size()) << fn;
    }
  }
  const Graph g = import_onnx_bytes(unary("Exp", 64).bytes(), "exp.onnx");
  const arch::Config small = arch::load_config("small");
  CompileStats s0, s3;
  Options o0, o3;
  o0.opt_level = 0;
  o3.opt_level = 3;
  compile_graph(g, small, o0, &s0);
  compile_graph(g, small, o3, &s3);
  EXPECT_GT(s0.sections.size(), 1u);
  EXPECT_LT(s3.sections.size(), s0.sections.size());
}

// Independent check of a split of `q` (a reordering of `p`): the first violation, or
// empty. q has p's operations (opcode and immediates) and last op, each op reads earlier
// values only; segments cover the ops in order, each has 1..vin inputs (program inputs or
// earlier segments' last ops, in the order of first read), a value made inside a segment
// and read after it is its last op, and each fits a PCU (pcu_program).
std::string split_error(const arch::Config& cfg, const detail::MathProgram& p, const detail::MathProgram& q,
                        const std::vector<detail::MathSegment>& segs) {
  using detail::SectionOp;
  using detail::SectionPlan;
  using detail::ValRef;
  if (q.ninputs != p.ninputs || q.ops.size() != p.ops.size() || p.ops.empty()) return "not the program's size";
  const int k = q.ninputs, n = int(q.ops.size());
  auto sig = [](const SectionOp& o) {
    std::vector<uint64_t> v{uint64_t(o.op)};
    for (const ValRef* r : {&o.a, &o.b, &o.c})
      v.push_back(uint64_t(r->kind) << 32 | (r->kind == ValRef::Imm ? r->imm : 0));
    return v;
  };
  std::vector<std::vector<uint64_t>> sp, sq;
  for (int j = 0; j < n; ++j) {
    sp.push_back(sig(p.ops[size_t(j)]));
    sq.push_back(sig(q.ops[size_t(j)]));
  }
  if (sp.back() != sq.back()) return "another last op";
  std::sort(sp.begin(), sp.end());
  std::sort(sq.begin(), sq.end());
  if (sp != sq) return "other operations";
  std::vector<int> last_use(size_t(k + n), -1), seg_last;
  for (int j = 0; j < n; ++j)
    for (const ValRef* v : {&q.ops[size_t(j)].a, &q.ops[size_t(j)].b, &q.ops[size_t(j)].c})
      if (v->kind == ValRef::Val) {
        if (v->id < 0 || v->id >= k + j) return fmt::format("op {} reads value {}, not an earlier one", j, v->id);
        last_use[size_t(v->id)] = j;
      }
  int next = 0;
  for (const detail::MathSegment& sg : segs) {
    const std::string at = fmt::format("segment [{}, {}]", sg.first, sg.last);
    if (sg.first != next || sg.last < sg.first || sg.last >= n) return at + ": not the next ops";
    next = sg.last + 1;
    std::vector<int> inputs;
    for (int j = sg.first; j <= sg.last; ++j)
      for (const ValRef* v : {&q.ops[size_t(j)].a, &q.ops[size_t(j)].b, &q.ops[size_t(j)].c})
        if (v->kind == ValRef::Val && v->id < k + sg.first &&
            std::find(inputs.begin(), inputs.end(), v->id) == inputs.end())
          inputs.push_back(v->id);
    if (inputs != sg.inputs) return at + ": other inputs";
    if (inputs.empty() || inputs.size() > cfg.vin) return fmt::format("{}: {} inputs", at, inputs.size());
    for (int v : inputs)
      if (v >= k && std::find(seg_last.begin(), seg_last.end(), v - k) == seg_last.end())
        return fmt::format("{}: reads value {}, not an earlier segment's result", at, v);
    for (int j = sg.first; j < sg.last; ++j)
      if (last_use[size_t(k + j)] > sg.last) return fmt::format("{}: value of op {} is read after it", at, j);
    SectionPlan plan;
    plan.ext_inputs.assign(inputs.size(), 0);
    for (int j = sg.first; j <= sg.last; ++j) {
      SectionOp o = q.ops[size_t(j)];
      for (ValRef* v : {&o.a, &o.b, &o.c})
        if (v->kind == ValRef::Val)
          v->id = v->id < k + sg.first ? int(std::find(inputs.begin(), inputs.end(), v->id) - inputs.begin())
                                       : int(inputs.size()) + v->id - k - sg.first;
      plan.ops.push_back(o);
    }
    try {
      detail::pcu_program(cfg, plan, 1, at);
    } catch (const CompileError& e) {
      return fmt::format("does not fit a PCU: {}", e.what());
    }
    seg_last.push_back(sg.last);
  }
  if (next != n) return "the segments do not cover the program";
  return "";
}

// A valid split (split_error), run segment by segment with model::pcu_op, passing on only
// program inputs and segment results, gives run_program(p)'s bits on edge inputs (NaN,
// +-inf, +-0, subnormals, extremes; all pairs for two inputs) and random ones.
void check_split(const arch::Config& cfg, const detail::MathProgram& p, const detail::MathProgram& q,
                 const std::vector<detail::MathSegment>& segs, const std::string& what, std::mt19937_64& rng) {
  using detail::SectionOp;
  using detail::ValRef;
  const std::string err = split_error(cfg, p, q, segs);
  ASSERT_EQ(err, "") << what;
  const int k = q.ninputs;
  const uint32_t edges[] = {0x7FC00000u, 0xFFC00001u, 0x7F800000u, 0xFF800000u, 0x00000000u, 0x80000000u, 0x00000001u,
                            0x80000001u, 0x007FFFFFu, 0x807FFFFFu, 0x00800000u, 0x80800000u, 0x7F7FFFFFu, 0xFF7FFFFFu,
                            0x3F800000u, 0xBF800000u, 0x7E800000u, 0x02000000u, 0x3F200000u, 0x41200000u};
  const size_t ne = std::size(edges);
  const size_t combos = k == 1 ? ne : ne * ne;
  for (size_t i = 0; i < combos + 20000; ++i) {
    std::vector<uint32_t> in(static_cast<size_t>(k));
    for (int a = 0; a < k; ++a) {
      if (i < combos)
        in[size_t(a)] = edges[a == 0 ? i % ne : a == 1 ? i / ne % ne : rng() % ne];
      else if (i % 4 == 0)
        in[size_t(a)] = uint32_t(rng());  // any bit pattern
      else
        in[size_t(a)] = std::bit_cast<uint32_t>(std::uniform_real_distribution<float>(-12.0f, 12.0f)(rng));
    }
    const uint32_t want = detail::run_program(p, in.data());
    // Segment by segment: only program inputs and segment results cross a boundary.
    std::map<int, uint32_t> avail;
    for (int a = 0; a < k; ++a) avail[a] = in[size_t(a)];
    uint32_t got = 0;
    for (const detail::MathSegment& sg : segs) {
      std::map<int, uint32_t> local;
      auto get = [&](const ValRef& v) -> uint32_t {
        if (v.kind == ValRef::Imm) return v.imm;
        if (v.kind != ValRef::Val) return 0;
        if (v.id >= k + sg.first) return local.at(v.id);
        return avail.at(v.id);
      };
      for (int j = sg.first; j <= sg.last; ++j) {
        const SectionOp& o = q.ops[size_t(j)];
        local[k + j] = model::pcu_op(o.op, get(o.a), get(o.b), get(o.c));
      }
      got = avail[k + sg.last] = local.at(k + sg.last);
    }
    ASSERT_EQ(got, want) << what << ": inputs 0x" << std::hex << in[0] << (k > 1 ? " 0x" : "")
                         << (k > 1 ? fmt::format("{:x}", in[1]) : "");
  }
}

// PCUs per special function: the greedy split in the program's order (the counts of
// docs/hardware.md before the search) and the fewest over op orders.
struct Pieces {
  const char* fn;
  size_t old_tiny, old_small, tiny, small;
};
constexpr Pieces kPieces[] = {
    {"exp", 9, 9, 9, 8},         {"log", 10, 9, 10, 8},   {"reciprocal", 14, 9, 13, 9},
    {"sqrt", 11, 8, 11, 8},      {"rsqrt", 10, 8, 10, 8}, {"tanh", 20, 18, 20, 16},
    {"sigmoid", 15, 14, 15, 13}, {"erf", 19, 17, 19, 16}, {"div", 17, 12, 16, 11},
};

TEST(MathSplit, FewestPiecesPerFunction) {
  for (const Pieces& c : kPieces) {
    const detail::MathProgram p = detail::function_program(c.fn);
    for (const char* cfgname : {"tiny", "small"}) {
      const arch::Config cfg = arch::load_config(cfgname);
      const bool tiny = std::string(cfgname) == "tiny";
      const size_t old = tiny ? c.old_tiny : c.old_small, now = tiny ? c.tiny : c.small;
      const std::string what = fmt::format("{} on {}", c.fn, cfgname);
      // In the program's order the DP finds no fewer than the greedy split did.
      EXPECT_LE(detail::split_program(cfg, p, what).size(), old) << what;
      const detail::MathSplit s = detail::schedule_program(cfg, p, what);
      EXPECT_LE(s.segs.size(), old) << what;
      EXPECT_EQ(s.segs.size(), now) << what;
    }
  }
}

// Every split (program order and searched order) of every function and math operator is
// valid and bit-exact segment by segment.
TEST(MathSplit, SplitsAreValidAndBitExact) {
  std::vector<std::pair<std::string, detail::MathProgram>> progs;
  for (const std::string& fn : ulp::functions()) progs.emplace_back(fn, detail::function_program(fn));
  for (const char* op : {"Elu", "Selu", "Softplus", "Softsign", "Mean", "Pow", "Pow^0.5", "Pow^-1"}) {
    ModelBuilder b;
    b.input("x", {8});
    const std::string name = op;
    if (name == "Mean") {
      // More inputs than a PCU has: the chain takes one new input per segment.
      auto* mean = b.node("Mean", {"x"}, {"y"}, "n");
      for (int i = 1; i < 7; ++i) {
        b.input(fmt::format("x{}", i), {8});
        mean->add_input(fmt::format("x{}", i));
      }
    } else if (name.starts_with("Pow^")) {
      b.init("e", {}, {std::stof(name.substr(4))});
      b.node("Pow", {"x", "e"}, {"y"}, "n");
    } else if (name == "Pow") {
      b.input("e", {8});
      b.node("Pow", {"x", "e"}, {"y"}, "n");
    } else
      b.node(name, {"x"}, {"y"}, "n");
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), name + ".onnx");
    progs.emplace_back(name, detail::math_program(g, g.nodes.at(0)));
  }
  std::mt19937_64 rng(seed());
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    for (const auto& [name, p] : progs) {
      const std::string what = fmt::format("{} on {}", name, cfgname);
      check_split(cfg, p, p, detail::split_program(cfg, p, what), what + " (program order)", rng);
      const detail::MathSplit s = detail::schedule_program(cfg, p, what);
      EXPECT_LE(s.segs.size(), detail::split_program(cfg, p, what).size()) << what;
      check_split(cfg, p, s.program, s.segs, what + " (searched order)", rng);
    }
  }
}

// The check itself rejects broken splits of exp on tiny.
TEST(MathSplit, CheckRejectsInvalidSplits) {
  const arch::Config cfg = arch::load_config("tiny");
  const detail::MathProgram p = detail::function_program("exp");
  const std::vector<detail::MathSegment> segs = detail::split_program(cfg, p, "exp");
  ASSERT_EQ(split_error(cfg, p, p, segs), "");
  // Two segments merged: 6 ops on a 4-stage PCU.
  std::vector<detail::MathSegment> merged = segs;
  const auto long_pair = std::adjacent_find(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
    return b.last - a.first + 1 > 4 && a.last - a.first + 1 > 1;
  });
  ASSERT_NE(long_pair, merged.end());
  long_pair->last = std::next(long_pair)->last;
  merged.erase(std::next(long_pair));
  EXPECT_NE(split_error(cfg, p, p, merged), "");
  // Ops 0 and 1 swapped: op 1 reads op 0's value before it is made.
  detail::MathProgram q = p;
  std::swap(q.ops[0], q.ops[1]);
  EXPECT_NE(split_error(cfg, p, q, segs), "");
  // A segment boundary moved so that a value escapes from the middle of a segment.
  std::vector<detail::MathSegment> moved = segs;
  moved[0].last += 1;
  moved[1].first += 1;
  EXPECT_NE(split_error(cfg, p, p, moved), "");
}

// -O1/-O3 (math_by_shape): a Div by a constant scalar keeps 6 of its ops per element (the
// divisor's range scale and reciprocal are immediates); a Div by [R, 1] computes the
// divisor's reciprocal once per row (the cheaper range scale per element); the composition equals the whole program bit for bit on
// special and random operands, and the device equals the reference.
TEST(MathByShape, DivisorPartsOnceSameBits) {
  std::mt19937_64 rng(seed());
  const int64_t R = 32, C = 48;
  const std::vector<float> special = {0.0f, -0.0f, 1.0f, -2.75f, kInf, -kInf, kNaN, 0x1p-130f, -0x1p-149f,
                                      0x1p126f, -0x1p127f, 3e38f, 0x1p-126f, 1.4142135f, 7.0f, -1e-30f};
  auto value = [&](size_t i) {
    return i < special.size() ? special[i] : std::bit_cast<float>(uint32_t(rng()));
  };
  std::vector<float> x(static_cast<size_t>(R * C)), s(static_cast<size_t>(R));
  for (size_t i = 0; i < x.size(); ++i) x[i] = value(i % 37 == 0 ? i / 37 : special.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = value(i);
  for (const bool by_row : {false, true}) {
    ModelBuilder b;
    b.input("x", {R, C});
    if (by_row)
      b.input("s", {R, 1});
    else
      b.init("s", {}, {1.4142135f});
    b.node("Div", {"x", "s"}, {"y"}, "n");
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), by_row ? "div_rows.onnx" : "div_const.onnx");
    const detail::MathByShape m = detail::math_by_shape(g, g.nodes.at(0), 12);
    const detail::MathProgram whole = detail::math_program(g, g.nodes.at(0));
    ASSERT_TRUE(m.changed);
    // Per element: 6 ops after a constant; after a row's divisor its range scale (7 ops)
    // and 9 more, its reciprocal (25 ops, range scale included) computed once per row.
    EXPECT_EQ(m.program.ops.size(), by_row ? 16u : 6u);
    ASSERT_EQ(m.parts.size(), by_row ? 1u : 0u);
    if (by_row) {
      EXPECT_EQ(m.parts[0].ops.size(), 25u);
    }
    if (by_row) {
      EXPECT_EQ(m.part_shape, (std::vector<int64_t>{R, 1}));
    }
    // The composition on every (x, s) pair of the test data (constant s: its bits).
    for (size_t i = 0; i < x.size(); ++i) {
      const float si = by_row ? s[i / size_t(C)] : 1.4142135f;
      std::vector<uint32_t> in = {bits(x[i]), bits(si)};
      for (const auto& part : m.parts) in.push_back(detail::run_program(part, in.data()));
      const uint32_t want = detail::run_program(whole, std::vector<uint32_t>{bits(x[i]), bits(si)}.data());
      ASSERT_EQ(detail::run_program(m.program, in.data()), want) << "x " << x[i] << " s " << si;
    }
    std::map<std::string, HostTensor> in = {{"x", HostTensor{{R, C}, x}}};
    if (by_row) in["s"] = HostTensor{{R, 1}, s};
    const auto want = reference_run(g, in).at("y").data;
    for (const char* cfgname : {"tiny", "small"}) {
      const arch::Config cfg = arch::load_config(cfgname);
      for (int level : {1, 3}) {
        Options o;
        o.opt_level = level;
        const pef::Pef p = compile_graph(g, cfg, o);
        const std::string what = fmt::format("{} {} -O{}", by_row ? "rows" : "const", cfgname, level);
        expect_same(test::run_on_model(cfg, p, in).at("y").data, want, x, what);
        if (!by_row && cfg.stages >= 6) {
          EXPECT_EQ(p.sections.size(), 1u) << what;  // one PCU
        }
      }
    }
  }
  // Operands of one shape and no constant: the program as it was.
  ModelBuilder b;
  b.input("x", {8});
  b.input("s", {8});
  b.node("Div", {"x", "s"}, {"y"}, "n");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "div.onnx");
  EXPECT_FALSE(detail::math_by_shape(g, g.nodes.at(0), 12).changed);
}

}  // namespace
}  // namespace openrdu::compiler
