#!/usr/bin/env bash
# CLI end-to-end tests of sncompile, snrun, snref and pefdump on one ONNX node test.
# usage: cli_test.sh CASE BIN_DIR ONNX_TEST_DIR WORK_DIR
# Bad-input cases must exit non-zero, print exactly one line on stderr naming the
# problem, and leave no file in the output directory.
set -u
case_name=$1 bin=$2 model_dir=$3 work=$4
rm -rf "$work" && mkdir -p "$work/out"
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
run() { echo "+ $*"; "$@"; }

# Compile for tiny and convert the test's inputs to .npy (names from the TensorProtos).
run "$bin/sncompile" "$model_dir/model.onnx" --config tiny -o model.pef || fail "sncompile failed"
[ -s model.pef ] || fail "sncompile wrote no model.pef"
inputs=()
i=0
while [ -f "$model_dir/test_data_set_0/input_$i.pb" ]; do
  name=$("$bin/e2e_pb2npy" "$model_dir/test_data_set_0/input_$i.pb" "in$i.npy") || fail "pb2npy input_$i"
  names[$i]=$name
  inputs+=(--input "$name=in$i.npy")
  i=$((i + 1))
done
[ ${#inputs[@]} -ge 4 ] || fail "expected two inputs in $model_dir"

# expect_error PATTERN CMD...: non-zero exit, one stderr line matching PATTERN, out/ empty.
expect_error() {
  local pattern=$1; shift
  echo "+ $*"
  "$@" >stdout.txt 2>stderr.txt
  local rc=$?
  cat stdout.txt; cat stderr.txt
  [ $rc -ne 0 ] || fail "exit status 0, expected an error"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected exactly one line on stderr, got $(wc -l <stderr.txt)"
  grep -q -- "$pattern" stderr.txt || fail "stderr does not mention '$pattern'"
  [ -z "$(ls -A out)" ] || fail "output directory not empty: $(ls -A out)"
  echo "OK: exit $rc, message names '$pattern'"
}

run_and_check() {  # backend
  run "$bin/snrun" --backend "$1" --config tiny model.pef "${inputs[@]}" --output-dir out >run.txt 2>&1
  local rc=$?
  cat run.txt
  [ $rc -eq 0 ] || fail "snrun --backend $1 exited $rc"
  grep -q "total.*cycles" run.txt || fail "snrun printed no total cycles"
  grep -q "section 0.*cycles" run.txt || fail "snrun printed no per-section cycles"
  [ -n "$(ls out/*.npy 2>/dev/null)" ] || fail "no output .npy written"
  ls -A out | grep -q '^\.' && fail "temporary files left in out/"
  # The device result against the CPU reference, exactly.
  run "$bin/snref" "$model_dir/model.onnx" "${inputs[@]}" --outputs out --rtol 0 --atol 0 >ref.txt 2>&1
  rc=$?
  cat ref.txt
  [ $rc -eq 0 ] || fail "snref reports a mismatch (exit $rc)"
  grep -q PASS ref.txt || fail "snref printed no PASS"
  # And against the ONNX suite's expected output, bit for bit through snref's comparison.
  local oname
  oname=$("$bin/e2e_pb2npy" "$model_dir/test_data_set_0/output_0.pb" expected.npy) || fail "pb2npy output_0"
  cmp -s expected.npy "out/$oname.npy" || fail "out/$oname.npy differs from the ONNX expected output"
  echo "OK: $1 output equals the ONNX expected output"
}

case $case_name in
  run_func) run_and_check func ;;
  run_verilator) run_and_check verilator ;;
  pefdump)
    run "$bin/pefdump" model.pef >dump.txt || fail "pefdump failed"
    cat dump.txt
    for p in "PEF v1" "config: *tiny" "section 0" "pcu" "agcu" "switch" "tensors:" "${names[0]}" "check: OK"; do
      grep -q -- "$p" dump.txt || fail "pefdump output lacks '$p'"
    done
    head -c 100 model.pef >trunc.pef
    expect_error "trunc.pef" "$bin/pefdump" trunc.pef ;;
  missing_input)
    expect_error "missing input '${names[1]}'" "$bin/snrun" --backend func --config tiny model.pef \
      --input "${names[0]}=in0.npy" --output-dir out ;;
  extra_input)
    expect_error "unknown input 'bogus'" "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" \
      --input bogus=in0.npy --output-dir out ;;
  wrong_shape)
    "$bin/e2e_pb2npy" "$model_dir/../test_add_bcast/test_data_set_0/input_1.pb" small.npy >/dev/null || fail "pb2npy"
    expect_error "input '${names[1]}': shape (5,) given" "$bin/snrun" --backend func --config tiny model.pef \
      --input "${names[0]}=in0.npy" --input "${names[1]}=small.npy" --output-dir out ;;
  truncated_pef)
    head -c 200 model.pef >trunc.pef
    expect_error "trunc.pef" "$bin/snrun" --backend func --config tiny trunc.pef "${inputs[@]}" --output-dir out ;;
  other_config)
    run "$bin/sncompile" "$model_dir/model.onnx" --config small -o small.pef || fail "sncompile --config small"
    expect_error "fingerprint" "$bin/snrun" --backend func --config tiny small.pef "${inputs[@]}" --output-dir out
    grep -q "'small'" stderr.txt && grep -q "'tiny'" stderr.txt || fail "message does not name both configurations" ;;
  nonexistent_pef)
    expect_error "nope.pef" "$bin/snrun" --backend func --config tiny nope.pef "${inputs[@]}" --output-dir out ;;
  nonexistent_npy)
    expect_error "nope.npy" "$bin/snrun" --backend func --config tiny model.pef --input "${names[0]}=nope.npy" \
      --input "${names[1]}=in1.npy" --output-dir out ;;
  bad_npy)
    echo "not numpy" >text.npy
    expect_error "text.npy: not a NumPy" "$bin/snrun" --backend func --config tiny model.pef \
      --input "${names[0]}=text.npy" --input "${names[1]}=in1.npy" --output-dir out ;;
  bad_backend)
    expect_error "backend" "$bin/snrun" --backend gpu --config tiny model.pef "${inputs[@]}" --output-dir out ;;
  no_output_dir)
    expect_error "missing_dir" "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" \
      --output-dir missing_dir ;;
  snref_mismatch)
    run "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir out >/dev/null 2>&1 ||
      fail "snrun failed"
    f=$(ls out/*.npy | head -1)
    cp in0.npy "$f"  # same shape as the output of Add, different values
    run "$bin/snref" "$model_dir/model.onnx" "${inputs[@]}" --outputs out --rtol 0 --atol 0 >ref.txt 2>&1
    rc=$?
    cat ref.txt
    [ $rc -ne 0 ] || fail "snref accepted a wrong output"
    grep -q FAIL ref.txt || fail "snref printed no FAIL" ;;
  trace_gtkw)
    # snrun --trace writes an FST of the cycle window; GTKWave opens it with the repo's
    # save file and shows every signal the save file lists.
    src=$(cd "$(dirname "$0")/../.." && pwd)
    gtkw="$src/rtl/gtkwave/units_tiny.gtkw"
    run "$bin/snrun" --backend verilator --config tiny model.pef "${inputs[@]}" --output-dir out \
      --trace wave.fst --trace-start 100 --trace-stop 2000 >run.txt 2>&1 || { cat run.txt; fail "snrun --trace failed"; }
    cat run.txt
    [ -s wave.fst ] || fail "no wave.fst written"
    grep -q "cycles/s.*trace wave.fst" run.txt || fail "no line with cycles per second and the trace"
    want=$(/usr/bin/python3 "$src/scripts/gen_arch.py" --gtkw-signals "$gtkw" | wc -l)
    [ "$want" -gt 50 ] || fail "save file lists only $want signals"
    cat >quit.tcl <<'TCL'
puts "facs [gtkwave::getNumFacs]"
puts "displayed [llength [gtkwave::getDisplayedSignals]]"
gtkwave::/File/Quit
TCL
    timeout 120 xvfb-run -a gtkwave -S quit.tcl wave.fst "$gtkw" >gtkwave.txt 2>&1 || { cat gtkwave.txt; fail "gtkwave failed"; }
    grep -E "^(facs|displayed)" gtkwave.txt
    grep -q "^displayed $want\$" gtkwave.txt || fail "GTKWave displays $(grep displayed gtkwave.txt), the save file lists $want"
    # The window: time stamps (1 ps units, 1000 ps per cycle of tiny's 1 GHz clock) only
    # within cycles [100, 2000].
    fst2vcd wave.fst 2>/dev/null | grep '^#[0-9]' | tr -d '#' >times.txt
    grep -q '^1ps' <(fst2vcd wave.fst 2>/dev/null | grep -A1 timescale | tr -d '\t ') || fail "unexpected timescale"
    first=$(head -1 times.txt); last=$(tail -1 times.txt)
    [ "$first" -ge 100000 ] || fail "trace starts at $first ps, before --trace-start 100"
    [ "$last" -le 2000000 ] || fail "trace ends at $last ps, after --trace-stop 2000"
    [ "$last" -gt "$first" ] || fail "empty trace window"
    echo "OK: trace window $first..$last ps" ;;
  *) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
