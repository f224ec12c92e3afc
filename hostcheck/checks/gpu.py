"""The GPU itself: presence, CWSR, MES firmware and hang history (facts §2, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostcheck.checks._registry import check_kind
from hostcheck.checks._util import (
    Context,
    cmdline_value,
    evidence,
    fixed_rocm,
    kernel_has_rocm_fixes,
    release,
    rocm_versions,
    unknown,
)
from hostcheck.facts import GFX1151_TARGET_VERSION, STRIX_HALO_PCI_ID, Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Value


@check_kind("gpu-present")
def gpu_present(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    search = facts.gpu
    gpu = search.strix_halo
    if gpu is None:
        others = "; other GPUs: " + ", ".join(search.other_gpus) if search.other_gpus else ""
        return Outcome(
            Verdict.PROBLEM,
            f"No Strix Halo GPU (PCI {STRIX_HALO_PCI_ID}, gfx1151) was found{others}. This host "
            "cannot run the Strix Halo inference stack; the GPU rules are skipped.",
            (Evidence("searched", "not found", search.searched),),
        )
    items = [
        Evidence(
            "PCI device",
            f"{gpu.pci_slot} {gpu.pci_id} rev {gpu.revision or '?'}",
            f"{gpu.sysfs}/uevent",
        ),
        Evidence("driver", gpu.driver or "none", f"{gpu.sysfs}/uevent"),
        Evidence(
            "DRM card / render node",
            f"{gpu.card or '-'} / {gpu.render_node or '-'}",
            f"{gpu.sysfs}/drm ({gpu.found_by})",
        ),
        evidence("KFD gfx_target_version", gpu.gfx_target_version),
    ]
    if search.amdsmi is not None:
        items.append(evidence("amdsmi", search.amdsmi))
    if gpu.driver != "amdgpu":
        return Outcome(
            Verdict.PROBLEM,
            f"The Strix Halo GPU at {gpu.pci_slot} is bound to {gpu.driver or 'no driver'}, not "
            "amdgpu. Load amdgpu (check `modprobe amdgpu` and the kernel log).",
            tuple(items),
        )
    gfx = gpu.gfx_target_version
    if isinstance(gfx, Value) and gfx.value != GFX1151_TARGET_VERSION:
        return Outcome(
            Verdict.PROBLEM,
            f"KFD reports gfx_target_version {gfx.value}, not {GFX1151_TARGET_VERSION} (gfx1151).",
            tuple(items),
        )
    if not isinstance(gfx, Value):
        return Outcome(
            Verdict.PROBLEM,
            f"The Strix Halo GPU at {gpu.pci_slot} has no KFD compute node: ROCm cannot use it. "
            "Check that the kernel was built with CONFIG_HSA_AMD and the kernel log for kfd errors.",
            tuple(items),
        )
    return Outcome(
        Verdict.OK,
        f"Strix Halo iGPU (gfx1151) at {gpu.pci_slot}, driven by amdgpu, "
        f"{gpu.card} / {gpu.render_node}.",
        tuple(items),
    )


@check_kind("cwsr")
def cwsr(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """amdgpu.cwsr_enable=0 until kernel and ROCm both carry the CWSR-size fix (ROCm#5590)."""
    live = facts.driver.amdgpu_params.get("cwsr_enable")
    items = [evidence("cwsr_enable (live)", live)]
    if isinstance(live, Value):
        enabled = live.value.strip() != "0"
    else:
        staged = cmdline_value(facts, "amdgpu.cwsr_enable")
        if staged is None:
            return unknown("Could not read amdgpu's cwsr_enable (is amdgpu loaded?).", *items)
        enabled = staged != "0"
        items.append(Evidence("cwsr_enable (command line)", staged, "/proc/cmdline"))
    rel = release(facts)
    kernel_fixed = kernel_has_rocm_fixes(facts, params["kernel"])
    rocms = rocm_versions(facts)
    rocm_fixed = bool(rocms) and all(fixed_rocm(v, params["rocm_fixed"]) for v in rocms)
    items.append(
        Evidence(
            "kernel",
            rel.raw if rel else None,
            "/proc/sys/kernel/osrelease",
            "has the CWSR fix" if kernel_fixed else "lacks the CWSR fix",
        )
    )
    for version in rocms:
        items.append(
            Evidence(
                "ROCm",
                version.text,
                version.source,
                "has the CWSR fix"
                if fixed_rocm(version, params["rocm_fixed"])
                else "lacks the CWSR fix",
            )
        )
    if not rocms:
        items.append(
            Evidence("ROCm", None, "/opt/rocm/.info/version", "not found: assumed unfixed")
        )
    if kernel_fixed and rocm_fixed:
        if not enabled:
            return Outcome(
                Verdict.ADVISORY,
                "amdgpu.cwsr_enable=0 is no longer needed: kernel and ROCm both carry the CWSR "
                "fix, and disabling CWSR has side effects. Remove the argument.",
                tuple(items),
                fix={
                    "remove_kernel_args": ["amdgpu.cwsr_enable"],
                    "summary": "Remove the amdgpu.cwsr_enable=0 workaround; kernel and ROCm carry the fix.",
                },
            )
        return Outcome(
            Verdict.OK, "CWSR is enabled, and kernel and ROCm carry the CWSR fix.", tuple(items)
        )
    if not enabled:
        return Outcome(
            Verdict.OK,
            "CWSR is disabled (amdgpu.cwsr_enable=0), the workaround for MES hangs on this stack.",
            tuple(items),
        )
    missing = " and ".join(
        part for part, ok in (("the kernel", kernel_fixed), ("ROCm", rocm_fixed)) if not ok
    )
    return Outcome(
        Verdict.PROBLEM,
        f"CWSR is enabled but {missing} lack(s) the CWSR save-area fix: compute queues hang "
        "with 'MES failed to respond' under vLLM (ROCm#5590). Add amdgpu.cwsr_enable=0 to the "
        "kernel command line.",
        tuple(items),
        fix={},
    )


@check_kind("mes-firmware")
def mes_firmware(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    items = [
        evidence("MES firmware", gpu.mes_fw, lambda v: f"0x{v:08x}"),
        evidence("MES KIQ firmware", gpu.mes_kiq_fw, lambda v: f"0x{v:08x}"),
    ]
    bad_packages: list[str] = []
    packages = facts.software.packages
    for prefix in params["bad_firmware_packages"]:
        if isinstance(packages, Value):
            version = packages.value.get("linux-firmware")
            if version and version.startswith(prefix):
                bad_packages.append(f"linux-firmware {version}")
                items.append(Evidence("package", f"linux-firmware {version}", packages.source))
        rpm = facts.software.rpm_firmware
        if isinstance(rpm, Value) and f"-{prefix}" in rpm.value:
            bad_packages.append(rpm.value)
            items.append(Evidence("package", rpm.value, rpm.source))
    known_bad = {int(k, 16): v for k, v in params["bad"].items()}
    suspect = {int(k, 16): v for k, v in params["suspect"].items()}
    if isinstance(gpu.mes_fw, Value) and gpu.mes_fw.value in known_bad:
        version = gpu.mes_fw.value
        return Outcome(
            Verdict.PROBLEM,
            f"MES firmware 0x{version:08x} is known bad on Strix Halo ({known_bad[version]}): GPU "
            "hangs and memory access faults. Install firmware with MES 0x00000080 (linux-firmware "
            "20251111 or 20260110 and later; not 20251125).",
            tuple(items),
            fix={},
        )
    if bad_packages:
        return Outcome(
            Verdict.PROBLEM,
            f"{', '.join(bad_packages)} ships the broken MES 0x83 for Strix Halo; it takes effect "
            "at the next boot. Install another linux-firmware version.",
            tuple(items),
            fix={},
        )
    if not isinstance(gpu.mes_fw, Value):
        return unknown("The MES firmware version could not be read.", *items)
    version = gpu.mes_fw.value
    if version in suspect:
        return Outcome(
            Verdict.ADVISORY,
            f"MES firmware 0x{version:08x} has open hang reports under vLLM ({suspect[version]}).",
            tuple(items),
        )
    good = {int(v, 16) for v in params["good"]}
    note = "known good" if version in good else "not known bad"
    return Outcome(Verdict.OK, f"MES firmware 0x{version:08x} is {note}.", tuple(items))


@check_kind("gpu-hangs")
def gpu_hangs(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    log = facts.kernel_log
    if not isinstance(log, Value):
        return unknown(
            "The kernel log could not be read; run as root (or with CAP_SYSLOG) to check for "
            "GPU hangs.",
            evidence("kernel log", log),
        )
    kinds: dict[str, Any] = params["kinds"]
    found: dict[str, list[str]] = {}
    for event in log.value:
        if event.kind in kinds:
            found.setdefault(event.kind, []).append(event.line.text)
    if not found:
        return Outcome(
            Verdict.OK,
            "No MES timeout, GPU reset, page fault or wedged device in the kernel log since boot.",
            (Evidence("kernel log", "no hang lines", log.source),),
        )
    items = []
    parts = []
    for kind, lines in found.items():
        spec = kinds[kind]
        parts.append(f"{len(lines)} {spec['label']} ({', '.join(spec['references'])})")
        for number, line in enumerate(lines[: int(params["lines_per_kind"])], start=1):
            items.append(Evidence(spec["label"], line, log.source, f"{number} of {len(lines)}"))
    return Outcome(
        Verdict.PROBLEM,
        "The kernel log since boot shows " + "; ".join(parts) + ". See amdgpu.cwsr and "
        "firmware.mes for the known causes.",
        tuple(items),
    )
