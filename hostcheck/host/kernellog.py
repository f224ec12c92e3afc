"""The kernel log since boot, as ``dmesg`` prints it: its newest part, in bounded memory.

Only the newest ``KERNEL_LOG_BUDGET`` bytes are kept (a command's output is streamed, a
recorded file read from its end); the source then says how much older text was left out.
"""

from __future__ import annotations

from collections.abc import Callable

from hostcheck.readings import Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.host.commands import Started
    from hostcheck.host.recording import Recorder

# The newest part of the kernel log that is read: the last boot's lines are at its end. The
# kernel's own ring buffer is at most 32 MiB (CONFIG_LOG_BUF_SHIFT=25) and usually 128 KiB to
# 1 MiB; a journal can hold far more. 8 MiB keeps a scan under a second and 100 MB.
KERNEL_LOG_BUDGET = 8 * 1024 * 1024

KernelLog = tuple[Value[str] | Unavailable, int]  # the log, and bytes older than it left out


class StartedLog:
    """The kernel log being read (:meth:`Host.start_kernel_log`); :meth:`result` waits."""

    def __init__(self, finish: Callable[[], KernelLog], recorder: Recorder | None) -> None:
        self._finish, self._recorder = finish, recorder
        self._result: Value[str] | Unavailable | None = None

    def result(self) -> Value[str] | Unavailable:
        if self._result is None:
            self._result, omitted = self._finish()
            if self._recorder is not None:
                self._recorder.kernel_log_read(self._result, omitted)
        return self._result


def live_kernel_log(first: Started, journal: Callable[[], Started]) -> KernelLog:
    """The log that ``dmesg`` (``first``) printed or, failing that, ``journalctl -k``.

    Output without a single timestamped line is not a log (``journalctl`` prints
    "-- No entries --" with exit status 0 to a user who may not read the kernel's messages),
    so it counts as unavailable, never as a clean log."""
    attempts: list[Unavailable] = []
    for started in (first, None):
        if started is None:
            started = journal()
        done = started.result()
        if isinstance(done, Unavailable):
            attempts.append(done)
            continue
        out = done.value
        if out.returncode == 0 and _has_timestamped_line(out.stdout):
            source = done.source + left_out(len(out.stdout), out.omitted)
            return Value(out.stdout, source), out.omitted
        err = out.stderr.strip().splitlines()
        detail = err[0] if err else (out.stdout.strip().splitlines() or ["no output"])[0]
        denied = "ermission" in detail or "not permitted" in detail or "No entries" in detail
        reason = Reason.PERMISSION if denied else Reason.ERROR
        attempts.append(Unavailable(reason, done.source, detail))
    return Unavailable(
        attempts[0].reason, "dmesg / journalctl -k", "; ".join(a.describe() for a in attempts)
    ), 0


def left_out(kept: int, omitted: int) -> str:
    """How a kernel log's source says that only its newest part was read."""
    if not omitted:
        return ""
    mib = 1024 * 1024
    return (
        f" (only its newest {kept / mib:.1f} MiB was read; "
        f"{omitted / mib:.1f} MiB of older lines were left out)"
    )


def _has_timestamped_line(text: str) -> bool:
    return any(line.lstrip().startswith("[") for line in text.splitlines()[:50])
