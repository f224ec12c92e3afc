"""The GPU itself: presence, CWSR, MES firmware and hang history (facts §2, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostcheck.checks._registry import check_kind
from hostcheck.checks._util import (
    Context,
    RocmVersion,
    cmdline_value,
    dkms_note,
    evidence,
    fixed_rocm,
    kernel_has_fixes,
    release,
    rocm_versions,
    staged_option,
    unknown,
)
from hostcheck.facts import GFX1151_TARGET_VERSION, STRIX_HALO_PCI_ID, Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Reason, Value


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


@check_kind("cwsr", requires=("rocm_fixed", "kernel"))
def cwsr(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """amdgpu.cwsr_enable=0 until kernel and ROCm both carry the CWSR-size fix (ROCm#5590)."""
    live = facts.driver.amdgpu_params.get("cwsr_enable")
    items = [evidence("cwsr_enable (live)", live)]
    on_cmdline = cmdline_value(facts, "amdgpu.cwsr_enable")
    staged = staged_option(facts, "amdgpu", "cwsr_enable")
    if isinstance(live, Value):
        enabled = live.value.strip() != "0"
    elif on_cmdline is not None:
        enabled = on_cmdline != "0"
        items.append(Evidence("cwsr_enable (command line)", on_cmdline, "/proc/cmdline"))
    else:
        return unknown("Could not read amdgpu's cwsr_enable (is amdgpu loaded?).", *items)
    rel = release(facts)
    kernel_fixed = kernel_has_fixes(facts, params["kernel"])
    rocms = rocm_versions(facts)
    nightly = params.get("nightly_fixed_from")

    def has_fix(version: RocmVersion) -> bool:
        return fixed_rocm(version, params["rocm_fixed"], nightly)

    rocm_fixed = bool(rocms) and all(has_fix(v) for v in rocms)
    if kernel_fixed is None:
        kernel_note = (
            dkms_note(facts) if facts.driver.kind == "dkms" else "unknown: assumed unfixed"
        )
    else:
        kernel_note = "has the CWSR fix" if kernel_fixed else "lacks the CWSR fix"
    items.append(
        Evidence("kernel", rel.raw if rel else None, "/proc/sys/kernel/osrelease", kernel_note)
    )
    for version in rocms:
        note = "has the CWSR fix" if has_fix(version) else "lacks the CWSR fix"
        items.append(Evidence("ROCm", version.text, version.source, note))
    if not rocms:
        items.append(
            Evidence("ROCm", None, "/opt/rocm/.info/version", "not found: assumed unfixed")
        )
    if kernel_fixed and rocm_fixed:
        if enabled:
            return Outcome(
                Verdict.OK, "CWSR is enabled, and kernel and ROCm carry the CWSR fix.", tuple(items)
            )
        if on_cmdline is None and staged is None:
            return Outcome(
                Verdict.OK,
                "CWSR is off by this kernel's default; kernel and ROCm carry the CWSR fix.",
                tuple(items),
            )
        if on_cmdline is not None:
            where = "the kernel command line"
            fix: dict[str, Any] = {
                "add_kernel_args": [],
                "remove_kernel_args": ["amdgpu.cwsr_enable"],
            }
        else:
            assert staged is not None
            where = staged[1]
            fix = {
                "kind": "manual",
                "add_kernel_args": [],
                "remove_kernel_args": [],
                "summary": f"Remove 'options amdgpu cwsr_enable=0' from {where}, rebuild the "
                "initramfs and reboot.",
            }
        fix.setdefault(
            "summary",
            "Remove amdgpu.cwsr_enable=0 from the kernel command line; kernel and ROCm carry the fix.",
        )
        return Outcome(
            Verdict.ADVISORY,
            f"amdgpu.cwsr_enable=0 (in {where}) is no longer needed: kernel and ROCm both carry "
            "the CWSR fix, and disabling CWSR has side effects. Remove it.",
            tuple(items),
            fix=fix,
        )
    if not enabled:
        return Outcome(
            Verdict.OK,
            "CWSR is disabled (amdgpu.cwsr_enable=0), the workaround for MES hangs on this stack.",
            tuple(items),
        )
    reasons = []
    if kernel_fixed is False:
        reasons.append(f"kernel {rel.raw if rel else ''} lacks the CWSR save-area fix")
    elif kernel_fixed is None:
        reasons.append(
            "amdgpu-dkms is not known to carry the CWSR save-area fix"
            if facts.driver.kind == "dkms"
            else "the kernel's fix state is unknown"
        )
    if not rocm_fixed:
        reasons.append(
            f"ROCm {', '.join(v.text for v in rocms)} lacks it" if rocms else "no ROCm was found"
        )
    return Outcome(
        Verdict.PROBLEM,
        f"CWSR is enabled but {' and '.join(reasons)}: compute queues hang with 'MES failed to "
        "respond' under vLLM (ROCm#5590). Add amdgpu.cwsr_enable=0 to the kernel command line.",
        tuple(items),
        fix={},
    )


@check_kind("mes-firmware", requires=("good", "bad", "suspect", "bad_firmware_packages"))
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
            "20251111 or 20260110 and later; not 20251125)"
            + (
                "; with amdgpu-dkms it may come from amdgpu-dkms-firmware (check "
                "`dpkg -S /lib/firmware/amdgpu/gc_11_5_1_mes1.bin.zst`)."
                if facts.driver.kind == "dkms"
                else "."
            ),
            tuple(items),
            fix={},
        )
    overrides = facts.software.mes_firmware_overrides
    if overrides:
        items.append(
            Evidence("firmware override", ", ".join(overrides), "/lib/firmware/updates/amdgpu")
        )
    if bad_packages and not overrides:
        running = (
            f"the running MES is 0x{gpu.mes_fw.value:08x}, but "
            if isinstance(gpu.mes_fw, Value)
            else ""
        )
        return Outcome(
            # A good MES running now means the bad blob has not been loaded yet (an older
            # initramfs): it will be at the next initramfs rebuild and boot.
            Verdict.ADVISORY if isinstance(gpu.mes_fw, Value) else Verdict.PROBLEM,
            f"{', '.join(bad_packages)} ships the broken MES 0x83 for Strix Halo (ROCm#5724); "
            f"{running}the next initramfs rebuild and boot load it. Install another "
            "linux-firmware version, or keep good gc_11_5_1_mes*.bin files in "
            "/lib/firmware/updates/amdgpu/.",
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


@check_kind("gpu-hangs", requires=("kinds", "lines_per_kind"))
def gpu_hangs(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    log = facts.kernel_log
    if not isinstance(log, Value):
        if log.reason is Reason.TIMEOUT:
            return unknown(
                "Reading the kernel log took too long, so GPU hangs could not be checked.",
                evidence("kernel log", log),
            )
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
    counted = [kind for kind in found if kinds[kind].get("count", True)]
    if not counted:
        return Outcome(
            Verdict.OK,
            "No MES timeout, GPU reset, page fault or wedged device in the kernel log since boot.",
            (Evidence("kernel log", "no hang lines", log.source),),
        )
    items = []
    parts = []
    for kind, lines in found.items():
        spec = kinds[kind]
        if spec.get("count", True):
            parts.append(f"{spec['label']}: {len(lines)} ({', '.join(spec['references'])})")
        for number, line in enumerate(lines[: int(params["lines_per_kind"])], start=1):
            items.append(Evidence(spec["label"], line, log.source, f"{number} of {len(lines)}"))
    return Outcome(
        Verdict.PROBLEM,
        "The kernel log since boot shows " + "; ".join(parts) + ". See amdgpu.cwsr and "
        "firmware.mes for the known causes.",
        tuple(items),
    )
