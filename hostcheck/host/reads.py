"""Reads of host files bounded in size and time.

Sysfs attributes of a wedged GPU can block forever, so reads that may block run on a worker
thread and are abandoned after a timeout. Once a read in a directory has hung, further reads
below it fail at once instead of hanging again.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
from collections.abc import Callable

from hostcheck.readings import Reason, Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_READ_BYTES = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024


def unavailable_from_oserror(source: str, exc: OSError) -> Unavailable:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return Unavailable(Reason.MISSING, source)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Unavailable(Reason.PERMISSION, source, f"denied to uid {os.geteuid()}")
    return Unavailable(Reason.ERROR, source, exc.strerror or str(exc))


class Reader:
    """One daemon worker thread that performs blocking reads; replaced when it hangs.

    A plain daemon thread (not a ThreadPoolExecutor, whose workers are joined at exit) so that
    a read stuck forever in the kernel cannot keep the process from exiting.
    """

    def __init__(self) -> None:
        self._jobs: Any = None
        self._start()

    def _start(self) -> None:
        import queue
        import threading

        self._jobs = queue.SimpleQueue()
        jobs = self._jobs
        threading.Thread(
            target=self._loop, args=(jobs,), daemon=True, name="hostcheck-read"
        ).start()

    @staticmethod
    def _loop(jobs: Any) -> None:
        while True:
            func, reply = jobs.get()
            try:
                reply.put(func())
            except BaseException as exc:  # handed back to the caller, never lost
                reply.put(exc)

    def call(self, func: Callable[[], object], timeout: float) -> object:
        import queue

        reply: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._jobs.put((func, reply))
        try:
            return reply.get(timeout=timeout)
        except queue.Empty:
            self._start()  # the old worker is stuck; abandon it
            raise TimeoutError from None


class _NotRegular(Exception):
    """A direct read found something other than a regular file where one was looked at."""


class BoundedReads:
    """Reads of real paths, bounded in size and (where they may block) in time."""

    def __init__(self, timeout: float, host_mount: bool) -> None:
        self.timeout, self.host_mount = timeout, host_mount
        self._reader: Reader | None = None  # started on the first read that may block
        self._wedged: set[str] = set()

    def read(
        self,
        host_path: str,
        real: str,
        limit: int,
        found: os.stat_result | OSError | None = None,
    ) -> bytes | Unavailable:
        """The bytes of ``real`` (the host's ``host_path``), at most ``limit`` of them.
        ``found``: what lstat() of ``real`` (no link) said just before, if it was asked: its
        status, or the error that opening it would meet too."""
        if self._wedged:
            wedged = next((d for d in self._wedged if host_path.startswith(d + "/")), None)
            if wedged is not None:
                return Unavailable(
                    Reason.TIMEOUT, host_path, f"skipped: an earlier read in {wedged} hung"
                )
        if isinstance(found, OSError):
            return unavailable_from_oserror(host_path, found)

        def read(direct: bool = False) -> bytes:
            # Read in modest chunks: some procfs files refuse one huge read() with ENOMEM.
            # os.read on a descriptor: no file object for a few hundred bytes (a directory
            # fails here with EISDIR, as open() would). A direct read (on this thread, for a
            # regular file) opens without blocking and checks what it opened: a file swapped
            # for a FIFO or a device since it was looked at goes to the bounded reader.
            chunks: list[bytes] = []
            size = 0
            flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_NONBLOCK | os.O_NOCTTY if direct else 0)
            fd = os.open(real, flags)
            try:
                if direct and not statmod.S_ISREG(os.fstat(fd).st_mode):
                    raise _NotRegular
                while size <= limit:
                    chunk = os.read(fd, min(READ_CHUNK, limit + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            finally:
                os.close(fd)
            return b"".join(chunks)

        try:
            if self._may_block(host_path, real, found):
                data = self._bounded(read)
            else:
                try:
                    data = read(direct=True)
                except _NotRegular:
                    data = self._bounded(read)
        except TimeoutError:
            self._wedged.add(os.path.dirname(host_path))
            return Unavailable(Reason.TIMEOUT, host_path, f"no answer within {self.timeout:g} s")
        except OSError as exc:
            return unavailable_from_oserror(host_path, exc)
        if isinstance(data, OSError):
            return unavailable_from_oserror(host_path, data)
        if isinstance(data, BaseException):
            return Unavailable(Reason.ERROR, host_path, str(data))
        assert isinstance(data, bytes)
        if len(data) > limit:
            return Unavailable(Reason.ERROR, host_path, f"larger than {limit} bytes; not read")
        return data

    def _bounded(self, read: Callable[[], bytes]) -> object:
        """``read()`` on the reader thread, within the timeout (TimeoutError past it)."""
        if self._reader is None:
            self._reader = Reader()
        return self._reader.call(read, self.timeout)

    def _may_block(self, host_path: str, real: str, found: os.stat_result | None) -> bool:
        """Whether a read could hang: kernel-backed files of a live host (sysfs, procfs,
        debugfs) and anything that is not a regular file (a FIFO, a device node)."""
        if self.host_mount and host_path.startswith(("/sys/", "/proc/")):
            return True
        if found is not None:
            return not statmod.S_ISREG(found.st_mode)
        try:
            return not statmod.S_ISREG(os.stat(real).st_mode)
        except OSError:
            return False  # the read itself reports the error
