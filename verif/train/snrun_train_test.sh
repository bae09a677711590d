#!/usr/bin/env bash
# snrun --train on a real training PEF (the digits MLP of examples/digits, compiled by
# sncompile --train for tiny), on the functional model:
#  * resume is exact: 2 epochs (shuffled, seed 7) equal 1 epoch, --resume, 1 epoch, bit for
#    bit (the checkpoints are byte-identical .npz files);
#  * bad input, one line each: a label out of range (naming the sample), data files whose N
#    differ, a checkpoint of another model, a corrupt .npz.
#   verif/train/snrun_train_test.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1 work=$2
digits=$(cd "$(dirname "$0")/../../examples/digits" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() {  # PATTERN CMD...: exit 1 and one line on stderr matching PATTERN
  local pattern=$1; shift
  local rc=0
  "$@" >stdout.txt 2>stderr.txt || rc=$?
  cat stderr.txt
  [ $rc -eq 1 ] || fail "exit status $rc, expected 1: $*"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one line on stderr: $*"
  grep -q -- "$pattern" stderr.txt || fail "stderr does not mention '$pattern'"
}
run() { "$bin/snrun" --backend func --config tiny train.pef --train "$@"; }
data=(--data "x=$digits/train_x.npy" --data "y=$digits/train_y.npy")

"$bin/sncompile" "$digits/train.onnx" --train --optimizer adam --lr 0.01 --config tiny -o train.pef
run "${data[@]}" --epochs 2 --shuffle --seed 7 --checkpoint-dir a
run "${data[@]}" --epochs 1 --shuffle --seed 7 --checkpoint-dir b
run "${data[@]}" --epochs 1 --shuffle --seed 7 --checkpoint-dir c --resume b/epoch1.npz
cmp a/epoch2.npz c/epoch2.npz || fail "2 epochs differ from 1 epoch + resume + 1 epoch"
cmp -s a/epoch1.npz a/epoch2.npz && fail "the second epoch changed nothing"
echo "resume: a/epoch2.npz == c/epoch2.npz"

/usr/bin/python3 - "$digits" <<'PY'
import sys, numpy as np
d = sys.argv[1]
y = np.load(d + "/train_y.npy"); y[40] = 10; np.save("y_bad.npy", y)
np.save("y_short.npy", np.load(d + "/train_y.npy")[:100])
np.savez("other.npz", **{"fc.weight": np.zeros((3, 3), np.float32)})
open("corrupt.npz", "wb").write(open(d + "/../../verif/train/traj/mlp_sgd/final.npz", "rb").read()[:200])
PY
expect_error "sample 40" run --data "x=$digits/train_x.npy" --data y=y_bad.npy --epochs 1
expect_error "y_short.npy" run --data "x=$digits/train_x.npy" --data y=y_short.npy --epochs 1
expect_error "other.npz" run "${data[@]}" --epochs 1 --resume other.npz
expect_error "corrupt.npz" run "${data[@]}" --epochs 1 --resume corrupt.npz
echo "PASS"
