#!/usr/bin/env python3
"""Self-test of scripts/coverage_report.py (ctest scripts.coverage_report, label unit):
synthetic Verilator coverage files with two instances of a module and two testbenches;
checks the merge (a point is covered when any instance in any file hit it), the per-file
percentages, --min-line, --min-total and the errors for malformed input."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "coverage_report.py")


def point(f, line, page, count, hier, comment=""):
    key = f"\001f\002{f}\001l\002{line}\001n\0020\001page\002{page}\001o\002{comment}\001h\002{hier}"
    return f"C '{key}' {count}\n"


def run(*args):
    return subprocess.run([sys.executable, REPORT, *args], capture_output=True, text=True)


def main():
    fails = []

    def check(cond, what):
        if not cond:
            fails.append(what)

    with tempfile.TemporaryDirectory() as d:
        a, b, bad, empty = (os.path.join(d, n) for n in ("a.dat", "b.dat", "bad.dat", "empty.dat"))
        with open(a, "w") as f:
            f.write("# SystemC::Coverage-3\n")
            # rtl/x.sv: 4 line points; line 10 hit only by instance u1, line 11 by none here.
            f.write(point("/r/rtl/x.sv", 10, "v_line/x", 0, "TOP.u0"))
            f.write(point("/r/rtl/x.sv", 10, "v_line/x", 3, "TOP.u1"))
            f.write(point("/r/rtl/x.sv", 11, "v_line/x", 0, "TOP.u0"))
            f.write(point("/r/rtl/x.sv", 12, "v_line/x", 1, "TOP.u0"))
            f.write(point("/r/rtl/x.sv", 13, "v_line/x", 0, "TOP.u0"))
            f.write(point("/r/rtl/x.sv", 10, "v_toggle/x", 0, "TOP.u0", "sig[0]"))
            f.write(point("/r/rtl/x.sv", 10, "v_toggle/x", 5, "TOP.u0", "sig[1]"))
            f.write(point("/r/rtl/y.sv", 3, "v_branch/y", 2, "TOP.y", "if"))
            f.write(point("/r/rtl/y.sv", 3, "v_branch/y", 0, "TOP.y", "else"))
        with open(b, "w") as f:
            f.write("# SystemC::Coverage-3\n")
            f.write(point("/r/rtl/x.sv", 11, "v_line/x", 7, "TOP.other"))  # the second testbench hits 11
            f.write(point("/r/rtl/y.sv", 4, "v_line/y", 1, "TOP.y"))
        with open(bad, "w") as f:
            f.write("C 'broken' notanumber\n")
        open(empty, "w").close()

        r = run(a, b)
        check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
        rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]]
                for ln in r.stdout.splitlines() if ln.startswith("| ") and not ln.startswith("| file")}
        check(rows.get("x.sv", [None])[0] == "75.0% (3/4)", f"x.sv line: {rows.get('x.sv')}")
        check(rows.get("x.sv", [None, None, None])[2] == "50.0% (1/2)", f"x.sv toggle: {rows.get('x.sv')}")
        check(rows.get("y.sv", [None, None])[1] == "50.0% (1/2)", f"y.sv branch: {rows.get('y.sv')}")
        check(rows.get("**total**", [None])[0] == "80.0% (4/5)", f"total line: {rows.get('**total**')}")

        r = run(a)  # without b, line 11 is not covered
        check("50.0% (2/4)" in r.stdout, f"x.sv without b.dat:\n{r.stdout}")
        r = run("--min-line", "80", a, b)
        check(r.returncode == 1 and "Below 80.0% line coverage: x.sv" in r.stdout, f"--min-line: {r.returncode}")
        r = run("--min-total", "line=80", "--min-total", "branch=50", a, b)  # 80.0% and 50.0%: at the floors
        check(r.returncode == 0, f"--min-total at the floors: {r.returncode}\n{r.stdout}")
        r = run("--min-total", "line=80.1", a, b)
        check(r.returncode == 1 and "Total below its floor: line 80.0% (4/5) < 80.1%" in r.stdout,
              f"--min-total line: {r.returncode}\n{r.stdout}")
        r = run("--min-total", "line", a, b)
        check(r.returncode == 2 and "expected KIND=PCT" in r.stderr, f"--min-total malformed: {r.returncode}")
        r = run(bad)
        check(r.returncode == 2 and "bad.dat:1: bad count" in r.stderr, f"malformed: {r.returncode} {r.stderr}")
        r = run(empty)
        check(r.returncode == 2 and "no coverage points" in r.stderr, f"empty: {r.returncode} {r.stderr}")
        r = run(os.path.join(d, "missing.dat"))
        check(r.returncode != 0 and "missing.dat" in r.stderr, f"missing: {r.returncode} {r.stderr}")

    for f in fails:
        print("FAIL:", f)
    print("coverage_report self-test:", "FAIL" if fails else "PASS")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
