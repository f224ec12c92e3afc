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
import subprocess
import tempfile

from _harness import compile_hostcheck, measure, report, tool


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--fixture", default="stock-128g")
    args = parser.parse_args()
    compile_hostcheck()
    hostcheck = tool()
    work = tempfile.mkdtemp(prefix="bench-snapshot-")
    try:
        tarball = os.path.join(work, "replay.tar.gz")
        subprocess.run(
            [*hostcheck, "snapshot", "--fixture", args.fixture, "-o", tarball],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        counter = iter(range(1_000_000))

        def snapshot_argv(kind: str) -> list[str]:
            out = os.path.join(work, f"s{next(counter)}{kind}")
            return [*hostcheck, "snapshot", "--fixture", args.fixture, "-o", out]

        samples = measure(
            {
                "scan --fixture (json)": lambda: [
                    *hostcheck,
                    "scan",
                    "--fixture",
                    args.fixture,
                    "--format",
                    "json",
                ],
                "snapshot -> directory": lambda: snapshot_argv(""),
                "snapshot -> .tar.gz": lambda: snapshot_argv(".tar.gz"),
                "scan --root .tar.gz": lambda: [
                    *hostcheck,
                    "scan",
                    "--root",
                    tarball,
                    "--format",
                    "json",
                ],
            },
            args.runs,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(
        samples,
        f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
