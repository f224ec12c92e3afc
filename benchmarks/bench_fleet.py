"""Wall time and peak memory of `hostcheck fleet` over many node reports (issue #15: 10,000
reports under 2 s, 100,000 under 20 s, peak RSS under 300 MB; issue #6: 1,000 under 2 s).

Builds N JSON reports from scans of the bundled fixtures (hostnames changed, spread over 4
pool directories, some kernels varied so pools disagree; each about 34 kB, as a real scan's),
then runs the console script on them, table and JSON (JSON to a file, as a collector would),
interleaved with the bare interpreter. Prints medians, ratios and peak RSS per size.

    python benchmarks/bench_fleet.py [--runs 5] [--nodes 1000,10000,100000] [--compare DIR]

--compare DIR adds the same cases run from the hostcheck source tree in DIR (e.g. `git archive`
of an older commit unpacked there), both trees then started as the console script through
env(1) with PYTHONPATH naming each, interleaved; the JSON each tree wrote is compared byte for
byte.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import tempfile

from _harness import (
    CPU_SECONDS,
    PEAK_RSS_KIB,
    compared_trees,
    compile_hostcheck,
    measure,
    median,
    report,
    tool,
)

FIXTURES = ["stock-128g", "tuned-ready", "rocm5590-mes-hang", "dkms-amdttm", "typo-kargs"]
TARGETS = {1000: 2.0, 10000: 2.0, 100000: 20.0}  # seconds
RSS_TARGET_MB = 300


def make_reports(tool: list[str], directory: str, nodes: int) -> None:
    texts = []
    for name in FIXTURES:
        done = subprocess.run(
            [*tool, "scan", "--fixture", name, "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        scan = json.loads(done.stdout)
        scan["host"]["hostname"] = "@NODE@"
        plain = json.dumps(scan, indent=2)
        scan["host"]["kernel_release"] = "6.18.4-100.fc43.x86_64"
        texts.append((plain, json.dumps(scan, indent=2)))
    for number in range(nodes):
        pool = os.path.join(directory, f"pool-{number % 4}")
        os.makedirs(pool, exist_ok=True)
        plain, other_kernel = texts[number % len(texts)]
        text = other_kernel if number % 7 == 0 else plain
        with open(os.path.join(pool, f"node-{number:06d}.json"), "w", encoding="utf-8") as out:
            out.write(text.replace("@NODE@", f"node-{number:06d}"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", default="1000,10000,100000")
    parser.add_argument("--compare", metavar="DIR", help="an older hostcheck source tree")
    args = parser.parse_args()
    hostcheck = tool()
    compile_hostcheck()
    trees = compared_trees(args.compare)
    missed: list[str] = []
    cpu_only: list[str] = []
    for nodes in (int(n) for n in args.nodes.split(",")):
        PEAK_RSS_KIB.clear()
        CPU_SECONDS.clear()
        with tempfile.TemporaryDirectory() as directory:
            reports = os.path.join(directory, "reports")
            make_reports(hostcheck, reports, nodes)
            cases: dict[str, list[str]] = {}
            outputs: list[str] = []
            for number, (label, command) in enumerate(trees.items()):
                out = os.path.join(directory, f"fleet-{number}.json")
                outputs.append(out)
                cases[f"{label}fleet (table)"] = [*command, "fleet", reports]
                cases[f"{label}fleet --format json"] = [
                    *command,
                    *("fleet", reports, "--format", "json", "--output", out),
                ]
            samples = measure(
                {name: (lambda argv=argv: argv) for name, argv in cases.items()},
                args.runs,
                warm=nodes <= 10000,
            )
            if len(outputs) > 1:
                same = filecmp.cmp(outputs[0], outputs[1], shallow=False)
                print(f"JSON of the two trees: {'the same bytes' if same else 'DIFFERENT'}")
        report(samples, f"reports: {nodes} in 4 pools; runs: {args.runs} each, interleaved")
        target = TARGETS.get(nodes)
        for name in samples:
            if "fleet" not in name:
                continue
            took, rss_mb = median(samples, name), PEAK_RSS_KIB[name] / 1024
            cpu = statistics.median(CPU_SECONDS[name])
            fits = rss_mb < RSS_TARGET_MB
            if fits and (target is None or took < target):
                verdict = "met"
            elif fits and target is not None and cpu < target:
                verdict = "met in CPU time (the wall time waited for a core)"
                cpu_only.append(f"{nodes} {name}")
            else:
                verdict = "MISSED"
                missed.append(f"{nodes} {name}")
            limit = f"< {target:g} s, " if target else ""
            print(
                f"  {name}: {took:.2f} s wall, {cpu:.2f} s CPU, {rss_mb:.0f} MB "
                f"(target {limit}< 300 MB) — {verdict}"
            )
        print()
    if missed:
        print(f"MISSED: {', '.join(missed)}")
    print(f"met only in CPU time: {', '.join(cpu_only)}" if cpu_only else "")
    if not missed and not cpu_only:
        print("all targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
