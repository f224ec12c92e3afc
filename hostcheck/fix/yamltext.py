"""Block-style YAML for the MachineConfig, Butane and Tuned objects `hostcheck fix --emit`
prints."""

import json
import re
from collections.abc import Mapping
from typing import Any


def to_yaml(obj: Mapping[str, Any]) -> str:
    """Block-style YAML for a MachineConfig-shaped object, byte for byte deterministic.

    A small emitter instead of a YAML library: the shape is fixed (mappings, lists, strings,
    integers, booleans), and a runtime dependency for ~30 lines is not worth it. Every string
    is written as a JSON string, which is also a valid YAML double-quoted scalar, so no value
    can be misread as a number, a boolean or a comment.
    """
    return "".join(_yaml_lines(obj, 0))


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{pad}{_yaml_key(str(key))}:"
            if _is_block(item):
                out.append(head + "\n")
                out += _yaml_lines(item, indent + 2)
            else:
                out.append(f"{head} {_yaml_scalar(item)}\n")
    elif isinstance(value, list):
        for item in value:
            if _is_block(item):
                nested = _yaml_lines(item, indent + 2)
                out.append(f"{pad}- {nested[0].lstrip()}")
                out += nested[1:]
            else:
                out.append(f"{pad}- {_yaml_scalar(item)}\n")
    return out


def _is_block(value: Any) -> bool:
    return isinstance(value, Mapping | list) and len(value) > 0


_PLAIN_KEY = re.compile(r"[A-Za-z][-A-Za-z0-9_./]*")


def _yaml_key(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML here")
