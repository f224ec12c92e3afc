"""`hostcheck fleet`: many nodes' reports, with agreeing and disagreeing pools, odd versions,
and reports that cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def scans() -> dict[str, dict[str, Any]]:
    """JSON reports of two bundled hosts, scanned once for the module."""
    from hostcheck._cli import _scan_report, build_parser
    from hostcheck.render.json import to_dict

    out = {}
    for name in ("stock-128g", "tuned-ready"):
        root = str(REPO / "fixtures" / name)
        args = build_parser().parse_args(["scan", "--root", root])
        out[name] = to_dict(_scan_report(args))
    return out


def _write(directory: Path, node: str, report: dict[str, Any], **host: str) -> Path:
    data = json.loads(json.dumps(report))
    data["host"].update(hostname=node, **host)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{node}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def reports(tmp_path: Path, scans: dict[str, dict[str, Any]]) -> Path:
    """reports/gpu: three tuned nodes that agree; reports/worker: two stock nodes and one
    tuned node (with a newer kernel) that disagree."""
    base = tmp_path / "reports"
    for node in ("gpu-a", "gpu-b", "gpu-c"):
        _write(base / "gpu", node, scans["tuned-ready"])
    _write(base / "worker", "w1", scans["stock-128g"])
    _write(base / "worker", "w2", scans["stock-128g"])
    _write(base / "worker", "w3", scans["tuned-ready"], kernel_release="6.18.4-100.fc43.x86_64")
    return base


def test_json_summary_per_pool_with_inconsistent_rules(cli, reports: Path) -> None:
    run = cli("fleet", str(reports), "--format", "json")
    assert run.code == 1  # w1 and w2 are not ready
    summary = run.json()
    assert (summary["nodes"], summary["ready"], summary["not_ready"]) == (6, 4, 2)
    gpu, worker = summary["pools"]
    assert gpu["name"] == "gpu" and worker["name"] == "worker"
    assert [n["node"] for n in worker["nodes"]] == ["w1", "w2", "w3"]
    assert gpu["ready"] == 3 and worker["ready"] == 1

    gpu_rules = {row["rule"]: row for row in gpu["rules"]}
    assert all(row["verdict"] != "INCONSISTENT" for row in gpu["rules"])
    assert gpu_rules["memory.gtt"]["verdict"] == "pass"
    assert gpu_rules["memory.gtt"]["statuses"] == {
        "gpu-a": "pass",
        "gpu-b": "pass",
        "gpu-c": "pass",
    }

    rules = {row["rule"]: row for row in worker["rules"]}
    assert rules["memory.gtt"]["verdict"] == "INCONSISTENT"
    assert rules["memory.gtt"]["statuses"] == {"w1": "fail", "w2": "fail", "w3": "pass"}
    assert rules["gpu.present"]["verdict"] == "pass"  # all three agree
    assert worker["rules"][0]["verdict"] == "INCONSISTENT"  # disagreements come first
    assert summary["inconsistent_rules"] == sum(
        row["verdict"] == "INCONSISTENT" for row in worker["rules"]
    )

    assert worker["versions"]["kernel"] == {
        "6.17.0-19-generic": ["w1", "w2"],
        "6.18.4-100.fc43.x86_64": ["w3"],
    }
    assert worker["versions"]["rocm"] == {"7.2.1": ["w1", "w2", "w3"]}
    assert worker["versions"]["mes_firmware"] == {"0x00000080": ["w1", "w2", "w3"]}
    w1 = worker["nodes"][0]
    assert w1["ready"] is False
    assert w1["failing"] == ["devices.kfd", "devices.render", "memory.gtt"]
    assert summary["unreadable"] == []


def test_table_names_the_odd_nodes_out(cli, reports: Path) -> None:
    run = cli("fleet", str(reports / "worker"), str(reports / "gpu"))
    assert run.code == 1 and run.err == ""
    lines = run.out.splitlines()
    assert lines[0] == "hostcheck fleet: 6 nodes in 2 pools — 4 ready, 2 not ready"
    assert "pool worker: 3 nodes, 1 ready" in lines
    gtt = next(line for line in lines if line.strip().startswith("memory.gtt") and "INCONS" in line)
    assert gtt.split()[1:] == ["INCONSISTENT", "2", "fail", "·", "1", "pass", "(w3)"]
    assert "  kernel: 6.17.0-19-generic ×2 · 6.18.4-100.fc43.x86_64 ×1  (differs: w3)" in lines
    assert "  not ready: w1, w2" in lines
    assert "  ROCm: 7.2.1 ×3" in lines


def test_every_node_ready_exits_0(cli, reports: Path) -> None:
    run = cli("fleet", str(reports / "gpu"))
    assert run.code == 0
    assert run.out.startswith("hostcheck fleet: 3 nodes in 1 pool — 3 ready, 0 not ready\n")
    assert "INCONSISTENT" not in run.out


def test_a_node_missing_a_rule_makes_it_inconsistent(cli, tmp_path: Path, scans) -> None:
    pool = tmp_path / "pool"
    _write(pool, "a", scans["tuned-ready"])
    partial = json.loads(json.dumps(scans["tuned-ready"]))
    partial["findings"] = [f for f in partial["findings"] if f["rule"] != "perf.iommu"]
    _write(pool, "b", partial)
    (row,) = [
        r
        for r in cli("fleet", str(pool), "--format", "json").json()["pools"][0]["rules"]
        if r["rule"] == "perf.iommu"
    ]
    assert row == {
        "rule": "perf.iommu",
        "verdict": "INCONSISTENT",
        "statuses": {"a": "pass", "b": "absent"},
    }


def test_unreadable_reports_are_named_and_the_rest_summarised(
    cli, reports: Path, tmp_path: Path, scans
) -> None:
    broken = reports / "worker"
    (broken / "truncated.json").write_text('{"schema_version": "1.0", "tool": ')
    (broken / "other.json").write_text('{"kind": "Pod"}')
    (broken / "latin1.json").write_bytes(b'{"x": "\xe9"}')
    future = json.loads(json.dumps(scans["stock-128g"]))
    future["schema_version"] = "2.0"
    _write(tmp_path / "elsewhere", "w9", future)
    _write(tmp_path / "elsewhere", "w1", scans["stock-128g"])  # the same node again
    (broken / "notes.txt").write_text("not a report, and not *.json: ignored")
    run = cli(
        "fleet",
        str(reports),
        str(tmp_path / "elsewhere" / "w9.json"),
        str(tmp_path / "elsewhere" / "w1.json"),
        str(tmp_path / "missing.json"),
        "--format",
        "json",
    )
    assert run.code == 2  # something was left out
    errors = run.err.splitlines()
    assert f"hostcheck: error: {broken / 'truncated.json'}: not JSON (line 1, column" in run.err
    assert f'{broken / "other.json"}: not a hostcheck JSON report: no "tool"' in run.err
    assert f"{broken / 'latin1.json'}: not UTF-8 text" in run.err
    assert "w9.json: not a hostcheck JSON report: schema_version '2.0'" in run.err
    assert f"w1.json: a second report for node w1 (kept {broken / 'w1.json'})" in run.err
    assert f"{tmp_path / 'missing.json'}: no such file or directory" in run.err
    assert len(errors) == 6 and "Traceback" not in run.err
    summary = run.json()
    assert summary["nodes"] == 6  # the readable ones are all there
    assert len(summary["unreadable"]) == 6


def test_no_readable_report_is_a_usage_error(cli, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[]")
    run = cli("fleet", str(tmp_path))
    assert run.code == 2
    assert "the top level is not an object" in run.err
    assert "hostcheck: error: no readable report among the given paths" in run.err
    assert run.out == ""


def test_output_file_and_hostile_hostnames(cli, tmp_path: Path, scans) -> None:
    _write(tmp_path / "p", "evil\x1b[31m\nnode", scans["stock-128g"])
    target = tmp_path / "fleet.txt"
    run = cli("fleet", str(tmp_path / "p"), "--output", str(target))
    assert run.code == 1 and run.out == ""
    text = target.read_text()
    assert "\x1b" not in text and "evil\\x1b[31m\\nnode" in text
