#!/usr/bin/env python3
"""Dataflow fusion's figures (issue 20): sections and estimated cycles of the examples at
-O0, -O1 and -O3 on a configuration, from `sncompile --report`'s `total:` lines.

Estimated cycles are deterministic, so they are judged: --min-speedup EX=R fails the run
(exit 1) when EX's -O0 cycles over its -O3 cycles (run cycles, configuration excluded) fall
below R; --max-sections EX=N when EX's -O3 PEF has more than N sections. Prints a Markdown
table (docs/results.md, "dataflow fusion").

  bench/fusion.py --bin build/bin --examples examples --config small \\
      --min-speedup transformer=3.55 --max-sections transformer=35
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

TOTAL = re.compile(r"^total: (\d+) sections, estimated cycles (\d+)", re.M)
WITH_CONFIG = re.compile(r"^total with configuration: estimated cycles (\d+)", re.M)
LEVELS = (0, 1, 3)


def compile_report(sncompile, model, config, level, out):
    """(sections, cycles, cycles with configuration) of one compile; raises on failure."""
    cmd = [sncompile, model, "-o", out, "--config", config, f"-O{level}", "--report"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    total, with_cfg = TOTAL.search(p.stdout), WITH_CONFIG.search(p.stdout)
    if not total or not with_cfg:
        raise RuntimeError(f"{' '.join(cmd)}: no 'total:' lines in the report")
    return int(total.group(1)), int(total.group(2)), int(with_cfg.group(1))


def pairs(specs, what, cast):
    out = {}
    for s in specs:
        name, sep, value = s.partition("=")
        if not sep:
            sys.exit(f"fusion.py: error: {what} '{s}' is not EXAMPLE=VALUE")
        out[name] = cast(value)
    return out


def judge(name, figs, min_speedup, max_sections):
    """The failures of one example against its floors (a list of one-line messages)."""
    fails = []
    speedup = figs[0][1] / figs[3][1]
    if name in min_speedup and speedup < min_speedup[name]:
        fails.append(f"{name}: -O3 is {speedup:.2f}x faster than -O0, below the floor {min_speedup[name]}")
    if name in max_sections and figs[3][0] > max_sections[name]:
        fails.append(f"{name}: {figs[3][0]} sections at -O3, above the ceiling {max_sections[name]}")
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="directory holding sncompile")
    ap.add_argument("--examples", required=True, help="the examples directory (EX/model.onnx)")
    ap.add_argument("--config", default="small")
    ap.add_argument("--models", default="transformer,mlp,cnn,attention")
    ap.add_argument("--min-speedup", action="append", default=[], metavar="EX=R")
    ap.add_argument("--max-sections", action="append", default=[], metavar="EX=N")
    a = ap.parse_args()
    min_speedup = pairs(a.min_speedup, "--min-speedup", float)
    max_sections = pairs(a.max_sections, "--max-sections", int)
    names = a.models.split(",")
    for n in set(min_speedup) | set(max_sections):
        if n not in names:
            sys.exit(f"fusion.py: error: a floor names '{n}', which is not in --models")
    sncompile = os.path.join(a.bin, "sncompile")
    print("| example | " + " | ".join(f"-O{l} sections | -O{l} cycles (+config)" for l in LEVELS) +
          " | -O3 vs -O0 (with config) |")
    print("|---|" + "---|" * (2 * len(LEVELS) + 1))
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            model = os.path.join(a.examples, name, "model.onnx")
            figs = {l: compile_report(sncompile, model, a.config, l, os.path.join(tmp, f"{name}{l}.pef"))
                    for l in LEVELS}
            cells = " | ".join(f"{figs[l][0]} | {figs[l][1]:,} ({figs[l][2]:,})" for l in LEVELS)
            print(f"| {name} | {cells} | {figs[0][1] / figs[3][1]:.2f}x ({figs[0][2] / figs[3][2]:.2f}x) |")
            fails += judge(name, figs, min_speedup, max_sections)
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
