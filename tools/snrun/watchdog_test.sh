#!/usr/bin/env bash
# snrun --watchdog on the example model (examples/elementwise, tiny, -O0: 4 sections).
# usage: watchdog_test.sh BIN_DIR BACKEND EXAMPLE_DIR WORK_DIR
# A watchdog of 10 cycles stops section 0: exit 1, one stderr line naming WATCHDOG, the
# limit and a unit, no output written. With --watchdog 0 (off) and the default the same
# model runs and matches examples/elementwise/expected bit for bit.
set -u
bin=$1 backend=$2 ex=$3 work=$4
rm -rf "$work" && mkdir -p "$work/out"
cd "$work"
fail() { echo "FAIL [watchdog $backend]: $*" >&2; exit 1; }
"$bin/sncompile" "$ex/model.onnx" --config tiny -O0 -o model.pef >/dev/null || fail "sncompile"
ins=()
for f in "$ex"/inputs/*.npy; do n=$(basename "$f" .npy); ins+=(--input "$n=$f"); done

"$bin/snrun" --backend "$backend" --config tiny model.pef "${ins[@]}" --output-dir out --watchdog 10 >out.txt 2>err.txt
rc=$?
cat out.txt err.txt
[ $rc -ne 0 ] || fail "--watchdog 10 did not fail"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "expected one stderr line, got $(wc -l <err.txt)"
grep -qE "^snrun: error: section 0 \(.*\): run failed: error WATCHDOG after 10 cycles: (pcu|pmu|agcu)[0-9]+ .* is not done" err.txt ||
  fail "error does not name WATCHDOG, the limit and a unit"
[ -z "$(ls -A out)" ] || fail "outputs written after a failed run"

for w in 0 default; do
  opt=(--watchdog "$w"); [ "$w" = default ] && opt=()
  "$bin/snrun" --backend "$backend" --config tiny model.pef "${ins[@]}" --output-dir out "${opt[@]}" >out.txt 2>err.txt ||
    { cat out.txt err.txt; fail "run with watchdog $w failed"; }
  for e in "$ex"/expected/*.npy; do
    cmp -s "$e" "out/$(basename "$e")" || fail "watchdog $w: out/$(basename "$e") differs from $e"
  done
  rm -f out/*
done
echo "OK: --watchdog 10 stops the run naming a unit; off and default runs match the expected outputs"
