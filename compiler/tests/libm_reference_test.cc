// An independent mathematical reference: graphs compiled for tiny and run on the functional
// model, compared with double-precision definitions written here from the operators'
// mathematics (libm's exp, log, erf, tanh, pow in double; sums in double), not with the
// CPU reference (which runs the same operation sequences and decompositions as the
// compiler, so "bit-exact against the reference" checks the mapping, not the mathematics).
// Bounds, stated per operator:
//  - special functions: at most max_ulp units in the last place of the binary32 result
//    (the PCU sequences of lower_math.h; bench/ulp measures the primitives at <= 2.4 ULP),
//    plus, for Softplus and Elu, an absolute 2 u: log(1 + exp(x)) and exp(x) - 1 in
//    binary32 lose the relative precision where exp(x) is below u (Softplus of x < -16 is
//    off by up to 30%, 2.4e-7 for 1.8e-7) and where exp(x) - 1 cancels (Elu near 0);
//  - Softmax: relative error <= (|x - max| + n + 8) u per element of a row of n (the
//    shift's rounding amplified by exp, exp's few ULP, a sum of n positive terms, a division);
//  - Conv, AveragePool, GlobalAveragePool: |error| <= gamma(n) * sum|terms| + 2 ulp of the
//    result, gamma(n) = n u / (1 - n u), u = 2^-24, n the terms of the sum (the classical
//    bound of a floating-point sum of products in any order);
//  - MaxPool, GlobalMaxPool: exact (max involves no rounding);
//  - LayerNormalization: |error| <= 64 u (|y| + |b| + 1) (mean, variance, rsqrt, scale).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <random>
#include <string>

#include "model_run.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {
namespace {

constexpr double kU = 0x1p-24;  // binary32 unit roundoff

double ulp_of(double e) {  // binary32 spacing at |e| (2^-149 below 2^-126)
  const double a = std::fabs(e);
  if (a < 0x1p-126) return 0x1p-149;
  int ex = 0;
  std::frexp(a, &ex);
  return std::ldexp(1.0, ex - 24);
}

std::vector<float> random_values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::string list(const std::vector<float>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.9g}", i ? ", " : "", v[i]);
  return s + "]";
}

struct Constant {
  std::string name, shape;
  std::vector<float> values;
};

// A graph of one node (`node`: its YAML flow mapping, output y) over input x of `shape`
// ("[3, 64]") and the given constants.
std::string one_node_graph(int opset, const std::string& shape, const std::vector<Constant>& constants,
                           const std::string& node) {
  std::string y = fmt::format("opset: {}\ninputs:\n  - {{name: x, shape: {}}}\n", opset, shape);
  if (!constants.empty()) y += "constants:\n";
  for (const auto& c : constants)
    y += fmt::format("  - {{name: {}, shape: {}, values: {}}}\n", c.name, c.shape, list(c.values));
  return y + "nodes:\n  - " + node + "\noutputs:\n  - y\n";
}

// Compiles `yaml` for tiny at -O1 and -O3 and runs it on the functional model; returns
// output y of each level.
std::vector<std::vector<float>> run_both_levels(const std::string& yaml, const std::map<std::string, HostTensor>& in) {
  const arch::Config cfg = arch::load_config("tiny");
  const Graph g = load_yaml_string(yaml, "libm_reference.yaml");
  std::vector<std::vector<float>> out;
  for (int level : {1, 3}) {
    Options o;
    o.opt_level = level;
    out.push_back(test::run_on_model(cfg, compile_graph(g, cfg, o), in).at("y").data);
  }
  return out;
}

struct UnaryCase {
  const char* op;
  float lo, hi;
  double max_ulp;
  double abs_u;  // absolute error allowed beyond max_ulp, in units of u
  std::function<double(double)> exact;
  const char* attrs = "";
};

// Every special function on 512 inputs of its useful range: within max_ulp of libm.
TEST(LibmReference, SpecialFunctionsWithinStatedUlp) {
  const std::vector<UnaryCase> cases = {
      {"Exp", -87, 88, 4, 0, [](double x) { return std::exp(x); }},
      {"Log", 1e-6f, 1e6f, 4, 0, [](double x) { return std::log(x); }},
      {"Sqrt", 0, 1e6f, 1, 0, [](double x) { return std::sqrt(x); }},
      {"Reciprocal", 0.01f, 100, 1, 0, [](double x) { return 1 / x; }},
      {"Sigmoid", -30, 30, 4, 0, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Tanh", -9, 9, 4, 0, [](double x) { return std::tanh(x); }},
      {"Erf", -4, 4, 4, 0, [](double x) { return std::erf(x); }},
      {"Softplus", -20, 20, 8, 2, [](double x) { return std::log1p(std::exp(x)); }},
      {"Softsign", -50, 50, 4, 0, [](double x) { return x / (1 + std::fabs(x)); }},
      {"Elu", -10, 10, 8, 2, [](double x) { return x > 0 ? x : std::expm1(x); }, ", attrs: {alpha: 1.0}"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.op);
    const auto x = random_values(512, c.lo, c.hi, 20261207);
    const std::string yaml =
        one_node_graph(17, "[512]", {}, fmt::format("{{op: {}, inputs: [x], outputs: [y]{}}}", c.op, c.attrs));
    const auto outs = run_both_levels(yaml, {{"x", {{512}, x}}});
    for (const auto& y : outs) {
      double worst = 0;
      size_t wi = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double e = c.exact(x[i]);
        // In units of the bound's ULP part: at most max_ulp when within the bound.
        const double err = std::max(0.0, std::fabs(double(y[i]) - e) - c.abs_u * kU) / ulp_of(e);
        if (!(err <= worst)) worst = err, wi = i;
      }
      std::printf("%s: worst %.3f ULP (beyond %g u absolute) at x = %.9g\n", c.op, worst, c.abs_u, x[wi]);
      EXPECT_LE(worst, c.max_ulp) << c.op << " at x = " << x[wi] << ": got " << y[wi] << ", libm " << c.exact(x[wi]);
    }
  }
}

// Pow x^y (x > 0) on 256 pairs: within 16 ULP of libm's pow (exp(y log x) in binary32
// amplifies log's error by |y log x|: bounded here by the input ranges).
TEST(LibmReference, PowWithinStatedUlp) {
  const auto x = random_values(256, 0.1f, 10, 7), p = random_values(256, -3, 3, 8);
  const auto outs = run_both_levels(
      "opset: 17\ninputs:\n  - {name: x, shape: [256]}\n  - {name: p, shape: [256]}\nnodes:\n"
      "  - {op: Pow, inputs: [x, p], outputs: [y]}\noutputs:\n  - y\n",
      {{"x", {{256}, x}}, {"p", {{256}, p}}});
  for (const auto& y : outs)
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = std::pow(double(x[i]), double(p[i]));
      EXPECT_LE(std::fabs(y[i] - e) / ulp_of(e), 16) << x[i] << " ^ " << p[i] << ": got " << y[i] << ", libm " << e;
    }
}

TEST(LibmReference, SoftmaxWithinRelativeBound) {
  const int rows = 4, cols = 37;
  const auto x = random_values(rows * cols, -10, 10, 11);
  const auto outs =
      run_both_levels(one_node_graph(13, "[4, 37]", {}, "{op: Softmax, inputs: [x], outputs: [y], attrs: {axis: -1}}"),
                      {{"x", {{rows, cols}, x}}});
  for (const auto& y : outs)
    for (int r = 0; r < rows; ++r) {
      double mx = -INFINITY, sum = 0;
      for (int c = 0; c < cols; ++c) mx = std::max(mx, double(x[r * cols + c]));
      for (int c = 0; c < cols; ++c) sum += std::exp(double(x[r * cols + c]) - mx);
      for (int c = 0; c < cols; ++c) {
        const double e = std::exp(double(x[r * cols + c]) - mx) / sum;
        const double bound = (std::fabs(x[r * cols + c] - mx) + cols + 8) * kU * e;
        EXPECT_LE(std::fabs(y[r * cols + c] - e), bound) << "row " << r << " column " << c;
      }
    }
}

TEST(LibmReference, LayerNormalizationWithinBound) {
  const int rows = 3, cols = 64;
  const auto x = random_values(rows * cols, -4, 6, 12), g = random_values(cols, -2, 2, 13),
             b = random_values(cols, -1, 1, 14);
  const double eps = 1e-5;
  const auto outs = run_both_levels(
      one_node_graph(17, "[3, 64]", {{"g", "[64]", g}, {"b", "[64]", b}},
                     "{op: LayerNormalization, inputs: [x, g, b], outputs: [y], attrs: {axis: -1, epsilon: 0.00001}}"),
      {{"x", {{rows, cols}, x}}});
  for (const auto& y : outs)
    for (int r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int c = 0; c < cols; ++c) mean += x[r * cols + c];
      mean /= cols;
      for (int c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
      var /= cols;
      for (int c = 0; c < cols; ++c) {
        const double e = (x[r * cols + c] - mean) / std::sqrt(var + eps) * g[c] + b[c];
        EXPECT_LE(std::fabs(y[r * cols + c] - e), 64 * kU * (std::fabs(e) + std::fabs(b[c]) + 1))
            << "row " << r << " column " << c;
      }
    }
}

double gamma(int n) { return n * kU / (1 - n * kU); }

// Conv 3x3, pads 1, stride 1, with bias: each output a sum of C*9 products plus the bias.
TEST(LibmReference, ConvWithinSumBound) {
  const int C = 3, H = 7, W = 6, M = 4;
  const auto x = random_values(C * H * W, -2, 2, 21), w = random_values(M * C * 9, -1, 1, 22),
             bias = random_values(M, -1, 1, 23);
  const auto outs = run_both_levels(
      one_node_graph(
          13, "[1, 3, 7, 6]", {{"w", "[4, 3, 3, 3]", w}, {"bias", "[4]", bias}},
          "{op: Conv, inputs: [x, w, bias], outputs: [y], attrs: {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}}"),
      {{"x", {{1, C, H, W}, x}}});
  for (const auto& y : outs) {
    ASSERT_EQ(y.size(), size_t(M * H * W));
    for (int m = 0; m < M; ++m)
      for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j) {
          double e = bias[m], mag = std::fabs(bias[m]);
          for (int c = 0; c < C; ++c)
            for (int ki = 0; ki < 3; ++ki)
              for (int kj = 0; kj < 3; ++kj) {
                const int ii = i + ki - 1, jj = j + kj - 1;
                if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
                const double t = double(x[(c * H + ii) * W + jj]) * w[((m * C + c) * 3 + ki) * 3 + kj];
                e += t;
                mag += std::fabs(t);
              }
          const float got = y[(m * H + i) * W + j];
          EXPECT_LE(std::fabs(got - e), gamma(C * 9 + 1) * mag + 2 * ulp_of(e)) << m << "," << i << "," << j;
        }
  }
}

// MaxPool 2x2 stride 2 (exact), AveragePool 3x3 stride 1 pads 1 (count_include_pad 0),
// GlobalAveragePool, GlobalMaxPool (exact): against the definitions.
TEST(LibmReference, PoolsAgainstDefinitions) {
  const int C = 2, H = 6, W = 8;
  const auto x = random_values(C * H * W, -5, 5, 31);
  const std::map<std::string, HostTensor> in = {{"x", {{1, C, H, W}, x}}};
  auto yaml = [](const std::string& node) { return one_node_graph(13, "[1, 2, 6, 8]", {}, node); };
  auto at = [&](int c, int i, int j) { return double(x[(c * H + i) * W + j]); };
  for (const auto& y : run_both_levels(
           yaml("{op: MaxPool, inputs: [x], outputs: [y], attrs: {kernel_shape: [2, 2], strides: [2, 2]}}"), in))
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H / 2; ++i)
        for (int j = 0; j < W / 2; ++j) {
          const double e = std::max(
              {at(c, 2 * i, 2 * j), at(c, 2 * i, 2 * j + 1), at(c, 2 * i + 1, 2 * j), at(c, 2 * i + 1, 2 * j + 1)});
          EXPECT_EQ(double(y[(c * (H / 2) + i) * (W / 2) + j]), e) << "MaxPool " << c << "," << i << "," << j;
        }
  for (const auto& y : run_both_levels(
           yaml("{op: AveragePool, inputs: [x], outputs: [y], attrs: {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}}"), in))
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j) {
          double s = 0, mag = 0;
          int n = 0;
          for (int ii = std::max(0, i - 1); ii <= std::min(H - 1, i + 1); ++ii)
            for (int jj = std::max(0, j - 1); jj <= std::min(W - 1, j + 1); ++jj)
              s += at(c, ii, jj), mag += std::fabs(at(c, ii, jj)), ++n;
          const double e = s / n;
          EXPECT_LE(std::fabs(y[(c * H + i) * W + j] - e), gamma(n + 2) * mag / n + 2 * ulp_of(e))
              << "AveragePool " << c << "," << i << "," << j;
        }
  for (const auto& y : run_both_levels(yaml("{op: GlobalAveragePool, inputs: [x], outputs: [y]}"), in))
    for (int c = 0; c < C; ++c) {
      double s = 0, mag = 0;
      for (int k = 0; k < H * W; ++k) s += x[c * H * W + k], mag += std::fabs(x[c * H * W + k]);
      const double e = s / (H * W);
      EXPECT_LE(std::fabs(y[c] - e), gamma(H * W + 2) * mag / (H * W) + 2 * ulp_of(e)) << "GlobalAveragePool " << c;
    }
  for (const auto& y : run_both_levels(yaml("{op: GlobalMaxPool, inputs: [x], outputs: [y]}"), in))
    for (int c = 0; c < C; ++c)
      EXPECT_EQ(y[c], *std::max_element(x.begin() + c * H * W, x.begin() + (c + 1) * H * W)) << "GlobalMaxPool " << c;
}

}  // namespace
}  // namespace openrdu::compiler
