"""ROCm userspace, its compatibility with the kernel, and PyTorch (facts §5.3, §7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostcheck.checks._registry import check_kind
from hostcheck.checks._util import (
    GIB,
    Context,
    dkms_note,
    evidence,
    gib,
    gpu_addressable,
    kernel_has_fixes,
    pad,
    release,
    release_tuple,
    rocm_versions,
    ubuntu_kernel_class,
    unknown,
)
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Unavailable


@check_kind("rocm-version", requires=("min",))
def rocm_version(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    versions = rocm_versions(facts)
    floor = pad(release_tuple(params["min"]))
    items = [Evidence("ROCm", v.text, v.source) for v in versions]
    if not versions:
        items.append(evidence("ROCm", facts.software.rocm_version))
        hint = "" if facts.software.python else " (TheRock pip installs are found with --python)"
        return Outcome(
            Verdict.PROBLEM,
            f"No ROCm userspace found in /opt/rocm or the distribution packages{hint}. Install "
            f"ROCm {params['min']} or newer, or TheRock's gfx1151 wheels.",
            tuple(items),
        )
    # A version read from a library name (libamdhip64.so.6.4.x: "6.4") does not tell the
    # patch level: it is not called older than a floor of the same release line.
    old = [
        v
        for v in versions
        if pad(v.release) < floor
        and not (len(v.release) < 3 and floor[: len(v.release)] == v.release)
    ]
    if old:
        return Outcome(
            Verdict.PROBLEM,
            f"ROCm {', '.join(v.text for v in old)} is older than {params['min']}, the minimum for "
            "gfx1151.",
            tuple(items),
        )
    return Outcome(
        Verdict.OK,
        f"ROCm {', '.join(v.text for v in versions)} (at least {params['min']}).",
        tuple(items),
    )


@check_kind("rocm-kernel-compat", requires=("table", "table_date", "kernel"))
def rocm_kernel_compat(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """The ROCm × kernel table of the ROCm docs (facts §5.3)."""
    found = rocm_versions(facts)
    # The table is for AMD's builds; a distribution's ROCm is built and supported by it.
    versions = [v for v in found if v.origin != "distribution"]
    rel = release(facts)
    if not found:
        return Outcome(Verdict.NOT_APPLICABLE, "No ROCm userspace found (see rocm.version).")
    if not versions:
        return Outcome(
            Verdict.NOT_APPLICABLE,
            "The ROCm docs' table covers AMD's ROCm builds; "
            + ", ".join(f"ROCm {v.text} ({v.source})" for v in found)
            + " is the distribution's own build, supported by the distribution.",
            tuple(Evidence("ROCm", v.text, v.source, "distribution build") for v in found),
        )
    if rel is None:
        return unknown(
            "The running kernel release could not be read.",
            evidence("kernel", facts.kernel.release),
        )
    kernel_params = params["kernel"]
    if facts.driver.kind == "dkms":
        return Outcome(
            Verdict.ADVISORY,
            f"The ROCm docs' compatibility table is for the kernel's own driver; here {dkms_note(facts)}.",
            (
                Evidence(
                    "kernel",
                    rel.raw,
                    "/proc/sys/kernel/osrelease",
                    "; ".join(facts.driver.evidence),
                ),
            ),
        )
    if ubuntu_kernel_class(facts, kernel_params):
        column, column_text = "ubuntu", "fixed Ubuntu kernel (24.04 HWE/OEM or 26.04)"
    elif kernel_has_fixes(facts, kernel_params):
        column, column_text = "fixed", f"kernel at or above {kernel_params['generic']}"
    else:
        column, column_text = "older", f"kernel below {kernel_params['generic']}"
    items: list[Evidence] = [Evidence("kernel", rel.raw, "/proc/sys/kernel/osrelease", column_text)]
    worst = Verdict.OK
    messages = []
    verdicts = {"ok": Verdict.OK, "caution": Verdict.ADVISORY, "broken": Verdict.PROBLEM}
    order = [Verdict.OK, Verdict.ADVISORY, Verdict.PROBLEM]
    for version in versions:
        row = next(
            (
                r
                for r in params["table"]
                if pad(release_tuple(r["from"]))
                <= pad(version.release)
                < pad(release_tuple(r["below"]))
            ),
            None,
        )
        if row is None:
            items.append(Evidence("ROCm", version.text, version.source, "not in the table"))
            messages.append(
                f"ROCm {version.text} is not in the compatibility table (ROCm docs, "
                f"{params['table_date']}); check the current ROCm documentation."
            )
            verdict = Verdict.ADVISORY
        else:
            verdict = verdicts[row[column]]
            items.append(Evidence("ROCm", version.text, version.source, f"table: {row[column]}"))
            messages.append(
                {
                    Verdict.OK: f"ROCm {version.text} is supported with a {column_text}.",
                    Verdict.ADVISORY: f"ROCm {version.text} works only with limitations on a {column_text}.",
                    Verdict.PROBLEM: f"ROCm {version.text} does not work with a {column_text}.",
                }[verdict]
            )
        worst = max(worst, verdict, key=order.index)
    if worst is Verdict.PROBLEM:
        messages.append(
            "Use a ROCm release the table marks supported for this kernel, or change the kernel."
        )
    return Outcome(worst, " ".join(messages), tuple(items))


@check_kind("torch-arch", requires=("arch", "min_ratio", "known_caps"))
def torch_arch(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    python = facts.software.python
    if python is None:
        return Outcome(
            Verdict.NOT_APPLICABLE,
            "No Python environment given; use --python PATH to check its PyTorch.",
        )
    if isinstance(python, Unavailable):
        return unknown("The Python environment could not be inspected.", evidence("python", python))
    env = python.value
    source = env.interpreter or python.source
    items = [
        Evidence("torch", env.torch, source),
        Evidence("HIP", env.hip, source),
        Evidence("arch list", " ".join(env.arch_list) or None, source),
    ]
    if env.torch is None:
        why = f" ({env.error})" if env.error else ""
        return Outcome(
            Verdict.PROBLEM, f"PyTorch is not importable in {source}{why}.", tuple(items)
        )
    if not env.hip:
        return Outcome(
            Verdict.PROBLEM,
            f"PyTorch {env.torch} in {source} is not a ROCm build (torch.version.hip is empty). "
            "Install a ROCm build with gfx1151, e.g. TheRock's gfx1151 wheels.",
            tuple(items),
        )
    target = params["arch"]
    if target not in env.arch_list:
        return Outcome(
            Verdict.PROBLEM,
            f"PyTorch {env.torch} (HIP {env.hip}) was built without {target} kernels "
            f"(arch list: {' '.join(env.arch_list) or 'empty'}).",
            tuple(items),
        )
    if env.total_memory is None:
        return Outcome(
            Verdict.PROBLEM,
            f"PyTorch {env.torch} has {target} kernels but sees no GPU "
            "(torch.cuda.is_available() is False), so vLLM cannot run: check /dev/kfd and the "
            "render node (devices.kfd, devices.render) and HIP_VISIBLE_DEVICES.",
            tuple(items),
        )
    total = env.total_memory
    items.append(Evidence("total_memory", f"{gib(total)} ({total} bytes)", source))
    expected: int | None = None
    if facts.gpu.strix_halo is not None:
        expected, memory_items = gpu_addressable(facts)
        items.extend(memory_items)
    for cap in params["known_caps"]:
        low, high = (float(x) * GIB for x in cap["gib"])
        if low <= total <= high and (expected is None or expected > high):
            return Outcome(
                Verdict.PROBLEM,
                f"PyTorch reports {gib(total)} of GPU memory, the {cap['name']} "
                f"({cap['reference']}), while the GPU can address "
                f"{gib(expected) if expected else 'more'}. {cap['advice']}",
                tuple(items),
            )
    required = ctx.profile.required_gib * GIB
    if total < required or (expected and total < float(params["min_ratio"]) * expected):
        return Outcome(
            Verdict.PROBLEM,
            f"PyTorch reports {gib(total)} of GPU memory; profile {ctx.profile.name} needs "
            f"{ctx.profile.required_gib:g} GiB"
            + (f" and the GPU can address {gib(expected)}" if expected else "")
            + ". Check memory.gtt and memory.rocm-visible, and the ROCm build.",
            tuple(items),
        )
    return Outcome(
        Verdict.OK,
        f"PyTorch {env.torch} (HIP {env.hip}) has {target} kernels and sees {gib(env.total_memory)}.",
        tuple(items),
    )
