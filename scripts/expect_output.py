#!/usr/bin/env python3
"""Runs a command and checks both its exit status and its output (stdout and stderr merged):
what CTest's PASS_REGULAR_EXPRESSION cannot do (it ignores the exit status).

usage: expect_output.py --status N|nonzero [--regex R]... -- COMMAND [ARG]...
Each R must match the output (Python re.search with DOTALL: '.' matches newlines, '^' is
the start of the output). Prints the output, then one line per failed check; exit 1 on any.
"""
import argparse
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--status", required=True, help="expected exit status, or 'nonzero'")
    ap.add_argument("--regex", action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(p.stdout)
    bad = []
    if a.status == "nonzero":
        if p.returncode == 0:
            bad.append("exit status 0, expected non-zero")
    elif p.returncode != int(a.status):
        bad.append(f"exit status {p.returncode}, expected {a.status}")
    for r in a.regex:
        if not re.search(r, p.stdout, re.DOTALL):
            bad.append(f"output does not match: {r}")
    for b in bad:
        print(f"expect_output: FAIL: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
