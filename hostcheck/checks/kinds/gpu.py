"""The GPU itself: presence, CWSR and hang history (facts §2, §6); MES firmware is in firmware.py."""

from __future__ import annotations

from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import (
    Context,
    RocmVersion,
    cmdline_value,
    dkms_note,
    evidence,
    fixed_rocm,
    kernel_has_fixes,
    kfd_cwsr_evidence,
    kfd_cwsr_export,
    release,
    rocm_versions,
    staged_option,
    unknown,
    value_or,
)
from hostcheck.facts import GFX1151_TARGET_VERSION, STRIX_HALO_PCI_ID, Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@check_kind("gpu-present")
def gpu_present(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    search = facts.gpu
    gpu = search.strix_halo
    if gpu is None and search.failed is not None:
        return unknown(
            f"Could not search for the GPU: {search.failed.describe()}. A listing that fails is "
            "not an absent GPU (a wedged GPU can make sysfs reads hang).",
            Evidence("searched", "could not be read", search.searched),
        )
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
    if isinstance(gfx, Unavailable) and gfx.reason is not Reason.MISSING:
        return unknown(
            f"Could not read the KFD topology of the Strix Halo GPU at {gpu.pci_slot}: "
            f"{gfx.describe()}. A read that fails (a timeout on a wedged GPU, permission "
            "denied) says nothing about the kernel's KFD support.",
            *items,
        )
    if not isinstance(gfx, Value):
        return Outcome(
            Verdict.PROBLEM,
            f"The Strix Halo GPU at {gpu.pci_slot} has no KFD compute node: ROCm cannot use it. "
            "Check that the kernel was built with CONFIG_HSA_AMD and the kernel log for kfd errors.",
            tuple(items),
        )
    other_id = (
        f" (PCI {gpu.pci_id}: a gfx1151 part other than the 1002:1586 of the Ryzen AI Max "
        "300 series, e.g. Gorgon Halo)"
        if gpu.pci_id != STRIX_HALO_PCI_ID
        else ""
    )
    return Outcome(
        Verdict.OK,
        f"Strix Halo iGPU (gfx1151) at {gpu.pci_slot}, driven by amdgpu, "
        f"{gpu.card} / {gpu.render_node}{other_id}.",
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
    exported = kfd_cwsr_export(facts)
    fixed_from = (
        f"{exported.source}: its KFD exports cwsr_size"
        if exported is not None
        else "/proc/sys/kernel/osrelease"
    )
    items.append(
        Evidence("kernel", rel.raw if rel else None, "/proc/sys/kernel/osrelease", kernel_note)
    )
    items.extend(kfd_cwsr_evidence(facts))
    for version in rocms:
        note = "has the CWSR fix" if has_fix(version) else "lacks the CWSR fix"
        items.append(Evidence("ROCm", version.text, version.source, note))
    if not rocms:
        # No ROCm is not an unfixed ROCm: only the kernel half can be judged (ROCm#5724:
        # the fix needs both halves; without a ROCm nothing uses KFD's user queues yet).
        stack = facts.stack
        searched = (
            f"not found ({stack.summary()})"
            if stack is not None
            else "not found in /opt/rocm or the packages"
        )
        items.append(Evidence("ROCm", None, "hostcheck's stack probe", searched))
        declare = (
            " Declare the serving image's ROCm with --workload-rocm VERSION to judge the ROCm half."
            if stack is not None and stack.node == "container-node"
            else ""
        )
        if kernel_fixed:
            return Outcome(
                Verdict.NOT_APPLICABLE,
                f"Kernel half: {rel.raw if rel else 'the kernel'} carries the CWSR fix (read from "
                f"{fixed_from}). ROCm half: no ROCm found, so none to judge and no "
                f"workaround needed.{declare}",
                tuple(items),
            )
        if enabled:
            missing = (
                f"kernel {rel.raw if rel else ''} lacks the CWSR save-area fix (read from "
                "/proc/sys/kernel/osrelease)"
                if kernel_fixed is False
                else (
                    "amdgpu-dkms is not known to carry the CWSR save-area fix"
                    if facts.driver.kind == "dkms"
                    else "the kernel's fix state is unknown"
                )
            )
            return Outcome(
                Verdict.PROBLEM,
                f"CWSR is enabled and the kernel half is missing: {missing}. No ROCm was found "
                "(the ROCm half is not judged), but any ROCm on this kernel hangs with 'MES "
                "failed to respond' under load (ROCm#5590). Add amdgpu.cwsr_enable=0 to the "
                "kernel command line." + declare,
                tuple(items),
                fix={},
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
        reasons.append(
            f"the kernel half is missing: kernel {rel.raw if rel else ''} lacks the CWSR "
            "save-area fix"
        )
    elif kernel_fixed is None:
        reasons.append(
            "amdgpu-dkms is not known to carry the CWSR save-area fix"
            if facts.driver.kind == "dkms"
            else "the kernel's fix state is unknown"
        )
    if not rocm_fixed:
        unfixed = [v for v in rocms if not has_fix(v)]
        reasons.append(
            "the ROCm half is missing: "
            + ", ".join(f"ROCm {v.text} (from {v.source})" for v in unfixed)
            + (" lacks it" if len(unfixed) == 1 else " lack it")
        )
    return Outcome(
        Verdict.PROBLEM,
        f"CWSR is enabled but {' and '.join(reasons)}: compute queues hang with 'MES failed to "
        "respond' under vLLM (ROCm#5590). Add amdgpu.cwsr_enable=0 to the kernel command line.",
        tuple(items),
        fix={},
    )


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
    hsa = facts.hsa_errors
    hsa_lines = hsa.value if isinstance(hsa, Value) else []
    if not counted and not hsa_lines:
        return Outcome(
            Verdict.OK,
            "No MES timeout, GPU reset, page fault or wedged device in the kernel log since boot"
            + (", and no ROCm runtime error in the journal." if isinstance(hsa, Value) else "."),
            (Evidence("kernel log", "no hang lines", log.source),)
            + (
                (Evidence("journal", "no ROCm runtime error lines", hsa.source),)
                if isinstance(hsa, Value)
                else ()
            ),
        )
    items = []
    parts = []
    for kind, lines in found.items():
        spec = kinds[kind]
        if spec.get("count", True):
            parts.append(f"{spec['label']}: {len(lines)}")
        for number, line in enumerate(lines[: int(params["lines_per_kind"])], start=1):
            items.append(Evidence(spec["label"], line, log.source, f"{number} of {len(lines)}"))
    limit = int(params["lines_per_kind"])
    for number, line in enumerate(hsa_lines[:limit], start=1):
        items.append(
            Evidence("ROCm runtime error", line, _source(hsa), f"{number} of {len(hsa_lines)}")
        )
    journal = (
        f"This boot's journal has {len(hsa_lines)} ROCm runtime error line(s) from GPU "
        'processes ("Memory access fault by GPU node", "Memory critical error" or "HW '
        'Exception by GPU"): ROCm aborted them, and such errors never reach the kernel log '
        "(ROCm#5824, #6182). "
        if hsa_lines
        else ""
    )
    return Outcome(
        Verdict.PROBLEM,
        ("The kernel log since boot shows " + "; ".join(parts) + ". " if parts else "")
        + journal
        + (
            "CPF faults on the first dispatch are the amdgpu-dkms conflict AMD describes "
            "(ROCm#6182): see driver.no-dkms and firmware.mes. "
            if "cpf-fault" in found
            else ""
        )
        + "See amdgpu.cwsr and firmware.mes for the known causes.",
        tuple(items),
    )


@check_kind("previous-boot", requires=("kinds",))
def previous_boot(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Hangs that left no trace in this boot: the previous boot's kernel journal, pstore crash
    records, and this boot's signs of an unclean shutdown."""
    prev = facts.previous_boot
    kinds: Mapping[str, str] = params["kinds"]
    items: list[Evidence] = []
    problems: list[str] = []
    if isinstance(prev.kernel_log, Value):
        found: dict[str, list[str]] = {}
        for event in prev.kernel_log.value:
            if event.kind in kinds:
                found.setdefault(event.kind, []).append(event.line.text)
        for kind, lines in found.items():
            for line in lines[:2]:
                items.append(Evidence(kinds[kind], line, prev.kernel_log.source))
        if found:
            problems.append(
                "The previous boot's kernel log shows "
                + "; ".join(f"{kinds[k]}: {len(v)}" for k, v in found.items())
                + "."
            )
        else:
            items.append(Evidence("previous boot", "no GPU hang lines", prev.kernel_log.source))
    else:
        items.append(evidence("previous boot's kernel log", prev.kernel_log))
    if isinstance(prev.pstore, Value) and prev.pstore.value:
        items.append(Evidence("pstore", ", ".join(prev.pstore.value[:5]), prev.pstore.source))
        problems.append(
            f"{len(prev.pstore.value)} crash record(s) from an earlier boot are in "
            f"{prev.pstore.source} (a panic or oops; read them, then remove them)."
        )
    markers = [
        event.line.text
        for event in value_or(facts.kernel_log, [])
        if event.kind == "unclean-shutdown"
    ]
    if markers:
        items.append(Evidence("this boot's kernel log", markers[0], _log_source(facts)))
        problems.append(
            "This boot's log shows the previous one did not shut down cleanly (a silent GPU "
            "hang leaves no other trace, ROCm#6165)."
        )
    if problems:
        return Outcome(
            Verdict.PROBLEM,
            " ".join(problems) + " See log.gpu-hangs, amdgpu.cwsr and firmware.mes for causes.",
            tuple(items),
        )
    caveat = (
        ""
        if isinstance(prev.kernel_log, Value)
        else " (the previous boot's journal is not available: no persistent journal, or it "
        "was not recorded)"
    )
    return Outcome(
        Verdict.OK,
        "No sign that the previous boot hung or crashed" + caveat + ".",
        tuple(items),
    )


def _source(reading: Value[list[str]] | Unavailable | None) -> str:
    return getattr(reading, "source", "journalctl")


def _log_source(facts: Facts) -> str:
    return getattr(facts.kernel_log, "source", "dmesg")
