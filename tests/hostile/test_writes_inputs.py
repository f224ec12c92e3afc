"""Bad numbers and names that used to crash (exit 3) instead of a one-line usage error, and
dates at the edge of the calendar (issue 18, write half)."""

from __future__ import annotations

import argparse
import datetime
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from hostcheck.cli.common import seconds_argument
from hostcheck.model import Waiver, WaiverState


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["scan", "--fixture", "stock-128g", f"--timeout={value}"], "--timeout")
        for value in ("nan", "inf", "-inf", "-1", "0", "1e308", "NaN", "banana")
    ]
    + [(["snapshot", f"--timeout={value}"], "--timeout") for value in ("nan", "inf", "0")]
    + [
        (["nfd", "--fixture", "stock-128g", f"--every={value}"], "--every")
        for value in ("nan", "inf", "-5", "0", "1e308")
    ]
    + [
        (["nfd", "--fixture", "stock-128g", f"--expiry={value}"], "--expiry")
        for value in ("nan", "inf", "1e308", "-1", "0", "1e12")
    ],
)
def test_a_duration_that_is_not_a_finite_positive_number_is_a_usage_error(
    cli, args: list[str], option: str
) -> None:
    run = cli(*args)
    assert run.code == 2
    last = run.err.strip().splitlines()[-1]
    assert f"argument {option}: expected a number of seconds above 0 and at most" in last
    assert repr(args[-1].split("=", 1)[1]) in last
    assert "Traceback" not in run.err and "internal error" not in run.err


def test_the_largest_durations_still_work(cli, tmp_path: Path) -> None:
    out = tmp_path / "features"
    run = cli("nfd", "--fixture", "stock-128g", "--expiry", "316224000", "-o", str(out))
    assert run.code == 1, run.err  # stock-128g is not ready
    assert "hostcheck.feature.node.kubernetes.io/ready=false" in out.read_text()
    assert cli("scan", "--fixture", "stock-128g", "--timeout", "86400").code == 1


def test_a_waiver_to_the_end_of_the_calendar_holds_forever_in_the_metrics(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = tmp_path / "hostcheck.prom"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[monitor]\nmetrics_file = "{metrics}"\n\n[[waiver]]\nrule = "memory.gtt"\n'
        'reason = "32B only"\nowner = "ops"\nexpires = 9999-12-31\n'
    )
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"))
    assert run.code == 1, run.err  # not ready for devices.kfd; the waiver itself holds
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    (expiry,) = families["hostcheck_waiver_expiry_timestamp_seconds"].samples
    assert expiry.value == math.inf
    (expired,) = families["hostcheck_waiver_expired"].samples
    assert expired.value == 0
    assert (tmp_path / "state" / "latest.json").exists()


@pytest.mark.parametrize(
    ("expires", "end"),
    [
        (datetime.date.max, math.inf),
        (datetime.date(9999, 12, 30), datetime.datetime(9999, 12, 31).timestamp()),
        (datetime.date.min, datetime.datetime(1, 1, 2).timestamp()),
    ],
)
def test_waiver_ends_at_the_edges_of_the_calendar(expires: datetime.date, end: float) -> None:
    state = WaiverState(Waiver("memory.gtt", "r", "o", expires, "config.toml"), False, None)
    assert state.ends_at() == end


def test_a_nul_in_the_metrics_file_setting_names_the_file_and_line(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('# monitor\n[monitor]\nmetrics_file = "/tmp/x\\u0000y.prom"\n')
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"))
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert f"config {config}, line 3: monitor.metrics_file: a path has no NUL character" in run.err
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").iterdir())


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(min_value=-(10**400), max_value=10**400).map(str),
        st.text(max_size=30),
    )
)
def test_a_duration_is_accepted_only_finite_and_in_range(text: str) -> None:
    """Any text: a number in (0, maximum] is accepted as it is; anything else is an argparse
    error, never another exception (OverflowError, ValueError) that would be exit 3."""
    parse = seconds_argument(86400)
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as exc:
        assert "expected a number of seconds above 0 and at most 86400" in str(exc)
        return
    assert math.isfinite(value) and 0 < value <= 86400
    assert value == float(text)
