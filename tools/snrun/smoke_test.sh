#!/usr/bin/env bash
# A configuration's smoke test: examples/elementwise compiled for CONFIG (-O3) and run on
# BACKEND with --test (the CPU reference on the PEF's own graph); the output must equal
# examples/elementwise/expected bit for bit and the run must report its cycles.
# usage: smoke_test.sh BIN_DIR BACKEND CONFIG EXAMPLE_DIR WORK_DIR
set -u
bin=$1 backend=$2 config=$3 ex=$4 work=$5
rm -rf "$work" && mkdir -p "$work/out"
cd "$work"
fail() { echo "FAIL [smoke $config $backend]: $*" >&2; exit 1; }
"$bin/sncompile" "$ex/model.onnx" --config "$config" -O3 -o model.pef --report >compile.txt 2>&1 ||
  { cat compile.txt; fail "sncompile"; }
cat compile.txt
ins=()
for f in "$ex"/inputs/*.npy; do n=$(basename "$f" .npy); ins+=(--input "$n=$f"); done
start=$(date +%s%N)
"$bin/snrun" --backend "$backend" --config "$config" model.pef "${ins[@]}" --output-dir out --test \
  --log-dir . --log-level info >run.txt 2>&1 || { cat run.txt; fail "snrun --test"; }
end=$(date +%s%N)
cat run.txt
grep -q "PASS" run.txt || fail "no PASS from --test"
for e in "$ex"/expected/*.npy; do
  cmp -s "$e" "out/$(basename "$e")" || fail "out/$(basename "$e") differs from $e"
done
grep -h "evaluated cycles/s" sn.log 2>/dev/null | tail -1
echo "OK: elementwise on $config ($backend) equals the expected output; wall $(( (end - start) / 1000000 )) ms"
