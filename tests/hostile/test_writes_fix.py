"""Hostile trees and faults for `hostcheck fix`'s writes (issue 18, write half): a planted lock
link, unreadable modprobe.d files, full and read-only file systems, a kill inside the atomic
replace, damaged journals. Everything runs on copies of fixture trees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_fix import hc, snapshot

JOURNAL_DIR = "var/lib/hostcheck/fix"


def _tree_without_journal(root: Path) -> dict[str, Any]:
    return {k: v for k, v in snapshot(root).items()}


# --- item 2: a planted lock link --------------------------------------------------------------


@pytest.mark.parametrize("action", [["--apply", "--yes"], ["--undo"], ["--resume"]])
def test_a_planted_lock_link_is_refused_and_never_followed(fixture_copy, tmp_path, action) -> None:
    root = fixture_copy("stock-128g")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / JOURNAL_DIR).mkdir(parents=True)
    (root / JOURNAL_DIR / "lock").symlink_to(outside / "nologin")
    before = snapshot(root)
    run = hc("fix", "--root", str(root), *action)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("hostcheck: error: ")
    assert f"{root.resolve()}/{JOURNAL_DIR}/lock is a symbolic link" in run.stderr
    assert list(outside.iterdir()) == []  # nothing created through the link
    assert snapshot(root) == before


def test_a_lock_link_to_an_existing_file_leaves_it_untouched(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me\n")
    victim.chmod(0o644)
    (root / JOURNAL_DIR).mkdir(parents=True)
    (root / JOURNAL_DIR / "lock").symlink_to(victim)
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2, run.stderr
    assert victim.read_bytes() == b"keep me\n" and (victim.stat().st_mode & 0o777) == 0o644
    assert not list((root / JOURNAL_DIR).glob("*.json"))  # no transaction began


def test_a_link_in_the_journal_path_is_refused_at_the_first_link(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "var/lib/hostcheck").mkdir(parents=True)
    (root / "var/lib/hostcheck/fix").symlink_to(outside)
    for action in (["--apply", "--yes"], ["--undo"], ["--resume"]):
        run = hc("fix", "--root", str(root), *action)
        assert run.returncode == 2, run.stderr
        assert "var/lib/hostcheck/fix is a symbolic link" in run.stderr
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "action", [["--undo"], ["--resume"], ["--undo", "20260101T000000.000000Z-abcd"]]
)
def test_a_refused_undo_or_resume_creates_nothing_in_the_tree(fixture_copy, action) -> None:
    root = fixture_copy("stock-128g")
    before = snapshot(root)
    run = hc("fix", "--root", str(root), *action)
    assert run.returncode == 2, run.stderr
    assert "no transaction" in run.stderr or "no interrupted transaction" in run.stderr
    assert not (root / "var/lib/hostcheck").exists()  # no journal directory, no lock
    assert snapshot(root) == before


# --- item 10: an unreadable modprobe.d file stops a plan that touches module parameters -----


def _unreadable(root: Path, items: dict[str, tuple[str, str]]) -> None:
    """Mark host paths as a snapshot saw them: unreadable, with a reason and detail."""
    record = {
        path: {"reason": reason, "source": path, "detail": detail}
        for path, (reason, detail) in items.items()
    }
    (root / ".hostcheck/unreadable.json").write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("reason", "detail"),
    [
        ("permission", "Permission denied"),
        ("error", "Input/output error"),
        ("timeout", "read took over 2 s"),
    ],
)
def test_an_unreadable_modprobe_d_file_refuses_the_plan(fixture_copy, reason, detail) -> None:
    """rocm5590-mes-hang needs amdgpu.cwsr_enable=0; a local file sets cwsr_enable=1."""
    root = fixture_copy("rocm5590-mes-hang")
    conf = root / "etc/modprobe.d/amdgpu-local.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("options amdgpu cwsr_enable=1\n")
    # Readable, the plan puts the option in modprobe.d, read after that file, so ours wins.
    readable = hc("fix", "--root", str(root))
    assert readable.returncode == 0, readable.stderr
    assert "+options amdgpu cwsr_enable=0" in readable.stdout
    _unreadable(root, {"/etc/modprobe.d/amdgpu-local.conf": (reason, detail)})
    before = snapshot(root)
    for action in ([], ["--apply", "--yes"]):
        run = hc("fix", "--root", str(root), *action)
        assert run.returncode == 2, run.stdout + run.stderr
        assert run.stderr.count("\n") == 1
        assert (
            f"cannot plan module options: /etc/modprobe.d/amdgpu-local.conf: {reason} ({detail})"
            in run.stderr
        )
        assert "cwsr_enable" not in run.stdout  # no plan shown
    assert snapshot(root) == before


def test_an_unlistable_modprobe_d_directory_refuses_the_plan(fixture_copy) -> None:
    root = fixture_copy("rocm5590-mes-hang")
    (root / "etc/modprobe.d").mkdir(parents=True)
    _unreadable(root, {"/etc/modprobe.d": ("permission", "Permission denied")})
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "cannot plan module options: /etc/modprobe.d: permission" in run.stderr
    assert not (root / "etc/default/grub.d/99-hostcheck.cfg").exists()


def test_a_plan_without_module_parameters_ignores_an_unreadable_modprobe_d_file(
    fixture_copy,
) -> None:
    root = fixture_copy("stock-128g")
    conf = root / "etc/modprobe.d/other.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("options snd_hda_intel power_save=0\n")
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    _unreadable(root, {"/etc/modprobe.d/other.conf": ("permission", "Permission denied")})
    run = hc("fix", "--root", str(root), "--only", "sysctl.numa-balancing")
    assert run.returncode == 0, run.stderr
    assert "+kernel.numa_balancing = 0" in run.stdout
