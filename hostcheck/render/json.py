"""The JSON report: the public contract of DESIGN.md, validated by schemas/report.schema.json."""

from __future__ import annotations

import json
from json.encoder import encode_basestring

from hostcheck.model import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# 1.1: status fixed-pending-reboot.
# 1.2: status "waived", summary.waived, a finding's optional "waiver" object (config file
# waivers), the optional top-level "waivers" list (every waiver of the config file, expired
# or not, whatever its rule's status) and the optional "monitor" object of reports that
# `hostcheck monitor` stores. 1.3: the optional top-level "generated" (RFC 3339 UTC): when
# the scan ran. 1.4: the optional top-level "stack" object: where the inference stack lives
# (components with where and how found), the backend and the kind of node judged; and the
# optional top-level "catalog" object: the rule catalog's review date and the operator drop-in
# files that added rows to its tables;
# and the optional top-level "functional" (what scan --functional measured).
SCHEMA_VERSION = "1.4"


def to_dict(report: Report) -> dict[str, Any]:
    generated = {"generated": report.generated} if report.generated is not None else {}
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "hostcheck", "version": report.tool_version},
        **generated,
        "host": {
            "hostname": report.hostname,
            "kernel_release": report.kernel_release,
            "root": report.root,
            "gpu": report.gpu,
            "rocm": report.rocm,
            "container": report.container,
        },
        "profile": {"name": report.profile, "title": report.profile_title},
        "fail_on": report.fail_on.value,
        "ready": report.ready,
        "summary": report.summary,
        "duration_seconds": round(report.duration_seconds, 4),
        "findings": [finding.to_json() for finding in report.sorted_findings()],
    }
    if report.stack is not None:
        data["stack"] = report.stack
    if report.catalog is not None:
        data["catalog"] = {
            "reviewed": report.catalog["reviewed"],
            "dropins": list(report.catalog["dropins"]),
        }
    if report.waivers:
        data["waivers"] = [state.to_json() for state in report.waivers]
    if report.functional is not None:
        data["functional"] = report.functional.to_json()
    return data


def render(report: Report) -> str:
    return dumps_indented(to_dict(report)) + "\n"


# -- json.dumps(value, indent=2, ensure_ascii=False), faster --------------------------------
#
# Python 3.11's C encoder cannot indent: with indent=2, json.dumps runs the pure-Python
# generator chain of json.encoder._make_iterencode (~0.5 ms for a fixture's report). The writer
# below produces the same text for the values a report is made of (dicts with str keys, lists
# and tuples, str, int, float, bool, None, and their subclasses such as StrEnum members) in one
# recursive pass with the C string encoder, in less than half the time. Anything else (a
# non-str key, an unknown type, a cycle, nesting deeper than the interpreter allows) is left to
# json.dumps, which then writes, or refuses, as it always did. One difference, at the margin:
# the writer needs fewer stack frames per level, so dicts nested ~990 deep, where json.dumps
# hits RecursionError, are written (valid JSON; reports nest 6 deep).

_str = encode_basestring  # a JSON string as json.dumps(ensure_ascii=False) writes it (C)
_INFINITY = float("inf")


class _Unsupported(Exception):
    """A value the writer leaves to json.dumps."""


def dumps_indented(value: object) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, byte for byte."""
    parts: list[str] = []
    try:
        _write(value, parts, "\n")
    except (_Unsupported, RecursionError):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(parts)


def _scalar(value: object) -> str | None:
    """A scalar as json writes it; None for a container (or anything else)."""
    if type(value) is str:
        return _str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float:
        return _float(value)
    # Subclasses, in json.encoder's order: str (a StrEnum member) before int (an IntEnum's).
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _float(value: float) -> str:
    # json.encoder's floatstr with allow_nan=True
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _write(value: object, parts: list[str], newline: str) -> None:
    """Append ``value`` as json writes it with indent=2, ``newline`` being the line break and
    the indentation of the line it starts on."""
    text = _scalar(value)
    if text is not None:
        parts.append(text)
    elif isinstance(value, dict):
        _write_dict(value, parts, newline)
    elif isinstance(value, list | tuple):
        _write_list(value, parts, newline)
    else:
        raise _Unsupported


def _write_dict(value: dict[Any, Any], parts: list[str], newline: str) -> None:
    if not value:
        parts.append("{}")
        return
    append = parts.append
    inner = newline + "  "
    opening = "{" + inner
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Unsupported  # json turns int, float, bool and None keys into strings
        kind = type(item)
        if kind is str:
            append(opening + _str(key) + ": " + _str(item))
        elif kind is dict:
            append(opening + _str(key) + ": ")
            _write_dict(item, parts, inner)
        elif kind is list:
            append(opening + _str(key) + ": ")
            _write_list(item, parts, inner)
        else:
            text = _scalar(item)
            if text is not None:
                append(opening + _str(key) + ": " + text)
            else:
                append(opening + _str(key) + ": ")
                _write(item, parts, inner)
        opening = "," + inner
    append(newline + "}")


def _write_list(value: list[Any] | tuple[Any, ...], parts: list[str], newline: str) -> None:
    if not value:
        parts.append("[]")
        return
    append = parts.append
    inner = newline + "  "
    opening = "[" + inner
    for item in value:
        kind = type(item)
        if kind is str:
            append(opening + _str(item))
        elif kind is dict:
            append(opening)
            _write_dict(item, parts, inner)
        else:
            text = _scalar(item)
            if text is not None:
                append(opening + text)
            else:
                append(opening)
                _write(item, parts, inner)
        opening = "," + inner
    append(newline + "]")
