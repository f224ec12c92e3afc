"""What every benchmark here shares: the tool's argv, compiled bytecode, interleaved timing of
commands, and a table of medians with ratios to the bare interpreter (`python -c pass`) and
each case's peak RSS (the largest of its runs, from wait4(); the bare interpreter's row shows
the floor of that measure).

This machine is noisy, so cases are run interleaved, after one warm-up run each, and the
median is what counts. Benchmarks print; they are not tests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

BASELINE = "python -c pass"
Case = Callable[[], list[str]]


def tool() -> list[str]:
    """The console script the user runs, next to this interpreter; else `python -m hostcheck`."""
    script = os.path.join(os.path.dirname(sys.executable), "hostcheck")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "hostcheck"]


def compile_hostcheck() -> None:
    """pip writes bytecode at install time; an editable install or PYTHONDONTWRITEBYTECODE
    (set on this machine) would otherwise measure compiling hostcheck on every run."""
    import compileall

    import hostcheck

    compileall.compile_dir(os.path.dirname(hostcheck.__file__), quiet=1)


PEAK_RSS_KIB: dict[str, int] = {}  # case -> the largest peak RSS of its runs


def timed(argv: list[str], name: str | None = None) -> float:
    """Seconds one run of argv takes; its peak RSS is kept under ``name``."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - started
    child.returncode = 0  # reaped here; keep Popen from waiting again
    if name is not None:
        PEAK_RSS_KIB[name] = max(PEAK_RSS_KIB.get(name, 0), usage.ru_maxrss)
    return took


def measure(cases: Mapping[str, Case], runs: int, warm: bool = True) -> dict[str, list[float]]:
    """Seconds per run of each case (the baseline included), interleaved."""
    everything: dict[str, Case] = {BASELINE: lambda: [sys.executable, "-c", "pass"], **cases}
    if warm:
        for make in everything.values():  # warm the page cache
            timed(make())
    samples: dict[str, list[float]] = {name: [] for name in everything}
    for _ in range(runs):
        for name, make in everything.items():
            samples[name].append(timed(make(), name))
    return samples


def report(samples: Mapping[str, list[float]], *context: str) -> None:
    print(f"interpreter: {sys.executable} ({sys.version.split()[0]}); tool: {' '.join(tool())}")
    for line in context:
        print(line)
    base = statistics.median(samples[BASELINE])
    width = max(len(name) for name in samples) + 2
    print(
        f"{'case':<{width}} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'ratio':>7} "
        f"{'peak RSS':>9}"
    )
    for name, values in samples.items():
        ordered = sorted(values)
        median = statistics.median(ordered)
        p10 = ordered[len(ordered) // 10]
        p90 = ordered[(len(ordered) * 9) // 10]
        rss = PEAK_RSS_KIB.get(name, 0) / 1024
        print(
            f"{name:<{width}} {median * 1000:>10.1f} {p10 * 1000:>8.1f} {p90 * 1000:>8.1f} "
            f"{median / base:>6.2f}x {rss:>7.1f}MB"
        )


def median(samples: Mapping[str, list[float]], name: str) -> float:
    return statistics.median(samples[name])
