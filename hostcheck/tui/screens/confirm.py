"""The confirmation asked before anything is written."""

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from hostcheck.render import printable
from hostcheck.tui.screens.keys import key_line


class ConfirmScreen(ModalScreen[bool]):
    """An explicit yes before anything is written; No has the focus."""

    HELP_TITLE = "Confirmation"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", tooltip="yes: go ahead"),
        Binding("n", "answer(False)", "No", tooltip="no: change nothing"),
        Binding("escape", "answer(False)", "Cancel", tooltip="no: change nothing"),
    ]

    def __init__(self, title: str, body: str, yes: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.styled(self.title_text, "bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(Content(printable(self.body)), id="confirm-body")
            yield Static(key_line(type(self), self.app), classes="dialog-keys")
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("No", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
