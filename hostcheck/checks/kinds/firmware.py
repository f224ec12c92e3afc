"""The GPU's MES firmware: the running version, the blob the next boot loads and its package."""

from __future__ import annotations

from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import Context, evidence, unknown
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _package_name(owner: str, candidates: Mapping[str, Any]) -> str | None:
    """'amd-gpu-firmware-20251111-1.fc43.noarch' -> 'amd-gpu-firmware' (longest known name)."""
    names = sorted((n for n in candidates if owner == n or owner.startswith(n + "-")), key=len)
    return names[-1] if names else None


@check_kind("mes-firmware", requires=("good", "bad", "min", "bad_firmware_packages"))
def mes_firmware(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    software = facts.software
    items = [
        evidence("MES firmware", gpu.mes_fw, lambda v: f"0x{v:08x}"),
        evidence("MES KIQ firmware", gpu.mes_kiq_fw, lambda v: f"0x{v:08x}"),
        evidence("MES blob for the next boot", software.mes_firmware_file),
    ]
    packages = dict(software.firmware_packages)
    owner = software.mes_firmware_owner
    owner_name = _package_name(owner.value, packages) if isinstance(owner, Value) else None
    if isinstance(owner, Value):
        items.append(Evidence("owned by", owner.value, owner.source))
        # The file's package decides (Fedora 43: amd-gpu-firmware, not linux-firmware).
        judged = {owner_name: packages[owner_name]} if owner_name in packages else {}
        if not judged:
            judged = {owner.value: Value(owner.value, owner.source)}
    else:
        judged = packages
    bad_packages: list[str] = []
    for name, version in judged.items():
        items.append(Evidence("package", f"{name} {version.value}", version.source))
        if any(prefix in version.value for prefix in params["bad_firmware_packages"]):
            bad_packages.append(f"{name} {version.value}")
    known_bad = {int(k, 16): v for k, v in params["bad"].items()}
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
    overrides = software.mes_firmware_overrides
    if overrides:
        items.append(
            Evidence("firmware override", ", ".join(overrides), "/lib/firmware/updates/amdgpu")
        )
    if bad_packages and not (overrides and not isinstance(owner, Value)):
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
            f"{running}the next initramfs rebuild and boot load it. Install another version "
            "(Fedora: dnf downgrade amd-gpu-firmware and versionlock it), or keep good "
            "gc_11_5_1_mes*.bin files in /lib/firmware/updates/amdgpu/.",
            tuple(items),
            fix={},
        )
    if not isinstance(gpu.mes_fw, Value):
        return unknown("The MES firmware version could not be read.", *items)
    version = gpu.mes_fw.value
    if version < int(params["min"], 16):
        return Outcome(
            Verdict.ADVISORY,
            f"MES firmware 0x{version:08x} is older than {params['min']}: it ignores "
            "amdgpu.cwsr_enable and predates the Strix Halo fixes (AMD: \"If you're on MES "
            '<0x80 — Update your kernel and firmware", ROCm#5724). Update linux-firmware.',
            tuple(items),
            fix={},
        )
    good = {int(v, 16) for v in params["good"]}
    note = "known good" if version in good else "not known bad"
    return Outcome(Verdict.OK, f"MES firmware 0x{version:08x} is {note}.", tuple(items))
