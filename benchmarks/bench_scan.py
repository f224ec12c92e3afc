"""Wall time of `hostcheck scan` on a bundled fixture against the bare interpreter.

Measures, in the same run and interleaved (this machine is noisy): `python -c pass`,
`hostcheck scan --fixture X --format json` and `--format table`. Prints medians and the
ratios against the bare interpreter. Targets (issue #2): json <= 3x, table <= 8x.

    python benchmarks/bench_scan.py [--runs 31] [--fixture stock-128g]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--fixture", default="stock-128g")
    args = parser.parse_args()
    python = sys.executable
    # The console script the user runs, next to this interpreter; else `python -m hostcheck`.
    script = os.path.join(os.path.dirname(python), "hostcheck")
    tool = [script] if os.path.exists(script) else [python, "-m", "hostcheck"]
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "scan --format json": [*tool, "scan", "--fixture", args.fixture, "--format", "json"],
        "scan --format table": [*tool, "scan", "--fixture", args.fixture, "--format", "table"],
    }
    # pip writes bytecode at install time; an editable install or PYTHONDONTWRITEBYTECODE
    # (set on this machine) would otherwise measure compiling hostcheck on every run.
    import compileall

    import hostcheck

    compileall.compile_dir(os.path.dirname(hostcheck.__file__), quiet=1)
    for argv in cases.values():  # warm the page cache
        timed(argv)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, argv in cases.items():
            samples[name].append(timed(argv))
    base = statistics.median(samples["python -c pass"])
    print(f"interpreter: {python} ({sys.version.split()[0]}); tool: {' '.join(tool)}")
    print(f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}")
    print(f"{'case':<22} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'ratio':>7}")
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p10 = values[len(values) // 10]
        p90 = values[(len(values) * 9) // 10]
        print(
            f"{name:<22} {median * 1000:>10.1f} {p10 * 1000:>8.1f} {p90 * 1000:>8.1f} {median / base:>6.2f}x"
        )
    return 0


if __name__ == "__main__":
    if shutil.which("true") is None:
        print("warning: minimal environment", file=sys.stderr)
    raise SystemExit(main())
