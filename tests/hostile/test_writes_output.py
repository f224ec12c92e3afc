"""One rule for the files a user names for a report (`scan -o`, `monitor --metrics-file`):
a regular file is replaced atomically, a link's file replaced and the link kept, a character
device or FIFO written into, a block device, socket or directory refused; never a rename over
anything that is not a regular file (issue 18 item 3)."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

Writer = Callable[[Path], tuple[int, str]]


@pytest.fixture(params=["scan", "monitor"])
def write_report(request, cli, tmp_path: Path) -> Writer:
    """Run the writer under test with FILE as its target; returns (exit code, stderr)."""

    def run(target: Path) -> tuple[int, str]:
        if request.param == "scan":
            done = cli("scan", "--fixture", "stock-128g", "--format", "json", "-o", str(target))
        else:
            done = cli(
                "monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"),
                "--metrics-file", str(target),
            )  # fmt: skip
        return done.code, done.err

    run.kind = request.param  # type: ignore[attr-defined]
    return run


def _marker(kind: str) -> str:
    return '"schema_version"' if kind == "scan" else "hostcheck_ready"


def _read_fifo(fd: int, into: list[bytes], stop: threading.Event) -> None:
    """Read until the writer closed after writing something (or told to stop)."""
    while not stop.is_set():
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if chunk:
            into.append(chunk)
        elif into:
            return  # EOF after data: the writer closed
        else:
            time.sleep(0.01)  # no writer yet


def test_a_fifo_with_a_reader_is_written_into_and_stays_a_fifo(write_report, tmp_path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    got: list[bytes] = []
    stop = threading.Event()
    reader = threading.Thread(target=_read_fifo, args=(fd, got, stop))
    reader.start()
    try:
        code, err = write_report(fifo)
        reader.join(timeout=60)
    finally:
        stop.set()
        reader.join()
        os.close(fd)
    assert code == 1, err  # stock-128g is not ready; the report arrived whole
    assert _marker(write_report.kind) in b"".join(got).decode()  # type: ignore[attr-defined]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_fifo_nobody_reads_is_refused_at_once_not_a_hang(write_report, tmp_path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    code, err = write_report(fifo)
    assert time.monotonic() - started < 60
    assert code == 2
    assert f"{fifo}: a FIFO that no process reads" in err.splitlines()[-1]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_through_a_link_the_file_it_names_is_replaced_and_the_link_kept(
    write_report, tmp_path
) -> None:
    real = tmp_path / "real" / "report"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    code, err = write_report(link)
    assert code == 1, err
    assert os.readlink(link) == str(real)
    assert _marker(write_report.kind) in real.read_text()  # type: ignore[attr-defined]
    assert [p.name for p in real.parent.iterdir()] == ["report"]  # no temporary file left


def test_a_dangling_link_creates_the_file_it_names(write_report, tmp_path) -> None:
    real = tmp_path / "made-by-the-run"
    link = tmp_path / "link"
    link.symlink_to(real.name)  # relative, as `ln -s NAME` writes it
    code, err = write_report(link)
    assert code == 1, err
    assert link.is_symlink() and real.is_file() and not real.is_symlink()


def test_a_link_to_a_fifo_writes_into_the_fifo(write_report, tmp_path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    code, err = write_report(link)  # nobody reads: refused, and both stay as they were
    assert code == 2 and "a FIFO that no process reads" in err
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_link_loop_is_a_one_line_error(write_report, tmp_path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    code, err = write_report(tmp_path / "a")
    assert code == 2
    assert "Too many levels of symbolic links" in err or "too many levels" in err
    assert "Traceback" not in err
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_a_socket_is_refused_and_left_alone(write_report, tmp_path) -> None:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        code, err = write_report(path)
    finally:
        server.close()
    assert code == 2
    assert f"{path}: a socket: refusing to write into it" in err
    assert stat.S_ISSOCK(path.lstat().st_mode)


def test_a_directory_is_refused(write_report, tmp_path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    code, err = write_report(target)
    assert code == 2 and "is a directory" in err.lower()
    assert target.is_dir() and list(target.iterdir()) == []


def test_a_character_device_is_written_into_and_stays_a_device(write_report, tmp_path) -> None:
    """A private node with /dev/null's numbers (the real /dev/null is only looked at)."""
    real = os.stat("/dev/null")
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, real.st_rdev)
        with open(node, "wb") as probe:
            probe.write(b"")
    except PermissionError as exc:
        pytest.skip(f"cannot make or open a device node here ({exc.strerror})")
    code, err = write_report(node)
    assert code == 1, err
    st = node.lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == real.st_rdev
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".null")] == []


def test_a_regular_file_keeps_being_replaced_atomically(write_report, tmp_path) -> None:
    target = tmp_path / "out"
    target.write_text("old\n")
    inode = target.stat().st_ino
    code, err = write_report(target)
    assert code == 1, err
    assert target.stat().st_ino != inode  # renamed over, not truncated in place
    assert _marker(write_report.kind) in target.read_text()  # type: ignore[attr-defined]
