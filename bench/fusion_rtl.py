#!/usr/bin/env python3
"""Fused sections on a core's RTL against their estimates (issue 20): compiles an example,
runs it on the Verilator backend with `snrun --test --rtol 0 --atol 0` (bit-exact against
the CPU reference) and checks the run cycles of each named section within --within percent
of the compiler's estimate (snrun's per-section lines).

  bench/fusion_rtl.py --bin build/bin --example examples/attention --config small -O1 \\
      --section '/Softmax.max|/Softmax.shift+/Softmax.exp.m0' --section '/MatMul+/Div' --within 15

Exit 0 when the run passes its test and every named section is within the bound; 1 (one
FAIL line per problem) otherwise.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

SECTION = re.compile(r"^\s+section (\d+) (\S+)\s+(\d+) cycles\s+\(estimate (\d+|unknown),", re.M)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {(p.stderr or p.stdout).strip()}")
    return p.stdout


def sections(out):
    """name -> (index, run cycles, estimate or None) of snrun's per-section lines."""
    return {m.group(2): (int(m.group(1)), int(m.group(3)), None if m.group(4) == "unknown" else int(m.group(4)))
            for m in SECTION.finditer(out)}


def judge(found, names, within):
    """The failures (one-line messages) of the named sections against the bound."""
    fails = []
    for name in names:
        if name not in found:
            fails.append(f"no section '{name}' in the run (sections: {', '.join(found)})")
            continue
        index, cycles, est = found[name]
        if est is None:
            fails.append(f"section {index} '{name}': no estimate")
            continue
        dev = abs(cycles / est - 1) * 100
        print(f"section {index} '{name}': {cycles} cycles on the RTL, estimate {est} ({dev:.1f}% off)")
        if dev > within:
            fails.append(f"section {index} '{name}': {cycles} cycles, {dev:.1f}% off its estimate {est} "
                         f"(bound {within}%)")
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory holding sncompile and snrun")
    ap.add_argument("--example", required=True, help="EX directory: model.onnx, inputs/x.npy")
    ap.add_argument("--config", default="small")
    ap.add_argument("-O", dest="level", default="1", choices=["0", "1", "3"])
    ap.add_argument("--section", action="append", required=True, help="a section's name as snrun prints it")
    ap.add_argument("--within", type=float, default=15.0, help="percent")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pef = os.path.join(tmp, "m.pef")
        try:
            run([os.path.join(a.bin, "sncompile"), os.path.join(a.example, "model.onnx"), "-o", pef, "--config",
                 a.config, f"-O{a.level}"])
            out = run([os.path.join(a.bin, "snrun"), "--backend", "verilator", "--config", a.config, pef, "--input",
                       "x=" + os.path.join(a.example, "inputs", "x.npy"), "--output-dir", tmp, "--test", "--rtol",
                       "0", "--atol", "0"])
        except RuntimeError as e:
            print(f"FAIL {e}")
            return 1
    fails = [] if re.search(r"^test: PASS", out, re.M) else ["the run is not bit-exact against the CPU reference"]
    fails += judge(sections(out), a.section, a.within)
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
