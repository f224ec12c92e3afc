"""`hostcheck nfd` and the NFD feature-file renderer: labels NFD accepts, expiry, exit codes,
clear usage errors. (The DaemonSet's own command line is run in tests/cluster/test_deploy.py.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hostcheck.render.nfd import MAX_BYTES, NAMESPACE, labels, render
from tests.conftest import FIXTURE_NAMES, REPO

# Kubernetes label syntax (apimachinery validation): a DNS subdomain prefix, a name and a value
# of at most 63 characters each.
_PART = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = re.compile(rf"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/{_PART}")
LABEL_VALUE = re.compile(rf"({_PART})?")


def _report(name: str, *extra: str):
    from hostcheck.cli.common import scan_report
    from hostcheck.cli.main import build_parser

    root = str(REPO / "fixtures" / name)
    return scan_report(build_parser().parse_args(["scan", "--root", root, *extra]))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_gives_valid_node_labels(name: str) -> None:
    report = _report(name)
    found = labels(report)
    assert found[f"{NAMESPACE}/ready"] == ("true" if report.ready else "false")
    for key, value in found.items():
        assert LABEL_KEY.fullmatch(key) and len(key.split("/")[0]) <= 253, key
        assert LABEL_VALUE.fullmatch(value), value
        # a sub-namespace of feature.node.kubernetes.io: nfd-master cannot deny it
        assert key.split("/")[0].endswith(".feature.node.kubernetes.io")
    areas = {f.rule.area for f in report.findings if f.status.value in ("fail", "error", "warn")}
    assert {k.split("/")[1] for k in found} == {
        "ready", "profile", "stack-node", "stack-backend", *areas
    }  # fmt: skip
    # what kind of node was judged, as the report says
    assert report.stack is not None
    assert found[f"{NAMESPACE}/stack-node"] == report.stack["node"]
    assert found[f"{NAMESPACE}/stack-backend"] == report.stack["backend"]


@pytest.mark.parametrize(
    ("name", "node", "backend"),
    [
        ("openshift-worker-preflight", "container-node", "unknown"),
        ("docker-vllm-therock", "container-node", "rocm"),
        ("vulkan-llamacpp", "host", "vulkan"),
        ("tuned-ready", "host", "rocm"),
    ],
)
def test_stack_labels_name_the_kind_of_node(name: str, node: str, backend: str) -> None:
    found = labels(_report(name))
    assert found[f"{NAMESPACE}/stack-node"] == node
    assert found[f"{NAMESPACE}/stack-backend"] == backend


def test_feature_file_text() -> None:
    report = _report("rocm5590-mes-hang")
    expires = datetime(2026, 3, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert render(report, expires=expires) == (
        f"# hostcheck {report.tool_version}: this node's readiness labels "
        "(written by `hostcheck nfd`, replaced every round; do not edit)\n"
        "# +expiry-time=2026-03-01T12:30:05Z\n"
        f"{NAMESPACE}/ready=false\n"
        f"{NAMESPACE}/profile=70b-q8\n"
        f"{NAMESPACE}/stack-node=host\n"
        f"{NAMESPACE}/stack-backend=rocm\n"
        f"{NAMESPACE}/amdgpu=fail\n"
        f"{NAMESPACE}/kernel=fail\n"
        f"{NAMESPACE}/log=warn\n"
        f"{NAMESPACE}/perf=warn\n"
        f"{NAMESPACE}/rocm=fail\n"
    )
    assert len(render(report, expires=expires).encode()) < MAX_BYTES
    with pytest.raises(ValueError, match="timezone-aware"):
        render(report, expires=datetime(2026, 3, 1))


def test_once_writes_the_file_and_exits_with_the_verdict(cli, tmp_path: Path) -> None:
    target = tmp_path / "features.d" / "hostcheck"
    target.parent.mkdir()
    before = datetime.now(UTC)
    run = cli("nfd", "--fixture", "stock-128g", "--output", str(target), "--expiry", "600")
    assert run.code == 1
    assert "framework-desktop: NOT READY (3 fail, 0 error, 4 warn)" in run.out
    text = target.read_text()
    assert f"{NAMESPACE}/memory=fail\n" in text
    stamp = re.search(r"^# \+expiry-time=(\S+)$", text, re.M)
    assert stamp
    expires = datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(seconds=599) <= expires <= datetime.now(UTC) + timedelta(seconds=600)
    ready = cli("nfd", "--fixture", "tuned-ready", "--output", str(target))
    assert ready.code == 0
    assert f"{NAMESPACE}/ready=true\n" in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["hostcheck"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "0"], "argument --every: expected a number of seconds above 0"),
        (["--expiry", "-5"], "argument --expiry: expected a number of seconds above 0"),
        (["--every", "60", "--expiry", "60"], "--expiry 60 must be longer than --every 60"),
        (["--output", "/nonexistent/features.d/x"], "no directory /nonexistent/features.d"),
        (["--fixture", "nope"], "no bundled fixture 'nope'"),
    ],
)
def test_nfd_usage_errors(cli, tmp_path: Path, args: list[str], message: str) -> None:
    base = ["nfd", "--fixture", "stock-128g", "--output", str(tmp_path / "f")]
    run = cli(*base, *args)
    assert run.code == 2
    assert message in run.err and "Traceback" not in run.err
    assert not (tmp_path / "f").exists()


def test_a_node_waiting_for_its_reboot_says_so(cli, fixture_copy, tmp_path: Path) -> None:
    """After `hostcheck fix`, the memory area is labelled fixed-pending-reboot, not fail."""
    root = fixture_copy("stock-128g")
    assert cli("fix", "--root", str(root), "--apply", "--yes").code == 0
    target = tmp_path / "hostcheck"
    assert cli("nfd", "--root", str(root), "--output", str(target)).code == 1
    labels = dict(
        line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#")
    )
    assert labels["hostcheck.feature.node.kubernetes.io/memory"] == "fixed-pending-reboot"
    assert labels["hostcheck.feature.node.kubernetes.io/ready"] == "false"
