"""Wall time of `hostcheck scan` on a bundled fixture against the bare interpreter.

Measures, in the same run and interleaved (this machine is noisy): `python -c pass`,
`hostcheck scan --fixture X --format json` and `--format table`. Prints medians and the
ratios against the bare interpreter. Targets (issue #2): json <= 3x, table <= 8x. Also the
plan of `hostcheck fix` (a scan plus the planner and its diffs), which has no target.

    python benchmarks/bench_scan.py [--runs 31] [--fixture stock-128g]
"""

from __future__ import annotations

import argparse
import os

from _harness import compile_hostcheck, measure, report, tool


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--fixture", default="stock-128g")
    args = parser.parse_args()
    compile_hostcheck()
    scan = [*tool(), "scan", "--fixture", args.fixture]
    samples = measure(
        {
            "scan --format json": lambda: [*scan, "--format", "json"],
            "scan --format table": lambda: [*scan, "--format", "table"],
            "fix (dry run)": lambda: [*tool(), "fix", "--fixture", args.fixture],
        },
        args.runs,
    )
    report(
        samples,
        f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
