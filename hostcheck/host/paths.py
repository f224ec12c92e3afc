"""Host paths resolved inside a root: every symbolic link is followed as the host would follow
it, but never out of the root.

An absolute link target (``/usr/lib/…``) is the host's path, so it is re-rooted, and ``..``
never climbs above the root. Without this, a host tree mounted in a container (or a snapshot,
which is untrusted) would hand out the container's files for its absolute links.
"""

import errno
import os
import posixpath
import re
import stat as statmod
from collections.abc import Callable

MAX_LINK_HOPS = 40  # as the kernel's own limit on symbolic links in one lookup


class LinkLoopError(OSError):
    """A host path passes more symbolic links than the kernel would follow (ELOOP).

    Raised instead of handing the unresolved rest to the kernel, which would follow it
    on the real filesystem, outside the root."""

    def __init__(self, host_path: str) -> None:
        super().__init__(errno.ELOOP, os.strerror(errno.ELOOP), host_path)


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


def resolve_under(base: str, host_path: str, shown: str) -> str:
    """The real path of ``host_path`` inside ``base``, every link resolved inside it; a link
    loop raises :class:`LinkLoopError` naming ``shown`` (the rest is never handed to the
    kernel, which would follow it outside)."""
    resolved, looped = resolve_in_root(base, host_path)
    if looped is not None:
        raise LinkLoopError(shown)
    return os.path.join(base, *resolved)


class RootPaths:
    """Absolute host paths mapped to real paths under ``root``, resolved directories cached
    (one lstat() per directory a scan touches), and those found missing remembered: nothing
    below them is looked up. The live root needs none of it.

    Both caches belong to one Host, like everything it has read: a live host's files change
    between runs, and a later run makes a new Host."""

    def __init__(self, root: str, live: bool) -> None:
        self.root, self.live = root, live
        # The real path of host path P is self._prefix + P (root is a real path).
        self._prefix = root.rstrip("/")
        self._resolved: dict[str, str] = {"": "/", "/": "/"}
        self._absent: set[str] = set()  # resolved host directories that do not exist

    def path(self, host_path: str) -> str:
        return self.lookup(host_path)[0]

    def lookup(self, host_path: str) -> tuple[str, os.stat_result | OSError | None]:
        """The real path of ``host_path`` and what lstat() said of it while resolving it: its
        status (it is no link, so stat() would say the same) or the error (nothing usable is
        there: open, stat and listing would fail alike); None where that is not known (the live
        root, a link resolved). Callers use it rather than ask the file system again."""
        if self.live:
            return host_path or "/", None
        directory, _, name = host_path.rstrip("/").rpartition("/")
        base = self._resolved.get(directory)
        if base is None:
            base = self._resolve_dir(directory)
        if not name:
            return (self._prefix + base if base != "/" else self.root), None
        if name == "." or name == "..":
            return self._resolve(posixpath.join(base, name)), None
        joined = base + "/" + name if base != "/" else "/" + name  # name holds no "/"
        candidate = self._prefix + joined
        if base in self._absent:
            return candidate, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), candidate)
        try:
            info = os.lstat(candidate)
        except OSError as exc:
            return candidate, exc
        except ValueError:  # an embedded NUL: os.path.islink says "no link"
            return candidate, None
        if statmod.S_ISLNK(info.st_mode):
            return self._resolve(joined), None
        return candidate, info

    def _resolve_dir(self, directory: str) -> str:
        """A host directory path with every symlink in it resolved (still a host path)."""
        cached = self._resolved.get(directory)
        if cached is not None:
            return cached
        parent, _, name = directory.rpartition("/")
        base = self._resolve_dir(parent)
        if name in ("", ".", ".."):
            cached = self._host_path_of(self._resolve(posixpath.join(base, name)))
        else:
            cached = base + "/" + name if base != "/" else "/" + name  # name holds no "/"
            if base in self._absent:
                self._absent.add(cached)  # below a missing directory
            else:
                try:
                    mode = os.lstat(self._prefix + cached).st_mode
                except FileNotFoundError:
                    self._absent.add(cached)
                except (OSError, ValueError):
                    pass  # a lookup below it meets the same error
                else:
                    if statmod.S_ISLNK(mode):
                        cached = self._host_path_of(self._resolve(cached))
        self._resolved[directory] = cached
        return cached

    def _host_path_of(self, real: str) -> str:
        rel = os.path.relpath(real, self.root)
        return "/" if rel == "." else "/" + rel

    def _resolve(self, host_path: str) -> str:
        # Too many links: never hand the rest to the kernel, which would follow it
        # outside the root.
        return resolve_under(self.root, host_path, host_path)
