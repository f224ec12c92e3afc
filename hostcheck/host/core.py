"""The Host: the only door to the machine being checked.

A Host is built around a root directory: ``/`` on a live host, the host's filesystem mounted
into a container (``/host``, with ``host_mount=True``), or a fixture / snapshot tree in tests.
Nothing else in hostcheck opens host files or starts processes. Its files are read as
:class:`~hostcheck.host.files.RootFiles` reads them; this module adds commands, the kernel log
and processes.

Every file read and every command is bounded in time: sysfs attributes of a wedged GPU can
block forever, so such reads run on a worker thread and are abandoned after ``read_timeout``
seconds, and a command stuck past its timeout is killed and abandoned (see
:mod:`hostcheck.host.commands`).

Data a host does not keep in files is recorded under ``ROOT/.hostcheck/`` for non-live roots
(see :mod:`hostcheck.host.records`): the kernel log, device nodes, commands' output, the user,
and the items a snapshot could not read, replayed with the reason seen then.

With a :class:`~hostcheck.host.recording.Recorder`, the Host notes everything it reads and what came
back; ``hostcheck snapshot`` writes that out as a tree of this same format.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from hostcheck.errors import USAGE, HostcheckError
from hostcheck.host.commands import Children, Started, output_text
from hostcheck.host.files import RootFiles
from hostcheck.host.kernellog import (
    KERNEL_LOG_BUDGET,
    KernelLog,
    StartedLog,
    left_out,
    live_kernel_log,
)
from hostcheck.host.reads import unavailable_from_oserror
from hostcheck.host.records import (
    KERNEL_LOG_FILE,
    RECORD_DIR,
    command_status,
    kernel_log_note,
    read_tail,
)
from hostcheck.parse.text import ascii_digits
from hostcheck.readings import CommandOutput, ProcessInfo, Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.host.recording import Recorder


class HostError(HostcheckError):
    """The root cannot be used at all (does not exist, not a directory)."""

    kind = USAGE


class Host(RootFiles):
    """Read-only access to a host's files, device nodes, commands, kernel log and processes."""

    def __init__(
        self,
        root: str | os.PathLike[str] = "/",
        *,
        host_mount: bool = False,
        read_timeout: float = 2.0,
        command_timeout: float = 20.0,
        recorder: Recorder | None = None,
    ) -> None:
        root_str = os.fspath(root)
        if not os.path.isdir(root_str):
            if os.path.exists(root_str):
                raise HostError(f"--root {root_str}: not a directory")
            raise HostError(f"--root {root_str}: no such directory")
        super().__init__(
            root_str, host_mount=host_mount, read_timeout=read_timeout, recorder=recorder
        )
        self.command_timeout = command_timeout
        self._children = Children()  # commands started and not yet finished

    # -- commands -------------------------------------------------------------------------
    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        display: str | None = None,
        keep_tail: int | None = None,
        partial: bool = False,
    ) -> Started:
        """Start a command on a live host and return at once; ``.result()`` waits for it.

        Commands started one after another run at the same time: waiting for any of them
        reads the output of all, so none stalls on a full pipe, and a scan takes as long as
        its slowest command, not the sum. Each is bounded by its own ``timeout`` from its
        start. Elsewhere the recorded output is replayed (see :meth:`run`). ``keep_tail``
        keeps only the last that many bytes of standard output (whole lines), in bounded
        memory; ``CommandOutput.omitted`` says how many bytes before them were left out.
        """
        shown = display or " ".join(argv)
        if not self.live:
            return Started(name, self._replay(name, argv, shown), self.recorder)
        return self._spawn(
            name, argv, timeout or self.command_timeout, shown, keep_tail, partial=partial
        )

    def run(
        self,
        name: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        display: str | None = None,
        partial: bool = False,
    ) -> Value[CommandOutput] | Unavailable:
        """Run a command on a live host (argv, no shell, bounded); replay it elsewhere.

        With ``partial=True`` the command runs in its own process group, the whole group is
        killed at the bound (a child's helpers too), and what it wrote until then comes back
        with ``timed_out`` set, instead of a plain timeout.

        On a non-live root, the output recorded as ``.hostcheck/commands/<name>.txt`` is
        returned instead (exit status 0), so fixtures and snapshots replay what a live host said.
        ``display`` is how the command is shown in evidence (default: the argv).
        A ``<name>.json`` next to the output holds a non-zero ``returncode`` and ``stderr``.
        """
        return self.start(name, argv, timeout=timeout, display=display, partial=partial).result()

    def _spawn(
        self,
        name: str | None,
        argv: Sequence[str],
        timeout: float,
        shown: str,
        keep_tail: int | None = None,
        partial: bool = False,
    ) -> Started:
        return self._children.spawn(name, argv, timeout, shown, self.recorder, keep_tail, partial)

    def _replay(
        self, name: str, argv: Sequence[str], shown: str
    ) -> Value[CommandOutput] | Unavailable:
        path = f"/{RECORD_DIR}/commands/{name}.txt"
        replayed = self._replayed_unavailable(path)
        if replayed is not None:
            return replayed  # the command could not run when the snapshot was taken
        recorded = self.read_text(path)
        if isinstance(recorded, Unavailable):
            if recorded.reason is Reason.MISSING:
                return Unavailable(
                    Reason.NOT_RECORDED, recorded.source, f"`{shown}` was not recorded"
                )
            return recorded
        returncode, stderr, timed_out = 0, "", None
        status = self.read_text(f"/{RECORD_DIR}/commands/{name}.json")
        if isinstance(status, Value):
            parsed = command_status(status.value, status.source)
            if isinstance(parsed, Unavailable):
                return parsed
            returncode, stderr, timed_out = parsed
        return Value(
            CommandOutput(tuple(argv), returncode, recorded.value, stderr, timed_out=timed_out),
            f"{shown} (recorded)",
        )

    def has_recorded_command(self, name: str) -> bool:
        """Whether a non-live root holds the output (or the failure) of command ``name``."""
        path = f"/{RECORD_DIR}/commands/{name}.txt"
        return not self.live and (
            self._replayed_unavailable(path) is not None
            or os.path.isfile(self._path_or_none(path) or "")
        )

    def execute(self, argv: Sequence[str], timeout: float) -> Value[CommandOutput] | Unavailable:
        """Run a command that changes the live host (hostcheck fix --apply): never replayed,
        refused on any other root."""
        if not self.live:
            raise RuntimeError("commands that change a host run only on the live host")
        return self._execute(argv, timeout)

    def _execute(
        self, argv: Sequence[str], timeout: float, shown: str | None = None
    ) -> Value[CommandOutput] | Unavailable:
        """Run argv with a bound that holds even for a child stuck in the kernel.

        subprocess.run() waits without a limit after killing a child on timeout; a command
        in uninterruptible sleep on a wedged GPU ignores SIGKILL, so it would hang the scan.
        Here the child is killed and, if it does not exit within a second, abandoned.
        """
        return self._spawn(None, argv, timeout, shown or " ".join(argv)).result()

    # -- kernel log -----------------------------------------------------------------------
    def kernel_log(self) -> Value[str] | Unavailable:
        """The kernel log since boot, as ``dmesg`` prints it (its newest part, see below)."""
        return self.start_kernel_log().result()

    def start_kernel_log(self) -> StartedLog:
        """Start reading the kernel log; ``.result()`` waits for it.

        Only the newest ``KERNEL_LOG_BUDGET`` bytes are kept, read from the end of the log
        in bounded memory (a command's output is streamed, a recorded file read from its
        end); the source then says how much older text was left out. Output without a
        single timestamped line is not a log (``journalctl`` prints "-- No entries --" with
        exit status 0 to a user who may not read the kernel's messages), so it counts as
        unavailable, never as a clean log. In a host-mount container, journalctl reads the
        host's journal under the root.
        """
        first = (
            self._spawn(None, ("dmesg",), self.command_timeout, "dmesg", KERNEL_LOG_BUDGET)
            if self.host_mount
            else None
        )
        return StartedLog(lambda: self._finish_kernel_log(first), self.recorder)

    def _finish_kernel_log(self, first: Started | None) -> KernelLog:
        """The kernel log and how many bytes older than it were left out."""
        if first is None:
            return self._recorded_kernel_log()
        journal = ["journalctl", "-k", "-b", "-o", "short-monotonic", "--no-pager"]
        if not self.live:
            journal += ["-D", os.path.join(self.root, "var/log/journal")]
        shown = " ".join(journal)
        return live_kernel_log(
            first,
            lambda: self._spawn(None, journal, self.command_timeout, shown, KERNEL_LOG_BUDGET),
        )

    def _recorded_kernel_log(self) -> KernelLog:
        """``.hostcheck/dmesg.txt`` read from its end within the budget; ``dmesg.json``
        says how much a snapshot left out when it recorded the log."""
        host_path = f"/{RECORD_DIR}/{KERNEL_LOG_FILE}"
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            return replayed, 0
        try:
            data, omitted = read_tail(self.path(host_path), KERNEL_LOG_BUDGET)
        except OSError as exc:
            return unavailable_from_oserror(host_path, exc), 0
        note = self.read_text(f"/{RECORD_DIR}/dmesg.json")
        total = omitted + (kernel_log_note(note.value) if isinstance(note, Value) else 0)
        return Value(output_text(data), host_path + left_out(len(data), total)), total

    # -- processes ------------------------------------------------------------------------
    def processes(self, wanted: Callable[[tuple[str, ...]], bool]) -> Iterator[ProcessInfo]:
        """Running processes whose command line ``wanted`` accepts, with their environment.

        Only the wanted processes' environments are read: they hold other programs' secrets.
        Every read is bounded (a process whose memory map is locked by a stuck GPU thread
        blocks reads of its cmdline). The live host's process ids come from psutil.
        """
        if self.live:
            import psutil

            pids = [str(pid) for pid in psutil.pids()]
        else:
            entries = self._list("/proc")
            if not isinstance(entries, Value):
                return
            pids = [name for name in entries.value if ascii_digits(name, 10)]
        for pid in pids:
            # Other programs' command lines are read but never recorded: only the wanted.
            raw = self._read_bytes(f"/proc/{pid}/cmdline")
            if isinstance(raw, Unavailable) or not raw:
                continue  # gone, a kernel thread, or not ours to read
            text = raw.decode("utf-8", errors="replace")
            argv = tuple(part for part in text.split("\0") if part)
            if not argv or not wanted(argv):
                continue
            if self.recorder is not None:
                self.recorder.read(f"/proc/{pid}/cmdline", raw)
            environ = self.read_text(f"/proc/{pid}/environ")
            env: dict[str, str] | Unavailable
            if isinstance(environ, Value):
                env = dict(item.split("=", 1) for item in environ.value.split("\0") if "=" in item)
            else:
                env = environ
            yield ProcessInfo(int(pid), argv, env)

    # -- users ----------------------------------------------------------------------------
    def recorded_user(self) -> str | None:
        """The user a snapshot or fixture was recorded for (``.hostcheck/user``)."""
        if self.live:
            return None
        text = self.read_text(f"/{RECORD_DIR}/user")
        if isinstance(text, Value) and text.value.strip():
            return text.value.strip()
        return None
