"""hostcheck fix: plan → apply on a copy → scan shows the staged values → undo → byte-identical.

Everything runs on copies of fixture trees (``--root``); real update-grub and kernel-install
run inside a private mount namespace or with their redirection variables. Nothing here touches
this machine's /etc or /boot.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import system_tool

JOURNAL = "var/lib/hostcheck"


def snapshot(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every file's bytes (or link target) and mode, except the journal."""
    out: dict[str, tuple[bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        # The journal stays (with the directories made for it): it is the history.
        if rel.startswith(JOURNAL) or (JOURNAL.startswith(rel + "/") and path.is_dir()):
            continue
        st = path.lstat()
        if path.is_symlink():
            out[rel] = (os.readlink(path), st.st_mode)
        elif path.is_file():
            out[rel] = (path.read_bytes(), st.st_mode)
        else:
            out[rel] = ("<dir>", st.st_mode)
    return out


def hc(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`python -m hostcheck ARGS…` in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hostcheck", *args],
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def statuses(root: Path, *extra: str) -> dict[str, str]:
    run = hc("scan", "--root", str(root), "--format", "json", *extra)
    return {f["rule"]: f["status"] for f in json.loads(run.stdout)["findings"]}


def fixable(root: Path) -> set[str]:
    run = hc("scan", "--root", str(root), "--format", "json")
    return {
        f["rule"]
        for f in json.loads(run.stdout)["findings"]
        if f["remediation"] and f["remediation"]["kind"] != "manual"
    }


def round_trip(root: Path, *fix_args: str) -> tuple[str, dict[str, str]]:
    """apply, scan, undo; asserts the tree is byte-identical afterwards. Returns the apply
    output and the statuses seen between."""
    before = snapshot(root)
    want = fixable(root)
    assert want, "the fixture should have something to fix"
    applied = hc("fix", "--root", str(root), "--apply", "--yes", *fix_args)
    assert applied.returncode == 0, applied.stderr
    seen = statuses(root)
    undone = hc("fix", "--root", str(root), "--undo")
    assert undone.returncode == 0, undone.stderr
    assert snapshot(root) == before
    return applied.stdout, {rule: seen[rule] for rule in want}


# --- the plan ---------------------------------------------------------------------------------


def test_dry_run_on_the_stock_host_prints_a_checkable_plan_and_changes_nothing() -> None:
    run = hc("fix", "--fixture", "stock-128g")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "+++ b/etc/default/grub.d/99-hostcheck.cfg" in out
    # MemTotal 130 GiB less 8 GiB headroom = 122 GiB... as the scan computed: 114 GiB here.
    assert (
        '+GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }'
        'ttm.pages_limit=29884416 ttm.page_pool_size=29884416 amd_iommu=off"' in out
    )
    assert "  update-grub    # regenerate /boot/grub/grub.cfg" in out
    assert "A reboot is needed" in out
    assert "Dry run: nothing was changed" in out


def test_grub_round_trip_shows_every_fixable_rule_pending(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    out, seen = round_trip(root)
    assert "pending (run on the host itself): update-grub" in out
    assert seen == {"memory.gtt": "fixed-pending-reboot", "perf.iommu": "fixed-pending-reboot"}


def test_applying_twice_changes_nothing_the_second_time(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    after_first = snapshot(root)
    again = hc("fix", "--root", str(root), "--apply", "--yes")
    assert again.returncode == 0
    assert "Nothing to do" in again.stdout
    assert snapshot(root) == after_first
    history = hc("fix", "--root", str(root), "--history").stdout.splitlines()
    assert len(history) == 1 and "complete" in history[0]


def test_fedora_grubby_plan_and_staged_read_back(fixture_copy) -> None:
    """grubby has no Debian package: check the argv, then edit the BLS entry as grubby
    would and check the scan reads it back as staged."""
    root = fixture_copy("typo-kargs")
    # A kernel with the KFD fixes (6.18.4 and later): amdgpu.cwsr passes on it with this ROCm.
    (root / "proc/sys/kernel/osrelease").write_text("6.18.6-200.fc43.x86_64\n")
    plan = hc("fix", "--root", str(root))
    line = next(x for x in plan.stdout.splitlines() if x.strip().startswith("grubby"))
    assert "'--remove-args=aamdgpu.cwsr_enable amdgpu.gttsize'" in line
    # amdgpu.cwsr passes on this kernel and ROCm: the misspelled workaround is removed, not
    # corrected (amdgpu.cwsr would ask to remove it again after the reboot).
    assert "amdgpu.cwsr_enable=0" not in line.replace("aamdgpu", "")
    entry = next((root / "boot/loader/entries").glob("*.conf"))
    text = entry.read_text()
    options = next(x for x in text.splitlines() if x.startswith("options "))
    new = options.replace(" aamdgpu.cwsr_enable=0", "").replace(" amdgpu.gttsize=131072", "")
    entry.write_text(text.replace(options, new))
    seen = statuses(root)
    assert seen["kernel.params"] == "fixed-pending-reboot"


def test_typo_kargs_fix_leaves_nothing_for_amdgpu_cwsr_to_undo(fixture_copy) -> None:
    """The fix for the misspelled aamdgpu.cwsr_enable=0 used to add amdgpu.cwsr_enable=0,
    which amdgpu.cwsr (passing: kernel 6.18.6 and ROCm 7.2 carry the CWSR fix) then asked to
    remove after the reboot. After apply and a reboot into the staged command line, both pass
    and the next plan is empty."""
    from tests.conftest import boot_as_configured

    root = fixture_copy("typo-kargs")
    # A kernel with the KFD fixes (6.18.4 and later): amdgpu.cwsr passes on it with this ROCm.
    (root / "proc/sys/kernel/osrelease").write_text("6.18.6-200.fc43.x86_64\n")
    plan = hc("fix", "--root", str(root), "--only", "kernel.params")
    line = next(x for x in plan.stdout.splitlines() if x.strip().startswith("grubby"))
    assert "--args=" not in line, line
    entry = next((root / "boot/loader/entries").glob("*.conf"))
    options = next(x for x in entry.read_text().splitlines() if x.startswith("options "))
    rebooted = options.removeprefix("options ").replace(" aamdgpu.cwsr_enable=0", "")
    rebooted = rebooted.replace(" amdgpu.gttsize=131072", "")
    (root / "proc/cmdline").write_text(rebooted + "\n")
    boot_as_configured(root, rebooted)
    seen = statuses(root)
    assert seen["kernel.params"] == "pass"
    assert seen["amdgpu.cwsr"] == "pass"


@pytest.mark.parametrize("loader", ["rpm-ostree", "bootc"])
def test_ostree_hosts_use_rpm_ostree_kargs(fixture_copy, loader: str) -> None:
    root = fixture_copy("typo-kargs")
    (root / "run").mkdir(exist_ok=True)
    (root / "run/ostree-booted").write_text("")
    if loader == "bootc":
        (root / "usr/bin").mkdir(parents=True, exist_ok=True)
        (root / "usr/bin/bootc").write_text("")
    run = hc("fix", "--root", str(root))
    assert f"boot loader: {loader}" in run.stdout
    line = next(x for x in run.stdout.splitlines() if x.strip().startswith("rpm-ostree kargs"))
    # The exact staged spellings are deleted; the new values appended; if-present/if-missing
    # so that a re-run or an undo of a step that never ran cannot fail.
    # 6.18.0 lacks the KFD fixes (6.18.4): amdgpu.cwsr fails, so the workaround is spelled
    # right, and the misspelled one removed.
    assert "--append-if-missing=amdgpu.cwsr_enable=0" in line
    assert "--delete-if-present=aamdgpu.cwsr_enable=0" in line
    assert "--delete-if-present=amdgpu.gttsize=131072" in line
    assert "--delete-if-present=ttm.pages_limit=33554432" in line
    assert "--append-if-missing=ttm.pages_limit=29884416" in line
    if loader == "bootc":
        assert "/usr/lib/bootc/kargs.d/99-hostcheck.toml" in run.stdout


def _systemd_boot(root: Path) -> None:
    shutil.rmtree(root / "boot/grub")
    (root / "boot/efi/loader/entries").mkdir(parents=True)
    (root / "boot/efi/loader/loader.conf").write_text("timeout 3\n")


def test_systemd_boot_round_trip(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    _systemd_boot(root)
    plan = hc("fix", "--root", str(root))
    assert "+++ b/etc/kernel/cmdline" in plan.stdout
    # Created from /proc/cmdline, so root= and the user's arguments survive.
    assert (
        "+root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5 ro quiet splash vt.handoff=7 "
        "ttm.pages_limit=29884416 ttm.page_pool_size=29884416 amd_iommu=off" in plan.stdout
    )
    assert "kernel-install add 6.17.0-19-generic /usr/lib/modules/6.17.0-19-generic/vmlinuz" in (
        plan.stdout
    )
    _out, seen = round_trip(root)
    assert set(seen.values()) == {"fixed-pending-reboot"}


@pytest.mark.system
def test_kernel_install_writes_an_entry_with_the_new_arguments(fixture_copy, tmp_path) -> None:
    """The real kernel-install, redirected into the copy (KERNEL_INSTALL_CONF_ROOT, BOOT_ROOT)."""
    kernel_install = system_tool("kernel-install")
    root = fixture_copy("stock-128g")
    _systemd_boot(root)
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    (root / "etc/kernel/install.conf").write_text("layout=bls\n")
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"not a kernel")
    (tmp_path / "modules").mkdir()
    env = {
        **os.environ,
        "KERNEL_INSTALL_CONF_ROOT": str(root / "etc/kernel"),
        "BOOT_ROOT": str(root / "boot/efi"),
        "MACHINE_ID": "0123456789abcdef0123456789abcdef",
        "KERNEL_INSTALL_MODULES_DIR": str(tmp_path / "modules"),
    }
    subprocess.run(
        [kernel_install, "add", "6.17.0-19-generic", str(kernel)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    entry = (root / "boot/efi/loader/entries").glob("*6.17.0-19-generic.conf")
    options = next(x for x in next(entry).read_text().splitlines() if x.startswith("options"))
    assert options.split()[1:3] == ["root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5", "ro"]
    assert "ttm.pages_limit=29884416 ttm.page_pool_size=29884416 amd_iommu=off" in options
    # The scan now reads the generated entry too, and still calls the rules pending.
    assert statuses(root)["memory.gtt"] == "fixed-pending-reboot"


def test_module_options_go_to_modprobe_d_and_rebuild_the_initramfs(fixture_copy) -> None:
    root = fixture_copy("dkms-amdttm")
    plan = hc("fix", "--root", str(root), "--module-options", "modprobe")
    assert "+++ b/etc/modprobe.d/zz-hostcheck.conf" in plan.stdout
    assert "+options amdttm page_pool_size=29884416 pages_limit=29884416" in plan.stdout
    assert "update-initramfs -u -k all" in plan.stdout
    _out, seen = round_trip(root, "--module-options", "modprobe")
    assert seen["memory.gtt"] == "fixed-pending-reboot"
    # This rule judges the configuration (which module the limits are set for), and that
    # now names the module in use.
    assert seen["memory.ttm-module"] == "pass"


def test_sysctl_drop_in_and_live_value_for_the_changed_key_only(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    plan = hc("fix", "--root", str(root), "--only", "sysctl.numa-balancing")
    assert "+kernel.numa_balancing = 0" in plan.stdout
    assert "sysctl -w kernel.numa_balancing=0" in plan.stdout
    assert "sysctl --system" not in plan.stdout
    assert "No reboot needed." in plan.stdout
    _out, seen = round_trip(root, "--only", "sysctl.numa-balancing")
    assert seen["sysctl.numa-balancing"] == "fixed-pending-reboot"


# --- the real update-grub ---------------------------------------------------------------------


@pytest.mark.system
def test_update_grub_puts_the_arguments_on_the_kernel_line(fixture_copy, tmp_path) -> None:
    """Real update-grub in a private mount namespace, over copies of /boot and /etc/default;
    the user's own GRUB_CMDLINE_LINUX_DEFAULT carries arguments the fix removes."""
    system_tool("update-grub")  # a fresh Debian has no grub2-common: skip, naming it
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace (unshare -m) over /boot needs root")
    root = fixture_copy("stock-128g")
    grub = root / "etc/default/grub"
    grub.write_text(
        grub.read_text().replace(
            'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"',
            'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash iommu=pt ttm.pages_limit=1"',
        )
    )
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    boot = tmp_path / "boot"
    (boot / "grub").mkdir(parents=True)
    (boot / "vmlinuz-6.17.0-19-generic").write_bytes(b"")
    (boot / "initrd.img-6.17.0-19-generic").write_bytes(b"")
    script = (
        f"mount --bind {boot} /boot && mount --bind {root}/etc/default /etc/default && update-grub"
    )
    subprocess.run(
        ["unshare", "-m", "sh", "-c", script], check=True, capture_output=True, timeout=300
    )
    cfg = (boot / "grub/grub.cfg").read_text()
    line = next(x for x in cfg.splitlines() if x.strip().startswith("linux"))
    args = line.split()[4:]  # linux IMAGE root=… ro …
    assert args == [
        "ttm.pages_limit=29884416",
        "ttm.page_pool_size=29884416",
        "amd_iommu=off",
        "quiet",
        "splash",
    ]
    # The static reader agrees with what grub-mkconfig made of the same files.
    from hostcheck.host.core import Host
    from hostcheck.probes import collect

    staged = collect(Host(root)).boot.staged
    assert staged.value == args  # type: ignore[union-attr]


# --- interrupted transactions -----------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_a_kill_after_each_step_is_detected_and_undone(fixture_copy, step: int) -> None:
    """Four steps: the GRUB drop-in, the sysctl drop-in, update-grub and sysctl -w (the last
    two pending under --root, but journaled as steps all the same)."""
    root = fixture_copy("stock-128g")
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    before = snapshot(root)
    plan = hc("fix", "--root", str(root)).stdout
    assert plan.count("+++ b/") == 2 and "update-grub" in plan and "sysctl -w" in plan
    env = {**os.environ, "HOSTCHECK_TEST_CRASH_AFTER_STEP": str(step)}
    killed = hc("fix", "--root", str(root), "--apply", "--yes", env=env)
    assert killed.returncode == 137
    again = hc("fix", "--root", str(root), "--apply", "--yes")
    assert again.returncode == 2
    assert "was interrupted while applying after" in again.stderr
    assert "--resume" in again.stderr
    undone = hc("fix", "--root", str(root), "--undo")
    assert undone.returncode == 0, undone.stderr
    assert snapshot(root) == before


def test_an_interrupted_transaction_can_be_completed(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    env = {**os.environ, "HOSTCHECK_TEST_CRASH_AFTER_STEP": "1"}
    assert hc("fix", "--root", str(root), "--apply", "--yes", env=env).returncode == 137
    resumed = hc("fix", "--root", str(root), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(root)["memory.gtt"] == "fixed-pending-reboot"


# --- refusals ---------------------------------------------------------------------------------


def test_a_symlinked_drop_in_directory_is_refused(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "etc/default/grub.d").symlink_to(outside)
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "is a symbolic link" in run.stderr
    assert list(outside.iterdir()) == []


def test_a_symlinked_drop_in_file_is_refused(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    (root / "etc/default/grub.d").mkdir()
    target = tmp_path / "elsewhere.cfg"
    (root / "etc/default/grub.d/99-hostcheck.cfg").symlink_to(target)
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "refusing" in run.stderr or "not written by hostcheck" in run.stderr
    assert not target.exists()


def test_a_foreign_file_with_our_name_is_not_overwritten(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    (root / "etc/default/grub.d").mkdir()
    mine = root / "etc/default/grub.d/99-hostcheck.cfg"
    mine.write_text('GRUB_CMDLINE_LINUX="mine"\n')
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "was not written by hostcheck" in run.stderr
    assert mine.read_text() == 'GRUB_CMDLINE_LINUX="mine"\n'


def test_a_second_run_waits_for_the_lock(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    journal = root / "var/lib/hostcheck/fix"
    journal.mkdir(parents=True)
    with open(journal / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "another `hostcheck fix` is running" in run.stderr
    assert not (root / "etc/default/grub.d").exists()


def test_undo_refuses_to_lose_a_later_edit_without_force(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    dropin = root / "etc/default/grub.d/99-hostcheck.cfg"
    dropin.write_text(dropin.read_text() + "# my edit\n")
    run = hc("fix", "--root", str(root), "--undo")
    assert run.returncode == 2
    assert "changed since hostcheck wrote them" in run.stderr
    assert hc("fix", "--root", str(root), "--undo", "--force").returncode == 0
    assert not dropin.exists()


def test_applying_to_this_host_needs_root() -> None:
    """As an unprivileged user the refusal comes before anything is read or written."""
    run = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "hostcheck",
            "fix",
            "--apply",
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "needs root" in run.stderr


def test_apply_without_yes_needs_a_terminal(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    run = hc("fix", "--root", str(root), "--apply")
    assert run.returncode == 2
    assert "needs a terminal" in run.stderr
    assert not (root / "etc/default/grub.d").exists()


def test_fixtures_are_read_only() -> None:
    run = hc("fix", "--fixture", "stock-128g", "--apply", "--yes")
    assert run.returncode == 2
    assert "read-only" in run.stderr


def test_an_unwritable_tree_is_refused_and_left_alone(tmp_path_factory) -> None:
    """Permission denied (here: an unprivileged user on a root-owned copy it can read) is a
    one-line refusal, and nothing changes."""
    import tempfile

    from tests.conftest import FIXTURES

    base = Path(tempfile.mkdtemp(prefix="hostcheck-perm-", dir="/tmp"))
    base.chmod(0o755)
    root = base / "stock-128g"
    shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
    root.chmod(0o755)
    before = snapshot(root)
    run = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "hostcheck",
            "fix",
            "--root",
            str(root),
            "--apply",
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith("hostcheck: error: ")
        assert "Permission denied" in run.stderr or "permission denied" in run.stderr
        assert snapshot(root) == before
    finally:
        shutil.rmtree(base)


def test_unknown_rule_for_only_is_a_usage_error() -> None:
    run = hc("fix", "--fixture", "stock-128g", "--only", "memory.nope")
    assert run.returncode == 2
    assert "unknown rule id(s) for --only: memory.nope" in run.stderr


def test_history_of_a_fixture_is_its_own() -> None:
    run = hc("fix", "--fixture", "stock-128g", "--history")
    assert run.returncode == 0
    assert run.stdout == "No transactions.\n"


# --- cases a review found -----------------------------------------------------------------------


def test_systemd_boot_without_root_is_refused(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    _systemd_boot(root)
    (root / "etc/kernel").mkdir(parents=True, exist_ok=True)
    (root / "etc/kernel/cmdline").write_text("quiet splash\n")
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "would have no root=" in run.stderr


def test_kernel_install_uses_the_debian_image_path_and_initrd(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    _systemd_boot(root)
    (root / "boot/vmlinuz-6.17.0-19-generic").write_bytes(b"")
    (root / "boot/initrd.img-6.17.0-19-generic").write_bytes(b"")
    plan = hc("fix", "--root", str(root)).stdout
    assert (
        "kernel-install add 6.17.0-19-generic /boot/vmlinuz-6.17.0-19-generic "
        "/boot/initrd.img-6.17.0-19-generic" in plan
    )


def test_a_limit_set_in_modprobe_d_and_on_the_command_line_ends_up_agreeing(fixture_copy) -> None:
    """auto: the parameter goes to our modprobe.d drop-in and off the command line, so the
    scan sees one staged value and calls the rule pending, and a second run has nothing to do."""
    root = fixture_copy("stock-128g")
    (root / "etc/modprobe.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/modprobe.d/ttm.conf").write_text("options ttm pages_limit=1000\n")
    grub = root / "etc/default/grub"
    grub.write_text(
        grub.read_text().replace(
            'GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="ttm.pages_limit=1000"'
        )
    )
    cmdline = root / "proc/cmdline"
    cmdline.write_text(cmdline.read_text().strip() + " ttm.pages_limit=1000\n")
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    dropin = (root / "etc/modprobe.d/zz-hostcheck.conf").read_text()
    assert "options ttm page_pool_size=29884416 pages_limit=29884416" in dropin
    assert statuses(root)["memory.gtt"] == "fixed-pending-reboot"
    again = hc("fix", "--root", str(root), "--apply", "--yes")
    assert "Nothing to do" in again.stdout
    assert "Staged, waiting for a reboot: memory.gtt" in again.stdout


def test_cmdline_routing_overrides_a_modprobe_d_value_with_the_same_one(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    (root / "etc/modprobe.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/modprobe.d/ttm.conf").write_text("options ttm pages_limit=1000\n")
    run = hc("fix", "--root", str(root), "--apply", "--yes", "--module-options", "cmdline")
    assert run.returncode == 0, run.stderr
    assert "ttm.pages_limit=29884416" in (root / "etc/default/grub.d/99-hostcheck.cfg").read_text()
    assert "pages_limit=29884416" in (root / "etc/modprobe.d/zz-hostcheck.conf").read_text()
    assert statuses(root)["memory.gtt"] == "fixed-pending-reboot"


def test_a_symlinked_journal_directory_is_refused(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "var/lib/hostcheck").symlink_to(elsewhere)
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "the journal: " in run.stderr and "var/lib/hostcheck is a symbolic link" in run.stderr
    assert list(elsewhere.iterdir()) == []


def test_resume_does_not_overwrite_a_file_edited_meanwhile(fixture_copy) -> None:
    root = fixture_copy("dkms-amdttm")
    env = {**os.environ, "HOSTCHECK_TEST_CRASH_AFTER_STEP": "1"}
    assert hc("fix", "--root", str(root), "--apply", "--yes", env=env).returncode == 137
    mine = root / "etc/sysctl.d/zz-hostcheck.conf"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("vm.swappiness = 10  # mine\n")
    run = hc("fix", "--root", str(root), "--resume")
    assert run.returncode == 2
    assert "changed since transaction" in run.stderr
    assert mine.read_text() == "vm.swappiness = 10  # mine\n"


def test_undo_takes_the_latest_of_two_quick_transactions(fixture_copy) -> None:
    root = fixture_copy("dkms-amdttm")
    for only in ("sysctl.numa-balancing", "memory.gtt"):
        assert hc("fix", "--root", str(root), "--apply", "--yes", "--only", only).returncode == 0
    history = hc("fix", "--root", str(root), "--history").stdout.splitlines()
    assert "sysctl.numa-balancing" in history[0] and "memory.gtt" in history[1]
    assert hc("fix", "--root", str(root), "--undo").returncode == 0
    assert (root / "etc/sysctl.d/zz-hostcheck.conf").exists()
    assert not (root / "etc/default/grub.d/99-hostcheck.cfg").exists()


def test_sysctl_fixes_are_idempotent_under_root_and_need_no_reboot(fixture_copy) -> None:
    root = fixture_copy("dkms-amdttm")
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    again = hc("fix", "--root", str(root), "--apply", "--yes")
    assert "Nothing to do" in again.stdout
    assert len(hc("fix", "--root", str(root), "--history").stdout.splitlines()) == 1
    only = fixture_copy("dkms-amdttm")
    plan = hc("fix", "--root", str(only), "--only", "sysctl.numa-balancing").stdout
    assert "No reboot needed." in plan


def test_emit_is_declarative_even_after_a_local_apply(fixture_copy) -> None:
    root = fixture_copy("dkms-amdttm")
    assert (
        hc(
            "fix", "--root", str(root), "--apply", "--yes", "--only", "sysctl.numa-balancing"
        ).returncode
        == 0
    )
    run = hc("fix", "--root", str(root), "--emit", "machineconfig")
    assert run.returncode == 0, run.stderr
    # The MachineConfig's own drop-in (named after it), though this host already has one.
    assert '"/etc/sysctl.d/zz-99-worker-hostcheck.conf"' in run.stdout


def test_non_utf8_kernel_cmdline_is_kept_byte_for_byte(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    _systemd_boot(root)
    (root / "etc/kernel").mkdir(parents=True, exist_ok=True)
    original = b"root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5 ro lang=\xe9\n"
    (root / "etc/kernel/cmdline").write_bytes(original)
    before = snapshot(root)
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 0, run.stderr
    assert hc("fix", "--root", str(root), "--undo").returncode == 0
    assert snapshot(root) == before


def test_a_dry_run_after_a_crash_warns(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    env = {**os.environ, "HOSTCHECK_TEST_CRASH_AFTER_STEP": "1"}
    assert hc("fix", "--root", str(root), "--apply", "--yes", env=env).returncode == 137
    run = hc("fix", "--root", str(root))
    assert run.returncode == 0
    assert run.stdout.startswith("warning: transaction ")
    assert "--resume" in run.stdout


def test_root_slash_is_this_host_and_needs_root() -> None:
    run = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "hostcheck",
            "fix",
            "--root",
            "/",
            "--apply",
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "needs root" in run.stderr


def test_exclude_leaves_a_rule_out() -> None:
    run = hc("fix", "--fixture", "stock-128g", "--exclude", "perf.iommu")
    assert run.returncode == 0
    assert "Plan for" in run.stdout and "fixes memory.gtt (boot loader: grub)" in run.stdout
    assert "amd_iommu" not in run.stdout


def test_ostree_round_trip_lists_the_command_and_its_inverse(fixture_copy) -> None:
    """Under --root an rpm-ostree host's change is a command only: apply journals it as a
    pending step, a new deployment's BLS entry (what rpm-ostree would stage) reads back as
    staged, and undo lists the inverse command."""
    root = fixture_copy("typo-kargs")
    (root / "run").mkdir(exist_ok=True)
    (root / "run/ostree-booted").write_text("")
    before = snapshot(root)
    applied = hc("fix", "--root", str(root), "--apply", "--yes", "--only", "kernel.params")
    assert applied.returncode == 0, applied.stderr
    assert "pending (run on the host itself): rpm-ostree kargs" in applied.stdout
    # What `rpm-ostree kargs` stages: a second deployment whose entry sorts first.
    entries = root / "boot/loader/entries"
    old = next(entries.glob("*.conf")).read_text()
    options = next(x for x in old.splitlines() if x.startswith("options "))
    # 6.18.0 lacks the KFD fixes: the misspelling is corrected, not dropped (amdgpu.cwsr fails).
    staged = options.replace(" aamdgpu.cwsr_enable=0", " amdgpu.cwsr_enable=0")
    (entries / "ostree-2-fedora.conf").write_text(
        old.replace(options, staged).replace("version 6.18.0-65.fc44.x86_64", "version 99")
    )
    assert statuses(root)["kernel.params"] == "fixed-pending-reboot"
    (entries / "ostree-2-fedora.conf").unlink()
    undone = hc("fix", "--root", str(root), "--undo")
    assert undone.returncode == 0, undone.stderr
    line = next(x for x in undone.stdout.splitlines() if "rpm-ostree kargs" in x)
    assert "--append-if-missing=aamdgpu.cwsr_enable=0" in line
    assert snapshot(root) == before


def test_host_text_in_a_plan_cannot_drive_the_terminal(fixture_copy) -> None:
    """An ESC in a file the plan diffs (here /etc/kernel/cmdline) is shown as \\x1b."""
    root = fixture_copy("stock-128g")
    _systemd_boot(root)
    (root / "etc/kernel").mkdir(parents=True, exist_ok=True)
    (root / "etc/kernel/cmdline").write_bytes(
        b"root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5 ro title=\x1b]0;OWNED\x07\n"
    )
    run = hc("fix", "--root", str(root))
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    assert "title=\\x1b]0;OWNED\\x07" in run.stdout


def test_a_journal_that_is_not_one_is_a_clear_refusal(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    journal = root / "var/lib/hostcheck/fix"
    journal.mkdir(parents=True)
    (journal / "x.json").write_text("[1, 2]\n")
    run = hc("fix", "--root", str(root), "--history")
    assert run.returncode == 2
    assert "not a hostcheck journal" in run.stderr


def test_apply_never_recreates_a_root_that_vanished_after_the_plan(fixture_copy) -> None:
    """A long-lived caller (the TUI) may hold a plan for a tree that has since been removed."""
    from hostcheck.checks.session import Source, scan
    from hostcheck.fix import plan as planner
    from hostcheck.fix import transaction as fixer

    root = fixture_copy("stock-128g")
    report, facts, host = scan(Source(root=str(root)))
    plan = planner.build(report, facts, host, planner.PlanOptions())
    assert plan.files
    shutil.rmtree(root)
    with pytest.raises(fixer.FixError, match="no longer exists"):
        fixer.apply(host, plan, log=lambda line: None)
    assert not root.exists()


def test_modprobe_routing_touches_the_boot_loader_only_to_take_an_argument_off(
    fixture_copy,
) -> None:
    """--module-options modprobe on a host whose command line has none of those parameters:
    no GRUB drop-in and no update-grub, only modprobe.d and the initramfs."""
    plan = hc("fix", "--fixture", "dkms-amdttm", "--module-options", "modprobe").stdout
    assert "99-hostcheck.cfg" not in plan and "update-grub" not in plan
    assert "+options amdgpu cwsr_enable=0" in plan
    assert "update-initramfs -u -k all" in plan


# --- cases a second review found ----------------------------------------------------------------


def test_a_planted_journal_cannot_send_writes_out_of_the_root(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    journal = root / "var/lib/hostcheck/fix"
    journal.mkdir(parents=True)
    escape = "../../../../../../../../tmp/hostcheck-escaped"
    (journal / "a.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "id": escape,
                "state": "started",
                "live": False,
                "rules": [],
                "files": [],
                "reboot_required": False,
                "steps": [
                    {"kind": "command", "argv": ["true"], "why": "x", "run": False, "done": False}
                ],
            }
        )
    )
    run = hc("fix", "--root", str(root), "--resume")
    assert run.returncode == 2
    assert "not a hostcheck journal (its id is not its file name)" in run.stderr
    assert not Path("/tmp/hostcheck-escaped.json").exists()


def test_a_shell_function_in_etc_default_grub_does_not_hide_the_command_line(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    grub = root / "etc/default/grub"
    grub.write_text("_pick() {\n  echo x\n}\n" + grub.read_text())
    assert hc("fix", "--root", str(root), "--apply", "--yes").returncode == 0
    assert statuses(root)["memory.gtt"] == "fixed-pending-reboot"


def test_a_grub_configuration_that_sources_other_files_is_not_guessed(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    grub = root / "etc/default/grub"
    grub.write_text(grub.read_text() + ". /etc/default/grub.local\n")
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "cannot read back the GRUB configuration" in run.stderr
    assert not (root / "etc/default/grub.d").exists()


def test_fixing_rule_by_rule_ends_with_nothing_to_do(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    for only in ("perf.iommu", "memory.gtt"):
        assert hc("fix", "--root", str(root), "--only", only, "--apply", "--yes").returncode == 0
    again = hc("fix", "--root", str(root))
    assert "Nothing to do" in again.stdout, again.stdout
    assert hc("fix", "--root", str(root), "--only", "memory.gtt").stdout.startswith("Nothing to do")


def test_emit_names_a_parameter_moved_to_modprobe_d_for_removal() -> None:
    run = hc(
        "fix", "--fixture", "typo-kargs", "--emit", "machineconfig", "--module-options", "modprobe"
    )
    assert run.returncode == 0, run.stderr
    removal = next(line for line in run.stderr.splitlines() if "kernel arguments to remove" in line)
    assert "ttm.pages_limit" in removal


def test_grubby_removes_arguments_as_the_entries_spell_them(fixture_copy) -> None:
    root = fixture_copy("typo-kargs")
    for path in [*(root / "boot/loader/entries").glob("*.conf"), root / "proc/cmdline"]:
        path.write_text(path.read_text().replace("ttm.pages_limit=", "ttm.pages-limit="))
    plan = hc("fix", "--root", str(root), "--module-options", "modprobe").stdout
    line = next(x for x in plan.splitlines() if x.strip().startswith("grubby"))
    assert "ttm.pages-limit" in line and "ttm.pages_limit" not in line


def test_a_bootloader_override_says_the_scan_will_not_see_it() -> None:
    plan = hc("fix", "--fixture", "stock-128g", "--bootloader", "systemd-boot").stdout
    assert (
        "--bootloader systemd-boot: `hostcheck scan` reads the boot configuration of grub" in plan
    )


# --- first use (issue #13) -------------------------------------------------------------------


@pytest.mark.parametrize("where", ["checkout", "package"])
def test_fix_refuses_a_bundled_fixture_given_by_its_path(where: str) -> None:
    """--root at the bundled tree itself (the checkout's fixtures/ or the installed package's
    _data/fixtures) must not be written into: the next user's sample host would change."""
    from hostcheck.checks.catalog import data_dir

    tree = (
        Path(data_dir("fixtures")) / "stock-128g"
        if where == "package"
        else Path(__file__).resolve().parents[2] / "fixtures" / "stock-128g"
    )
    before = snapshot(tree)
    run = hc("fix", "--root", str(tree), "--apply", "--yes")
    assert run.returncode == 2, run.stdout
    assert f"{tree} is the bundled fixture stock-128g, which is read-only; copy it first" in (
        run.stderr
    )
    assert snapshot(tree) == before


def test_fix_on_a_host_without_the_gpu_says_so() -> None:
    run = hc("fix", "--fixture", "no-amd-gpu")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(
        "Nothing to fix: bundled fixture no-amd-gpu has no Strix Halo GPU (gpu.present)"
    )
    assert "already in place" not in run.stdout


def test_fix_names_the_manual_fixes_instead_of_nothing_to_do() -> None:
    run = hc("fix", "--fixture", "mes-0x83")
    assert run.returncode == 0, run.stderr
    assert "already in place" not in run.stdout
    assert run.stdout.splitlines() == [
        "No change hostcheck can make: what fails here needs a manual fix.",
        "By hand (hostcheck cannot change these; `hostcheck explain RULE` says how): firmware.mes.",
    ]


def test_fix_under_root_prints_paths_inside_the_root_and_undo_with_root(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    real = os.path.realpath(root)
    applied = hc("fix", "--root", str(root), "--apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.splitlines()
    assert f"wrote {real}/etc/default/grub.d/99-hostcheck.cfg" in lines
    assert "wrote /etc/default/grub.d/99-hostcheck.cfg" not in lines
    tx = json.loads(next((root / JOURNAL / "fix").glob("*.json")).read_text())["id"]
    assert f"Applied as transaction {tx} (undo: hostcheck fix --root {real} --undo {tx})." in lines
    # The hint, run as printed, undoes the change in the tree.
    undone = hc(*f"fix --root {real} --undo {tx}".split())
    assert undone.returncode == 0, undone.stderr
    assert f"removed {real}/etc/default/grub.d/99-hostcheck.cfg" in undone.stdout.splitlines()
    assert not (root / "etc/default/grub.d/99-hostcheck.cfg").exists()


def test_an_installed_packages_fixture_is_refused_too(tmp_path: Path, monkeypatch) -> None:
    """After `pip install`, the fixtures live in site-packages/hostcheck/_data/fixtures."""
    import shutil as sh

    import hostcheck.checks.catalog
    from hostcheck.checks.session import Source, change_refusal

    installed = tmp_path / "site-packages/hostcheck/_data/fixtures"
    sh.copytree(
        Path(__file__).resolve().parents[2] / "fixtures/typo-kargs", installed / "typo-kargs"
    )
    monkeypatch.setattr(
        hostcheck.checks.catalog,
        "data_dir",
        lambda name: str(tmp_path / "site-packages/hostcheck/_data" / name),
    )
    refusal = change_refusal(Source(root=str(installed / "typo-kargs" / "etc" / "..")))
    assert (
        refusal is not None and "is the bundled fixture typo-kargs, which is read-only" in refusal
    )
    copy = tmp_path / "copy"
    sh.copytree(installed / "typo-kargs", copy)
    assert change_refusal(Source(root=str(copy))) is None


def test_a_journal_written_before_the_typed_transaction_still_lists_and_undoes(
    fixture_copy,
) -> None:
    """tests/data/fix/ holds a journal as `hostcheck fix --apply` wrote it before the journal
    became a typed Transaction (the second of two applies on a copy of stock-128g: it changed
    an existing drop-in). Read and written again, it is the same bytes; it undoes as before."""
    import base64

    from hostcheck.fix.store import Journal
    from hostcheck.host.core import Host
    from tests.conftest import REPO

    old = REPO / "tests/data/fix/20261207T041954.540131Z-46b4.json"
    record = json.loads(old.read_text())
    (entry,) = record["files"]
    root = fixture_copy("stock-128g")
    dropin = root / entry["path"].lstrip("/")
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_bytes(base64.b64decode(entry["after_b64"]))
    journal = root / JOURNAL / "fix"
    journal.mkdir(parents=True)
    shutil.copy(old, journal / old.name)

    (tx,), problems = Journal(Host(str(root))).read()
    assert problems == []
    assert (json.dumps(tx.to_json(), indent=2) + "\n").encode() == old.read_bytes()

    history = hc("fix", "--root", str(root), "--history")
    assert (
        history.stdout
        == f"{tx.id}  complete  2026-12-07T04:19:54Z  1 file(s)  memory.gtt, perf.iommu\n"
    )
    undone = hc("fix", "--root", str(root), "--undo")
    assert undone.returncode == 0, undone.stderr
    assert dropin.read_bytes() == base64.b64decode(entry["before_b64"])
    assert undone.stdout.splitlines()[-3:] == [
        f"Undid transaction {tx.id}: the files are as they were before it.",
        "  pending (run on the host itself): update-grub",
        "Reboot to bring the previous kernel arguments and module options back.",
    ]
    assert json.loads((journal / old.name).read_text())["state"] == "undone"


def test_the_outcome_text_is_the_cli_text(fixture_copy) -> None:
    """hostcheck.fix.outcome.render, which the TUI shows, says what `hostcheck fix` prints
    after --apply, --undo and --history, byte for byte."""
    from hostcheck.fix.outcome import render, root_option
    from hostcheck.fix.transaction import history
    from hostcheck.host.core import Host

    root = fixture_copy("stock-128g")
    real = os.path.realpath(root)
    host = Host(real)
    option = root_option(live=False, root=real)
    applied = hc("fix", "--root", real, "--apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    (tx,) = history(host)
    said = render("apply", [tx], root_option=option)
    assert said.startswith(f"Applied as transaction {tx.id} (undo: hostcheck fix --root {real}")
    assert applied.stdout.endswith("\n" + said)
    undone = hc("fix", "--root", real, "--undo")
    assert undone.returncode == 0, undone.stderr
    (tx,) = history(host)
    said = render("undo", [tx], root_option=option)
    assert said.startswith(f"Undid transaction {tx.id}:")
    assert undone.stdout.endswith("\n" + said)
    again = hc("fix", "--root", real, "--apply", "--yes")
    assert again.returncode == 0, again.stderr
    listed = hc("fix", "--root", real, "--history")
    assert listed.stdout == render("history", history(host))
    assert len(listed.stdout.splitlines()) == 2
    empty = fixture_copy("stock-128g")
    assert hc("fix", "--root", str(empty), "--history").stdout == render("history", [])
    assert render("history", []) == "No transactions.\n"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(max_size=8), max_size=3),
    st.lists(st.text(max_size=8), max_size=5),
    st.booleans(),
)
def test_a_preview_diff_reads_as_difflib_writes_it(
    before_parts: list[str], after_parts: list[str], new_file: bool
) -> None:
    # preview.unified_diff writes a created file's diff itself (without importing difflib):
    # byte for byte what difflib writes, for any lines, with or without a final newline.
    import difflib

    from hostcheck.fix.preview import unified_diff

    before = [] if new_file else "\n".join(before_parts).splitlines(keepends=True)
    after = "\n".join(after_parts).splitlines(keepends=True)
    label = "/dev/null" if new_file else "a/etc/x.conf"
    expected = "".join(difflib.unified_diff(before, after, label, "b/etc/x.conf"))
    assert unified_diff(before, after, label, "b/etc/x.conf") == expected
