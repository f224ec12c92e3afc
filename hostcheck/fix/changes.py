"""What a plan is made of, shared by the plan, its backends and the code that carries it out:
the paths hostcheck owns, a file change, a command, and the two errors of `hostcheck fix`."""

from __future__ import annotations

import shlex

from hostcheck._record import NamedTuple
from hostcheck.errors import INPUT, USAGE, HostcheckError
from hostcheck.host.core import Host
from hostcheck.readings import Reason, Value

MODPROBE_DROPIN = "/etc/modprobe.d/zz-hostcheck.conf"
SYSCTL_DROPIN = "/etc/sysctl.d/zz-hostcheck.conf"
KERNEL_CMDLINE = "/etc/kernel/cmdline"
MARKER = "# hostcheck-managed"
UNDO_NOTE = "written by `hostcheck fix`; remove it with `hostcheck fix --undo`."


class PlanError(HostcheckError):
    """The plan cannot be made: a conflict, an unknown boot loader, an unsafe value."""

    kind = USAGE


class FixError(HostcheckError):
    """A refusal (``failed`` False) or a failed step (``failed`` True), with a message."""

    kind = INPUT

    def __init__(self, message: str, *, failed: bool = False) -> None:
        super().__init__(message)
        self.failed = failed

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else super().exit_code  # a failed step: 1, as a not-ready host


class FileChange(NamedTuple):
    path: str
    before: bytes | None  # None: the file does not exist yet
    after: bytes
    why: str


class Command(NamedTuple):
    argv: tuple[str, ...]
    why: str
    # What undoes it once the files are restored: the inverse (grubby, rpm-ostree, sysctl),
    # the same regeneration again, or None (nothing to undo).
    undo: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


def read_bytes(host: Host, path: str) -> bytes | None:
    """A file's exact bytes, or None if it does not exist; any other failure stops the plan
    (a file we cannot read is not a file we may replace)."""
    data = host.read_bytes(path)
    if isinstance(data, Value):
        return data.value
    if data.reason is Reason.MISSING:
        return None
    raise PlanError(f"cannot read {path}: {data.describe()}")
