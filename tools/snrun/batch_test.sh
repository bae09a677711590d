#!/usr/bin/env bash
# snrun --batch and --profile on the ONNX node test test_relu (tiny).
# usage: batch_test.sh BIN_DIR BACKEND ONNX_TEST_DIR WORK_DIR
# A batch of 3 samples gives outputs equal, bit for bit, to three single runs stacked as
# [3, ...], and to NumPy's relu of the inputs (random, seed $OPENRDU_SEED, default 7); the profile is valid JSON with configuration, run, DMA
# and per-sample events; bad batch shapes fail with one stderr line and write nothing.
set -u
bin=$1 backend=$2 model_dir=$3 work=$4
py=/usr/bin/python3
rm -rf "$work" && mkdir -p "$work/out" "$work/single"
cd "$work"
fail() { echo "FAIL [batch $backend]: $*" >&2; exit 1; }
"$bin/sncompile" "$model_dir/model.onnx" --config tiny -o model.pef >/dev/null || fail "sncompile"
# test_relu: input x, output y, shape (3, 4, 5) (model.onnx). Random samples, seeded.
in=x ofile=y.npy
seed=${OPENRDU_SEED:-7}
echo "seed $seed"
# Three different samples, each also as its own file; bad and empty batches.
$py - "$seed" <<'PY' || fail "making the batch"
import sys
import numpy as np
rng = np.random.default_rng(int(sys.argv[1]))
x = rng.standard_normal((3, 4, 5)).astype("<f4")
np.save("x.npy", x)
s = [x, -0.5 * x + np.float32(0.25), np.float32(3) * x]
for i, v in enumerate(s): np.save(f"s{i}.npy", v.astype("<f4"))
np.save("batch.npy", np.stack(s).astype("<f4"))
np.save("batch2.npy", np.stack(s[:2]).astype("<f4"))
np.save("bad.npy", np.zeros((3,) + x.shape[1:] + (1,), "<f4"))
np.save("empty.npy", np.zeros((0,) + x.shape, "<f4"))
PY

for i in 0 1 2; do
  mkdir -p "single/$i"
  "$bin/snrun" --backend "$backend" --config tiny model.pef --input "$in=s$i.npy" --output-dir "single/$i" >/dev/null ||
    fail "single run $i"
done
# Without --batch a profile has no per-sample track; a batch shape is refused.
"$bin/snrun" --backend "$backend" --config tiny model.pef --input "$in=s0.npy" --output-dir single/0 \
  --profile single.json >/dev/null || fail "single run with --profile"
$py -c 'import json; c=[e["cat"] for e in json.load(open("single.json"))["traceEvents"] if e["ph"]=="X"]; assert sorted(set(c))==["configuration","dma device->host","dma host->device","run"] and c.count("run")==1, c' ||
  fail "single-run profile"
"$bin/snrun" --backend "$backend" --config tiny model.pef --input "$in=batch.npy" --output-dir out >/dev/null 2>&1 &&
  fail "a batch input without --batch was accepted"
"$bin/snrun" --backend "$backend" --config tiny model.pef --batch --input "$in=batch.npy" --output-dir out \
  --profile prof/../run.json >run.txt 2>err.txt && fail "--profile into a missing directory did not fail"
"$bin/snrun" --backend "$backend" --config tiny model.pef --batch --input "$in=batch.npy" --output-dir out \
  --profile run.json --log-dir log --log-level warn >run.txt 2>err.txt || { cat run.txt err.txt; fail "batch run"; }
cat run.txt
[ ! -s err.txt ] || { cat err.txt; fail "stderr not empty (not a TTY: no progress bar expected)"; }
grep -q "batch: 3/3 samples (100%)" log/sn.log || fail "no progress line in the log"
grep -qE "utilisation: +PCUs [0-9.]+%, PMUs [0-9.]+% of [1-9][0-9]* run cycles \(activity counters" run.txt ||
  fail "summary lacks the utilisation from the activity counters"
grep -qE "DRAM \(AGCUs\): +[1-9][0-9]* bytes read, [1-9][0-9]* bytes written" run.txt || fail "summary lacks DRAM bytes"
grep -q '"format": "openrdu-counters-1"' out/counters.json || fail "no counters.json with the outputs"
grep -q '"runs": 3,' out/counters.json || fail "counters.json does not sum the 3 samples"
grep -qE "PCUs used [1-9][0-9]*/2 " run.txt || fail "summary lacks PCU usage"
grep -qE "DMA host->device: +[1-9][0-9]* bytes" run.txt || fail "summary lacks DMA bytes"
ls -A | grep -q '\.tmp' && fail "temporary file left behind"

$py - "$ofile" <<'PY' || fail "outputs or profile"
import json, sys
import numpy as np
o = sys.argv[1]
b = np.load(f"out/{o}")
singles = [np.load(f"single/{i}/{o}") for i in range(3)]
assert b.shape == (3,) + singles[0].shape, (b.shape, singles[0].shape)
assert b.tobytes() == np.stack(singles).tobytes(), "batch differs from the single runs"
ref = np.maximum(np.stack([np.load(f"s{i}.npy") for i in range(3)]), np.float32(0))
assert b.tobytes() == ref.tobytes(), "batch differs from relu"
with open("run.json") as f: p = json.load(f)
ev = p["traceEvents"]
x = [e for e in ev if e["ph"] == "X"]
cats = {}
for e in x:
    cats.setdefault(e["cat"], []).append(e)
    assert e["pid"] == 1 and e["dur"] >= 0 and e["ts"] >= 0, e
for c, n in [("batch", 3), ("configuration", 3), ("run", 3), ("dma device->host", 3)]:
    assert len(cats.get(c, [])) == n, (c, len(cats.get(c, [])))
# Weights and bitstreams are uploaded once per load; inputs once per sample.
up = [e["name"] for e in cats["dma host->device"]]
assert sum(n.startswith("input ") for n in up) == 3, up
assert sum(n.startswith("bitstream ") for n in up) == 1, up
assert all(e["args"]["bytes"] > 0 for e in cats["dma host->device"] + cats["dma device->host"])
assert all(e["dur"] > 0 for e in cats["run"])  # CFG_CYCLES may be 0 (functional model)
# Per-unit activity on every run span: some PCU active, the AGCUs' DRAM bytes.
for e in cats["run"]:
    a = e["args"]
    assert any(k.startswith("pcu") and k.endswith(" active") and v > 0 for k, v in a.items()), a
    assert a["dram_rd_bytes"] > 0 and a["dram_wr_bytes"] > 0, a
tids = {e["cat"]: e["tid"] for e in x}
assert len(set(tids.values())) == len(tids), tids
names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
assert names == set(cats), (names, set(cats))
s = sorted(cats["batch"], key=lambda e: e["ts"])
for a, c in zip(s, s[1:]): assert c["ts"] >= a["ts"] + a["dur"] - 1e-3, (a, c)
print("profile:", len(x), "events;", {c: len(v) for c, v in cats.items()})
PY
# The summary's DMA bytes equal the sum over the profile's DMA events.
want=$($py -c 'import json; ev=json.load(open("run.json"))["traceEvents"]; print(sum(e["args"]["bytes"] for e in ev if e.get("cat")=="dma host->device"))')
grep -qE "DMA host->device: +$want bytes" run.txt || fail "summary DMA bytes differ from the profile's ($want)"
$py -m json.tool run.json >/dev/null || fail "json.tool rejects the profile"
rm -f out/*

# expect_error PATTERN CMD...: exit 1, one stderr line matching PATTERN, nothing written.
expect_error() {
  local pattern=$1; shift
  "$@" >o.txt 2>e.txt && fail "did not fail: $*"
  [ "$(wc -l <e.txt)" -eq 1 ] || { cat e.txt; fail "expected one stderr line: $*"; }
  grep -qE "$pattern" e.txt || { cat e.txt; fail "stderr does not match '$pattern'"; }
  [ -z "$(ls -A out)" ] || fail "output written after an error: $*"
  [ ! -e bad.json ] || fail "profile written after an error"
}
r=("$bin/snrun" --backend "$backend" --config tiny model.pef --output-dir out --profile bad.json --batch)
expect_error "^snrun: error: batch input '$in': shape \(3, .*, 1\) is not \[N, \.\.\.\] of the model's input shape" \
  "${r[@]}" --input "$in=bad.npy"
expect_error "^snrun: error: batch of 0 samples: '$in' \(0, " "${r[@]}" --input "$in=empty.npy"
expect_error "^snrun: error: batch input '$in': shape \(.*\) is not \[N, \.\.\.\]" "${r[@]}" --input "$in=x.npy"
expect_error "^snrun: error: batch input 'nope': the model has no input of that name" \
  "${r[@]}" --input "$in=batch.npy" --input "nope=batch2.npy"
echo "OK: --batch equals three single runs and relu; profile valid; bad batch shapes rejected"
