#!/usr/bin/python3
"""Lists the functions longer than a limit (default 80 lines), longest first.

Usage: scripts/long_functions.py [--max N] PATH...   (files or folders; C++ sources)
Needs Universal Ctags (`ctags`, Debian's universal-ctags). Lambdas count inside the
function that holds them. Exits 0 either way: a list to read, not a gate.
"""
import argparse
import os
import subprocess
import sys

EXTS = (".cc", ".cpp", ".h", ".hpp")


def sources(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for f in sorted(files):
                    if f.endswith(EXTS):
                        yield os.path.join(root, f)
        else:
            yield p


def functions(path):
    out = subprocess.run(["ctags", "--fields=+ne", "--kinds-C++=f", "-o", "-", path],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        fields = dict(c.split(":", 1) for c in cols[3:] if ":" in c)
        if "line" in fields and "end" in fields and not cols[0].startswith("__anon"):
            yield cols[0], int(fields["line"]), int(fields["end"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=80, help="longest allowed, in lines (default 80)")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    rows = []
    for f in sources(a.paths):
        for name, first, last in functions(f):
            if last - first + 1 > a.max:
                rows.append((last - first + 1, f"{f}:{first}", name))
    for n, where, name in sorted(rows, reverse=True):
        print(f"{n:5d}  {where}  {name}")
    print(f"{len(rows)} function(s) over {a.max} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
