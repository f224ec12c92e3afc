"""Lay out recorded host paths as a tree: files with the bytes read, directories as
directories, and the symbolic links that were followed on the way, with their targets.

Paths are resolved in the source root as :class:`~hostcheck.host.core.Host` resolves them (inside
the root; an absolute target is the host's path, ``..`` never climbs above the root), so the
tree replays through the same links: ``/sys/class/drm/card1`` stays a link to
``../../devices/…/drm/card1`` and the file lands at the real path once. A target that is
absolute or climbs above the root is rewritten as the equivalent relative link, so that the
tree is self-contained (and passes the archive checks of :mod:`hostcheck.snapshot.archive`).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat as statmod
from collections.abc import Callable

from hostcheck.host.paths import resolve_in_root


class Plan:
    """What to create, by real host path (before redaction)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()
        self.links: dict[str, str] = {}

    def occupied(self, host_path: str) -> bool:
        return host_path in self.files or host_path in self.dirs or host_path in self.links


# A path inside a process's own root (a container's filesystem), as the stack probe reads it.
_PROCESS_ROOT = re.compile(r"/proc/([0-9]+)/root(?=/|$)")


class Resolver:
    """Resolves host paths in a source root, noting the links it passes through.

    A path under ``/proc/PID/root/`` is resolved inside that process's root, as the Host
    reads it (``process_root`` gives its real path: the kernel's link on a live host): a
    container's ``/opt/rocm -> /opt/rocm-7.2.1`` stays a link inside ``/proc/PID/root`` of
    the snapshot, and the container's files are never laid out as the host's."""

    def __init__(
        self, root: str, plan: Plan, process_root: Callable[[int], str] | None = None
    ) -> None:
        self.root = root
        self.plan = plan
        self.process_root = process_root or (
            lambda pid: os.path.join(root, "proc", str(pid), "root")
        )

    def _real(self, parts: list[str]) -> str:
        host_path = "/" + "/".join(parts)
        nested = _PROCESS_ROOT.match(host_path)
        if nested:
            rest = host_path[nested.end() :].lstrip("/")
            base = self.process_root(int(nested[1]))
            return os.path.join(base, rest) if rest else base
        return os.path.join(self.root, *parts)

    def resolve(self, host_path: str, *, follow_last: bool = True) -> str:
        """The real host path of ``host_path``; every link passed is added to the plan."""
        nested = _PROCESS_ROOT.match(host_path)
        if nested:
            prefix = nested[0]

            def note_nested(link: str, target: str) -> None:
                self.plan.links[prefix + link] = _relative_target(link, target)

            rest = host_path[nested.end() :] or "/"
            resolved, _ = resolve_in_root(
                self.process_root(int(nested[1])),
                rest,
                follow_last=follow_last,
                on_link=note_nested,
            )
            return prefix + "".join("/" + part for part in resolved)

        def note(link: str, target: str) -> None:
            self.plan.links[link] = _relative_target(link, target)

        resolved, _ = resolve_in_root(self.root, host_path, follow_last=follow_last, on_link=note)
        return "/" + "/".join(resolved)

    def add_file(self, host_path: str, data: bytes) -> None:
        real = self.resolve(host_path)
        self._parents(real)
        self.plan.files[real] = data

    def add_dir(self, host_path: str) -> None:
        real = self.resolve(host_path)
        self._parents(real)
        if real != "/":
            self.plan.dirs.add(real)

    def add_entry(self, directory: str, name: str) -> None:
        """A directory entry the probes were shown but did not read: made as what it is
        (a directory, a link, an empty file); device nodes and FIFOs are left out."""
        real_dir = self.resolve(directory)
        host_path = posixpath.join(real_dir, name)
        if self.plan.occupied(host_path):
            return
        try:
            mode = os.lstat(self._real(host_path.lstrip("/").split("/"))).st_mode
        except OSError:
            return
        self._parents(host_path)
        if statmod.S_ISLNK(mode):
            self.resolve(host_path)  # records the link (and any links its target passes)
        elif statmod.S_ISDIR(mode):
            self.plan.dirs.add(host_path)
        elif statmod.S_ISREG(mode):
            self.plan.files[host_path] = b""

    def _parents(self, real: str) -> None:
        parent = posixpath.dirname(real)
        while parent not in ("/", "") and parent not in self.plan.dirs:
            self.plan.dirs.add(parent)
            parent = posixpath.dirname(parent)


def _relative_target(link: str, target: str) -> str:
    """``target`` as a relative link from ``link``'s directory that stays inside the root."""
    directory = posixpath.dirname(link)
    depth = 0 if directory == "/" else directory.count("/")
    if not target.startswith("/"):
        climbs = depth
        escapes = False
        for part in target.split("/"):
            if part == "..":
                climbs -= 1
                escapes = escapes or climbs < 0
            elif part not in ("", "."):
                climbs += 1
        if not escapes:
            return target
        absolute = _clamped(posixpath.join(directory, target))
    else:
        absolute = _clamped(target)
    return posixpath.relpath(absolute, directory)


def _clamped(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def make_private_dirs(path: str) -> None:
    """``os.makedirs``, with every directory it creates private (0700), not only the last."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_private_dirs(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def write_private(path: str, data: bytes) -> None:
    """A new file only its owner can read (0600): process environments hold credentials."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_plan(plan: Plan, out_dir: str, rename: Callable[[str], str]) -> int:
    """Create the planned tree under ``out_dir`` (which must exist); ``rename`` redacts a
    path or a link target. Directories are made 0700 and files 0600. Returns the number of
    symbolic links made."""

    def target(host_path: str) -> str:
        rel = posixpath.normpath(rename(host_path).lstrip("/"))
        if rel.startswith("..") or posixpath.isabs(rel) or "\0" in rel:
            raise ValueError(f"refusing to write outside the snapshot: {host_path!r}")
        return os.path.join(out_dir, rel)

    for directory in sorted(plan.dirs):
        if directory not in plan.links:
            make_private_dirs(target(directory))
    for path, data in sorted(plan.files.items()):
        if path in plan.links:
            continue
        make_private_dirs(os.path.dirname(target(path)))
        write_private(target(path), data)
    made = 0
    for link, link_target in sorted(plan.links.items()):
        where = target(link)
        make_private_dirs(os.path.dirname(where))
        if os.path.lexists(where):
            continue
        os.symlink(rename(link_target), where)
        made += 1
    return made
