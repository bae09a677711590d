#!/usr/bin/env python3
"""Checks the CTest test list of a build directory (the test `ctest.names_and_labels`):

- every test name occurs once (a binary built once per backend carries it in its names);
- a test whose name names the Verilator backend (verilator, _rtl, tb_*) is labelled rtl,
  and one whose name names the functional backend (func) is not: `make sim` (ctest -L rtl)
  runs exactly the tests that simulate RTL;
- a test labelled slow is not in `make test` (ctest -LE slow) and every test has a label.

usage: check_test_labels.py BUILD_DIR   (runs `ctest -N --show-only=json-v1` there)
Prints one line per problem and the totals; exit status 1 on any problem.
"""
import collections
import json
import re
import subprocess
import sys


def labels_of(test):
    for p in test.get("properties", []):
        if p["name"] == "LABELS":
            return set(p["value"])
    return set()


def backend_of(name):
    """The backend a test's name gives: its suffix (.../func, ..._verilator, a gtest
    parameter), else a name that says RTL (verilator, _rtl, tb_*); None when it says neither."""
    base = name.split("  # GetParam()")[0]
    m = re.search(r"[/_.](func|verilator|rtl)$", base)
    if m:
        return "func" if m.group(1) == "func" else "verilator"
    if re.search(r"verilator|_rtl[._]|^tb_", base, re.IGNORECASE):
        return "verilator"
    if re.search(r"(^|[._/])func($|[._/])", base):
        return "func"
    return None


def problems_of(tests):
    out = []
    counts = collections.Counter(t["name"] for t in tests)
    out += [f"test name '{n}' occurs {k} times" for n, k in sorted(counts.items()) if k > 1]
    for t in tests:
        name, labels = t["name"], labels_of(t)
        if not labels:
            out.append(f"test '{name}' has no label")
        backend = backend_of(name)
        if backend == "verilator" and "rtl" not in labels:
            out.append(f"test '{name}' runs on the Verilator backend but is not labelled rtl")
        if backend == "func" and "rtl" in labels:
            out.append(f"test '{name}' runs on the functional model but is labelled rtl")
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: check_test_labels.py BUILD_DIR", file=sys.stderr)
        return 2
    j = json.loads(subprocess.run(["ctest", "-N", "--show-only=json-v1"], cwd=sys.argv[1], check=True,
                                  capture_output=True, text=True).stdout)
    tests = j["tests"]
    probs = problems_of(tests)
    for p in probs:
        print(f"check_test_labels: {p}")
    rtl = sum("rtl" in labels_of(t) for t in tests)
    slow = sum("slow" in labels_of(t) for t in tests)
    print(f"check_test_labels: {len(tests)} tests, {rtl} labelled rtl, {slow} labelled slow, "
          f"{len(probs)} problems")
    return 1 if probs else 0


if __name__ == "__main__":
    sys.exit(main())
