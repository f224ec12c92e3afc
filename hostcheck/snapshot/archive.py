"""Snapshot tarballs: writing them, and reading an untrusted one safely.

A snapshot tarball holds one top-level directory with the host tree. Reading one unpacks it
into a private temporary directory (mode 0700, removed afterwards) after checking every
member: no absolute names, no ``..``, no member below a symbolic link, no link that points
outside the tree, no device nodes or FIFOs, no member or total larger than the limits, and a
complete, uncorrupted archive. Each refusal is one line naming the member. Python's own
``filter="data"`` runs as well, as a second line of defence.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator

MAX_MEMBER_BYTES = 64 * 1024 * 1024  # a kernel log is a few MB; Host reads at most 4 MiB
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 200_000


class ArchiveError(Exception):
    """An archive that is not a readable, safe snapshot (the message is one line)."""


def is_archive(path: str) -> bool:
    """Whether ``--root PATH`` names a snapshot tarball rather than a directory."""
    return os.path.isfile(path)


def write_tarball(tree: str, output: str, top: str, mtime: float) -> None:
    """Pack ``tree`` as ``output`` (gzip), under the top-level directory ``top``, atomically.

    Owners are recorded as root (uid/gid 0, no names): the names on the recording machine's
    files would name the person who took the snapshot.
    """

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = int(mtime)
        if info.isdir():
            info.mode = 0o755
        elif info.isfile():
            info.mode = 0o644
        return info

    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
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
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"member {name!r} climbs out of the archive with '..'")
    return "/".join(parts)


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


def _check_end(tar: tarfile.TarFile, max_total: int) -> None:
    """tarfile ends its iteration quietly at a damaged header or a cut-off stream; a snapshot
    must end with the end-of-archive marker, and a compressed stream must check out (gzip
    verifies its CRC only when read to the end)."""
    fileobj = tar.fileobj
    assert fileobj is not None
    fileobj.seek(tar.offset)
    end = fileobj.read(2 * tarfile.BLOCKSIZE)
    if len(end) < 2 * tarfile.BLOCKSIZE or end.strip(b"\0"):
        raise ArchiveError(
            f"truncated or corrupt archive (no valid member or end marker at byte {tar.offset})"
        )
    trailing = 0
    while chunk := fileobj.read(1024 * 1024):
        trailing += len(chunk)
        if trailing > max_total:
            raise ArchiveError(f"unpacks to more than {max_total} bytes")


def _open(archive: str) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:*")
    except tarfile.ReadError:
        if os.path.getsize(archive) == 0:
            raise ArchiveError("the archive is empty") from None
        raise ArchiveError(
            "not a directory, and not a snapshot tarball (not a tar archive, or compressed in "
            "a way Python cannot read)"
        ) from None
    except OSError as exc:
        raise ArchiveError(exc.strerror or str(exc)) from None


def extract(
    archive: str,
    dest: str,
    *,
    max_member: int = MAX_MEMBER_BYTES,
    max_total: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> str:
    """Check and unpack ``archive`` into the empty directory ``dest``; returns the host root
    inside it (the single top-level directory, or ``dest`` itself)."""
    links: set[str] = set()
    seen: set[str] = set()
    total = 0
    count = 0
    tar = _open(archive)
    try:
        with tar:
            for member in tar:
                count += 1
                if count > max_members:
                    raise ArchiveError(f"more than {max_members} members")
                _check_member(member, links, seen, max_member)
                total += member.size
                if total > max_total:
                    raise ArchiveError(f"unpacks to more than {max_total} bytes")
                tar.extract(member, dest, set_attrs=False, filter="data")
            _check_end(tar, max_total)
    except ArchiveError:
        raise
    except tarfile.FilterError as exc:
        raise ArchiveError(f"unsafe member refused: {exc}") from None
    except OSError as exc:
        if exc.errno is not None:  # the disk, not the archive
            raise ArchiveError(f"cannot unpack into {dest}: {exc.strerror}") from None
        raise ArchiveError(f"truncated or corrupt archive ({exc})") from None
    except (tarfile.TarError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
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


@contextlib.contextmanager
def unpacked(archive: str) -> Iterator[str]:
    """The host root of a snapshot tarball, unpacked privately for the duration (the
    ArchiveError of a bad archive is raised on entry)."""
    dest = tempfile.mkdtemp(prefix="hostcheck-snapshot-")  # mode 0700
    try:
        yield extract(archive, dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
