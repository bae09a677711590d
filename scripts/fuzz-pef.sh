#!/usr/bin/env bash
# libFuzzer run over the PEF reader and bitstream verifier (`docs/robustness.md`).
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
source "$ROOT/scripts/fuzz-lib.sh"
fuzz_gen_headers "$ROOT" "$OUT/gen"

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

SEED=${FUZZ_SEED:-1}  # fuzz_run (scripts/fuzz-lib.sh) checks it and FUZZ_RUNS
if [ -n "${FUZZ_WORK:-}" ]; then
  WORK=$FUZZ_WORK
  rm -rf "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-pef.XXXXXX")
fi
mkdir -p "$WORK/corpus" "$WORK/artifacts"
cp "$CORPUS"/* "$WORK/corpus/"
echo "fuzz-pef: seed $SEED, ${FUZZ_RUNS:-unlimited} runs, at most ${duration} s; corpus copy and log in $WORK"
fuzz_run fuzz-pef "$BIN" "$WORK" "$duration" 8192
