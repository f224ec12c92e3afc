"""The live GPU probe (pyudev enumeration, then plain reads of /sys) under real libudev.

umockdev-run builds a sysfs testbed from a device description and runs the scan with its
preload library, which redirects the child's /sys and /dev accesses (open, opendir, stat,
readlink, ...) to the testbed. So the scan runs as on a live host (root "/"): pyudev asks
libudev for the drm devices, and hostcheck's Host reads the attributes with plain open() and
os.listdir() -- both see the mocked devices only.

Device descriptions (tests/data/, the text format umockdev-record writes; the format has no
comments, so they are described here):

- strix-halo.umockdev: the Strix Halo iGPU 0000:c5:00.0 (1002:1586, class 0x038000, amdgpu)
  with its DRM children card1 and renderD128, the attributes the probe reads (uevent from the
  E: lines, revision, mem_info_*, fw_version/mes_*), and the KFD device
  /devices/virtual/kfd/kfd (class link /sys/class/kfd/kfd) with topology nodes 0 (CPU) and 1
  (GPU, simd_count 80, gfx_target_version 110501, drm_render_minor 128, mem bank 0 of
  122406567936 bytes). The values are those of fixtures/tuned-ready.
- intel-i915.umockdev: a host whose only GPU is an Intel 8086:a780 driven by i915 (card0,
  renderD128), and no KFD.

Needs the Debian package umockdev. Without umockdev-run these tests fail under CI (CI is set)
and are skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import system_tool

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SELECTED = ("gpu.present", "memory.rocm-visible", "memory.carveout")

pytestmark = [pytest.mark.umockdev, pytest.mark.system]


@pytest.fixture(scope="module")
def umockdev_run() -> str:
    return system_tool("umockdev-run")


def scan_under_umockdev(
    umockdev_run: str, device_file: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """`hostcheck scan` of the live host "/" in a testbed holding the described devices."""
    selects = [arg for rule in SELECTED for arg in ("--select", rule)]
    done = subprocess.run(
        [
            umockdev_run,
            "--device",
            str(DATA / device_file),
            "--",
            sys.executable,
            "-m",
            "hostcheck",
            "scan",
            "--format",
            "json",
            *selects,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"no JSON report (exit {done.returncode})\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done.returncode, report, done.stderr


def finding(report: dict[str, Any], rule: str) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["rule"] == rule)


def evidence_text(item: dict[str, Any]) -> str:
    return " | ".join(
        f"{e['label']}={e['value']} [{e['source']}] {e.get('note') or ''}" for e in item["evidence"]
    )


def test_strix_halo_found_through_pyudev(umockdev_run: str) -> None:
    code, report, err = scan_under_umockdev(umockdev_run, "strix-halo.umockdev")
    assert code == 0, err
    assert report["host"]["root"] == "/"
    statuses = {f["rule"]: f["status"] for f in report["findings"]}
    assert statuses == dict.fromkeys(SELECTED, "pass"), err

    present = finding(report, "gpu.present")
    text = evidence_text(present)
    for fragment in ("0000:c5:00.0", "1002:1586", "card1", "/dev/dri/renderD128", "110501"):
        assert fragment in text, f"{fragment!r} not in {text!r}"
    drm = next(e for e in present["evidence"] if e["label"] == "DRM card / render node")
    assert drm["value"] == "card1 / /dev/dri/renderD128"
    assert "(pyudev)" in drm["source"], drm
    driver = next(e for e in present["evidence"] if e["label"] == "driver")
    assert driver["value"] == "amdgpu"

    visible = finding(report, "memory.rocm-visible")
    assert "114.0 GiB" in visible["message"]
    assert "122406567936" in evidence_text(visible)
    assert "0.5 GiB" in finding(report, "memory.carveout")["message"]


def test_only_intel_gpu_fails(umockdev_run: str) -> None:
    code, report, err = scan_under_umockdev(umockdev_run, "intel-i915.umockdev")
    assert code == 1, err
    assert report["ready"] is False
    present = finding(report, "gpu.present")
    assert present["status"] == "fail"
    assert "8086:a780 (i915)" in present["message"]
    assert "(pyudev)" in evidence_text(present)
    for rule in ("memory.rocm-visible", "memory.carveout"):
        assert finding(report, rule)["status"] == "skip"


def test_amdsmi_without_its_library_is_one_evidence_line(umockdev_run: str) -> None:
    """The real amdsmi package (a test dependency) without libamd_smi.so prints to stdout and
    raises KeyError on import; the report stays valid JSON and says so once."""
    code, report, err = scan_under_umockdev(umockdev_run, "strix-halo.umockdev")
    amdsmi = next(e for e in finding(report, "gpu.present")["evidence"] if e["label"] == "amdsmi")
    assert amdsmi["value"] is None
    assert amdsmi["note"] == "missing: library 'libamd_smi.so' not found"
    assert code == 0, err


def test_amdsmi_answer_is_reported_and_its_prints_contained(umockdev_run: str) -> None:
    """A stand-in for the library at its boundary (tests/data/fake_amdsmi) that prints on init."""
    code, report, err = scan_under_umockdev(
        umockdev_run, "strix-halo.umockdev", env={"PYTHONPATH": str(DATA / "fake_amdsmi")}
    )
    amdsmi = next(e for e in finding(report, "gpu.present")["evidence"] if e["label"] == "amdsmi")
    assert amdsmi["value"] == "AMD Radeon 8060S Graphics (0x1586)"
    assert code == 0, err


COLLECT_AND_TIME = """
import json, sys, time
from hostcheck.host.core import Host
from hostcheck.probes import ProbeOptions, collect
began = time.perf_counter()
facts = collect(Host("/"), ProbeOptions(python=sys.argv[1]))
took = time.perf_counter() - began
software = facts.software
print(json.dumps({
    "seconds": took,
    "amdsmi": repr(facts.gpu.amdsmi),
    "rpm": repr(software.rpm_firmware),
    "rocminfo": repr(software.rocminfo),
    "python": repr(software.python),
    "log": repr(facts.kernel_log),
}))
"""


def test_live_probes_run_at_the_same_time(umockdev_run: str, tmp_path: Path) -> None:
    """Stand-ins for dmesg, rpm, rocminfo, amdsmi and the --python interpreter that each take
    1 s: collecting a live host's facts takes about as long as one of them, not their 5 s."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {
        "dmesg": "echo '[ 12.000001] amdgpu 0000:c5:00.0: amdgpu: GPU reset begin!'",
        "rpm": "echo linux-firmware-20260110-1.fc43.noarch",
        "rocminfo": "echo 'ROCk module is loaded'",
        "python-standin": 'echo \'HOSTCHECK-PYTHON-ENV {"interpreter": "/opt/standin"}\'',
    }
    for name, answer in tools.items():
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\nsleep 1\n{answer}\n")
        tool.chmod(0o755)
    slow_amdsmi = tmp_path / "slow_amdsmi" / "amdsmi"
    slow_amdsmi.mkdir(parents=True)
    fake = (DATA / "fake_amdsmi" / "amdsmi" / "__init__.py").read_text()
    (slow_amdsmi / "__init__.py").write_text("import time\ntime.sleep(1)\n" + fake)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(slow_amdsmi.parent)}
    done = subprocess.run(
        [
            umockdev_run,
            "--device",
            str(DATA / "strix-halo.umockdev"),
            "--",
            sys.executable,
            "-c",
            COLLECT_AND_TIME,
            str(bin_dir / "python-standin"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["seconds"] < 3.0, seen  # the sum would be 5 s
    # Every stand-in answered, and its answer is the fact.
    assert "AMD Radeon 8060S Graphics (0x1586)" in seen["amdsmi"]
    assert "linux-firmware-20260110-1.fc43.noarch" in seen["rpm"]
    assert "no 'Agent N' sections" in seen["rocminfo"]  # it ran; its output is no rocminfo
    assert "/opt/standin" in seen["python"]
    assert "gpu-reset" in seen["log"]
