"""How much memory the GPU can address, and what ROCm really sees (facts §1, §5)."""

from __future__ import annotations

from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import (
    GIB,
    PAGE,
    Context,
    cmdline_evidence,
    cmdline_value,
    evidence,
    gib,
    gpu_addressable,
    pages_text,
    recommended_pages,
    release,
    size_text,
    staged_option,
    ttm_module_in_use,
    unknown,
    value_or,
)
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.parse.text import parse_decimal
from hostcheck.readings import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _mem_total(facts: Facts) -> int | None:
    mem = facts.memory.mem_total_kib
    return value_or(mem, None)


_KFD_FORMULA = "RAM - RAM/64 - 1.5 GiB (amdgpu_amdkfd_gpuvm.c)"


def _kfd_ceiling(mem_kib: int | None, params: Mapping[str, Any]) -> int | None:
    """The most system memory KFD lets ROCm allocate: RAM - RAM/64 - AMDGPU_RESERVE_MEM_LIMIT."""
    if mem_kib is None:
        return None
    ram = mem_kib * 1024
    return int(
        ram - (ram >> int(params["kfd_reserve_shift"])) - float(params["kfd_reserve_gib"]) * GIB
    )


def _ttm_fix(facts: Facts, params: Mapping[str, Any]) -> dict[str, Any] | None:
    mem_kib = _mem_total(facts)
    if mem_kib is None:
        return None
    pages = recommended_pages(mem_kib, float(params["headroom_gib"]))
    return {"module": ttm_module_in_use(facts), "pages": pages, "gib": pages * PAGE // GIB}


@check_kind(
    "gtt-capacity",
    requires=("headroom_gib", "min_free_gib", "advised_carveout_bytes"),
    provides=("module", "pages", "gib"),
)
def gtt_capacity(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """GPU-addressable memory (max of carve-out and TTM-limited GTT) against the profile."""
    addressable, items = gpu_addressable(facts)
    mem_kib = _mem_total(facts)
    items.insert(
        0,
        evidence(
            "RAM (MemTotal)", facts.memory.mem_total_kib, lambda k: f"{k} kB = {gib(k * 1024)}"
        ),
    )
    items.append(
        Evidence(
            "profile",
            f"{ctx.profile.name}: needs {ctx.profile.required_gib:g} GiB",
            "rules/profiles.toml",
        )
    )
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    module = ttm_module_in_use(facts)
    limit = facts.memory.ttm[module].pages_limit
    unreadable = [item for item in items if item.value is None and item.label != "profile"]
    if addressable is None or mem_kib is None or unreadable:
        return unknown(
            "Could not read how much memory the GPU can address: "
            + ", ".join(f"{item.label} ({item.note})" for item in unreadable)
            + ".",
            *items,
        )
    fix = _ttm_fix(facts, params)
    assert fix is not None
    required = ctx.profile.required_gib * GIB
    ram = mem_kib * 1024
    ttm_bytes = limit.value * PAGE if isinstance(limit, Value) else 0
    gtt = value_or(gpu.gtt_total, 0)
    vram = value_or(gpu.vram_total, 0)
    gttsize = (
        cmdline_value(facts, "amdgpu.gttsize")
        or (staged_option(facts, "amdgpu", "gttsize") or ("",))[0]
    )
    staged = staged_option(facts, module, "pages_limit")
    pending = ""
    staged_pages = parse_decimal(staged[0]) if staged else None
    live_pages = value_or(limit, None)
    if staged and staged_pages is not None and staged_pages != live_pages:
        items.append(
            Evidence(f"{module}.pages_limit (staged)", staged[0], staged[1], "not in effect")
        )
        pending = (
            f" {staged[1]} sets {module}.pages_limit={staged[0]}, but it is not in effect: "
            "rebuild the initramfs (update-initramfs -u -k all, or dracut -f) and reboot, or "
            "set it on the kernel command line."
        )
    if addressable < required:
        if fix["gib"] * GIB < required:
            advice = (
                "Shrink the BIOS carve-out (it takes RAM away from Linux) or choose a smaller profile"
                if vram > int(params["advised_carveout_bytes"])
                else "This host's RAM is too small for it; choose a smaller profile"
            )
            return Outcome(
                Verdict.PROBLEM,
                f"The GPU can address {gib(addressable)} and Linux sees only {gib(ram)} of RAM: "
                f"too little for profile {ctx.profile.name} ({ctx.profile.required_gib:g} GiB) "
                f"even with a raised TTM limit. {advice} (hostcheck rules --profiles).",
                tuple(items),
            )
        if gttsize and gtt < ttm_bytes:
            if cmdline_value(facts, "amdgpu.gttsize") is not None:
                fix = {**fix, "remove_kernel_args": ["amdgpu.gttsize"]}
            else:  # set in modprobe.d: removed there, not on the command line
                where = (staged_option(facts, "amdgpu", "gttsize") or ("", "modprobe.d"))[1]
                fix = {
                    **fix,
                    "kind": "manual",
                    "summary": f"Remove the gttsize option from {where}, rebuild the initramfs "
                    f"and reboot; keep {module}.pages_limit at {fix['gib']} GiB.",
                }
            return Outcome(
                Verdict.PROBLEM,
                f"amdgpu.gttsize={gttsize} caps GTT at {gib(gtt)}, below the TTM limit "
                f"({gib(ttm_bytes)}); profile {ctx.profile.name} needs "
                f"{ctx.profile.required_gib:g} GiB. Remove amdgpu.gttsize (deprecated) and keep "
                f"{module}.pages_limit at {fix['gib']} GiB.{pending}",
                tuple(items),
                fix=fix,
            )
        return Outcome(
            Verdict.PROBLEM,
            f"The GPU can address only {gib(addressable)}; profile {ctx.profile.name} needs "
            f"{ctx.profile.required_gib:g} GiB. Raise the TTM limit to {fix['gib']} GiB "
            f"({module}.pages_limit={fix['pages']}).{pending}",
            tuple(items),
            fix=fix,
        )
    margin = float(params["min_free_gib"]) * GIB
    if ttm_bytes > ram - margin:
        return Outcome(
            Verdict.ADVISORY,
            f"The TTM limit ({gib(ttm_bytes)}) leaves less than {params['min_free_gib']} GiB of "
            f"the {gib(ram)} RAM to Linux: a large model load can drive the host into OOM or "
            f"swap. Lower it to {fix['gib']} GiB.",
            tuple(items),
            fix=fix,
        )
    return Outcome(
        Verdict.OK,
        f"The GPU can address {gib(addressable)}, enough for profile {ctx.profile.name} "
        f"({ctx.profile.required_gib:g} GiB).{pending}",
        tuple(items),
    )


def _rocm_sees(facts: Facts) -> tuple[int | None, Evidence]:
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    if isinstance(gpu.kfd_memory, Value):
        return gpu.kfd_memory.value, evidence("KFD memory bank 0", gpu.kfd_memory, size_text)
    info = facts.software.rocminfo
    if isinstance(info, Value):
        agents = [a for a in info.value.gpu_agents() if a.name == "gfx1151" and a.pool_sizes_kib]
        if agents:
            size = agents[0].pool_sizes_kib[0] * 1024
            return size, Evidence("rocminfo gfx1151 pool 1", size_text(size), info.source)
    return None, evidence("KFD memory bank 0", gpu.kfd_memory)


@check_kind(
    "rocm-visible",
    requires=(
        "kfd_reserve_gib",
        "kfd_reserve_shift",
        "tolerance_gib",
        "capped_band_gib",
        "headroom_gib",
        "ttm_default_ratio",
    ),
    provides=("module", "pages", "gib"),
)
def rocm_visible(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """What ROCm will see against what the kernel reports (ROCm#5444, ROCm#5595)."""
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    seen, seen_item = _rocm_sees(facts)
    vram = value_or(gpu.vram_total, 0)
    gtt = value_or(gpu.gtt_total, 0)
    items = [
        seen_item,
        evidence("VRAM carve-out", gpu.vram_total, size_text),
        evidence("GTT size", gpu.gtt_total, size_text),
    ]
    if seen is None:
        return unknown(
            "Could not read how much memory ROCm sees (no KFD node, no rocminfo).", *items
        )
    if not isinstance(gpu.vram_total, Value) or not isinstance(gpu.gtt_total, Value):
        return unknown("Could not read the VRAM and GTT sizes the kernel reports.", *items)
    mem_kib = _mem_total(facts)
    ceiling = _kfd_ceiling(mem_kib, params)
    if ceiling is not None:
        items.append(Evidence("KFD ceiling", gib(ceiling), "/proc/meminfo", _KFD_FORMULA))
    tolerance = float(params["tolerance_gib"]) * GIB

    def enough(target: int) -> bool:
        return seen >= min(target, ceiling or target) - tolerance

    expected = max(vram, gtt)
    if enough(expected):
        capped = ceiling is not None and ceiling < expected
        return Outcome(
            Verdict.OK,
            f"ROCm sees {gib(seen)} of the {gib(expected)} the kernel reports"
            + (f" (KFD's ceiling for this RAM is {gib(ceiling)})" if capped and ceiling else "")
            + ".",
            tuple(items),
        )
    low, high = (float(x) * GIB for x in params["capped_band_gib"])
    rel = release(facts)
    if low <= seen <= high and vram > high:
        return Outcome(
            Verdict.PROBLEM,
            f"ROCm sees only {gib(seen)} although the carve-out is {gib(vram)}: the ROCm#5444 "
            f"symptom of kernels before 6.15 (running {rel.raw if rel else 'unknown'}). Upgrade "
            "the kernel, and prefer a small carve-out with a raised TTM limit.",
            tuple(items),
        )
    module = ttm_module_in_use(facts)
    limit = facts.memory.ttm[module].pages_limit
    ttm_bytes = limit.value * PAGE if isinstance(limit, Value) else None
    if ttm_bytes is not None and enough(max(vram, min(gtt, ttm_bytes))):
        items.append(evidence(f"{module}.pages_limit", limit, pages_text))
        gttsize_set = cmdline_value(facts, "amdgpu.gttsize") is not None or staged_option(
            facts, "amdgpu", "gttsize"
        )
        at_default = (
            mem_kib is not None and ttm_bytes <= float(params["ttm_default_ratio"]) * mem_kib * 1024
        )
        if gttsize_set and at_default:
            fix = _ttm_fix(facts, params)
            return Outcome(
                Verdict.PROBLEM,
                f"ROCm sees {gib(seen)} while GTT is {gib(gtt)}: amdgpu.gttsize was raised but "
                f"HIP follows the TTM page limit, which is still the default of about half the "
                f"RAM (ROCm#5595). Set {module}.pages_limit instead of amdgpu.gttsize.",
                tuple(items),
                fix=fix,
            )
        return Outcome(
            Verdict.OK,
            f"ROCm sees {gib(seen)}: the TTM limit ({gib(ttm_bytes)}), which HIP follows; GTT "
            f"reads {gib(gtt)} because amdgpu.gttsize is larger (see memory.gttsize-deprecated).",
            tuple(items),
        )
    return Outcome(
        Verdict.PROBLEM,
        f"ROCm sees {gib(seen)}, less than the {gib(min(expected, ceiling or expected))} the "
        "kernel reports (within KFD's ceiling). Check the kernel, the TTM limit and the ROCm "
        "version.",
        tuple(items),
    )


@check_kind("carveout", requires=("advised_bytes",))
def carveout(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    item = evidence("VRAM carve-out", gpu.vram_total, size_text)
    visible = evidence("CPU-visible VRAM", gpu.vis_vram_total, size_text)
    if not isinstance(gpu.vram_total, Value):
        return unknown("The VRAM carve-out size could not be read.", item)
    vram = gpu.vram_total.value
    advised = int(params["advised_bytes"])
    if vram <= advised:
        return Outcome(
            Verdict.OK,
            f"The BIOS carve-out is {gib(vram)}, small as ROCm advises (at most {gib(advised)}).",
            (item, visible),
        )
    return Outcome(
        Verdict.PROBLEM,
        f"The BIOS carve-out is {gib(vram)}, more than {gib(advised)}; ROCm advises a small "
        "one (0.5 GB) and a raised TTM/GTT limit instead. Memory carved out is lost to Linux "
        "and to GTT.",
        (item, visible),
        fix={},
    )


@check_kind("gttsize-deprecated", requires=("headroom_gib",), provides=("module", "pages", "gib"))
def gttsize_deprecated(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    items: list[Evidence] = []
    cmdline = cmdline_value(facts, "amdgpu.gttsize")
    if cmdline is not None:
        items.append(Evidence("kernel argument", f"amdgpu.gttsize={cmdline}", "/proc/cmdline"))
    staged = staged_option(facts, "amdgpu", "gttsize")
    if staged:
        items.append(Evidence("modprobe option", f"amdgpu gttsize={staged[0]}", staged[1]))
    log = facts.kernel_log
    mismatch = None
    if isinstance(log, Value):
        for event in log.value:
            if event.kind in ("gttsize-deprecated", "gtt-ttm-mismatch"):
                items.append(Evidence("kernel log", event.line.text, log.source))
            if event.kind == "gtt-ttm-mismatch":
                mismatch = event
    if not items:
        return Outcome(
            Verdict.OK,
            "amdgpu.gttsize is not used.",
            (cmdline_evidence(facts),),
        )
    module = ttm_module_in_use(facts)
    limit = facts.memory.ttm[module].pages_limit
    value = cmdline if cmdline is not None else (staged[0] if staged else None)
    gtt_mib = parse_decimal(value) if value is not None else None
    aligned = (
        mismatch is None
        and gtt_mib is not None
        and isinstance(limit, Value)
        and gtt_mib * 1024 * 1024 == limit.value * PAGE
    )
    fix = _ttm_fix(facts, params) or {}
    message = (
        "amdgpu.gttsize is deprecated; the kernel asks for ttm.pages_limit instead, and "
        "HIP follows the TTM limit, not gttsize."
    )
    if mismatch:
        message += (
            f" The kernel reports GTT {gib(int(mismatch.data['gtt']))} but TTM "
            f"{gib(int(mismatch.data['ttm']))}."
        )
    if aligned and isinstance(limit, Value):
        items.append(evidence(f"{module}.pages_limit", limit, pages_text))
        message += (
            f" It agrees with {module}.pages_limit ({gib(limit.value * PAGE)}) today, as "
            "TheRock's FAQ asks, but every later change of the TTM limit must change it too."
        )
    if fix:
        message += f" Remove it and set {fix['module']}.pages_limit={fix['pages']}."
    return Outcome(Verdict.PROBLEM, message, tuple(items), fix=fix)


# What amd-ttm (superm1/amd-debug-tools, ttm.py MODPROBE_CONF_PATH) writes: "options ttm ..."
AMD_TTM_CONF = "/etc/modprobe.d/ttm.conf"


@check_kind("ttm-module", requires=("headroom_gib",), provides=("module", "pages", "gib"))
def ttm_module(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """TTM options must be set on the module the amdgpu in use links against (facts §5.2)."""
    right = ttm_module_in_use(facts)
    wrong = "ttm" if right == "amdttm" else "amdttm"
    driver = Evidence(
        "amdgpu driver", facts.driver.kind, "; ".join(facts.driver.evidence) or "/proc/modules"
    )
    if facts.driver.kind == "unknown":
        return unknown(
            "Could not tell whether amdgpu is the in-kernel driver or amdgpu-dkms.", driver
        )
    set_on: dict[str, dict[str, str]] = {right: {}, wrong: {}}
    items = [driver]
    for module in (right, wrong):
        for name in ("pages_limit", "page_pool_size"):
            value = cmdline_value(facts, f"{module}.{name}")
            where = "/proc/cmdline"
            staged = staged_option(facts, module, name)
            if value is None and staged:
                value, where = staged
            if value is not None:
                set_on[module][name] = value
                items.append(Evidence(f"{module}.{name}", value, where))
    if set_on[wrong] and not set_on[right]:
        what = (
            "the in-kernel amdgpu uses ttm" if right == "ttm" else "amdgpu-dkms uses its own amdttm"
        )
        # The value is computed from this host's RAM (as memory.gtt does), not copied from the
        # wrong module: guides copy 125-128 GiB limits onto ~123 GiB hosts.
        computed = _ttm_fix(facts, params)
        args = [
            f"{right}.{name}={computed['pages'] if computed else value}"
            for name, value in set_on[wrong].items()
        ]
        # amd-ttm (amd-debug-tools) writes this file, for ttm only, whatever the driver.
        by_amd_ttm = (
            " /etc/modprobe.d/ttm.conf is the file `amd-ttm --set` writes; it sets the "
            "in-kernel ttm only, so with amdgpu-dkms the tool's setting does nothing."
            if wrong == "ttm" and any(e.source == AMD_TTM_CONF for e in items)
            else ""
        )
        return Outcome(
            Verdict.PROBLEM,
            f"TTM limits are set on {wrong}, but {what}: they have no effect.{by_amd_ttm} "
            f"Set {' '.join(args)}.",
            tuple(items),
            fix={"add_kernel_args": args},
        )
    if set_on[right]:
        return Outcome(
            Verdict.OK, f"TTM limits are set on {right}, the module in use.", tuple(items)
        )
    return Outcome(
        Verdict.OK, f"No TTM limits are set; {right} is the module in use.", tuple(items)
    )
