"""Special files planted in a host tree where hostcheck expects a recorded item: a scan under
--root must finish in bounded time and say what it found, whatever sits there (a snapshot
tree is untrusted)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_subprocess

BOUND_S = 60


def _plant(root: Path, relative: str, kind: str) -> None:
    path = root / relative
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # no writer: an open() for reading waits for ever
        return
    try:  # /dev/zero's device: endless bytes
        os.mknod(path, stat.S_IFCHR | 0o644, os.stat("/dev/zero").st_rdev)
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")


@pytest.mark.parametrize(("kind", "shown"), [("fifo", "fifo"), ("device", "char")])
def test_a_special_file_as_the_recorded_kernel_log_is_refused_not_waited_on(
    tmp_path: Path, kind: str, shown: str
) -> None:
    """.hostcheck/dmesg.txt as a FIFO used to hang `scan --root` for ever (the log was opened
    with a blocking open(), outside the bounded reads)."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
    _plant(root, ".hostcheck/dmesg.txt", kind)
    started = time.monotonic()
    run = run_subprocess(
        "scan", "--root", str(root), "--format", "json", "--timeout", "0.5", timeout=BOUND_S
    )
    assert time.monotonic() - started < BOUND_S
    assert run.code == 1, run.err[-2000:]
    finding = next(f for f in json.loads(run.out)["findings"] if f["rule"] == "log.gpu-hangs")
    assert finding["status"] == "error"
    assert finding["evidence"][0]["source"] == "/.hostcheck/dmesg.txt"
    assert finding["evidence"][0]["note"] == f"error: not a regular file ({shown})"


def test_an_endless_device_where_a_file_is_read_is_refused_at_the_size_bound(
    tmp_path: Path,
) -> None:
    """/proc/cmdline as /dev/zero's device: read on the bounded reader (lstat says it is no
    regular file), stopped at 4 MiB and refused, not read to the end of memory."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
    _plant(root, "proc/cmdline", "device")
    run = run_subprocess(
        "scan", "--root", str(root), "--format", "json", "--timeout", "0.5", timeout=BOUND_S
    )
    assert run.code == 1, run.err[-2000:]
    notes = [
        evidence["note"]
        for finding in json.loads(run.out)["findings"]
        for evidence in finding["evidence"]
        if evidence["source"] == "/proc/cmdline"
    ]
    assert notes and set(notes) == {"error: larger than 4194304 bytes; not read"}


def test_a_file_swapped_for_a_fifo_after_it_was_looked_at_is_read_within_the_timeout(
    tmp_path: Path,
) -> None:
    """The race between lstat() and open(): the lookup saw a regular file, a FIFO stands there
    when it is opened. The read must not block the scan: it goes to the bounded reader and
    ends as a timeout, within the --timeout bound."""
    import os
    import subprocess
    import sys

    regular = tmp_path / "cmdline"
    regular.write_text("quiet\n")
    looked_at = os.lstat(regular)
    regular.unlink()
    os.mkfifo(regular)
    code = (
        "import os, sys, time\n"
        "from hostcheck.host.reads import BoundedReads\n"
        f"found = os.stat_result({tuple(looked_at)!r})\n"
        "began = time.monotonic()\n"
        f"got = BoundedReads(0.5, False).read('/proc/cmdline', {str(regular)!r}, 4096, found)\n"
        "print(type(got).__name__, got.reason, round(time.monotonic() - began, 1))\n"
        "sys.stdout.flush(); os._exit(0)\n"  # the abandoned reader thread stays blocked
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=False
    )
    kind, reason, took = done.stdout.split()
    assert (kind, reason) == ("Unavailable", "timeout"), done.stderr
    assert float(took) < 5
