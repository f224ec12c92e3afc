"""A value read from the host, or a typed account of why it could not be read.

Every probe result is either a :class:`Value` (the data and where it came from) or an
:class:`Unavailable` (the reason, where it was looked for, and details). An error never looks
like data: there is no ``""`` or ``-1`` standing in for "could not read".
"""

from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Reason(StrEnum):
    """Why a value is unavailable."""

    MISSING = "missing"  # the file, directory or command does not exist
    PERMISSION = "permission"  # exists, but this user may not read it
    TIMEOUT = "timeout"  # the read or command did not finish within its bound
    UNPARSABLE = "unparsable"  # read, but the content is not what the kernel/tool writes
    NOT_RECORDED = "not-recorded"  # a fixture/snapshot root that did not record this item
    NOT_RUN = "not-run"  # a command left out because nothing depends on it here
    ERROR = "error"  # anything else (I/O error, command failed)


class Value(NamedTuple, Generic[T]):
    """Data read from the host, with the path or command it came from."""

    value: T
    source: str


class Unavailable(NamedTuple):
    """Could not be read: why, where from, and what the OS or tool said."""

    reason: Reason
    source: str
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.source}: {self.reason.value}"
        return f"{text} ({self.detail})" if self.detail else text
