"""Edge cases of individual rules, each on a copy of a fixture host with one thing changed —
the cases a reviewer found wrong or a user would question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TUNED_CMDLINE = (
    "BOOT_IMAGE=/boot/vmlinuz-6.17.0-19-generic root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5 "
    "ro quiet splash vt.handoff=7 ttm.pages_limit=29884416 ttm.page_pool_size=29884416 amd_iommu=off"
)


@pytest.fixture
def scan(cli, fixture_copy):
    """scan(fixture, {path: new text or None to delete}, *args) -> finding lookup."""

    def run(name: str, edits: dict[str, str | None], *args: str) -> Any:
        root: Path = fixture_copy(name)
        for rel, text in edits.items():
            path = root / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        return cli("scan", "--root", str(root), "--format", "json", *args)

    return run


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
