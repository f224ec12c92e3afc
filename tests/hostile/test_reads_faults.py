"""Faults while reading a host: a read that fails is an error with its reason, never a
verdict about the host (issue 18, item 9), and recorded items that are damaged are refused
clearly (item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

KFD = "/sys/class/kfd/kfd/topology/nodes"


def _unreadable(root: Path, items: dict[str, tuple[str, str]]) -> None:
    (root / ".hostcheck/unreadable.json").write_text(
        json.dumps(
            {
                path: {"reason": reason, "source": path, "detail": detail}
                for path, (reason, detail) in items.items()
            }
        )
    )


@pytest.mark.parametrize(
    ("items", "said"),
    [
        ({KFD: ("permission", "denied to uid 1000")}, "permission"),
        ({KFD: ("timeout", "no answer within 2 s")}, "timeout"),
        ({f"{KFD}/1/properties": ("timeout", "no answer within 2 s")}, "timeout"),
        ({"/sys/class/drm": ("permission", "denied to uid 1000")}, "permission"),
    ],
)
def test_gpu_search_failure_is_an_error_not_a_fail(fixture_copy, cli, items, said) -> None:
    root = fixture_copy("stock-128g")
    _unreadable(root, items)
    done = cli("scan", "--root", str(root), "--format", "json")
    finding = done.finding("gpu.present")
    assert finding["status"] == "error", finding
    assert said in finding["message"]
    assert "CONFIG_HSA_AMD" not in finding["message"]
    assert "No Strix Halo GPU" not in finding["message"]


def test_missing_kfd_is_still_a_kernel_problem(fixture_copy, cli) -> None:
    """The control: no topology at all is what a kernel without KFD looks like."""
    import shutil

    root = fixture_copy("stock-128g")
    shutil.rmtree(root / KFD.lstrip("/"))
    finding = cli("scan", "--root", str(root), "--format", "json").finding("gpu.present")
    assert finding["status"] == "fail"
    assert "CONFIG_HSA_AMD" in finding["message"]
