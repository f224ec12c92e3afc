"""Edge cases of individual rules, each on a copy of a fixture host with one thing changed —
the cases a reviewer found wrong or a user would question."""

from __future__ import annotations

import pytest

TUNED_CMDLINE = (
    "BOOT_IMAGE=/boot/vmlinuz-6.17.0-19-generic root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5 "
    "ro quiet splash vt.handoff=7 ttm.pages_limit=29884416 ttm.page_pool_size=29884416 amd_iommu=off"
)


# --- kernel.params ---------------------------------------------------------------------------


def test_common_non_gpu_module_arguments_are_not_typos(scan) -> None:
    """ttm is two edits from vt, kvm, drm and tpm: their arguments are not misspelled ttm."""
    line = (
        TUNED_CMDLINE + " kvm.ignore_msrs=1 drm.debug=0x4 vt.global_cursor_default=0 tpm.active=1\n"
    )
    run = scan("tuned-ready", {"proc/cmdline": line}, "--select", "kernel.params")
    assert run.finding("kernel.params")["status"] == "pass"


def test_parameter_unknown_to_the_list_but_accepted_by_the_kernel_passes(scan) -> None:
    """amdgpu.mes existed in older trees and dkms; a readable, silent kernel log means accepted."""
    run = scan(
        "tuned-ready",
        {"proc/cmdline": TUNED_CMDLINE + " amdgpu.mes=0\n"},
        "--select",
        "kernel.params",
    )
    assert run.finding("kernel.params")["status"] == "pass"


def test_unconfirmed_unknown_parameter_warns_and_never_adds_a_guess(scan) -> None:
    run = scan(
        "tuned-ready",
        {"proc/cmdline": TUNED_CMDLINE + " amdgpu.mes=0\n", ".hostcheck/dmesg.txt": None},
        "--select",
        "kernel.params",
    )
    finding = run.finding("kernel.params")
    assert finding["status"] == "warn"
    assert "probably ignored" in finding["message"]
    assert finding["remediation"]["kernel_args"] == {"add": [], "remove": ["amdgpu.mes"]}


def test_conflicting_duplicates_fail(scan) -> None:
    line = TUNED_CMDLINE + " amdgpu.cwsr_enable=0 amdgpu.cwsr-enable=1\n"
    finding = scan("tuned-ready", {"proc/cmdline": line}, "--select", "kernel.params").finding(
        "kernel.params"
    )
    assert finding["status"] == "fail"
    assert (
        "'amdgpu.cwsr_enable' is given twice with different values ('0', then '1')"
        in finding["message"]
    )


# --- memory ----------------------------------------------------------------------------------

GPU = "sys/class/drm/card1/device"


def test_gttsize_above_a_raised_ttm_limit_is_not_rocm5595(scan) -> None:
    """TTM raised to 114 GiB, gttsize 128 GiB: ROCm follows TTM, which was raised on purpose."""
    run = scan(
        "tuned-ready",
        {
            "proc/cmdline": TUNED_CMDLINE + " amdgpu.gttsize=131072\n",
            f"{GPU}/mem_info_gtt_total": "137438953472\n",
        },
        "--select",
        "memory.rocm-visible",
    )
    finding = run.finding("memory.rocm-visible")
    assert finding["status"] == "pass"
    assert "the TTM limit (114.0 GiB), which HIP follows" in finding["message"]


def test_gttsize_below_the_ttm_limit_is_named_as_the_cap(scan) -> None:
    run = scan(
        "tuned-ready",
        {
            "proc/cmdline": TUNED_CMDLINE + " amdgpu.gttsize=65536\n",
            f"{GPU}/mem_info_gtt_total": "68719476736\n",
        },
        "--select",
        "memory.gtt",
    )
    finding = run.finding("memory.gtt")
    assert finding["status"] == "fail"
    assert (
        "amdgpu.gttsize=65536 caps GTT at 64.0 GiB, below the TTM limit (114.0 GiB)"
        in finding["message"]
    )
    assert finding["remediation"]["kernel_args"]["remove"] == ["amdgpu.gttsize"]


def test_ttm_limit_staged_in_modprobe_but_not_in_effect(scan) -> None:
    """amd-ttm writes /etc/modprobe.d/ttm.conf; without an initramfs rebuild it never applies."""
    run = scan(
        "stock-128g",
        {"etc/modprobe.d/ttm.conf": "options ttm pages_limit=29884416 page_pool_size=29884416\n"},
        "--select",
        "memory.gtt",
    )
    finding = run.finding("memory.gtt")
    # Staged for the next boot, not in effect: pending, with the initramfs caveat kept.
    assert finding["status"] == "fixed-pending-reboot"
    assert (
        "/etc/modprobe.d/ttm.conf sets ttm.pages_limit=29884416, but it is not in effect"
        in finding["message"]
    )
    assert "rebuild the initramfs" in finding["message"]


def test_64gb_host_is_told_the_profile_does_not_fit_not_to_shrink_a_minimal_carveout(scan) -> None:
    run = scan(
        "stock-128g", {"proc/meminfo": "MemTotal:       64283000 kB\n"}, "--select", "memory.gtt"
    )
    finding = run.finding("memory.gtt")
    assert finding["status"] == "fail"
    assert "This host's RAM is too small for it; choose a smaller profile" in finding["message"]
    assert "carve-out" not in finding["message"]
    assert finding["remediation"] is None


def test_ttm_module_fix_uses_the_computed_limit_not_the_copied_one(cli) -> None:
    run = cli(
        "scan",
        "--fixture",
        "gttsize-ttm-mismatch",
        "--format",
        "json",
        "--select",
        "memory.ttm-module",
    )
    remediation = run.finding("memory.ttm-module")["remediation"]
    # amdttm.pages_limit=32768000 (125 GiB) was copied from a guide onto a 122.7 GiB host
    assert remediation["kernel_args"]["add"] == [
        "ttm.pages_limit=29884416",
        "ttm.page_pool_size=29884416",
    ]


# --- torch.gfx1151 ---------------------------------------------------------------------------


def _python_env(**fields: object) -> str:
    import json

    base = {
        "interpreter": "/opt/vllm/bin/python3",
        "torch": "2.9.1+rocm7.2.1",
        "hip": "7.2.26015",
        "arch_list": ["gfx1151"],
        "total_memory": 122406567936,
        "vllm": "0.11.2",
        "rocm_sdk": None,
    }
    return "HOSTCHECK-PYTHON-ENV " + json.dumps({**base, **fields}) + "\n"


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        (
            {"total_memory": 64077 * 1024 * 1024},
            "fail",
            "the 64077 MiB cap of TheRock nightly builds (https://github.com/ROCm/TheRock/issues/4645)",
        ),
        (
            {"total_memory": None},
            "fail",
            "sees no GPU (torch.cuda.is_available() is False), so vLLM cannot run",
        ),
        (
            {"total_memory": 80 * 1024**3},
            "fail",
            "PyTorch reports 80.0 GiB of GPU memory; profile 70b-q8 needs 92 GiB",
        ),
        (
            {"arch_list": ["gfx1100"]},
            "fail",
            "was built without gfx1151 kernels (arch list: gfx1100)",
        ),
        ({"hip": None, "torch": "2.9.1+cpu"}, "fail", "is not a ROCm build"),
        ({}, "pass", "has gfx1151 kernels and sees 114.0 GiB"),
    ],
)
def test_torch_verdicts(scan, fields: dict, status: str, fragment: str) -> None:
    run = scan(
        "tuned-ready",
        {".hostcheck/commands/python-env.txt": _python_env(**fields)},
        "--python",
        "/opt/vllm/bin/python3",
        "--select",
        "torch.gfx1151",
    )
    finding = run.finding("torch.gfx1151")
    assert finding["status"] == status
    assert fragment in finding["message"]


def test_torch_bundled_rocm_counts_as_the_rocm_userspace(scan) -> None:
    """A pip-only vLLM: no /opt/rocm, no packages; the ROCm in torch's wheel is what runs."""
    run = scan(
        "tuned-ready",
        {"opt/rocm/.info/version": None, "var/lib/dpkg/status": None},
        "--python",
        "/opt/vllm/bin/python3",
        "--select",
        "rocm.version",
        "--select",
        "amdgpu.cwsr",
    )
    assert run.finding("rocm.version")["status"] == "pass"
    assert "7.2.1" in run.finding("rocm.version")["message"]
    assert run.finding("amdgpu.cwsr")["status"] == "pass"


# --- amdgpu.cwsr -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nightly", "status"),
    [
        ("7.11.0a20251120", "fail"),
        ("7.12.0a20260210", "fail"),
        ("7.12.0a20260218", "pass"),
        ("7.13.0a20260601", "pass"),
    ],
)
def test_therock_nightlies_count_as_fixed_from_the_first_build_reported_working(
    scan, nightly: str, status: str
) -> None:
    """7.11 nightlies predate the ROCr fix; 7.12.0a20260218 is the first reported working."""
    run = scan(
        "tuned-ready",
        {
            "opt/rocm/.info/version": None,
            "var/lib/dpkg/status": None,
            ".hostcheck/commands/python-env.txt": _python_env(
                torch=f"2.10.0a0+rocm{nightly}", rocm_sdk=nightly
            ),
        },
        "--python",
        "/opt/vllm/bin/python3",
        "--select",
        "amdgpu.cwsr",
    )
    assert run.finding("amdgpu.cwsr")["status"] == status


def test_cwsr_workaround_left_on_a_fixed_stack_is_removed_not_added(scan) -> None:
    run = scan(
        "tuned-ready",
        {
            "proc/cmdline": TUNED_CMDLINE + " amdgpu.cwsr_enable=0\n",
            "sys/module/amdgpu/parameters/cwsr_enable": "0\n",
        },
        "--select",
        "amdgpu.cwsr",
    )
    finding = run.finding("amdgpu.cwsr")
    assert finding["status"] == "warn"
    assert finding["remediation"]["kernel_args"] == {"add": [], "remove": ["amdgpu.cwsr_enable"]}


def test_cwsr_off_by_the_kernels_default_is_fine(scan) -> None:
    run = scan(
        "tuned-ready",
        {"sys/module/amdgpu/parameters/cwsr_enable": "0\n"},
        "--select",
        "amdgpu.cwsr",
    )
    assert run.finding("amdgpu.cwsr")["status"] == "pass"
    assert "off by this kernel's default" in run.finding("amdgpu.cwsr")["message"]


# --- firmware.mes ----------------------------------------------------------------------------


def _dpkg_with_firmware(version: str) -> str:
    from tests.conftest import FIXTURES

    status = (FIXTURES / "tuned-ready" / "var/lib/dpkg/status").read_text()
    return status.replace("Version: 20240318.git3b128b60-0ubuntu2.17", f"Version: {version}")


def test_bad_firmware_package_with_good_mes_running_warns(scan) -> None:
    run = scan(
        "tuned-ready",
        {"var/lib/dpkg/status": _dpkg_with_firmware("20251125.git1a2b3c4d-0ubuntu1")},
        "--select",
        "firmware.mes",
    )
    finding = run.finding("firmware.mes")
    assert finding["status"] == "warn"
    assert (
        "the running MES is 0x00000080, but the next initramfs rebuild and boot load it"
        in finding["message"]
    )


def test_bad_firmware_package_with_an_override_in_place_passes(scan) -> None:
    run = scan(
        "tuned-ready",
        {
            "var/lib/dpkg/status": _dpkg_with_firmware("20251125.git1a2b3c4d-0ubuntu1"),
            "lib/firmware/updates/amdgpu/gc_11_5_1_mes_2.bin": "blob",
        },
        "--select",
        "firmware.mes",
    )
    finding = run.finding("firmware.mes")
    assert finding["status"] == "pass"
    assert any(e["value"] == "gc_11_5_1_mes_2.bin" for e in finding["evidence"])


@pytest.mark.parametrize(
    ("blas", "status"),
    [("_BlasBackend.Cublaslt", "pass"), ("_BlasBackend.Cublas", "warn"), (None, "warn")],
)
def test_vllm_needs_no_hipblaslt_switch_when_its_pytorch_prefers_it(
    scan, blas: str | None, status: str
) -> None:
    """PyTorch's own answer decides, not its version: the 2.8 preference was reverted
    (ROCm/pytorch#2872) and re-added later (#3207). Without an answer, the switch is advised."""
    environ = "PATH=/usr/bin\0"
    edits = {
        "proc/3100/environ": environ,
        ".hostcheck/commands/python-env.txt": _python_env(blas=blas),
    }
    run = scan(
        "tuned-ready", edits, "--python", "/opt/vllm/bin/python3", "--select", "perf.hipblaslt"
    )
    finding = run.finding("perf.hipblaslt")
    assert finding["status"] == status
    if status == "warn":
        assert "TORCH_BLAS_PREFER_HIPBLASLT=1 for vllm pid 3100" in finding["message"]


# --- process environments --------------------------------------------------------------------


def test_unreadable_process_environment_is_not_a_pass(scan) -> None:
    """Another user's vLLM without root: its environment cannot be read, so nothing is known."""
    run = scan(
        "stock-128g",
        {"proc/2211/environ": None},
        "--select",
        "env.hsa-override",
        "--select",
        "perf.hipblaslt",
    )
    for rule in ("env.hsa-override", "perf.hipblaslt"):
        finding = run.finding(rule)
        assert finding["status"] == "error", rule
        assert "llama.cpp pid 2211 could not be read; run as root" in finding["message"]


# --- devices ---------------------------------------------------------------------------------


def test_without_a_recorded_or_given_user_the_check_says_what_it_checked(scan) -> None:
    run = scan("tuned-ready", {".hostcheck/user": None}, "--select", "devices.kfd")
    finding = run.finding("devices.kfd")
    assert finding["status"] == "pass"
    assert "checked as root, which can open it: give --user SERVICE_USER" in finding["message"]


def test_user_given_with_user_and_group_of_a_real_node_by_name(scan) -> None:
    """A node recorded by gid only is named by /etc/group in the message and the fix."""
    devices = '{"/dev/kfd": {"type": "char", "mode": "0660", "uid": 0, "gid": 44, "rdev": "510:0"}}'
    run = scan(
        "tuned-ready",
        {".hostcheck/devices.json": devices},
        "--user",
        "daemon",
        "--select",
        "devices.kfd",
    )
    finding = run.finding("devices.kfd")
    assert finding["status"] == "fail"
    assert "usermod -aG video daemon" in finding["message"]


def test_cwsr_workaround_staged_in_modprobe_is_removed_there(scan) -> None:
    run = scan(
        "tuned-ready",
        {
            "etc/modprobe.d/amdgpu-cwsr.conf": "options amdgpu cwsr_enable=0\n",
            "sys/module/amdgpu/parameters/cwsr_enable": "0\n",
        },
        "--select",
        "amdgpu.cwsr",
    )
    remediation = run.finding("amdgpu.cwsr")["remediation"]
    assert remediation["kind"] == "manual"
    assert remediation["kernel_args"] == {"add": [], "remove": []}
    assert (
        "Remove 'options amdgpu cwsr_enable=0' from /etc/modprobe.d/amdgpu-cwsr.conf"
        in remediation["summary"]
    )
