"""Replacing files atomically and durably: reports (`--output`, the TUI's export), the
monitor's state, metrics and units, and `hostcheck fix`'s writes all go through here."""

import os
import stat
import tempfile


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file: a temporary file
    in the same directory, renamed over the target. The file gets the mode a plain open()
    would give it (0666 less the umask), so other users' collectors can read it.

    A device or FIFO (``-o /dev/null``) is written into, never replaced: the rename would
    turn /dev/null into a regular file. Through a symbolic link, the file it names is
    replaced and the link kept. OSError (missing directory, permission denied) leaves no
    temporary file behind."""
    try:
        st = os.stat(path)  # follows a symbolic link to what it names
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    umask = os.umask(0)
    os.umask(umask)
    replace_durably(os.path.realpath(path), text.encode("utf-8"), 0o666 & ~umask)


def replace_durably(
    path: str, data: bytes, mode: int, owner: tuple[int, int] | None = None
) -> None:
    """The one way hostcheck replaces a file: a temporary file in the same directory with
    ``mode`` (and ``owner``, as root), written and fsynced, renamed over ``path``, then the
    directory fsynced, so a reader never sees half a file and after a crash the file is the
    old or the new one. Nothing is left behind on any error."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        os.fchmod(fd, mode)
        if owner is not None and os.geteuid() == 0:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
