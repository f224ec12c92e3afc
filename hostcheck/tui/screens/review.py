"""The findings of the last scan: summary, list, detail of the highlighted finding. The
marks are the review's own; plan, rescan, export and undo are asked of the app by message."""

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static
from textual.widgets.data_table import ColumnKey

from hostcheck.fix.plan import fixable
from hostcheck.model import Finding, Report
from hostcheck.render import printable
from hostcheck.tui import view
from hostcheck.tui.review import next_filter, opening_filter, visible
from hostcheck.tui.state import State

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

    class PlanRequested(Message):
        """`p`: the plan for the marked fixes (all, if none is marked)."""

    class RescanRequested(Message):
        """`r`: scan again."""

    class ExportRequested(Message):
        """`e`: write the report to a file."""

    class UndoRequested(Message):
        """`u`: undo the last applied transaction."""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.shared = state  # read here; the app changes it, the marks excepted
        # Chosen when the first report arrives (review.opening_filter), unless the app was
        # started with one.
        self.filter_name = ""
        self.query_text = ""
        self.rows: list[Finding] = []
        # "/" was pressed and the search box is not focused yet (focus() is deferred): keys
        # read in the same burst ("/iommu") go to the box, not to this screen's bindings.
        self.search_starting = False

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
        table.loading = self.shared.report is None  # the first scan may be done already
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
        return view.shorten_middle(printable(f"Scanning {self.shared.source.describe()}…"), width)

    def _show_summary(self) -> None:
        report = self.shared.report
        if report is not None and self.is_mounted:
            where = self.shared.source.describe()
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
        where = printable(self.shared.source.describe())
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
        report = self.shared.report
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
            self.filter_name = self.shared.start_filter or opening_filter(report)
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
        return Content("[x]" if finding.rule.id in self.shared.marked else "[ ]")

    def _show_filter(self) -> None:
        count = f"{len(self.rows)} shown" if self.shared.report else ""
        search = f" · search {printable(self.query_text)!r}" if self.query_text else ""
        marked = f" · {len(self.shared.marked)} marked" if self.shared.marked else ""
        if self.search_starting or isinstance(self.focused, Input):
            # The footer shows only the search's own keys then; say how to leave it.
            text = f"{count} · Enter: to the list · Esc: clear the search "
        else:
            shown = self.filter_name or self.shared.start_filter or "problems"
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
            widget.update("No finding matches." if self.shared.report else "")
            return
        widget.update(view.detail(finding, marked=finding.rule.id in self.shared.marked))

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
        if action in ("plan", "rescan", "undo") and self.shared.busy:
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
        self.shared.marked ^= {finding.rule.id}
        self._update_mark(finding)

    def action_mark_all(self) -> None:
        report = self.shared.report
        if report is None:
            return
        every = {f.rule.id for f in report.findings if fixable(f)}
        self.shared.marked = set() if every <= self.shared.marked else every
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
        self.post_message(self.PlanRequested())

    def action_rescan(self) -> None:
        if not self.shared.busy:
            self.post_message(self.RescanRequested())

    def action_export(self) -> None:
        self.post_message(self.ExportRequested())

    def action_undo(self) -> None:
        self.post_message(self.UndoRequested())
