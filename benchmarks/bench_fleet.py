"""Wall time of `hostcheck fleet` over 1,000 node reports (issue #6: under 2 s on this machine).

Builds 1,000 JSON reports from scans of the bundled fixtures (hostnames changed, spread over
4 pool directories, some kernels varied so pools disagree), then runs the console script on
them, table and JSON, and the same reports as one `kubectl logs --prefix` stream (every line
after its pod's name, as the preflight Jobs' logs are collected), interleaved with the bare
interpreter. Prints medians and ratios.

    python benchmarks/bench_fleet.py [--runs 11] [--nodes 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile

from _harness import compile_hostcheck, measure, median, report, tool

FIXTURES = ["stock-128g", "tuned-ready", "rocm5590-mes-hang", "dkms-amdttm", "typo-kargs"]


def make_reports(tool: list[str], directory: str, nodes: int, stream: str) -> None:
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
        with open(stream, "a", encoding="utf-8") as log:
            prefix = f"[pod/hostcheck-preflight-r1-{number}-abcde/hostcheck] "
            log.writelines(
                prefix + line + "\n" for line in json.dumps(report, indent=2).split("\n")
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    hostcheck = tool()
    compile_hostcheck()
    with tempfile.TemporaryDirectory() as directory, tempfile.TemporaryDirectory() as logs:
        stream = os.path.join(logs, "preflight.log")
        make_reports(hostcheck, directory, args.nodes, stream)
        samples = measure(
            {
                "fleet (table)": lambda: [*hostcheck, "fleet", directory],
                "fleet --format json": lambda: [*hostcheck, "fleet", directory, "--format", "json"],
                "fleet kubectl-logs stream": lambda: [*hostcheck, "fleet", stream],
            },
            args.runs,
        )
    report(samples, f"reports: {args.nodes} in 4 pools; runs: {args.runs} each, interleaved")
    worst = max(median(samples, name) for name in samples if name.startswith("fleet"))
    print(f"target: < 2 s for {args.nodes} reports — {'met' if worst < 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
