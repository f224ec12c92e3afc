"""Renderers: pure functions ``render(report) -> str``. The CLI decides where output goes.

The JSON renderer imports neither rich nor textual, so machine output stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from hostcheck.model import Report


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    NPD = "npd"


def renderer(fmt: Format) -> Callable[[Report], str]:
    """The render function of a format, imported only when it is used."""
    # __import__ with a fromlist returns the submodule (importlib's package costs ~0.2 ms)
    module = __import__(f"hostcheck.render.{fmt.value}", fromlist=["render"])
    render: Callable[[Report], str] = module.render
    return render


_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"  # compiled on first use (re caches it)


def printable(text: object) -> str:
    """Host text made safe to show: control characters (an ESC in a process's argv, a NUL in a
    sysfs file) become visible \\xNN escapes instead of moving a terminal's cursor or
    breaking XML. Newlines and tabs stay."""
    return re.sub(_CONTROL, lambda m: f"\\x{ord(m.group()):02x}", str(text))
