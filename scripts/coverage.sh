#!/usr/bin/env bash
# RTL coverage (make coverage): the unit and chip testbenches (tb_pcu, tb_pmu, tb_agcu,
# tb_switch, tb_core; configuration tiny) on models Verilated with --coverage (line,
# branch and toggle points), in their own build directory. Writes to BUILD_DIR/coverage:
#   <tb>.dat        each testbench's counts (Verilator's format)
#   merged.dat      all of them (verilator_coverage --write)
#   coverage.info   lcov tracefile (verilator_coverage --write-info; genhtml reads it)
#   annotated/      the RTL sources with per-line counts (verilator_coverage --annotate)
#   coverage.md     per-file line, branch and toggle coverage (scripts/coverage_report.py)
#   scripts/coverage.sh [BUILD_DIR]      (default build-cov)
# Environment: JOBS (default nproc); OPENRDU_TB_PROGRAMS, random chip programs of
# tb_core (default 300 here: the instrumented core is slower; the regression runs 1,000);
# COVERAGE_MIN_TOTAL, floors of the totals, e.g. "line=92 branch=92.5" (exit 1 below one).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(realpath -m "${1:-${root}/build-cov}")"  # absolute: the testbenches run from ${out}
jobs="${JOBS:-$(nproc)}"
tbs=(tb_pcu tb_pmu tb_agcu tb_switch tb_core)

cmake -S "${root}" -B "${build}" -G Ninja -DOPENRDU_COVERAGE=ON -DOPENRDU_BUILD_SMALL_RTL=OFF \
  "-DOPENRDU_SUBDIRS=pef;systemc/model;rtl;verif" >/dev/null
echo "coverage: building ${tbs[*]} with --coverage in ${build}"
cmake --build "${build}" --target "${tbs[@]}" -j "${jobs}"

out="${build}/coverage"
rm -rf "${out}"
mkdir -p "${out}"
export OPENRDU_COVERAGE_DIR="${out}"
export OPENRDU_TB_PROGRAMS="${OPENRDU_TB_PROGRAMS:-300}"
for tb in "${tbs[@]}"; do
  exe="$(find "${build}" -name "${tb}" -type f -perm -u+x | head -n 1)"
  [[ -n "${exe}" ]] || { echo "coverage: ${tb} was not built in ${build}" >&2; exit 2; }
  echo "coverage: running ${tb}"
  start=$(date +%s)
  (cd "${out}" && "${exe}" --gtest_brief=1) >"${out}/${tb}.log" 2>&1 || {
    tail -n 30 "${out}/${tb}.log" >&2
    echo "coverage: ${tb} failed (log: ${out}/${tb}.log)" >&2
    exit 1
  }
  [[ -s "${out}/${tb}.dat" ]] || { echo "coverage: ${tb} wrote no ${out}/${tb}.dat" >&2; exit 1; }
  echo "coverage: ${tb} passed in $(( $(date +%s) - start )) s"
done

dats=()
for tb in "${tbs[@]}"; do dats+=("${out}/${tb}.dat"); done
verilator_coverage --write "${out}/merged.dat" "${dats[@]}"
verilator_coverage --write-info "${out}/coverage.info" "${out}/merged.dat"
verilator_coverage --annotate "${out}/annotated" "${out}/merged.dat" >/dev/null
floors=()
for f in ${COVERAGE_MIN_TOTAL:-}; do floors+=(--min-total "${f}"); done
python3 "${root}/scripts/coverage_report.py" "${floors[@]}" --title "RTL coverage (tiny; ${tbs[*]})" "${dats[@]}" \
  | tee "${out}/coverage.md"
echo "coverage: report ${out}/coverage.md, lcov ${out}/coverage.info, annotated sources ${out}/annotated/"
