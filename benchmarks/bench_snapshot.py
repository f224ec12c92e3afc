"""Wall time of `hostcheck snapshot` of a bundled fixture, and of scanning the tarball it
writes, against the bare interpreter and a plain scan of the same fixture.

Interleaved runs (this machine is noisy); prints medians and ratios to `python -c pass`.
Aim (issue #7): a snapshot of a fixture takes well under a second.

    python benchmarks/bench_snapshot.py [--runs 21] [--fixture stock-128g]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--fixture", default="stock-128g")
    args = parser.parse_args()
    python = sys.executable
    script = os.path.join(os.path.dirname(python), "hostcheck")
    tool = [script] if os.path.exists(script) else [python, "-m", "hostcheck"]
    import compileall

    import hostcheck

    compileall.compile_dir(os.path.dirname(hostcheck.__file__), quiet=1)
    work = tempfile.mkdtemp(prefix="bench-snapshot-")
    try:
        tarball = os.path.join(work, "replay.tar.gz")
        subprocess.run(
            [*tool, "snapshot", "--fixture", args.fixture, "-o", tarball],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        counter = iter(range(1_000_000))

        def snapshot_argv(kind: str) -> list[str]:
            out = os.path.join(work, f"s{next(counter)}{kind}")
            return [*tool, "snapshot", "--fixture", args.fixture, "-o", out]

        cases = {
            "python -c pass": lambda: [python, "-c", "pass"],
            "scan --fixture (json)": lambda: [
                *tool,
                "scan",
                "--fixture",
                args.fixture,
                "--format",
                "json",
            ],
            "snapshot -> directory": lambda: snapshot_argv(""),
            "snapshot -> .tar.gz": lambda: snapshot_argv(".tar.gz"),
            "scan --root .tar.gz": lambda: [*tool, "scan", "--root", tarball, "--format", "json"],
        }
        for make in cases.values():
            timed(make())
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, make in cases.items():
                samples[name].append(timed(make()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(samples["python -c pass"])
    print(f"interpreter: {python} ({sys.version.split()[0]}); tool: {' '.join(tool)}")
    print(f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}")
    print(f"{'case':<24} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'ratio':>7}")
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p10 = values[len(values) // 10]
        p90 = values[(len(values) * 9) // 10]
        print(
            f"{name:<24} {median * 1000:>10.1f} {p10 * 1000:>8.1f} {p90 * 1000:>8.1f} {median / base:>6.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
