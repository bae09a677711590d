#!/usr/bin/env bash
# Run the ONNX node conformance tests the front end supports: the CPU reference against
# ONNX's expected outputs (exact; within rtol 1e-5 / atol 1e-6 for MatMul, Gemm, Softmax,
# LogSoftmax and Reduce*, whose expected values come from numpy's summation order), and,
# when every operator is lowered, the functional model bit-exact against the reference.
# Prints per operator: found, ref ok, not lowered, compiled, passed on func, worst
# reference error; every other test is listed as skipped with its reason (operators not
# lowered yet as "not lowered"). Exit status 1 when a lowered test or the reference fails.
#   scripts/node_tests.sh [BUILD_DIR] [CONFIG]     (defaults: build, tiny)
# BUILD_DIR is configured (if needed) with the pef, functional model and compiler layers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-${root}/build}"
cfg="${2:-tiny}"
if [[ ! -f "${build}/build.ninja" && ! -f "${build}/Makefile" ]]; then
  cmake -S "${root}" -B "${build}" -G Ninja -DOPENRDU_SUBDIRS="pef;systemc/model;compiler;tools" \
    -DOPENRDU_BUILD_SMALL_RTL=OFF >/dev/null
fi
cmake --build "${build}" --target onnx_node_table -j2 >/dev/null
exe="$(find "${build}" -name onnx_node_table -type f -perm -u+x | head -n 1)"
[[ -n "${exe}" ]] || { echo "node_tests.sh: onnx_node_table was not built in ${build}" >&2; exit 2; }
exec "${exe}" /usr/share/libonnx-testdata/data/node "${cfg}"
