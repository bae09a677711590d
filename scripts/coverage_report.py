#!/usr/bin/env python3
"""Summarise Verilator coverage data files (make coverage).

    scripts/coverage_report.py [--min-line PCT] [--min-total KIND=PCT ...] [--title TEXT] FILE.dat...

Reads Verilator's coverage format (`C '<key>' <count>` lines, the key a sequence of
'\\001name\\002value' fields: f file, l line, page v_line/... or v_toggle/..., o comment,
h hierarchy). A coverage point is one (type, file, line, column, comment); the counts of
every instance of a module (hierarchy) and of every file given are added, so a point is
covered when any instance hit it in any testbench. Prints a Markdown table: per source
file of rtl/, line (statement and branch blocks) and toggle points covered, and the
totals. Exit status 1 when a file's line coverage is below --min-line (default 0: off)
or a total is below its --min-total floor (e.g. line=92, the README's figures), 2 on
unreadable input.
"""
import argparse
import collections
import os
import sys


def parse_key(key):
    fields = {}
    for part in key.split("\001")[1:]:
        name, _, value = part.partition("\002")
        fields[name] = value
    return fields


def read(paths):
    points = collections.defaultdict(int)  # (kind, file, line, column, comment) -> count
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError as e:
            sys.exit(f"coverage_report: {path}: {e.strerror}")
        n = 0
        for lineno, line in enumerate(data.splitlines(), 1):
            if not line.startswith("C '"):
                continue
            q = line.rfind("'")
            if q <= 2:
                print(f"coverage_report: {path}:{lineno}: malformed point", file=sys.stderr)
                sys.exit(2)
            try:
                count = int(line[q + 1:].strip())
            except ValueError:
                print(f"coverage_report: {path}:{lineno}: bad count '{line[q + 1:].strip()}'", file=sys.stderr)
                sys.exit(2)
            k = parse_key(line[3:q])
            page = k.get("page", "")
            kind = page.split("/", 1)[0].removeprefix("v_") or "other"
            points[(kind, k.get("f", "?"), int(k.get("l", "0") or 0), k.get("n", ""), k.get("o", ""))] += count
            n += 1
        if n == 0:
            print(f"coverage_report: {path}: no coverage points (was the model Verilated with --coverage?)",
                  file=sys.stderr)
            sys.exit(2)
    return points


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="Verilator coverage .dat files")
    ap.add_argument("--min-line", type=float, default=0.0, help="fail when a file's line coverage is below PCT")
    ap.add_argument("--min-total", action="append", default=[], metavar="KIND=PCT",
                    help="fail when the total coverage of KIND (line, branch, toggle) is below PCT (repeat)")
    ap.add_argument("--title", default="RTL coverage", help="heading of the report")
    a = ap.parse_args()
    floors = {}
    for spec in a.min_total:
        kind, _, value = spec.partition("=")
        try:
            floors[kind] = float(value)
        except ValueError:
            ap.error(f"--min-total {spec}: expected KIND=PCT, e.g. line=92")
    points = read(a.files)

    per_file = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0]))  # file -> kind -> [hit, all]
    for (kind, f, _line, _col, _comment), count in points.items():
        cell = per_file[f][kind]
        cell[1] += 1
        cell[0] += count > 0

    kinds = ["line", "branch", "toggle"]
    kinds += sorted({k for f in per_file.values() for k in f} - set(kinds))
    kinds = [k for k in kinds if any(k in f for f in per_file.values())]

    def pct(cell):
        return f"{100.0 * cell[0] / cell[1]:.1f}% ({cell[0]}/{cell[1]})" if cell[1] else "-"

    print(f"# {a.title}\n")
    print("Inputs: " + ", ".join(os.path.basename(p) for p in a.files) + "\n")
    print("| file | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    total = collections.defaultdict(lambda: [0, 0])
    low = []
    root = os.path.commonpath([f for f in per_file]) if len(per_file) > 1 else ""
    for f in sorted(per_file):
        row = per_file[f]
        for k in kinds:
            total[k][0] += row[k][0]
            total[k][1] += row[k][1]
        name = os.path.relpath(f, root) if root else f
        print(f"| {name} | " + " | ".join(pct(row[k]) for k in kinds) + " |")
        if a.min_line and row["line"][1] and 100.0 * row["line"][0] / row["line"][1] < a.min_line:
            low.append(name)
    print("| **total** | " + " | ".join(pct(total[k]) for k in kinds) + " |")
    below = [f"{k} {pct(total[k])} < {floor}%" for k, floor in sorted(floors.items())
             if not total[k][1] or 100.0 * total[k][0] / total[k][1] < floor]
    if below:
        print("\nTotal below its floor: " + ", ".join(below))
    if low:
        print(f"\nBelow {a.min_line}% line coverage: " + ", ".join(low))
    return 1 if low or below else 0


if __name__ == "__main__":
    sys.exit(main())
