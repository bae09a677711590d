#!/usr/bin/env bash
# Replays docs/debugging.md: test_add on tiny with PCU unit 3's output lane 1 stuck at 0
# (FAULT kind 3), snrun --test, pefdump, --profile, a trace of the run's window, and a
# GTKWave screenshot (Xvfb) of pcu1's output against its switch's input.
#   scripts/debug-example.sh [BUILD_DIR] [WORK_DIR]     (defaults: build, build/debug-example)
# Checks what the walkthrough says on the way (the fault fails lane 1's elements, the run
# without it passes, the screenshot is not blank) and exits non-zero otherwise: the test
# docs.debug_example runs it. No pipe stops reading early (under pipefail a writer killed by
# SIGPIPE fails the script): the VCD is written to a file and read from there.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=${2:-$build/debug-example}
bin=$build/bin
T=/usr/share/libonnx-testdata/data/node/test_add
rm -rf "$work" && mkdir -p "$work/out" && cd "$work"
step() { echo; echo "== $*"; }

step "1. compile and run with the CPU reference check (expected: FAIL in lane 1)"
"$bin/sncompile" "$T/model.onnx" --config tiny -o add.pef
"$bin/e2e_pb2npy" "$T/test_data_set_0/input_0.pb" x.npy >/dev/null
"$bin/e2e_pb2npy" "$T/test_data_set_0/input_1.pb" y.npy >/dev/null
run=("$bin/snrun" --backend verilator --config tiny add.pef --input x=x.npy --input y=y.npy --output-dir out)
"${run[@]}" --test --fault stuck:3:1 >step1.txt && { echo "expected snrun --test to fail" >&2; exit 1; }
tail -3 step1.txt
grep -q "FAIL" step1.txt || { echo "step 1: snrun --test printed no FAIL" >&2; exit 1; }

step "2. which unit runs the node"
"$bin/pefdump" add.pef | sed -n '/debug map/,/bitstream:/p'

step "3. when: the run's span in the profile"
"${run[@]}" --fault stuck:3:1 --profile p.json >/dev/null
ts=$(grep -o '"name":"run 0[^}]*"ts":[0-9.]*' p.json | sed 's/.*"ts"://')
start=$(awk -v t="$ts" 'BEGIN { printf "%d", t * 1000 }')
echo "run 0 starts at ${ts} us = core cycle ${start} (1 GHz)"
"$bin/sntilestat" out | sed -n 1,8p

step "4. trace the window"
"${run[@]}" --fault stuck:3:1 --trace wave.fst --trace-start "$start" --trace-stop $((start + 1000)) | tail -1

step "5-6. GTKWave screenshot"
cat >view.tcl <<'TCL'
set pcu "rdu_core.g_row\[1\].g_col\[1\].g_slot.g_pcu.u_pcu"
gtkwave::addSignalsFromList [list rdu_core.clk_i rdu_core.status\[4:0\] $pcu.fire $pcu.vout_valid_o \
    $pcu.vout_data_o\[127:0\] rdu_core.v_li_data\[4\]\[0\]\[127:0\] $pcu.g_lane\[1\].u_lane.g_stage\[3\].res\[31:0\]]
TCL
# Zoom on the first output of pcu1 (found in the trace).
fst2vcd wave.fst >wave.vcd 2>/dev/null
t_out=$(/usr/bin/python3 -c '
import sys
ids, scope, t = set(), [], 0
lines = iter(sys.stdin)
for l in lines:
    w = l.split()
    if not w: continue
    if w[0] == "$scope": scope.append(w[2])
    elif w[0] == "$upscope": scope.pop()
    elif w[0] == "$var" and w[4] == "vout_valid_o" and "g_row[1]" in scope and "u_pcu" in scope: ids.add(w[3])
    elif w[0] == "$enddefinitions": break
for l in lines:
    if l.startswith("#"): t = int(l[1:])
    elif l.strip() and l[0] == "1" and l.strip()[1:] in ids: print(t); break
' <wave.vcd)
[ -n "$t_out" ] || { echo "step 5: no output of pcu1 in the trace" >&2; exit 1; }
echo "gtkwave::setZoomRangeTimes $((t_out - 1500)) $((t_out + 5500))" >>view.tcl
cat >shot.sh <<'SH'
gtkwave --rcvar "initial_window_x 1590" --rcvar "initial_window_y 520" --rcvar "initial_window_width 1590" \
  -S view.tcl wave.fst >gtk.log 2>&1 &
pid=$!
sleep 8
xwd -root -silent -out shot.xwd
kill $pid
SH
timeout 120 xvfb-run -a -s "-screen 0 1600x560x24" bash shot.sh
/usr/bin/python3 "$src/scripts/xwd_check.py" shot.xwd --png debug_stuck_lane.png
echo "screenshot: $work/debug_stuck_lane.png (docs/img/debug_stuck_lane.png)"

step "7. without the fault"
"${run[@]}" --test >step7.txt
tail -2 step7.txt
grep -q "test: PASS" step7.txt || { echo "step 7: snrun --test did not pass" >&2; exit 1; }
