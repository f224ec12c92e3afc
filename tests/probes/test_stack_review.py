"""Review of the stack probe (issue #11) as an operator and a hostile tester: host shapes the
six stack fixtures do not cover, links and files that try to lead the scan out of its root, and
snapshots that must replay what the container held, not the host."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from hostcheck.host.core import Host
from hostcheck.snapshot.tree import Plan, Resolver
from tests.conftest import run_subprocess

DOCKER_PID = "4242"
SITE = "/opt/venv/lib64/python3.13/site-packages"
MAP_LINE = "7f1c20{:02x}0000-7f1c20{:02x}0000 r-xp 00000000 103:02 {} {}\n"


def _container_with_linked_rocm(root: Path) -> Path:
    """docker-vllm-therock whose container holds AMD's ROCm as /opt/rocm -> /opt/rocm-7.2.1
    (an absolute link, as AMD's packages make it) and a PyTorch wheel that bundles its HIP
    library (whose file name tells no version): the container's /opt/rocm is the only place
    its ROCm version is written. The host tree has an /opt/rocm-7.2.1 of its own (6.2.0)."""
    croot = root / f"proc/{DOCKER_PID}/root"
    shutil.rmtree(croot / SITE.lstrip("/"))
    (croot / "opt/rocm-7.2.1/.info").mkdir(parents=True)
    (croot / "opt/rocm-7.2.1/.info/version").write_text("7.2.1-81\n")
    (croot / "opt/rocm").symlink_to("/opt/rocm-7.2.1")
    (root / "opt/rocm-7.2.1/.info").mkdir(parents=True)
    (root / "opt/rocm-7.2.1/.info/version").write_text("6.2.0-1\n")
    libs = [f"{SITE}/torch/lib/libamdhip64.so", f"{SITE}/torch/lib/libtorch_hip.so"]
    (root / f"proc/{DOCKER_PID}/maps").write_text(
        "".join(MAP_LINE.format(i, i + 1, 1000 + i, lib) for i, lib in enumerate(libs))
    )
    return root


# -- snapshots: a container's files stay the container's ------------------------------------


def test_a_snapshot_keeps_a_containers_rocm_link_inside_the_container(
    cli, fixture_copy, tmp_path: Path
) -> None:
    root = _container_with_linked_rocm(fixture_copy("docker-vllm-therock"))
    original = cli("scan", "--root", str(root), "--format", "json")
    rocm = original.finding("rocm.version")
    assert rocm["status"] == "pass" and "7.2.1" in rocm["message"]
    assert any("(/proc/PID/root)" in e["source"] for e in rocm["evidence"])

    out = tmp_path / "snap"
    assert cli("snapshot", "--root", str(root), "--no-redact", "-o", str(out)).code == 0
    replayed = cli("scan", "--root", str(out), "--format", "json")
    assert replayed.json()["stack"]["components"] == original.json()["stack"]["components"]
    assert replayed.finding("rocm.version") == rocm
    # The container's version file is not laid out as the host's /opt/rocm-7.2.1.
    host_copy = out / "opt/rocm-7.2.1/.info/version"
    assert not host_copy.exists() or host_copy.read_text() == "6.2.0-1\n"
    link = out / f"proc/{DOCKER_PID}/root/opt/rocm"
    assert link.is_symlink() and not os.readlink(link).startswith(("/", ".."))


def test_a_live_snapshot_lays_out_a_process_root_under_proc_pid_root(tmp_path: Path) -> None:
    """On a live host /proc/PID/root is the kernel's link (it reads as "/"): following it as
    a plain link laid a container's files out at the host's paths."""
    inside = tmp_path.resolve() / "model.bin"
    prefix = f"/proc/{os.getpid()}/root"
    assert Resolver("/", Plan()).resolve(f"{prefix}{inside}") == f"{prefix}{inside}"
    host = Host("/")
    resolver = Resolver(host.root, Plan(), host.process_root)
    assert resolver.resolve(f"{prefix}{inside}") == f"{prefix}{inside}"


# -- nothing is read outside the root ---------------------------------------------------------


def test_a_tree_scanned_with_host_mount_does_not_follow_proc_pid_root_out_of_it(
    fixture_copy, tmp_path: Path
) -> None:
    """--host-mount names the live host's / mounted in a container, whose proc/PID/root is the
    kernel's link into a process; a copied tree's is a plain link and stays inside the tree."""
    outside = tmp_path / "outside"
    (outside / "opt/rocm/.info").mkdir(parents=True)
    (outside / "opt/rocm/.info/version").write_text("9.9.9-OUTSIDE\n")
    root = fixture_copy("docker-vllm-therock")
    shutil.rmtree(root / f"proc/{DOCKER_PID}/root")
    (root / f"proc/{DOCKER_PID}/root").symlink_to(outside)
    host = Host(root, host_mount=True)
    read = host.read_in_process(int(DOCKER_PID), "/opt/rocm/.info/version")
    assert not hasattr(read, "value") or "OUTSIDE" not in read.value


# -- distribution ROCm ----------------------------------------------------------------------------


def test_archs_rocm_core_in_opt_rocm_is_judged_as_the_distributions_build(
    cli, fixture_copy
) -> None:
    """Arch's rocm-core installs /opt/rocm/.info/version itself: the ROCm docs' kernel table
    (AMD's builds) does not judge it."""
    root = fixture_copy("docker-vllm-therock")
    shutil.rmtree(root / f"proc/{DOCKER_PID}")
    shutil.rmtree(root / "run")
    shutil.rmtree(root / "var/lib/dpkg")
    (root / "etc/os-release").write_text('NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n')
    (root / "var/lib/pacman/local/rocm-core-7.2.1-1").mkdir(parents=True)
    (root / "var/lib/pacman/local/rocm-core-7.2.1-1/desc").write_text(
        "%NAME%\nrocm-core\n\n%VERSION%\n7.2.1-1\n"
    )
    (root / "opt/rocm/.info").mkdir(parents=True)
    (root / "opt/rocm/.info/version").write_text("7.2.1\n")
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 0
    assert run.finding("rocm.version")["status"] == "pass"
    compat = run.finding("rocm.kernel-compat")
    # Arch carries the kernel fixes natively (ROCm docs): its own ROCm passes, not by AMD's table.
    assert compat["status"] == "pass" and "distribution's own packaging" in compat["message"]
    host_rocm = next(c for c in run.json()["stack"]["components"] if c["name"] == "rocm")
    assert host_rocm["origin"] == "distribution" and "pacman" in host_rocm["detail"]


# -- the declared backend -------------------------------------------------------------------------


def test_a_declared_vulkan_does_not_hide_a_process_that_runs_on_rocm(cli) -> None:
    run = cli("scan", "--fixture", "tuned-ready", "--format", "json", "--backend", "vulkan")
    stack = run.json()["stack"]
    assert stack["backend"] == "rocm"
    assert "declared vulkan" in stack["why"]["backend"] and "vllm" in stack["why"]["backend"]
    for rule in ("rocm.version", "amdgpu.cwsr", "devices.kfd"):
        assert run.finding(rule)["status"] == "pass", rule


def test_a_declared_vulkan_skips_the_rocm_rules_where_nothing_runs_on_rocm(
    cli, fixture_copy
) -> None:
    root = fixture_copy("tuned-ready")
    shutil.rmtree(root / "proc/3100")
    run = cli("scan", "--root", str(root), "--format", "json", "--backend", "vulkan")
    assert run.json()["stack"]["backend"] == "vulkan"
    assert run.finding("rocm.version")["status"] == "skip"


# -- hostile files --------------------------------------------------------------------------------


def test_control_characters_in_a_rocm_version_file_never_reach_the_markdown_raw(
    cli, fixture_copy
) -> None:
    root = fixture_copy("tuned-ready")
    (root / "opt/rocm/.info/version").write_text("7.2.1\x1b]0;pwned\x07\x1b[2J-81\n")
    run = cli("scan", "--root", str(root), "--format", "markdown")
    assert "\x1b" not in run.out and "\x07" not in run.out
    assert "7.2.1\\x1b" in run.out


def test_a_process_root_that_loops_is_an_error_that_does_not_blame_permissions(
    cli, fixture_copy
) -> None:
    root = fixture_copy("docker-vllm-therock")
    shutil.rmtree(root / f"proc/{DOCKER_PID}/root")
    (root / f"proc/{DOCKER_PID}/root").symlink_to("root")
    run = cli("scan", "--root", str(root), "--format", "json")
    assert "Traceback" not in run.err
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "error" and "run as root" not in rocm["message"]
    assert any("symbolic links" in (e.get("note") or "") for e in rocm["evidence"])


def test_a_maps_file_that_is_a_fifo_does_not_block_the_scan(fixture_copy) -> None:
    root = fixture_copy("docker-vllm-therock")
    maps = root / f"proc/{DOCKER_PID}/maps"
    maps.unlink()
    os.mkfifo(maps)
    started = time.monotonic()
    # in a child: the abandoned reader thread stays blocked on the FIFO until it exits
    run = run_subprocess("scan", "--root", str(root), "--format", "json", "--timeout", "0.3")
    assert time.monotonic() - started < 60
    assert "Traceback" not in run.err
    assert run.finding("rocm.version")["status"] in ("pass", "error")


# -- a host ROCm that serves nothing --------------------------------------------------------------


def test_a_stray_host_rocm_does_not_fail_a_docker_host_that_serves_from_its_image(
    cli, fixture_copy
) -> None:
    """Debian's libamdhip64-5 (pulled in by another package) or an old /opt/rocm on a docker
    host whose vLLM runs in a container with its own ROCm: the container's is judged."""
    stray = fixture_copy("docker-vllm-therock")
    lib = stray / "usr/lib/x86_64-linux-gnu/libamdhip64.so.5.7.31921"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"")
    old = fixture_copy("docker-vllm-therock")
    (old / "opt/rocm/.info").mkdir(parents=True)
    (old / "opt/rocm/.info/version").write_text("6.2.4-1\n")
    for root, version in ((stray, "5.7"), (old, "6.2.4")):
        run = cli("scan", "--root", str(root), "--format", "json")
        assert run.code == 0, version
        rocm = run.finding("rocm.version")
        assert rocm["status"] == "pass" and "7.12.0a20260301" in rocm["message"]
        assert version not in rocm["message"]
        assert run.finding("amdgpu.cwsr")["status"] == "pass"
        summary = run.json()["stack"]["summary"]
        assert f"ROCm {version}" in summary and "not used" in summary


def test_a_host_rocm_is_judged_where_a_process_runs_on_the_host(cli, fixture_copy) -> None:
    """The same old ROCm with vLLM running on the host (not in a container) fails."""
    root = fixture_copy("docker-vllm-therock")
    (root / "opt/rocm/.info").mkdir(parents=True)
    (root / "opt/rocm/.info/version").write_text("6.2.4-1\n")
    (root / f"proc/{DOCKER_PID}/cgroup").write_text("0::/system.slice/vllm.service\n")
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 1
    assert run.finding("rocm.version")["status"] == "fail"


def test_ubuntus_archive_hip_runtime_is_read_from_dpkg_with_its_full_version(
    cli, fixture_copy
) -> None:
    """Ubuntu 26.04 ships ROCm 7.1.0 as libamdhip64-7 7.1.0-0ubuntu2 (its library file name
    tells only 7.1): the package database gives the release, as the distribution's build."""
    root = fixture_copy("docker-vllm-therock")
    shutil.rmtree(root / f"proc/{DOCKER_PID}")
    shutil.rmtree(root / "run")
    with (root / "var/lib/dpkg/status").open("a") as status:
        status.write(
            "\nPackage: libamdhip64-7\nStatus: install ok installed\nArchitecture: amd64\n"
            "Version: 7.1.0-0ubuntu2\n"
        )
    lib = root / "usr/lib/x86_64-linux-gnu/libamdhip64.so.7.1.25424"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"")
    run = cli("scan", "--root", str(root), "--format", "json")
    rocm = run.finding("rocm.version")
    assert "ROCm 7.1.0 " in rocm["message"]  # pass or fail is the floor's business
    assert rocm["evidence"][0]["source"] == "host: dpkg: libamdhip64-7 7.1.0-0ubuntu2 (dpkg)"
    compat = run.finding("rocm.kernel-compat")
    # Ubuntu 24.04 is not a distribution the ROCm docs name as carrying the fixes natively:
    # support depends on the distribution (warn), never AMD's binary rows.
    assert compat["status"] == "warn" and "distribution packaging" in compat["message"]


def test_a_containers_rocm_version_file_gives_only_the_release(cli, fixture_copy) -> None:
    """Escapes planted after the release are not carried into the report; a file that holds
    no version is named as unreadable, not taken as one."""
    root = _container_with_linked_rocm(fixture_copy("docker-vllm-therock"))
    version = root / f"proc/{DOCKER_PID}/root/opt/rocm-7.2.1/.info/version"
    version.write_text("7.2.1\x1b[2J\x1b[31m-81\n")
    run = cli("scan", "--root", str(root), "--format", "json")
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "pass" and rocm["message"].startswith("ROCm 7.2.1 (at least ")
    assert "\x1b" not in json.dumps(run.json()["stack"], ensure_ascii=False)
    version.write_text("\x1b]0;pwned\x07\n")
    run = cli("scan", "--root", str(root), "--format", "json")
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "error"
    assert any("not a ROCm version" in (e.get("note") or "") for e in rocm["evidence"])
