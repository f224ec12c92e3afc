"""Wall time of `hostcheck scan` on a bundled fixture against the bare interpreter.

Measures, in the same run and interleaved (this machine is noisy): `python -c pass`,
`hostcheck scan --fixture X --format json` and `--format table`. Prints medians and the
ratios against the bare interpreter, wall and CPU time, and peak RSS. Targets (issue #15):
json <= 3x, table <= 6x (the table piped, as here: plain text), `fix` dry run <= 4x.

    python benchmarks/bench_scan.py [--runs 31] [--fixture stock-128g] [--compare DIR]

--compare DIR adds the same cases run from the hostcheck source tree in DIR (e.g. `git archive`
of an older commit unpacked there), both trees then started through env(1) with PYTHONPATH
naming the tree (the console script, else `python -P -m hostcheck`), interleaved in the same
run: a before/after on the same machine.
"""

from __future__ import annotations

import argparse
import os

from _harness import compared_trees, compile_hostcheck, cpu_ratio, measure, ratio, report

TARGETS = {"scan --format json": 3.0, "scan --format table": 6.0, "fix (dry run)": 4.0}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--fixture", default="stock-128g")
    parser.add_argument("--compare", metavar="DIR", help="an older hostcheck source tree")
    args = parser.parse_args()
    compile_hostcheck()
    trees = compared_trees(args.compare)
    cases = {}
    for label, command in trees.items():
        scan = [*command, "scan", "--fixture", args.fixture]
        cases[f"{label}scan --format json"] = [*scan, "--format", "json"]
        cases[f"{label}scan --format table"] = [*scan, "--format", "table"]
        cases[f"{label}fix (dry run)"] = [*command, "fix", "--fixture", args.fixture]
    samples = measure({name: (lambda argv=argv: argv) for name, argv in cases.items()}, args.runs)
    report(
        samples,
        f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}; "
        f"load average: {' '.join(f'{n:.1f}' for n in os.getloadavg())}",
    )
    for name, target in TARGETS.items():
        wall, cpu = ratio(samples, name), cpu_ratio(name)
        verdict = "met" if wall <= target else ("met in CPU time" if cpu <= target else "MISSED")
        print(f"  {name}: {wall:.2f}x wall, {cpu:.2f}x CPU (target <= {target:g}x) — {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
