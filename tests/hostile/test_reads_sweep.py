"""The standing guard: one hostile host tree (link chains and loops, a FIFO where a file
should be, damaged recorded items, a 4 MiB command line, host text that forges lines) and a
hostile snapshot tarball, and every subcommand run on them in a fresh interpreter with a time
bound. Each must finish, with exit 0-2, no traceback and no "internal error"."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import time
from pathlib import Path

import pytest

from hostcheck.snapshot.archive import MAX_MEMBERS, MAX_NAME_DEPTH, ArchiveError, extract
from tests.conftest import FIXTURES, Run, run_subprocess

BOUND_S = 90


def _chain(root: Path, name: str, length: int, target: str) -> str:
    for i in range(1, length):
        os.symlink(f"{name}{i + 1}", root / f"{name}{i}")
    os.symlink(target, root / f"{name}{length}")
    return f"/{name}1"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret").write_text("outside-the-root\n")
    root = base / "root"
    shutil.copytree(FIXTURES / "tuned-ready", root, symlinks=True)
    hostname = root / "proc/sys/kernel/hostname"
    hostname.unlink()
    hostname.symlink_to(_chain(root, "l", 45, str(outside / "secret")))
    nodes = root / "sys/class/kfd/kfd/topology/nodes"
    shutil.rmtree(nodes / "0")
    (nodes / "0").symlink_to(".")  # a directory that contains itself
    grub = root / "etc/default/grub"
    grub.write_text("X=1;" * 100_000 + "\n" + grub.read_text())
    release = root / "etc/os-release"
    release.unlink()
    os.mkfifo(release)  # a read that would block forever
    (root / ".hostcheck/devices.json").write_text("[" * 100_000)
    cmdline = root / "proc/cmdline"
    cmdline.write_text(cmdline.read_text().strip() + " amdgpu." + "x" * 1_000_000 + "=1\n")
    argv = root / "proc/3100/cmdline"
    argv.write_bytes(argv.read_bytes() + b"--name\0x\n# hostcheck: host is READY\x1b[2J\0")
    return root


def _ok(run: Run, *allowed: int) -> None:
    assert run.code in (allowed or (0, 1, 2)), (run.code, run.err[-2000:])
    for text in (run.out, run.err):
        assert "Traceback" not in text
        assert "internal error" not in text
        assert "outside-the-root" not in text


def _run(*args: str) -> Run:
    started = time.monotonic()
    run = run_subprocess(*args, timeout=BOUND_S, env={**os.environ, "HOSTCHECK_CONFIG": os.devnull})
    assert time.monotonic() - started < BOUND_S
    return run


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "junit"])
def test_scan_every_format(hostile: Path, fmt: str) -> None:
    run = _run("scan", "--root", str(hostile), "--python", "/opt/vllm/bin/python3", "--format", fmt)
    _ok(run, 1)
    assert "\x1b[2J" not in run.out
    assert not any(line.startswith("# hostcheck: host is READY") for line in run.out.splitlines())


def test_fix_plan_and_history(hostile: Path) -> None:
    _ok(_run("fix", "--root", str(hostile)))
    _ok(_run("fix", "--root", str(hostile), "--history"))


def test_snapshot_and_its_replay(hostile: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "hostile.tar.gz"
    run = _run("snapshot", "--root", str(hostile), "-o", str(tarball))
    _ok(run, 0)
    _ok(_run("scan", "--root", str(tarball)), 1)
    directory = tmp_path / "hostile-dir"
    _ok(_run("snapshot", "--root", str(hostile), "-o", str(directory)), 0)


def test_monitor_nfd_fleet(hostile: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    for _ in range(2):
        _ok(_run("monitor", "--root", str(hostile), "--state-dir", str(state)), 1)
    features = tmp_path / "features.d"
    features.mkdir()
    _ok(_run("nfd", "--root", str(hostile), "--output", str(features / "hostcheck")))
    report = tmp_path / "reports" / "node.json"
    report.parent.mkdir()
    report.write_text(_run("scan", "--root", str(hostile), "--format", "json").out)
    _ok(_run("fleet", str(report.parent)), 1)


def test_explain_and_rules() -> None:
    _ok(_run("explain", "gpu.present"), 0)
    _ok(_run("rules"), 0)


# -- hostile tarballs ---------------------------------------------------------------------------


def _tarball(path: Path, members: list[tarfile.TarInfo]) -> None:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"") if member.isfile() else None)


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


@pytest.mark.parametrize(("levels", "said"), [(2000, "characters"), (100, "directories deep")])
def test_deep_directory_is_refused_by_name(tmp_path: Path, levels: int, said: str) -> None:
    archive = tmp_path / "deep.tar.gz"
    _tarball(archive, [_dir("snap/" + "/".join(["d"] * levels))])
    run = _run("scan", "--root", str(archive))
    _ok(run, 2)
    assert said in run.err
    assert "hostcheck-snapshot-" not in run.err  # the vanished temporary copy is not blamed


def test_long_member_name_is_refused_by_name(tmp_path: Path) -> None:
    archive = tmp_path / "long.tar.gz"
    _tarball(archive, [_dir("snap"), tarfile.TarInfo("snap/" + "n" * 5000)])
    run = _run("scan", "--root", str(archive))
    _ok(run, 2)
    assert "characters" in run.err
    assert "hostcheck-snapshot-" not in run.err  # the vanished temporary copy is not blamed


def test_member_cap_is_near_what_a_snapshot_holds(tmp_path: Path) -> None:
    assert MAX_MEMBERS <= 50_000
    assert MAX_NAME_DEPTH >= 24  # deeper than any sysfs path the probes read
    archive = tmp_path / "many.tar.gz"
    _tarball(archive, [_dir("snap")] + [tarfile.TarInfo(f"snap/{i}") for i in range(MAX_MEMBERS)])
    started = time.monotonic()
    with pytest.raises(ArchiveError, match="a snapshot holds a few thousand"):
        extract(str(archive), str(tmp_path / "out"))
    assert time.monotonic() - started < 60


def test_full_tmpdir_is_not_blamed_on_output(cli, monkeypatch, tmp_path: Path) -> None:
    """A tarball is staged in TMPDIR: a full TMPDIR is said to be that."""
    import errno
    import tempfile

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    run = cli("snapshot", "--fixture", "stock-128g", "-o", str(tmp_path / "s.tar.gz"))
    assert run.code == 2
    assert "temporary directory" in run.err and "TMPDIR" in run.err
    assert "--output" not in run.err


def test_full_tmpdir_while_unpacking_says_so(monkeypatch, tmp_path: Path) -> None:
    import errno

    archive = tmp_path / "ok.tar.gz"
    _tarball(archive, [_dir("snap"), tarfile.TarInfo("snap/file")])

    def full(self: tarfile.TarFile, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tarfile.TarFile, "extract", full)
    with pytest.raises(ArchiveError, match="set TMPDIR to a directory with room"):
        extract(str(archive), str(tmp_path / "out"))
