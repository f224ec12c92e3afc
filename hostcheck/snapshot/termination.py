"""SIGTERM and SIGHUP turned into an exception for the duration of work that leaves temporary
files (a snapshot unpacked or being written), so that ``finally`` blocks still remove them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived: unwinds like an exception, so that cleanups run."""


class Termination:
    """The signal handling of :func:`exit_on_termination`; :meth:`held` defers a signal
    until a cleanup is done (a second SIGTERM must not cut the removal of a copy short)."""

    def __init__(self) -> None:
        self.holding = False
        self.pending: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.holding:
            self.pending = signum
            return
        raise Terminated(128 + signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        holding = self.holding
        self.holding = True
        try:
            yield
        finally:
            self.holding = holding
            if not holding and self.pending is not None:
                signum, self.pending = self.pending, None
                raise Terminated(128 + signum)


@contextlib.contextmanager
def exit_on_termination() -> Iterator[Termination]:
    """For the duration, SIGTERM and SIGHUP raise :class:`Terminated` (exit status 128 + the
    signal) instead of ending the process where it stands, so ``finally`` blocks remove
    temporary files (inside ``Termination.held()``, a signal waits for the cleanup to end);
    the previous handlers come back afterwards. Only the main thread can set handlers;
    elsewhere the signals keep their handling."""
    termination = Termination()
    if threading.current_thread() is not threading.main_thread():
        yield termination
        return
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, termination.handle)
    try:
        yield termination
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
