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
    from hostcheck.cli.common import scan_report
    from hostcheck.cli.main import build_parser
    from hostcheck.render.json import to_dict

    out = {}
    for name in ("stock-128g", "tuned-ready"):
        root = str(REPO / "fixtures" / name)
        args = build_parser().parse_args(["scan", "--root", root])
        out[name] = to_dict(scan_report(args))
    return out


def _write(
    directory: Path,
    node: str,
    report: dict[str, Any],
    *,
    file: str | None = None,
    generated: str | None = None,
    mem_total_kib: int | None = None,
    **host: str,
) -> Path:
    data = json.loads(json.dumps(report))
    data["host"].update(hostname=node, **host)
    if generated == "":
        del data["generated"]  # a report from before schema 1.3
    elif generated is not None:
        data["generated"] = generated
    if mem_total_kib is not None:
        (gtt,) = [f for f in data["findings"] if f["rule"] == "memory.gtt"]
        (ram,) = [e for e in gtt["evidence"] if e["label"] == "RAM (MemTotal)"]
        ram["value"] = f"{mem_total_kib} kB = {mem_total_kib / 1024**2:.1f} GiB"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file or node}.json"
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
    assert (
        f"w1.json: a second report for node w1 (kept {broken / 'w1.json'}; both have the same "
        "generated time, so which is newer is unknown)"
    ) in run.err
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


# -- a Job run again: the newest report of a node (review #6, finding 6) ----------------------
def test_a_rerun_keeps_the_newest_report_of_a_node_and_names_the_older(
    cli, tmp_path: Path, scans
) -> None:
    """The first Job found w1 not ready; after the fix its Job ran again. File order must not
    decide: the newer report sorts first here."""
    pool = tmp_path / "reports" / "worker"
    _write(pool, "w1", scans["stock-128g"], file="w1-b", generated="2026-01-01T10:00:00Z")
    _write(pool, "w1", scans["tuned-ready"], file="w1-a", generated="2026-01-02T10:00:00Z")
    # 2026-01-01T11:30:00+02:00 is 09:30 UTC: older than the "Z" one above it in time order.
    _write(pool, "w2", scans["tuned-ready"], file="w2-a", generated="2026-01-01T10:00:00Z")
    _write(pool, "w2", scans["stock-128g"], file="w2-b", generated="2026-01-01T11:30:00+02:00")
    run = cli("fleet", str(pool), "--format", "json")
    assert run.code == 0, run.err  # both nodes ready by their newest reports; nothing unreadable
    summary = run.json()
    assert (summary["nodes"], summary["ready"], summary["unreadable"]) == (2, 2, [])
    assert [n["file"] for n in summary["pools"][0]["nodes"]] == [
        str(pool / "w1-a.json"),
        str(pool / "w2-a.json"),
    ]
    assert summary["pools"][0]["nodes"][0]["generated"] == "2026-01-02T10:00:00Z"
    assert summary["superseded"] == [
        {
            "file": str(pool / "w1-b.json"),
            "node": "w1",
            "generated": "2026-01-01T10:00:00Z",
            "kept": str(pool / "w1-a.json"),
        },
        {
            "file": str(pool / "w2-b.json"),
            "node": "w2",
            "generated": "2026-01-01T11:30:00+02:00",
            "kept": str(pool / "w2-a.json"),
        },
    ]
    table = cli("fleet", str(pool)).out.splitlines()
    assert "older reports left out (2):" in table
    assert (
        f"  {pool / 'w1-b.json'}: node w1, generated 2026-01-01T10:00:00Z; "
        f"kept the newer {pool / 'w1-a.json'}"
    ) in table


def test_a_report_without_a_time_loses_to_one_with_it_and_two_without_are_ambiguous(
    cli, tmp_path: Path, scans
) -> None:
    pool = tmp_path / "worker"
    _write(pool, "w1", scans["tuned-ready"], file="w1-new", generated="2026-01-02T10:00:00Z")
    _write(pool, "w1", scans["stock-128g"], file="w1-old", generated="")
    _write(pool, "w2", scans["tuned-ready"], file="w2-a", generated="")
    _write(pool, "w2", scans["stock-128g"], file="w2-b", generated="")
    _write(pool, "w3", scans["tuned-ready"], generated="yesterday")
    run = cli("fleet", str(pool), "--format", "json")
    assert run.code == 2  # w2's second report and w3's are left out
    summary = run.json()
    assert [(s["node"], s["generated"]) for s in summary["superseded"]] == [
        ("w1", "no generated time")
    ]
    assert f"{pool / 'w2-b.json'}: a second report for node w2 (kept {pool / 'w2-a.json'}; " in (
        run.err
    )
    assert "both have no generated time, so which is newer is unknown)" in run.err
    assert (
        f"""{pool / "w3.json"}: not a hostcheck JSON report: "generated" 'yesterday' is not"""
        in (run.err)
    )


# -- pools by path relative to the argument (review #6, finding 9c) --------------------------
def test_pools_are_named_by_their_path_under_the_argument(cli, tmp_path: Path, scans) -> None:
    base = tmp_path / "reports"
    _write(base / "a" / "worker", "a1", scans["tuned-ready"])
    _write(base / "b" / "worker", "b1", scans["tuned-ready"])
    _write(base, "top", scans["tuned-ready"])
    loose = _write(tmp_path / "elsewhere" / "gpu", "g1", scans["tuned-ready"])
    run = cli("fleet", str(base), str(loose), "--format", "json")
    assert run.code == 0, run.err
    pools = {pool["name"]: [n["node"] for n in pool["nodes"]] for pool in run.json()["pools"]}
    assert pools == {"a/worker": ["a1"], "b/worker": ["b1"], "reports": ["top"], "gpu": ["g1"]}
    # A directory given itself is named after itself; the same name under two arguments is
    # one pool.
    run = cli("fleet", str(base / "a" / "worker"), str(base / "b" / "worker"), "--format", "json")
    (pool,) = run.json()["pools"]
    assert pool["name"] == "worker" and [n["node"] for n in pool["nodes"]] == ["a1", "b1"]


# -- RAM of the nodes of a pool (review #6, finding 2) ----------------------------------------
def test_nodes_of_a_pool_with_different_ram_get_a_warning(cli, tmp_path: Path, scans) -> None:
    pool = tmp_path / "worker"
    _write(pool, "big1", scans["tuned-ready"], mem_total_kib=128647168)
    _write(pool, "big2", scans["tuned-ready"], mem_total_kib=128647168 - 512 * 1024)
    _write(pool, "small", scans["tuned-ready"], mem_total_kib=65011712)
    warning = (
        "nodes differ in RAM (MemTotal 62.0 GiB on small … 122.7 GiB on big1): a MachineConfig "
        "applies the ttm.pages_limit of the node it was made on to every node of the pool; "
        "make it on small (the least RAM), or split the pool"
    )
    run = cli("fleet", str(pool))
    assert f"  warning: {warning}" in run.out.splitlines()
    assert "  RAM: 122.2 GiB ×1 · 122.7 GiB ×1 · 62.0 GiB ×1  (differs: big1, small)" in run.out
    summary = cli("fleet", str(pool), "--format", "json").json()
    (worker,) = summary["pools"]
    assert worker["warnings"] == [warning]
    assert [n["mem_total_kib"] for n in worker["nodes"]] == [128647168, 128122880, 65011712]
    # Half a GiB apart (kernel reservations, firmware): no warning.
    (pool / "small.json").unlink()
    (worker,) = cli("fleet", str(pool), "--format", "json").json()["pools"]
    assert worker["warnings"] == []
    assert "warning:" not in cli("fleet", str(pool)).out


def test_a_kubectl_logs_stream_keeps_the_newest_report_per_node(tmp_path: Path, scans) -> None:
    """The README's collection without a shell loop: `kubectl logs -l … --prefix | hostcheck
    fleet -`. Node w1 has an old pod (not ready) and a newer one from a re-run (ready), their
    lines interleaved with w2's; what counts is the newer, and the older is named."""
    import subprocess
    import sys

    readme = (REPO / "README.md").read_text()
    assert "--prefix --tail=-1 | hostcheck fleet -" in readme
    pods = []
    for pod, node, report, when in (
        ("pod/old/hostcheck", "w1", scans["stock-128g"], "2026-01-01T10:00:00Z"),
        ("pod/new/hostcheck", "w1", scans["tuned-ready"], "2026-01-02T10:00:00Z"),
        ("pod/w2/hostcheck", "w2", scans["tuned-ready"], "2026-01-02T10:00:00Z"),
    ):
        data = json.loads(json.dumps(report))
        data["host"]["hostname"] = node
        data["generated"] = when
        pods.append([f"[{pod}] {line}" for line in json.dumps(data, indent=2).splitlines()])
    lines = []
    for index in range(max(map(len, pods))):  # round robin: the worst interleaving
        lines += [p[index] for p in pods if index < len(p)]
    done = subprocess.run(
        [sys.executable, "-m", "hostcheck", "fleet", "-", "--format", "json"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # w1's newer report is ready, and so is w2
    summary = json.loads(done.stdout)
    assert summary["nodes"] == 2
    (superseded,) = summary["superseded"]
    assert superseded["node"] == "w1" and superseded["file"].startswith("- [pod/old/hostcheck]")


def test_pool_summary_shows_where_the_stack_lives(cli, tmp_path: Path, scans) -> None:
    """A pool where one node's stack differs (a container node among hosts) names it; a
    report from before schema 1.4 counts as unknown."""
    from hostcheck.cli.common import scan_report
    from hostcheck.cli.main import build_parser
    from hostcheck.render.json import to_dict

    root = str(REPO / "fixtures" / "k8s-worker-containerd")
    node = to_dict(scan_report(build_parser().parse_args(["scan", "--root", root])))
    _write(tmp_path / "pool", "a", scans["tuned-ready"])
    _write(tmp_path / "pool", "b", scans["tuned-ready"])
    _write(tmp_path / "pool", "c", node)
    old = json.loads(json.dumps(scans["tuned-ready"]))
    del old["stack"]
    _write(tmp_path / "pool", "d", old)
    run = cli("fleet", str(tmp_path / "pool"))
    line = next(x for x in run.out.splitlines() if x.strip().startswith("stack (node/backend)"))
    assert line == (
        "  stack (node/backend): host/rocm ×2 · container-node/unknown ×1 · unknown ×1"
        "  (differs: c, d)"
    )
    data = cli("fleet", str(tmp_path / "pool"), "--format", "json").json()
    nodes = {n["node"]: n["stack"] for n in data["pools"][0]["nodes"]}
    assert nodes == {"a": "host/rocm", "b": "host/rocm", "c": "container-node/unknown", "d": None}


def test_a_monitor_state_directory_is_one_node_not_two(cli, tmp_path: Path) -> None:
    """latest.json links to the newest report-*.json: the same report, not a second one
    (fleet used to exit 2, "a second report for node … same generated time")."""
    state = tmp_path / "state"
    assert cli("monitor", "--fixture", "tuned-ready", "--state-dir", str(state)).code == 0
    assert (state / "latest.json").is_symlink()
    run = cli("fleet", str(state), "--format", "json")
    assert run.code == 0, run.err
    summary = run.json()
    assert summary["nodes"] == 1 and summary["ready"] == 1
    assert "second report" not in run.out + run.err


def test_a_stream_with_a_hostile_document_keeps_the_good_reports(
    cli, tmp_path: Path, scans
) -> None:
    """A document in a `kubectl logs` stream with a 5000-digit number or nested 100,000 deep
    is named as unusable; the reports around it are still summarised (no exit 3)."""
    good = json.dumps(scans["tuned-ready"])
    stream = tmp_path / "logs.txt"
    stream.write_text(
        good + "\n" + '{"n": ' + "9" * 5000 + "}\n" + "[" * 100_000 + "\n" + good + "\n"
    )
    run = cli("fleet", str(stream), "--format", "json")
    assert run.code in (0, 2), run.err
    assert "Traceback" not in run.err
    assert "not usable JSON" in run.err or "not usable JSON" in run.out
    assert run.json()["nodes"] == 1


def test_streamed_json_is_byte_for_byte_the_one_built_whole(tmp_path: Path, scans) -> None:
    """The fleet JSON is written piece by piece (100,000 nodes are never held as one dict or
    string); its bytes are json.dumps of the whole summary, hostile names and empties too."""
    from hostcheck.cluster import fleet as fleet_mod
    from hostcheck.cluster.fleet_render import render_json_pieces, to_dict

    base = tmp_path / "reports"
    _write(base / "gpu", "gpu-a", scans["tuned-ready"])
    _write(base / "gpu", 'odd "name"\\\n\tß✓\x1b[31m', scans["stock-128g"], file="odd")
    _write(base / "gpu", "gpu-c", scans["tuned-ready"], mem_total_kib=64 * 1024 * 1024)
    data = json.loads(json.dumps(scans["stock-128g"]))
    data["findings"] = data["findings"][:3]  # a node missing rules: absent
    data["host"]["rocm"] = None
    _write(base / "gpu", "gpu-short", data)
    _write(base / "worker", "w1", scans["stock-128g"])
    (base / "worker" / "broken.json").write_text("{")
    _write(
        base / "worker", "w1", scans["stock-128g"], file="w1-old", generated="2020-01-01T00:00:00Z"
    )
    for fleet in (fleet_mod.load([str(base)]), fleet_mod.summarise([])):
        whole = json.dumps(to_dict(fleet), indent=2, ensure_ascii=False) + "\n"
        assert "".join(render_json_pieces(fleet)) == whole
    summary = fleet_mod.load([str(base)])
    assert '"absent"' in "".join(render_json_pieces(summary))
    assert summary.unreadable and summary.superseded


def test_nodes_with_different_rules_get_each_status_or_absent(cli, tmp_path: Path, scans) -> None:
    """A pool whose nodes report different sets of rules (hosts of different kinds, older
    versions): every node × rule cell is the node's own status, or "absent". Two nodes have
    the very same statuses for different rules (all "pass", same count)."""
    pool = tmp_path / "pool"
    tuned = scans["tuned-ready"]
    _write(pool, "full", tuned)
    _write(pool, "stock", scans["stock-128g"])
    first, last = tuned["findings"][:4], tuned["findings"][-4:]
    for name, findings in (("first", first), ("last", last)):
        data = json.loads(json.dumps(tuned))
        data["findings"] = [{**f, "status": "pass"} for f in findings]
        _write(pool, name, data)
    summary = cli("fleet", str(pool), "--format", "json").json()
    (rows,) = [p["rules"] for p in summary["pools"]]
    expected: dict[str, dict[str, str]] = {}
    for name, findings in (
        ("full", tuned["findings"]),
        ("stock", scans["stock-128g"]["findings"]),
        ("first", [{**f, "status": "pass"} for f in first]),
        ("last", [{**f, "status": "pass"} for f in last]),
    ):
        for finding in findings:
            expected.setdefault(finding["rule"], {})[name] = finding["status"]
    assert {row["rule"] for row in rows} == set(expected)
    for row in rows:
        want = {
            n: expected[row["rule"]].get(n, "absent") for n in ("first", "full", "last", "stock")
        }
        assert row["statuses"] == want, row["rule"]


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_a_deep_part_the_summary_ignores_is_read_and_a_deep_kept_part_refused(
    cli, tmp_path: Path, scans
) -> None:
    """Reports are decoded without walking every value: deep nesting where fleet reads
    nothing costs it nothing (nothing recurses over it) and is summarised; the parts fleet
    keeps and writes out again (the "functional" object, an evidence value it reads) are
    refused beyond 64 levels, with the reason on one line; a document nested beyond the
    decoder's own limit is refused as before. The same in a `kubectl logs` stream."""
    reports = tmp_path / "reports"
    ignored = json.loads(json.dumps(scans["tuned-ready"]))
    ignored["findings"][0]["evidence"].append({"label": "deep", "value": _nested(200)})
    ignored["extra"] = _nested(500)
    _write(reports, "ignored", ignored)
    functional = json.loads(json.dumps(scans["tuned-ready"]))
    functional["functional"] = {"completed": True, "allocated_gib": 100, "x": _nested(65)}
    _write(reports, "functional", functional)
    evidence = json.loads(json.dumps(scans["tuned-ready"]))
    (mes,) = [f for f in evidence["findings"] if f["rule"] == "firmware.mes"]
    mes["evidence"] = [{"label": "MES firmware", "value": _nested(100)}]
    _write(reports, "evidence", evidence)
    (reports / "whole.json").write_text("[" * 100_000)
    run = cli("fleet", str(reports), "--format", "json")
    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    summary = run.json()
    assert [n["node"] for p in summary["pools"] for n in p["nodes"]] == ["ignored"]
    bad = {Path(item["file"]).name: item["reason"] for item in summary["unreadable"]}
    assert bad == dict.fromkeys(
        ["evidence.json", "functional.json", "whole.json"], "nested more than 64 levels deep"
    )
    stream = tmp_path / "logs.txt"
    stream.write_text(  # the second document starts on line 3, ends on line 4
        (reports / "ignored.json").read_text()
        + "\n\n"
        + json.dumps(json.loads((reports / "functional.json").read_text()), indent=None).replace(
            '"tool"', '\n"tool"', 1
        )
    )
    run = cli("fleet", str(stream), "--format", "json")
    assert run.code == 2 and "Traceback" not in run.err
    summary = run.json()
    assert summary["nodes"] == 1
    (item,) = summary["unreadable"]
    assert item["file"].endswith("(report 2)")
    assert item["reason"] == "not usable JSON (line 3): an invalid number or too deep"


@pytest.mark.parametrize(
    ("bad", "number"),
    [({"rule": "x.y"}, 2), ("text", 1), ({"rule": 3, "status": "pass"}, 2), (None, 0)],
)
def test_a_report_with_a_bad_finding_names_the_first(
    cli, tmp_path: Path, scans, bad: Any, number: int
) -> None:
    data = json.loads(json.dumps(scans["tuned-ready"]))
    data["findings"].insert(number, bad)
    data["findings"].insert(number + 2, "also bad")
    _write(tmp_path / "pool", "bad", data)
    _write(tmp_path / "pool", "good", scans["tuned-ready"])
    run = cli("fleet", str(tmp_path / "pool"), "--format", "json")
    assert run.code == 2, run.err
    (item,) = run.json()["unreadable"]
    assert item["reason"] == f"not a hostcheck JSON report: finding {number} has no rule and status"
