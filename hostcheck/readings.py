"""A value read from the host, or a typed account of why it could not be read.

Every probe result is either a :class:`Value` (the data and where it came from) or an
:class:`Unavailable` (the reason, where it was looked for, and details). An error never looks
like data: there is no ``""`` or ``-1`` standing in for "could not read".
"""

from __future__ import annotations

from enum import StrEnum
from types import GenericAlias

from hostcheck._record import NamedTuple as Record

# typing is left unimported on a scan (~3 ms: docs/speed.md); type checkers see the names.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Generic, NamedTuple, TypeVar

    T = TypeVar("T")


class Reason(StrEnum):
    """Why a value is unavailable."""

    MISSING = "missing"  # the file, directory or command does not exist
    PERMISSION = "permission"  # exists, but this user may not read it
    TIMEOUT = "timeout"  # the read or command did not finish within its bound
    UNPARSABLE = "unparsable"  # read, but the content is not what the kernel/tool writes
    NOT_RECORDED = "not-recorded"  # a fixture/snapshot root that did not record this item
    NOT_RUN = "not-run"  # a command left out because nothing depends on it here
    ERROR = "error"  # anything else (I/O error, command failed)


if TYPE_CHECKING:

    class Value(NamedTuple, Generic[T]):
        """Data read from the host, with the path or command it came from."""

        value: T
        source: str

else:  # the same record, without typing's Generic; ``Value[int]`` is an alias as typing's

    class Value(Record):
        """Data read from the host, with the path or command it came from."""

        value: T
        source: str

        __class_getitem__ = classmethod(GenericAlias)


class Unavailable(Record):
    """Could not be read: why, where from, and what the OS or tool said."""

    reason: Reason
    source: str
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.source}: {self.reason.value}"
        return f"{text} ({self.detail})" if self.detail else text


# Records of what the Host read (its metadata, commands and processes): plain data that the
# probes, the recording and the facts share.
class NodeInfo(Record):
    """lstat() of a path, as far as the checks need it."""

    kind: str  # "char", "block", "dir", "file", "fifo", "link", "socket"
    mode: int  # permission bits only
    uid: int
    gid: int
    owner: str | None = None  # recorded name, when the tree gives names instead of ids
    group: str | None = None
    rdev: str | None = None  # "major:minor" for device nodes


class CommandOutput(Record):
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    omitted: int = 0  # bytes of standard output before the kept tail (Host.start keep_tail)
    # Set (to the bound, in seconds) when the command was killed at its bound and this is
    # what it had written until then: only for commands run with ``partial=True``.
    timed_out: float | None = None


class ProcessInfo(Record):
    pid: int
    cmdline: tuple[str, ...]
    environ: dict[str, str] | Unavailable
