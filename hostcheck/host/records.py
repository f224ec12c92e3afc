"""The replay side of the fixture format: what a non-live root keeps under ``ROOT/.hostcheck/``
(see fixtures/README.md), read back as readings.

``dmesg.txt`` (with ``dmesg.json``: how much older log a snapshot left out), ``devices.json``
(device node metadata), ``commands/<name>.txt`` (with ``<name>.json`` for a non-zero exit status
or error output), ``user``, and ``unreadable.json``: items a snapshot could not read, replayed
with the reason seen then. :mod:`hostcheck.host.recording` is the other side.
"""

from __future__ import annotations

import errno
import os
import stat as statmod

from hostcheck.host.safeio import InputError, parse_json_text
from hostcheck.readings import NodeInfo, Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RECORD_DIR = ".hostcheck"
KERNEL_LOG_FILE = "dmesg.txt"


def unreadable_items(loaded: dict[str, Any]) -> dict[str, Unavailable]:
    """``unreadable.json``'s items, each as the reading a snapshot saw (others ignored)."""
    items: dict[str, Unavailable] = {}
    for key, item in loaded.items():
        if isinstance(item, dict) and item.get("reason") in set(Reason):
            items[key] = Unavailable(
                Reason(item["reason"]),
                str(item.get("source", key)),
                str(item.get("detail", "")),
            )
    return items


def recorded_node(recorded: dict[str, object], host_path: str) -> Value[NodeInfo] | Unavailable:
    """A device node as ``devices.json`` records it."""
    try:
        return Value(
            NodeInfo(
                kind=str(recorded["type"]),
                mode=_mode(recorded["mode"]),
                uid=int(str(recorded.get("uid", 0))),
                gid=int(str(recorded.get("gid", -1))),
                owner=_opt_str(recorded.get("owner")),
                group=_opt_str(recorded.get("group")),
                rdev=_opt_str(recorded.get("rdev")),
            ),
            f"{RECORD_DIR}/devices.json:{host_path}",
        )
    except (KeyError, ValueError) as exc:
        return Unavailable(Reason.UNPARSABLE, f"{RECORD_DIR}/devices.json:{host_path}", str(exc))


def node_of(st: os.stat_result, host_path: str) -> Value[NodeInfo]:
    """A node as lstat() found it."""
    rdev = None
    if statmod.S_ISCHR(st.st_mode) or statmod.S_ISBLK(st.st_mode):
        rdev = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    return Value(
        NodeInfo(
            kind=_kind_of(st.st_mode),
            mode=statmod.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            rdev=rdev,
        ),
        host_path,
    )


def command_status(text: str, source: str) -> tuple[int, str, float | None] | Unavailable:
    """A recorded command's ``<name>.json``: its exit status, error output and, for a command
    cut off at its bound, the seconds it ran."""
    try:
        loaded = parse_json_text(text, what="recorded status", expect=dict)
        code = loaded.get("returncode", 0)
        stderr = loaded.get("stderr", "")
        if isinstance(code, bool) or not isinstance(code, int) or not -255 <= code <= 255:
            raise ValueError(f"returncode {str(code)[:40]!r} is not an exit status")
        if not isinstance(stderr, str):
            raise ValueError("stderr is not a string")
        timed_out = None
        timed = loaded.get("timed_out")
        if timed is not None:
            if (
                isinstance(timed, bool)
                or not isinstance(timed, int | float)
                or not 0 <= timed < 1e9
            ):
                raise ValueError(f"timed_out {str(timed)[:40]!r} is not seconds")
            timed_out = float(timed)
    except InputError as exc:
        return Unavailable(Reason.UNPARSABLE, source, exc.reason)
    except ValueError as exc:
        return Unavailable(Reason.UNPARSABLE, source, str(exc))
    return code, stderr, timed_out


def kernel_log_note(text: str) -> int:
    """How many bytes of older kernel log ``dmesg.json`` says a snapshot left out."""
    try:
        loaded = parse_json_text(text, what="recorded kernel log note", expect=dict)
    except InputError:
        return 0
    count = loaded.get("omitted_bytes", 0)
    return count if isinstance(count, int) and 0 <= count < 2**53 else 0


def read_tail(real: str, budget: int) -> tuple[bytes, int]:
    """The last ``budget`` bytes of a file, starting at a whole line, and how many bytes
    before them were left out. OSError propagates; a FIFO or device (a planted snapshot) is
    refused before any read, which could block for ever."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(real, flags), "rb") as handle:
        status = os.fstat(handle.fileno())
        if statmod.S_ISDIR(status.st_mode):  # as open() says it
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), real)
        if not statmod.S_ISREG(status.st_mode):
            kind = _kind_of(status.st_mode)
            raise OSError(errno.EINVAL, f"not a regular file ({kind})", real)
        size = status.st_size
        omitted = max(size - budget, 0)
        handle.seek(max(omitted - 1, 0))
        before = handle.read(1) if omitted else b""
        data = handle.read(budget)
    if omitted and before != b"\n":  # start at a whole line
        cut = data.find(b"\n") + 1
        omitted += cut
        data = data[cut:]
    return data, omitted


def _kind_of(mode: int) -> str:
    for test, name in (
        (statmod.S_ISCHR, "char"),
        (statmod.S_ISBLK, "block"),
        (statmod.S_ISDIR, "dir"),
        (statmod.S_ISREG, "file"),
        (statmod.S_ISFIFO, "fifo"),
        (statmod.S_ISLNK, "link"),
        (statmod.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "unknown"


def _mode(value: object) -> int:
    """A recorded mode: an octal string ("0660") or, as JSON numbers are, a decimal integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value), 8)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
