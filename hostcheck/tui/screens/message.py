"""A message to read and close: the outcome of an apply or undo, a refusal, an error."""

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


class MessageScreen(ModalScreen[None]):
    """The outcome of an apply or undo, or a refusal: read, then close."""

    HELP_TITLE = "Messages"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="close the message"),
        Binding("enter", "close", "Close", show=False, tooltip="close the message"),
    ]

    def __init__(self, title: str, body: str, *, error: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                Content.styled(self.title_text, "bold red" if self.error else "bold"),
                classes="dialog-title",
            )
            with VerticalScroll(classes="dialog-body"):
                yield Static(Content(printable(self.body)), id="message-body")
            yield Static(key_line(type(self), self.app), classes="dialog-keys")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    @on(Button.Pressed)
    def _pressed(self) -> None:
        self.dismiss()

    def action_close(self) -> None:
        self.dismiss()
