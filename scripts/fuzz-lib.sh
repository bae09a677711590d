# Shared by scripts/fuzz-pef.sh and scripts/fuzz-readers.sh (sourced).

# fuzz_gen_headers ROOT DIR: the generated headers (builtin_configs.h, isa.h) of tiny and
# small in DIR/include, regenerated when a configuration file or the generator is newer.
fuzz_gen_headers() {
  local root=$1 dir=$2
  local inputs=("$root/scripts/gen_arch.py" "$root/configs/tiny.yaml" "$root/configs/small.yaml"
                "$root/configs/isa.yaml" "$root/configs/regs.yaml")
  if [ ! -f "$dir/.stamp" ] || [ -n "$(find "${inputs[@]}" -newer "$dir/.stamp" 2>/dev/null)" ]; then
    echo "fuzz: generating headers in $dir"
    /usr/bin/python3 "$root/scripts/gen_arch.py" --out "$dir" "$root/configs/tiny.yaml" "$root/configs/small.yaml" >/dev/null
    touch "$dir/.stamp"
  fi
}

# fuzz_run TAG BIN WORK SECONDS MAX_LEN: runs libFuzzer BIN for SECONDS on WORK/corpus
# (artifacts in WORK/artifacts, log WORK/fuzz.log) from seed FUZZ_SEED (default 1; at most
# FUZZ_RUNS runs when set), prints its last status line and stats; exit 1 on any crash,
# leak, timeout or sanitizer report (printing the inputs), else removes the corpus copy and
# keeps the log.
fuzz_run() {
  local tag=$1 bin=$2 work=$3 duration=$4 max_len=$5
  local log=$work/fuzz.log name
  name=$(basename "$bin")
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  local status=0
  local seed=${FUZZ_SEED:-1} runs=()
  [[ "$seed" =~ ^[0-9]+$ ]] || { echo "$tag: FUZZ_SEED must be a number, got '$seed'" >&2; exit 2; }
  if [ -n "${FUZZ_RUNS:-}" ]; then
    [[ "$FUZZ_RUNS" =~ ^[0-9]+$ ]] || { echo "$tag: FUZZ_RUNS must be a number, got '$FUZZ_RUNS'" >&2; exit 2; }
    runs=(-runs="$FUZZ_RUNS")
  fi
  "$bin" -seed="$seed" "${runs[@]}" -max_total_time="$duration" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1 || status=$?
  # libFuzzer's last status line: "#<runs> DONE cov: <n> ft: <n> corp: ..."
  grep -E '^#[0-9]+' "$log" | tail -n 1 || true
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
  local artifacts
  artifacts=$(find "$work/artifacts" -type f | sort)
  if [ "$status" -ne 0 ] || [ -n "$artifacts" ] ||
     grep -qE "ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:|$name: " "$log"; then
    echo "$tag: FAILED (fuzzer exit status $status); log: $log" >&2
    grep -E "ERROR:|SUMMARY:|runtime error:|$name: |Test unit written" "$log" | head -n 20 >&2 || true
    for a in $artifacts; do echo "$tag: crashing input: $a" >&2; done
    exit 1
  fi
  echo "$tag: OK, no crash, leak or sanitizer report (seed $seed); log: $log"
  rm -rf "$work/corpus"
}
