"""A live scan whose external probes take known times (issue #15): wall time against the sum
and the slowest of them.

Stand-in executables for dmesg, rpm and rocminfo, an `amdsmi` package and a `--python`
interpreter each sleep a known time and answer. Under umockdev-run (Debian package umockdev)
with the Strix Halo device description of the tests, the scan finds the GPU, so all five run;
without umockdev only dmesg and --python do (no GPU: rpm, rocminfo and amdsmi are not needed).
Probes that run at the same time make the scan take about the slowest one; one after
another, the sum. Nothing on this machine changes: the stand-ins live in a temporary
directory put first on PATH.

    python benchmarks/bench_live.py [--runs 5] [--source DIR]

--source DIR runs the hostcheck package found in DIR instead (e.g. `git archive` of an older
commit unpacked there), for a before/after comparison on the same machine.
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

from _harness import compile_hostcheck

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICES = os.path.join(REPO, "tests", "data", "strix-halo.umockdev")
FAKE_AMDSMI = os.path.join(REPO, "tests", "data", "fake_amdsmi", "amdsmi", "__init__.py")
DELAYS = {"dmesg": 0.6, "rpm": 0.3, "rocminfo": 1.0, "amdsmi": 0.8, "python": 1.5}
ANSWERS = {
    "dmesg": "echo '[ 12.000001] amdgpu 0000:c5:00.0: amdgpu: 512M of VRAM memory ready'",
    "rpm": "echo linux-firmware-20260110-1.fc43.noarch",
    "rocminfo": "echo 'ROCk module is loaded'",
    "python": 'echo \'HOSTCHECK-PYTHON-ENV {"interpreter": "/opt/standin/bin/python"}\'',
}


def stand_ins(directory: str) -> tuple[dict[str, str], str]:
    """The environment that puts the stand-ins first, and the --python interpreter."""
    bin_dir = os.path.join(directory, "bin")
    os.makedirs(bin_dir)
    for name, answer in ANSWERS.items():
        path = os.path.join(bin_dir, name if name != "python" else "python-standin")
        with open(path, "w", encoding="utf-8") as out:
            out.write(f"#!/bin/sh\nsleep {DELAYS[name]}\n{answer}\n")
        os.chmod(path, 0o755)
    package = os.path.join(directory, "site", "amdsmi")
    os.makedirs(package)
    with open(FAKE_AMDSMI, encoding="utf-8") as fake:
        body = fake.read()
    with open(os.path.join(package, "__init__.py"), "w", encoding="utf-8") as out:
        out.write(f"import time\ntime.sleep({DELAYS['amdsmi']})\n{body}")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": os.path.join(directory, "site"),
    }
    return env, os.path.join(bin_dir, "python-standin")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source", help="a source tree whose hostcheck package to run")
    args = parser.parse_args()
    compile_hostcheck()
    umockdev = shutil.which("umockdev-run")
    running = DELAYS if umockdev else {k: DELAYS[k] for k in ("dmesg", "python")}
    with tempfile.TemporaryDirectory() as directory:
        env, python = stand_ins(directory)
        if args.source:
            env["PYTHONPATH"] += os.pathsep + os.path.abspath(args.source)
        command = [sys.executable, "-m", "hostcheck", "scan", "--format", "json"]
        command += ["--python", python]
        if umockdev:
            command = [umockdev, "--device", DEVICES, "--", *command]
        samples = []
        for _ in range(args.runs):
            started = time.perf_counter()
            where = os.path.abspath(args.source) if args.source else REPO
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False, cwd=where)
            samples.append(time.perf_counter() - started)
    ordered = sorted(samples)
    total, slowest = sum(running.values()), max(running.values())
    print(f"interpreter: {sys.executable}; umockdev: {umockdev or 'not installed'}")
    print(f"hostcheck from: {args.source or REPO}")
    print("stand-in probes: " + ", ".join(f"{k} {v:g} s" for k, v in running.items()))
    print(f"sum {total:.1f} s, slowest {slowest:.1f} s; runs: {args.runs}")
    print(
        f"live scan (process start to exit): median {statistics.median(ordered):.2f} s, "
        f"min {ordered[0]:.2f} s, max {ordered[-1]:.2f} s"
    )
    verdict = "concurrent" if statistics.median(ordered) < (total + slowest) / 2 else "SEQUENTIAL?"
    print(
        f"  {verdict}: the scan took {statistics.median(ordered) / slowest:.2f}x the slowest probe"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
