"""Writing a report to a file: the one writer the CLI (`--output`) and the TUI (export) share."""

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
    path = os.path.realpath(path)
    directory = os.path.dirname(path) or "."
    umask = os.umask(0)
    os.umask(umask)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise
