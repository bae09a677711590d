#!/usr/bin/env bash
# The main job: compile the example model, run it on the device, check it against the CPU.
#   scripts/demo.sh BUILD_DIR EXAMPLE_DIR CONFIG BACKEND [DIGITS_BACKEND] [DIGITS_CONFIG] [OUT_DIR]
# EXAMPLE_DIR holds model.onnx and inputs/<graph input name>.npy.
# Then the digits demo (examples/digits: an MLP 64-32-10 trained with PyTorch on
# scikit-learn's 8x8 digits): inference on the 450 test images as one batch on
# DIGITS_BACKEND (default verilator) of DIGITS_CONFIG (default tiny: about a minute;
# small's RTL simulates some 50 times slower), checked against the CPU reference
# (snrun --test, exactly) and against PyTorch's accuracy (expected.json). OUT_DIR (default
# BUILD_DIR/demo) receives the PEFs and outputs. Exit status 1 when any step fails: the tests
# demo.tiny_func, demo.tiny_verilator (CI) and demo.small_verilator (label slow) run it.
# Last, the training workflow (scripts/train-demo.sh): the digits MLP trained on the device,
# checkpoints, an epoch on tiny's RTL (when DIGITS_BACKEND is verilator), inference from the
# last checkpoint.
set -euo pipefail
build=${1:-build}; example=${2:-examples/elementwise}; config=${3:-small}; backend=${4:-verilator}
digits_backend=${5:-verilator}; digits_config=${6:-tiny}
bin=$build/bin
out=${7:-$build/demo}
rm -rf "$out"; mkdir -p "$out/outputs"

inputs=()
for f in "$example"/inputs/*.npy; do
  name=$(basename "$f" .npy)
  inputs+=(--input "$name=$f")
done

echo "== sncompile $example/model.onnx (config $config)"
"$bin/sncompile" "$example/model.onnx" -o "$out/model.pef" --config "$config"
echo
echo "== pefdump"
"$bin/pefdump" "$out/model.pef" | sed -n "1,30p"  # sed reads to the end: no SIGPIPE under pipefail
echo
echo "== snrun --backend $backend --config $config"
"$bin/snrun" --backend "$backend" --config "$config" "$out/model.pef" "${inputs[@]}" --output-dir "$out/outputs"
echo
echo "== check against the CPU reference (snref; every op is one correctly rounded fp32 operation, so the tolerance is 0)"
"$bin/snref" "$example/model.onnx" "${inputs[@]}" --outputs "$out/outputs" --print --rtol 0 --atol 0

digits=$(dirname "$0")/../examples/digits
echo
echo "== digits: sncompile $digits/model.onnx (config $digits_config)"
"$bin/sncompile" "$digits/model.onnx" -o "$out/digits.pef" --config "$digits_config" --report
mkdir -p "$out/digits"
echo
echo "== digits: snrun --batch (450 test images) --backend $digits_backend --config $digits_config --test --labels"
"$bin/snrun" --backend "$digits_backend" --config "$digits_config" "$out/digits.pef" --batch \
  --input "x=$digits/test_x.npy" --output-dir "$out/digits" --test --labels "$digits/test_y.npy" \
  --profile "$out/digits/profile.json" | tee "$out/digits.txt"
want=$(sed -n 's/.*"test_correct": \([0-9]*\).*/\1/p' "$digits/expected.json")
got=$(sed -n 's/^accuracy: \([0-9]*\)\/.*/\1/p' "$out/digits.txt")
echo "PyTorch (CPU): $want/450 correct; OpenRDU: $got/450 correct"
[ "$got" = "$want" ] || { echo "digits: accuracy differs from PyTorch's" >&2; exit 1; }
# The compiler's cycle estimate against the RTL (snrun's "device / estimate"): within
# DEMO_ESTIMATE_WITHIN percent when set (the tests demo.*_verilator set the figure's floor).
ratio=$(sed -n 's/.*(device \/ estimate \([0-9.]*\)).*/\1/p' "$out/digits.txt")
echo "digits: device / estimate $ratio"
if [ -n "${DEMO_ESTIMATE_WITHIN:-}" ] && [ "$digits_backend" = verilator ]; then
  awk -v r="$ratio" -v w="$DEMO_ESTIMATE_WITHIN" 'BEGIN { d = (r - 1) * 100; if (d < 0) d = -d; exit !(r != "" && d <= w) }' \
    || { echo "digits: the estimate is not within $DEMO_ESTIMATE_WITHIN% of the RTL (device / estimate '$ratio')" >&2; exit 1; }
fi

echo
rtl_epochs=0  # an epoch on tiny's RTL when the digits run on the Verilator backend
[ "$digits_backend" = verilator ] && rtl_epochs=${DEMO_TRAIN_RTL_EPOCHS:-1}
bash "$(dirname "$0")/train-demo.sh" "$build" tiny 5 "$rtl_epochs" "$out/train"
