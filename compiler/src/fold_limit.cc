// The budget of constant folding (openrdu/compiler/fold_limit.h).
#include "openrdu/compiler/fold_limit.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

#include "fold.h"
#include "openrdu/arch/checked.h"

namespace openrdu::compiler {

namespace {
std::atomic<uint64_t> g_fold_limit{kDefaultFoldLimitBytes};
constexpr uint64_t kOpsPerByte = 16;

// Multiply-adds (or element operations) to evaluate `n` on the host, saturating.
uint64_t fold_work(const Graph& g, const Node& n, uint64_t out_elements) {
  uint64_t in_elements = 0;
  for (int i : n.inputs) {
    const arch::ShapeSize s = arch::shape_size_of(g.tensors.at(i).shape, 1);
    if (!arch::checked_add(in_elements, s.elements, in_elements)) return UINT64_MAX;
  }
  uint64_t per_output = 1;  // the reduction length of a product, else one operation
  if ((n.op == "MatMul" || n.op == "Gemm") && !n.inputs.empty()) {
    const auto& a = g.tensors.at(n.inputs[0]).shape;
    const bool ta = n.op == "Gemm" && n.has_iattr("transA") && n.iattr("transA") != 0;
    if (!a.empty()) per_output = uint64_t(ta && a.size() == 2 ? a[0] : a.back());
  } else if ((n.op == "Conv" || n.op == "ConvTranspose") && n.inputs.size() > 1) {
    const auto& w = g.tensors.at(n.inputs[1]).shape;
    for (size_t d = 1; d < w.size(); ++d) per_output *= uint64_t(std::max<int64_t>(w[d], 1));
  }
  uint64_t work = 0;
  if (!arch::checked_mul(out_elements, per_output, work) || !arch::checked_add(work, in_elements, work))
    return UINT64_MAX;
  return work;
}
}  // namespace

void set_fold_limit(uint64_t bytes) { g_fold_limit = bytes; }
uint64_t fold_limit() { return g_fold_limit; }

namespace detail {

void check_output_size(const std::vector<int64_t>& shape, DType dt, const std::string& what) {
  const arch::ShapeSize out = arch::shape_size_of(shape, dt == DType::I64 ? 8 : 4);
  if (!out.ok()) throw CompileError(fmt::format("{}: output {}", what, out.error));
}

void check_fold_budget(const Graph& g, const Node& n, const std::vector<int64_t>& shape, DType dt,
                       const std::string& what) {
  const uint64_t limit = fold_limit();
  check_output_size(shape, dt, what);
  const arch::ShapeSize out = arch::shape_size_of(shape, dt == DType::I64 ? 8 : 4);
  if (out.bytes > limit)
    throw CompileError(fmt::format(
        "{}: its inputs are constants, and folding it would make a {}-byte constant {}, over the fold limit of "
        "{} bytes (sncompile --fold-limit MiB)",
        what, out.bytes, shape_str(shape), limit));
  const uint64_t work = fold_work(g, n, out.elements), budget = limit * kOpsPerByte;
  if (work > budget)
    throw CompileError(fmt::format(
        "{}: its inputs are constants, and folding it would take {} operations on the host, over the fold "
        "budget of {} (16 per byte of the fold limit, sncompile --fold-limit MiB)",
        what, work, budget));
}

}  // namespace detail
}  // namespace openrdu::compiler
