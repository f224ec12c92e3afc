"""Where to write the report, and as what (the app writes it)."""

import os
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

FORMAT_EXTENSIONS = {"json": ".json", "markdown": ".md"}


class ExportScreen(ModalScreen[tuple[str, str] | None]):
    """Where to write the report, and as what."""

    HELP_TITLE = "Export"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="write nothing"),
    ]

    def __init__(self, default_path: str) -> None:
        super().__init__()
        self.default_path = default_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content.styled("Export the report", "bold"), classes="dialog-title")
            yield Input(self.default_path, id="export-path")
            with RadioSet(id="export-format"):
                yield RadioButton("JSON (the versioned report schema)", value=True, id="json")
                yield RadioButton("Markdown (for a bug report)", id="markdown")
            yield Static(
                Content("Keys: enter saves · esc cancels · tab moves to the format and buttons"),
                classes="dialog-keys",
            )
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        path = self.query_one("#export-path", Input)
        path.cursor_blink = False
        path.focus()

    def chosen_format(self) -> str:
        pressed = self.query_one("#export-format", RadioSet).pressed_button
        return pressed.id if pressed is not None and pressed.id else "json"

    @on(RadioSet.Changed)
    def _format_changed(self) -> None:
        """Keep the file name's extension in step with the format, as a person expects."""
        path = self.query_one("#export-path", Input)
        stem, dot, ext = path.value.rpartition(".")
        wanted = FORMAT_EXTENSIONS[self.chosen_format()]
        if dot and f".{ext}" in FORMAT_EXTENSIONS.values() and f".{ext}" != wanted:
            path.value = stem + wanted

    @on(Input.Changed, "#export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        """… and the format in step with an extension typed by hand."""
        ext = os.path.splitext(event.value.strip())[1].lower()
        fmt = {".md": "markdown", ".markdown": "markdown", ".json": "json"}.get(ext)
        if fmt is not None and fmt != self.chosen_format():
            self.query_one(f"#{fmt}", RadioButton).value = True

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            self.notify("Type a file name to write the report to.", severity="warning")
            return
        self.dismiss((path, self.chosen_format()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
