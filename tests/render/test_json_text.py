"""The JSON report's text: hostcheck writes it without json.dumps's slow indenting encoder,
and every byte must still be what ``json.dumps(value, indent=2, ensure_ascii=False)`` writes
(consumers diff reports, and the golden files hold json's own text)."""

from __future__ import annotations

import json
import math
from enum import Enum, IntEnum, StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostcheck.render.json import dumps_indented


def dumped(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


class Colour(StrEnum):
    RED = "red"
    ODD = 'a "quoted"\n\x01 é'


class Level(IntEnum):
    LOW = 1
    HIGH = 2**70


class Ratio(float):
    def __repr__(self) -> str:
        return "not how json writes it"


class Word(str):
    def __str__(self) -> str:
        return "not how json writes it"


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 1e16, 1e-7, 123456789.0, 0.1, float("nan"), -math.inf])
    | st.text()
    | st.text(alphabet=st.characters(max_codepoint=0x2F))  # controls, quotes, slashes
    | st.sampled_from(list(Colour) + list(Level) + [Ratio(2.5), Word("w\n")])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text() | st.sampled_from(list(Colour)), inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_the_text_is_json_dumps_indent_2_byte_for_byte(value: object) -> None:
    assert dumps_indented(value) == dumped(value)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        (),
        {"a": {}, "b": [], "c": [{}, [], [[]]]},
        [True, False, None, 0, -1, 2**64, 1.5, -0.0, 1e16, math.inf, -math.inf],
        {"é\u2028": '\x00\x1f\x7f"\\/ \ud800'},  # a lone surrogate is written as it is
        {Colour.ODD: [Colour.RED, Level.HIGH, Ratio(0.5), Word("x")]},
    ],
)
def test_edge_values_are_written_as_json_writes_them(value: object) -> None:
    assert dumps_indented(value) == dumped(value)


def test_nan_is_written_as_json_writes_it() -> None:
    assert dumps_indented([math.nan]) == dumped([math.nan]) == "[\n  NaN\n]"


class Other(Enum):
    X = 1


@pytest.mark.parametrize(
    "value",
    [
        {1: "an int key"},
        {None: 1, True: 2, 1.5: 3},
        {"nested": {2: [3]}},
    ],
)
def test_keys_json_converts_are_converted_as_json_does(value: object) -> None:
    assert dumps_indented(value) == dumped(value)


@pytest.mark.parametrize("value", [{"x": Other.X}, [{1, 2}], {"b": b"bytes"}, {(1,): 2}])
def test_what_json_refuses_is_refused_the_same_way(value: object) -> None:
    with pytest.raises(TypeError) as expected:
        dumped(value)
    with pytest.raises(TypeError) as raised:
        dumps_indented(value)
    assert str(raised.value) == str(expected.value)


def test_a_cycle_is_refused_as_json_refuses_it() -> None:
    looped: list[object] = [1]
    looped.append({"again": looped})
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps_indented(looped)


class AlwaysEqual(float):
    """A float subclass whose comparisons lie: json's floatstr asks value != value and
    value == inf, and so must the writer."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = float.__hash__


class TruthyEmpty(list):  # type: ignore[type-arg]
    def __bool__(self) -> bool:
        return True  # json asks `not lst`, not len(): "[\n]"


class OwnItems(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[no-untyped-def, override]
        return [("from-items", 1)]  # json walks .items(), not the dict's own storage


def _outcome(write, value: object) -> object:  # type: ignore[no-untyped-def]
    try:
        return write(value)
    except (TypeError, ValueError, RecursionError) as exc:
        return type(exc), str(exc)


def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = {"k": [value]}
    return value


@pytest.mark.parametrize(
    "value",
    [
        [AlwaysEqual(1.0)],
        {"x": TruthyEmpty()},
        [OwnItems(hidden=2)],
        {"big": 10**5000},  # beyond int's 4300-digit limit: the same ValueError
        {"a": {}, "b": ([], ((),), {"c": ()})},
        _nested(450),  # deep, as a hostile report loaded by json.loads can be
        _nested(5000),  # deeper than either can write: the same RecursionError
    ],
    ids=["float-eq", "truthy-empty-list", "own-items", "huge-int", "empties", "deep", "too-deep"],
)
def test_odd_values_come_out_or_fail_as_json_dumps(value: object) -> None:
    assert _outcome(dumps_indented, value) == _outcome(dumped, value)
