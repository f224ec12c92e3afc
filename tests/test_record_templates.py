"""Record classes' ``__new__`` comes from templates written in hostcheck/_record.py (no eval()
at run time) for up to 32 fields, from eval() above: the same code as namedtuple's either way,
the same signature, docstring and names."""

from __future__ import annotations

import collections
import inspect
from typing import Any

import pytest

from hostcheck import _record


def _eval_source(arity: int) -> str:
    """The text _new_for would compile (and compiled before the templates)."""
    args = ", ".join(f"_{index}" for index in range(arity)) + ("," if arity == 1 else "")
    return f"lambda _cls, {args}: _tuple_new(_cls, ({args}))"


@pytest.mark.parametrize("arity", range(len(_record._NEW_TEMPLATES)))
def test_each_template_is_the_code_eval_compiles(arity: int) -> None:
    """Equal code objects: bytecode, names, constants, and line and column table."""
    compiled = eval(_eval_source(arity), {"__builtins__": {}})
    template = _record._NEW_TEMPLATES[arity].__code__
    assert template.replace(co_filename="<string>", co_firstlineno=1) == compiled.__code__


def _record_class(name: str, fields: list[str]) -> Any:
    namespace: dict[str, Any] = {"__annotations__": dict.fromkeys(fields, "int")}
    namespace["__module__"] = __name__
    namespace[fields[-1]] = 0  # the last field has a default
    return _record._RecordMeta(name, (_record._Record,), namespace)


def _no_eval(*args: object) -> None:
    raise AssertionError("eval() called")


@pytest.mark.parametrize("count", [1, 3, 24, 32, 33, 40])
def test_new_is_namedtuples_for_any_number_of_fields(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = [f"field{index}" for index in range(count)]
    if count <= 32:  # a template; with more fields, eval() once per number of fields
        monkeypatch.setattr(_record, "eval", _no_eval, raising=False)
    record = _record_class("Wide", fields)
    reference = collections.namedtuple("Wide", fields, defaults=[0])
    new, expected = record.__new__, reference.__new__
    assert inspect.signature(record) == inspect.signature(reference)
    assert inspect.signature(new) == inspect.signature(expected)
    assert new.__doc__ == expected.__doc__ and new.__qualname__ == expected.__qualname__
    assert new.__name__ == "__new__" and new.__defaults__ == (0,)
    assert new.__code__.co_code == expected.__code__.co_code
    assert new.__code__.co_varnames == expected.__code__.co_varnames
    assert new.__code__.co_filename == expected.__code__.co_filename == "<string>"
    assert record.__doc__ == reference.__doc__
    values = list(range(count))
    assert record(*values) == tuple(values) and record(*values[:-1])[-1] == 0
    assert record(**dict(zip(fields, values, strict=True)))._asdict() == dict(
        zip(fields, values, strict=True)
    )
    with pytest.raises(TypeError, match="takes from"):
        record(*values, 1)


def test_more_fields_than_the_templates_compile_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _record_class("First", [f"a{index}" for index in range(45)])
    monkeypatch.setattr(_record, "eval", _no_eval, raising=False)
    again = _record_class("Second", [f"b{index}" for index in range(45)])
    assert again(*range(45))[44] == 44
    with pytest.raises(AssertionError, match="eval"):
        _record_class("Third", [f"c{index}" for index in range(46)])
