"""Helpers shared by the probes: read-and-parse with the reason kept when either step fails."""

from __future__ import annotations

from collections.abc import Callable

from hostcheck.host.core import Host
from hostcheck.parse.text import ParseError
from hostcheck.readings import Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def read_parsed(host: Host, path: str, parse: Callable[[str], T]) -> Value[T] | Unavailable:
    """Read ``path`` and parse it; an unreadable or malformed file becomes an Unavailable."""
    text = host.read_text(path)
    if not isinstance(text, Value):
        return text
    return parse_reading(text, parse)


def parse_reading(text: Value[str], parse: Callable[[str], T]) -> Value[T] | Unavailable:
    try:
        return Value(parse(text.value), text.source)
    except (ParseError, ValueError) as exc:
        return Unavailable(Reason.UNPARSABLE, text.source, str(exc))


def read_stripped(host: Host, path: str) -> Value[str] | Unavailable:
    return read_parsed(host, path, _nonempty)


def _nonempty(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise ParseError("empty file")
    return stripped
