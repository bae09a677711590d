// Reductions (ReduceSum/Mean/Max/Min) and data movement (Concat, Slice, Gather with
// constant parameters) lowered onto the grid, run on the functional model (model::Core)
// on tiny and small at -O0/-O1/-O3 and compared bit for bit with an independent host
// computation of the documented order (`docs/compiler.md`: per output
// element, the reduced elements in C order; sum from -0.0 with one rounding per
// addition, ReduceMean that sum times fp32(1/count), max/min chains from -inf/+inf with
// max(-0,+0) = +0) and with the CPU reference. Shapes, axes (negative too), keepdims,
// slice parameters (negative steps), concat axes and gather indices are drawn with a
// seed (OPENRDU_SEED); sizes include lane tails and size-1 dimensions.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <set>

#include "lower.h"
#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::expect_bits;
using test::run_on_model;
using test::seed;
using test::numel;
using ::testing::HasSubstr;

std::vector<int64_t> strides(const std::vector<int64_t>& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// Every index of `shape` in C order.
void for_each(const std::vector<int64_t>& shape, const std::function<void(const std::vector<int64_t>&)>& f) {
  if (numel(shape) == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    f(idx);
    size_t d = shape.size();
    while (d > 0) {
      if (++idx[d - 1] < shape[d - 1]) break;
      idx[d - 1] = 0;
      --d;
    }
    if (d == 0) return;
  }
}

HostTensor random_tensor(std::mt19937& rng, const std::vector<int64_t>& shape) {
  HostTensor t;
  t.shape = shape;
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  for (int64_t i = 0; i < numel(shape); ++i) {
    const int k = int(rng() % 24);
    const float special[] = {-0.0f, 0.0f, std::ldexp(u(rng), -130), 1e30f, -INFINITY, INFINITY, NAN};
    // NaN and infinities rarely (a NaN makes the whole reduction NaN).
    t.data.push_back(k < 4 ? special[k] : k == 4 && rng() % 8 == 0 ? special[4 + rng() % 3] : u(rng));
  }
  return t;
}

std::string floats(const std::vector<float>& v) {
  std::string s;
  for (float f : v) s += (s.empty() ? "" : ", ") + fmt::format("{:.9g}", f);
  return s;
}

const arch::Config& cfg_named(const std::string& n) {
  static const arch::Config t = arch::load_config("tiny"), s = arch::load_config("small");
  return n == "tiny" ? t : s;
}

// The YAML graph runs on the CPU reference and, compiled for tiny and small at
// -O0/-O1/-O3, on the functional model; both must equal `want` bit for bit.
int g_checked = 0;  // model runs compared

void check(const std::string& yaml, const HostTensor& x, const HostTensor& want, const std::string& what) {
  SCOPED_TRACE(what + "\n" + yaml);
  ASSERT_FALSE(want.data.empty()) << what;
  const Graph g = load_yaml_string(yaml, what);
  const std::map<std::string, HostTensor> in = {{"x", x}};
  const auto ref = reference_run(g, in);
  expect_bits(ref.at("y"), want, what + " (CPU reference)");
  for (const char* c : {"tiny", "small"})
    for (int o : {0, 1, 3}) {
      Options opts;
      opts.opt_level = o;
      const auto out = run_on_model(cfg_named(c), compile_graph(g, cfg_named(c), opts), in);
      expect_bits(out.at("y"), want, fmt::format("{} on {} -O{}", what, c, o));
      ++g_checked;
    }
}

float host_max(float a, float b) {  // FMAX: NaN if either is NaN, max(-0, +0) = +0
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
float host_min(float a, float b) {  // FMIN: NaN if either is NaN, min(-0, +0) = -0
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

std::string shape_yaml(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

TEST(ReduceOnModel, RandomShapesAxesKeepdims) {
  std::mt19937 rng(seed());
  const char* ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"};
  for (int iter = 0; iter < 48; ++iter) {
    const std::string op = ops[iter % 4];
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> xs;
    for (size_t d = 0; d < rank; ++d)
      xs.push_back(rng() % 5 == 0 ? 1 : 1 + int64_t(rng() % (rng() % 4 == 0 ? 19 : 7)));
    // Axes: a random subset (empty = all axes), each sometimes negative.
    std::vector<int64_t> axes;
    std::set<int64_t> red;
    for (size_t d = 0; d < rank; ++d)
      if (rng() % 2) {
        red.insert(int64_t(d));
        axes.push_back(rng() % 2 ? int64_t(d) - int64_t(rank) : int64_t(d));
      }
    std::shuffle(axes.begin(), axes.end(), rng);
    if (axes.empty())
      for (size_t d = 0; d < rank; ++d) red.insert(int64_t(d));
    // At most 4 stream dims: keep drawing until the mapping fits (checked below too).
    const bool keep = rng() % 2;
    const HostTensor x = random_tensor(rng, xs);
    // Host: per output element (kept dims in C order), the reduced elements in C order.
    std::vector<int64_t> kshape, ys;
    for (size_t d = 0; d < rank; ++d) {
      kshape.push_back(red.count(int64_t(d)) ? 1 : xs[d]);
      if (!red.count(int64_t(d)))
        ys.push_back(xs[d]);
      else if (keep)
        ys.push_back(1);
    }
    std::vector<int64_t> rshape;
    for (int64_t a : red) rshape.push_back(xs[size_t(a)]);
    const auto st = strides(xs);
    HostTensor want;
    want.shape = ys;
    for_each(kshape, [&](const std::vector<int64_t>& k) {
      float acc = op == "ReduceMax" ? -INFINITY : op == "ReduceMin" ? INFINITY : -0.0f;
      for_each(rshape, [&](const std::vector<int64_t>& r) {
        std::vector<int64_t> i = k;
        size_t j = 0;
        for (int64_t a : red) i[size_t(a)] = r[j++];
        int64_t off = 0;
        for (size_t d = 0; d < rank; ++d) off += i[d] * st[d];
        const float v = x.data[size_t(off)];
        acc = op == "ReduceMax" ? host_max(acc, v) : op == "ReduceMin" ? host_min(acc, v) : acc + v;
      });
      if (op == "ReduceMean") acc = acc * (1.0f / float(numel(rshape)));
      want.data.push_back(acc);
    });
    std::string yaml = fmt::format("opset: 13\ninputs:\n  - {{name: x, shape: {}}}\n", shape_yaml(xs));
    std::string attrs = fmt::format("keepdims: {}", keep ? 1 : 0);
    std::string ins = "x";
    if (op == "ReduceSum") {
      if (!axes.empty()) {
        yaml += fmt::format("constants:\n  - {{name: axes, shape: [{}], dtype: int64, values: {}}}\n", axes.size(),
                            shape_yaml(axes));
        ins += ", axes";
      }
    } else if (!axes.empty()) {
      attrs += ", axes: " + shape_yaml(axes);
    }
    yaml += fmt::format("nodes:\n  - {{op: {}, name: red, inputs: [{}], outputs: [y], attrs: {{{}}}}}\n", op, ins,
                        attrs);
    yaml += "outputs:\n  - y\n";
    const std::string what = fmt::format("iter {}: {} {} axes {} keepdims {}", iter, op, shape_yaml(xs),
                                         shape_yaml(axes), keep);
    // Mappings over more than 4 stream dims are errors naming the node (checked apart).
    try {
      check(yaml, x, want, what);
    } catch (const CompileError& e) {
      EXPECT_THAT(e.what(), HasSubstr("node 'red'")) << what;
      EXPECT_THAT(e.what(), HasSubstr("4")) << what;
      std::printf("%s: not mappable: %s\n", what.c_str(), e.what());
    }
    if (HasFatalFailure()) return;
  }
  std::printf("%d model runs compared\n", g_checked);
  g_checked = 0;
}

TEST(ReduceOnModel, TooManyDimensionsNamesTheNode) {
  const std::string yaml =
      "opset: 11\ninputs:\n  - {name: x, shape: [2, 5, 2, 5, 2]}\n"
      "nodes:\n  - {op: ReduceSum, name: big, inputs: [x], outputs: [y], attrs: {axes: [0, 2, 4]}}\n"
      "outputs:\n  - y\n";
  const Graph g = load_yaml_string(yaml, "five.yaml");
  try {
    compile_graph(g, cfg_named("tiny"));
    FAIL() << "expected a CompileError";
  } catch (const CompileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'big' (ReduceSum)"));
    EXPECT_THAT(e.what(), HasSubstr("an AGCU stream has 4"));
  }
}

TEST(ReduceOnModel, MaxOverRowsUsesTheReduceTree) {
  // ReduceMax over the innermost axis: contiguous row loads (one load stream; the ragged
  // tail masked by the PCU's counter chain, TAIL), one stored vector (lane 0) per output;
  // ReduceSum: one lane per output (one load stream, ceil(6/LANES) stored vectors).
  for (const char* op : {"ReduceMax", "ReduceSum"}) {
    const std::string yaml = fmt::format(
        "opset: 11\ninputs:\n  - {{name: x, shape: [6, 10]}}\n"
        "nodes:\n  - {{op: {}, name: r, inputs: [x], outputs: [y], attrs: {{axes: [1], keepdims: 0}}}}\n"
        "outputs:\n  - y\n", op);
    CompileStats st;
    compile_graph(load_yaml_string(yaml, "rows.yaml"), cfg_named("tiny"), {}, &st);
    ASSERT_EQ(st.sections.size(), 1u);
    const bool tree = std::string(op) == "ReduceMax";
    EXPECT_EQ(st.sections[0].vectors, tree ? 6u : 2u) << op;
    const std::string& u = st.sections[0].units;  // "pcu0 (..); agcu0.ld0 agcu1.ld0 agcu0.st0; .."
    int loads = 0;
    for (size_t p = u.find(".ld"); p != std::string::npos; p = u.find(".ld", p + 1)) ++loads;
    EXPECT_EQ(loads, 1) << op << ": " << u;
  }
}

TEST(ReduceOnModel, SumIsSequentialCOrderNotPairwise) {
  // 1e8 + 1 + ... : a C-order sum from -0 keeps 1e8 (each 1 is lost), a pairwise sum of
  // the ones would not. The device must give the sequential result.
  HostTensor x;
  x.shape = {1, 9};
  x.data = {1e8f, 1, 1, 1, 1, 1, 1, 1, 1};
  HostTensor want;
  want.shape = {1};
  float acc = -0.0f;
  for (float v : x.data) acc += v;
  want.data = {acc};
  ASSERT_EQ(acc, 1e8f);
  check("opset: 13\ninputs:\n  - {name: x, shape: [1, 9]}\nconstants:\n  - {name: a, shape: [1], dtype: int64, "
        "values: [1]}\nnodes:\n  - {op: ReduceSum, inputs: [x, a], outputs: [y], attrs: {keepdims: 0}}\n"
        "outputs:\n  - y\n",
        x, want, "sequential sum");
}

TEST(MovementOnModel, RandomSlices) {
  std::mt19937 rng(seed() + 1);
  for (int iter = 0; iter < 80; ++iter) {
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> xs;
    for (size_t d = 0; d < rank; ++d) xs.push_back(rng() % 6 == 0 ? 1 : 1 + int64_t(rng() % 11));
    const HostTensor x = random_tensor(rng, xs);
    // Per sliced axis: start, end (may be out of range or negative), step (+-1..3).
    std::vector<int64_t> starts, ends, axes, steps;
    std::vector<int64_t> b(rank, 0), s(rank, 1), n(xs);
    for (size_t d = 0; d < rank; ++d) {
      if (rng() % 3 == 0) continue;
      const int64_t D = xs[d];
      int64_t step = 1 + int64_t(rng() % 3);
      if (rng() % 2) step = -step;
      int64_t st = int64_t(rng() % uint64_t(D + 2)) - 1, en = int64_t(rng() % uint64_t(D + 3)) - 1;
      if (rng() % 4 == 0) st -= D;  // negative (from the end)
      // ONNX clamping, as the host reference of the slice.
      auto clamp = [&](int64_t v, bool is_end) {
        if (v < 0) v += D;
        if (step > 0) return std::clamp<int64_t>(v, 0, D);
        return std::clamp<int64_t>(v, is_end ? -1 : 0, D - 1);
      };
      const int64_t cs = clamp(st, false), ce = clamp(en, true);
      const int64_t cnt = step > 0 ? std::max<int64_t>(0, (ce - cs + step - 1) / step)
                                   : std::max<int64_t>(0, (cs - ce + (-step) - 1) / (-step));
      if (cnt == 0) continue;  // empty outputs are not lowered
      starts.push_back(st);
      ends.push_back(en);
      axes.push_back(rng() % 2 ? int64_t(d) - int64_t(rank) : int64_t(d));
      steps.push_back(step);
      b[d] = cs, s[d] = step, n[d] = cnt;
    }
    if (axes.empty()) continue;
    HostTensor want;
    want.shape = n;
    const auto xst = strides(xs);
    for_each(n, [&](const std::vector<int64_t>& i) {
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) off += (b[d] + i[d] * s[d]) * xst[d];
      want.data.push_back(x.data[size_t(off)]);
    });
    const size_t k = axes.size();
    const std::string yaml = fmt::format(
        "opset: 13\ninputs:\n  - {{name: x, shape: {}}}\nconstants:\n"
        "  - {{name: st, shape: [{}], dtype: int64, values: {}}}\n"
        "  - {{name: en, shape: [{}], dtype: int64, values: {}}}\n"
        "  - {{name: ax, shape: [{}], dtype: int64, values: {}}}\n"
        "  - {{name: sp, shape: [{}], dtype: int64, values: {}}}\n"
        "nodes:\n  - {{op: Slice, name: sl, inputs: [x, st, en, ax, sp], outputs: [y]}}\noutputs:\n  - y\n",
        shape_yaml(xs), k, shape_yaml(starts), k, shape_yaml(ends), k, shape_yaml(axes), k, shape_yaml(steps));
    check(yaml, x, want,
          fmt::format("iter {}: Slice {} starts {} ends {} axes {} steps {}", iter, shape_yaml(xs), shape_yaml(starts),
                      shape_yaml(ends), shape_yaml(axes), shape_yaml(steps)));
    if (HasFatalFailure()) return;
  }
  std::printf("%d model runs compared\n", g_checked);
  g_checked = 0;
}

TEST(MovementOnModel, RandomConcats) {
  std::mt19937 rng(seed() + 2);
  for (int iter = 0; iter < 30; ++iter) {
    const size_t rank = 1 + rng() % 3;
    std::vector<int64_t> xs;
    for (size_t d = 0; d < rank; ++d) xs.push_back(1 + int64_t(rng() % 7));
    const size_t axis = rng() % rank;
    const HostTensor x = random_tensor(rng, xs);
    // Inputs: x, a constant c (other size along the axis), x again.
    std::vector<int64_t> cs = xs;
    cs[axis] = 1 + int64_t(rng() % 9);
    HostTensor c = random_tensor(rng, cs);
    for (float& v : c.data)  // YAML constants are finite
      if (!std::isfinite(v)) v = 1.5f;
    std::vector<int64_t> ys = xs;
    ys[axis] = 2 * xs[axis] + cs[axis];
    HostTensor want;
    want.shape = ys;
    const auto yst = strides(ys);
    want.data.assign(size_t(numel(ys)), 0.0f);
    int64_t at = 0;
    for (const HostTensor* t : {&x, static_cast<const HostTensor*>(&c), &x}) {
      const auto tst = strides(t->shape);
      for_each(t->shape, [&](const std::vector<int64_t>& i) {
        int64_t src = 0, dst = 0;
        for (size_t d = 0; d < rank; ++d) {
          src += i[d] * tst[d];
          dst += (i[d] + (d == axis ? at : 0)) * yst[d];
        }
        want.data[size_t(dst)] = t->data[size_t(src)];
      });
      at += t->shape[axis];
    }
    const int64_t ax = rng() % 2 ? int64_t(axis) - int64_t(rank) : int64_t(axis);
    const std::string yaml = fmt::format(
        "opset: 13\ninputs:\n  - {{name: x, shape: {}}}\nconstants:\n  - {{name: c, shape: {}, values: [{}]}}\n"
        "nodes:\n  - {{op: Concat, name: cat, inputs: [x, c, x], outputs: [y], attrs: {{axis: {}}}}}\n"
        "outputs:\n  - y\n",
        shape_yaml(xs), shape_yaml(cs), floats(c.data), ax);
    check(yaml, x, want, fmt::format("iter {}: Concat {} {} axis {}", iter, shape_yaml(xs), shape_yaml(cs), ax));
    if (HasFatalFailure()) return;
  }
  std::printf("%d model runs compared\n", g_checked);
  g_checked = 0;
}

TEST(MovementOnModel, RandomGathers) {
  std::mt19937 rng(seed() + 3);
  for (int iter = 0; iter < 30; ++iter) {
    const size_t rank = 1 + rng() % 3;
    std::vector<int64_t> xs;
    for (size_t d = 0; d < rank; ++d) xs.push_back(1 + int64_t(rng() % 9));
    const size_t axis = iter % 3 == 0 ? 0 : rng() % rank;
    const HostTensor x = random_tensor(rng, xs);
    const int64_t D = xs[axis];
    // Indices: 1-D or 2-D, runs (ascending, descending, repeated) and random ones,
    // sometimes negative.
    std::vector<int64_t> ishape = rng() % 3 == 0 ? std::vector<int64_t>{2, 1 + int64_t(rng() % 3)}
                                                 : std::vector<int64_t>{1 + int64_t(rng() % 6)};
    std::vector<int64_t> idx;
    const int pattern = int(rng() % 4);
    const int64_t start = int64_t(rng() % uint64_t(D));
    for (int64_t j = 0; j < numel(ishape); ++j) {
      int64_t v = pattern == 0 ? (start + j) % D : pattern == 1 ? ((start - j) % D + D) % D
                  : pattern == 2 ? start : int64_t(rng() % uint64_t(D));
      idx.push_back(v);
    }
    std::vector<int64_t> iv = idx;
    for (int64_t& v : iv)
      if (rng() % 3 == 0) v -= D;
    std::vector<int64_t> ys(xs.begin(), xs.begin() + int64_t(axis));
    ys.insert(ys.end(), ishape.begin(), ishape.end());
    ys.insert(ys.end(), xs.begin() + int64_t(axis) + 1, xs.end());
    int64_t pre = 1, post = 1;
    for (size_t d = 0; d < axis; ++d) pre *= xs[d];
    for (size_t d = axis + 1; d < rank; ++d) post *= xs[d];
    HostTensor want;
    want.shape = ys;
    for (int64_t p = 0; p < pre; ++p)
      for (int64_t i : idx)
        for (int64_t q = 0; q < post; ++q) want.data.push_back(x.data[size_t((p * D + i) * post + q)]);
    const int64_t ax = rng() % 2 ? int64_t(axis) - int64_t(rank) : int64_t(axis);
    const std::string yaml = fmt::format(
        "opset: 13\ninputs:\n  - {{name: x, shape: {}}}\nconstants:\n"
        "  - {{name: i, shape: {}, dtype: int64, values: {}}}\n"
        "nodes:\n  - {{op: Gather, name: ga, inputs: [x, i], outputs: [y], attrs: {{axis: {}}}}}\noutputs:\n  - y\n",
        shape_yaml(xs), shape_yaml(ishape), shape_yaml(iv), ax);
    check(yaml, x, want, fmt::format("iter {}: Gather {} axis {} indices {}", iter, shape_yaml(xs), ax, shape_yaml(iv)));
    if (HasFatalFailure()) return;
  }
  std::printf("%d model runs compared\n", g_checked);
  g_checked = 0;
}

TEST(MovementOnModel, SectionsPerOperator) {
  // Concat: one section per input; Gather: one per arithmetic run of indices; Slice: one.
  const std::string yaml =
      "opset: 13\ninputs:\n  - {name: x, shape: [6, 5]}\nconstants:\n"
      "  - {name: i, shape: [5], dtype: int64, values: [0, 2, 4, 1, 1]}\n"
      "nodes:\n  - {op: Gather, name: ga, inputs: [x, i], outputs: [g], attrs: {axis: 0}}\n"
      "  - {op: Concat, name: cat, inputs: [g, x], outputs: [y], attrs: {axis: 0}}\noutputs:\n  - y\n";
  const Graph g = load_yaml_string(yaml, "sections.yaml");
  CompileStats st;
  compile_graph(g, cfg_named("tiny"), {}, &st);
  std::vector<std::string> names;
  for (const auto& s : st.sections) names.push_back(s.name);
  EXPECT_THAT(names, ::testing::ElementsAre("ga[0:3]", "ga[3:5]", "cat[0]", "cat[1]"));
}

// Slices that only a Concat reads are copied from their source straight into the
// Concat's output (no Slice section): along the Concat's axis, and im2col-style (2-D
// strided windows, unsqueezed, concatenated on the new axis). Compiled for tiny and
// small at -O0/-O1/-O3: equal to the CPU reference bit for bit, one section per Concat
// input; a Slice that is also a graph output keeps its own section.
TEST(MovementOnModel, SlicesCopiedIntoConcat) {
  std::mt19937 rng(seed() + 7);
  auto slice_node = [](const std::string& name, const std::string& in, const std::string& out,
                       const std::vector<int64_t>& st, const std::vector<int64_t>& en, const std::vector<int64_t>& ax,
                       const std::vector<int64_t>& sp, std::string& consts) {
    const size_t n = st.size();
    consts += fmt::format(
        "  - {{name: {0}_st, shape: [{1}], dtype: int64, values: {2}}}\n"
        "  - {{name: {0}_en, shape: [{1}], dtype: int64, values: {3}}}\n"
        "  - {{name: {0}_ax, shape: [{1}], dtype: int64, values: {4}}}\n"
        "  - {{name: {0}_sp, shape: [{1}], dtype: int64, values: {5}}}\n",
        name, n, shape_yaml(st), shape_yaml(en), shape_yaml(ax), shape_yaml(sp));
    return fmt::format("  - {{op: Slice, name: {0}, inputs: [{1}, {0}_st, {0}_en, {0}_ax, {0}_sp], outputs: [{2}]}}\n",
                       name, in, out);
  };
  int fused = 0;
  for (int iter = 0; iter < 24; ++iter) {
    const size_t rank = 2 + rng() % 3;
    std::vector<int64_t> xs;
    for (size_t d = 0; d < rank; ++d) xs.push_back(2 + int64_t(rng() % 6));
    const HostTensor x = random_tensor(rng, xs);
    std::string consts, nodes;
    size_t cat_axis = 0;
    const bool im2col = iter % 2 == 1;
    const bool keep_output = iter % 6 == 0;  // s1 also a graph output: not fused
    if (!im2col) {
      cat_axis = rng() % rank;
      const int64_t dim = xs[cat_axis];
      const int64_t s1 = int64_t(rng() % uint32_t(dim)), s2 = int64_t(rng() % uint32_t(dim));
      const int64_t t1 = 1 + int64_t(rng() % 2);
      nodes += slice_node("s1", "x", "a", {s1}, {dim}, {int64_t(cat_axis)}, {t1}, consts);
      nodes += slice_node("s2", "x", "b", {dim - 1 - s2}, {-dim - 1}, {int64_t(cat_axis)}, {-1}, consts);
      nodes += fmt::format("  - {{op: Concat, name: cat, inputs: [a, b], outputs: [y], attrs: {{axis: {}}}}}\n",
                           cat_axis);
    } else {
      // Two 2-D windows of the last two dims (stride 2 or 1), unsqueezed at axis k.
      const int64_t h = xs[rank - 2], w = xs[rank - 1];
      const int64_t sh = 1 + int64_t(rng() % 2), sw = 1 + int64_t(rng() % 2);
      // oh x ow windows from offsets 0 and 1: 1 + (oh-1)*sh <= h-1.
      const int64_t oh = (h - 2) / sh + 1, ow = (w - 2) / sw + 1;
      const int64_t eh = (oh - 1) * sh + 1, ew = (ow - 1) * sw + 1;  // end of the window from offset 0
      const int64_t r2 = int64_t(rank) - 2, r1 = int64_t(rank) - 1;
      nodes += slice_node("s1", "x", "a", {0, 0}, {eh, ew}, {r2, r1}, {sh, sw}, consts);
      nodes += slice_node("s2", "x", "b", {1, 1}, {1 + eh, 1 + ew}, {r2, r1}, {sh, sw}, consts);
      cat_axis = rng() % (rank + 1);
      consts += fmt::format("  - {{name: uax, shape: [1], dtype: int64, values: [{}]}}\n", cat_axis);
      nodes += "  - {op: Unsqueeze, name: ua, inputs: [a, uax], outputs: [ua]}\n"
               "  - {op: Unsqueeze, name: ub, inputs: [b, uax], outputs: [ub]}\n";
      nodes += fmt::format("  - {{op: Concat, name: cat, inputs: [ua, ub], outputs: [y], attrs: {{axis: {}}}}}\n",
                           cat_axis);
    }
    const std::string yaml = fmt::format("opset: 13\ninputs:\n  - {{name: x, shape: {}}}\nconstants:\n{}nodes:\n{}"
                                         "outputs:\n  - y\n{}",
                                         shape_yaml(xs), consts, nodes, keep_output ? "  - a\n" : "");
    SCOPED_TRACE(yaml);
    const Graph g = load_yaml_string(yaml, "slices.yaml");
    const std::map<std::string, HostTensor> in = {{"x", x}};
    const auto ref = reference_run(g, in);
    for (const char* c : {"tiny", "small"})
      for (int o : {0, 1, 3}) {
        Options opts;
        opts.opt_level = o;
        const pef::Pef pef = compile_graph(g, cfg_named(c), opts);
        // Fused: one copy per Concat input; kept: also the Slice's own section. At -O3 these
        // independent sections may share sections (docs/compiler.md, "Merged sections").
        if (o == 3)
          EXPECT_LE(pef.sections.size(), keep_output ? 3u : 2u) << c << " -O" << o;
        else
          EXPECT_EQ(pef.sections.size(), keep_output ? 3u : 2u) << c << " -O" << o;
        const auto out = run_on_model(cfg_named(c), pef, in);
        for (const auto& [name, want] : ref) expect_bits(out.at(name), want, fmt::format("{} on {} -O{}", name, c, o));
        fused += !keep_output;
      }
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(fused, 0);
}

}  // namespace
}  // namespace openrdu::compiler
