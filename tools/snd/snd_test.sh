#!/usr/bin/env bash
# The node daemon through the tools (docs/daemon.md): snrun --device / OPENRDU_DEVICE for
# inference (--batch --test) and training, outputs equal to the same runs in-process; a
# Python client speaking the protocol; sntilestat/snddrstat/snpciestat --device; SIGTERM
# removes the socket. Usage: snd_test.sh BINDIR EXAMPLES WORKDIR
set -euo pipefail
bin=$1 ex=$2 w=$3
rm -rf "$w" && mkdir -p "$w"
fail() { echo "FAIL: $*" >&2; exit 1; }
sock=$w/snd.sock

"$bin/snd" --version | grep -q '^snd ' || fail "snd --version"
"$bin/snd" --help | grep -q -- '--max-apps' || fail "snd --help"
if "$bin/snd" --rdus 0 2> "$w/err"; then fail "--rdus 0 accepted"; fi
grep -q '^snd: error: --rdus' "$w/err" || fail "--rdus 0: $(cat "$w/err")"

"$bin/snd" --rdus 2 --config tiny --backend func --socket "$sock" --log-dir "$w" --log-level info 2> "$w/snd.stderr" &
snd_pid=$!
trap 'kill $snd_pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "no socket"
[ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock")"

# The first 40 test and 128 training samples of the digits set (the test stays short).
/usr/bin/python3 - "$ex/digits" "$w" <<'PY'
import numpy as np, sys
d, w = sys.argv[1], sys.argv[2]
np.save(w + "/x.npy", np.load(d + "/test_x.npy")[:40])
np.save(w + "/tx.npy", np.load(d + "/train_x.npy")[:128])
np.save(w + "/ty.npy", np.load(d + "/train_y.npy")[:128])
PY

# Inference: the digits MLP, in-process and through the daemon.
"$bin/sncompile" "$ex/digits/model.onnx" -o "$w/digits.pef" --config tiny > /dev/null
run=("$w/digits.pef" --config tiny --batch --input "x=$w/x.npy")
"$bin/snrun" --backend func "${run[@]}" --output-dir "$w/alone" > /dev/null
"$bin/snrun" --device "unix:$sock" "${run[@]}" --output-dir "$w/node" --test > "$w/node.out"
grep -q '^test: PASS' "$w/node.out" || fail "--device --test: $(cat "$w/node.out")"
cmp "$w/alone/logits.npy" "$w/node/logits.npy" || fail "--device output differs from the in-process run"
OPENRDU_DEVICE="unix:$sock" "$bin/snrun" "${run[@]}" --output-dir "$w/env" > /dev/null
cmp "$w/alone/logits.npy" "$w/env/logits.npy" || fail "OPENRDU_DEVICE output differs"

# Training: one epoch (4 steps), the same loss in-process and through the daemon.
"$bin/sncompile" "$ex/digits/train.onnx" --train --optimizer sgd --lr 0.1 --momentum 0.9 --config tiny \
  -o "$w/train.pef" > /dev/null
train=("$w/train.pef" --config tiny --train --data "x=$w/tx.npy" --data "y=$w/ty.npy" --epochs 1)
"$bin/snrun" --backend func "${train[@]}" | grep -o 'epoch 1/1  loss [0-9.]*  accuracy [0-9.]*%' > "$w/train_alone"
OPENRDU_DEVICE="unix:$sock" "$bin/snrun" "${train[@]}" | grep -o 'epoch 1/1  loss [0-9.]*  accuracy [0-9.]*%' \
  > "$w/train_node"
[ -s "$w/train_alone" ] && cmp "$w/train_alone" "$w/train_node" || fail "training differs: $(cat "$w"/train_*)"

# The wrong configuration: one line naming both.
if "$bin/snrun" --info --device "unix:$sock" --config small 2> "$w/err"; then fail "--config small accepted by a tiny node"; fi
grep -q "^snrun: error: device unix:$sock: the node runs configuration 'tiny'" "$w/err" || fail "$(cat "$w/err")"

# A client in Python holds an application while the stat tools show it.
/usr/bin/python3 - "$sock" "$bin" > "$w/py.out" <<'PY'
import json, socket, subprocess, sys
sock, bindir = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile("rwb")
def req(o):
    o["version"] = 1
    f.write((json.dumps(o) + "\n").encode()); f.flush()
    return json.loads(f.readline())
r = req({"op": "open", "name": "python", "wait": False})
assert r["ok"], r
print("info", r["info"]["config"], r["info"]["rdu"], r["info"]["dram_bytes"])
print("ID 0x%08x" % req({"op": "read32", "offset": 0})["value"])
for t in ("sntilestat", "snddrstat", "snpciestat"):
    print(subprocess.run([bindir + "/" + t, "--device", "unix:" + sock], capture_output=True, text=True, check=True).stdout)
st = json.loads(subprocess.run([bindir + "/sntilestat", "--device", "unix:" + sock, "--json"], capture_output=True,
                               text=True, check=True).stdout)
print("apps", [a["name"] for a in st["apps"]], "served", st["counts"]["served"])
print(req({"op": "close"}))
PY
grep -q '^info tiny 0 ' "$w/py.out" || fail "python open: $(cat "$w/py.out")"
grep -q '^ID 0x52445530' "$w/py.out" || fail "python read32"
grep -q "^apps \['python'\] served 4" "$w/py.out" || fail "status: $(cat "$w/py.out")"
# RDU 0 tile 0: the python client's, with the run cycles of the snrun applications before it.
grep -Eq '^0 +0 +[0-9]+ python \(pid [0-9]+\) +[0-9]+ +[0-9]+ +[1-9][0-9]*$' "$w/py.out" || fail "sntilestat: $(cat "$w/py.out")"
grep -Eq '^[0-9]+ python \(pid [0-9]+\) +0 +0 +\[0x0, 0x' "$w/py.out" || fail "snddrstat: $(cat "$w/py.out")"
grep -Eq '^[0-9]+ python \(pid [0-9]+\) +1 +1 +0 ' "$w/py.out" || fail "snpciestat: $(cat "$w/py.out")"
if "$bin/sntilestat" --device "$sock" 2> "$w/err"; then fail "--device without unix:"; fi
grep -q "^sntilestat: error: --device '$sock': expected unix:PATH" "$w/err" || fail "$(cat "$w/err")"

kill -TERM $snd_pid
wait $snd_pid || fail "snd exit status $?"
[ ! -e "$sock" ] || fail "socket left after SIGTERM"
grep -q "app [0-9]* 'python' (pid [0-9]*) released RDU 0 tile 0 (closed by the application)" "$w/snd.log" \
  || fail "snd.log: $(tail "$w/snd.log")"
grep -q "snd stopped: 5 application(s) served" "$w/snd.log" || fail "snd.log: $(tail -3 "$w/snd.log")"
echo PASS
