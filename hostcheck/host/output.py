"""Replacing files atomically and durably: reports (`--output`, the TUI's export), the
monitor's state, metrics and units, and `hostcheck fix`'s writes all go through here."""

import errno
import os
import stat
from collections.abc import Callable, Iterable

WRITE_RULE = (
    "a regular file is replaced atomically; through a symbolic link, the file it names is "
    "replaced and the link kept; a character device (/dev/null, /dev/stdout) or a FIFO is "
    "written into; a block device, socket or directory is refused"
)


def write_atomic(path: str, text: str | Iterable[str], mode: int | None = None) -> None:
    """Write ``text`` to ``path`` by one rule for every report a user names (``scan -o``,
    ``nfd -o``, ``monitor --metrics-file``, the TUI's export): see WRITE_RULE.

    A regular file (or none yet) is replaced by rename, so a reader never sees half a file;
    it gets ``mode``, by default what a plain open() would give (0666 less the umask), so
    other users' collectors can read it. A rename never lands on anything else: over
    /dev/null it would turn the device into a regular file. Links are resolved by
    host.resolve_in_root (a loop is ELOOP). A FIFO nobody reads is ENXIO at once, never a
    hang. OSError (missing directory, permission denied) leaves no temporary file behind.
    ``text`` may come in pieces (a fleet summary is streamed)."""
    from hostcheck.host.paths import resolve_in_root

    pieces = [text] if isinstance(text, str) else text

    try:
        st = os.stat(path)  # follows links, /proc's magic ones (/dev/stdout) included
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_into(path, st.st_mode, "".join(pieces).encode("utf-8"))
        return
    components, loop = resolve_in_root("/", os.path.abspath(path))
    if loop is not None:
        raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
    real = "/" + "/".join(components)
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    replace_durably(real, (piece.encode("utf-8") for piece in pieces), mode)


def _write_into(path: str, kind: int, data: bytes) -> None:
    """Write into a character device or a FIFO; refuse anything else that is not a file."""
    if stat.S_ISDIR(kind):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not (stat.S_ISCHR(kind) or stat.S_ISFIFO(kind)):
        what = (
            "a block device"
            if stat.S_ISBLK(kind)
            else "a socket"
            if stat.S_ISSOCK(kind)
            else "not a regular file"
        )
        raise OSError(errno.EINVAL, f"{what}: refusing to write into it", path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO and stat.S_ISFIFO(kind):
            raise OSError(errno.ENXIO, "a FIFO that no process reads", path) from None
        raise
    try:
        # The node checked is the node opened (not swapped for a file in between): a rename
        # that lands a regular file here would make this write a non-atomic one.
        if stat.S_IFMT(os.fstat(fd).st_mode) != stat.S_IFMT(kind):
            raise OSError(errno.EINVAL, "changed while being opened", path)
        os.set_blocking(fd, True)  # the reader sets the pace from here on
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


TEMP_SUFFIX = ".hostcheck.tmp"  # every temporary file: ".NAME.<random>.hostcheck.tmp"


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    """A new file next to ``name`` (O_EXCL, mode 0600), as tempfile.mkstemp makes one, named
    ``.NAME.<random>.hostcheck.tmp``; without importing tempfile, which costs every run that
    writes a report."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}{TEMP_SUFFIX}")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name in {directory}")


def replace_durably(
    path: str,
    data: bytes | Iterable[bytes],
    mode: int,
    owner: tuple[int, int] | None = None,
    *,
    before_rename: Callable[[], None] | None = None,
) -> None:
    """The one way hostcheck replaces a file: a temporary file in the same directory with
    ``mode`` (and ``owner``, as root), written and fsynced, renamed over ``path``, then the
    directory fsynced, so a reader never sees half a file and after a crash the file is the
    old or the new one. Nothing is left behind on any error; a kill can leave the temporary
    file, named ``.NAME.<random>.hostcheck.tmp`` so that its owner recognises it
    (temporary_files) and removes it. ``before_rename`` is for fault-injection tests."""
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
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def temporary_files(path: str) -> list[str]:
    """Paths of temporary files that replace_durably left beside ``path`` when killed."""
    directory, name = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = f".{name}."
    return [
        os.path.join(directory, n)
        for n in sorted(names)
        if n.startswith(prefix) and n.endswith(TEMP_SUFFIX) and len(n) > len(prefix + TEMP_SUFFIX)
    ]


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
