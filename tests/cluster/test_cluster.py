"""What a cluster reads from hostcheck: JUnit that agrees with the exit status, the one line a
node-problem-detector custom plugin passes on, --exit-zero for report-only runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_NAMES, expected

WAIVE_ALL_STOCK_FAILS = """\
[[waiver]]
rule = "memory.gtt"
reason = "lab box"
owner = "ops"
expires = 2099-12-31

[[waiver]]
rule = "devices.kfd"
reason = "root in a container"
owner = "ops"
expires = 2099-12-31

[[waiver]]
rule = "devices.render"
reason = "root in a container"
owner = "ops"
expires = 2099-12-31
"""


@pytest.fixture
def waived_stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """stock-128g with its fails waived: READY under --fail-on fail, with four warnings."""
    path = tmp_path / "config.toml"
    path.write_text(WAIVE_ALL_STOCK_FAILS)
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(path))


def _bad_cases(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    bad = {}
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            if case.find(tag) is not None:
                bad[case.get("name", "")] = tag
    return bad


@pytest.mark.parametrize("fail_on", ["fail", "warn"])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_junit_failures_are_exactly_what_made_the_exit_non_zero(
    cli, name: str, fail_on: str
) -> None:
    args = ("scan", "--fixture", name, "--fail-on", fail_on, *expected(name)["args"])
    report = cli(*args, "--format", "json").json()
    junit = cli(*args, "--format", "junit")
    bad = _bad_cases(junit.out)
    blocking = {
        f["rule"]
        for f in report["findings"]
        if f["status"] == "fail"
        or (f["status"] == "warn" and fail_on == "warn")
        or (
            f["status"] in ("error", "fixed-pending-reboot")
            and (fail_on == "warn" or f["severity"] in ("critical", "high"))
        )
    }
    if report["host"]["gpu"] is None and not blocking:
        blocking = {"readiness"}
    assert set(bad) == blocking
    assert junit.code == (1 if bad else 0) == (0 if report["ready"] else 1)
    errors = {rule for rule, tag in bad.items() if tag == "error"}
    assert errors == {f["rule"] for f in report["findings"] if f["status"] == "error"} & blocking
    root = ET.fromstring(junit.out)
    failures = sum(int(s.get("failures", "0")) + int(s.get("errors", "0")) for s in root)
    assert failures == len(blocking)


def test_junit_counts_warnings_as_failures_only_under_fail_on_warn(cli, waived_stock) -> None:
    """The bug report: --fail-on warn exited 1 while JUnit said 0 failures."""
    ready = cli("scan", "--fixture", "stock-128g", "--format", "junit")
    assert ready.code == 0 and _bad_cases(ready.out) == {}
    strict = cli("scan", "--fixture", "stock-128g", "--format", "junit", "--fail-on", "warn")
    assert strict.code == 1
    assert _bad_cases(strict.out) == {
        "env.hsa-override": "failure",
        "llamacpp.mmap": "failure",
        "perf.hipblaslt": "failure",
        "perf.iommu": "failure",
    }


def test_junit_carries_time_timestamp_and_hostname(cli) -> None:
    report = cli("scan", "--fixture", "stock-128g", "--format", "json").json()
    root = ET.fromstring(cli("scan", "--fixture", "stock-128g", "--format", "junit").out)
    assert float(root.get("time", "-1")) >= 0
    suites = root.findall("testsuite")
    assert suites
    for suite in suites:
        assert suite.get("hostname") == "framework-desktop" == report["host"]["hostname"]
        stamp = suite.get("timestamp", "")
        assert stamp[:10] == report["generated"][:10] and stamp.endswith("Z")


def test_no_gpu_fails_a_readiness_case_when_gpu_present_is_not_selected(cli) -> None:
    run = cli("scan", "--fixture", "no-amd-gpu", "--select", "kernel.version", "--format", "junit")
    assert run.code == 1
    assert _bad_cases(run.out)["readiness"] == "failure"


def test_exit_zero_reports_without_failing(cli) -> None:
    run = cli("scan", "--fixture", "stock-128g", "--format", "json", "--exit-zero")
    assert run.code == 0
    assert run.json()["ready"] is False  # the report still says it
    assert cli("scan", "--fixture", "stock-128g", "--exit-zero", "--profile", "nope").code == 2


# -- node-problem-detector ---------------------------------------------------------------------
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_npd_line_and_exit_status_follow_the_plugin_contract(cli, name: str) -> None:
    run = cli("scan", "--fixture", name, "--format", "npd", *expected(name)["args"])
    assert run.out.endswith("\n") and run.out.count("\n") == 1
    line = run.out[:-1]
    assert len(line) <= 80
    assert run.code == expected(name)["exit"]  # 0 OK, 1 problem
    if run.code == 0:
        assert line.startswith("hostcheck: READY for ")
    else:
        assert line.startswith("hostcheck: NOT READY")
        report = cli("scan", "--fixture", name, "--format", "json", *expected(name)["args"]).json()
        first_blocking = next(
            (f["rule"] for f in report["findings"] if f["status"] == "fail"), None
        )
        if first_blocking:
            assert first_blocking in line


def test_npd_line_is_cut_with_a_count_of_what_it_left_out(cli, waived_stock) -> None:
    run = cli("scan", "--fixture", "stock-128g", "--format", "npd", "--fail-on", "warn")
    assert run.code == 1
    line = run.out.rstrip("\n")
    assert len(line) <= 80
    shown = line.removeprefix("hostcheck: NOT READY: ").split(" +")[0].split(", ")
    left = int(line.rsplit(" +", 1)[1].removesuffix(" more")) if " +" in line else 0
    assert len(shown) + left == 4


def test_npd_unknown_when_the_scan_cannot_run(cli) -> None:
    run = cli("scan", "--root", "/nonexistent/host", "--format", "npd")
    assert run.code == 2  # NPD: neither 0 nor 1 is "unknown"


def test_monitor_metrics_file_carries_the_gauges_too(cli, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = tmp_path / "hostcheck.prom"
    run = cli(
        "monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"),
        "--metrics-file", str(metrics),
    )  # fmt: skip
    assert run.code == 1, run.err
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    (addressable,) = families["hostcheck_gpu_addressable_bytes"].samples
    (required,) = families["hostcheck_profile_required_bytes"].samples
    assert addressable.value < required.value  # why memory.gtt fails on stock-128g
    (info,) = families["hostcheck_host_info"].samples
    assert info.labels["kernel"] == "6.17.0-19-generic"
