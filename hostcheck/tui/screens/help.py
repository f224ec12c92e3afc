"""Every key binding, generated from the bindings of the app and its screens."""

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from hostcheck.tui.review import FILTERS
from hostcheck.tui.screens.confirm import ConfirmScreen
from hostcheck.tui.screens.export import ExportScreen
from hostcheck.tui.screens.keys import explain, key_line, merged_bindings
from hostcheck.tui.screens.message import MessageScreen
from hostcheck.tui.screens.plan import PlanScreen
from hostcheck.tui.screens.review import ReviewScreen


class HelpScreen(ModalScreen[None]):
    """Every key binding, generated from the bindings of the app and its screens (their
    own and those they inherit from Textual) so the two cannot drift apart."""

    HELP_TITLE = "This help"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="close the help"),
        Binding("q", "close", "Close", show=False, tooltip="close the help"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(Content.styled("Keys", "bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(Content(self.help_text()), id="help-body")
            yield Static(key_line(type(self), self.app), classes="dialog-keys")
            with Horizontal(classes="buttons"):
                yield Button("Close", variant="primary", id="close")

    def help_text(self) -> str:
        owners: list[type[DOMNode]] = [
            type(self.app),
            ReviewScreen,
            PlanScreen,
            ConfirmScreen,
            MessageScreen,
            ExportScreen,
            HelpScreen,
        ]
        lines: list[str] = []
        for owner in owners:
            lines.append(str(getattr(owner, "HELP_TITLE", owner.__name__)))
            for binding in merged_bindings(owner):
                key = self.app.get_key_display(binding)
                lines.append(f"  {key:<9} {explain(binding)}")
            lines.append("")
        lines += [
            "Moving",
            "  ↑ ↓ PgUp PgDn Home End   move in the list; the detail follows",
            "  mouse   click a row to select it, a footer key to run it, a link to open it;",
            "          the wheel scrolls the list, the detail and the plan",
            "",
            "Filter: " + " → ".join(FILTERS) + " (problems: fail, error, pending, warn); the "
            "review opens on problems, or on all where there are none.",
        ]
        return "\n".join(lines)

    @on(Button.Pressed)
    def _pressed(self) -> None:
        self.dismiss()

    def action_close(self) -> None:
        self.dismiss()
