"""Replacing files atomically and durably: reports (`--output`, the TUI's export), the
monitor's state, metrics and units, and `hostcheck fix`'s writes all go through here."""

import os
import stat
from collections.abc import Iterable


def write_atomic(path: str, text: str | Iterable[str]) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file: a temporary file
    in the same directory, renamed over the target. The file gets the mode a plain open()
    would give it (0666 less the umask), so other users' collectors can read it.

    A device or FIFO (``-o /dev/null``) is written into, never replaced: the rename would
    turn /dev/null into a regular file. Through a symbolic link, the file it names is
    replaced and the link kept. OSError (missing directory, permission denied) leaves no
    temporary file behind. ``text`` may come in pieces (a fleet summary is streamed)."""
    pieces = [text] if isinstance(text, str) else text
    try:
        st = os.stat(path)  # follows a symbolic link to what it names
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(pieces)
        return
    umask = os.umask(0)
    os.umask(umask)
    encoded = (piece.encode("utf-8") for piece in pieces)
    replace_durably(os.path.realpath(path), encoded, 0o666 & ~umask)


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    """A new file next to ``name`` (O_EXCL, mode 0600), as tempfile.mkstemp makes one;
    without importing tempfile, which costs every run that writes a report."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name in {directory}")


def replace_durably(
    path: str, data: bytes | Iterable[bytes], mode: int, owner: tuple[int, int] | None = None
) -> None:
    """The one way hostcheck replaces a file: a temporary file in the same directory with
    ``mode`` (and ``owner``, as root), written and fsynced, renamed over ``path``, then the
    directory fsynced, so a reader never sees half a file and after a crash the file is the
    old or the new one. Nothing is left behind on any error."""
    directory = os.path.dirname(path) or "."
    fd, tmp = _create_temporary(directory, os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        if owner is not None and os.geteuid() == 0:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
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
