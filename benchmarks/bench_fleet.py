"""Wall time of `hostcheck fleet` over 1,000 node reports (issue #6: under 2 s on this machine).

Builds 1,000 JSON reports from scans of the bundled fixtures (hostnames changed, spread over
4 pool directories, some kernels varied so pools disagree), then runs the console script on
them, table and JSON, interleaved with the bare interpreter. Prints medians and ratios.

    python benchmarks/bench_fleet.py [--runs 11] [--nodes 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

FIXTURES = ["stock-128g", "tuned-ready", "rocm5590-mes-hang", "dkms-amdttm", "typo-kargs"]


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def make_reports(tool: list[str], directory: str, nodes: int) -> None:
    scans = []
    for name in FIXTURES:
        done = subprocess.run(
            [*tool, "scan", "--fixture", name, "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        scans.append(json.loads(done.stdout))
    for number in range(nodes):
        pool = os.path.join(directory, f"pool-{number % 4}")
        os.makedirs(pool, exist_ok=True)
        report = json.loads(json.dumps(scans[number % len(scans)]))
        report["host"]["hostname"] = f"node-{number:04d}"
        if number % 7 == 0:
            report["host"]["kernel_release"] = "6.18.4-100.fc43.x86_64"
        with open(os.path.join(pool, f"node-{number:04d}.json"), "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    python = sys.executable
    script = os.path.join(os.path.dirname(python), "hostcheck")
    tool = [script] if os.path.exists(script) else [python, "-m", "hostcheck"]
    import compileall

    import hostcheck

    compileall.compile_dir(os.path.dirname(hostcheck.__file__), quiet=1)
    with tempfile.TemporaryDirectory() as directory:
        make_reports(tool, directory, args.nodes)
        cases = {
            "python -c pass": [python, "-c", "pass"],
            "fleet (table)": [*tool, "fleet", directory],
            "fleet --format json": [*tool, "fleet", directory, "--format", "json"],
        }
        for argv in cases.values():  # warm the page cache
            timed(argv)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                samples[name].append(timed(argv))
    base = statistics.median(samples["python -c pass"])
    print(f"interpreter: {python} ({sys.version.split()[0]}); tool: {' '.join(tool)}")
    print(f"reports: {args.nodes} in 4 pools; runs: {args.runs} each, interleaved")
    print(f"{'case':<22} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'ratio':>7}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"{name:<22} {median * 1000:>10.1f} {min(values) * 1000:>8.1f} "
            f"{max(values) * 1000:>8.1f} {median / base:>6.2f}×"
        )
    worst = max(statistics.median(v) for k, v in samples.items() if k.startswith("fleet"))
    print(f"target: < 2 s for {args.nodes} reports — {'met' if worst < 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
