"""The systemd units: what `hostcheck monitor --install` writes, checked by systemd's own
tools (`systemd-analyze verify` and `security --offline=yes`), and the install / uninstall
rules: never the real /etc in a test, never a foreign unit overwritten or removed."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, system_tool

needs_systemd = pytest.mark.system
MAX_EXPOSURE = 3.0


def install(cli, root: Path):
    """Under --root the service's command is the one inside the root; these trees have none,
    so it is named: this interpreter, so that systemd-analyze finds it."""
    return cli(
        "monitor", "--install", "--root", str(root), "--exec", f"{sys.executable} -m hostcheck"
    )


def test_install_writes_both_units_with_a_real_command(cli, tmp_path: Path) -> None:
    run = install(cli, tmp_path)
    assert run.code == 0
    units = tmp_path / "etc/systemd/system"
    service = (units / "hostcheck.service").read_text()
    timer = (units / "hostcheck.timer").read_text()
    for path in units.iterdir():
        assert path.stat().st_mode & 0o777 == 0o644
    assert f"ExecStart={sys.executable} -m hostcheck monitor --log-format journal\n" in service
    assert service.startswith("# Installed by `hostcheck monitor --install`")
    assert timer.endswith((REPO / "systemd/hostcheck.timer").read_text())
    assert f"installed {units}/hostcheck.service" in run.out
    assert "systemctl daemon-reload && systemctl enable --now hostcheck.timer" in run.out
    # Installing again replaces its own units; nothing else in the directory is touched.
    (units / "other.service").write_text("[Service]\nExecStart=/bin/true\n")
    assert install(cli, tmp_path).code == 0
    assert sorted(p.name for p in units.iterdir()) == [
        "hostcheck.service",
        "hostcheck.timer",
        "other.service",
    ]


def test_uninstall_removes_only_its_own_units_and_not_while_enabled(cli, tmp_path: Path) -> None:
    units = tmp_path / "etc/systemd/system"
    assert install(cli, tmp_path).code == 0
    wants = units / "timers.target.wants"
    wants.mkdir()
    (wants / "hostcheck.timer").symlink_to("/etc/systemd/system/hostcheck.timer")
    run = cli("monitor", "--uninstall", "--root", str(tmp_path))
    assert run.code == 2
    assert "hostcheck.timer is still enabled" in run.err
    assert "systemctl disable --now hostcheck.timer" in run.err
    assert (units / "hostcheck.service").exists()
    (wants / "hostcheck.timer").unlink()
    run = cli("monitor", "--uninstall", "--root", str(tmp_path))
    assert run.code == 0
    assert sorted(p.name for p in units.iterdir()) == ["timers.target.wants"]
    assert f"removed {units}/hostcheck.timer" in run.out


def test_foreign_units_are_never_overwritten_or_removed(cli, tmp_path: Path) -> None:
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    mine = "[Service]\nExecStart=/opt/site/hostcheck-wrapper\n"
    (units / "hostcheck.service").write_text(mine)
    run = install(cli, tmp_path)
    assert run.code == 2
    assert "hostcheck.service exists and was not installed by hostcheck" in run.err
    assert not (units / "hostcheck.timer").exists()
    run = cli("monitor", "--uninstall", "--root", str(tmp_path))
    assert run.code == 2 and "was not installed by hostcheck; left alone" in run.err
    assert (units / "hostcheck.service").read_text() == mine


def test_install_needs_root_on_the_live_host(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    # Safety net: should the refusal ever break, the units land in tmp_path, not /etc.
    net = tmp_path / "etc/systemd/system"
    monkeypatch.setattr("hostcheck.monitor.install.UNIT_DIR", str(net).lstrip("/"))
    run = cli("monitor", "--install")
    assert run.code == 2
    assert f"installing units into {net} needs root; run it with sudo, or pass --root" in run.err
    assert cli("monitor", "--uninstall").code == 2
    assert not net.exists()


def test_install_refuses_a_symlink_out_of_the_root(cli, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / "etc/systemd").mkdir(parents=True)
    (root / "etc/systemd/system").symlink_to(outside)
    run = install(cli, root)
    assert run.code == 2 and "leads outside" in run.err
    assert list(outside.iterdir()) == []
    assert cli("monitor", "--install", "--fixture", "stock-128g").code == 2


@needs_systemd
def test_installed_units_pass_systemd_analyze_verify(cli, tmp_path: Path) -> None:
    """verify needs ExecStart's binary to exist: the installed units point at this
    interpreter (`python -m hostcheck`), so the files checked are the ones --install writes."""
    systemd_analyze = system_tool("systemd-analyze")
    assert install(cli, tmp_path).code == 0
    units = tmp_path / "etc/systemd/system"
    done = subprocess.run(
        [
            systemd_analyze,
            "verify",
            str(units / "hostcheck.service"),
            str(units / "hostcheck.timer"),
        ],
        capture_output=True,
        text=True,
        cwd=units,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


@needs_systemd
def test_shipped_service_exposure_is_at_most_3(tmp_path: Path) -> None:
    """The shipped unit with ExecStart pointed at an existing binary, scored offline."""
    systemd_analyze = system_tool("systemd-analyze")
    text = (REPO / "systemd/hostcheck.service").read_text()
    text, count = re.subn(
        r"^ExecStart=\S+", f"ExecStart={sys.executable} -m hostcheck", text, flags=re.M
    )
    assert count == 1
    unit = tmp_path / "hostcheck.service"
    unit.write_text(text)
    done = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for hostcheck\.service: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match[1]) <= MAX_EXPOSURE, done.stdout
    # Every hardening directive the unit cannot use is explained in it.
    for missing in (
        "PrivateDevices=yes",
        "ProtectKernelLogs=yes",
        "ProtectKernelModules=yes",
        "ProtectProc=",
        "PrivateUsers=yes",
        "MemoryDenyWriteExecute=yes",
        "User=",
    ):
        assert re.search(rf"^# {re.escape(missing)}.*:", text, re.M), missing


def test_the_wheel_ships_the_units(tmp_path: Path) -> None:
    """`monitor --install` after a plain `pip install .` needs the units inside the package."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("strixhalo_hostcheck-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "hostcheck/_data/systemd/hostcheck.service",
        "hostcheck/_data/systemd/hostcheck.timer",
    } <= names
    shipped = zipfile.ZipFile(wheel).read("hostcheck/_data/systemd/hostcheck.service").decode()
    assert shipped == (REPO / "systemd/hostcheck.service").read_text()


def _directives(text: str) -> dict[str, dict[str, list[str]]]:
    """The unit's sections and their directives, every value of a repeated one in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[] "), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_service_lets_the_scan_open_the_gpu_and_read_the_kernel_log() -> None:
    """The --python probe (torch.cuda.is_available()) and rocminfo open /dev/kfd and the render
    node read-write; dmesg reads /dev/kmsg, else syslog(2), which @system-service lacks; the
    metrics go to node_exporter's textfile directory under ProtectSystem=strict."""
    service = _directives((REPO / "systemd/hostcheck.service").read_text())["Service"]
    assert service["DevicePolicy"] == ["closed"]
    assert {"/dev/kfd rw", "char-drm rw", "/dev/kmsg r"} <= set(service["DeviceAllow"])
    filters = service["SystemCallFilter"]
    assert filters[0] == "@system-service"
    # An allow entry after the deny entries: the one that counts for syslog is the last.
    assert filters.index("syslog") > filters.index("~@privileged")
    assert not any(f.startswith("~") and "syslog" in f for f in filters)
    assert service["ProtectSystem"] == ["strict"]
    assert "-/var/lib/prometheus/node-exporter" in service["ReadWritePaths"]
    assert "ProtectKernelLogs" not in service and "PrivateDevices" not in service


@needs_systemd
def test_systemd_reads_the_device_and_system_call_allowances(tmp_path: Path) -> None:
    """What systemd itself makes of the unit, not only its text."""
    systemd_analyze = system_tool("systemd-analyze")
    text = (REPO / "systemd/hostcheck.service").read_text()
    unit = tmp_path / "hostcheck.service"
    unit.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={sys.executable}", text, flags=re.M))
    done = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    device_line = next(line for line in done.stdout.splitlines() if "DeviceAllow=" in line)
    for allowed in ("/dev/kfd:rw", "char-drm:rw", "/dev/kmsg:r"):
        assert allowed in device_line, device_line
    names = subprocess.run(
        [systemd_analyze, "syscall-filter", "@system-service", "@privileged"],
        capture_output=True,
        text=True,
    ).stdout
    # Why the unit names syslog on its own: neither group it uses has it.
    assert re.search(r"^\s+syslog$", names, re.M) is None


def test_the_service_cannot_be_enabled_on_its_own(cli, tmp_path: Path) -> None:
    """Only the timer is enabled: a service with [Install] WantedBy=multi-user.target would
    run a scan at every boot when enabled by mistake."""
    sections = _directives((REPO / "systemd/hostcheck.service").read_text())
    assert "Install" not in sections
    assert _directives((REPO / "systemd/hostcheck.timer").read_text())["Install"] == {
        "WantedBy": ["timers.target"]
    }
    # A service enabled by an earlier version (or by hand) blocks --uninstall like the timer.
    units = tmp_path / "etc/systemd/system"
    assert install(cli, tmp_path).code == 0
    wants = units / "multi-user.target.wants"
    wants.mkdir()
    (wants / "hostcheck.service").symlink_to("/etc/systemd/system/hostcheck.service")
    run = cli("monitor", "--uninstall", "--root", str(tmp_path))
    assert run.code == 2
    assert (
        f"hostcheck.service is still enabled ({wants}/hostcheck.service); run `systemctl "
        "disable --now hostcheck.service` first" in run.err
    )
    assert (units / "hostcheck.service").exists()
    (wants / "hostcheck.service").unlink()
    assert cli("monitor", "--uninstall", "--root", str(tmp_path)).code == 0


def test_install_under_a_root_runs_the_hostcheck_inside_it(cli, tmp_path: Path) -> None:
    """ExecStart was this machine's path (a venv under /work or /root) that the image never has."""
    image = tmp_path / "image"
    (image / "opt/hostcheck/bin").mkdir(parents=True)
    (image / "opt/hostcheck/bin/hostcheck").write_text("#!/bin/sh\n")
    run = cli("monitor", "--install", "--root", str(image))
    assert run.code == 0, run.err
    service = (image / "etc/systemd/system/hostcheck.service").read_text()
    assert "ExecStart=/opt/hostcheck/bin/hostcheck monitor --log-format journal\n" in service
    assert sys.executable not in service


def test_install_under_a_root_without_hostcheck_asks_for_exec(cli, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    run = cli("monitor", "--install", "--root", str(tmp_path))
    assert run.code == 2
    assert f"no hostcheck command inside {tmp_path}" in run.err and "--exec" in run.err
    assert not (tmp_path / "etc/systemd").exists()
    relative = cli("monitor", "--install", "--root", str(tmp_path), "--exec", "bin/hostcheck")
    assert relative.code == 2 and "absolute path" in relative.err
