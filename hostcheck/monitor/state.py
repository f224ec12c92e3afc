"""The monitor's state directory: stored reports, written atomically, the last N kept.

``$STATE_DIRECTORY`` (set by systemd from ``StateDirectory=``) or ``/var/lib/hostcheck``.
Each run stores ``report-<UTC time>.json`` and points ``latest.json`` at it. A file appears
under its final name only complete: it is written to a dot-named temporary file in the same
directory, fsynced and renamed over, so a reader (a collector, ``jq``, the next run) sees the
old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from typing import Any

DEFAULT_STATE_DIR = "/var/lib/hostcheck"
LATEST = "latest.json"
_REPORT = re.compile(r"^report-\d{8}T\d{6}\.\d{6}Z(?:-\d+)?\.json$")
_STALE_TEMP_SECONDS = 3600


class StateError(Exception):
    """The state directory or a file in it cannot be written."""


def state_dir(explicit: str | None) -> str:
    if explicit:
        return explicit
    # systemd passes a colon-separated list when StateDirectory= names several.
    from_systemd = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return from_systemd or DEFAULT_STATE_DIR


def prepare(directory: str) -> None:
    """Create the state directory if needed, before the scan, so a bad one fails fast."""
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", directory)
    except OSError as exc:
        raise StateError(
            f"state directory {directory}: {exc.strerror or exc}; run as root or give --state-dir"
        ) from None


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` so that no reader ever sees a partial file, and so that
    after a crash the file is either the old or the new one (fsync before and after rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def report_files(directory: str) -> list[str]:
    """Stored reports, oldest first (their names sort by time)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if _REPORT.match(name))


def load_previous(directory: str) -> tuple[dict[str, Any] | None, str | None]:
    """The newest stored report, or None; the second value says why one could not be read."""
    names = report_files(directory)
    if not names:
        return None, None
    path = os.path.join(directory, names[-1])
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        return None, f"{path}: {exc}"
    if not isinstance(data, dict) or not str(data.get("schema_version", "")).startswith("1."):
        return None, f"{path}: not a hostcheck report of schema 1.x"
    return data, None


def store_report(directory: str, report: dict[str, Any], keep: int, now: float) -> str:
    """Write the report as the newest, point latest.json at it, drop all but the last ``keep``.
    Returns the report's path."""
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        name = f"report-{stamp}.json"
        existing = set(report_files(directory))
        serial = 1
        while name in existing:  # two runs within a microsecond: keep both, in order
            name = f"report-{stamp}-{serial}.json"
            serial += 1
        path = os.path.join(directory, name)
        write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        _point_latest(directory, name)
        for old in report_files(directory)[:-keep]:
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
