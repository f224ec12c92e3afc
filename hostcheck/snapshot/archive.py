"""Snapshot tarballs: writing them, and reading an untrusted one safely.

A snapshot tarball holds one top-level directory with the host tree. Reading one unpacks it
into a private temporary directory (mode 0700, removed afterwards) after checking every
member: no absolute names, no ``..``, no member below a symbolic link, no link that points
outside the tree, no device nodes or FIFOs, no member or total larger than the limits, and a
complete, uncorrupted archive. Each refusal is one line naming the member. Python's own
``filter="data"`` runs as well where the interpreter has it (3.11.4 and later), as a second
line of defence; on older interpreters the checks above are the whole of it, and members are
unpacked without their recorded modes or owners (``set_attrs=False``). Once all is unpacked every
symbolic link is resolved for real: links that are each harmless as text can combine into one
that leads out (``a -> b/x/../../secret`` unpacked before ``b/x -> ../..``).

The archive is decompressed here, through a reader that counts: tarfile keeps an extended
(PAX or GNU long-name) header in memory whole, and a few hundred kilobytes of gzip can declare
one of hundreds of megabytes. No single header may exceed ``MAX_HEADER_BYTES`` and the whole
decompressed stream may not exceed the total limit plus ``HEADER_MARGIN``.

While an archive is unpacked, SIGTERM and SIGHUP end the program as an exception would, so
the private copy is removed (:func:`~hostcheck.snapshot.termination.exit_on_termination`).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO, cast

from hostcheck.errors import INPUT, HostcheckError
from hostcheck.snapshot.termination import exit_on_termination

MAX_MEMBER_BYTES = 64 * 1024 * 1024  # a kernel log is a few MB; Host reads at most 4 MiB
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# A snapshot holds what the probes read and listed: under a hundred entries for the bundled
# hosts, a few thousand on a large host (one directory per process listed in /proc). 199,000
# empty members took 96 s to refuse at the old cap of 200,000.
MAX_MEMBERS = 20_000
MAX_NAME_CHARS = 1024  # the deepest sysfs path a probe reads is ~200 characters
MAX_NAME_DEPTH = 64  # directory levels in one member name (a sysfs device path has ~12)
MAX_HEADER_BYTES = 1024 * 1024  # a PAX header holds a few long names, never a megabyte
HEADER_MARGIN = 64 * 1024 * 1024  # headers and padding on top of the members' data
COPY_BYTES = 64 * 1024  # tarfile copies member data in reads of this size; headers are read whole


class ArchiveError(HostcheckError):
    """An archive that is not a readable, safe snapshot (the message is one line)."""

    kind = INPUT


def write_tarball(tree: str, output: str, top: str, mtime: float) -> None:
    """Pack ``tree`` as ``output`` (gzip), under the top-level directory ``top``, atomically.

    Owners are recorded as root (uid/gid 0, no names): the names on the recording machine's
    files would name the person who took the snapshot.

    The tarball is private (mode 0600), and so are its members (directories 0700, files 0600),
    as the tree was: process environments may hold credentials (all of them under --no-redact).
    """

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = int(mtime)
        if info.isdir():
            info.mode = 0o700
        elif info.isfile():
            info.mode = 0o600
        return info

    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", dir=directory)  # 0600
    try:
        os.fchmod(fd, 0o600)
        with (
            os.fdopen(fd, "wb") as handle,
            tarfile.open(fileobj=handle, mode="w:gz", format=tarfile.PAX_FORMAT) as tar,
        ):
            tar.add(tree, arcname=top, filter=normalise)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_name(name: str) -> str:
    if not name or "\0" in name:
        raise ArchiveError("a member has an empty or invalid name")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"member {name!r} has an absolute path")
    if len(name) > MAX_NAME_CHARS:
        raise ArchiveError(
            f"member {_short(name)} has a name of {len(name)} characters; a snapshot's are at "
            f"most {MAX_NAME_CHARS}"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"member {name!r} climbs out of the archive with '..'")
    if len(parts) > MAX_NAME_DEPTH:
        raise ArchiveError(
            f"member {_short(name)} is {len(parts)} directories deep; a snapshot's are at "
            f"most {MAX_NAME_DEPTH}"
        )
    return "/".join(parts)


def _short(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "…")


def _inside(path: str) -> bool:
    normal = posixpath.normpath(path)
    return normal != ".." and not normal.startswith("../") and not posixpath.isabs(normal)


def _check_member(member: tarfile.TarInfo, links: set[str], seen: set[str], max_member: int) -> str:
    name = _check_name(member.name)
    if not name:
        if member.isdir():
            return name  # "./" itself
        raise ArchiveError(f"member {member.name!r} has an empty name")
    parents = name.split("/")[:-1]
    for i in range(1, len(parents) + 1):
        if "/".join(parents[:i]) in links:
            raise ArchiveError(
                f"member {name!r} lies below the symbolic link {'/'.join(parents[:i])!r}"
            )
    if name in seen:
        raise ArchiveError(f"member {name!r} appears twice")
    if (
        member.isdev()
        or member.isfifo()
        or not (member.isreg() or member.isdir() or member.issym() or member.islnk())
    ):
        kind = (
            "a device node"
            if member.ischr() or member.isblk()
            else "a FIFO"
            if member.isfifo()
            else "a special file"
        )
        raise ArchiveError(
            f"member {name!r} is {kind}; snapshots record devices in .hostcheck/devices.json"
        )
    if member.issym():
        target = member.linkname
        if target.startswith("/") or not _inside(posixpath.join(posixpath.dirname(name), target)):
            raise ArchiveError(f"symbolic link {name!r} points outside the snapshot ({target!r})")
        links.add(name)
    if member.islnk():
        target = member.linkname
        if target.startswith("/") or not _inside(target) or _check_name(target) not in seen:
            raise ArchiveError(f"hard link {name!r} points outside the snapshot ({target!r})")
    if member.size > max_member:
        raise ArchiveError(
            f"member {name!r} is {member.size} bytes, larger than the {max_member} bytes a snapshot file may have"
        )
    seen.add(name)
    return name


def _check_end(tar: tarfile.TarFile) -> None:
    """tarfile ends its iteration quietly at a damaged header or a cut-off stream; a snapshot
    must end with the end-of-archive marker, and a compressed stream must check out (gzip
    verifies its CRC only when read to the end; the counting reader bounds what follows)."""
    fileobj = tar.fileobj
    assert fileobj is not None
    fileobj.seek(tar.offset)
    end = fileobj.read(2 * tarfile.BLOCKSIZE)
    if len(end) < 2 * tarfile.BLOCKSIZE or end.strip(b"\0"):
        raise ArchiveError(
            f"truncated or corrupt archive (no valid member or end marker at byte {tar.offset})"
        )
    while fileobj.read(COPY_BYTES):
        pass


class _Bounded:
    """The decompressed stream, counted: refuses to go past ``limit`` bytes, and a single read
    of more than ``max_read`` (only an extended header is read whole). Closing it closes the
    file too (tarfile leaves a file object it was given open)."""

    def __init__(
        self, raw: io.BufferedIOBase, stream: io.BufferedIOBase, limit: int, max_read: int
    ) -> None:
        self.raw = raw
        self.stream = stream
        self.limit = limit
        self.max_read = max_read

    def _check(self, position: int) -> None:
        if position > self.limit:
            raise ArchiveError(f"unpacks to more than {self.limit} bytes")

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self.max_read:
            raise ArchiveError(
                f"a member header (PAX or GNU long name) is larger than the {self.max_read} "
                "bytes a snapshot header may have"
            )
        data = self.stream.read(size)
        self._check(self.stream.tell())
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._check(offset)
        return self.stream.seek(offset, whence)

    def tell(self) -> int:
        return self.stream.tell()

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self.raw.close()


def _decompressed(raw: io.BufferedIOBase, magic: bytes) -> io.BufferedIOBase:
    """The tar stream of a snapshot file: gzip, bzip2 and xz are recognised by how they start."""
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(cast(IO[bytes], raw), mode="rb")
    return raw


# What the decompressors and tarfile raise for a cut-off or damaged stream.
_DAMAGE = (tarfile.TarError, EOFError, ValueError, zlib.error, lzma.LZMAError)


def _open(archive: str, limit: int, max_header: int) -> tarfile.TarFile:
    try:
        raw = open(archive, "rb")  # noqa: SIM115 (closed with the TarFile, or below)
    except OSError as exc:
        raise ArchiveError(exc.strerror or str(exc)) from None
    stream: io.BufferedIOBase = raw
    try:
        magic = raw.read(6)
        raw.seek(0)
        if not magic:
            raise ArchiveError("the archive is empty")
        stream = _decompressed(raw, magic)
        bounded = _Bounded(raw, stream, limit, max_header)
        return tarfile.TarFile(fileobj=bounded, mode="r", copybufsize=COPY_BYTES)  # type: ignore[arg-type]
    except BaseException as exc:
        stream.close()
        raw.close()
        if isinstance(exc, tarfile.ReadError) and stream is raw:
            raise ArchiveError(
                "not a directory, and not a snapshot tarball (not a tar archive, or compressed "
                "in a way hostcheck cannot read: gzip, bzip2 and xz are read)"
            ) from None
        if (isinstance(exc, OSError) and exc.errno is None) or isinstance(exc, _DAMAGE):
            detail = str(exc) or type(exc).__name__
            raise ArchiveError(f"truncated or corrupt archive ({detail})") from None
        if isinstance(exc, OSError):
            raise ArchiveError(exc.strerror or str(exc)) from None
        raise


def _filtered() -> bool:
    """Extraction filters (``filter="data"``, ``tarfile.FilterError``) arrived in Python 3.11.4;
    Debian 12 ships 3.11.2."""
    return hasattr(tarfile, "data_filter")


def _filter_errors() -> tuple[type[Exception], ...]:
    error = getattr(tarfile, "FilterError", None)
    return (error,) if error is not None else ()


def _too_many(max_members: int) -> str:
    return f"more than {max_members} members; a snapshot holds a few thousand at most"


def _precheck(
    archive: str, limit: int, max_header: int, max_members: int, max_member: int, max_total: int
) -> None:
    """One pass over the headers before anything is unpacked, so that too many members or
    a name too long or deep is refused in seconds rather than after unpacking thousands of
    files. Damage is left to the unpacking pass, which reports it."""
    tar = _open(archive, limit, max_header)
    count = total = 0
    try:
        with tar, contextlib.closing(tar.fileobj):
            while (member := tar.next()) is not None:
                count += 1
                if count > max_members:
                    raise ArchiveError(_too_many(max_members))
                _check_name(member.name)
                total += member.size
                if member.size > max_member or total > max_total:
                    return  # refused by the unpacking pass, before its data is read
    except ArchiveError:
        raise
    except (OSError, *_DAMAGE):
        return


def extract(
    archive: str,
    dest: str,
    *,
    max_member: int = MAX_MEMBER_BYTES,
    max_total: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
    max_header: int = MAX_HEADER_BYTES,
    max_stream: int | None = None,
) -> str:
    """Check and unpack ``archive`` into the empty directory ``dest``; returns the host root
    inside it (the single top-level directory, or ``dest`` itself). ``max_stream`` bounds the
    decompressed archive (default: ``max_total`` and ``HEADER_MARGIN``)."""
    links: set[str] = set()
    seen: set[str] = set()
    total = 0
    count = 0
    current = ""
    stream_limit = max_total + HEADER_MARGIN if max_stream is None else max_stream
    _precheck(archive, stream_limit, max_header, max_members, max_member, max_total)
    tar = _open(archive, stream_limit, max_header)
    try:
        with tar, contextlib.closing(tar.fileobj):
            for member in tar:
                count += 1
                if count > max_members:
                    raise ArchiveError(_too_many(max_members))
                current = member.name
                _check_member(member, links, seen, max_member)
                total += member.size
                if total > max_total:
                    raise ArchiveError(f"unpacks to more than {max_total} bytes")
                if _filtered():
                    tar.extract(member, dest, set_attrs=False, filter="data")
                else:
                    tar.extract(member, dest, set_attrs=False)
            _check_end(tar)
        _check_links(dest)
    except ArchiveError:
        raise
    except _filter_errors() as exc:
        raise ArchiveError(f"unsafe member refused: {exc}") from None
    except OSError as exc:
        if exc.errno is not None:  # the disk, not the archive
            import errno

            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                where = os.path.dirname(dest) or dest
                raise ArchiveError(
                    f"cannot unpack into the temporary directory {where} (set TMPDIR to a "
                    f"directory with room): {exc.strerror}"
                ) from None
            raise ArchiveError(f"cannot unpack member {_short(current)}: {exc.strerror}") from None
        raise ArchiveError(f"truncated or corrupt archive ({exc})") from None
    except _DAMAGE as exc:
        # tarfile, gzip, zlib, lzma and bz2 report truncation and corruption in these forms.
        detail = str(exc) or type(exc).__name__
        raise ArchiveError(f"truncated or corrupt archive ({detail})") from None
    if count == 0:
        raise ArchiveError("the archive is empty")
    top = os.listdir(dest)
    if (
        len(top) == 1
        and os.path.isdir(os.path.join(dest, top[0]))
        and not os.path.islink(os.path.join(dest, top[0]))
    ):
        return os.path.join(dest, top[0])
    return dest


def _check_links(dest: str) -> None:
    """Every symbolic link of the unpacked tree, resolved as the kernel will: inside ``dest``."""
    real_dest = os.path.realpath(dest)
    for directory, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                continue
            real = os.path.realpath(path)
            if os.path.commonpath([real_dest, real]) != real_dest:
                member = os.path.relpath(path, dest)
                raise ArchiveError(
                    f"symbolic link {member!r} points outside the snapshot "
                    f"({os.readlink(path)!r}, through the links it passes)"
                )


@contextlib.contextmanager
def unpacked(archive: str) -> Iterator[str]:
    """The host root of a snapshot tarball, unpacked privately for the duration (the
    ArchiveError of a bad archive is raised on entry). A termination signal on the way
    still removes the copy."""
    with exit_on_termination() as termination:
        dest = tempfile.mkdtemp(prefix="hostcheck-snapshot-")  # mode 0700
        try:
            yield extract(archive, dest)
        finally:
            with termination.held():
                shutil.rmtree(dest, ignore_errors=True)
