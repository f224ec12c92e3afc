"""Time from starting `hostcheck tui --fixture X` to its first full screen, against the bare
interpreter.

The TUI runs as a user runs it: the console script in a pseudo-terminal of 80×24. The clock
stops when the terminal has received the summary ("NOT READY" / "READY"), the list (the
filter line's "N shown", written with the rows) and the detail pane ("Evidence", its first heading):
the first screen a person can read after the scan. Then `q` quits it. Prints the median,
p10 and p90 of N runs and the ratio to `python -c pass` (measured interleaved, this machine
is noisy). Target (issue #4): ≤ 1.5 s.

    python benchmarks/bench_tui.py [--runs 11] [--fixture stock-128g]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

from _harness import BASELINE, compile_hostcheck, median, report, timed, tool

MARKERS = (b"READY", b" shown", b"Evidence")


def first_screen(argv: list[str], size: tuple[int, int], limit: float = 30.0) -> float:
    """Seconds until every marker has been written to the terminal."""
    master, slave = os.openpty()
    columns, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    elapsed = None
    try:
        while time.perf_counter() - started < limit:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if child.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            seen += chunk
            if all(marker in seen for marker in MARKERS):
                elapsed = time.perf_counter() - started
                break
        if elapsed is None:
            tail = seen[-400:].decode(errors="replace")
            raise SystemExit(f"no full screen within {limit:g} s; the terminal got: {tail!r}")
        os.write(master, b"q")
        try:
            deadline = time.perf_counter() + 10
            while child.poll() is None and time.perf_counter() < deadline:
                if select.select([master], [], [], 0.1)[0]:
                    try:
                        os.read(master, 65536)
                    except OSError:
                        break
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise SystemExit("the TUI did not quit on q") from None
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        os.close(master)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--fixture", default="stock-128g")
    args = parser.parse_args()
    argv = [*tool(), "tui", "--fixture", args.fixture]
    compile_hostcheck()
    import compileall

    import textual

    # Textual too: an editable install or PYTHONDONTWRITEBYTECODE would measure compiling it.
    compileall.compile_dir(os.path.dirname(textual.__file__), quiet=1)
    first_screen(argv, (80, 24))  # warm the page cache
    timed([sys.executable, "-c", "pass"])
    name = "tui: first full screen"
    samples: dict[str, list[float]] = {BASELINE: [], name: []}
    for _ in range(args.runs):  # interleaved: this machine is noisy
        samples[BASELINE].append(timed([sys.executable, "-c", "pass"]))
        samples[name].append(first_screen(argv, (80, 24)))
    report(
        samples,
        f"textual {textual.__version__}; {' '.join(argv)} in an 80x24 pseudo-terminal",
        f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}",
    )
    target = 1.5
    verdict = "met" if median(samples, name) <= target else "missed"
    print(f"target: first full screen <= {target:g} s ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
