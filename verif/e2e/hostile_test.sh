#!/usr/bin/env bash
# Hostile input through the tools (issue 24). usage: hostile_test.sh CASE BIN_DIR ONNX_TEST_DIR WORK_DIR
# Every bad input must give a non-zero exit, exactly one line on stderr naming the
# problem, no file in the output directory, in bounded time and memory (ulimit -v).
set -u
case_name=$1 bin=$2 model_dir=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work/out" "$work/in"
cd "$work"

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
run() { echo "+ $*"; "$@"; }

# expect_error PATTERN CMD...: non-zero exit, one stderr line matching PATTERN (grep -E), out/ empty.
source "$here/expect.sh"
expect_error() { expect_error_grep -E "$@"; }
# limited KB CMD...: CMD under a virtual-memory limit of KB kilobytes. A build with
# AddressSanitizer (make asan) reserves terabytes of address space at start, so there the
# limit is on the resident set instead (ASan's hard_rss_limit_mb: a report, exit non-zero).
if ldd "$bin/sncompile" 2>/dev/null | grep -q libasan; then
  limited() { local kb=$1; shift; ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=$((kb / 1024))" "$@"; }
else
  limited() { local kb=$1; shift; (ulimit -v "$kb"; "$@"); }
fi

run "$bin/e2e_hostile_inputs" in "$model_dir/model.onnx" || fail "e2e_hostile_inputs"
run "$bin/sncompile" "$model_dir/model.onnx" --config tiny -o model.pef >/dev/null || fail "sncompile"
x=$("$bin/e2e_pb2npy" "$model_dir/test_data_set_0/input_0.pb" x.npy) || fail "pb2npy"
y=$("$bin/e2e_pb2npy" "$model_dir/test_data_set_0/input_1.pb" y.npy) || fail "pb2npy"
inputs=(--input "$x=x.npy" --input "$y=y.npy")

case $case_name in
  sizes)
    # Element counts that wrap (the probe's segfaults and its exit-0 PEFs).
    expect_error "in/wrap_init.onnx: initializer 'w': shape \[4611686018427387904\]: .*overflows 64 bits" \
      "$bin/sncompile" in/wrap_init.onnx --config tiny -o out/m.pef
    expect_error "in/wrap_input.onnx: input 'x': shape \[4611686018427387904,4\]: .*overflows 64 bits" \
      "$bin/sncompile" in/wrap_input.onnx --config tiny -o out/m.pef
    expect_error "initializer 'w'.*overflows" "$bin/snref" in/wrap_init.onnx --input x=x.npy --outputs out
    # A name holding newlines: one line, escaped.
    expect_error "input name 'x\\\\nline2\\\\nline3' contains a control character" \
      "$bin/sncompile" in/ctrl_name.onnx --config tiny -o out/m.pef ;;
  fold_limit)
    # 2 GiB asked by a 100-byte model: refused by name in well under a second, within 1 GB.
    start=$(date +%s)
    expect_error "node 'cos' \(ConstantOfShape\): .*2147483648-byte constant .*fold limit of 67108864 bytes" \
      limited 1000000 "$bin/sncompile" in/cos_big.onnx --config tiny -o out/m.pef
    [ $(($(date +%s) - start)) -lt 20 ] || fail "took more than 20 s"
    expect_error "fold limit of 1048576 bytes" "$bin/sncompile" in/cos_big.onnx --config tiny -o out/m.pef --fold-limit 1
    expect_error "--fold-limit: Value 0 not in range" "$bin/sncompile" in/cos_big.onnx -o out/m.pef --fold-limit 0 ;;
  not_files)
    # /dev/zero and directories as every kind of file: refused at once, the path named.
    for t in "$bin/pefdump /dev/zero" "$bin/snrun --backend func --config tiny /dev/zero ${inputs[*]} --output-dir out"; do
      expect_error "/dev/zero: magic at byte 0: expected \"PEF1\"" limited 1000000 $t
    done
    expect_error "/dev/zero: not a NumPy .npy file" limited 1000000 "$bin/snrun" --backend func --config tiny model.pef \
      --input "$x=/dev/zero" --input "$y=y.npy" --output-dir out
    expect_error "^pefdump: error: in: is a directory, not a file$" "$bin/pefdump" in
    expect_error "in: is a directory, not a file" "$bin/snrun" --backend func --config tiny in "${inputs[@]}" --output-dir out
    expect_error "in: is a directory, not a file" "$bin/sncompile" in --config tiny -o out/m.pef
    expect_error "in: is a directory, not a file" "$bin/snrun" --backend func --config tiny model.pef \
      --input "$x=in" --input "$y=y.npy" --output-dir out ;;
  func_bounds)
    # A bitstream whose AGCU count was corrupted (CRCs valid): the functional model honours
    # --watchdog and --timeout and bounds its memory (the probe: 6 GB in 43 s, both ignored).
    start=$(date +%s)
    expect_error "WATCHDOG" limited 3000000 "$bin/snrun" --backend func --config tiny in/corrupt_agcu.pef \
      "${inputs[@]}" --output-dir out --watchdog 100000
    [ $(($(date +%s) - start)) -lt 60 ] || fail "--watchdog took more than 60 s"
    start=$(date +%s)
    expect_error "did not finish within 3 s" limited 3000000 "$bin/snrun" --backend func --config tiny \
      in/corrupt_agcu.pef "${inputs[@]}" --output-dir out --watchdog 0 --timeout 3
    [ $(($(date +%s) - start)) -lt 60 ] || fail "--timeout 3 took more than 60 s"
    # Neither: the model's queue bound stops it, naming the unit.
    expect_error "error ABORTED .* at (pcu|pmu|agcu)" limited 3000000 "$bin/snrun" --backend func --config tiny \
      in/corrupt_agcu.pef "${inputs[@]}" --output-dir out --watchdog 0 --timeout 600
    # A broken route (switch select 7): a named failure, never "error NONE (no error)".
    expect_error "run failed: error ABORTED .* at switch\(" "$bin/snrun" --backend func --config tiny \
      in/corrupt_route.pef "${inputs[@]}" --output-dir out --watchdog 0
    expect_error "run failed: error WATCHDOG after 100000 cycles: switch\(" "$bin/snrun" --backend func --config tiny \
      in/corrupt_route.pef "${inputs[@]}" --output-dir out --watchdog 100000 ;;
  verdicts)
    # Weights holding +-Inf: device and reference agree on the infinities (the probe: FAIL).
    run "$bin/sncompile" in/inf_weights.onnx --config tiny -o inf.pef || fail "sncompile inf_weights"
    printf '\x93NUMPY\x01\x00\x76\x00' >xi.npy
    printf "{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }%*s\n" 60 '' >>xi.npy
    head -c 32 /dev/zero >>xi.npy
    run "$bin/snrun" --backend func --config tiny inf.pef --input x=xi.npy --output-dir out --test >run.txt 2>&1 ||
      { cat run.txt; fail "snrun --test with Inf weights failed"; }
    cat run.txt
    grep -qE "^  y +PASS" run.txt || fail "no PASS for y"
    run "$bin/snref" in/inf_weights.onnx --input x=xi.npy --outputs out >ref.txt 2>&1 || { cat ref.txt; fail "snref"; }
    grep -q "^y: PASS" ref.txt || fail "snref: no PASS" ;;
  fault_units)
    # --fault on a unit or lane that does not exist injects nothing: refused.
    expect_error "--fault hang:9999: unit 9999 is not a PCU, PMU or AGCU of configuration 'tiny'" \
      "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir out --fault hang:9999
    pcu=$("$bin/pefdump" model.pef | grep -o 'pcu[0-9]* (slot [0-9],[0-9]; unit [0-9]*)' | head -1 | sed -E 's/.*unit ([0-9]+)\)/\1/')
    [ -n "$pcu" ] || fail "no PCU in the program"
    expect_error "--fault stuck:$pcu:7: lane 7 does not exist \(pcu.* has lanes 0 to 3\)" \
      "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir out --fault "stuck:$pcu:7"
    expect_error "--fault stuck:1:0: unit 1 is .*, not a PCU" \
      "$bin/snrun" --backend func --config tiny model.pef "${inputs[@]}" --output-dir out --fault stuck:1:0 ;;
  outputs_on_success)
    # A failing --labels check or a failing --test reference leaves no output behind.
    printf '\x93NUMPY\x01\x00\x76\x00' >labels.npy
    printf "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }%*s\n" 60 '' >>labels.npy
    head -c 20 /dev/zero >>labels.npy
    expect_error "--labels labels.npy: 5 labels for 12 samples" "$bin/snrun" --backend func --config tiny model.pef \
      "${inputs[@]}" --output-dir out --labels labels.npy
    run "$bin/pef_edit" model.pef badgraph.pef --graph labels.npy || fail "pef_edit"
    expect_error "badgraph.pef: GRAPH \(source model\): not a valid ONNX model" "$bin/snrun" --backend func --config tiny badgraph.pef "${inputs[@]}" \
      --output-dir out --test ;;
  *) fail "unknown case" ;;
esac
echo "PASS [$case_name]"
