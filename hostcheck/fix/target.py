"""Where `hostcheck fix` may write, resolved safely: only files in ALLOWED_DIRS, never
through a symbolic link and never out of the root."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from hostcheck.fix.changes import KERNEL_CMDLINE, FixError
from hostcheck.host.core import Host
from hostcheck.host.output import fsync_dir, replace_durably, temporary_files

ALLOWED_DIRS = (
    "/etc/default/grub.d",
    "/etc/modprobe.d",
    "/etc/sysctl.d",
    os.path.dirname(KERNEL_CMDLINE),
)


def check_components(root: str, host_dir: str, what: str, verb: str = "write") -> None:
    """Refuse if any existing component of ``host_dir`` under ``root`` is a symbolic link
    or not a directory: a link could send a write (or a read) anywhere, out of the root
    included."""
    current = root
    for part in host_dir.strip("/").split("/"):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise FixError(f"refusing to {verb} {what}: {current} is a symbolic link")
        if os.path.exists(current) and not os.path.isdir(current):
            raise FixError(f"refusing to {verb} {what}: {current} is not a directory")


def open_dir_nofollow(root: str, host_dir: str, *, create: bool, what: str) -> int | None:
    """A descriptor of ROOT/host_dir reached one component at a time with O_NOFOLLOW, each
    missing directory made (mode 0755, the last 0700) when ``create``; None when one is
    missing and not ``create``. A link or non-directory on the way is a refusal naming it."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    current = root
    parts = host_dir.strip("/").split("/")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        for number, part in enumerate(parts, start=1):
            current = os.path.join(current, part)
            try:
                try:
                    next_fd = os.open(part, flags, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    import contextlib  # only where a directory is made (not in a dry run)

                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700 if number == len(parts) else 0o755, dir_fd=fd)
                    next_fd = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    kind = "a symbolic link" if os.path.islink(current) else "not a directory"
                    raise FixError(f"refusing to write {what}: {current} is {kind}") from None
                raise FixError(f"cannot open {what} in {current}: {exc.strerror}") from None
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


class Target:
    """A host path we may write, resolved safely under the root."""

    def __init__(self, host: Host, path: str) -> None:
        directory = os.path.dirname(path)
        if directory not in ALLOWED_DIRS:
            raise FixError(f"refusing to write {path}: not in {', '.join(ALLOWED_DIRS)}")
        root = os.path.realpath(host.root)
        self.root = root
        self.path = path
        self.real = os.path.join(root, path.lstrip("/"))
        self.dir = os.path.dirname(self.real)
        check_components(root, directory, path)
        if os.path.islink(self.real):
            raise FixError(f"refusing to write {path}: it is a symbolic link")
        if os.path.exists(self.real) and not os.path.isfile(self.real):
            raise FixError(f"refusing to write {path}: not a regular file")

    def missing_dirs(self) -> list[str]:
        """Host paths of the directories a write would create, outermost first."""
        missing: list[str] = []
        directory = os.path.dirname(self.path)
        while directory != "/" and not os.path.isdir(
            os.path.join(self.root, directory.lstrip("/"))
        ):
            missing.insert(0, directory)
            directory = os.path.dirname(directory)
        return missing

    def read(self) -> bytes | None:
        try:
            with open(self.real, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write(
        self,
        data: bytes,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        before_rename: Callable[[], None] | None = None,
    ) -> None:
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        replace_durably(self.real, data, mode, (uid, gid), before_rename=before_rename)

    def remove_temporaries(self) -> list[str]:
        """Remove the temporary files a killed write left beside this file (named
        ``.NAME.<random>.hostcheck.tmp``; under the journal lock no other run writes them).
        Returns their host paths."""
        import contextlib

        removed = []
        for path in temporary_files(self.real):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed.append(os.path.join(os.path.dirname(self.path), os.path.basename(path)))
        if removed:
            fsync_dir(self.dir)
        return removed

    def remove(self) -> bool:
        """Remove the file; False when it was not there (never written, or already gone)."""
        try:
            os.unlink(self.real)
        except FileNotFoundError:
            return False
        fsync_dir(self.dir)
        return True
