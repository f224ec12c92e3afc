"""The Textual application: state (the last scan, the marked fixes) and the workers that call
the core. Screens ask for work through the request_* methods; results come back on the UI
thread through call_from_thread."""

import os
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from hostcheck.fix.plan import Plan
from hostcheck.model import Report
from hostcheck.session import Scan, Source, change_refusal, scan
from hostcheck.tui.screens import (
    ConfirmScreen,
    ExportScreen,
    HelpScreen,
    MessageScreen,
    PlanScreen,
    ReviewScreen,
)

CSS = """
#summary { height: auto; max-height: 4; padding: 0 1; background: $boost; }
#filterbar { height: 1; }
#filter-label { width: auto; padding: 0 1; color: $text-muted; }
#search { border: none; height: 1; padding: 0 1; width: 1fr; background: $surface; }
#search:focus { background: $boost; }
#body { layout: vertical; height: 1fr; }
#findings { height: 1fr; min-height: 5; }
#detail-box { height: 1fr; border-top: solid $primary; padding: 0 1; }
#body.wide { layout: horizontal; }
#body.wide #findings { width: 3fr; height: 1fr; }
#body.wide #detail-box { width: 2fr; border-top: none; border-left: solid $primary; }
#plan { padding: 0 1; }
#plan .file-title, #plan .section { margin-top: 1; }
#plan .note { color: $text-muted; }
.dialog {
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    background: $panel; border: thick $primary; padding: 0 1;
}
.dialog-body { height: auto; max-height: 16; }
.help .dialog-body { max-height: 18; }
.buttons { height: auto; align-horizontal: right; }
.buttons Button { margin-left: 1; }
ModalScreen { align: center middle; }
#export-path { margin: 1 0 0 0; }
"""


class HostcheckApp(App[None]):
    """hostcheck tui: review a scan, plan the marked fixes, apply, undo."""

    TITLE = "hostcheck"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = False  # every action has a key of its own (see the help)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", tooltip="this list of keys"),
        Binding("q", "quit", "Quit", tooltip="leave hostcheck tui"),
    ]

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.current: Scan | None = None
        self.marked: set[str] = set()
        self.last_export = ""

    @property
    def report(self) -> Report | None:
        return self.current.report if self.current else None

    @property
    def review(self) -> ReviewScreen:
        return self.get_screen("review", ReviewScreen)

    def on_mount(self) -> None:
        self.install_screen(ReviewScreen(), "review")
        self.push_screen("review")
        self.rescan()

    # --- scan -----------------------------------------------------------------------------

    def rescan(self, *, then: str | None = None, title: str = "") -> None:
        """Scan again in a worker; the review shows the new statuses when it is done."""
        self.review.show_scanning()
        self._scan_worker(then, title)

    @work(thread=True, exclusive=True, group="scan")
    def _scan_worker(self, then: str | None, title: str) -> None:
        try:
            result = scan(self.source)
        except Exception as exc:  # SourceError after the start (root removed), or a bug
            self.call_from_thread(self.review.show_error, str(exc))
            return
        self.call_from_thread(self._scanned, result, then, title)

    def _scanned(self, result: Scan, then: str | None, title: str) -> None:
        self.current = result
        from hostcheck.review import fixable

        still = {f.rule.id for f in result.report.findings if fixable(f)}
        self.marked &= still
        self.review.show_report(result.report)
        if then is not None:
            self.push_screen(MessageScreen(title, then))

    # --- plan and apply ---------------------------------------------------------------------

    def request_plan(self) -> None:
        if self.current is None:
            self.notify("The scan is still running.", severity="warning")
            return
        self._plan_worker(self.current, tuple(sorted(self.marked)))

    @work(thread=True, exclusive=True, group="plan")
    def _plan_worker(self, current: Scan, only: tuple[str, ...]) -> None:
        from hostcheck.fix.plan import PlanError, PlanOptions, build

        try:
            plan = build(current.report, current.facts, current.host, PlanOptions(only=only))
        except PlanError as exc:
            self.call_from_thread(self.push_screen, MessageScreen("No plan", str(exc), error=True))
            return
        self.call_from_thread(self._show_plan, plan)

    def _show_plan(self, plan: Plan) -> None:
        self.push_screen(
            PlanScreen(
                plan,
                where=self.source.describe(),
                live=self.current is not None and self.current.host.live,
                refusal=change_refusal(self.source),
            )
        )

    def request_apply(self, plan: Plan) -> None:
        if plan.empty:
            self.notify("Nothing to apply.", severity="warning")
            return
        refusal = change_refusal(self.source)
        if refusal:
            self.push_screen(MessageScreen("Cannot apply", refusal, error=True))
            return
        live = self.current is not None and self.current.host.live
        lines = [f"Fix {', '.join(plan.rules)} on {self.source.describe()}:", ""]
        lines += [f"  write {change.path}" for change in plan.files]
        verb = "run" if live else "list as pending (not run)"
        lines += [f"  {verb}: {command.text}" for command in plan.commands]
        lines += [
            "",
            "The originals are journaled first; undo (u) restores them byte for byte.",
        ]
        if plan.reboot_required:
            lines.append("A reboot is needed for the changes to take effect.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._apply_worker(plan)

        self.push_screen(ConfirmScreen("Apply these changes?", "\n".join(lines), "Apply"), answered)

    @work(thread=True, exclusive=True, group="change")
    def _apply_worker(self, plan: Plan) -> None:
        from hostcheck.fix.apply import FixError, apply

        assert self.current is not None
        log: list[str] = []
        try:
            record = apply(self.current.host, plan, log=log.append)
        except (FixError, OSError) as exc:
            self.call_from_thread(self._failed, "Apply failed", log, exc)
            return
        lines = [f"Applied as transaction {record['id']}.", *log]
        pending = [s for s in record["steps"] if s.get("pending")]
        if pending:
            lines.append("Pending steps (run on the host itself):")
            lines += [f"  {' '.join(s['argv'])}" for s in pending]
        if record["reboot_required"]:
            lines.append(
                "Reboot to bring the kernel arguments and module options into effect; "
                "until then these rules show as fixed-pending-reboot."
            )
        lines.append("Undo with u.")
        self.call_from_thread(self._changed, "Applied", "\n".join(lines))

    def _changed(self, title: str, body: str) -> None:
        while isinstance(self.screen, PlanScreen | ConfirmScreen):
            self.pop_screen()
        self.marked.clear()
        self.rescan(then=body, title=title)

    def _failed(self, title: str, log: list[str], exc: Exception) -> None:
        body = "\n".join([*log, str(exc)])
        self.push_screen(MessageScreen(title, body, error=True))

    # --- undo -----------------------------------------------------------------------------

    def request_undo(self) -> None:
        refusal = change_refusal(self.source)
        if refusal:
            self.push_screen(MessageScreen("Cannot undo", refusal, error=True))
            return
        if self.current is None:
            self.notify("The scan is still running.", severity="warning")
            return
        self._undo_lookup_worker(self.current)

    @work(thread=True, exclusive=True, group="change")
    def _undo_lookup_worker(self, current: Scan) -> None:
        from hostcheck.fix.apply import FixError, history

        try:
            records = [
                r for r in history(current.host) if r["state"] in ("complete", "started", "undoing")
            ]
        except FixError as exc:
            self.call_from_thread(self._failed, "Cannot undo", [], exc)
            return
        if not records:
            self.call_from_thread(
                self.push_screen,
                MessageScreen("Nothing to undo", "No transaction to undo on this host."),
            )
            return
        record = records[-1]
        files = record["files"]
        body = "\n".join(
            [
                f"Transaction {record['id']} ({record['created']}) fixed "
                f"{', '.join(record['rules'])}.",
                "",
                *(f"  {'restore' if f['existed'] else 'remove'} {f['path']}" for f in files),
            ]
        )
        self.call_from_thread(self._confirm_undo, record["id"], body)

    def _confirm_undo(self, tx_id: str, body: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._undo_worker(tx_id)

        self.push_screen(ConfirmScreen("Undo the last transaction?", body, "Undo"), answered)

    @work(thread=True, exclusive=True, group="change")
    def _undo_worker(self, tx_id: str) -> None:
        from hostcheck.fix.apply import FixError, undo

        assert self.current is not None
        log: list[str] = []
        try:
            record = undo(self.current.host, tx_id, log=log.append)
        except (FixError, OSError) as exc:
            self.call_from_thread(self._failed, "Undo failed", log, exc)
            return
        lines = [f"Undid transaction {record['id']}: the files are as they were before it.", *log]
        lines += [f"  pending (run on the host itself): {c}" for c in record["undo_pending"]]
        if record["reboot_required"]:
            lines.append("Reboot to bring the previous kernel arguments and module options back.")
        self.call_from_thread(self._changed, "Undone", "\n".join(lines))

    # --- export and help --------------------------------------------------------------------

    def request_export(self) -> None:
        if self.report is None:
            self.notify("The scan is still running.", severity="warning")
            return
        report = self.report

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self.export(report, *answer)

        self.push_screen(ExportScreen(self.last_export or "hostcheck-report.json"), chosen)

    def export(self, report: Report, path: str, fmt: str) -> None:
        """Render with the report renderers and write atomically (hostcheck.output)."""
        from hostcheck.output import write_atomic
        from hostcheck.render import Format, renderer

        target = os.path.abspath(os.path.expanduser(path))
        try:
            write_atomic(target, renderer(Format(fmt))(report))
        except OSError as exc:
            self.push_screen(
                MessageScreen("Export failed", f"{target}: {exc.strerror or exc}", error=True)
            )
            return
        self.last_export = path
        self.notify(f"Wrote the report ({fmt}) to {target}", markup=False)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_open_reference(self, url: str) -> None:
        """A click on a reference: copy the URL (OSC 52) and show it. Not webbrowser.open():
        on a server reached over SSH that starts nothing useful, or a text browser inside
        this very terminal. Terminals that support hyperlinks open it on Ctrl/Cmd-click."""
        self.copy_to_clipboard(url)
        self.notify(f"{url} (copied to the clipboard)", markup=False)
