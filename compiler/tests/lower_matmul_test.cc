// MatMul, Gemm, Transpose and views lowered onto the grid, run on the functional model
// (model::Core) and compared bit for bit with an independent host computation (the
// fma chain the architecture specifies: acc = fma(a, b, acc) over k ascending from
// -0.0; Gemm: fl(alpha*p), then fma(beta, C, p)) and with the CPU reference
// (compiler::reference_run). Shapes are drawn with a seed (OPENRDU_SEED).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <functional>

#include "lower.h"
#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::expect_bits;
using test::init_i64;
using test::ModelBuilder;
using test::run_on_model;
using test::set_float;
using test::set_int;
using test::set_ints;
using test::small;
using test::tiny;
using test::seed;
using test::numel;
using ::testing::HasSubstr;

HostTensor random_tensor(std::mt19937& rng, const std::vector<int64_t>& shape) {
  HostTensor t;
  t.shape = shape;
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::uniform_int_distribution<int> kind(0, 29);
  for (int64_t i = 0; i < numel(shape); ++i) {
    const int k = kind(rng);
    t.data.push_back(k == 0 ? -0.0f : k == 1 ? 0.0f : k == 2 ? std::ldexp(u(rng), -130) : u(rng));
  }
  return t;
}

// numpy matmul (1-D promotion, batch broadcasting) as the fma chain; a and b as stored,
// ta/tb: the last two dims are transposed (Gemm).
HostTensor host_matmul(const HostTensor& a, const HostTensor& b, bool ta, bool tb) {
  auto mk = [](const std::vector<int64_t>& s, bool t, bool is_a, int64_t& rows, int64_t& cols, int64_t& rs,
               int64_t& cs, std::vector<int64_t>& batch) {
    if (s.size() == 1) {
      if (is_a)
        rows = 1, cols = s[0], rs = 0, cs = 1;
      else
        rows = s[0], cols = 1, rs = 1, cs = 0;
      return;
    }
    const size_t r = s.size();
    batch.assign(s.begin(), s.end() - 2);
    if (t)
      rows = s[r - 1], cols = s[r - 2], rs = 1, cs = s[r - 1];
    else
      rows = s[r - 2], cols = s[r - 1], rs = s[r - 1], cs = 1;
  };
  int64_t M, K, K2, N, am, ak, bk, bn;
  std::vector<int64_t> ab, bb;
  mk(a.shape, ta, true, M, K, am, ak, ab);
  mk(b.shape, tb, false, K2, N, bk, bn, bb);
  EXPECT_EQ(K, K2);
  const size_t r = std::max(ab.size(), bb.size());
  std::vector<int64_t> ob(r), pa(r, 1), pb(r, 1);
  for (size_t i = 0; i < r; ++i) {
    const size_t k = r - 1 - i;
    pa[k] = i < ab.size() ? ab[ab.size() - 1 - i] : 1;
    pb[k] = i < bb.size() ? bb[bb.size() - 1 - i] : 1;
    ob[k] = std::max(pa[k], pb[k]);
  }
  HostTensor y;
  y.shape = ob;
  if (a.shape.size() > 1) y.shape.push_back(M);
  if (b.shape.size() > 1) y.shape.push_back(N);
  const int64_t nb = numel(ob);
  for (int64_t bi = 0; bi < nb; ++bi) {
    int64_t rem = bi, oa = 0, ob_ = 0, sa = 1, sb = 1;
    for (size_t i = r; i-- > 0;) {
      const int64_t idx = rem % ob[i];
      rem /= ob[i];
      oa += (pa[i] == 1 ? 0 : idx) * sa;
      ob_ += (pb[i] == 1 ? 0 : idx) * sb;
      sa *= pa[i];
      sb *= pb[i];
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        float acc = -0.0f;
        for (int64_t k = 0; k < K; ++k)
          acc = std::fma(a.data[size_t(oa * M * K + m * am + k * ak)], b.data[size_t(ob_ * K * N + k * bk + n * bn)],
                         acc);
        y.data.push_back(acc);
      }
  }
  return y;
}

// Compile for tiny and small at -O0 and -O1, run on the model, compare with `want`
// and with the CPU reference.
void check_model(const std::string& bytes, const std::map<std::string, HostTensor>& in,
                 const std::map<std::string, HostTensor>& want, const std::string& what) {
  const Graph g = import_onnx_bytes(bytes, what);
  const auto ref = reference_run(g, in);
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(ref.count(name)) << what << ": reference has no output " << name;
    expect_bits(ref.at(name), w, what + " (CPU reference) " + name);
  }
  for (const arch::Config* cfg : {&tiny(), &small()})
    for (int o : {0, 1}) {
      Options opts;
      opts.opt_level = o;
      const auto out = run_on_model(*cfg, compile_graph(g, *cfg, opts), in);
      for (const auto& [name, w] : want) {
        ASSERT_TRUE(out.count(name)) << what << ": no output " << name;
        expect_bits(out.at(name), w, fmt::format("{} on {} -O{}: {}", what, cfg->name, o, name));
      }
    }
}

TEST(MatMulOnModel, RandomShapes) {
  std::mt19937 rng(seed());
  for (int iter = 0; iter < 40; ++iter) {
    // M, K, N in 1..9 (1 and lane tails included), sometimes larger.
    auto dim = [&] { return int64_t(rng() % 5 == 0 ? 1 : 1 + rng() % (rng() % 4 == 0 ? 21 : 9)); };
    const int64_t M = dim(), K = dim(), N = dim();
    std::vector<int64_t> sa = {M, K}, sb = {K, N};
    switch (iter % 8) {
      case 1:  // batched A, 2-D B
        sa.insert(sa.begin(), 1 + int64_t(rng() % 3));
        break;
      case 2:  // broadcast batch dims on both
        sa.insert(sa.begin(), {2, 1});
        sb.insert(sb.begin(), 3);
        break;
      case 3:  // 1-D A
        sa = {K};
        break;
      case 4:  // 1-D B, batched A
        sb = {K};
        sa.insert(sa.begin(), 2);
        break;
      case 5:  // both 1-D: a dot product, scalar output
        sa = {K};
        sb = {K};
        break;
      default:
        break;
    }
    const bool const_a = rng() % 4 == 0, const_b = rng() % 2 == 0;
    ModelBuilder b;
    const HostTensor A = random_tensor(rng, sa), B = random_tensor(rng, sb);
    std::map<std::string, HostTensor> in;
    if (const_a)
      b.init("a", sa, A.data);
    else {
      b.input("a", sa);
      in["a"] = A;
    }
    if (const_b)
      b.init("b", sb, B.data);
    else {
      b.input("b", sb);
      in["b"] = B;
    }
    if (in.empty()) {  // keep one run-time input
      b.input("z", {1});
      in["z"] = {{1}, {0.0f}};
    }
    b.node("MatMul", {"a", "b"}, {"y"}, "mm");
    b.output("y");
    const std::string what = fmt::format("iter {} MatMul {}{} x {}{}", iter, shape_str(sa), const_a ? " (const)" : "",
                                         shape_str(sb), const_b ? " (const)" : "");
    check_model(b.bytes(), in, {{"y", host_matmul(A, B, false, false)}}, what);
  }
}

TEST(GemmOnModel, TransposesAlphaBetaBias) {
  std::mt19937 rng(seed() + 1);
  const float alphas[] = {1.0f, 0.5f, -1.25f, 3.0f};
  const float betas[] = {1.0f, 0.0f, 2.5f, -0.75f};
  for (int iter = 0; iter < 32; ++iter) {
    const int64_t M = 1 + rng() % 9, K = 1 + rng() % 11, N = 1 + rng() % 9;
    const bool ta = rng() % 2, tb = rng() % 2;
    const float alpha = alphas[rng() % 4], beta = betas[rng() % 4];
    const int cform = int(rng() % 6);  // none, [N], [M,N], [M,1], [1], scalar
    std::vector<int64_t> sa = ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K};
    std::vector<int64_t> sb = tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
    std::vector<int64_t> sc;
    if (cform == 1) sc = {N};
    if (cform == 2) sc = {M, N};
    if (cform == 3) sc = {M, 1};
    if (cform == 4) sc = {1};
    const bool const_b = rng() % 2, const_c = rng() % 2, const_a = rng() % 5 == 0;
    ModelBuilder b;
    const HostTensor A = random_tensor(rng, sa), B = random_tensor(rng, sb), C = random_tensor(rng, sc);
    std::map<std::string, HostTensor> in;
    auto add = [&](const std::string& n, const HostTensor& t, bool c) {
      if (c)
        b.init(n, t.shape, t.data);
      else {
        b.input(n, t.shape);
        in[n] = t;
      }
    };
    add("a", A, const_a);
    add("b", B, const_b);
    if (cform) add("c", C, const_c);
    if (in.empty()) {
      b.input("z", {1});
      in["z"] = {{1}, {0.0f}};
    }
    auto* n = cform ? b.node("Gemm", {"a", "b", "c"}, {"y"}, "gemm") : b.node("Gemm", {"a", "b"}, {"y"}, "gemm");
    if (ta) set_int(n, "transA", 1);
    if (tb) set_int(n, "transB", 1);
    set_float(n, "alpha", alpha);
    set_float(n, "beta", beta);
    b.output("y");
    // Expected: p = chain; alpha != 1: fl(alpha*p); C and beta != 0: fma(beta, C, p).
    HostTensor y = host_matmul(A, B, ta, tb);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        float& p = y.data[size_t(m * N + j)];
        if (alpha != 1.0f) p = alpha * p;
        if (cform && beta != 0.0f) {
          const int64_t ci = cform == 1 ? j : cform == 2 ? m * N + j : cform == 3 ? m : 0;
          p = std::fma(beta, C.data[size_t(ci)], p);
        }
      }
    const std::string what = fmt::format("iter {} Gemm A{}{} B{}{} alpha {} beta {} C {}", iter, shape_str(sa),
                                         ta ? "^T" : "", shape_str(sb), tb ? "^T" : "", alpha, beta,
                                         cform ? shape_str(sc) : "none");
    check_model(b.bytes(), in, {{"y", y}}, what);
  }
}

TEST(TransposeOnModel, RandomPermutations) {
  std::mt19937 rng(seed() + 2);
  for (int iter = 0; iter < 30; ++iter) {
    const int rank = 1 + int(rng() % 4);
    std::vector<int64_t> sx;
    for (int d = 0; d < rank; ++d) sx.push_back(1 + int64_t(rng() % 6));
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const bool default_perm = iter % 7 == 0;
    if (default_perm) std::sort(perm.rbegin(), perm.rend());  // ONNX default: reversed
    ModelBuilder b;
    b.input("x", sx);
    auto* n = b.node("Transpose", {"x"}, {"y"}, "tr");
    if (!default_perm) set_ints(n, "perm", perm);
    b.output("y");
    const HostTensor X = random_tensor(rng, sx);
    std::vector<int64_t> sy(static_cast<size_t>(rank)), xs(static_cast<size_t>(rank), 1);
    for (int d = rank - 1; d > 0; --d) xs[size_t(d - 1)] = xs[size_t(d)] * sx[size_t(d)];
    for (int d = 0; d < rank; ++d) sy[size_t(d)] = sx[size_t(perm[size_t(d)])];
    HostTensor Y;
    Y.shape = sy;
    for (int64_t i = 0; i < numel(sy); ++i) {
      int64_t rem = i, off = 0;
      for (int d = rank - 1; d >= 0; --d) {
        off += (rem % sy[size_t(d)]) * xs[size_t(perm[size_t(d)])];
        rem /= sy[size_t(d)];
      }
      Y.data.push_back(X.data[size_t(off)]);
    }
    check_model(b.bytes(), {{"x", X}}, {{"y", Y}},
                fmt::format("iter {} Transpose {} perm {}", iter, shape_str(sx), shape_str(perm)));
  }
}

const pef::Tensor& tensor(const pef::Pef& p, const std::string& name) {
  for (const auto& t : p.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}
bool has_tensor(const pef::Pef& p, const std::string& name) {
  for (const auto& t : p.tensors)
    if (t.name == name) return true;
  return false;
}

TEST(ViewsOnModel, AliasWithoutSections) {
  // x [2,3,4] -> Reshape [6,4] -> Relu -> Unsqueeze(0) -> Squeeze(0) -> Flatten(1) -> y
  ModelBuilder b(13);
  b.input("x", {2, 3, 4});
  init_i64(b, "shape", {6, -1});
  init_i64(b, "axes", {0});
  b.node("Reshape", {"x", "shape"}, {"r"}, "reshape");
  b.node("Relu", {"r"}, {"h"}, "relu");
  b.node("Unsqueeze", {"h", "axes"}, {"u"}, "unsq");
  b.node("Squeeze", {"u", "axes"}, {"s"}, "sq");
  auto* f = b.node("Flatten", {"s"}, {"y"}, "flat");
  set_int(f, "axis", 1);
  b.output("y");
  std::mt19937 rng(7);
  const HostTensor X = random_tensor(rng, {2, 3, 4});
  HostTensor Y{{6, 4}, {}};
  for (float v : X.data) Y.data.push_back(std::isnan(v) ? v : std::fmax(v, 0.0f) == 0.0f ? 0.0f : std::fmax(v, 0.0f));
  const Graph g = import_onnx_bytes(b.bytes(), "views");
  const pef::Pef p = compile_graph(g, tiny());
  ASSERT_EQ(p.sections.size(), 1u) << "only the Relu is a section";
  // The Relu writes y's buffer directly (y owns it; h, u, s alias it and are not listed).
  EXPECT_TRUE(has_tensor(p, "y"));
  EXPECT_FALSE(has_tensor(p, "h"));
  EXPECT_EQ(tensor(p, "y").role, pef::Role::Output);
  const auto out = run_on_model(tiny(), p, {{"x", X}});
  expect_bits(out.at("y"), reference_run(g, {{"x", X}}).at("y"), "views vs reference");
  for (size_t i = 0; i < Y.data.size(); ++i) {
    const float v = X.data[i];
    EXPECT_EQ(test::bits(out.at("y").data[i]), test::bits(v > 0 ? v : 0.0f)) << i;  // max(-0, +0) = +0
  }
}

TEST(ViewsOnModel, OutputsThatCannotAliasAreCopied) {
  // y1 = Reshape(x) (a view of an input), y2 = Relu(x), y3 = Flatten(y2) (a view of
  // another output), y4 = Unsqueeze(h) and y5 = Flatten(h), h = Neg(x) (two views of one
  // buffer: the first owns it, the second is copied).
  ModelBuilder b(13);
  b.input("x", {3, 4});
  init_i64(b, "shape", {4, 3});
  init_i64(b, "axes", {0});
  b.node("Reshape", {"x", "shape"}, {"y1"}, "reshape");
  b.node("Relu", {"x"}, {"y2"}, "relu");
  set_int(b.node("Flatten", {"y2"}, {"y3"}, "flat"), "axis", 0);
  b.node("Neg", {"x"}, {"h"}, "neg");
  b.node("Unsqueeze", {"h", "axes"}, {"y4"}, "unsq");
  set_int(b.node("Flatten", {"h"}, {"y5"}, "flat2"), "axis", 2);
  for (const char* y : {"y1", "y2", "y3", "y4", "y5"}) b.output(y);
  std::mt19937 rng(8);
  const HostTensor X = random_tensor(rng, {3, 4});
  const Graph g = import_onnx_bytes(b.bytes(), "copies");
  const auto ref = reference_run(g, {{"x", X}});
  for (int o : {0, 1, 3}) {
    Options opts;
    opts.opt_level = o;
    const pef::Pef p = compile_graph(g, tiny(), opts);
    // Relu, Neg, and copies for y1, y3 and y5; at -O3 these independent sections may share
    // sections (docs/compiler.md, "Merged sections").
    if (o == 3)
      EXPECT_LE(p.sections.size(), 5u) << "-O" << o;
    else
      EXPECT_EQ(p.sections.size(), 5u) << "-O" << o;
    std::set<uint64_t> addrs;
    for (const char* y : {"y1", "y2", "y3", "y4", "y5"}) {
      EXPECT_EQ(tensor(p, y).role, pef::Role::Output) << y;
      EXPECT_TRUE(addrs.insert(tensor(p, y).dev_addr).second) << y << " shares a buffer";
    }
    EXPECT_NE(tensor(p, "y1").dev_addr, tensor(p, "x").dev_addr);
    const auto out = run_on_model(tiny(), p, {{"x", X}});
    for (const char* y : {"y1", "y2", "y3", "y4", "y5"}) expect_bits(out.at(y), ref.at(y), fmt::format("-O{} {}", o, y));
    for (size_t i = 0; i < X.data.size(); ++i) EXPECT_TRUE(test::same_f32(out.at("y1").data[i], X.data[i]));
  }
}

TEST(ViewsOnModel, FoldedConstantOutputIsCopied) {
  // y = Reshape(c) folds to a constant: the output gets a copy section from the weights.
  ModelBuilder b(13);
  b.input("x", {2});
  b.init("c", {2, 2}, {1.5f, -2.0f, 0.25f, -0.0f});
  init_i64(b, "shape", {4});
  b.node("Reshape", {"c", "shape"}, {"y"}, "reshape");
  b.node("Relu", {"x"}, {"z"}, "relu");
  b.output("y");
  b.output("z");
  const Graph g = import_onnx_bytes(b.bytes(), "const_out");
  const pef::Pef p = compile_graph(g, tiny());
  EXPECT_EQ(p.sections.size(), 2u);
  EXPECT_EQ(tensor(p, "y").role, pef::Role::Output);
  const auto out = run_on_model(tiny(), p, {{"x", {{2}, {-1.0f, 3.0f}}}});
  expect_bits(out.at("y"), {{4}, {1.5f, -2.0f, 0.25f, -0.0f}}, "folded constant output");
}

const auto error_of = test::compile_error_of;

TEST(MatMulErrors, ForcedChainThatDoesNotFitNamesTheNode) {
  // tiny's tiles have 4 rows (lanes): chains of 3 PCUs of at least 1 row each need 3
  // PCUs, tiny has 2; chains of 2 fit.
  ModelBuilder b;
  b.input("a", {8, 5});
  b.input("b", {5, 6});
  b.node("MatMul", {"a", "b"}, {"y"}, "mmc");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "chain.onnx");
  Options o;
  o.matmul_chain = 3;
  const std::string e = error_of([&] { compile_graph(g, tiny(), o); });
  EXPECT_THAT(e, HasSubstr("chain.onnx: node 'mmc' (MatMul): no mapping with drain chains of 3 PCUs on 'tiny'"));
  o.matmul_chain = -1;
  EXPECT_THAT(error_of([&] { compile_graph(g, tiny(), o); }), HasSubstr("matmul chain -1 is not supported"));
  o.matmul_chain = 2;
  EXPECT_NO_THROW(compile_graph(g, tiny(), o));
}

TEST(MatMulErrors, TooManyDimensionsNameTheNode) {
  {
    // Batch dims that do not merge: [2,1,3,1] x [1,2,1,2] -> four batch dims + k.
    ModelBuilder b;
    b.input("a", {2, 1, 3, 1, 4, 5});
    b.input("b", {1, 2, 1, 2, 5, 6});
    b.node("MatMul", {"a", "b"}, {"y"}, "mm5");
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), "bad.onnx");
    const std::string e = error_of([&] { compile_graph(g, tiny()); });
    EXPECT_THAT(e, HasSubstr("bad.onnx: node 'mm5' (MatMul) (load of A): the access needs "));
    EXPECT_THAT(e, HasSubstr(" address dimensions, an AGCU stream has 4"));
  }
  {
    ModelBuilder b;
    b.input("x", {2, 3, 2, 3, 2});
    set_ints(b.node("Transpose", {"x"}, {"y"}, "tr5"), "perm", {4, 3, 2, 1, 0});
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), "bad.onnx");
    EXPECT_THAT(error_of([&] { compile_graph(g, tiny()); }),
                HasSubstr("bad.onnx: node 'tr5' (Transpose): the permutation [4,3,2,1,0] of [2,3,2,3,2] needs 5 "
                          "dimensions after collapsing, at most 4"));
  }
}

// Every output element a section's store streams write (valid lanes), counted.
std::vector<int> written(const detail::SectionBuild& sb, int64_t elements, uint32_t lanes) {
  std::vector<int> w(size_t(elements), 0);
  std::vector<const detail::StreamPlan*> st = {&sb.store};
  for (const auto& m : sb.more_stores) st.push_back(&m);
  for (const auto* sp : st) {
    const arch::AgcuStream& s = sp->s;
    const uint64_t step = s.vstep ? s.vstep : lanes;
    uint32_t i[4];
    for (i[3] = 0; i[3] < s.c[3]; ++i[3])
      for (i[2] = 0; i[2] < s.c[2]; ++i[2])
        for (i[1] = 0; i[1] < s.c[1]; ++i[1])
          for (i[0] = 0; i[0] < s.c[0]; ++i[0]) {
            int64_t a = sp->offset;
            for (int d = 0; d < 4; ++d) a += int64_t(i[d]) * s.s[d];
            const uint64_t done = uint64_t(i[s.vdim & 3]) * step;
            const uint64_t n = std::min<uint64_t>({lanes, step, s.vlen > done ? s.vlen - done : 0});
            for (uint64_t l = 0; l < n; ++l) {
              const int64_t e = a + int64_t(l) * s.lstride;
              EXPECT_TRUE(e >= 0 && e < elements) << "store writes element " << e << " of " << elements;
              if (e >= 0 && e < elements) ++w[size_t(e)];
            }
          }
  }
  return w;
}

detail::SectionBuild lower_one(const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, const arch::Config& cfg,
                               detail::Lowered* keep = nullptr) {
  ModelBuilder b;
  b.input("a", sa);
  b.input("b", sb);
  b.node("MatMul", {"a", "b"}, {"y"}, "mm");
  b.output("y");
  const detail::Lowered lw = detail::legalize(import_onnx_bytes(b.bytes(), "mm.onnx"));
  auto r = detail::lower_matmul(lw, cfg, 0, "mm");
  if (keep) *keep = lw;
  return r;
}

int fma_stages(const arch::PcuConfig& pc) {
  int n = 0;
  for (const auto& st : pc.stages) n += st.acc && st.op == arch::Opcode::FMA;
  return n;
}

// The PCUs form drain chains of Pc (1: no chain) PCUs listed tail first: position c
// (the PCU's place from the head) has rows c*n_acc .. of each tile (broadcast lanes
// c*n_acc + s), forwards (Pc-1-c)*n_acc rows from input 2, which is the PCU listed
// before it; heads alone are stored, each by its own store stream, on distinct AGCUs.
void check_chains(const detail::SectionBuild& sb, const arch::Config& cfg, const std::string& what) {
  const size_t P = sb.more_stores.size() + 1;
  ASSERT_EQ(sb.pcu_cfgs.size() % P, 0u) << what;
  const size_t Pc = sb.pcu_cfgs.size() / P;
  const int n_acc = fma_stages(sb.pcu_cfgs[0]);
  ASSERT_GE(n_acc, 1) << what;
  for (size_t p = 0; p < sb.pcu_cfgs.size(); ++p) {
    const auto& pc = sb.pcu_cfgs[p];
    const size_t c = Pc - 1 - p % Pc;
    EXPECT_EQ(fma_stages(pc), n_acc) << what << " PCU " << p;
    EXPECT_EQ(size_t(pc.chain), (Pc - 1 - c) * size_t(n_acc)) << what << " PCU " << p;
    for (int s = 0; s < n_acc; ++s) EXPECT_EQ(pc.stages[size_t(s)].bl, c * size_t(n_acc) + size_t(s)) << what;
    EXPECT_EQ(pc.count, sb.pcu_cfgs[0].count) << what;
    const auto& in = sb.pcu_inputs[p];
    if (c + 1 < Pc) {
      ASSERT_EQ(in.size(), 3u) << what << " PCU " << p;
      EXPECT_TRUE(in[2].from_pcu && in[2].index == int(p) - 1) << what << " PCU " << p;
    } else {
      EXPECT_EQ(in.size(), 2u) << what << " PCU " << p;
    }
  }
  std::set<uint32_t> agcus = {sb.placement.store.agcu};
  for (const auto& s : sb.placement.more_stores) agcus.insert(s.agcu);
  EXPECT_EQ(agcus.size(), P) << what;
  EXPECT_LE(sb.pcu_cfgs.size(), size_t(cfg.num_pcu())) << what;
}

TEST(MatMulLowering, OuterProductProgram) {
  // A [8,5] x B [5,6] on tiny (4 lanes, 4 stages, 2 PCUs, 2 AGCUs): 4 rows per m-tile,
  // the work split over both PCUs, each with its own store stream.
  const auto sb = lower_one({8, 5}, {5, 6}, tiny());
  ASSERT_EQ(sb.pcu_cfgs.size(), 2u);
  ASSERT_EQ(sb.more_stores.size(), 1u);
  ASSERT_EQ(sb.placement.more_stores.size(), 1u);
  EXPECT_NE(sb.placement.more_stores[0].agcu, sb.placement.store.agcu);
  uint64_t firings = 0;
  for (const auto& pc : sb.pcu_cfgs) {
    EXPECT_EQ(pc.acc_len, 5u);
    EXPECT_EQ(pc.acc_init, 0x80000000u);
    EXPECT_EQ(pc.out_mode, 1);
    EXPECT_EQ(pc.vin_mask, 0b11);
    for (uint32_t s = 0; s < 4; ++s) {
      EXPECT_EQ(pc.stages[s].op, arch::Opcode::FMA);
      EXPECT_EQ(pc.stages[s].bl, s);
      EXPECT_TRUE(pc.stages[s].acc);
      EXPECT_EQ(pc.stages[s].src_a, uint8_t(arch::Src::BREG0));
      EXPECT_EQ(pc.stages[s].src_c, uint8_t(arch::Src::ACC));
    }
    firings += pc.count;
  }
  // 2 m-tiles x 2 n-tiles x K = 5 firings in all, none repeated.
  EXPECT_EQ(firings, 2u * 2u * 5u);
  // A: gathers of column k (lstride = row pitch 5), 4 valid lanes; B: contiguous rows.
  ASSERT_EQ(sb.loads.size(), 3u);
  int gathers = 0;
  for (const auto& l : sb.loads)
    if (l.s.lstride == 5) {
      ++gathers;
      EXPECT_EQ(l.s.vstep, 4u);
    } else
      EXPECT_EQ(l.s.lstride, 1);
  EXPECT_GE(gathers, 1);
  const auto w = written(sb, 8 * 6, 4);
  for (size_t e = 0; e < w.size(); ++e) EXPECT_EQ(w[e], 1) << "element " << e;
}

TEST(MatMulLowering, SplitsOverPcusWithTails) {
  // Every output element is written, at most twice (rows of overlapping m-parts hold
  // the same values), on both configurations; with tails in M, N and K and batches.
  struct Case {
    std::vector<int64_t> a, b;
    int64_t M, N, batch;
  };
  const Case cases[] = {{{30, 7}, {7, 10}, 30, 10, 1},       {{13, 9}, {9, 37}, 13, 37, 1},
                        {{512, 64}, {64, 512}, 512, 512, 1}, {{3, 7, 5}, {5, 9}, 7, 9, 3},
                        {{1, 17}, {17, 9}, 1, 9, 1},         {{6, 4}, {4, 70}, 6, 70, 1},
                        {{2, 11, 3}, {2, 3, 19}, 11, 19, 2}, {{97, 33}, {33, 5}, 97, 5, 1}};
  for (const arch::Config* cfg : {&tiny(), &small()})
    for (const Case& c : cases) {
      const std::string what = fmt::format("{} x {} on {}", shape_str(c.a), shape_str(c.b), cfg->name);
      const auto sb = lower_one(c.a, c.b, *cfg);
      std::printf("%s: %s\n", what.c_str(), sb.detail.c_str());
      const auto w = written(sb, c.batch * c.M * c.N, cfg->lanes);
      int64_t twice = 0;
      for (size_t e = 0; e < w.size(); ++e) {
        ASSERT_GE(w[e], 1) << what << ": element " << e << " not written";
        ASSERT_LE(w[e], 2) << what << ": element " << e;
        twice += w[e] == 2;
      }
      // Overlap is a few rows at most (less than one m-tile per m-part).
      EXPECT_LE(twice, c.batch * c.N * int64_t(cfg->stages) * int64_t(sb.pcu_cfgs.size())) << what;
      // One store stream per drain chain, on distinct AGCUs; the chains alike.
      check_chains(sb, *cfg, what);
    }
}

TEST(MatMulLowering, LargeProductUsesEveryStageAndSeveralPcus) {
  // 512^3 with A stored transposed (contiguous columns): 6 rows per PCU on small (12
  // per tile, M not a multiple of 12: overlapping m-parts), 4 rows on tiny; every PCU:
  // on small drain chains of 2 PCUs, one per store stream (4), so all 8 PCUs work; on
  // tiny a tile is one PCU's 4 lanes, so one PCU per store stream (2).
  for (const arch::Config* cfg : {&tiny(), &small()}) {
    ModelBuilder b;
    b.input("a", {512, 512});
    b.input("b", {512, 512});
    auto* n = b.node("Gemm", {"a", "b"}, {"y"}, "mm");
    set_int(n, "transA", 1);
    b.output("y");
    const detail::Lowered lw = detail::legalize(import_onnx_bytes(b.bytes(), "mm.onnx"));
    const auto sb = detail::lower_matmul(lw, *cfg, 0, "mm");
    EXPECT_EQ(fma_stages(sb.pcu_cfgs[0]), int(std::min(cfg->stages, cfg->lanes))) << cfg->name;
    EXPECT_EQ(sb.pcu_cfgs.size(), size_t(cfg->num_pcu())) << cfg->name;
    EXPECT_EQ(sb.more_stores.size() + 1, size_t(std::min(cfg->agcu, cfg->num_pcu()))) << cfg->name;
    check_chains(sb, *cfg, "512^3 on " + cfg->name);
    for (const auto& l : sb.loads) EXPECT_EQ(l.s.lstride, 1) << cfg->name;  // no gathers
    // No PCU fires more than its share (the 512 rows and 512 columns split evenly
    // but for the overlap rows of the m-parts).
    const uint64_t rows = 512 + cfg->lanes, share = rows * 512 / (std::min(cfg->stages, cfg->lanes) * cfg->lanes);
    for (const auto& pc : sb.pcu_cfgs) EXPECT_LE(uint64_t(pc.count), share * 512 / sb.pcu_cfgs.size()) << cfg->name;
  }
}

TEST(MatMulOnModel, SplitMappingsWithTails) {
  // Shapes that split over PCUs with overlapping m-parts, masked n-tiles, K = 1, batches
  // and transposed operands (Gemm), bit-exact on the functional model (tiny, small).
  std::mt19937 rng(seed() + 7);
  struct Case {
    std::vector<int64_t> a, b;
    bool ta, tb;
  };
  const Case cases[] = {{{30, 7}, {7, 10}, false, false},  {{13, 9}, {9, 37}, false, false},
                        {{37, 1}, {1, 41}, false, false},  {{3, 7, 5}, {5, 9}, false, false},
                        {{2, 11, 3}, {2, 3, 19}, false, false}, {{9, 23}, {29, 9}, true, true},
                        {{47, 33}, {33, 35}, false, false}, {{19, 14}, {31, 19}, true, true}};
  for (const Case& c : cases) {
    ModelBuilder b;
    const HostTensor A = random_tensor(rng, c.a), B = random_tensor(rng, c.b);
    b.input("a", c.a);
    b.init("b", c.b, B.data);
    const bool gemm = c.ta || c.tb;
    auto* n = b.node(gemm ? "Gemm" : "MatMul", {"a", "b"}, {"y"}, "mm");
    if (c.ta) set_int(n, "transA", 1);
    if (c.tb) set_int(n, "transB", 1);
    b.output("y");
    check_model(b.bytes(), {{"a", A}}, {{"y", host_matmul(A, B, c.ta, c.tb)}},
                fmt::format("{} {} x {}", gemm ? "Gemm" : "MatMul", shape_str(c.a), shape_str(c.b)));
  }
}

TEST(MatMulOnModel, DrainChainsBitExact) {
  // Products with contiguous A columns (A constant, stored transposed; or Gemm transA)
  // that small maps onto drain chains (several PCUs per store stream): ragged M and N,
  // batches, K = 1; checked for the chains, then bit-exact on the functional model of
  // tiny and small at -O0/-O1 against the host's fma chain.
  std::mt19937 rng(seed() + 11);
  struct Case {
    std::vector<int64_t> a, b;
    bool transA;
  };
  const Case cases[] = {{{64, 96}, {64, 200}, true},  {{33, 50}, {33, 70}, true},  {{2, 30, 20}, {2, 20, 40}, false},
                        {{1, 12}, {1, 64}, true},     {{24, 7}, {7, 33}, false},   {{100, 17}, {100, 130}, true}};
  int chained = 0;
  for (const Case& c : cases) {
    const std::string what = fmt::format("{}{} x {}", c.transA ? "Gemm transA " : "MatMul ", shape_str(c.a), shape_str(c.b));
    ModelBuilder b;
    const HostTensor A = random_tensor(rng, c.a), B = random_tensor(rng, c.b);
    if (c.transA)
      b.input("a", c.a);
    else
      b.init("a", c.a, A.data);
    b.input("b", c.b);
    auto* n = b.node(c.transA ? "Gemm" : "MatMul", {"a", "b"}, {"y"}, "mm");
    if (c.transA) set_int(n, "transA", 1);
    b.output("y");
    const detail::Lowered lw = detail::legalize(import_onnx_bytes(b.bytes(), "mm.onnx"), &small());
    int node = -1;
    for (size_t i = 0; i < lw.g.nodes.size(); ++i)
      if (lw.g.nodes[i].op == "MatMul" || lw.g.nodes[i].op == "Gemm") node = int(i);
    ASSERT_GE(node, 0) << what;
    const auto sb = detail::lower_matmul(lw, small(), node, "mm");
    std::printf("%s on small: %s\n", what.c_str(), sb.detail.c_str());
    check_chains(sb, small(), what);
    chained += sb.pcu_cfgs.size() > sb.more_stores.size() + 1;
    std::map<std::string, HostTensor> in = {{"b", B}};
    if (c.transA) in["a"] = A;
    check_model(b.bytes(), in, {{"y", host_matmul(A, B, c.transA, false)}}, what);
  }
  EXPECT_GE(chained, 4) << "too few of the cases use drain chains on small";
}

// ---------------------------------------------------------------- the example MLP
TEST(MlpExample, MatchesPyTorchAndReference) {
  const std::string dir = std::string(OPENRDU_EXAMPLES_DIR) + "/mlp";
  const Graph g = import_onnx_file(dir + "/model.onnx");
  const HostTensor x = test::load_npy(dir + "/inputs/x.npy");
  const HostTensor want = test::load_npy(dir + "/expected/y.npy");
  const auto ref = reference_run(g, {{"x", x}});
  for (const arch::Config* cfg : {&tiny(), &small()})
    for (int o : {0, 1, 3}) {
      Options opts;
      opts.opt_level = o;
      CompileStats st;
      const pef::Pef p = compile_graph(g, *cfg, opts, &st);
      const auto out = run_on_model(*cfg, p, {{"x", x}});
      const std::string what = fmt::format("mlp on {} -O{}", cfg->name, o);
      expect_bits(out.at("y"), ref.at("y"), what + " vs CPU reference");
      ASSERT_EQ(out.at("y").shape, want.shape);
      for (size_t i = 0; i < want.data.size(); ++i)
        EXPECT_LE(std::fabs(out.at("y").data[i] - want.data[i]), 1e-5 + 1e-4 * std::fabs(want.data[i]))
            << what << " element " << i << ": device " << out.at("y").data[i] << ", PyTorch " << want.data[i];
      std::printf("%s: %zu sections, %u PCUs\n", what.c_str(), p.sections.size(), st.pcus);
    }
}

}  // namespace
}  // namespace openrdu::compiler
