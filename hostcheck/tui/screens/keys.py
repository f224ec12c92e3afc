"""The keys of the TUI, read from the bindings themselves: the line inside a dialog and the
help's lists."""

from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.dom import DOMNode


def key_line(owner: type, app: "App[object]") -> Content:
    """The keys of a dialog, shown inside it (the footer below belongs to the screen under
    the dialog and shows that screen's keys)."""
    keys = " · ".join(
        f"{app.get_key_display(b)} {b.description.lower()}" for b in bindings_of(owner) if b.show
    )
    return Content(f"Keys: {keys} · tab moves between buttons")


def bindings_of(owner: type) -> list[Binding]:
    """The Binding objects a class declares (its own, not its base classes')."""
    declared: list[BindingType] = owner.__dict__.get("BINDINGS", [])
    return [b for b in declared if isinstance(b, Binding)]


def merged_bindings(owner: "type[DOMNode]") -> list[Binding]:
    """Every binding that is live on a screen (or the app) of this class: its own and those
    it inherits from Textual's App, Screen and ModalScreen (ctrl+q, tab, ctrl+c …), one per
    key, as Textual merges them."""
    merged = owner._merge_bindings()
    return [bindings[-1] for bindings in merged.key_to_bindings.values()]


# Textual's own bindings come without a tooltip; say what they do here.
INHERITED = {
    "quit": "leave hostcheck tui",
    "help_quit": "says how to quit (q or ^q); it does not quit",
    "app.focus_next": "next pane or button",
    "app.focus_previous": "previous pane or button",
    "screen.copy_text": "copy the selected text",
}


def explain(binding: Binding) -> str:
    return (
        binding.tooltip or INHERITED.get(binding.action) or binding.description or (binding.action)
    )
