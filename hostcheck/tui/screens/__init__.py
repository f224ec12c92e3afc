"""The TUI's screens, one a module: the findings review, the plan, the confirmation, a
message, the export dialog and the help. A screen shows what it is given and asks the app
for work by posting a message (ReviewScreen.PlanRequested, PlanScreen.ApplyRequested …);
none imports the app.

The names below are loaded on first use, so that importing this package (as a walk over
hostcheck's modules does) imports no textual.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hostcheck.tui.screens.confirm import ConfirmScreen
    from hostcheck.tui.screens.export import ExportScreen
    from hostcheck.tui.screens.help import HelpScreen
    from hostcheck.tui.screens.message import MessageScreen
    from hostcheck.tui.screens.plan import PlanScreen
    from hostcheck.tui.screens.review import ReviewScreen

_MODULES = {
    "ConfirmScreen": "confirm",
    "ExportScreen": "export",
    "HelpScreen": "help",
    "MessageScreen": "message",
    "PlanScreen": "plan",
    "ReviewScreen": "review",
}
__all__ = [
    "ConfirmScreen",
    "ExportScreen",
    "HelpScreen",
    "MessageScreen",
    "PlanScreen",
    "ReviewScreen",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
