"""A host's files under its root: the part of :class:`~hostcheck.host.core.Host` that reads.

A root is ``/`` on a live host, the host's filesystem mounted into a container (``/host``, with
``host_mount=True``), or a fixture / snapshot tree in tests. Every path is resolved inside it
(:mod:`hostcheck.host.paths`), every read is bounded in size and time
(:mod:`hostcheck.host.reads`), and what a snapshot could not read, or a host does not keep in
files (device nodes), is replayed from the root's records (:mod:`hostcheck.host.records`).
Listing a directory and stat() are not bounded: they do not call into drivers.

With a :class:`~hostcheck.host.recording.Recorder`, every read is noted with what came back.
"""

from __future__ import annotations

import os
import posixpath
import stat as statmod
from collections.abc import Callable, Sequence

from hostcheck.host.paths import RootPaths, is_procfs_mount, resolve_under
from hostcheck.host.reads import MAX_READ_BYTES, BoundedReads, unavailable_from_oserror
from hostcheck.host.records import RECORD_DIR, node_of, recorded_node, unreadable_items
from hostcheck.host.safeio import InputError, load_json_file
from hostcheck.readings import NodeInfo, Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hostcheck.host.recording import Recorder


def name_matcher(pattern: str) -> Callable[[str], bool]:
    """``fnmatch.fnmatchcase(name, pattern)`` as a test of ``name``. A pattern with one ``*``
    and no other wildcard (``card*``, ``*.conf``: every pattern the probes use) is a prefix and
    a suffix that must not overlap, tested without fnmatch's import and compiled regex."""
    head, star, tail = pattern.partition("*")
    if star and "*" not in tail and "?" not in pattern and "[" not in pattern:
        least = len(head) + len(tail)
        return lambda name: len(name) >= least and name.startswith(head) and name.endswith(tail)
    import fnmatch

    return lambda name: fnmatch.fnmatchcase(name, pattern)


class RootFiles:
    """Read-only access to the files and device nodes under a host's root (see :class:`Host`,
    which adds commands, the kernel log and processes)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        host_mount: bool = False,
        read_timeout: float = 2.0,
        recorder: Recorder | None = None,
    ) -> None:
        self.root = os.path.realpath(root)
        # live: this process runs on the host it checks, so commands and the kernel log are
        # the real ones. host_mount: a container sees the host's root at self.root and shares
        # its kernel, so the kernel log is the host's too (but commands would be the container's).
        self.live = self.root == "/"
        self.host_mount = host_mount or self.live
        self.read_timeout = read_timeout
        self._paths = RootPaths(self.root, self.live)
        self._reads = BoundedReads(read_timeout, self.host_mount)
        self._devices: dict[str, dict[str, object]] | None = None
        self._unreadable: dict[str, Unavailable] | None = None
        self._procfs: bool | None = None
        self._records_error: InputError | None = None  # unreadable.json is damaged
        self._devices_error: InputError | None = None  # devices.json is damaged
        self.recorder = recorder

    # -- paths ----------------------------------------------------------------------------
    def path(self, host_path: str) -> str:
        """The real path of an absolute host path under the root.

        Symbolic links are followed inside the root: an absolute target (``/usr/lib/…``) is the
        host's path, so it is re-rooted, and ``..`` never climbs above the root. Without this,
        a host tree mounted in a container would hand out the container's files for its
        absolute links. Resolved directories are cached; the live root needs none of it.
        """
        return self._paths.path(host_path)

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
        # OSError (a vanished process, a denied link) propagates and reads as unavailable:
        # an unresolved rest is never handed to the kernel, which would follow it outside.
        return resolve_under(self.process_root(pid), path, f"/proc/{pid}/root{path}")

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
            data = unavailable_from_oserror(host_path, exc)
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
        host_path = f"/proc/{pid}/root{path}"
        entries: Value[list[str]] | Unavailable
        replayed = self._replayed_unavailable(host_path)
        if replayed is not None:
            entries = replayed
        else:
            try:
                names = os.listdir(self._process_real(pid, path))
                matches = name_matcher(pattern)
                entries = Value(sorted(name for name in names if matches(name)), host_path)
            except OSError as exc:
                entries = unavailable_from_oserror(host_path, exc)
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
        found: os.stat_result | OSError | None = None
        try:
            if real is None:
                real, found = self._paths.lookup(host_path)
        except OSError as exc:
            return unavailable_from_oserror(host_path, exc)
        return self._reads.read(host_path, real, limit, found)

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
            self._unreadable = unreadable_items(loaded)
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
            real, found = self._paths.lookup(host_path)
            if isinstance(found, OSError):
                raise found  # listing it would fail alike
            return Value(sorted(os.listdir(real)), host_path)
        except OSError as exc:
            return unavailable_from_oserror(host_path, exc)

    def _path_or_none(self, host_path: str) -> str | None:
        try:
            return self.path(host_path)
        except OSError:  # a link loop: nothing there that can be used
            return None

    def _lookup(self, host_path: str) -> tuple[str, os.stat_result | OSError | None]:
        try:
            return self._paths.lookup(host_path)
        except OSError as exc:  # a link loop: nothing there that can be used
            return "", exc

    def exists(self, host_path: str) -> bool:
        real, seen = self._lookup(host_path)
        found = os.path.lexists(real) if seen is None else not isinstance(seen, OSError)
        if self.recorder is not None:
            self.recorder.probed(host_path, found)
        return found

    def is_dir(self, host_path: str) -> bool:
        real, seen = self._lookup(host_path)
        # Not a link where it was looked at: its lstat() is its stat().
        found = (
            os.path.isdir(real)
            if seen is None
            else not isinstance(seen, OSError) and statmod.S_ISDIR(seen.st_mode)
        )
        if self.recorder is not None:
            self.recorder.probed(host_path, found, directory=True)
        return found

    def glob(self, directory: str, pattern: str) -> list[str]:
        """Host paths of the entries of ``directory`` whose names match ``pattern``."""
        found = self.glob_or_unavailable(directory, pattern)
        return found.value if isinstance(found, Value) else []

    def glob_or_unavailable(self, directory: str, pattern: str) -> Value[list[str]] | Unavailable:
        """As :meth:`glob`, but a directory that could not be listed says why."""
        entries = self._list(directory)
        if not isinstance(entries, Value):
            if self.recorder is not None:
                self.recorder.listing(directory, entries)
            return entries
        matches = name_matcher(pattern)
        names = [name for name in entries.value if matches(name)]
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
            return recorded_node(recorded, host_path)
        try:
            real, seen = self._paths.lookup(host_path)
            if isinstance(seen, OSError):
                raise seen
            return node_of(os.lstat(real) if seen is None else seen, host_path)
        except OSError as exc:
            return unavailable_from_oserror(host_path, exc)

    def can_open_live(self, host_path: str) -> bool | None:
        """On a live host, whether this process may open the path read-write (ACLs included)."""
        if not self.live:
            return None
        return os.access(host_path, os.R_OK | os.W_OK)
