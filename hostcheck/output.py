"""Writing a report to a file: the one atomic writer the CLI and the TUI share."""

import os
import tempfile


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file: a temporary file
    in the same directory, renamed over the target. The file gets the mode a plain open()
    would give it (0666 less the umask), so other users' collectors can read it. OSError
    (missing directory, permission denied) leaves no temporary file behind."""
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
