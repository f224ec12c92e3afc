"""Renderers: pure functions ``render(report) -> str``. The CLI decides where output goes.

The JSON renderer imports neither rich nor textual, so machine output stays fast.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hostcheck.model import Report
    from hostcheck.render.formats import Format as Format

# The formats by name (Format's values), each rendered by hostcheck.render.<name>.render.
FORMATS = ("table", "json", "junit", "markdown", "npd")


def renderer(fmt: str) -> Callable[[Report], str]:
    """The render function of a format (a name or a Format), imported only when it is used."""
    name = str(fmt)  # a Format member is its value
    if name not in FORMATS:
        raise ValueError(f"{fmt!r} is not a valid Format")
    # __import__ with a fromlist returns the submodule (importlib's package costs ~0.2 ms)
    module = __import__(f"hostcheck.render.{name}", fromlist=["render"])
    render: Callable[[Report], str] = module.render
    return render


def __getattr__(name: str) -> object:
    # Format is made on first use: creating an enum class costs ~0.2 ms of every run, and
    # renderer() takes the format's name.
    if name == "Format":
        from hostcheck.render.formats import Format

        return Format
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"  # compiled on first use (re caches it)


def printable(text: object) -> str:
    """Host text made safe to show: control characters (an ESC in a process's argv, a NUL in a
    sysfs file) become visible \\xNN escapes instead of moving a terminal's cursor or
    breaking XML. Newlines and tabs stay."""
    return re.sub(_CONTROL, lambda m: f"\\x{ord(m.group()):02x}", str(text))
