"""The configuration file and its waivers, as an operator meets them: defaults that change the
verdict, waived findings in every report format, expired waivers that count again, and one
clear line naming file, line and key for every mistake."""

from __future__ import annotations

import datetime
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostcheck.cli import config as config_module
from hostcheck.model import Status, Waiver

SCHEMA = json.loads(resources.files("hostcheck").joinpath("schemas/report.schema.json").read_text())

# stock-128g fails memory.gtt, devices.kfd and devices.render (its expected.json).
WAIVE_STOCK_FAILS = """\
# operators' waivers for the lab box
[[waiver]]
rule = "memory.gtt"
reason = "only 32B models on this box until the TTM change window"
owner = "ops@example.com"
expires = 2099-12-31

[[waiver]]
rule = "devices.kfd"
reason = "the service runs as root in a container"
owner = "alice"
expires = 2099-12-31

[[waiver]]
rule = "devices.render"
reason = "the service runs as root in a container"
owner = "alice"
expires = 2020-01-31
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text)
        monkeypatch.setenv("HOSTCHECK_CONFIG", str(path))
        return path

    return write


def test_config_file_sets_profile_fail_on_and_user_and_options_win(cli, config_file) -> None:
    config_file('profile = "32b-q4"\nfail_on = "warn"\nuser = "root"\n')
    report = cli("scan", "--fixture", "stock-128g", "--format", "json").json()
    assert report["profile"]["name"] == "32b-q4"
    assert report["fail_on"] == "warn"
    assert (
        cli("scan", "--fixture", "stock-128g", "--format", "json").finding("memory.gtt")["status"]
        == "pass"
    )  # 61 GiB addressable is enough for 32B Q4
    kfd = cli("scan", "--fixture", "stock-128g", "--format", "json").finding("devices.kfd")
    assert "root" in kfd["message"]
    overridden = cli(
        "scan", "--fixture", "stock-128g", "--format", "json", "--profile", "70b-q8"
    ).json()
    assert overridden["profile"]["name"] == "70b-q8"
    assert overridden["fail_on"] == "warn"


def test_config_option_beats_environment(cli, config_file, tmp_path: Path) -> None:
    config_file('profile = "32b-q4"\n')
    other = tmp_path / "other.toml"
    other.write_text('profile = "70b-q4"\n')
    report = cli("scan", "--fixture", "stock-128g", "--format", "json", "--config", str(other))
    assert report.json()["profile"]["name"] == "70b-q4"


def test_missing_default_config_is_fine_but_a_named_one_is_an_error(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HOSTCHECK_CONFIG")
    monkeypatch.setattr(config_module, "DEFAULT_PATH", str(tmp_path / "absent.toml"))
    assert cli("scan", "--fixture", "tuned-ready", "--python", "/opt/vllm/bin/python3").code == 0
    run = cli("scan", "--fixture", "stock-128g", "--config", str(tmp_path / "nope.toml"))
    assert run.code == 2
    assert f"config {tmp_path}/nope.toml (from --config): no such file" in run.err
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(tmp_path / "gone.toml"))
    run = cli("rules")
    assert run.code == 2 and "(from HOSTCHECK_CONFIG): no such file" in run.err


def test_config_is_read_from_this_machine_not_from_the_scanned_root(
    cli, fixture_copy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HOSTCHECK_CONFIG")
    ours = tmp_path / "ours.toml"
    ours.write_text('profile = "32b-q4"\n')
    monkeypatch.setattr(config_module, "DEFAULT_PATH", str(ours))
    root = fixture_copy("stock-128g")
    (root / "etc/hostcheck").mkdir(parents=True)
    (root / "etc/hostcheck/config.toml").write_text('profile = "70b-q4"\nbroken key here\n')
    report = cli("scan", "--root", str(root), "--format", "json")
    assert report.code == 1
    assert report.json()["profile"]["name"] == "32b-q4"


def test_waived_findings_do_not_block_and_show_in_every_format(cli, config_file) -> None:
    path = config_file(WAIVE_STOCK_FAILS.replace("2020-01-31", "2099-01-31"))
    run = cli("scan", "--fixture", "stock-128g", "--format", "json")
    assert run.code == 0  # the three fails are waived; warnings do not block
    report = run.json()
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    gtt = run.finding("memory.gtt")
    assert gtt["status"] == "waived"
    assert gtt["waiver"] == {
        "reason": "only 32B models on this box until the TTM change window",
        "owner": "ops@example.com",
        "expires": "2099-12-31",
        "expired": False,
        "original_status": "fail",
        "source": f"{path}:2",
    }
    assert report["summary"]["waived"] == 3 and report["summary"]["fail"] == 0
    assert report["ready"] is True
    assert "waiver" not in run.finding("kernel.version")  # passing rules carry none

    table = cli("scan", "--fixture", "stock-128g").out
    assert "framework-desktop: READY" in table
    assert "○ waived" in table
    words = " ".join(re.sub("[│┃]", " ", table).split())  # the finding column wraps
    assert "waived until 2099-12-31 by ops@example.com: only 32B models on this box" in words
    junit = ET.fromstring(cli("scan", "--fixture", "stock-128g", "--format", "junit").out)
    case = next(c for c in junit.iter("testcase") if c.get("name") == "memory.gtt")
    skipped = case.find("skipped")
    assert skipped is not None and "waived until 2099-12-31" in skipped.get("message", "")
    markdown = cli("scan", "--fixture", "stock-128g", "--format", "markdown").out
    assert markdown.startswith("# hostcheck: framework-desktop is READY")
    assert "| ○ waived | `memory.gtt` |" in markdown


def test_expired_waiver_counts_again_with_a_visible_note(cli, config_file) -> None:
    path = config_file(WAIVE_STOCK_FAILS)
    run = cli("scan", "--fixture", "stock-128g", "--format", "json")
    assert run.code == 1  # devices.render's waiver ran out on 2020-01-31
    render = run.finding("devices.render")
    assert render["status"] == "fail"
    assert render["waiver"]["expired"] is True
    assert render["waiver"]["source"] == f"{path}:14"
    assert run.json()["summary"]["waived"] == 2
    assert "waiver EXPIRED on 2020-01-31" in cli("scan", "--fixture", "stock-128g").out
    markdown = cli("scan", "--fixture", "stock-128g", "--format", "markdown").out
    assert (
        "**waiver EXPIRED on 2020-01-31 (owner alice: the service runs as root in a container); "
        f"renew or remove it in {path}:14**"
    ) in markdown
    junit = ET.fromstring(cli("scan", "--fixture", "stock-128g", "--format", "junit").out)
    case = next(c for c in junit.iter("testcase") if c.get("name") == "devices.render")
    failure = case.find("failure")
    assert failure is not None and "waiver EXPIRED on 2020-01-31" in (failure.text or "")


def test_waiver_holds_through_its_expiry_date() -> None:
    from hostcheck.checks.catalog import load_catalog
    from hostcheck.checks.waivers import apply_waivers
    from hostcheck.model import Finding, Report

    rules, _ = load_catalog()
    rule = next(r for r in rules if r.id == "perf.iommu")
    report = Report(
        "0", "h", "6.17", "/", "70b-q8", "", Status.FAIL,
        (Finding(rule, Status.WARN, "iommu on", (), None),),
        "gfx1151", None, None, 0.0,
    )  # fmt: skip
    waiver = Waiver("perf.iommu", "VFIO needed", "bob", datetime.date(2026, 3, 31), "c:1")
    on_the_day = apply_waivers(report, [waiver], datetime.date(2026, 3, 31)).findings[0]
    after = apply_waivers(report, [waiver], datetime.date(2026, 4, 1)).findings[0]
    assert on_the_day.status is Status.WAIVED and not on_the_day.blocks(Status.WARN)
    assert after.status is Status.WARN and after.waiver is not None and after.waiver.expired
    assert after.blocks(Status.WARN)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'profile = "70b-q8"\n\nprofil = "32b-q4"\n',
            ", line 3: profil: unknown key; known keys: fail_on, monitor, profile, python, rules, "
            "user, waiver, workload",
        ),
        (
            'fail_on = "sometimes"\n',
            ', line 1: fail_on: expected "warn" or "fail", got \'sometimes\'',
        ),
        (
            "user = 1000\n",
            ", line 1: user: expected the service user whose device access is checked as a "
            "string, got 1000",
        ),
        (
            "[monitor]\nkeep_reports = 0\n",
            ", line 2: monitor.keep_reports: expected a whole number 1-10000, got 0",
        ),
        (
            '[monitor]\nmetrics = "/x.prom"\n',
            ", line 2: monitor.metrics: unknown key; known keys: metrics_file, keep_reports",
        ),
        (
            '[monitor]\nmetrics_file = "relative.prom"\n',
            ", line 2: monitor.metrics_file: expected an absolute path, got 'relative.prom'",
        ),
        (
            WAIVE_STOCK_FAILS.replace(
                'owner = "alice"\nexpires = 2099', 'owner = "alice"\nexpire = 2099'
            ),
            ", line 12: waiver #2 expire: unknown key; known keys: rule, reason, owner, expires",
        ),
        (
            WAIVE_STOCK_FAILS.replace('owner = "ops@example.com"\n', ""),
            ", line 2: waiver #1: missing key 'owner' (needs rule, reason, owner, expires)",
        ),
        (
            WAIVE_STOCK_FAILS.replace("expires = 2099-12-31", 'expires = "2099-12-31"', 1),
            ", line 6: waiver #1 expires: expected a date such as 2026-12-31 (a TOML date, no "
            "quotes), got '2099-12-31'",
        ),
        (
            WAIVE_STOCK_FAILS.replace('"devices.render"', '"memory.gtt"'),
            ", line 15: waiver #3 rule: memory.gtt is already waived by waiver #1",
        ),
        (
            WAIVE_STOCK_FAILS.replace('"devices.kfd"', '"Devices KFD"'),
            ", line 9: waiver #2 rule: expected a rule id such as perf.iommu, got 'Devices KFD'",
        ),
        (
            WAIVE_STOCK_FAILS.replace(
                'reason = "the service runs as root in a container"', 'reason = ""', 1
            ),
            ", line 10: waiver #2 reason: expected a non-empty string, got ''",
        ),
        ('waiver = "all of them"\n', ", line 1: waiver: expected [[waiver]] tables"),
        # A table's name mistyped in its header: the header is the line.
        (
            WAIVE_STOCK_FAILS.replace("[[waiver]]", "[[waivers]]", 2),
            ", line 2: waivers: unknown key; known keys: fail_on, monitor, profile, python, "
            "rules, user, waiver, workload",
        ),
        (
            'fail_on = "warn"\n\n[monitr]\nkeep_reports = 3\n',
            ", line 3: monitr: unknown key; known keys: fail_on, monitor, profile, python, rules, "
            "user, waiver, workload",
        ),
        # Dotted keys and inline tables are the same table in TOML.
        (
            'profile = "70b-q8"\nmonitor.keep_reports = 0\n',
            ", line 2: monitor.keep_reports: expected a whole number 1-10000, got 0",
        ),
        (
            'profile = "70b-q8"\nmonitor = { metrics_file = "/m.prom", keep_reports = 0 }\n',
            ", line 2: monitor.keep_reports: expected a whole number 1-10000, got 0",
        ),
        (
            '[monitor]\n"keep_reports" = 0\n',
            ", line 2: monitor.keep_reports: expected a whole number 1-10000, got 0",
        ),
        # Values the catalog checks, after the file was parsed, still name file, line and key.
        (
            '# lab\nprofile = "nosuch"\n',
            ", line 2: profile: unknown profile 'nosuch'; available: 70b-q8, 70b-q4, 32b-bf16, "
            "32b-q4",
        ),
        (
            '\nrules = "/nonexistent/rules"\n',
            ", line 2: rules: /nonexistent/rules: rule directory not found",
        ),
    ],
)
def test_config_mistakes_name_file_line_and_key(cli, config_file, text: str, message: str) -> None:
    path = config_file(text)
    run = cli("scan", "--fixture", "stock-128g")
    assert run.code == 2
    assert run.err == f"hostcheck: error: config {path}{message}\n"
    assert run.out == ""


def test_waiver_of_an_unknown_rule_and_invalid_toml_are_errors(cli, config_file) -> None:
    path = config_file(WAIVE_STOCK_FAILS.replace('"devices.kfd"', '"devices.kdf"'))
    run = cli("scan", "--fixture", "stock-128g")
    assert run.code == 2
    assert f"config {path}:8: waiver rule 'devices.kdf' is not a known rule id" in run.err
    path = config_file('profile = "70b-q8"\n[monitor\n')
    run = cli("rules")
    assert run.code == 2
    assert f"config {path}: invalid TOML: " in run.err and "line 2" in run.err
    assert "Traceback" not in run.err


def test_fix_reads_the_config_and_plans_nothing_for_a_waived_rule(cli, config_file) -> None:
    """Waiving perf.iommu (VFIO needs the IOMMU) must never bring amd_iommu=off."""
    planned = cli("fix", "--fixture", "stock-128g").out
    assert "fixes memory.gtt, perf.iommu" in planned and "amd_iommu=off" in planned
    config_file(
        '[[waiver]]\nrule = "perf.iommu"\nreason = "VFIO passthrough"\nowner = "ops"\n'
        "expires = 2099-12-31\n"
    )
    run = cli("fix", "--fixture", "stock-128g")
    assert run.code == 0
    assert "fixes memory.gtt (boot loader: grub)" in run.out
    assert "amd_iommu" not in run.out
    assert "ttm.pages_limit=29884416" in run.out


def test_rules_directory_from_the_config_applies_to_rules_and_explain(
    cli, config_file, tmp_path: Path
) -> None:
    config_file(f'rules = "{tmp_path}/no-rules-here"\n')
    for args in (["rules"], ["explain", "perf.iommu"]):
        run = cli(*args)
        assert run.code == 2 and f"{tmp_path}/no-rules-here" in run.err
    assert cli("rules", "--rules", str(Path(__file__).parents[2] / "rules")).code == 0


_WAIVER_TEXT = 'rule = "r{n}.x"\nreason = "because"\nowner = "o"\nexpires = 2099-01-01\n'


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=6),
    data=st.data(),
    blank_lines=st.lists(st.integers(min_value=0, max_value=3), min_size=8, max_size=8),
)
def test_the_line_of_an_unknown_waiver_key_is_where_it_is(
    count: int, data: st.DataObject, blank_lines: list[int]
) -> None:
    """Whatever the layout (blank lines, comments, a [monitor] table in between), the error
    names the line the unknown key is on and the waiver it belongs to."""
    bad = data.draw(st.integers(min_value=0, max_value=count - 1))
    key = data.draw(
        st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(
            lambda k: k not in ("rule", "reason", "owner", "expires")
        )
    )
    parts = ['profile = "70b-q8"\n']
    for n in range(count):
        parts.append("\n" * blank_lines[n % 8] + "# a comment\n[[waiver]]\n")
        body = _WAIVER_TEXT.format(n=n)
        if n == bad:
            body += f"{key} = 1\n"
        parts.append(body)
        if n == 0:
            parts.append("\n[monitor]\nkeep_reports = 3\n")
    text = "".join(parts)
    expected_line = text.splitlines().index(f"{key} = 1") + 1
    with pytest.raises(config_module.ConfigError) as caught:
        config_module._parse("c.toml", text, tomllib.loads(text))
    assert str(caught.value).startswith(
        f"config c.toml, line {expected_line}: waiver #{bad + 1} {key}: unknown key"
    )


EXPIRED_FOR_PASSING_RULES = """\
[[waiver]]
rule = "amdgpu.cwsr"
reason = "CWSR off was needed for ROCm 6.4"
owner = "bob"
expires = 2020-01-31

[[waiver]]
rule = "torch.gfx1151"
reason = "no PyTorch on this box yet"
owner = "carol"
expires = 2020-02-29

[[waiver]]
rule = "perf.iommu"
reason = "VFIO passthrough"
owner = "ops"
expires = 2099-12-31
"""


def test_an_expired_waiver_is_reported_whatever_its_rules_status(
    cli, config_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """amdgpu.cwsr passes and torch.gfx1151 is skipped on stock-128g: their waivers waive
    nothing, yet they expired and every output says so."""
    path = config_file(EXPIRED_FOR_PASSING_RULES)
    run = cli("scan", "--fixture", "stock-128g", "--format", "json")
    report = run.json()
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["waivers"] == [
        {
            "rule": "amdgpu.cwsr", "reason": "CWSR off was needed for ROCm 6.4", "owner": "bob",
            "expires": "2020-01-31", "expired": True, "status": "pass", "source": f"{path}:1",
        },
        {
            "rule": "perf.iommu", "reason": "VFIO passthrough", "owner": "ops",
            "expires": "2099-12-31", "expired": False, "status": "waived", "source": f"{path}:13",
        },
        {
            "rule": "torch.gfx1151", "reason": "no PyTorch on this box yet", "owner": "carol",
            "expires": "2020-02-29", "expired": True, "status": "skip", "source": f"{path}:7",
        },
    ]  # fmt: skip
    assert run.finding("amdgpu.cwsr")["status"] == "pass" and "waiver" not in run.finding(
        "amdgpu.cwsr"
    )
    table = cli("scan", "--fixture", "stock-128g").out
    assert (
        "waiver of amdgpu.cwsr EXPIRED on 2020-01-31 (owner bob: CWSR off was needed for ROCm "
        f"6.4); the rule is pass now: renew or remove it in {path}:1"
    ) in " ".join(table.split())
    assert "waiver of torch.gfx1151 EXPIRED on 2020-02-29" in " ".join(table.split())
    assert "waiver of perf.iommu" not in table  # it holds: shown on its finding as waived
    markdown = cli("scan", "--fixture", "stock-128g", "--format", "markdown").out
    assert (
        "**waiver of torch.gfx1151 EXPIRED on 2020-02-29 (owner carol: no PyTorch on this box "
        f"yet); the rule is skip now: renew or remove it in {path}:7**"
    ) in markdown
    # --select leaves the rule out: the expired waiver is still reported.
    selected = cli("scan", "--fixture", "stock-128g", "--format", "json", "--select", "gpu.present")
    assert [(w["rule"], w["status"]) for w in selected.json()["waivers"]] == [
        ("amdgpu.cwsr", None), ("perf.iommu", None), ("torch.gfx1151", None)
    ]  # fmt: skip
    # The monitor warns about each expired one on every run, and exports all three.
    metrics = tmp_path / "hostcheck.prom"
    for _ in range(2):
        monitor = cli(
            "monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"),
            "--metrics-file", str(metrics), "--log-format", "journal",
        )  # fmt: skip
        assert monitor.code == 1
        warnings = [line for line in monitor.out.splitlines() if "waiver expired" in line]
        assert warnings == [
            "<4>amdgpu.cwsr: waiver expired on 2020-01-31 (owner bob: CWSR off was needed for "
            f"ROCm 6.4); its rule is pass now. Renew or remove it in {path}:1",
            "<4>torch.gfx1151: waiver expired on 2020-02-29 (owner carol: no PyTorch on this box "
            f"yet); its rule is skip now. Renew or remove it in {path}:7",
        ]
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    expired = {s.labels["rule"]: s.value for s in families["hostcheck_waiver_expired"].samples}
    assert expired == {"amdgpu.cwsr": 1, "perf.iommu": 0, "torch.gfx1151": 1}
    ends = {
        s.labels["rule"]: s.value
        for s in families["hostcheck_waiver_expiry_timestamp_seconds"].samples
    }
    assert ends["torch.gfx1151"] == datetime.datetime(2020, 3, 1).timestamp()
    owners = {
        s.labels["rule"]: s.labels["owner"] for s in families["hostcheck_waiver_info"].samples
    }
    assert owners == {"amdgpu.cwsr": "bob", "perf.iommu": "ops", "torch.gfx1151": "carol"}


def test_a_waiver_ends_at_local_midnight_as_it_expires_by_the_local_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host in UTC+9 stops honouring a waiver at its own midnight, 15:00 UTC the day
    before UTC's: the metric says the same moment."""
    import time

    from hostcheck.model import WaiverState

    waiver = Waiver("perf.iommu", "VFIO", "ops", datetime.date(2026, 3, 31), "c:1")
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    try:
        ends = WaiverState(waiver, False, Status.WAIVED).ends_at()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert ends == datetime.datetime(2026, 3, 31, 15, 0, tzinfo=datetime.UTC).timestamp()


def test_snapshot_records_what_the_configured_monitor_sees(
    cli, config_file, tmp_path: Path
) -> None:
    """The config's python (and user) apply to `snapshot` as to `scan` and `monitor`, so the
    snapshot replays the monitor's findings; a bad config stops it like any command."""
    config_file('python = "/opt/vllm/bin/python3"\nuser = "root"\n')
    out = tmp_path / "snap"
    run = cli("snapshot", "--fixture", "tuned-ready", "--no-redact", "--output", str(out))
    assert run.code == 0, run.err
    assert f"replay: hostcheck scan --root {out} --python /opt/vllm/bin/python3" in run.out
    assert (
        (out / ".hostcheck/commands/python-env.txt").read_text().startswith("HOSTCHECK-PYTHON-ENV")
    )
    replay = cli("scan", "--root", str(out), "--format", "json")  # python from the config
    assert replay.code == 0 and replay.finding("torch.gfx1151")["status"] == "pass"
    path = config_file("pyhton = 1\n")
    bad = cli("snapshot", "--fixture", "tuned-ready", "--output", str(tmp_path / "other"))
    assert bad.code == 2 and bad.err.startswith(f"hostcheck: error: config {path}, line 1: pyhton")
    assert not (tmp_path / "other").exists()
    explicit = cli(
        "snapshot", "--fixture", "tuned-ready", "--config", str(tmp_path / "none.toml"),
        "--output", str(tmp_path / "third"),
    )  # fmt: skip
    assert explicit.code == 2 and "none.toml (from --config): no such file" in explicit.err
