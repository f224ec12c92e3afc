"""The monitor's state directory: stored reports, written atomically, the last N kept.

``$STATE_DIRECTORY`` (set by systemd from ``StateDirectory=``) or ``/var/lib/hostcheck``.
Each run stores ``report-<sequence>-<UTC time>.json`` and points ``latest.json`` at it. A file
appears under its final name only complete: it is written to a dot-named temporary file in the same
directory, fsynced and renamed over, so a reader (a collector, ``jq``, the next run) sees the
old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import time
from collections.abc import Iterator
from typing import Any

from hostcheck.errors import INPUT, HostcheckError
from hostcheck.host.output import replace_durably
from hostcheck.render.json import dumps_indented

DEFAULT_STATE_DIR = "/var/lib/hostcheck"
LATEST = "latest.json"
LOCK = ".lock"  # flock()ed by a run from reading the previous report to storing its own
LOCK_WAIT_SECONDS = 120.0
MAX_REPORT_BYTES = 32 * 1024 * 1024  # a stored report is read back with this bound
# report-<sequence>-<UTC time>.json: runs are ordered by the sequence number, one more than the
# highest stored, never by the clock (which NTP or an operator can step back). The time is for
# people. Names of the first version (report-<UTC time>.json) sort before every numbered one.
_REPORT = re.compile(r"^report-(?:(?P<seq>\d{6,})-)?\d{8}T\d{6}(?:\.\d{6})?Z(?:-\d+)?\.json$")
_STALE_TEMP_SECONDS = 3600


class StateError(HostcheckError):
    """The state directory or a file in it cannot be written."""

    kind = INPUT


def state_dir(explicit: str | None) -> str:
    if explicit:
        return explicit
    # systemd passes a colon-separated list when StateDirectory= names several.
    from_systemd = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return from_systemd or DEFAULT_STATE_DIR


def _error(directory: str, exc: OSError) -> StateError:
    # Root helps with permissions only: a file in the way, a read-only or full file system
    # need another directory (or a repair), whoever runs.
    hint = (
        "; run as root or give --state-dir"
        if exc.errno in (errno.EACCES, errno.EPERM)
        else "; give another --state-dir"
        if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EROFS, errno.ELOOP)
        else ""
    )
    return StateError(
        f"state directory {directory}: {exc.strerror or exc}"
        + (f" ({exc.filename})" if exc.filename and exc.filename != directory else "")
        + hint
    )


def prepare(directory: str, *, explicit: bool = False) -> None:
    """Create the state directory if needed, before the scan, so a bad one fails fast: the
    run lists it (read), creates files in it (write) and opens them (search).

    A --state-dir given on the command line is created only as the last component: a typo in
    a parent (``/var/lib/hostchek/x``) is refused rather than silently made into a tree."""
    if os.path.lexists(directory) and not os.path.isdir(directory):
        what = "a symbolic link to nothing" if os.path.islink(directory) else "not a directory"
        raise StateError(
            f"state directory {directory}: {what} (a file is in the way); give another --state-dir"
        )

    if explicit and not os.path.isdir(directory):
        parent = os.path.dirname(os.path.abspath(directory))
        if not os.path.lexists(parent):
            raise StateError(
                f"--state-dir {directory}: the directory {parent} does not exist (a typo?); "
                "hostcheck creates only the last component: create the parent first"
            )
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", directory)
    except OSError as exc:
        raise _error(directory, exc) from None


@contextlib.contextmanager
def locked(directory: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Keep concurrent runs on one state directory apart from reading the previous report to
    storing the new one, so each compares with the one before it and sequence numbers never
    repeat. The lock file is opened O_NOFOLLOW: a planted link is refused, never followed."""
    path = os.path.join(directory, LOCK)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StateError(
                f"state directory {directory}: {path} is a symbolic link; not following it"
            ) from None
        raise _error(directory, exc) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StateError(f"state directory {directory}: {path} is not a regular file")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateError(
                        f"state directory {directory}: another `hostcheck monitor` has held "
                        f"{path} for over {wait:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _sequence(name: str) -> int:
    match = _REPORT.match(name)
    return int(match["seq"]) if match and match["seq"] else -1


def report_files(directory: str) -> list[str]:
    """Stored reports, oldest first: by sequence number (names of the first version, without
    one, first and by time among themselves)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _error(directory, exc) from None
    return sorted((name for name in names if _REPORT.match(name)), key=lambda n: (_sequence(n), n))


def load_previous(directory: str) -> tuple[dict[str, Any] | None, str | None]:
    """The newest stored report, or None; the second value says why one could not be read
    (the run then compares nothing rather than crash on it, this time and every next)."""
    names = report_files(directory)
    if not names:
        return None, None
    path = os.path.join(directory, names[-1])
    from hostcheck.host.safeio import InputError, load_json_file

    try:
        data = load_json_file(path, what="stored report", max_bytes=MAX_REPORT_BYTES)
    except InputError as exc:
        return None, str(exc)
    problem = _shape_problem(data)
    if problem:
        return None, f"{path}: {problem}"
    return data, None


def _shape_problem(data: Any) -> str | None:
    """What in a stored report the comparison could not use, or None."""
    if not isinstance(data, dict) or not str(data.get("schema_version", "")).startswith("1."):
        return "not a hostcheck report of schema 1.x"
    if not isinstance(data.get("ready"), bool):
        return "no ready true/false"
    findings = data.get("findings")
    if not isinstance(findings, list) or not all(
        isinstance(f, dict) and isinstance(f.get("rule"), str) and isinstance(f.get("status"), str)
        for f in findings
    ):
        return "findings is not a list of objects with a rule and a status"
    if "monitor" not in data:
        return None  # a plain scan report: findings and readiness compare
    monitor = data["monitor"]
    observed = monitor.get("observed") if isinstance(monitor, dict) else None
    if not isinstance(observed, dict):
        return "monitor.observed is not an object"
    hangs = observed.get("gpu_hang_lines", [])
    if not isinstance(hangs, list) or not all(
        isinstance(h, dict)
        and isinstance(h.get("text"), str)
        and (h.get("timestamp") is None or isinstance(h.get("timestamp"), (int, float)))
        for h in hangs
    ):
        return "monitor.observed.gpu_hang_lines is not a list of lines"
    return None


def store_report(directory: str, report: dict[str, Any], keep: int, now: float) -> str:
    """Write the report as the newest, point latest.json at it, drop all but the last ``keep``
    (never the one just written: it has the highest sequence number). Returns its path."""
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        existing = report_files(directory)
        sequence = max((_sequence(name) for name in existing), default=0) + 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        name = f"report-{sequence:06d}-{stamp}.json"
        path = os.path.join(directory, name)
        text = dumps_indented(report) + "\n"  # json.dumps(indent=2, ensure_ascii=False)'s bytes
        replace_durably(os.path.abspath(path), text.encode("utf-8"), 0o644)
        _point_latest(directory, name)
        for old in report_files(directory)[:-keep]:
            if old != name:
                # Gone already (removed by hand, or by a run of an older version that took
                # no lock): what rotation wanted.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, old))
        _remove_stale_temps(directory, now)
    except OSError as exc:
        raise StateError(
            f"state directory {directory}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
        ) from None
    return path


def _point_latest(directory: str, name: str) -> None:
    """latest.json becomes a symlink to ``name``, swapped in by rename like any other file."""
    link = os.path.join(directory, LATEST)
    tmp = os.path.join(directory, f".{LATEST}.{os.getpid()}.tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(name, tmp)
    os.replace(tmp, link)


def _remove_stale_temps(directory: str, now: float) -> None:
    """Temporary files left by a run that was killed mid-write (never those of a live run)."""
    for name in os.listdir(directory):
        if name.startswith(".") and name.endswith(".tmp"):
            path = os.path.join(directory, name)
            try:
                if now - os.lstat(path).st_mtime > _STALE_TEMP_SECONDS:
                    os.unlink(path)
            except FileNotFoundError:
                pass
