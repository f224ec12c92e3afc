"""ROCm userspace, its compatibility with the kernel, and PyTorch (facts §5.3, §7)."""

from __future__ import annotations

from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import (
    GIB,
    Context,
    RocmVersion,
    dkms_note,
    evidence,
    floors_text,
    gib,
    gpu_addressable,
    kernel_has_fixes,
    pad,
    release,
    release_tuple,
    rocm_versions,
    ubuntu_kernel_class,
    unknown,
    value_or,
)
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
            "No ROCm userspace found (searched the host's /opt/rocm, package databases and "
            f"libraries, and running inference processes with their containers){hint}. Install "
            f"ROCm {params['min']} or newer, or TheRock's gfx1151 wheels; if ROCm comes with a "
            "container image that is not running yet, declare it with --workload-rocm VERSION; "
            "if inference runs on Vulkan, say so with --backend vulkan.",
            tuple(items),
        )
    # A version read from a library name (libamdhip64.so.6.4.x: "6.4") does not tell the
    # patch level: it is not called older than a floor of the same release line. A
    # distribution's own ROCm is judged by the distribution, not by AMD's floor.
    old = [
        v
        for v in versions
        if pad(v.release) < floor
        and not (len(v.release) < 3 and floor[: len(v.release)] == v.release)
        and not _distribution_rocm(v)
    ]
    for index, version in enumerate(versions):
        if _distribution_rocm(version):
            items[index] = items[index]._replace(
                note="distribution packaging: judged by the distribution, not AMD's floor"
            )
    if old:
        return Outcome(
            Verdict.PROBLEM,
            f"ROCm {', '.join(v.text for v in old)} is older than {params['min']}, the first "
            "AMD release that works on Strix Halo with a fixed kernel (ROCm docs). Install "
            f"ROCm {params['min']} or newer.",
            tuple(items),
        )
    shown = [
        f"ROCm {v.text} (the distribution's own packaging, judged by the distribution)"
        if _distribution_rocm(v)
        else f"ROCm {v.text} (at least {params['min']})"
        for v in versions
    ]
    return Outcome(Verdict.OK, "; ".join(shown) + ".", tuple(items))


def _table_row(
    table: list[Mapping[str, str]], version: RocmVersion
) -> tuple[Mapping[str, str] | None, bool]:
    """The table row for a ROCm version, and whether it was found only as 'newer than the table'.

    Policy (rocm.kernel-compat's rationale): a release above the newest row of its major line,
    or of a major line newer than any in the table, is judged like that newest row; only a
    release inside a gap the table does not list has no row.
    """
    rel = pad(version.release)
    for row in table:
        if pad(release_tuple(row["from"])) <= rel < pad(release_tuple(row["below"])):
            return row, False
    same_major = [r for r in table if release_tuple(r["from"])[0] == rel[0]]
    if same_major:
        top = max(same_major, key=lambda r: pad(release_tuple(r["below"])))
        if rel >= pad(release_tuple(top["below"])):
            return top, True
        return None, False
    if table and rel[0] > max(release_tuple(r["from"])[0] for r in table):
        return max(table, key=lambda r: pad(release_tuple(r["from"]))), True
    return None, False


def _distribution_rocm(version: RocmVersion) -> bool:
    """ROCm from a distribution's own packages (Fedora's rpm, Arch's pacman, Debian's and
    Ubuntu's libamdhip64), not AMD's prebuilt binaries: the stack probe's origin says which."""
    return version.origin == "distribution"


def _native_distribution(facts: Facts, params: Mapping[str, Any]) -> str | None:
    os_release = value_or(facts.kernel.os_release, {})
    for entry in params.get("native_distributions", []):
        if os_release.get("ID") == entry["id"] and (
            "version_id" not in entry or os_release.get("VERSION_ID") == entry["version_id"]
        ):
            return f"{entry['id']} {entry.get('version_id', '')}".strip()
    return None


@check_kind("rocm-kernel-compat", requires=("table", "table_date", "kernel"))
def rocm_kernel_compat(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """The ROCm x kernel table of the ROCm docs, for AMD's prebuilt binaries."""
    versions = rocm_versions(facts)
    rel = release(facts)
    if not versions:
        return Outcome(Verdict.NOT_APPLICABLE, "No ROCm userspace found (see rocm.version).")
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
        column, column_text = "fixed", f"kernel with the KFD fixes ({floors_text(kernel_params)})"
    else:
        column, column_text = (
            "older",
            f"kernel without the KFD fixes ({floors_text(kernel_params)})",
        )
    items: list[Evidence] = [Evidence("kernel", rel.raw, "/proc/sys/kernel/osrelease", column_text)]
    worst = Verdict.OK
    messages = []
    verdicts = {"ok": Verdict.OK, "caution": Verdict.ADVISORY, "broken": Verdict.PROBLEM}
    order = [Verdict.OK, Verdict.ADVISORY, Verdict.PROBLEM]
    for version in versions:
        if _distribution_rocm(version):
            native = _native_distribution(facts, params)
            verdict = Verdict.OK if native else Verdict.ADVISORY
            items.append(
                Evidence(
                    "ROCm",
                    version.text,
                    version.source,
                    "distribution packaging: AMD's binary table does not apply",
                )
            )
            messages.append(
                f"ROCm {version.text} is the distribution's own packaging, which {native} "
                "ships with the kernel fixes (ROCm docs)."
                if native
                else f"ROCm {version.text} is distribution packaging; AMD's table covers only "
                "its prebuilt binaries, so support depends on the distribution."
            )
            worst = max(worst, verdict, key=order.index)
            continue
        row, newer = _table_row(params["table"], version)
        if row is None:
            items.append(Evidence("ROCm", version.text, version.source, "not in the table"))
            messages.append(
                f"ROCm {version.text} is not in the compatibility table (ROCm docs, "
                f"{params['table_date']}); check the current ROCm documentation."
            )
            verdict = Verdict.ADVISORY
        else:
            verdict = verdicts[row[column]]
            note = f"table: {row[column]}"
            if newer:
                note += (
                    f" (newer than the table of {params['table_date']}; judged like {row['from']})"
                )
            items.append(Evidence("ROCm", version.text, version.source, note))
            messages.append(
                {
                    Verdict.OK: f"ROCm {version.text} is supported with a {column_text}.",
                    Verdict.ADVISORY: f"ROCm {version.text} is unstable or experimental with a {column_text}.",
                    Verdict.PROBLEM: f"ROCm {version.text} does not work with a {column_text}.",
                }[verdict]
            )
        worst = max(worst, verdict, key=order.index)
    if worst is Verdict.PROBLEM:
        messages.append(
            "Use a ROCm release the table marks supported for this kernel, or change the kernel."
        )
    return Outcome(worst, " ".join(messages), tuple(items))


DEVICE_PACK_FAMILIES = ("amd-torch-device-", "rocm-sdk-device-")


def _covers(arch: str, target: str) -> bool:
    """Whether a device package's target (gfx1151, or a family: gfx11, gfx115x) has ``target``."""
    arch = arch.lower()
    if arch == target:
        return True
    stem = arch.rstrip("x")
    return len(stem) < len(target) and target.startswith(stem)


def _device_packs_without(packs: list[str], target: str) -> list[str]:
    """The device-package families (amd-torch-device-*, rocm-sdk-device-*) that are installed
    but for other targets only."""
    missing = []
    for family in DEVICE_PACK_FAMILIES:
        archs = [p[len(family) :] for p in packs if p.startswith(family)]
        if archs and not any(_covers(arch, target) for arch in archs):
            missing.append(family + "*")
    return missing


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
    missing = _device_packs_without(env.device_packs or [], target)
    if missing:
        items.append(Evidence("device packages", " ".join(env.device_packs or []), source))
        return Outcome(
            Verdict.PROBLEM,
            f"PyTorch {env.torch} comes from TheRock's multi-arch wheels, whose GPU code is in "
            f"per-target device packages, and {' and '.join(missing)} are installed for other "
            f"targets only: the {target} code is missing. Reinstall with the "
            f'[device-{target}] extra (pip install "torch[device-{target}]" '
            f'"rocm[device-{target}]").',
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
