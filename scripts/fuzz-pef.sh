#!/usr/bin/env bash
# libFuzzer run over the PEF reader and bitstream verifier (docs/architecture.md section 17).
#
#   scripts/fuzz-pef.sh [SECONDS]      build build/fuzz/pef_fuzz if needed, fuzz for SECONDS
#                                      (default 20) on a copy of pef/fuzz/corpus
#   FUZZ_SEED=N (default 1): libFuzzer's -seed, printed; FUZZ_RUNS=N: stop after N runs
#   (with a fixed seed, a run that also ends on a run count, not only on time, is
#   reproducible); FUZZ_WORK=DIR: the work directory (default a new one under TMPDIR).
#   The log (DIR/fuzz.log) is kept, pass or fail; the corpus copy is removed on success.
#   scripts/fuzz-pef.sh --build        build only
#   scripts/fuzz-pef.sh --make-corpus  (re)write the seed corpus pef/fuzz/corpus
#
# Built with clang++ -fsanitize=fuzzer,address,undefined directly (not by CMake: the main
# build uses g++). Exits non-zero on any crash, leak, timeout or sanitizer report and
# prints the path of the input that caused it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/build/fuzz}   # FUZZ_OUT, FUZZ_CXXFLAGS: for testing this script
CXX=${FUZZ_CXX:-clang++}
BIN=$OUT/pef_fuzz
GEN=$OUT/make_corpus
CORPUS=$ROOT/pef/fuzz/corpus

mode=run
duration=20
case "${1:-}" in
  --build) mode=build ;;
  --make-corpus) mode=corpus ;;
  "") ;;
  *)
    if [[ ! "$1" =~ ^[0-9]+$ ]] || [ "$1" -eq 0 ]; then
      echo "usage: $0 [SECONDS|--build|--make-corpus]" >&2
      exit 2
    fi
    duration=$1 ;;
esac

command -v "$CXX" >/dev/null || { echo "fuzz-pef: $CXX not found (scripts/install-deps.sh installs clang)" >&2; exit 2; }
mkdir -p "$OUT"

# Serialize concurrent builds (several build trees may run the smoke test at once).
exec 9>"$OUT/.lock"
flock 9

# Generated headers (builtin_configs.h, isa.h) from the configuration files.
GEN_INPUTS=("$ROOT/scripts/gen_arch.py" "$ROOT/configs/tiny.yaml" "$ROOT/configs/small.yaml"
            "$ROOT/configs/isa.yaml" "$ROOT/configs/regs.yaml")
STAMP=$OUT/gen/.stamp
if [ ! -f "$STAMP" ] || [ -n "$(find "${GEN_INPUTS[@]}" -newer "$STAMP" 2>/dev/null)" ]; then
  echo "fuzz-pef: generating headers in $OUT/gen"
  /usr/bin/python3 "$ROOT/scripts/gen_arch.py" --out "$OUT/gen" "$ROOT/configs/tiny.yaml" "$ROOT/configs/small.yaml" >/dev/null
  touch "$STAMP"
fi

LIB_SRCS=("$ROOT"/pef/src/pef/*.cc "$ROOT"/pef/src/arch/*.cc)
# shellcheck disable=SC2206  # FUZZ_CXXFLAGS is split into words on purpose
CXXFLAGS=(-std=c++20 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter
          -I"$ROOT/pef/include" -I"$OUT/gen/include" -I"$ROOT/pef/fuzz" ${FUZZ_CXXFLAGS:-})
LIBS=(-lyaml-cpp -lfmt -lz)

# Rebuild BINARY from SOURCES when it is missing or older than any source or header.
needs_build() {
  local bin=$1; shift
  [ ! -x "$bin" ] && return 0
  [ -n "$(find "$@" "$ROOT/pef/include" "$ROOT/pef/fuzz/pef_fixup.h" "$OUT/gen/include" -newer "$bin" \
          \( -name '*.cc' -o -name '*.h' \) 2>/dev/null)" ]
}

build() {
  local bin=$1 flags=$2; shift 2
  if needs_build "$bin" "$@"; then
    echo "fuzz-pef: building $bin"
    # shellcheck disable=SC2086
    "$CXX" "${CXXFLAGS[@]}" $flags "$@" "${LIBS[@]}" -o "$bin.tmp"
    mv "$bin.tmp" "$bin"
  fi
}

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
build "$BIN" "$SAN" "$ROOT/pef/fuzz/pef_fuzz.cc" "${LIB_SRCS[@]}"

if [ "$mode" = corpus ]; then
  build "$GEN" "-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
    "$ROOT/pef/fuzz/make_corpus.cc" "${LIB_SRCS[@]}"
  mkdir -p "$CORPUS"
  "$GEN" "$CORPUS"
  exit 0
fi
flock -u 9
[ "$mode" = build ] && exit 0

SEED=${FUZZ_SEED:-1}
[[ "$SEED" =~ ^[0-9]+$ ]] || { echo "fuzz-pef: FUZZ_SEED must be a number, got '$SEED'" >&2; exit 2; }
RUNS=()
if [ -n "${FUZZ_RUNS:-}" ]; then
  [[ "$FUZZ_RUNS" =~ ^[0-9]+$ ]] || { echo "fuzz-pef: FUZZ_RUNS must be a number, got '$FUZZ_RUNS'" >&2; exit 2; }
  RUNS=(-runs="$FUZZ_RUNS")
fi
if [ -n "${FUZZ_WORK:-}" ]; then
  WORK=$FUZZ_WORK
  rm -rf "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-pef.XXXXXX")
fi
mkdir -p "$WORK/corpus" "$WORK/artifacts"
cp "$CORPUS"/* "$WORK/corpus/"
LOG=$WORK/fuzz.log
echo "fuzz-pef: seed $SEED, ${FUZZ_RUNS:-unlimited} runs, at most ${duration} s; corpus copy and log in $WORK"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
"$BIN" -seed="$SEED" "${RUNS[@]}" -max_total_time="$duration" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" >"$LOG" 2>&1 || status=$?

# libFuzzer's last status line: "#<runs> DONE cov: <n> ft: <n> corp: ..."
grep -E '^#[0-9]+' "$LOG" | tail -n 1 || true
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$LOG" || true

artifacts=$(find "$WORK/artifacts" -type f | sort)
if [ "$status" -ne 0 ] || [ -n "$artifacts" ] || grep -qE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:|pef_fuzz: ' "$LOG"; then
  echo "fuzz-pef: FAILED (fuzzer exit status $status); log: $LOG" >&2
  grep -E 'ERROR:|SUMMARY:|runtime error:|pef_fuzz: |Test unit written' "$LOG" | head -n 20 >&2 || true
  for a in $artifacts; do echo "fuzz-pef: crashing input: $a" >&2; done
  exit 1
fi
echo "fuzz-pef: OK, no crash, leak or sanitizer report (seed $SEED); log: $LOG"
rm -rf "$WORK/corpus"
