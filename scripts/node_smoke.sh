#!/usr/bin/env bash
# A smoke set of ONNX node tests, one or two per operator family, through the tools:
# sncompile for CONFIG, snrun on BACKEND with --test --rtol 0 --atol 0 (the device's
# outputs equal to the CPU reference bit for bit; exit 1 otherwise).
#   scripts/node_smoke.sh BIN_DIR CONFIG BACKEND WORK_DIR
# Run by the tests node.smoke_tiny_verilator (CI) and node.smoke_small_verilator (slow).
set -euo pipefail
bin=$1 cfg=$2 backend=$3 work=$4
data=/usr/share/libonnx-testdata/data/node
tests=(
  test_add test_relu                                    # elementwise
  test_exp test_tanh test_erf test_sigmoid              # special functions
  test_softmax_axis_1 test_reduce_max_default_axes_keepdim_example  # row reductions
  test_matmul_2d test_gemm_default_single_elem_vector_bias         # products
  test_transpose_default test_concat_2d_axis_0          # data movement
  test_conv_with_strides_padding test_maxpool_2d_default test_averagepool_2d_default
  test_batchnorm_example                                # CNN operators
)
rm -rf "$work" && mkdir -p "$work"
failed=()
for t in "${tests[@]}"; do
  d=$work/$t
  mkdir -p "$d/out"
  inputs=()
  for pb in "$data/$t"/test_data_set_0/input_*.pb; do
    n=$(basename "$pb" .pb)
    name=$("$bin/e2e_pb2npy" "$pb" "$d/$n.npy")
    inputs+=(--input "$name=$d/$n.npy")
  done
  if "$bin/sncompile" "$data/$t/model.onnx" --config "$cfg" -o "$d/model.pef" >"$d/log.txt" 2>&1 &&
     "$bin/snrun" --backend "$backend" --config "$cfg" "$d/model.pef" "${inputs[@]}" --output-dir "$d/out" \
       --test --rtol 0 --atol 0 >>"$d/log.txt" 2>&1 && grep -q "test: PASS" "$d/log.txt"; then
    echo "PASS $t"
  else
    echo "FAIL $t (log: $d/log.txt)"
    tail -5 "$d/log.txt"
    failed+=("$t")
  fi
done
echo "node_smoke: ${#tests[@]} tests on $cfg ($backend), ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
