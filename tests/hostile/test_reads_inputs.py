"""Bad input is a one-line exit 2 or an `error` finding, never exit 3, a hang or a wrong
verdict (issue 18, "Exit 3 on bad input", item 5, output hygiene)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, expected, run_subprocess

DEEP = "[" * 100_000
DEEP_OBJECT = '{"a":' * 100_000


def _one_line_exit_2(run, *needles: str) -> None:
    assert run.code == 2, (run.code, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("hostcheck: error: ")
    assert "Traceback" not in run.err and "internal error" not in run.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _python_env(root: Path, fields: dict[str, object] | str) -> None:
    line = fields if isinstance(fields, str) else json.dumps(fields)
    (root / ".hostcheck/commands/python-env.txt").write_text(f"HOSTCHECK-PYTHON-ENV {line}\n")


def _tuned(fixture_copy) -> tuple[Path, list[str]]:
    return fixture_copy("tuned-ready"), expected("tuned-ready")["args"]


GOOD_ENV = json.loads(
    (FIXTURES / "tuned-ready/.hostcheck/commands/python-env.txt")
    .read_text()
    .removeprefix("HOSTCHECK-PYTHON-ENV ")
)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"arch_list": 5}, "arch_list"),
        ({"arch_list": [5]}, "arch_list"),
        ({"torch": "banana"}, "'banana' is not a version"),
        ({"torch": 2.9}, "torch: expected a string"),
        ({"total_memory": "1e400"}, "total_memory"),
        ({"total_memory": True}, "total_memory"),
        ({"total_memory": -1}, "total_memory"),
        ({"total_memory": 2**60}, "total_memory"),
    ],
)
def test_python_env_lax_values_are_errors(fixture_copy, cli, change, said) -> None:
    root, args = _tuned(fixture_copy)
    _python_env(root, {**GOOD_ENV, **change})
    run = cli("scan", "--root", str(root), *args, "--format", "json")
    assert run.code == 1, run.err
    finding = run.finding("torch.gfx1151")
    assert finding["status"] == "error", finding
    assert said in json.dumps(finding)


@pytest.mark.parametrize(
    "line",
    [
        '{"total_memory": 1e400, "torch": "2.9.1"}',
        '{"total_memory": Infinity}',
        '{"total_memory": NaN}',
        '{"total_memory": ' + "9" * 5000 + "}",
        DEEP,
        DEEP_OBJECT,
        "[1]",
    ],
    ids=["1e400", "Infinity", "NaN", "5000 digits", "deep list", "deep object", "not an object"],
)
def test_python_env_unusable_json_is_an_error(fixture_copy, cli, line) -> None:
    root, args = _tuned(fixture_copy)
    _python_env(root, line)
    run = cli("scan", "--root", str(root), *args, "--format", "json")
    assert run.code == 1, run.err
    finding = run.finding("torch.gfx1151")
    assert finding["status"] == "error"
    assert "inf GiB" not in run.out


def test_implausible_memtotal_plans_nothing_absurd(fixture_copy, cli) -> None:
    root = fixture_copy("stock-128g")
    meminfo = root / "proc/meminfo"
    meminfo.write_text(
        re.sub(
            r"MemTotal:\s+\d+ kB", "MemTotal:       18446744073709551615 kB", meminfo.read_text()
        )
    )
    scan = cli("scan", "--root", str(root), "--format", "json")
    assert scan.code in (0, 1), scan.err
    assert "18446744073709551615" in json.dumps(scan.json()["findings"])  # named as the cause
    plan = cli("fix", "--root", str(root))
    assert "4611686018425290752" not in plan.out
    assert "Traceback" not in plan.err


@pytest.mark.parametrize(
    "content",
    [DEEP, DEEP_OBJECT, '{"/dev/kfd": ' + "1" * 5000 + "}"],
    ids=["deep list", "deep object", "5000 digits"],
)
def test_damaged_devices_json_gives_error_findings(fixture_copy, cli, content) -> None:
    root = fixture_copy("stock-128g")
    (root / ".hostcheck/devices.json").write_text(content)
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 1, run.err
    assert run.finding("devices.kfd")["status"] == "error"
    assert "devices.json" in json.dumps(run.finding("devices.kfd"))


def test_damaged_unreadable_json_is_refused_in_one_line(fixture_copy, cli) -> None:
    root = fixture_copy("stock-128g")
    (root / ".hostcheck/unreadable.json").write_text(DEEP)
    _one_line_exit_2(
        cli("scan", "--root", str(root)), "unreadable.json", "nested more than 64 levels"
    )


def test_damaged_command_status_is_an_error_finding(fixture_copy, cli) -> None:
    root, args = _tuned(fixture_copy)
    (root / ".hostcheck/commands/python-env.json").write_text(DEEP_OBJECT)
    run = cli("scan", "--root", str(root), *args, "--format", "json")
    assert run.code == 1, run.err
    assert run.finding("torch.gfx1151")["status"] == "error"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("x = " + DEEP, "nested more than 64 levels"),
        ("[monitor]\nkeep_reports = " + "9" * 5000, "config"),
        ("fail_on = inf", "invalid number"),
    ],
    ids=["deep", "5000 digits", "inf"],
)
def test_config_bad_input_is_one_line(tmp_path: Path, cli, content, said) -> None:
    config = tmp_path / "config.toml"
    config.write_text(content)
    _one_line_exit_2(cli("scan", "--fixture", "stock-128g", "--config", str(config)), said)


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "huge"])
def test_config_and_env_file_never_block(tmp_path: Path, kind: str) -> None:
    """A FIFO used to hang forever and /dev/zero to grow memory at ~1 GB/s."""
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "huge"
        with path.open("wb") as handle:
            handle.truncate(64 * 1024 * 1024)  # sparse: costs no disk
    for option in ("--config", "--env-file"):
        run = run_subprocess("scan", "--fixture", "stock-128g", option, str(path), timeout=60)
        _one_line_exit_2(run, str(path))


def test_monitor_recovers_from_a_damaged_newest_report(tmp_path: Path, cli) -> None:
    state = tmp_path / "state"
    first = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(state))
    assert first.code in (0, 1), first.err
    newest = sorted(state.glob("report-*.json"))[-1]
    newest.write_text(DEEP)
    for _ in range(2):  # the damaged one is warned about, later runs go on
        again = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(state))
        assert again.code == first.code, again.err
        assert "Traceback" not in again.err
    fifo_state = tmp_path / "fifo-state"
    cli("monitor", "--fixture", "stock-128g", "--state-dir", str(fifo_state))
    newest = sorted(fifo_state.glob("report-*.json"))[-1]
    newest.unlink()
    os.mkfifo(newest)
    run = run_subprocess(
        "monitor",
        "--fixture",
        "stock-128g",
        "--state-dir",
        str(fifo_state),
        timeout=60,
        env={**os.environ, "HOSTCHECK_CONFIG": os.devnull},
    )
    assert run.code in (0, 1), run.err


def test_fleet_names_the_bad_report_and_summarises_the_rest(tmp_path: Path, cli) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    good = cli(
        "scan", "--fixture", "tuned-ready", *expected("tuned-ready")["args"], "--format", "json"
    )
    for i in range(3):
        data = good.json()
        data["host"]["hostname"] = f"node-{i}"
        (reports / f"node-{i}.json").write_text(json.dumps(data))
    (reports / "deep.json").write_text(DEEP)
    big = good.json()
    big["host"]["hostname"] = "node-big"
    text = json.dumps(big)
    assert '"duration_seconds": ' in text
    (reports / "digits.json").write_text(
        text.replace('"duration_seconds": ', '"duration_seconds": ' + "9" * 5000 + ', "x": ', 1)
    )
    os.mkfifo(reports / "fifo.json")
    escape = good.json()
    escape["host"]["hostname"] = "evil\x1b[2J\x1b]0;owned\x07"
    (reports / "escape.json").write_text(json.dumps(escape))
    run = run_subprocess("fleet", str(reports), "--format", "json", timeout=60)
    assert run.code == 2, run.err
    summary = json.loads(run.out)
    assert summary["nodes"] == 4
    bad = {Path(item["file"]).name: item["reason"] for item in summary["unreadable"]}
    assert set(bad) == {"deep.json", "digits.json", "fifo.json"}
    assert "nested" in bad["deep.json"] and "digit" in bad["digits.json"]
    assert "FIFO" in bad["fifo.json"]
    assert "\x1b" not in run.err and "\x07" not in run.err


def test_history_lists_the_others_and_names_the_damaged_journal(fixture_copy, cli) -> None:
    root = fixture_copy("stock-128g")
    applied = cli("fix", "--root", str(root), "--apply", "--yes")
    if applied.code not in (0, 1):
        pytest.skip(f"fix --apply not possible here: {applied.err.strip()}")
    journal = root / "var/lib/hostcheck/fix"
    names = sorted(journal.glob("*.json"))
    assert names, "the apply wrote a journal"
    (journal / "20260101T000000.000000Z-dead.json").write_text(DEEP)
    run = cli("fix", "--root", str(root), "--history")
    assert run.code == 2
    assert names[0].stem in run.out  # the readable transaction is listed
    assert "20260101T000000.000000Z-dead.json" in run.err and "nested" in run.err
    assert "Traceback" not in run.err


def test_markdown_cannot_forge_lines(fixture_copy, cli) -> None:
    root = fixture_copy("tuned-ready")
    cmdline = root / "proc/3100/cmdline"
    cmdline.write_bytes(
        cmdline.read_bytes() + b"--served-model-name\0x\n\n# hostcheck: host is READY\n- ok\0"
    )
    run = cli("scan", "--root", str(root), *expected("tuned-ready")["args"], "--format", "markdown")
    assert run.code in (0, 1)
    lines = run.out.splitlines()
    assert not any(line.startswith("# hostcheck: host is READY") for line in lines)
    assert sum(line.startswith("# ") for line in lines) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    depth=st.integers(min_value=65, max_value=50_000),
    name=st.sampled_from(["devices.json", "unreadable.json", "commands/rocminfo.json"]),
)
def test_any_nested_recorded_item_never_exits_3(tmp_path_factory, depth: int, name: str) -> None:
    from hostcheck.cli.main import main

    root = tmp_path_factory.mktemp("host")
    shutil.copytree(FIXTURES / "stock-128g", root, dirs_exist_ok=True)
    (root / ".hostcheck" / name).parent.mkdir(parents=True, exist_ok=True)
    (root / ".hostcheck" / name).write_text("[" * depth + "]" * depth)
    try:
        code = main(["scan", "--root", str(root), "--format", "json", "--output", os.devnull])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code in (0, 1, 2)


def test_fifo_in_a_rule_directory_does_not_hang(tmp_path: Path) -> None:
    from tests.conftest import REPO

    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "catalog.json").unlink(missing_ok=True)
    os.mkfifo(rules / "zz.toml")
    run = run_subprocess("scan", "--fixture", "stock-128g", "--rules", str(rules), timeout=60)
    _one_line_exit_2(run, "zz.toml", "FIFO")
