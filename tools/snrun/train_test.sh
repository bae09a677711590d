#!/usr/bin/env bash
# snrun --train on a hand-made training PEF (tools/snrun/train_test.sh BIN_DIR BACKEND WORK_DIR):
# a YAML graph compiled by sncompile (loss = sum(x * w) + sum(y), logits = x * w), made a
# training PEF by pef_edit's META train.* keys (w the parameter, y int64 labels). Its weights
# are not updated in place (today's compiler cannot), so every figure is known: checked
# against NumPy. Then checkpoints, --resume (the shuffled order of epoch 2 repeated),
# --checkpoint for inference, and one-line errors.
set -u
bin=$1 backend=$2 work=$3
py=/usr/bin/python3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { echo "+ $*"; "$@"; }
# expect_error PATTERN CMD...: exit 1 and one stderr line matching PATTERN.
expect_error() {
  local pattern=$1; shift
  echo "+ $*"
  "$@" >stdout.txt 2>stderr.txt
  local rc=$?
  cat stderr.txt
  [ $rc -eq 1 ] || fail "exit status $rc, expected 1"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one line on stderr"
  grep -q -- "$pattern" stderr.txt || fail "stderr does not mention '$pattern'"
}

cat >toy.yaml <<'EOF'
inputs:
  - {name: x, shape: [2, 4]}
  - {name: y, shape: [2]}
constants:
  - {name: w, shape: [4], values: [1, 2, 3, 4]}
nodes:
  - {op: Mul, inputs: [x, w], outputs: [logits]}
  - {op: ReduceSum, inputs: [logits], outputs: [s1], attrs: {keepdims: 0}}
  - {op: ReduceSum, inputs: [y], outputs: [s2], attrs: {keepdims: 0}}
  - {op: Add, inputs: [s1, s2], outputs: [loss]}
outputs: [loss, logits]
EOF
run "$bin/sncompile" toy.yaml --config tiny -o toy.pef || fail "sncompile"
run "$bin/pef_edit" toy.pef train.pef --meta train=1 --meta train.loss=loss --meta train.batch=2 \
  --meta train.param.0=w --meta train.logits=logits --meta train.labels=y --dtype y=int64 || fail "pef_edit"

# 6 samples (3 steps of 2); y holds small labels, read by the device as fp32 denormals that
# do not change the loss. Expected figures from NumPy.
$py - <<'EOF' || fail "numpy"
import numpy as np, json
x = np.array([[1, 0, 2, 1], [3, 1, 0, 0], [0, 0, 1, 2], [2, 2, 2, 2], [1, 3, 0, 1], [0, 4, 1, 0]], np.float32)
y = np.array([2, 0, 3, 1, 1, 3], np.int64)
np.save("x.npy", x); np.save("y.npy", y)
np.save("x5.npy", x[:5]); yb = y.copy(); yb[2] = 4; np.save("ybad.npy", yb)
w = np.array([1, 2, 3, 4], np.float32)
steps = [(x[2*k:2*k+2] * w).sum() for k in range(3)]
acc = ((x * w).argmax(1) == y).mean() * 100
json.dump({"steps": [float(s) for s in steps], "mean": float(np.mean(steps)), "acc": float(acc)}, open("expected.json", "w"))
np.savez("other.npz", foo=np.zeros(3, np.float32), w=w)
np.savez("infer.npz", w=np.full(4, 2, np.float32), **{"w.momentum_buffer": np.zeros(4, np.float32),
         "optimizer.step": np.float32(3), "train.epoch": np.int64(1)})
np.savez("bogus.npz", w=w, bogus=w)
EOF

common=(--backend "$backend" --config tiny train.pef --train --data x=x.npy --data y=y.npy)
mkdir ck ck2
run "$bin/snrun" "${common[@]}" --epochs 2 --shuffle --seed 3 --checkpoint-dir ck --metrics m.jsonl >out.txt || fail "snrun --train"
cat out.txt
grep -q '\[#' out.txt && fail "a progress bar although stdout is not a terminal"
$py - <<'EOF' || fail "figures differ from NumPy's"
import json, re, numpy as np
e = json.load(open("expected.json"))
lines = [l for l in open("out.txt") if l.startswith("epoch ")]
assert len(lines) == 2, lines
for k, l in enumerate(lines, 1):
    m = re.match(r"epoch (\d+)/2  loss (\S+)  accuracy (\S+)%  samples/s \(simulated\) (\S+)  samples/s \(wall\) (\S+)$", l.strip())
    assert m, l
    assert int(m.group(1)) == k
    assert abs(float(m.group(2)) - e["mean"]) <= 1e-4 * abs(e["mean"]), (m.group(2), e["mean"])
    assert abs(float(m.group(3)) - e["acc"]) < 0.01, (m.group(3), e["acc"])
    assert float(m.group(4)) > 0 and float(m.group(5)) > 0
steps = [json.loads(l) for l in open("m.jsonl")]
assert [(s["epoch"], s["step"]) for s in steps] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)], steps
for ep in (1, 2):  # shuffled: each epoch's batches are pairs of samples, their sum is the whole set's
    total = sum(s["loss"] for s in steps if s["epoch"] == ep)
    assert abs(total - sum(e["steps"])) <= 1e-4 * sum(e["steps"]), total
for k in (1, 2):
    c = np.load(f"ck/epoch{k}.npz")
    assert sorted(c.files) == ["train.epoch", "w"], c.files
    assert c["w"].dtype == np.float32 and list(c["w"]) == [1, 2, 3, 4]
    assert c["train.epoch"].dtype == np.int64 and c["train.epoch"] == k
EOF
echo "OK: epochs, loss, accuracy, metrics and checkpoints"

# Without --shuffle the steps are the batches in order: each step's loss is NumPy's.
run "$bin/snrun" "${common[@]}" --metrics plain.jsonl >/dev/null || fail "snrun --train without --shuffle"
$py -c '
import json
e = json.load(open("expected.json"))["steps"]
got = [json.loads(l)["loss"] for l in open("plain.jsonl")]
assert len(got) == 3 and all(abs(g - w) <= 1e-4 * abs(w) for g, w in zip(got, e)), (got, e)
' || fail "per-step losses without --shuffle"

# --resume: the numbering continues and epoch 2 sees the same shuffled batches.
run "$bin/snrun" "${common[@]}" --epochs 1 --shuffle --seed 3 --resume ck/epoch1.npz --checkpoint-dir ck2 \
  --metrics m2.jsonl >resume.txt || fail "snrun --resume"
cat resume.txt
grep -q '^epoch 2/2  loss' resume.txt || fail "the resumed run is not numbered epoch 2/2"
grep '"epoch": 2' m.jsonl | cmp -s - m2.jsonl || fail "resumed epoch 2 differs from epoch 2 of the whole run"
cmp -s ck/epoch2.npz ck2/epoch2.npz || fail "resumed checkpoint differs"
echo "OK: resume"

# Inference with a checkpoint's weights (optimizer keys and train.epoch ignored): logits = x * 2.
$py -c 'import numpy as np; np.save("x1.npy", np.array([[1, 2, 3, 4], [0, 1, 0, 1]], np.float32)); np.save("y1.npy", np.zeros(2, np.float32))'
mkdir out
run "$bin/snrun" --backend "$backend" --config tiny toy.pef --checkpoint infer.npz --input x=x1.npy --input y=y1.npy \
  --output-dir out >/dev/null || fail "snrun --checkpoint"
$py -c 'import numpy as np; l = np.load("out/logits.npy"); assert (l == np.array([[2, 4, 6, 8], [0, 2, 0, 2]])).all(), l' ||
  fail "--checkpoint weights not used"
echo "OK: --checkpoint"

# --validate with an inference PEF whose weight is 0 (batch 3): the trained w = [1, 2, 3, 4]
# must be applied for NumPy's accuracy; training continues exactly (same steps, checkpoints).
cat >infer.yaml <<'EOF'
inputs:
  - {name: x, shape: [3, 4]}
constants:
  - {name: w, shape: [4], values: [0, 0, 0, 0]}
nodes:
  - {op: Mul, inputs: [x, w], outputs: [logits]}
outputs: [logits]
EOF
run "$bin/sncompile" infer.yaml --config tiny -o infer.pef || fail "sncompile infer.yaml"
mkdir ckv
run "$bin/snrun" "${common[@]}" --epochs 2 --shuffle --seed 3 --checkpoint-dir ckv --metrics mv.jsonl \
  --validate x=x.npy --validate y=y.npy --validate-pef infer.pef >val.txt || fail "snrun --validate"
cat val.txt
acc=$($py -c 'import json; print("%.2f" % json.load(open("expected.json"))["acc"])')
[ "$(grep -c "^  validation  loss -  accuracy $acc%  (6 samples)$" val.txt)" -eq 2 ] ||
  fail "validation accuracy is not NumPy's $acc% after each epoch"
cmp -s m.jsonl mv.jsonl || fail "validation changed the training steps"
cmp -s ck/epoch2.npz ckv/epoch2.npz || fail "validation changed the trained state"
expect_error "validate-pef INFER.pef go together" "$bin/snrun" "${common[@]}" --validate x=x.npy
echo "OK: --validate"

expect_error "data files disagree on the number of samples: x (x5.npy) N=5, y (y.npy) N=6" \
  "$bin/snrun" --backend "$backend" --config tiny train.pef --train --data x=x5.npy --data y=y.npy
expect_error "y (ybad.npy): sample 2 has label 4, outside \[0, 4)" \
  "$bin/snrun" --backend "$backend" --config tiny train.pef --train --data x=x.npy --data y=ybad.npy
expect_error "checkpoint other.npz: 'foo' is not a parameter or state tensor of the model" \
  "$bin/snrun" "${common[@]}" --resume other.npz
head -c 300 ck/epoch1.npz >cut.npz
expect_error "cut.npz: " "$bin/snrun" "${common[@]}" --resume cut.npz
expect_error "checkpoint bogus.npz: 'bogus' is not a weight of the model" \
  "$bin/snrun" --backend "$backend" --config tiny toy.pef --checkpoint bogus.npz --input x=x1.npy --input y=y1.npy \
  --output-dir out
expect_error "toy.pef: not a training PEF" "$bin/snrun" --backend "$backend" --config tiny toy.pef --train \
  --data x=x.npy --data y=y.npy
expect_error "need --train" "$bin/snrun" --backend "$backend" --config tiny toy.pef --input x=x1.npy --input y=y1.npy \
  --output-dir out --data x=x.npy
expect_error "--train takes --data" "$bin/snrun" "${common[@]}" --input x=x.npy
echo "PASS"
