#!/usr/bin/env bash
# The main job: compile the example model, run it on the device, check it against the CPU.
#   scripts/demo.sh BUILD_DIR EXAMPLE_DIR CONFIG BACKEND
# EXAMPLE_DIR holds model.onnx and inputs/<graph input name>.npy.
set -euo pipefail
build=${1:-build}; example=${2:-examples/elementwise}; config=${3:-small}; backend=${4:-verilator}
bin=$build/bin
out=$build/demo
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
