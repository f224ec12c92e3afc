"""The one bounded reader (hostcheck.host.safeio): regular files only, size cap, never blocks,
nesting and number guards, and a typed error naming the file and the reason."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostcheck.host.safeio import (
    MAX_DEPTH,
    InputError,
    load_json_file,
    load_toml_file,
    parse_json_text,
    printable,
    read_file_text,
)


def _bounded(func, seconds: float = 5.0):
    """Run func on a thread; fail the test (instead of hanging the suite) if it blocks."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the read blocked"
    return box


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "devices.json"
    os.mkfifo(fifo)
    box = _bounded(lambda: load_json_file(str(fifo), what="recorded devices"))
    error = box["error"]
    assert isinstance(error, InputError)
    assert error.path == str(fifo)
    assert "FIFO" in error.reason
    assert str(error) == f"recorded devices {fifo}: a FIFO, not a regular file"


def test_device_is_refused_without_reading() -> None:
    box = _bounded(lambda: load_json_file("/dev/zero", what="fleet report"))
    assert isinstance(box["error"], InputError)
    assert "character device" in str(box["error"])


def test_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 2000 + "1]")
    with pytest.raises(InputError, match="too large"):
        load_json_file(str(big), what="report", max_bytes=1000)
    assert load_json_file(str(big), what="report", max_bytes=10000)[-1] == 1


def test_missing_file_is_typed(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_file_text(str(tmp_path / "nope"), what="--env-file")
    assert caught.value.missing
    assert str(caught.value).endswith("No such file or directory")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(min_value=MAX_DEPTH + 1, max_value=200_000), opener=st.sampled_from("[{"))
def test_deep_json_is_an_input_error(depth: int, opener: str) -> None:
    objects = '{"a":' * depth + "1" + "}" * depth
    text = objects if opener == "{" else "[" * depth + "]" * depth
    with pytest.raises(InputError, match="nested more than"):
        parse_json_text(text, what="report", path="r.json")


def test_json_nesting_within_the_limit_loads() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json_text(text) == json.loads(text)


@settings(max_examples=40, deadline=None)
@given(
    number=st.one_of(
        st.integers(min_value=41, max_value=6000).map(lambda n: "9" * n),
        st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1e999999"]),
    )
)
def test_unusable_numbers_are_input_errors(number: str) -> None:
    with pytest.raises(InputError, match="invalid number"):
        parse_json_text('{"total_memory": ' + number + "}", what="report", path="r.json")


def test_type_expectation() -> None:
    with pytest.raises(InputError, match="expected a JSON object, got array"):
        parse_json_text("[1]", what="report", path="r.json", expect=dict)


@pytest.mark.parametrize(
    "text",
    ["x = inf", "x = nan", "x = 1e400", "x = " + "1" * 5000, "x = " + "[" * 100_000],
)
def test_toml_guards(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_toml_file(str(path), what="config")
    message = str(caught.value)
    assert message.startswith(f"config {path}: ")
    assert "\n" not in message and len(message) < 300


def test_printable_escapes_control_characters() -> None:
    assert printable("a\x1b[2Jb\nc\r") == "a\\x1b[2Jb\\x0ac\\x0d"
    assert printable("x" * 10, limit=4) == "xxxx…"


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_printable_leaves_no_control_character(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert "\u2028" not in shown and "\u2029" not in shown
