#!/usr/bin/env bash
# libFuzzer runs over the ONNX importer and the .npy reader (`docs/robustness.md` ("Hostile input")), beside scripts/fuzz-pef.sh (section 17).
#
#   scripts/fuzz-readers.sh onnx|npy|npz [SECONDS]   build build/fuzz/TARGET_fuzz if needed and
#                                                fuzz for SECONDS (default 30) on a seed corpus:
#                                                onnx: the examples' models and the ONNX node
#                                                tests' models; npy: the examples' .npy files;
#                                                npz: verif/train's and runtime/tests/data's .npz
#
# Built with clang++ -fsanitize=fuzzer,address,undefined directly (the main build uses g++).
# Exits non-zero on any crash, leak, timeout or sanitizer report and prints the input.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/build/fuzz}
CXX=${FUZZ_CXX:-clang++}
NODE_DATA=${ONNX_NODE_DATA:-/usr/share/libonnx-testdata/data/node}
target=${1:-}
duration=${2:-30}
case "$target" in onnx|npy|npz) ;; *) echo "usage: $0 onnx|npy|npz [SECONDS]" >&2; exit 2 ;; esac
[[ "$duration" =~ ^[0-9]+$ ]] && [ "$duration" -gt 0 ] || { echo "fuzz-readers: SECONDS must be positive" >&2; exit 2; }
command -v "$CXX" >/dev/null || { echo "fuzz-readers: $CXX not found (scripts/install-deps.sh installs clang)" >&2; exit 2; }
mkdir -p "$OUT"
exec 9>"$OUT/.lock-$target"
flock 9

source "$ROOT/scripts/fuzz-lib.sh"
fuzz_gen_headers "$ROOT" "$OUT/gen-readers"
SRCS=("$ROOT"/pef/src/arch/*.cc)
INCS=(-I"$ROOT/pef/include" -I"$OUT/gen-readers/include")
LIBS=(-lyaml-cpp -lfmt -lz)
if [ "$target" = onnx ]; then
  # The compiler uses the functional model's operation semantics and cost model.
  /usr/bin/python3 "$ROOT/scripts/gen_rules.py" "$OUT/gen-readers/builtin_rules.cc" "$ROOT"/compiler/rules/*.yaml
  SRCS+=("$ROOT"/compiler/src/*.cc "$ROOT"/systemc/model/src/*.cc "$ROOT/compiler/fuzz/onnx_fuzz.cc"
         "$OUT/gen-readers/builtin_rules.cc")
  INCS+=(-I"$ROOT/compiler/include" -I"$ROOT/compiler/src" -I"$ROOT/systemc/model/include" -DONNX_ML=1
         -DONNX_NAMESPACE=onnx)
  LIBS+=(-lonnx_proto -lprotobuf -lspdlog)
else
  SRCS+=("$ROOT/runtime/src/npy.cc" "$ROOT/runtime/src/host_tensor.cc" "$ROOT"/pef/src/pef/*.cc)
  [ "$target" = npz ] && SRCS+=("$ROOT/runtime/src/npz.cc")
  SRCS+=("$ROOT/runtime/fuzz/${target}_fuzz.cc")
  INCS+=(-I"$ROOT/runtime/include")
fi
BIN=$OUT/${target}_fuzz
if [ ! -x "$BIN" ] || [ -n "$(find "${SRCS[@]}" "$ROOT/pef/include" "$ROOT/compiler/include" "$ROOT/compiler/src" \
     "$ROOT/systemc/model/include" "$ROOT/runtime/include" "$ROOT/compiler/rules" -newer "$BIN" \( -name '*.cc' -o -name '*.h' -o -name '*.yaml' \) 2>/dev/null)" ]; then
  echo "fuzz-readers: building $BIN"
  # One object per source, two at a time (the onnx target compiles the whole compiler).
  OBJ=$OUT/obj-$target && mkdir -p "$OBJ"
  printf '%s\n' "${SRCS[@]}" | xargs -P 2 -I{} sh -c \
    "$CXX -std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
     -fno-sanitize-recover=undefined -DOPENRDU_VERSION='\"fuzz\"' ${INCS[*]} -c {} -o $OBJ/\$(echo {} | tr / _).o"
  OBJS=()  # this target's objects only (a deleted source's object may remain in $OBJ)
  for src in "${SRCS[@]}"; do OBJS+=("$OBJ/$(echo "$src" | tr / _).o"); done
  "$CXX" -fsanitize=fuzzer,address,undefined "${OBJS[@]}" "${LIBS[@]}" -o "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi
flock -u 9

if [ -n "${FUZZ_WORK:-}" ]; then  # a fixed place (the ctest keeps its log there)
  WORK=$FUZZ_WORK
  rm -rf "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
fi
mkdir -p "$WORK/corpus" "$WORK/artifacts"
if [ "$target" = onnx ]; then
  i=0
  for f in "$ROOT"/examples/*/model.onnx "$NODE_DATA"/test_{add,relu,matmul_2d,gemm_default_matrix_bias,softmax_axis_1,reshape_reordered_all_dims,conv_with_strides_padding,concat_2d_axis_0,slice,gather_0,transpose_default,reduce_sum_keepdims_example,constantofshape_float_ones,maxpool_2d_default,batchnorm_example}/model.onnx; do
    [ -f "$f" ] && cp "$f" "$WORK/corpus/seed$((i++)).onnx"
  done
  max_len=65536
elif [ "$target" = npy ]; then
  i=0
  for f in "$ROOT"/examples/*/inputs/*.npy "$ROOT"/examples/*/expected/*.npy "$ROOT"/examples/digits/test_y.npy; do
    [ -f "$f" ] && cp "$f" "$WORK/corpus/seed$((i++)).npy"
  done
  max_len=8192
else
  i=0
  for f in "$ROOT"/runtime/tests/data/*.npz "$ROOT"/verif/train/grad/{linear,relu,conv2d_s2}/*.npz \
           "$ROOT"/verif/train/traj/mlp_sgd/state.npz; do
    [ -f "$f" ] && cp "$f" "$WORK/corpus/seed$((i++)).npz"
  done
  max_len=16384
fi
echo "fuzz-readers: $target for ${duration} s on $(ls "$WORK/corpus" | wc -l) seeds; log in $WORK"
fuzz_run "fuzz-readers $target" "$BIN" "$WORK" "$duration" "$max_len"
