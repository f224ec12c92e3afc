"""The screens: the findings review, the plan, confirmations, export, results and help.

Screens show state and ask the app for work; the app runs the core in worker threads.
"""

import os
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, RadioButton, RadioSet, Static
from textual.widgets.data_table import ColumnKey

from hostcheck.fix.plan import Plan, diff
from hostcheck.model import Finding, Report
from hostcheck.render import printable
from hostcheck.tui import view
from hostcheck.tui.review import FILTERS, fixable, next_filter, opening_filter, visible

if TYPE_CHECKING:
    from hostcheck.tui.app import HostcheckApp


WIDE = 120  # from this many columns on, the list and the detail sit side by side


class ReviewScreen(Screen[None]):
    """The findings of the last scan: summary, list, detail of the highlighted finding."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark", tooltip="mark or unmark the finding's fix"),
        Binding("p", "plan", "Plan", tooltip="the plan for the marked fixes (all, if none)"),
        Binding("f", "cycle_filter", "Filter", tooltip="show all / problems / failing"),
        Binding("slash", "search", "Search", tooltip="search rule, message, evidence, fix"),
        Binding("r", "rescan", "Rescan", tooltip="scan again"),
        Binding("e", "export", "Export", tooltip="write the report as JSON or Markdown"),
        Binding("u", "undo", "Undo", tooltip="undo the last applied transaction"),
        # m, not a: a applies on the plan screen, and one key must not mean both.
        Binding("m", "mark_all", "Mark all", show=False, tooltip="mark (or unmark) every fix"),
        Binding("escape", "clear_search", "Clear", show=False, tooltip="clear the search"),
        Binding("tab", "app.focus_next", "Next", show=False, tooltip="next pane"),
    ]

    AUTO_FOCUS = "#findings"
    HELP_TITLE = "Findings"

    def __init__(self) -> None:
        super().__init__()
        # Chosen when the first report arrives (review.opening_filter), unless the app was
        # started with one.
        self.filter_name = ""
        self.query_text = ""
        self.rows: list[Finding] = []
        # "/" was pressed and the search box is not focused yet (focus() is deferred): keys
        # read in the same burst ("/iommu") go to the box, not to this screen's bindings.
        self.search_starting = False

    @property
    def hc(self) -> "HostcheckApp":
        from hostcheck.tui.app import HostcheckApp

        assert isinstance(self.app, HostcheckApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(Content(self._scanning_text()), id="summary")
        with Horizontal(id="filterbar"):
            yield Label("", id="filter-label")
            # No select-all on focus: keys typed before the focus arrived must stay.
            yield Input(placeholder="/ to search", id="search", select_on_focus=False)
        with Horizontal(id="body"):
            yield DataTable(id="findings", cursor_type="row", zebra_stripes=False)
            with VerticalScroll(id="detail-box"):
                yield Static("", id="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#findings", DataTable)
        table.loading = self.hc.report is None  # the first scan may be done already
        # A blinking cursor is noise in a review tool, and makes screenshots nondeterministic.
        self.query_one("#search", Input).cursor_blink = False
        self._show_filter()
        self._fit_columns()

    def on_resize(self) -> None:
        self.query_one("#body").set_class(self.size.width >= WIDE, "wide")
        self._fit_columns()
        self._show_summary()

    def _fit_columns(self) -> None:
        """Give the message column what the others leave of the table's width, so nothing
        scrolls sideways (80 columns included)."""
        table = self.query_one("#findings", DataTable)
        width = self.size.width * 3 // 5 if self.size.width >= WIDE else self.size.width
        fixed = {"mark": 3, "status": 9, "area": 8, "rule": 18}
        message = max(width - sum(fixed.values()) - 2 * (len(fixed) + 1) - 2, 16)
        column = table.columns.get(ColumnKey("message"))
        if column is not None and column.width == message:
            return
        table.clear(columns=True)
        for key, size in fixed.items():
            table.add_column("fix" if key == "mark" else key, key=key, width=size)
        table.add_column("finding", key="message", width=message)
        self.refresh_rows()

    # --- state from the app --------------------------------------------------------------

    def _scanning_text(self) -> str:
        width = max(self.size.width or 80, 24) - 2
        return view.shorten_middle(printable(f"Scanning {self.hc.source.describe()}…"), width)

    def _show_summary(self) -> None:
        report = self.hc.report
        if report is not None and self.is_mounted:
            where = self.hc.source.describe()
            width = self.size.width or 80
            self.query_one("#summary", Static).update(view.summary(report, where, width))

    def show_report(self, report: Report) -> None:
        self._show_summary()
        table = self.query_one("#findings", DataTable)
        table.loading = False
        if not isinstance(self.focused, Input):
            table.focus()
        self.refresh_rows()

    def show_scanning(self) -> None:
        if self.is_mounted:
            self.query_one("#summary", Static).update(Content(self._scanning_text()))

    def show_error(self, message: str) -> None:
        """The scan failed: no findings are listed (they were of a host as it no longer is)."""
        self.query_one("#findings", DataTable).loading = False
        where = printable(self.hc.source.describe())
        self.query_one("#summary", Static).update(
            Content.assemble(
                Content.styled("Scan failed", "bold red"),
                f" ({view.shorten_middle(where, max(self.size.width - 40, 20))}); r scans again."
                f"\n{printable(message)}",
            )
        )
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Rebuild the list from the report, the filter and the search; keep the cursor on
        the same rule where it is still listed."""
        report = self.hc.report
        table = self.query_one("#findings", DataTable)
        if report is None:
            table.clear()
            self.rows = []
            self._show_filter()
            self.show_detail()
            return
        if not table.columns:
            return
        if not self.filter_name:
            self.filter_name = self.hc.start_filter or opening_filter(report)
        current = self.current()
        self.rows = visible(report, self.filter_name, self.query_text)
        table.clear()
        area = None
        for finding in self.rows:
            rule_area, _, name = finding.rule.id.partition(".")
            table.add_row(
                self._mark(finding),
                view.status_label(finding.status),
                rule_area if rule_area != area else "",
                name,
                Content(printable(finding.message.replace("\n", " "))),
                key=finding.rule.id,
            )
            area = rule_area
        if current is not None and current in self.rows:
            table.move_cursor(row=self.rows.index(current))
        elif current is not None and any(f.rule.id == current.rule.id for f in self.rows):
            index = next(i for i, f in enumerate(self.rows) if f.rule.id == current.rule.id)
            table.move_cursor(row=index)
        self._show_filter()
        self.show_detail()

    def _mark(self, finding: Finding) -> Content:
        if not fixable(finding):
            return Content("")
        # Content, not a str: a str cell is read as markup, and "[x]" would vanish as a tag.
        return Content("[x]" if finding.rule.id in self.hc.marked else "[ ]")

    def _show_filter(self) -> None:
        count = f"{len(self.rows)} shown" if self.hc.report else ""
        search = f" · search {printable(self.query_text)!r}" if self.query_text else ""
        marked = f" · {len(self.hc.marked)} marked" if self.hc.marked else ""
        if self.search_starting or isinstance(self.focused, Input):
            # The footer shows only the search's own keys then; say how to leave it.
            text = f"{count} · Enter: to the list · Esc: clear the search "
        else:
            shown = self.filter_name or self.hc.start_filter or "problems"
            text = f"filter: {shown} (f) · {count}{search}{marked} "
        self.query_one("#filter-label", Label).update(Content(text))

    def current(self) -> Finding | None:
        table = self.query_one("#findings", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def show_detail(self) -> None:
        finding = self.current()
        widget = self.query_one("#detail", Static)
        if finding is None:
            widget.update("No finding matches." if self.hc.report else "")
            return
        widget.update(view.detail(finding, marked=finding.rule.id in self.hc.marked))

    @on(DataTable.RowHighlighted, "#findings")
    def _highlighted(self) -> None:
        self.show_detail()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        self.refresh_rows()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.search_starting = False
        self.query_one("#findings", DataTable).focus()

    def take_search_key(self, event: events.Key) -> None:
        """A printable key that reached the app while the search box is starting or has the
        focus was read before the focus moved (the box consumes its own keys): type it there
        instead of running a binding (`u` would open undo, `q` quit). Keys read in one burst
        ("/iommu") are all in the queues before the deferred focus() happens."""
        search = self.query_one("#search", Input)
        if (self.search_starting or self.focused is search) and event.is_printable:
            assert event.character is not None
            search.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    @on(Input.Blurred, "#search")
    def _search_left(self) -> None:
        self.search_starting = False
        self._show_filter()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, Input):
            self._show_filter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("plan", "rescan", "undo") and self.hc.busy:
            return None  # shown dimmed: an apply or undo is running
        return True

    # --- actions --------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        finding = self.current()
        if finding is None:
            return
        if not fixable(finding):
            self.notify(
                f"{finding.rule.id}: nothing hostcheck can change "
                + ("(a manual step)" if finding.remediation else "(no fix proposed)"),
                severity="warning",
                markup=False,
            )
            return
        self.hc.marked ^= {finding.rule.id}
        self._update_mark(finding)

    def action_mark_all(self) -> None:
        report = self.hc.report
        if report is None:
            return
        every = {f.rule.id for f in report.findings if fixable(f)}
        self.hc.marked = set() if every <= self.hc.marked else every
        for finding in self.rows:
            self._update_mark(finding)

    def _update_mark(self, finding: Finding) -> None:
        table = self.query_one("#findings", DataTable)
        table.update_cell(finding.rule.id, "mark", self._mark(finding))
        self._show_filter()
        self.show_detail()

    def action_cycle_filter(self) -> None:
        self.filter_name = next_filter(self.filter_name or "problems")
        self.refresh_rows()

    def action_search(self) -> None:
        self.search_starting = True
        self.query_one("#search", Input).focus()
        self._show_filter()

    def action_clear_search(self) -> None:
        self.search_starting = False
        search = self.query_one("#search", Input)
        search.value = ""
        self.query_one("#findings", DataTable).focus()

    def action_plan(self) -> None:
        self.hc.request_plan()

    def action_rescan(self) -> None:
        if not self.hc.busy:
            self.hc.rescan()

    def action_export(self) -> None:
        self.hc.request_export()

    def action_undo(self) -> None:
        self.hc.request_undo()


class PlanScreen(Screen[None]):
    """The plan `hostcheck fix` would carry out for the marked findings."""

    HELP_TITLE = "Plan"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply…", tooltip="apply the plan (asks first)"),
        Binding("escape", "back", "Back", tooltip="back to the findings"),
    ]

    def __init__(
        self,
        plan: Plan,
        *,
        where: str,
        live: bool,
        refusal: str | None,
        warning: str | None = None,
    ) -> None:
        super().__init__()
        self.plan = plan
        self.where = printable(where)
        self.live = live
        self.refusal = refusal
        self.warning = warning  # an interrupted transaction, as `hostcheck fix` warns

    def compose(self) -> ComposeResult:
        plan = self.plan
        with VerticalScroll(id="plan"):
            if self.warning:
                yield Static(
                    Content.styled(f"warning: {printable(self.warning)}", "bold yellow"),
                    id="plan-warning",
                )
            if plan.empty:
                yield Static(
                    Content(
                        "Nothing to do: every fix hostcheck can make for "
                        + (printable(", ".join(plan.rules)) or "the marked findings")
                        + " is already in place"
                        + (" (reboot to bring them into effect)." if plan.rules else ".")
                    ),
                    id="plan-title",
                )
            else:
                yield Static(
                    Content.assemble(
                        Content.styled(f"Plan for {self.where}", "bold"),
                        printable(f": fixes {', '.join(plan.rules)} (boot loader: {plan.loader})"),
                    ),
                    id="plan-title",
                )
                yield Static(Content(self.overview()), id="plan-overview")
            for change in plan.files:
                yield Static(
                    Content.assemble(
                        Content.styled(printable(change.path), "bold"),
                        printable(f": {change.why}")
                        + (" (new file)" if change.before is None else ""),
                    ),
                    classes="file-title",
                )
                yield Static(view.diff_lines(diff(change)), classes="diff")
            if plan.commands:
                heading = (
                    "Commands, run in order after the files:"
                    if self.live
                    else "Pending steps: run these on the host itself (not run under --root):"
                )
                lines = [f"  {c.text}\n      {c.why}" for c in plan.commands]
                yield Static(Content.styled(heading, "bold"), classes="section")
                yield Static(Content(printable("\n".join(lines))), id="plan-commands")
            if not plan.empty:
                yield Static(
                    Content.styled(
                        "A reboot is needed for the kernel arguments and module options to "
                        "take effect."
                        if plan.reboot_required
                        else "No reboot needed.",
                        "bold yellow" if plan.reboot_required else "bold",
                    ),
                    id="plan-reboot",
                    classes="section",
                )
            if plan.manual:
                yield Static(
                    Content(
                        printable(
                            "By hand (hostcheck cannot change these; `hostcheck explain RULE` "
                            f"says how): {', '.join(plan.manual)}."
                        )
                    ),
                    classes="note",
                )
            for note in plan.notes:
                yield Static(Content(printable(f"note: {note}")), classes="note")
            if self.refusal and not plan.empty:
                yield Static(
                    Content.styled(f"Cannot apply here: {printable(self.refusal)}", "bold red"),
                    id="plan-refusal",
                    classes="section",
                )
        yield Static("", id="plan-status")
        yield Footer(compact=True)

    def show_busy(self, text: str) -> None:
        """An apply runs: say so, and take `a` away until it is done (check_action)."""
        status = self.query_one("#plan-status", Static)
        status.update(Content.styled(text, "bold reverse"))
        status.display = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        from hostcheck.tui.app import HostcheckApp

        if action == "apply" and isinstance(self.app, HostcheckApp) and self.app.busy:
            return None  # shown dimmed while the apply runs
        return True

    def overview(self) -> str:
        """What the plan amounts to, before the diffs (an 80×24 screen shows this first)."""
        plan = self.plan
        steps = f"{len(plan.commands)} command(s)" + ("" if self.live else ", pending")
        reboot = "reboot needed" if plan.reboot_required else "no reboot needed"
        where = "a applies (asks first)" if not self.refusal else "cannot apply here (see below)"
        return f"{len(plan.files)} file(s) · {steps} · {reboot} · {where}; Esc goes back."

    def action_back(self) -> None:
        self.dismiss()

    def action_apply(self) -> None:
        from hostcheck.tui.app import HostcheckApp

        assert isinstance(self.app, HostcheckApp)
        self.app.request_apply(self.plan)


def key_line(owner: type, app: "App[object]") -> Content:
    """The keys of a dialog, shown inside it (the footer below belongs to the screen under
    the dialog and shows that screen's keys)."""
    keys = " · ".join(
        f"{app.get_key_display(b)} {b.description.lower()}" for b in bindings_of(owner) if b.show
    )
    return Content(f"Keys: {keys} · tab moves between buttons")


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
        from hostcheck.tui.app import HostcheckApp

        owners: list[type[DOMNode]] = [
            HostcheckApp,
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
