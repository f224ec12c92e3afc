"""The Host: the only door to the machine being checked.

A Host is built around a root directory: ``/`` on a live host, the host's filesystem mounted
into a container (``/host``, with ``host_mount=True``), or a fixture / snapshot tree in tests.
Nothing else in hostcheck opens host files or starts processes.

Every file read and every command is bounded in time: sysfs attributes of a wedged GPU can
block forever, so such reads run on a worker thread and are abandoned after ``read_timeout``
seconds, and a command stuck past its timeout is killed and abandoned. Once a read in a
directory has hung, further reads below it fail at once instead of hanging again. Listing a
directory and stat() are not bounded: they do not call into drivers.

Data a host does not keep in files is recorded under ``ROOT/.hostcheck/`` for non-live roots
(see fixtures/README.md): ``dmesg.txt``, ``devices.json``, ``commands/<name>.txt`` (with
``<name>.json`` for a non-zero exit status or error output), ``user``, and
``unreadable.json``: items a snapshot could not read, replayed with the reason seen then.

With a :class:`~hostcheck.host.recording.Recorder`, the Host notes everything it reads and what came
back; ``hostcheck snapshot`` writes that out as a tree of this same format.
"""

import errno
import os
import posixpath
import re
import stat as statmod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from hostcheck.errors import USAGE, HostcheckError
from hostcheck.host.safeio import InputError, load_json_file, parse_json_text
from hostcheck.readings import CommandOutput, NodeInfo, ProcessInfo, Reason, Unavailable, Value

if TYPE_CHECKING:
    from hostcheck.host.recording import Recorder

RECORD_DIR = ".hostcheck"
KERNEL_LOG_FILE = "dmesg.txt"
# The newest part of the kernel log that is read: the last boot's lines are at its end. The
# kernel's own ring buffer is at most 32 MiB (CONFIG_LOG_BUF_SHIFT=25) and usually 128 KiB to
# 1 MiB; a journal can hold far more. 8 MiB keeps a scan under a second and 100 MB.
KERNEL_LOG_BUDGET = 8 * 1024 * 1024
MAX_READ_BYTES = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024


class HostError(HostcheckError):
    """The root cannot be used at all (does not exist, not a directory)."""

    kind = USAGE


class LinkLoopError(OSError):
    """A host path passes more symbolic links than the kernel would follow (ELOOP).

    Raised instead of handing the unresolved rest to the kernel, which would follow it
    on the real filesystem, outside the root."""

    def __init__(self, host_path: str) -> None:
        super().__init__(errno.ELOOP, os.strerror(errno.ELOOP), host_path)


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
                self.argv, returncode, _text(stdout), _text(b"".join(self.err)), self.omitted
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
                    _text(b"".join(self.out)),
                    _text(b"".join(self.err)),
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


def _text(data: bytes) -> str:
    """Command output as text, newlines translated as a text-mode pipe does."""
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


class Started:
    """A command started with :meth:`Host.start`; :meth:`result` waits for it (once)."""

    def __init__(
        self, host: "Host", name: str | None, result: "Value[CommandOutput] | Unavailable | None"
    ) -> None:
        self._host, self._name, self._result = host, name, result
        self._child: _Child | None = None
        self._recorded = False

    def known(self) -> "Value[CommandOutput] | Unavailable | None":
        """The result if it is known without waiting (replayed, or the program could not
        be started), else None."""
        return self._result

    def result(self) -> "Value[CommandOutput] | Unavailable":
        if self._result is None:
            assert self._child is not None
            if not self._child.done:
                self._host._wait_for(self._child)
            assert self._child.result is not None
            self._result = self._child.result
        if self._name is not None and not self._recorded and self._host.recorder is not None:
            self._recorded = True
            self._host.recorder.command(self._name, self._result)
        return self._result


class StartedLog:
    """The kernel log being read (:meth:`Host.start_kernel_log`); :meth:`result` waits."""

    def __init__(self, host: "Host", first: "Started | None") -> None:
        self._host, self._first = host, first
        self._result: Value[str] | Unavailable | None = None

    def result(self) -> Value[str] | Unavailable:
        if self._result is None:
            self._result, omitted = self._host._finish_kernel_log(self._first)
            if self._host.recorder is not None:
                self._host.recorder.kernel_log_read(self._result, omitted)
        return self._result


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


def _unavailable_from_oserror(source: str, exc: OSError) -> Unavailable:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return Unavailable(Reason.MISSING, source)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Unavailable(Reason.PERMISSION, source, f"denied to uid {os.geteuid()}")
    return Unavailable(Reason.ERROR, source, exc.strerror or str(exc))


class _Reader:
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


def is_procfs_mount(path: str) -> bool:
    """Whether ``path`` is where the kernel's procfs is mounted (this process's mount table,
    the last mount at that point winning), as a mounted host's /host/proc is."""
    found = False
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
                if point == path:
                    found = right.split()[0] == "proc"
    except OSError:
        return False
    return found


MAX_LINK_HOPS = 40  # as the kernel's own limit on symbolic links in one lookup


def resolve_in_root(
    root: str,
    host_path: str,
    *,
    follow_last: bool = True,
    on_link: Callable[[str, str], None] | None = None,
) -> tuple[list[str], list[str] | None]:
    """The components of ``host_path`` with every symbolic link resolved inside ``root``:
    an absolute target is the host's path (re-rooted), and ``..`` never climbs above the root.
    ``on_link(link, target)`` hears of each link passed (host path, target as written).
    Returns (components, None), or (what was resolved, the looping link's components) after
    too many links."""
    parts = [p for p in host_path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if (follow_last or parts) and os.path.islink(candidate):
            hops += 1
            if hops > MAX_LINK_HOPS:
                return resolved, [*resolved, part]
            target = os.readlink(candidate)
            if on_link is not None:
                on_link("/" + "/".join([*resolved, part]), target)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return resolved, None


class Host:
    """Read-only access to a host's files, device nodes, commands, kernel log and processes."""

    def __init__(
        self,
        root: str | os.PathLike[str] = "/",
        *,
        host_mount: bool = False,
        read_timeout: float = 2.0,
        command_timeout: float = 20.0,
        recorder: "Recorder | None" = None,
    ) -> None:
        root_str = os.fspath(root)
        if not os.path.isdir(root_str):
            if os.path.exists(root_str):
                raise HostError(f"--root {root_str}: not a directory")
            raise HostError(f"--root {root_str}: no such directory")
        self.root = os.path.realpath(root_str)
        # live: this process runs on the host it checks, so commands and the kernel log are
        # the real ones. host_mount: a container sees the host's root at self.root and shares
        # its kernel, so the kernel log is the host's too (but commands would be the container's).
        self.live = self.root == "/"
        self.host_mount = host_mount or self.live
        self.read_timeout = read_timeout
        self.command_timeout = command_timeout
        self._reader: _Reader | None = None  # started on the first read that may block
        self._wedged: set[str] = set()
        self._devices: dict[str, dict[str, object]] | None = None
        self._resolved: dict[str, str] = {}
        self._unreadable: dict[str, Unavailable] | None = None
        self._procfs: bool | None = None
        self._records_error: InputError | None = None  # unreadable.json is damaged
        self._devices_error: InputError | None = None  # devices.json is damaged
        self._running: list[_Child] = []  # commands started and not yet finished
        self.recorder = recorder

    # -- paths ----------------------------------------------------------------------------
    def path(self, host_path: str) -> str:
        """The real path of an absolute host path under the root.

        Symbolic links are followed inside the root: an absolute target (``/usr/lib/…``) is the
        host's path, so it is re-rooted, and ``..`` never climbs above the root. Without this,
        a host tree mounted in a container would hand out the container's files for its
        absolute links. Resolved directories are cached; the live root needs none of it.
        """
        if self.live:
            return host_path or "/"
        directory, _, name = host_path.rstrip("/").rpartition("/")
        base = self._resolve_dir(directory)
        if not name:
            return self._real(base)
        candidate = self._real(posixpath.join(base, name))
        if name in (".", "..") or os.path.islink(candidate):
            return self._resolve(posixpath.join(base, name))
        return candidate

    def _real(self, host_path: str) -> str:
        rel = host_path.lstrip("/")
        return os.path.join(self.root, rel) if rel else self.root

    def _resolve_dir(self, directory: str) -> str:
        """A host directory path with every symlink in it resolved (still a host path);
        one lstat() per directory the scan touches, thanks to the cache."""
        if directory in ("", "/"):
            return "/"
        cached = self._resolved.get(directory)
        if cached is None:
            parent, _, name = directory.rpartition("/")
            joined = posixpath.join(self._resolve_dir(parent), name)
            if name in ("", ".", "..") or os.path.islink(self._real(joined)):
                cached = self._host_path_of(self._resolve(joined))
            else:
                cached = joined
            self._resolved[directory] = cached
        return cached

    def _host_path_of(self, real: str) -> str:
        rel = os.path.relpath(real, self.root)
        return "/" if rel == "." else "/" + rel

    def _resolve(self, host_path: str) -> str:
        resolved, looped = resolve_in_root(self.root, host_path)
        if looped is not None:
            # Too many links: never hand the rest to the kernel, which would follow it
            # outside the root.
            raise LinkLoopError(host_path)
        return os.path.join(self.root, *resolved)

    def _record_path(self, name: str) -> str:
        """A recorded item's real path, resolved as every host path is (a snapshot is untrusted:
        a link named .hostcheck must not lead a read outside the root)."""
        return self.path(f"/{RECORD_DIR}/{name}")

    # -- files ----------------------------------------------------------------------------
    def read_text(self, host_path: str, *, limit: int = MAX_READ_BYTES) -> Value[str] | Unavailable:
        """The content of a file, bounded in size and time."""
        data = self._read_bytes(host_path, limit)
        if self.recorder is not None:
            self.recorder.read(host_path, data)
        if isinstance(data, Unavailable):
            return data
        return Value(data.decode("utf-8", errors="replace"), host_path)

    def read_lines_with(
        self, host_path: str, markers: Sequence[str], *, limit: int = MAX_READ_BYTES
    ) -> Value[list[str]] | Unavailable:
        """The lines of a file that contain one of ``markers``, bounded in size and time.

        Only those lines are recorded: a log (the audit log) holds much more than a probe
        needs, and a snapshot must not carry it. A replay of the recording filters the same
        lines to the same result.
        """
        data = self._read_bytes(host_path, limit)
        if isinstance(data, Unavailable):
            if self.recorder is not None:
                self.recorder.read(host_path, data)
            return data
        lines = [
            line
            for line in data.decode("utf-8", errors="replace").splitlines()
            if any(marker in line for marker in markers)
        ]
        if self.recorder is not None:
            self.recorder.read(host_path, "".join(f"{line}\n" for line in lines).encode())
        return Value(lines, host_path)

    def read_bytes(
        self, host_path: str, *, limit: int = MAX_READ_BYTES
    ) -> Value[bytes] | Unavailable:
        """The exact bytes of a file (for files hostcheck fix may edit), bounded."""
        data = self._read_bytes(host_path, limit)
        return data if isinstance(data, Unavailable) else Value(data, host_path)

    def read_lines(
        self, host_path: str, keep: Callable[[str], bool], *, limit: int = MAX_READ_BYTES
    ) -> Value[list[str]] | Unavailable:
        """The lines of a file that ``keep`` accepts, bounded in size and time. Only those
        lines are recorded for a snapshot (a process's memory map names every file it has
        open; the probes need a few library paths)."""
        data = self._read_bytes(host_path, limit)
        if isinstance(data, Unavailable):
            if self.recorder is not None:
                self.recorder.read(host_path, data)
            return data
        lines = [line for line in data.decode("utf-8", errors="replace").splitlines() if keep(line)]
        if self.recorder is not None and lines:
            # Nothing kept is recorded as nothing: a replay then reads the same (no lines).
            self.recorder.read(host_path, "".join(line + "\n" for line in lines).encode())
        return Value(lines, host_path)

    # -- inside a process's own root (a container's filesystem) --------------------------
    def process_root(self, pid: int) -> str:
        """The real path of process ``pid``'s root directory.

        Where ROOT/proc is the kernel's procfs (the live host, or the live host mounted with
        --host-mount), that is the kernel's magic link /proc/PID/root into the process's own
        root. Anywhere else (a fixture, a snapshot, a copied tree, even one passed with
        --host-mount) ``proc/PID/root`` is a plain path of the tree, resolved inside it: a
        link there must not lead the scan out of the root."""
        if self._kernel_procfs():
            return os.path.join(self.root, "proc", str(pid), "root")
        return self.path(f"/proc/{pid}/root")

    def _kernel_procfs(self) -> bool:
        if self.live:
            return True
        if not self.host_mount:
            return False
        if self._procfs is None:
            self._procfs = is_procfs_mount(os.path.join(self.root, "proc"))
        return self._procfs

    def _process_real(self, pid: int, path: str) -> str:
        """The real path of ``path`` as process ``pid`` sees it, through /proc/PID/root.

        Links inside are resolved inside that root: the kernel would resolve an absolute link
        there against this process's root (a container's /opt/rocm -> /opt/rocm-7.2.1 would
        lead to the host's). A process that vanishes mid-way leaves a path that reads as
        missing."""
        base = self.process_root(pid)
        # OSError (a vanished process, a denied link) propagates and reads as unavailable:
        # an unresolved rest is never handed to the kernel, which would follow it outside.
        resolved, looped = resolve_in_root(base, path)
        if looped:
            raise LinkLoopError(f"/proc/{pid}/root{path}")
        return os.path.join(base, *resolved)

    def read_in_process(
        self, pid: int, path: str, *, limit: int = 256 * 1024
    ) -> Value[str] | Unavailable:
        """A file as process ``pid`` sees it (``/proc/PID/root/PATH``), bounded; recorded at
        that host path, so a snapshot replays it as a plain file."""
        host_path = f"/proc/{pid}/root{path}"
        data: bytes | Unavailable
        try:
            real = self._process_real(pid, path)
        except OSError as exc:
            data = _unavailable_from_oserror(host_path, exc)
        else:
            data = self._read_bytes(host_path, limit, real=real)
        if self.recorder is not None:
            self.recorder.read(host_path, data)
        if isinstance(data, Unavailable):
            return data
        return Value(data.decode("utf-8", errors="replace"), host_path)

    def list_in_process(
        self, pid: int, path: str, pattern: str = "*"
    ) -> Value[list[str]] | Unavailable:
        """The names in a directory as process ``pid`` sees it that match ``pattern``;
        recorded (those names only) at ``/proc/PID/root/PATH``."""
        import fnmatch

        host_path = f"/proc/{pid}/root{path}"
        entries: Value[list[str]] | Unavailable
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            entries = replayed
        else:
            try:
                names = os.listdir(self._process_real(pid, path))
                entries = Value(
                    sorted(name for name in names if fnmatch.fnmatchcase(name, pattern)), host_path
                )
            except OSError as exc:
                entries = _unavailable_from_oserror(host_path, exc)
        if self.recorder is not None:
            self.recorder.listing(
                host_path, entries.value if isinstance(entries, Value) else entries
            )
        return entries

    def _read_bytes(
        self, host_path: str, limit: int = MAX_READ_BYTES, *, real: str | None = None
    ) -> bytes | Unavailable:
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            return replayed
        try:
            real = real or self.path(host_path)
        except OSError as exc:
            return _unavailable_from_oserror(host_path, exc)
        parent = os.path.dirname(host_path)
        wedged = next((d for d in self._wedged if host_path.startswith(d + "/")), None)
        if wedged is not None:
            return Unavailable(
                Reason.TIMEOUT, host_path, f"skipped: an earlier read in {wedged} hung"
            )

        def read() -> bytes:
            # Read in modest chunks: some procfs files refuse one huge read() with ENOMEM.
            chunks: list[bytes] = []
            size = 0
            with open(real, "rb", buffering=0) as handle:
                while size <= limit:
                    chunk = handle.read(min(READ_CHUNK, limit + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            return b"".join(chunks)

        try:
            if self._may_block(host_path, real):
                if self._reader is None:
                    self._reader = _Reader()
                data = self._reader.call(read, self.read_timeout)
            else:
                data = read()
        except TimeoutError:
            self._wedged.add(parent)
            return Unavailable(
                Reason.TIMEOUT, host_path, f"no answer within {self.read_timeout:g} s"
            )
        except OSError as exc:
            return _unavailable_from_oserror(host_path, exc)
        if isinstance(data, OSError):
            return _unavailable_from_oserror(host_path, data)
        if isinstance(data, BaseException):
            return Unavailable(Reason.ERROR, host_path, str(data))
        assert isinstance(data, bytes)
        if len(data) > limit:
            return Unavailable(Reason.ERROR, host_path, f"larger than {limit} bytes; not read")
        return data

    def _replayed_unavailable(self, host_path: str) -> Unavailable | None:
        """What a snapshot could not read at ``host_path``, as it was seen then (non-live)."""
        if self.live:
            return None
        if self._unreadable is None:
            self._unreadable = {}
            try:
                loaded = self._load_record("unreadable.json", "recorded unreadable items")
            except InputError as exc:
                # Which items could not be read is unknown: nothing is replayed as if known.
                self._records_error = exc
                loaded = {}
            for key, item in loaded.items():
                if isinstance(item, dict) and item.get("reason") in set(Reason):
                    self._unreadable[key] = Unavailable(
                        Reason(item["reason"]),
                        str(item.get("source", key)),
                        str(item.get("detail", "")),
                    )
        if self._records_error is not None:
            return Unavailable(
                Reason.UNPARSABLE, host_path, f"the recording is damaged: {self._records_error}"
            )
        return self._unreadable.get(host_path)

    def _load_record(self, name: str, what: str) -> dict[str, Any]:
        """A recorded JSON object of a non-live root, {} when absent. A damaged one (not a
        regular file, too large, nested too deep, not an object) is an InputError: the
        replay would be wrong without it."""
        try:
            path = self._record_path(name)
        except OSError as exc:
            raise InputError(
                f"{self.root}/{RECORD_DIR}/{name}", exc.strerror or str(exc), what=what
            ) from None
        try:
            loaded = load_json_file(path, what=what, max_bytes=MAX_READ_BYTES, expect=dict)
        except InputError as exc:
            if exc.missing:
                return {}
            raise
        assert isinstance(loaded, dict)
        return loaded

    def load_records(self) -> None:
        """Read the list of unreadable items of a non-live root now, so that a damaged one is
        refused (InputError) before anything runs, rather than every read failing."""
        if not self.live:
            self._replayed_unavailable("/")
            if self._records_error is not None:
                raise self._records_error

    def _may_block(self, host_path: str, real: str) -> bool:
        """Whether a read could hang: kernel-backed files of a live host (sysfs, procfs,
        debugfs) and anything that is not a regular file (a FIFO, a device node)."""
        if self.host_mount and host_path.startswith(("/sys/", "/proc/")):
            return True
        try:
            return not statmod.S_ISREG(os.stat(real).st_mode)
        except OSError:
            return False  # the read itself reports the error

    def listdir(self, host_path: str) -> Value[list[str]] | Unavailable:
        entries = self._list(host_path)
        if self.recorder is not None:
            self.recorder.listing(
                host_path, entries.value if isinstance(entries, Value) else entries
            )
        return entries

    def _list(self, host_path: str) -> Value[list[str]] | Unavailable:
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            return replayed
        try:
            return Value(sorted(os.listdir(self.path(host_path))), host_path)
        except OSError as exc:
            return _unavailable_from_oserror(host_path, exc)

    def _path_or_none(self, host_path: str) -> str | None:
        try:
            return self.path(host_path)
        except OSError:  # a link loop: nothing there that can be used
            return None

    def exists(self, host_path: str) -> bool:
        real = self._path_or_none(host_path)
        found = real is not None and os.path.lexists(real)
        if self.recorder is not None:
            self.recorder.probed(host_path, found)
        return found

    def is_dir(self, host_path: str) -> bool:
        real = self._path_or_none(host_path)
        found = real is not None and os.path.isdir(real)
        if self.recorder is not None:
            self.recorder.probed(host_path, found, directory=True)
        return found

    def glob(self, directory: str, pattern: str) -> list[str]:
        """Host paths of the entries of ``directory`` whose names match ``pattern``."""
        found = self.glob_or_unavailable(directory, pattern)
        return found.value if isinstance(found, Value) else []

    def glob_or_unavailable(self, directory: str, pattern: str) -> Value[list[str]] | Unavailable:
        """As :meth:`glob`, but a directory that could not be listed says why."""
        import fnmatch

        entries = self._list(directory)
        if not isinstance(entries, Value):
            if self.recorder is not None:
                self.recorder.listing(directory, entries)
            return entries
        names = [name for name in entries.value if fnmatch.fnmatchcase(name, pattern)]
        if self.recorder is not None:
            self.recorder.listing(directory, names)  # what the probe was given, nothing more
        return Value([posixpath.join(directory, name) for name in names], directory)

    # -- device nodes ---------------------------------------------------------------------
    def _recorded_devices(self) -> dict[str, dict[str, object]]:
        if self._devices is None:
            self._devices = {}
            if not self.live:
                try:
                    loaded = self._load_record("devices.json", "recorded device nodes")
                except InputError as exc:
                    self._devices_error = exc
                    loaded = {}
                self._devices = {k: v for k, v in loaded.items() if isinstance(v, dict)}
        return self._devices

    def stat(self, host_path: str) -> Value[NodeInfo] | Unavailable:
        """lstat() of a host path; for non-live roots, recorded device metadata wins."""
        result = self._stat(host_path)
        if self.recorder is not None:
            self.recorder.stat(host_path, result)
        return result

    def _stat(self, host_path: str) -> Value[NodeInfo] | Unavailable:
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            return replayed
        recorded = self._recorded_devices().get(host_path)
        if self._devices_error is not None and host_path.startswith("/dev/"):
            return Unavailable(
                Reason.UNPARSABLE, f"{RECORD_DIR}/devices.json", self._devices_error.reason
            )
        if recorded is not None:
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
                return Unavailable(
                    Reason.UNPARSABLE, f"{RECORD_DIR}/devices.json:{host_path}", str(exc)
                )
        try:
            st = os.lstat(self.path(host_path))
        except OSError as exc:
            return _unavailable_from_oserror(host_path, exc)
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

    def can_open_live(self, host_path: str) -> bool | None:
        """On a live host, whether this process may open the path read-write (ACLs included)."""
        if not self.live:
            return None
        return os.access(host_path, os.R_OK | os.W_OK)

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
    ) -> "Started":
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
            return Started(self, name, self._replay(name, argv, shown))
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
    ) -> "Started":
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
                self, name, Unavailable(Reason.MISSING, shown, f"{argv[0]} not installed")
            )
        except PermissionError as exc:
            return Started(self, name, Unavailable(Reason.PERMISSION, shown, str(exc)))
        except OSError as exc:
            return Started(self, name, Unavailable(Reason.ERROR, shown, str(exc)))
        started = Started(self, name, None)
        started._child = _Child(child, tuple(argv), shown, timeout, keep_tail, partial)
        self._running.append(started._child)
        return started

    def _wait_for(self, target: _Child) -> None:
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
            try:
                loaded = parse_json_text(status.value, what="recorded status", expect=dict)
                code = loaded.get("returncode", 0)
                stderr = loaded.get("stderr", "")
                if isinstance(code, bool) or not isinstance(code, int) or not -255 <= code <= 255:
                    raise ValueError(f"returncode {str(code)[:40]!r} is not an exit status")
                if not isinstance(stderr, str):
                    raise ValueError("stderr is not a string")
                returncode = code
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
                return Unavailable(Reason.UNPARSABLE, status.source, exc.reason)
            except ValueError as exc:
                return Unavailable(Reason.UNPARSABLE, status.source, str(exc))
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

    def start_kernel_log(self) -> "StartedLog":
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
        return StartedLog(self, first)

    def _finish_kernel_log(self, first: Started | None) -> tuple[Value[str] | Unavailable, int]:
        """The kernel log and how many bytes older than it were left out."""
        if first is None:
            return self._recorded_kernel_log()
        journal = ["journalctl", "-k", "-b", "-o", "short-monotonic", "--no-pager"]
        if not self.live:
            journal += ["-D", os.path.join(self.root, "var/log/journal")]
        attempts: list[Unavailable] = []
        for started in (first, None):
            if started is None:
                started = self._spawn(
                    None, journal, self.command_timeout, " ".join(journal), KERNEL_LOG_BUDGET
                )
            done = started.result()
            if isinstance(done, Unavailable):
                attempts.append(done)
                continue
            out = done.value
            if out.returncode == 0 and _has_timestamped_line(out.stdout):
                source = done.source + _left_out(len(out.stdout), out.omitted)
                return Value(out.stdout, source), out.omitted
            err = out.stderr.strip().splitlines()
            detail = err[0] if err else (out.stdout.strip().splitlines() or ["no output"])[0]
            denied = "ermission" in detail or "not permitted" in detail or "No entries" in detail
            reason = Reason.PERMISSION if denied else Reason.ERROR
            attempts.append(Unavailable(reason, done.source, detail))
        return Unavailable(
            attempts[0].reason, "dmesg / journalctl -k", "; ".join(a.describe() for a in attempts)
        ), 0

    def _recorded_kernel_log(self) -> tuple[Value[str] | Unavailable, int]:
        """``.hostcheck/dmesg.txt`` read from its end within the budget; ``dmesg.json``
        says how much a snapshot left out when it recorded the log."""
        host_path = f"/{RECORD_DIR}/{KERNEL_LOG_FILE}"
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            return replayed, 0
        try:
            with open(self.path(host_path), "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                omitted = max(size - KERNEL_LOG_BUDGET, 0)
                handle.seek(max(omitted - 1, 0))
                before = handle.read(1) if omitted else b""
                data = handle.read(KERNEL_LOG_BUDGET)
        except OSError as exc:
            return _unavailable_from_oserror(host_path, exc), 0
        if omitted and before != b"\n":  # start at a whole line
            cut = data.find(b"\n") + 1
            omitted += cut
            data = data[cut:]
        recorded = 0
        note = self.read_text(f"/{RECORD_DIR}/dmesg.json")
        if isinstance(note, Value):
            try:
                loaded = parse_json_text(note.value, what="recorded kernel log note", expect=dict)
                count = loaded.get("omitted_bytes", 0)
                recorded = count if isinstance(count, int) and 0 <= count < 2**53 else 0
            except InputError:
                recorded = 0
        total = omitted + recorded
        return Value(_text(data), host_path + _left_out(len(data), total)), total

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
            pids = [name for name in entries.value if re.fullmatch(r"[0-9]{1,10}", name)]
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


def _left_out(kept: int, omitted: int) -> str:
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


def _mode(value: object) -> int:
    """A recorded mode: an octal string ("0660") or, as JSON numbers are, a decimal integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value), 8)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
