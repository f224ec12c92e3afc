"""Renderers: pure functions ``render(report) -> str``. The CLI decides where output goes.

The JSON renderer imports neither rich nor textual, so machine output stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from importlib import import_module

from hostcheck.model import Report


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"


def renderer(fmt: Format) -> Callable[[Report], str]:
    """The render function of a format, imported only when it is used."""
    module = import_module(f"hostcheck.render.{fmt.value}")
    render: Callable[[Report], str] = module.render
    return render
