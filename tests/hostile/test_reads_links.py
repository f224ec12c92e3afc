"""Symbolic link chains in a host tree never lead a read outside --root (issue 18, item 1).

A chain of more than 40 links used to be handed, unresolved, to open()/listdir(), and the
kernel followed the rest on the real filesystem."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostcheck.host.core import Host
from hostcheck.host.paths import MAX_LINK_HOPS
from hostcheck.readings import Reason, Unavailable, Value
from tests.conftest import FIXTURES

SECRET = "outside-the-root-7f3a"


def _chain(root: Path, name: str, length: int, target: str) -> str:
    """Links /NAME1 -> NAME2 -> … -> NAME<length> -> target at the top of root; returns the
    absolute host path of the first."""
    for i in range(1, length):
        os.symlink(f"{name}{i + 1}", root / f"{name}{i}")
    os.symlink(target, root / f"{name}{length}")
    return f"/{name}1"


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    (outside / "device").mkdir(parents=True)
    (outside / "hostname").write_text(SECRET + "\n")
    (outside / "device" / "uevent").write_text(f"DRIVER=amdgpu\nPCI_ID=1002:1586\n{SECRET}\n")
    return outside


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(length=st.integers(min_value=1, max_value=MAX_LINK_HOPS + 20))
def test_file_chain_never_reads_outside(tmp_path_factory, length: int) -> None:
    base = tmp_path_factory.mktemp("links")
    outside = _outside(base)
    root = base / "root"
    shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
    hostname = root / "proc/sys/kernel/hostname"
    hostname.unlink()
    hostname.symlink_to(_chain(root, "l", length, str(outside / "hostname")))
    host = Host(root)
    read = host.read_text("/proc/sys/kernel/hostname")
    assert not (isinstance(read, Value) and SECRET in read.value)
    assert isinstance(read, Unavailable)
    # 1 link (hostname) + the chain: beyond the kernel's limit it is a loop, never followed
    if length + 1 > MAX_LINK_HOPS:
        assert read.reason is Reason.ERROR
        assert "symbolic links" in read.describe()
    else:
        assert read.reason is Reason.MISSING  # the absolute target, re-rooted: not in the tree
    assert not host.is_dir("/proc/sys/kernel/hostname")


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(length=st.integers(min_value=MAX_LINK_HOPS - 2, max_value=MAX_LINK_HOPS + 20))
def test_directory_chain_never_lists_outside(tmp_path_factory, length: int) -> None:
    base = tmp_path_factory.mktemp("links")
    outside = _outside(base)
    root = base / "root"
    shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
    card = root / "sys/class/drm/card1"
    if card.is_symlink() or card.is_file():
        card.unlink()
    else:
        shutil.rmtree(card)
    card.symlink_to(_chain(root, "d", length, str(outside)))
    host = Host(root)
    listed = host.listdir("/sys/class/drm/card1/device")
    uevent = host.read_text("/sys/class/drm/card1/device/uevent")
    assert isinstance(listed, Unavailable)
    assert isinstance(uevent, Unavailable)
    assert not host.is_dir("/sys/class/drm/card1")
    assert isinstance(host.stat("/sys/class/drm/card1/device/uevent"), Unavailable)


def test_scan_does_not_print_a_host_name_from_outside(tmp_path: Path, fixture_copy) -> None:
    """The reported repro: the host name read through 41 links came from outside the copy."""
    from tests.conftest import run_subprocess

    outside = _outside(tmp_path)
    root = fixture_copy("stock-128g")
    hostname = root / "proc/sys/kernel/hostname"
    hostname.unlink()
    hostname.symlink_to(_chain(root, "l", 41, str(outside / "hostname")))
    done = run_subprocess("scan", "--root", str(root), "--format", "json", timeout=60)
    assert done.code in (0, 1), done.err
    assert SECRET not in done.out
    assert SECRET not in done.err


def test_directory_chain_does_not_make_gpu_present(tmp_path: Path, fixture_copy, cli) -> None:
    """A GPU directory outside the root, reached through a long chain, is not this host's;
    the same directory inside the root, through a short chain, is (the control)."""
    root = fixture_copy("stock-128g")
    card = root / "sys/class/drm/card1"
    kept = root / "kept-card1"
    shutil.move(card, kept)
    card.symlink_to(_chain(root, "s", 3, "/kept-card1"))
    assert (
        cli("scan", "--root", str(root), "--format", "json").finding("gpu.present")["status"]
        == "pass"
    )
    outside = tmp_path / "gpu-outside"
    shutil.move(kept, outside)
    card.unlink()
    card.symlink_to(_chain(root, "g", 45, str(outside)))
    done = cli("scan", "--root", str(root), "--format", "json")
    assert done.code in (0, 1), done.err
    assert done.finding("gpu.present")["status"] != "pass"
