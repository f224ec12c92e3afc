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
import statistics
import struct
import subprocess
import sys
import termios
import time

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


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--fixture", default="stock-128g")
    args = parser.parse_args()
    python = sys.executable
    script = os.path.join(os.path.dirname(python), "hostcheck")
    tool = [script] if os.path.exists(script) else [python, "-m", "hostcheck"]
    argv = [*tool, "tui", "--fixture", args.fixture]
    # pip writes bytecode at install time; an editable install or PYTHONDONTWRITEBYTECODE
    # would otherwise measure compiling hostcheck (and Textual) on every run.
    import compileall

    import textual

    import hostcheck

    compileall.compile_dir(os.path.dirname(hostcheck.__file__), quiet=1)
    compileall.compile_dir(os.path.dirname(textual.__file__), quiet=1)
    first_screen(argv, (80, 24))  # warm the page cache
    bare: list[float] = []
    tui: list[float] = []
    for _ in range(args.runs):
        bare.append(timed([python, "-c", "pass"]))
        tui.append(first_screen(argv, (80, 24)))
    base = statistics.median(bare)
    print(f"interpreter: {python} ({sys.version.split()[0]}); textual {textual.__version__}")
    print(f"command: {' '.join(argv)} in an 80x24 pseudo-terminal")
    print(f"fixture: {args.fixture}; runs: {args.runs} each, interleaved; cores: {os.cpu_count()}")
    print(f"{'case':<26} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'ratio':>7}")
    for name, values in (("python -c pass", bare), ("tui: first full screen", tui)):
        values.sort()
        median = statistics.median(values)
        p10 = values[len(values) // 10]
        p90 = values[(len(values) * 9) // 10]
        print(
            f"{name:<26} {median * 1000:>10.1f} {p10 * 1000:>8.1f} {p90 * 1000:>8.1f} "
            f"{median / base:>6.2f}x"
        )
    target = 1.5
    verdict = "met" if statistics.median(tui) <= target else "missed"
    print(f"target: first full screen <= {target:g} s ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
