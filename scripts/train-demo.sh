#!/usr/bin/env bash
# The training workflow on the digits MLP (examples/digits: train.onnx, the MLP 64-32-10 with
# its cross-entropy loss; PyTorch's run of the same training in train_expected.json):
#   compile for training -> a test run against the CPU reference -> EPOCHS epochs on the
#   functional model with a checkpoint after each -> RTL_EPOCHS epochs on tiny's RTL from the
#   last checkpoint -> inference on the 450 held-out images from the last checkpoint, with
#   its accuracy beside PyTorch's.
#   scripts/train-demo.sh BUILD_DIR [CONFIG] [EPOCHS] [RTL_EPOCHS] [OUT_DIR]
# CONFIG defaults to tiny, EPOCHS to 5 (PyTorch's run), RTL_EPOCHS to 1 (about 3 minutes),
# OUT_DIR to BUILD_DIR/train-demo.
set -euo pipefail
build=${1:-build}; config=${2:-tiny}; epochs=${3:-5}; rtl_epochs=${4:-1}; out=${5:-${1:-build}/train-demo}
bin=$build/bin
digits=$(cd "$(dirname "$0")/../examples/digits" && pwd)
rm -rf "$out"; mkdir -p "$out"

echo "== sncompile $digits/train.onnx --train (SGD, lr 0.1, momentum 0.9; config $config)"
"$bin/sncompile" "$digits/train.onnx" --train --optimizer sgd --lr 0.1 --momentum 0.9 --config "$config" \
  -o "$out/train.pef"
echo
echo "== test run: one step on the first batch, the loss against the CPU reference"
/usr/bin/python3 - "$digits" "$out" <<'EOF'
import sys, numpy as np
d, o = sys.argv[1], sys.argv[2]
np.save(o + "/batch_x.npy", np.load(d + "/train_x.npy")[:32])
np.save(o + "/batch_y.npy", np.load(d + "/train_y.npy")[:32])
EOF
"$bin/snrun" --backend func --config "$config" "$out/train.pef" --input "x=$out/batch_x.npy" \
  --input "y=$out/batch_y.npy" --test --output-dir "$out/test-run" | tail -3
echo
echo "== snrun --train: $epochs epochs on the functional model ($config), a checkpoint after each"
"$bin/snrun" --backend func --config "$config" "$out/train.pef" --train --data "x=$digits/train_x.npy" \
  --data "y=$digits/train_y.npy" --epochs "$epochs" --checkpoint-dir "$out/ckpt" --metrics "$out/metrics.jsonl"
last=$out/ckpt/epoch$epochs.npz
if [ "$rtl_epochs" -gt 0 ]; then
  echo
  echo "== snrun --train --backend verilator: $rtl_epochs more epoch(s) on tiny's RTL, resumed from $last"
  "$bin/snrun" --backend verilator --config tiny "$out/train.pef" --train --data "x=$digits/train_x.npy" \
    --data "y=$digits/train_y.npy" --epochs "$rtl_epochs" --resume "$last" --checkpoint-dir "$out/ckpt-rtl"
fi
echo
echo "== inference from $last on the 450 held-out images (infer.onnx, weights replaced by name)"
"$bin/sncompile" "$digits/infer.onnx" --keep-weights --config "$config" -o "$out/infer.pef" | tail -1
"$bin/snrun" --backend func --config "$config" "$out/infer.pef" --checkpoint "$last" --batch \
  --input "x=$digits/test_x.npy" --labels "$digits/test_y_i64.npy" --output-dir "$out/infer" | tee "$out/infer.txt" |
  grep '^accuracy'
got=$(sed -n 's/^accuracy: \([0-9]*\)\/.*/\1/p' "$out/infer.txt")
want=$(sed -n 's/.*"test_correct": \([0-9]*\).*/\1/p' "$digits/train_expected.json")
echo "PyTorch, the same $epochs epochs of SGD: $want/450 correct; OpenRDU: $got/450 correct"
if [ "$epochs" = 5 ] && [ $((got - want)) -gt 2 -o $((want - got)) -gt 2 ]; then
  echo "train-demo: the accuracy differs from PyTorch's by more than 2 images" >&2
  exit 1
fi
