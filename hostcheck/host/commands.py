"""Commands on the live host: started without waiting, bounded in time, read together.

Commands started one after another run at the same time: waiting for any of them reads the
output of all, so none stalls on a full pipe. A command stuck past its timeout is killed and,
if it does not exit within a second (stuck in the kernel on a wedged GPU), abandoned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hostcheck.host.reads import READ_CHUNK
from hostcheck.readings import CommandOutput, Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hostcheck.host.recording import Recorder

MAX_STDERR_BYTES = 64 * 1024  # a command's error output kept (the first part)


class _Child:
    """A command started on the live host: its process and the output read so far."""

    def __init__(
        self,
        popen: Any,
        argv: tuple[str, ...],
        shown: str,
        timeout: float,
        keep_tail: int | None,
        partial: bool = False,
    ) -> None:
        import time

        self.popen, self.argv, self.shown, self.timeout = popen, argv, shown, timeout
        self.partial = partial
        self.deadline = time.monotonic() + timeout
        self.keep_tail = keep_tail
        self.out: list[bytes] = []
        self.out_size = 0
        self.omitted = 0
        self.last_omitted = b""  # the last byte left out (a newline: the tail starts a line)
        self.err: list[bytes] = []
        self.err_size = 0
        self.streams = [popen.stdout, popen.stderr]
        self.result: Value[CommandOutput] | Unavailable | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def open_streams(self) -> list[Any]:
        return list(self.streams)

    def read(self, stream: Any) -> bool:
        """Read what one pipe has; False at its end (the pipe is then closed)."""
        data = os.read(stream.fileno(), READ_CHUNK)
        if not data:
            self._close(stream)
            return False
        if stream is self.popen.stderr:
            if self.err_size < MAX_STDERR_BYTES:
                self.err.append(data)
                self.err_size += len(data)
            return True
        self.out.append(data)
        self.out_size += len(data)
        if self.keep_tail is not None:  # drop whole chunks the tail no longer needs
            while self.out and self.out_size - len(self.out[0]) >= self.keep_tail:
                dropped = self.out.pop(0)
                self.out_size -= len(dropped)
                self.omitted += len(dropped)
                self.last_omitted = dropped[-1:]
        return True

    def _close(self, stream: Any) -> None:
        if stream in self.streams:
            self.streams.remove(stream)
        stream.close()

    def finish(self) -> None:
        """Both pipes are at their end: collect the exit status (bounded by the deadline)."""
        import subprocess
        import time

        try:
            returncode = self.popen.wait(timeout=max(self.deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.give_up()
            return
        stdout = b"".join(self.out)
        self.out = []
        if self.keep_tail is not None and len(stdout) > self.keep_tail:
            start = len(stdout) - self.keep_tail
            self.omitted += start
            self.last_omitted = stdout[start - 1 : start]
            stdout = stdout[start:]
        if self.omitted and self.last_omitted != b"\n":  # start at a whole line
            cut = stdout.find(b"\n") + 1
            self.omitted += cut
            stdout = stdout[cut:]
        self.result = Value(
            CommandOutput(
                self.argv,
                returncode,
                output_text(stdout),
                output_text(b"".join(self.err)),
                self.omitted,
            ),
            self.shown,
        )

    def give_up(self) -> None:
        """Past its time: killed and, if it does not exit within a second (stuck in the
        kernel on a wedged GPU, where SIGKILL waits), abandoned."""
        import contextlib
        import subprocess

        if self.partial:
            import signal

            with contextlib.suppress(OSError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # the child and every helper it started
        with contextlib.suppress(OSError):
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)
        if self.partial:  # what it wrote until the bound, pipes drained without blocking
            for stream in self.open_streams():
                with contextlib.suppress(OSError):
                    os.set_blocking(stream.fileno(), False)
                    while chunk := os.read(stream.fileno(), READ_CHUNK):
                        (self.err if stream is self.popen.stderr else self.out).append(chunk)
        for stream in self.open_streams():
            self._close(stream)
        if self.partial:
            code = self.popen.returncode
            self.result = Value(
                CommandOutput(
                    self.argv,
                    code if code is not None else -9,
                    output_text(b"".join(self.out)),
                    output_text(b"".join(self.err)),
                    timed_out=self.timeout,
                ),
                self.shown,
            )
            self.out = []
            return
        self.out = []
        self.result = Unavailable(
            Reason.TIMEOUT, self.shown, f"no answer within {self.timeout:g} s"
        )


def output_text(data: bytes) -> str:
    """Command output as text, newlines translated as a text-mode pipe does."""
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


class Started:
    """A command started with :meth:`Host.start`; :meth:`result` waits for it (once)."""

    def __init__(
        self,
        name: str | None,
        result: Value[CommandOutput] | Unavailable | None,
        recorder: Recorder | None,
        child: tuple[Children, _Child] | None = None,
    ) -> None:
        self._name, self._result, self._recorder = name, result, recorder
        self._child = child
        self._recorded = False

    def known(self) -> Value[CommandOutput] | Unavailable | None:
        """The result if it is known without waiting (replayed, or the program could not
        be started), else None."""
        return self._result

    def result(self) -> Value[CommandOutput] | Unavailable:
        if self._result is None:
            assert self._child is not None
            children, child = self._child
            if not child.done:
                children.wait_for(child)
            assert child.result is not None
            self._result = child.result
        if self._name is not None and not self._recorded and self._recorder is not None:
            self._recorded = True
            self._recorder.command(self._name, self._result)
        return self._result


class Children:
    """The commands started on the live host and not yet finished."""

    def __init__(self) -> None:
        self._running: list[_Child] = []

    def spawn(
        self,
        name: str | None,
        argv: Sequence[str],
        timeout: float,
        shown: str,
        recorder: Recorder | None,
        keep_tail: int | None = None,
        partial: bool = False,
    ) -> Started:
        import subprocess

        try:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Untranslated messages: the probes match tools' English output.
                env={**os.environ, "LC_ALL": "C"},
                # partial: its own process group, killed whole at the bound (helpers too)
                start_new_session=partial,
            )
        except FileNotFoundError:
            return Started(
                name, Unavailable(Reason.MISSING, shown, f"{argv[0]} not installed"), recorder
            )
        except PermissionError as exc:
            return Started(name, Unavailable(Reason.PERMISSION, shown, str(exc)), recorder)
        except OSError as exc:
            return Started(name, Unavailable(Reason.ERROR, shown, str(exc)), recorder)
        started = _Child(child, tuple(argv), shown, timeout, keep_tail, partial)
        self._running.append(started)
        return Started(name, None, recorder, (self, started))

    def wait_for(self, target: _Child) -> None:
        """Read every running child's output until ``target`` is done or past its time;
        a child past its own time is killed and abandoned (see :meth:`_Child.give_up`)."""
        import selectors
        import time

        selector = selectors.DefaultSelector()
        try:
            for child in self._running:
                for stream in child.open_streams():
                    selector.register(stream, selectors.EVENT_READ, child)
            while not target.done:
                now = time.monotonic()
                for child in self._running:
                    if not child.done and now >= child.deadline:
                        for stream in child.open_streams():
                            selector.unregister(stream)
                        child.give_up()
                if target.done:
                    break
                wait = min(c.deadline for c in self._running if not c.done) - now
                for key, _ in selector.select(timeout=max(wait, 0.0)):
                    child = key.data
                    if child.done or child.read(key.fileobj):
                        continue
                    selector.unregister(key.fileobj)
                    if not child.open_streams():
                        child.finish()
                        for stream in child.open_streams():  # given up while finishing
                            selector.unregister(stream)
        finally:
            selector.close()
            self._running = [c for c in self._running if not c.done]
