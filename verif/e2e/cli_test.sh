#!/usr/bin/env bash
# CLI end-to-end tests of sncompile, snrun, snref and pefdump on one ONNX node test.
# usage: cli_test.sh CASE BIN_DIR ONNX_TEST_DIR WORK_DIR
# Bad-input cases must exit non-zero, print exactly one line on stderr naming the
# problem, and leave no file in the output directory.
set -u
case_name=$1 bin=$2 model_dir=$3 work=$4
src=$(cd "$(dirname "$0")/../.." && pwd)  # the source tree
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
source "$src/verif/e2e/expect.sh"
expect_error() { expect_error_grep -G "$@"; }

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
    for p in "PEF v2" "config: *tiny" "section 0" "pcu" "agcu" "switch" "tensors:" "${names[0]}" "check: OK" \
             "schedule: *1 step, [0-9]* estimated cycles" "est [0-9]* cycles" "debug map" "pcu.*unit.*  *[A-Za-z]" \
             "graph: *[1-9][0-9]* bytes (source model)" "weights: *0 bytes" "${names[0]} *input *fp32" " output *fp32 "; do
      grep -q -- "$p" dump.txt || fail "pefdump output lacks '$p'"
    done
    "$bin/pefdump" --json model.pef >dump.json || fail "pefdump --json failed"
    cat dump.json
    for p in '"format_version": 2' '"schedule": \[' '"est_cycles": [0-9]' '"debug": \[{"unit": [0-9]' \
             '"graph_bytes": [1-9]' '"role": "input", "dtype": "fp32"' '"role": "output"' '"config": "tiny"'; do
      grep -q -- "$p" dump.json || fail "pefdump --json output lacks '$p'"
    done
    # Every dtype code is shown by name (pef_edit sets it; the device bytes stay 4 per element).
    run "$bin/pef_edit" model.pef typed.pef --dtype "${names[0]}=int64" --dtype "${names[1]}=bool" || fail "pef_edit"
    "$bin/pefdump" typed.pef >typed.txt || fail "pefdump typed.pef failed"
    grep -q -- "${names[0]} *input *int64" typed.txt || fail "pefdump does not show int64"
    grep -q -- "${names[1]} *input *bool" typed.txt || fail "pefdump does not show bool"
    "$bin/pefdump" --json typed.pef | grep -q '"dtype": "int64"' || fail "pefdump --json does not show int64"
    if command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import json' 2>/dev/null; then
      /usr/bin/python3 -m json.tool dump.json >/dev/null || fail "pefdump --json is not valid JSON"
    fi
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
  wrong_dtype)
    LC_ALL=C sed 's/<f4/<f8/' in1.npy >f8.npy
    expect_error "f8.npy: unsupported dtype '<f8'" "$bin/snrun" --backend func --config tiny model.pef \
      --input "${names[0]}=in0.npy" --input "${names[1]}=f8.npy" --output-dir out ;;
  corrupted_checksum)
    # Flip the first byte of section 0's payload (offset: u64 at byte 56 of the section table).
    cp model.pef bad.pef
    off=$(od -An -tu4 -j56 -N4 model.pef | tr -d ' ')
    byte=$(od -An -tu1 -j"$off" -N1 model.pef | tr -d ' ')
    printf "\\$(printf %o $(( byte ^ 1 )))" | dd of=bad.pef bs=1 seek="$off" conv=notrunc status=none
    cmp -s model.pef bad.pef && fail "corruption did not change the file"
    expect_error "bad.pef: section 0 (TENSORS) crc32 at byte 72" "$bin/snrun" --backend func --config tiny bad.pef \
      "${inputs[@]}" --output-dir out ;;
  unknown_version)
    cp model.pef v3.pef
    printf '\003' | dd of=v3.pef bs=1 seek=4 conv=notrunc status=none
    expect_error "v3.pef: version at byte 4: unsupported PEF version 3 (this reader supports 2); recompile the model with sncompile" \
      "$bin/snrun" --backend func --config tiny v3.pef "${inputs[@]}" --output-dir out ;;
  dram_exhausted)
    # tiny with 1 MiB + 512 bytes of DRAM: same fingerprint (DRAM size is not part of it),
    # but the program's tensors start at 1 MiB.
    sed -e 's/^name: tiny/name: tiny-1mib/' -e 's/^  bytes: 268435456.*/  bytes: 1049088/' "$src/configs/tiny.yaml" >tiny-1mib.yaml
    grep -q 'bytes: 1049088' tiny-1mib.yaml || fail "could not make the small-DRAM configuration"
    expect_error "device DRAM exhausted: .* tensor '.*' needs [0-9]* bytes at \[0x.*), beyond the device's 1049088 bytes of DRAM ([0-9]* bytes free)" \
      "$bin/snrun" --backend func --config tiny-1mib.yaml model.pef "${inputs[@]}" --output-dir out ;;
  unwritable_output_dir)
    # root ignores permission bits: use a directory no one can create files in.
    if [ "$(id -u)" = 0 ]; then ro=/proc/self/fdinfo; else mkdir ro && chmod 555 ro; fi
    [ -d "$ro" ] || fail "no read-only directory"
    expect_error "--output-dir $ro: cannot write there" "$bin/snrun" --backend func --config tiny model.pef \
      "${inputs[@]}" --output-dir "$ro" ;;
  test_pass)
    run "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir out --test >run.txt 2>&1
    rc=$?
    cat run.txt
    [ $rc -eq 0 ] || fail "snrun --test exited $rc"
    grep -qE "^  [^ ]+ +PASS  max abs error 0, max rel error 0 \(60 elements\)" run.txt || fail "no PASS line per output"
    grep -q "^test: PASS" run.txt || fail "no 'test: PASS'" ;;
  test_fail)
    # test_sub (z = x - y) compiled, its GRAPH replaced by test_mul (z = x * y): the CPU
    # reference then differs from the device.
    run "$bin/sncompile" "$model_dir/../test_sub/model.onnx" --config tiny -o sub.pef || fail "sncompile test_sub"
    run "$bin/pef_edit" sub.pef mul.pef --graph "$model_dir/../test_mul/model.onnx" || fail "pef_edit"
    run "$bin/snrun" --backend func --config tiny mul.pef --input x=in0.npy --input y=in1.npy --output-dir out \
      --test >run.txt 2>&1
    rc=$?
    cat run.txt
    [ $rc -eq 1 ] || fail "snrun --test exited $rc, expected 1"
    grep -qE "^  z +FAIL  max abs error [0-9.e+-]+, max rel error [0-9.e+-]+ \(60 elements\); [0-9]+ outside tolerance" run.txt ||
      fail "no FAIL line with the max abs and rel error"
    grep -q "^test: FAIL" run.txt || fail "no 'test: FAIL'"
    rm -f out/*
    expect_error "--rtol and --atol must be non-negative" "$bin/snrun" --backend func --config tiny model.pef \
      "${inputs[@]}" --output-dir out --test --rtol=-1 ;;
  counters)
    # counters.json from both backends: equal DRAM traffic (the functional model issues
    # the RTL's requests), per-unit activity that adds up, and the three tools.
    for be in func verilator; do
      mkdir -p "out_$be"
      run "$bin/snrun" --backend $be --config tiny model.pef "${inputs[@]}" --output-dir "out_$be" >"run_$be.txt" 2>&1 ||
        { cat "run_$be.txt"; fail "snrun --backend $be failed"; }
      [ -s "out_$be/counters.json" ] || fail "no counters.json from $be"
      "$bin/snddrstat" --json "out_$be" >"ddr_$be.json" || fail "snddrstat $be"
      run "$bin/sntilestat" "out_$be" >"tile_$be.txt" || fail "sntilestat $be"
      run "$bin/snpciestat" "out_$be" >"pcie_$be.txt" || fail "snpciestat $be"
      cat "ddr_$be.json" "tile_$be.txt" "pcie_$be.txt"
    done
    strip() { sed -E 's/"(bytes_per_cycle|gb_per_s|run_cycles|busy_cycles)": [0-9.]+//g' "$1"; }
    [ "$(strip ddr_func.json)" = "$(strip ddr_verilator.json)" ] || fail "DRAM requests/bytes differ between backends"
    grep -q '"rd_reqs": [1-9]' ddr_verilator.json || fail "no DRAM reads counted"
    # 60 outputs of 4 bytes written by the store stream.
    grep -q '"wr_bytes": 240' ddr_verilator.json || fail "expected 240 bytes written"
    "$bin/sntilestat" --json out_verilator >tile.json || fail "sntilestat --json"
    cycles=$(sed -n 's/.*"run_cycles": \([0-9]*\).*/\1/p' tile.json)
    [ "$cycles" -gt 0 ] || fail "no run cycles"
    # Every unit: active + stall_in + stall_out + idle = run cycles; some PCU was active.
    grep -o '{"id"[^}]*}' tile.json | while read -r u; do
      a=$(echo "$u" | sed -E 's/.*"active": ([0-9]+).*/\1/'); i=$(echo "$u" | sed -E 's/.*"stall_in": ([0-9]+).*/\1/')
      o=$(echo "$u" | sed -E 's/.*"stall_out": ([0-9]+).*/\1/'); d=$(echo "$u" | sed -E 's/.*"idle": ([0-9]+).*/\1/')
      [ $((a + i + o + d)) -eq "$cycles" ] || { echo "$u"; exit 1; }
    done || fail "a unit's counters do not add up to the run cycles"
    grep -q '"kind": "pcu", "active": [1-9]' tile.json || fail "no active PCU"
    grep -q "device->host 240 bytes" pcie_verilator.txt || fail "snpciestat: outputs not counted"
    echo '{"format": "openrdu-counters-1", "backend": "x"}' >bad.json
    expect_error "bad.json: counters file: missing field 'config'" "$bin/sntilestat" bad.json ;;
  fault_stuck)
    # A stuck output lane of the PCU the program uses: a silent datapath fault, found by
    # --test on both backends, in the elements of that lane only.
    unit=$("$bin/pefdump" model.pef | grep -o 'pcu[0-9]* (slot [0-9],[0-9]; unit [0-9]*)' | head -1 | sed -E 's/.*unit ([0-9]+)\)/\1/')
    [ -n "$unit" ] || fail "no PCU in the program"
    for be in func verilator; do
      run "$bin/snrun" --backend $be --config tiny model.pef "${inputs[@]}" --output-dir out --test \
        --fault "stuck:$unit:1" >run.txt 2>&1
      rc=$?
      cat run.txt
      [ $rc -eq 1 ] || fail "$be: snrun --test with a stuck lane exited $rc, expected 1"
      grep -q "^test: FAIL" run.txt || fail "$be: stuck lane not reported"
      rm -f out/*
    done
    expect_error "--fault stuck:x:1: unit 'x' is not a number" "$bin/snrun" --backend func --config tiny model.pef \
      "${inputs[@]}" --output-dir out --fault stuck:x:1 ;;
  fault_hang)
    # A unit that never finishes: the watchdog stops the run and names it.
    unit=$("$bin/pefdump" model.pef | grep -o 'pcu[0-9]* (slot [0-9],[0-9]; unit [0-9]*)' | head -1 | sed -E 's/.*unit ([0-9]+)\)/\1/')
    for be in func verilator; do
      expect_error "WATCHDOG.*unit $unit" "$bin/snrun" --backend $be --config tiny model.pef "${inputs[@]}" \
        --output-dir out --watchdog 20000 --fault "hang:$unit"
    done ;;
  fault_corrupt)
    # Bit 0 of bitstream word 3 (the length) flipped on its way from DRAM.
    for be in func verilator; do
      expect_error "BAD_LENGTH" "$bin/snrun" --backend $be --config tiny model.pef "${inputs[@]}" --output-dir out \
        --fault corrupt:3
    done ;;
  digits)
    # The digits MLP (examples/digits): 450 test samples as one batch, the device against
    # the CPU reference (exactly) and PyTorch's accuracy (expected.json).
    d="$src/examples/digits"
    run "$bin/sncompile" "$d/model.onnx" --config tiny -o digits.pef || fail "sncompile digits"
    run "$bin/snrun" --backend func --config tiny digits.pef --batch --input "x=$d/test_x.npy" --output-dir out \
      --test --rtol 0 --atol 0 --labels "$d/test_y.npy" >run.txt 2>&1
    rc=$?
    cat run.txt
    [ $rc -eq 0 ] || fail "snrun --test on digits exited $rc"
    grep -q "^  logits  *PASS  max abs error 0" run.txt || fail "logits differ from the CPU reference"
    want=$(sed -n 's/.*"test_correct": \([0-9]*\).*/\1/p' "$d/expected.json")
    grep -q "^accuracy: $want/450 " run.txt || fail "accuracy differs from PyTorch's $want/450" ;;
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
    # A missing output directory is created; a path that is a file is an error naming it.
    run "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir new/dir >/dev/null 2>&1 ||
      fail "snrun with a missing --output-dir failed"
    ls new/dir/*.npy >/dev/null 2>&1 || fail "no outputs in the created directory new/dir"
    touch a_file
    expect_error "a_file" "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir a_file ;;
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
    # A screenshot of GTKWave showing the trace with the save file must not be blank: up
    # to 60 s for the window to be drawn, one root-window dump per second (xwd), checked
    # by scripts/xwd_check.py (at least 8 colours, 2% of the pixels off the background).
    cat >shot.sh <<'SH'
gtkwave "$1" "$2" >gtkshot.txt 2>&1 &
pid=$!
ok=1
for i in $(seq 60); do
  sleep 1
  xwd -root -silent -out shot.xwd && /usr/bin/python3 "$3" shot.xwd --png shot.png >shot.txt 2>&1 && { ok=0; break; }
done
kill $pid
exit $ok
SH
    timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" bash shot.sh wave.fst "$gtkw" "$src/scripts/xwd_check.py" ||
      { cat shot.txt gtkshot.txt; fail "no non-blank GTKWave screenshot"; }
    cat shot.txt
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
