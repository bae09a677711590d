#!/usr/bin/env python3
"""Peak memory of sncompile and snrun against the weight bytes (issue 24).

Generates an ONNX MatMul y = x[1, K] @ W[K, N] whose weight W holds --mib MiB, compiles
it with sncompile, runs it with snrun (functional model) and reads each tool's peak
resident set (ru_maxrss of the child). The tools' own footprint is that of the same
commands on a 64 KiB model; the ratio judged is (peak - footprint) / weight bytes, which
must not exceed --max-ratio (sncompile's: --max-compile-ratio when given; exit 1
otherwise, or when the output is wrong). The peak over the weight bytes is printed beside it.

  bench/memory.py --bin build/bin --mib 128
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def start_spawner():
    """Forks, before numpy and the model data exist, the small process that runs the tools:
    a child's peak resident set counts what it inherits at the fork (ru_maxrss), so the
    tools must not be forked from this process once it holds the weights."""
    cmd_r, cmd_w = os.pipe()
    res_r, res_w = os.pipe()
    if os.fork() == 0:
        os.close(cmd_w)
        os.close(res_r)
        with os.fdopen(cmd_r) as cmds, os.fdopen(res_w, "w") as res:
            for line in cmds:
                p = subprocess.Popen(json.loads(line), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                _, status, usage = os.wait4(p.pid, 0)
                err = p.stderr.read().decode(errors="replace").strip()
                p.stderr.close()
                res.write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss, err]) + "\n")
                res.flush()
        os._exit(0)
    os.close(cmd_r)
    os.close(res_w)
    return os.fdopen(cmd_w, "w"), os.fdopen(res_r)


SPAWNER = start_spawner()
import numpy as np  # noqa: E402 (after the fork)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, payload):  # length-delimited field
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def int_field(num, v):
    return varint(num << 3) + varint(v)


def value_info(name, dims):  # ValueInfoProto: fp32 tensor of static shape
    shape = b"".join(field(1, int_field(1, d)) for d in dims)
    tensor_type = int_field(1, 1) + field(2, shape)
    return field(1, name.encode()) + field(2, field(1, tensor_type))


def matmul_model(w):
    """ModelProto bytes (IR 8, opset 13) of y = x @ w, w an initializer (raw_data)."""
    k, n = w.shape
    node = field(1, b"x") + field(1, b"w") + field(2, b"y") + field(3, b"mm") + field(4, b"MatMul")
    init = int_field(1, k) + int_field(1, n) + int_field(2, 1) + field(8, b"w") + field(9, w.tobytes())
    graph = (field(1, node) + field(2, b"memory") + field(5, init) + field(11, value_info("x", [1, k])) +
             field(12, value_info("y", [1, n])))
    return int_field(1, 8) + field(7, graph) + field(8, int_field(2, 13))


def peak_kib(cmd):
    """Runs cmd; returns its peak resident set in KiB (exit 1 naming cmd when it fails)."""
    to, back = SPAWNER
    to.write(json.dumps(cmd) + "\n")
    to.flush()
    rc, kib, err = json.loads(back.readline())
    if rc != 0:
        sys.exit(f"memory: {' '.join(cmd)} failed: {err}")
    return kib


def measure(bins, work, mib, config):
    """(sncompile KiB, snrun KiB, weight bytes) of the MatMul with mib MiB of weights."""
    k = 256 if mib < 1 else 1024
    n = max(1, int(mib * (1 << 20)) // 4 // k)
    rng = np.random.default_rng(int(mib * 16))  # fixed data per size
    w = rng.standard_normal((k, n), dtype=np.float32)
    x = rng.standard_normal((1, k), dtype=np.float32)
    model, pef, xin, out = (os.path.join(work, f"mm{mib}{s}") for s in (".onnx", ".pef", ".x.npy", ".out"))
    with open(model, "wb") as f:
        f.write(matmul_model(w))
    np.save(xin, x)
    compile_kib = peak_kib([os.path.join(bins, "sncompile"), model, "-o", pef, "--config", config])
    run_kib = peak_kib([os.path.join(bins, "snrun"), pef, "--backend", "func", "--config", config, "--input",
                        f"x={xin}", "--output-dir", out])
    y = np.load(os.path.join(out, "y.npy"))
    want = (x.astype(np.float64) @ w.astype(np.float64)).astype(np.float32)
    if y.shape != want.shape or not np.allclose(y, want, rtol=1e-4, atol=1e-4):
        sys.exit(f"memory: snrun's output for the {mib} MiB model differs from x @ W (max error "
                 f"{np.max(np.abs(y - want)) if y.shape == want.shape else 'shape ' + str(y.shape)})")
    for path in (model, pef):
        os.remove(path)
    return compile_kib, run_kib, w.nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="directory of sncompile and snrun")
    ap.add_argument("--mib", type=float, default=128, help="weight MiB of the measured model (default 128)")
    ap.add_argument("--config", default="small")
    ap.add_argument("--max-ratio", type=float, default=1.5,
                    help="largest (peak - footprint) / weight bytes accepted (default 1.5)")
    ap.add_argument("--max-compile-ratio", type=float,
                    help="the same for sncompile alone (default --max-ratio)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="openrdu-memory-") as work:
        base_c, base_r, _ = measure(a.bin, work, 1 / 16, a.config)
        comp, run, wbytes = measure(a.bin, work, a.mib, a.config)
    ok = True
    print(f"| tool | weights (MiB) | peak RSS (MiB) | footprint (MiB) | peak / weights | (peak - footprint) / weights |")
    print("|---|---|---|---|---|---|")
    compile_limit = ("--max-compile-ratio", a.max_compile_ratio) if a.max_compile_ratio else ("--max-ratio", a.max_ratio)
    for tool, peak, base, (option, limit) in (("sncompile", comp, base_c, compile_limit),
                                              ("snrun", run, base_r, ("--max-ratio", a.max_ratio))):
        ratio = (peak - base) * 1024 / wbytes
        print(f"| {tool} | {wbytes / 2**20:.0f} | {peak / 1024:.1f} | {base / 1024:.1f} | "
              f"{peak * 1024 / wbytes:.2f} | {ratio:.2f} |")
        if ratio > limit:
            print(f"memory: {tool} uses {ratio:.2f}x the weight bytes beyond its footprint, more than "
                  f"{option} {limit}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
