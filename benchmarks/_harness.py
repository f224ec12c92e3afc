"""What every benchmark here shares: the tool's argv, compiled bytecode, interleaved timing of
commands, and a table of medians with ratios to the bare interpreter (`python -c pass`) in wall
and CPU time, and each case's peak RSS (the largest of its runs).

Peak RSS: Linux keeps a process's high-water mark across exec(), so a child forked from this
benchmark would report at least this benchmark's own size. Each run therefore starts under
GNU time (/usr/bin/time, a small C program) when it is installed, which reports the
command's own peak; without it the figure is wait4()'s, and the bare interpreter's row shows
its floor.

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
# case -> CPU seconds (user + system) of each run: on a machine shared with other work, wall
# time includes waiting for a core; CPU time mostly does not, so its ratio is steadier.
CPU_SECONDS: dict[str, list[float]] = {}


GNU_TIME = "/usr/bin/time"
_SCRATCH: list[str] = []


def compared_trees(compare: str | None) -> dict[str, list[str]]:
    """The hostcheck commands to measure, by label: the installed one alone, or with --compare
    this checkout ("") and an older source tree ("before: "), each named by PYTHONPATH."""
    import compileall

    if not compare:
        return {"": tool()}
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for tree in (here, compare):  # this checkout may not be the installed one
        compileall.compile_dir(os.path.join(tree, "hostcheck"), quiet=1)
    # The console script as users start it, else `python -P -m hostcheck` (without -P, `-m`
    # puts the working directory first on sys.path: run from a checkout, both cases would
    # measure that checkout).
    command = tool() if len(tool()) == 1 else [sys.executable, "-P", "-m", "hostcheck"]
    return {
        label: ["env", f"PYTHONPATH={tree}", *command]
        for label, tree in (("", here), ("before: ", os.path.abspath(compare)))
    }


def _scratch() -> str:
    """A private directory for GNU time's output, removed at exit."""
    if not _SCRATCH:
        import atexit
        import shutil
        import tempfile

        _SCRATCH.append(tempfile.mkdtemp(prefix="hostcheck-bench-"))
        atexit.register(shutil.rmtree, _SCRATCH[0], True)
    return _SCRATCH[0]


def timed(argv: list[str], name: str | None = None) -> float:
    """Seconds one run of argv takes; its CPU time and peak RSS are kept under ``name``."""
    wrapped = os.access(GNU_TIME, os.X_OK)
    rss_file = os.path.join(_scratch(), "rss")
    command = [GNU_TIME, "-f", "%M %U %S", "-o", rss_file, "--", *argv] if wrapped else argv
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - started
    child.returncode = 0  # reaped here; keep Popen from waiting again
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if wrapped:  # the command's own figures, as the wrapper saw them
        with open(rss_file, encoding="utf-8") as handle:
            fields = handle.read().split()[-3:]
        # GNU time counts CPU in 10 ms steps; wait4() of the wrapper has microseconds but
        # was seen to miss part of long runs: the larger of the two.
        peak, cpu = int(fields[0]), max(cpu, float(fields[1]) + float(fields[2]))
    if name is not None:
        PEAK_RSS_KIB[name] = max(PEAK_RSS_KIB.get(name, 0), peak)
        CPU_SECONDS.setdefault(name, []).append(cpu)
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
    cpu_base = statistics.median(CPU_SECONDS.get(BASELINE) or [0.0]) or 1.0
    width = max(len(name) for name in samples) + 2
    print(
        f"{'case':<{width}} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'ratio':>7} "
        f"{'cpu ms':>7} {'cpu ratio':>9} {'peak RSS':>9}"
    )
    for name, values in samples.items():
        ordered = sorted(values)
        median = statistics.median(ordered)
        p10 = ordered[len(ordered) // 10]
        p90 = ordered[(len(ordered) * 9) // 10]
        rss = PEAK_RSS_KIB.get(name, 0) / 1024
        cpu = statistics.median(CPU_SECONDS.get(name) or [0.0])
        print(
            f"{name:<{width}} {median * 1000:>10.1f} {p10 * 1000:>8.1f} {p90 * 1000:>8.1f} "
            f"{median / base:>6.2f}x {cpu * 1000:>7.1f} {cpu / cpu_base:>8.2f}x {rss:>7.1f}MB"
        )


def median(samples: Mapping[str, list[float]], name: str) -> float:
    return statistics.median(samples[name])


def ratio(samples: Mapping[str, list[float]], name: str) -> float:
    """The case's median wall time over the bare interpreter's, in the same run."""
    return statistics.median(samples[name]) / statistics.median(samples[BASELINE])


def cpu_ratio(name: str) -> float:
    """The case's median CPU time over the bare interpreter's, in the same run."""
    return statistics.median(CPU_SECONDS[name]) / statistics.median(CPU_SECONDS[BASELINE])
