#include "decompose.h"
#include "decompose_builder.h"
#include "fold.h"
#include "ops_ext.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace openrdu::compiler::detail {

bool is_decomposed_op(const std::string& op) {
  return op == "Softmax" || op == "LogSoftmax" || op == "Conv" || op == "MaxPool" || op == "AveragePool" ||
         op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "BatchNormalization" ||
         op == "LayerNormalization" || op == "SoftmaxCrossEntropyLoss" || op == "NegativeLogLikelihoodLoss" ||
         op == "Pad" || op == "ConvTranspose" || op == "LpPool" || op == "Trilu" || is_ext_decomposed(op);
}

namespace {

// Sliding windows of a Conv/pool over the rank - 2 spatial axes: the padded input and one
// [N, C, O...] tensor per kernel tap in C order. `flip`: tap t reads the window of tap
// k-1-t (ConvTranspose's flipped kernel). A negative begin pad (ConvTranspose) crops.
std::vector<int> window_taps(Builder& b, int x, float pad_value, bool flip = false) {
  const Node& n = b.n;
  const std::vector<int64_t> xs = b.t(x).shape;
  const std::vector<int64_t> ys = b.t(n.outputs.at(0)).shape;
  const size_t nd = xs.size() - 2;
  const auto &k = n.ints("kernel_shape"), &s = n.ints("strides"), &d = n.ints("dilations"), &p = n.ints("pads");
  const int64_t N = xs[0], C = xs[1];
  std::vector<int64_t> pb(nd), pe(nd), skip(nd);
  for (size_t a = 0; a < nd; ++a) {
    const int64_t ext = (ys[2 + a] - 1) * s[a] + (k[a] - 1) * d[a] + 1;  // rows/cols the windows reach
    pb[a] = std::max<int64_t>(0, p[a]);
    skip[a] = std::max<int64_t>(0, -p[a]);
    pe[a] = std::max<int64_t>(0, skip[a] + ext - xs[2 + a] - pb[a]);  // may exceed pads (ceil_mode)
  }
  // Padding: Concat along each spatial axis in turn.
  int xp = x;
  std::vector<int64_t> cur = xs;
  for (size_t a = 0; a < nd; ++a) {
    if (pb[a] == 0 && pe[a] == 0) continue;
    std::vector<int> parts;
    const char axis_name = "dhw"[3 - nd + a];
    std::vector<int64_t> ps = cur;
    if (pb[a] > 0) {
      ps[2 + a] = pb[a];
      parts.push_back(b.fill(fmt::format(".pad{}0", axis_name), ps, pad_value));
    }
    parts.push_back(xp);
    if (pe[a] > 0) {
      ps[2 + a] = pe[a];
      parts.push_back(b.fill(fmt::format(".pad{}1", axis_name), ps, pad_value));
    }
    cur[2 + a] += pb[a] + pe[a];
    xp = b.add(fmt::format(".pad{}", axis_name), "Concat", parts, -1, {{"axis", {int64_t(2 + a)}}});
  }
  std::vector<int> taps;
  std::vector<int64_t> t(nd, 0);  // the tap, C order over kernel_shape
  for (bool more = true; more;) {
    std::vector<int64_t> st = {0, 0}, en = {N, C}, sp = {1, 1};
    bool whole = true;
    for (size_t a = 0; a < nd; ++a) {
      st.push_back(skip[a] + (flip ? k[a] - 1 - t[a] : t[a]) * d[a]);
      en.push_back(st.back() + (ys[2 + a] - 1) * s[a] + 1);
      sp.push_back(s[a]);
      whole = whole && st.back() == 0 && ys[2 + a] == cur[2 + a];
    }
    if (whole) {  // the whole (padded) input
      taps.push_back(xp);
    } else {
      taps.push_back(b.add(fmt::format(".tap{}", fmt::join(t, "_")), "Slice", {xp}, -1,
                           {{"starts", st}, {"ends", en}, {"steps", sp}}));
    }
    more = false;
    for (size_t a = nd; a-- > 0 && !more;) {
      more = ++t[a] < k[a];
      if (!more) t[a] = 0;
    }
  }
  return taps;
}

// The taps as one [N, C, kh*kw, OH, OW] tensor (a single tap as is).
int stack_taps(Builder& b, const std::vector<int>& taps) {
  if (taps.size() == 1) return taps[0];
  std::vector<int> parts;
  for (size_t q = 0; q < taps.size(); ++q)
    parts.push_back(b.add(fmt::format(".u{}", q), "Unsqueeze", {taps[q]}, -1, {{"axes", {2}}}));
  return b.add(".col", "Concat", parts, -1, {{"axis", {2}}});
}

int64_t product(std::vector<int64_t>::const_iterator from, std::vector<int64_t>::const_iterator to) {
  int64_t e = 1;
  for (auto it = from; it != to; ++it) e *= *it;
  return e;
}

// Conv; ConvTranspose passes `flip` (its kernel read backwards, decompose_conv_transpose).
void decompose_conv(Builder& b, bool flip = false) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), w = n.inputs.at(1), y = n.outputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape, ws = b.t(w).shape, ys = b.t(y).shape;
  const int64_t N = xs[0], M = ws[0], grp = n.iattr("group"), Cg = ws[1];
  const int64_t Mg = M / grp, K = Cg * product(ws.begin() + 2, ws.end()), P = product(ys.begin() + 2, ys.end());
  const int col = stack_taps(b, window_taps(b, x, 0.0f, flip));
  std::vector<int64_t> bd;
  if (N > 1) bd.push_back(N);
  if (grp > 1) bd.push_back(grp);
  std::vector<int64_t> cs = bd, wsh;
  cs.insert(cs.end(), {K, P});
  if (grp > 1) wsh.push_back(grp);
  wsh.insert(wsh.end(), {Mg, K});
  const int colm = b.reshaped(col, cs, ".colm");
  const int wm = b.reshaped(w, wsh, ".wmat");
  const int prod = b.add(".matmul", "MatMul", {wm, colm}, -1);
  const bool bias = n.inputs.size() > 2;
  const int yr = b.add(".out", "Reshape", {prod}, bias ? -1 : y, {{"shape", ys}, {"allowzero", {0}}});
  std::vector<int64_t> bs(xs.size() - 1, 1);
  bs[0] = M;
  if (bias) b.add(".bias", "Add", {yr, b.reshaped(n.inputs[2], bs, ".b")}, y);
}

// x with s-1 zeros after every element along spatial axis a (Unsqueeze, Concat with a
// zero block, Reshape): length L*s.
int zero_insert(Builder& b, int x, size_t a, int64_t s) {
  const std::vector<int64_t> xs = b.t(x).shape;
  const int64_t ax = int64_t(2 + a + 1);
  const std::string sfx = fmt::format(".zins{}", a);
  const int u = b.add(sfx + ".u", "Unsqueeze", {x}, -1, {{"axes", {ax}}});
  std::vector<int64_t> zs = b.t(u).shape;
  zs[size_t(ax)] = s - 1;
  const int cat = b.add(sfx + ".cat", "Concat", {u, b.fill(sfx + ".zero", zs, 0.0f)}, -1, {{"axis", {ax}}});
  std::vector<int64_t> rs = xs;
  rs[2 + a] *= s;
  return b.add(sfx, "Reshape", {cat}, -1, {{"shape", rs}, {"allowzero", {0}}});
}

// ConvTranspose W [C, M/g, k...] as a Conv weight [M, C/g, k...]: [g, C/g, M/g, T]
// transposed to [g, M/g, C/g, T] (on the host when W is a constant).
int conv_transpose_weights(Builder& b, int w, int64_t grp) {
  const std::vector<int64_t> ws = b.t(w).shape;
  const int64_t Cg = ws[0] / grp, Mg = ws[1], T = product(ws.begin() + 2, ws.end());
  std::vector<int64_t> out = ws;
  out[0] = Mg * grp;
  out[1] = Cg;
  if (b.is_const(w)) {
    const std::vector<float>& src = b.t(w).data;
    std::vector<float> dst(src.size());
    for (int64_t gi = 0; gi < grp; ++gi)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t m = 0; m < Mg; ++m)
          for (int64_t t = 0; t < T; ++t)
            dst[size_t(((gi * Mg + m) * Cg + c) * T + t)] = src[size_t(((gi * Cg + c) * Mg + m) * T + t)];
    return b.constant(".wconv", out, std::move(dst));
  }
  const int w4 = b.reshaped(w, {grp, Cg, Mg, T}, ".w4");
  const int wt = b.add(".wt", "Transpose", {w4}, -1, {{"perm", {0, 2, 1, 3}}});
  return b.reshaped(wt, out, ".wconv");
}

// ConvTranspose: X with s-1 zeros inserted after each element (per strided axis), then a
// stride-1 Conv (dilations d) with pads (k-1)*d - pad_begin before (negative: cropped)
// and the flipped kernel: its taps read in reverse order (window_taps `flip`), its
// weights [M, C/g, k...] from W (conv_transpose_weights).
void decompose_conv_transpose(Builder& b) {
  const Node& n = b.n;
  const std::vector<int64_t> ys = b.t(n.outputs.at(0)).shape;
  const size_t nd = ys.size() - 2;
  const auto &k = n.ints("kernel_shape"), &s = n.ints("strides"), &d = n.ints("dilations"), &p = n.ints("pads");
  int z = n.inputs.at(0);
  for (size_t a = 0; a < nd; ++a)
    if (s[a] > 1) z = zero_insert(b, z, a, s[a]);
  Node conv;
  conv.name = n.name + ".conv";
  conv.op = "Conv";
  conv.inputs = {z, conv_transpose_weights(b, n.inputs.at(1), n.iattr("group"))};
  if (n.inputs.size() > 2) conv.inputs.push_back(n.inputs[2]);
  conv.outputs = n.outputs;
  conv.canonical = true;
  std::vector<int64_t> pads(2 * nd), ones(nd, 1);
  for (size_t a = 0; a < nd; ++a) {
    pads[a] = (k[a] - 1) * d[a] - p[a];
    pads[nd + a] = ys[2 + a] + (k[a] - 1) * d[a] - b.t(z).shape[2 + a] - pads[a];
  }
  conv.iattrs = {{"kernel_shape", k}, {"strides", ones}, {"dilations", d}, {"pads", pads}, {"group", {n.iattr("group")}}};
  Builder cb(b.g, conv);
  decompose_conv(cb, true);
  for (Node& c : cb.nodes) b.nodes.push_back(std::move(c));
}

// Per output position of an AveragePool: fp32(1/count) of the taps counted, [O...].
int average_scale(Builder& b, int x, int y) {
  const Node& n = b.n;
  const std::vector<int64_t> xs = b.t(x).shape, ys = b.t(y).shape;
  const size_t nd = xs.size() - 2;
  const auto &k = n.ints("kernel_shape"), &s = n.ints("strides"), &d = n.ints("dilations"), &p = n.ints("pads");
  const bool include_pad = n.iattr("count_include_pad") != 0;
  std::vector<std::vector<int64_t>> cnt(nd);
  for (size_t a = 0; a < nd; ++a)
    for (int64_t o = 0; o < ys[2 + a]; ++o) {
      int64_t c = 0;
      for (int64_t t = 0; t < k[a]; ++t) {
        const int64_t pos = o * s[a] - p[a] + t * d[a];
        c += include_pad ? (pos >= -p[a] && pos < xs[2 + a] + p[nd + a]) : (pos >= 0 && pos < xs[2 + a]);
      }
      cnt[a].push_back(c);
    }
  const std::vector<int64_t> os(ys.begin() + 2, ys.end());
  std::vector<float> r;
  std::vector<int64_t> o(nd, 0);
  for (int64_t e = 0; e < product(os.begin(), os.end()); ++e) {
    int64_t c = 1;
    for (size_t a = 0, rest = size_t(e); a < nd; ++a) {
      const int64_t stride = product(os.begin() + int64_t(a) + 1, os.end());
      o[a] = int64_t(rest) / stride;
      rest %= size_t(stride);
      c *= cnt[a][size_t(o[a])];
    }
    if (c == 0)
      throw CompileError(fmt::format("{}: {}: output position ({}) averages no input element (pads >= kernel)",
                                     b.g.source, b.g.describe(n), fmt::join(o, ", ")));
    r.push_back(1.0f / float(c));
  }
  return b.constant(".recip", os, std::move(r));
}

// LpPool: (sum over the window of |x|^p)^(1/p), padded with 0: p 1 ReduceSum(Abs), p 2
// Sqrt(ReduceSum(x*x)), otherwise Pow(ReduceSum(Pow(Abs(x), p)), 1/p).
void decompose_lppool(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const int64_t pw = n.iattr("p");
  if (pw < 1) throw CompileError(fmt::format("{}: {}: p {} < 1", b.g.source, b.g.describe(n), pw));
  const std::vector<int> taps = window_taps(b, x, 0.0f);
  const int stacked = stack_taps(b, taps);
  int powed = pw == 2 ? b.add(".sq", "Mul", {stacked, stacked}, -1) : b.add(".abs", "Abs", {stacked}, -1);
  if (pw > 2) powed = b.add(".pow", "Pow", {powed, b.fill(".p", {}, float(pw))}, -1);
  const bool one = taps.size() == 1;
  const int sum = one ? powed
                      : b.add(".sum", "ReduceSum", {powed}, pw == 1 ? y : -1, {{"axes", {2}}, {"keepdims", {0}}});
  if (pw == 1 && one) b.add(".copy", "Identity", {sum}, y);
  if (pw == 2) b.add(".sqrt", "Sqrt", {sum}, y);
  if (pw > 2) b.add(".root", "Pow", {sum, b.fill(".rp", {}, 1.0f / float(pw))}, y);
}

// Trilu: Where(mask, x, 0), mask a bool constant over the last two axes [R, C], true
// where j - i >= k (upper) or j - i <= k (lower); 0 of x's type (fp32, bool or int64:
// SEL copies the words).
void decompose_trilu(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape;
  const int64_t R = xs[xs.size() - 2], C = xs.back(), k = n.iattr("k");
  const bool upper = n.iattr("upper") != 0;
  const DType dt = b.t(x).dtype;
  std::vector<float> m;
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < C; ++j) m.push_back((upper ? j - i >= k : j - i <= k) ? 1.0f : 0.0f);
  const int mask = b.constant(".mask", {R, C}, std::move(m));
  b.g.tensors[mask].dtype = DType::BOOL;
  const int zero = b.fill(".zero", {}, 0.0f);
  b.g.tensors[zero].dtype = dt;
  if (dt == DType::I64) b.g.tensors[zero].idata = {0};  // the reference's value; data: the device word 0
  b.add(".where", "Where", {mask, x, zero}, n.outputs.at(0));
}

void decompose_pool(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const bool is_max = n.op == "MaxPool";
  const std::vector<int> taps = window_taps(b, x, is_max ? -std::numeric_limits<float>::infinity() : 0.0f);
  const int stacked = stack_taps(b, taps);
  const bool one = taps.size() == 1;
  if (is_max) {
    if (one)
      b.add(".copy", "Identity", {stacked}, y);
    else
      b.add(".max", "ReduceMax", {stacked}, y, {{"axes", {2}}, {"keepdims", {0}}});
    return;
  }
  const int sum = one ? stacked : b.add(".sum", "ReduceSum", {stacked}, -1, {{"axes", {2}}, {"keepdims", {0}}});
  b.add(".scale", "Mul", {sum, average_scale(b, x, y)}, y);
}

// running * m + batch * (1 - m) (ONNX's momentum m), `batch` [1, C, 1...] flattened to [C].
int momentum_mix(Builder& b, int running, int batch, const std::string& sfx, int out) {
  const double mo = b.n.attr("momentum");
  const std::vector<int64_t> cs = {b.t(b.n.inputs.at(0)).shape.at(1)};
  const int flat = b.add(sfx + ".flat", "Reshape", {batch}, -1, {{"shape", cs}, {"allowzero", {0}}});
  const int nb = b.add(sfx + ".new_batch", "Mul", {flat, b.fill(sfx + ".1m", {}, float(1.0 - mo))}, -1);
  const int old = b.add(sfx + ".old", "Mul", {running, b.fill(sfx + ".m", {}, float(mo))}, -1);
  return b.add(sfx + ".new", "Add", {nb, old}, out);
}

// Training mode: the batch's statistics over every axis but 1 (biased variance). When
// the running mean and variance are training state, their updates (running = running *
// m + batch * (1 - m), the variance unbiased as PyTorch keeps it) join Graph::updates.
// Outputs 1 and 2 (the running mean and variance, ONNX's definition: the batch variance
// biased) and 3 and 4 (BN-9's saved mean and variance: the batch's) are nodes of their own.
void decompose_batchnorm_training(Builder& b, const std::vector<int64_t>& ps) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape;
  std::vector<int64_t> axes = {0};
  int64_t count = xs[0];
  for (size_t a = 2; a < xs.size(); ++a) {
    axes.push_back(int64_t(a));
    count *= xs[a];
  }
  const std::map<std::string, std::vector<int64_t>> red = {{"axes", axes}, {"keepdims", {1}}};
  const int m = b.add(".batch_mean", "ReduceMean", {x}, -1, red);
  const int d = b.add(".sub", "Sub", {x, m}, -1);
  const int v = b.add(".batch_var", "ReduceMean", {b.add(".sq", "Mul", {d, d}, -1)}, -1, red);
  const int64_t which = n.has_iattr("output") ? n.iattr("output") : 0;
  if (which == 1 || which == 2) momentum_mix(b, n.inputs.at(2 + size_t(which)), which == 1 ? m : v, ".running", y);
  if (which > 2) b.add(".saved", "Reshape", {which == 3 ? m : v}, y, {{"shape", {xs[1]}}, {"allowzero", {0}}});
  if (which > 0) return;
  const int ve = b.add(".veps", "Add", {v, b.fill(".eps", {1}, n.attr("epsilon"))}, -1);
  const int q = b.add(".div", "Div", {d, b.add(".sqrt", "Sqrt", {ve}, -1)}, -1);
  const int qs = b.add(".mul", "Mul", {q, b.reshaped(n.inputs.at(1), ps, ".scale")}, -1);
  b.add(".add", "Add", {qs, b.reshaped(n.inputs.at(2), ps, ".bias")}, y);
  const int rm = n.inputs.at(3), rv = n.inputs.at(4);
  if (!b.t(rm).state || !b.t(rv).state) return;
  b.g.updates.emplace_back(rm, momentum_mix(b, rm, m, ".running_mean", -1));
  const int unb = b.add(".unbiased", "Mul", {v, b.fill(".bessel", {}, float(double(count) / double(count - 1)))}, -1);
  b.g.updates.emplace_back(rv, momentum_mix(b, rv, unb, ".running_var", -1));
}

void decompose_batchnorm(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape;
  const int64_t C = xs[1];
  std::vector<int64_t> ps(xs.size() - 1, 1);
  ps[0] = C;
  const float eps = n.attr("epsilon");
  const int sc = n.inputs.at(1), bi = n.inputs.at(2), mean = n.inputs.at(3), var = n.inputs.at(4);
  const bool train = n.has_iattr("training_mode") && n.iattr("training_mode") != 0;
  if (train) return decompose_batchnorm_training(b, ps);
  if (b.is_const(sc) && b.is_const(bi) && b.is_const(mean) && b.is_const(var)) {
    std::vector<float> a(static_cast<size_t>(C)), c(static_cast<size_t>(C));
    for (size_t i = 0; i < size_t(C); ++i) {
      const volatile float ve = b.t(var).data[i] + eps;  // one rounding per operation
      const volatile float sd = std::sqrt(float(ve));
      a[i] = b.t(sc).data[i] / float(sd);
      const volatile float ma = b.t(mean).data[i] * a[i];
      c[i] = b.t(bi).data[i] - float(ma);
    }
    const int xa = b.add(".mul", "Mul", {x, b.constant(".a", ps, std::move(a))}, -1);
    b.add(".add", "Add", {xa, b.constant(".b", ps, std::move(c))}, y);
    return;
  }
  const int d = b.add(".sub", "Sub", {x, b.reshaped(mean, ps, ".mean")}, -1);
  const int ve = b.add(".veps", "Add", {b.reshaped(var, ps, ".var"), b.fill(".eps", {1}, eps)}, -1);
  const int sd = b.add(".sqrt", "Sqrt", {ve}, -1);
  const int q = b.add(".div", "Div", {d, sd}, -1);
  const int qs = b.add(".mul", "Mul", {q, b.reshaped(sc, ps, ".scale")}, -1);
  b.add(".add", "Add", {qs, b.reshaped(bi, ps, ".bias")}, y);
}

void decompose_layernorm(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const int64_t r = int64_t(b.t(x).shape.size()), axis = n.iattr("axis");
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < r; ++a) axes.push_back(a);
  const std::map<std::string, std::vector<int64_t>> red = {{"axes", axes}, {"keepdims", {1}}};
  // The Mean (output 1) and InvStdDev (output 2) outputs: nodes of their own (ops_ext.h).
  const int64_t which = n.has_iattr("output") ? n.iattr("output") : 0;
  const int m = b.add(".mean", "ReduceMean", {x}, which == 1 ? y : -1, red);
  if (which == 1) return;
  const int d = b.add(".sub", "Sub", {x, m}, -1);
  const int d2 = b.add(".sq", "Mul", {d, d}, -1);
  const int v = b.add(".var", "ReduceMean", {d2}, -1, red);
  const int ve = b.add(".veps", "Add", {v, b.fill(".eps", {1}, n.attr("epsilon"))}, -1);
  const int sd = b.add(".sqrt", "Sqrt", {ve}, -1);
  if (which == 2) {
    b.add(".invstd", "Reciprocal", {sd}, y);
    return;
  }
  const int q = b.add(".div", "Div", {d, sd}, -1);
  const bool bias = n.inputs.size() > 2;
  const int qs = b.add(".mul", "Mul", {q, n.inputs.at(1)}, bias ? -1 : y);
  if (bias) b.add(".add", "Add", {qs, n.inputs[2]}, y);
}

}  // namespace

// The class mask of NegativeLogLikelihoodLoss: 1 at [i, labels[i], d...], times the
// class weight, 0 where the label is ignore_index. labels as fp32 (exact below 2^24).
int loss_mask(Builder& b, const std::vector<int64_t>& xs) {
  const Node& n = b.n;
  const int64_t C = xs[1];
  const int lf = b.add_typed(".labels_f", "Cast", {n.inputs[1]}, DType::F32, {{"to", {1}}});
  const int lu = b.add(".labels_u", "Unsqueeze", {lf}, -1, {{"axes", {1}}});
  std::vector<int64_t> cs(xs.size(), 1);
  cs[1] = C;
  std::vector<float> classes(size_t(C), 0.0f);
  for (int64_t c = 0; c < C; ++c) classes[size_t(c)] = float(c);
  const int hit = b.add_typed(".onehot_b", "Equal", {lu, b.constant(".classes", cs, classes)}, DType::BOOL);
  int mask = b.add_typed(".onehot", "Cast", {hit}, DType::F32, {{"to", {1}}});
  if (n.inputs.size() > 2) mask = b.add(".weighted", "Mul", {mask, b.reshaped(n.inputs[2], cs, ".weights_r")}, -1);
  if (n.has_iattr("ignore_index")) {
    const int ig = b.constant(".ignore_index", {}, {float(n.iattr("ignore_index"))});
    const int eq = b.add_typed(".ignored", "Equal", {lu, ig}, DType::BOOL);
    const int keep = b.add_typed(".kept_b", "Not", {eq}, DType::BOOL);
    mask = b.add(".masked", "Mul", {mask, b.add_typed(".kept", "Cast", {keep}, DType::F32, {{"to", {1}}})}, -1);
  }
  return mask;
}

// SoftmaxCrossEntropyLoss = NegativeLogLikelihoodLoss of LogSoftmax(scores, axis 1).
// NLL: l = -ReduceSum(P * mask, axis 1) per [N, d...]; reduction none: l; sum:
// ReduceSum(l); mean: ReduceSum(l) / ReduceSum(mask) (the weights of the counted labels).
void decompose_loss(Builder& b) {
  const Node& n = b.n;
  int p = n.inputs.at(0);
  const std::vector<int64_t> xs = b.t(p).shape;
  std::vector<int64_t> want = xs;
  if (xs.size() >= 2) want.erase(want.begin() + 1);
  if (xs.size() < 2 || b.t(n.inputs.at(1)).shape != want)
    throw CompileError(fmt::format("{}: {}: scores {} and labels {} do not match ([N, C, d...] and [N, d...])",
                                   b.g.source, b.g.describe(n), shape_str(xs), shape_str(b.t(n.inputs[1]).shape)));
  if (n.inputs.size() > 2 && b.t(n.inputs[2]).shape != std::vector<int64_t>{xs[1]})
    throw CompileError(fmt::format("{}: {}: weights {} are not one per class ([{}])", b.g.source, b.g.describe(n),
                                   shape_str(b.t(n.inputs[2]).shape), xs[1]));
  if (n.op == "SoftmaxCrossEntropyLoss") p = b.add(".logprob", "LogSoftmax", {p}, -1, {{"axis", {1}}});
  const int mask = loss_mask(b, xs);
  const int picked = b.add(".picked", "Mul", {p, mask}, -1);
  const int64_t red = n.iattr("reduction");
  const int y = n.outputs.at(0);
  const int s = b.add(".sum_c", "ReduceSum", {picked}, -1, {{"axes", {1}}, {"keepdims", {0}}});
  // -x as 0 - x: +0 where nothing was picked (an ignored label), as ONNX's reference.
  const int zero = b.fill(".zero", {}, 0.0f);
  if (red == kReductionNone) {
    b.add(".neg", "Sub", {zero, s}, y);
    return;
  }
  std::vector<int64_t> all;
  for (size_t d = 0; d < want.size(); ++d) all.push_back(int64_t(d));
  const int total = b.add(".total", "ReduceSum", {s}, -1, {{"axes", all}, {"keepdims", {0}}});
  if (red == kReductionSum) {
    b.add(".neg", "Sub", {zero, total}, y);
    return;
  }
  std::vector<int64_t> mall;
  for (size_t d = 0; d < xs.size(); ++d) mall.push_back(int64_t(d));
  const int count = b.add(".count", "ReduceSum", {mask}, -1, {{"axes", mall}, {"keepdims", {0}}});
  b.add(".mean", "Div", {b.add(".neg", "Sub", {zero, total}, -1), count}, y);
}

// Pad, constant mode: per axis, a Slice where a pad is negative (cropping), then a Concat
// of constant blocks of the pad value before and after.
void decompose_pad(Builder& b) {
  const Node& n = b.n;
  const auto& p = n.ints("pads");
  int x = n.inputs.at(0);
  const size_t r = b.t(x).shape.size();
  const float v = n.attr("value");
  std::vector<size_t> axes;
  for (size_t d = 0; d < r; ++d)
    if (p[d] != 0 || p[d + r] != 0) axes.push_back(d);
  if (axes.empty()) {
    b.add(".copy", "Identity", {x}, n.outputs.at(0));
    return;
  }
  for (size_t k = 0; k < axes.size(); ++k) {
    const size_t d = axes[k];
    const int out = k + 1 == axes.size() ? n.outputs.at(0) : -1;
    std::vector<int64_t> s = b.t(x).shape;
    const int64_t lo = std::max<int64_t>(0, -p[d]), hi = s[d] - std::max<int64_t>(0, -p[d + r]);
    if (lo > 0 || hi < s[d]) {
      std::vector<int64_t> st(r, 0), en = s, sp(r, 1);
      st[d] = lo;
      en[d] = hi;
      const bool last_op = p[d] <= 0 && p[d + r] <= 0;
      x = b.add(".crop", "Slice", {x}, last_op ? out : -1, {{"starts", st}, {"ends", en}, {"steps", sp}});
      if (last_op) continue;
      s = b.t(x).shape;
    }
    std::vector<int> parts;
    auto block = [&](int64_t count, const char* sfx) {
      std::vector<int64_t> bs = s;
      bs[d] = count;
      parts.push_back(b.fill(sfx, bs, v));
    };
    if (p[d] > 0) block(p[d], ".pad_begin");
    parts.push_back(x);
    if (p[d + r] > 0) block(p[d + r], ".pad_end");
    x = b.add(".pad", "Concat", parts, out, {{"axis", {int64_t(d)}}});
  }
}

std::vector<Node> decompose_softmax(Graph& g, const Node& n) {
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = g.tensors.at(x).shape;
  const int64_t axis = n.iattr("axis");
  std::vector<int64_t> rs = xs;
  rs.at(size_t(axis)) = 1;
  const std::string base = g.tensors.at(y).name;
  auto tensor = [&](const std::string& suffix, const std::vector<int64_t>& shape) {
    Tensor t;
    t.name = base + suffix;
    for (int i = 1; g.find(t.name) >= 0; ++i) t.name = fmt::format("{}{}.{}", base, suffix, i);
    t.kind = TensorKind::Value;
    t.shape = shape;
    t.shape_known = true;
    return g.add_tensor(std::move(t));
  };
  auto node = [&](const std::string& suffix, const std::string& op, std::vector<int> in, int out) {
    Node k;
    k.name = n.name + suffix;
    k.op = op;
    k.inputs = std::move(in);
    k.outputs = {out};
    k.canonical = true;
    if (op.rfind("Reduce", 0) == 0) {
      k.iattrs["axes"] = {axis};
      k.iattrs["keepdims"] = {1};
    }
    return k;
  };
  const int m = tensor(".max", rs), d = tensor(".shift", xs), e = tensor(".exp", xs), s = tensor(".sum", rs);
  std::vector<Node> v;
  v.push_back(node(".max", "ReduceMax", {x}, m));
  v.push_back(node(".shift", "Sub", {x, m}, d));
  v.push_back(node(".exp", "Exp", {d}, e));
  v.push_back(node(".sum", "ReduceSum", {e}, s));
  if (n.op == "Softmax") {
    v.push_back(node(".div", "Div", {e, s}, y));
  } else {
    const int ls = tensor(".logsum", rs);
    v.push_back(node(".log", "Log", {s}, ls));
    v.push_back(node(".out", "Sub", {d, ls}, y));
  }
  return v;
}

std::vector<Node> decompose(Graph& g, const Node& n) {
  if (n.op == "Softmax" || n.op == "LogSoftmax") return decompose_softmax(g, n);
  Builder b(g, n);
  if (n.op == "Conv") {
    decompose_conv(b);
  } else if (n.op == "MaxPool" || n.op == "AveragePool") {
    decompose_pool(b);
  } else if (n.op == "ConvTranspose") {
    decompose_conv_transpose(b);
  } else if (n.op == "LpPool") {
    decompose_lppool(b);
  } else if (n.op == "Trilu") {
    decompose_trilu(b);
  } else if (n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool") {
    std::vector<int64_t> axes;
    for (size_t a = 2; a < g.tensors.at(n.inputs.at(0)).shape.size(); ++a) axes.push_back(int64_t(a));
    b.add(".reduce", n.op == "GlobalAveragePool" ? "ReduceMean" : "ReduceMax", {n.inputs.at(0)}, n.outputs.at(0),
          {{"axes", axes}, {"keepdims", {1}}});
  } else if (n.op == "BatchNormalization") {
    decompose_batchnorm(b);
  } else if (n.op == "LayerNormalization") {
    decompose_layernorm(b);
  } else if (n.op == "SoftmaxCrossEntropyLoss" || n.op == "NegativeLogLikelihoodLoss") {
    decompose_loss(b);
  } else if (n.op == "Pad") {
    decompose_pad(b);
  } else if (is_ext_decomposed(n.op)) {
    decompose_ext(b);
  } else {
    throw CompileError(fmt::format("{}: {}: not a decomposed operator", g.source, g.describe(n)));
  }
  return std::move(b.nodes);
}

}  // namespace openrdu::compiler::detail
