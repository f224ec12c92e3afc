"""The Textual application: the state (hostcheck.tui.state) and the workers that call the
core. Screens ask for work by posting messages (ReviewScreen.PlanRequested …), handled here in
on_* methods; results come back on the UI thread through call_from_thread."""

import os
from typing import ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType

from hostcheck.checks.session import Scan, Source, change_refusal, scan
from hostcheck.fix.plan import Plan
from hostcheck.model import Report
from hostcheck.render import printable
from hostcheck.tui.screens.confirm import ConfirmScreen
from hostcheck.tui.screens.export import ExportScreen
from hostcheck.tui.screens.help import HelpScreen
from hostcheck.tui.screens.message import MessageScreen
from hostcheck.tui.screens.plan import PlanScreen
from hostcheck.tui.screens.review import ReviewScreen
from hostcheck.tui.state import State

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
#plan { padding: 0 1; overflow-x: auto; }
#plan .diff { width: auto; min-width: 100%; text-wrap: nowrap; }
#plan-status { display: none; padding: 0 1; }
#plan .file-title, #plan .section { margin-top: 1; }
#plan .note { color: $text-muted; }
.dialog {
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    background: $panel; border: thick $primary; padding: 0 1;
}
/* The body shrinks so the title, the key line and the buttons fit: at 24 rows the dialog
   gets 21 (90%), of which border 2, title 1, key line 1 and buttons 3 leave 14. */
.dialog-body { height: auto; max-height: 55vh; }
.dialog-keys { color: $text-muted; }
.buttons { height: auto; align-horizontal: right; }
.buttons Button { margin-left: 1; }
ModalScreen { align: center middle; }
#export-path { margin: 1 0 0 0; }
"""


class HostcheckApp(App[None]):
    """hostcheck tui: review a scan, plan the marked fixes, apply, undo."""

    TITLE = "hostcheck"
    HELP_TITLE = "Everywhere"
    CSS = CSS
    ENABLE_COMMAND_PALETTE = False  # every action has a key of its own (see the help)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", tooltip="this list of keys"),
        Binding("q", "quit", "Quit", tooltip="leave hostcheck tui"),
        # Textual's own ctrl+c only says "press ctrl+q to quit"; a terminal user expects it to
        # quit. priority: also while the search box has the focus.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="leave hostcheck tui"),
    ]

    def __init__(self, source: Source, start_filter: str | None = None) -> None:
        """``start_filter``: the review's first filter (default: what needs attention, or all
        on a host where nothing does)."""
        super().__init__()
        self.source = source
        self.state = State(source, start_filter)
        self.last_export = ""
        # Only the newest scan's result is shown: a scan started earlier that finishes later
        # (a rescan overtook it) is dropped by its generation.
        self.scan_generation = 0
        self.scanning = False
        self.scan_error: str | None = None

    @property
    def current(self) -> Scan | None:
        return self.state.current

    @property
    def report(self) -> Report | None:
        return self.state.report

    @property
    def marked(self) -> set[str]:
        return self.state.marked

    @property
    def busy(self) -> str | None:
        return self.state.busy

    @property
    def review(self) -> ReviewScreen:
        return self.get_screen("review", ReviewScreen)

    def on_mount(self) -> None:
        self.install_screen(ReviewScreen(self.state), "review")
        self.push_screen("review")
        self.rescan()

    def on_key(self, event: events.Key) -> None:
        """Runs before the app's bindings for a key no widget took (see take_search_key)."""
        if self.screen is self.review:
            self.review.take_search_key(event)

    def unavailable(self) -> str | None:
        """Why there is no scan to plan, export or undo from, or None when there is one."""
        if self.busy:
            return f"{self.busy} the changes: wait until it is done."
        if self.current is not None:
            return None
        if self.scanning:
            return "The scan is still running."
        return f"The last scan failed ({self.scan_error}); r scans again."

    def refuse_if_unavailable(self) -> bool:
        reason = self.unavailable()
        if reason:
            self.notify(printable(reason), severity="warning", markup=False)
        return reason is not None

    # --- scan -----------------------------------------------------------------------------

    def rescan(self, *, then: str | None = None, title: str = "", error: bool = False) -> None:
        """Scan again in a worker; the review shows the new statuses when it is done."""
        self.scan_generation += 1
        self.scanning = True
        self.review.show_scanning()
        self._scan_worker(self.scan_generation, then, title, error)

    @work(thread=True, exclusive=True, group="scan")
    def _scan_worker(self, generation: int, then: str | None, title: str, error: bool) -> None:
        try:
            result = scan(self.source)
        except Exception as exc:  # SourceError after the start (root removed), or a bug
            self.call_from_thread(self._scan_failed, generation, describe(exc), then, title)
            return
        self.call_from_thread(self._scanned, generation, result, then, title, error)

    def _scanned(
        self, generation: int, result: Scan, then: str | None, title: str, error: bool
    ) -> None:
        if generation != self.scan_generation:
            return  # overtaken by a newer scan
        from hostcheck.fix.plan import fixable

        self.scanning = False
        self.scan_error = None
        self.state.current = result
        still = {f.rule.id for f in result.report.findings if fixable(f)}
        self.state.marked &= still
        self.review.show_report(result.report)
        if then is not None:
            self.push_screen(MessageScreen(title, then, error=error))

    def _scan_failed(self, generation: int, message: str, then: str | None, title: str) -> None:
        if generation != self.scan_generation:
            return
        # No scan to act on: plan, apply and undo are refused until a scan succeeds, so
        # nothing is planned from (or written to) what the failed scan could not read.
        self.scanning = False
        self.scan_error = message
        self.state.current = None
        self.review.show_error(message)
        failed = f"The scan failed: {message}\nPress r to scan again."
        if then is not None:
            self.push_screen(MessageScreen(title, f"{then}\n\n{failed}", error=True))
        else:
            self.push_screen(MessageScreen("Scan failed", failed, error=True))

    # --- what the screens ask for ---------------------------------------------------------

    def on_review_screen_plan_requested(self) -> None:
        self.request_plan()

    def on_review_screen_rescan_requested(self) -> None:
        if not self.busy:
            self.rescan()

    def on_review_screen_export_requested(self) -> None:
        self.request_export()

    def on_review_screen_undo_requested(self) -> None:
        self.request_undo()

    def on_plan_screen_apply_requested(self, message: PlanScreen.ApplyRequested) -> None:
        self.request_apply(message.plan)

    # --- plan and apply ---------------------------------------------------------------------

    def request_plan(self) -> None:
        if self.refuse_if_unavailable():
            return
        assert self.current is not None
        self._plan_worker(self.current, tuple(sorted(self.marked)))

    @work(thread=True, exclusive=True, group="plan")
    def _plan_worker(self, current: Scan, only: tuple[str, ...]) -> None:
        from hostcheck.fix.plan import PlanOptions, build
        from hostcheck.fix.store import Journal, interrupted_message

        try:
            plan = build(current.report, current.facts, current.host, PlanOptions(only=only))
        except Exception as exc:
            self.call_from_thread(self._message, "No plan", describe(exc), True)
            return
        # As `hostcheck fix` does: an interrupted transaction is said before the plan.
        try:
            warning = interrupted_message(Journal(current.host))
        except Exception as exc:
            warning = f"cannot read the fix journal: {describe(exc)}"
        self.call_from_thread(self._show_plan, plan, warning)

    def _message(self, title: str, body: str, error: bool = False) -> None:
        self.push_screen(MessageScreen(title, body, error=error))

    def _show_plan(self, plan: Plan, warning: str | None) -> None:
        self.push_screen(
            PlanScreen(
                plan,
                where=self.source.describe(),
                live=self.current is not None and self.current.host.live,
                refusal=change_refusal(self.source),
                warning=warning,
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
        if self.refuse_if_unavailable():
            return
        assert self.current is not None
        current = self.current
        lines = [f"Fix {', '.join(plan.rules)} on {self.source.describe()}:", ""]
        lines += [f"  write {change.path}" for change in plan.files]
        verb = "run" if current.host.live else "list as pending (not run)"
        lines += [f"  {verb}: {command.text}" for command in plan.commands]
        lines += [
            "",
            "The originals are journaled first; undo (u) restores them byte for byte.",
        ]
        if plan.reboot_required:
            lines.append("A reboot is needed for the changes to take effect.")

        def answered(yes: bool | None) -> None:
            if yes and not self.refuse_if_unavailable():
                self._start_change("Applying")
                self._apply_worker(current, plan)

        self.push_screen(ConfirmScreen("Apply these changes?", "\n".join(lines), "Apply"), answered)

    def _start_change(self, verb: str) -> None:
        self.state.busy = verb
        for screen in self.screen_stack:
            if isinstance(screen, PlanScreen):
                screen.show_busy(f"{verb} the changes…")
        self.notify(f"{verb} the changes…", markup=False)
        self.screen.refresh_bindings()

    @work(thread=True, exclusive=True, group="change")
    def _apply_worker(self, current: Scan, plan: Plan) -> None:
        from hostcheck.fix import outcome, transaction

        log: list[str] = []
        try:
            tx = transaction.apply(current.host, plan, log=log.append)
        except Exception as exc:
            self.call_from_thread(self._failed, "Apply failed", log, describe(exc))
            return
        said = outcome.render("apply", [tx], root_option=self.root_option())
        self.call_from_thread(self._changed, "Applied", _with_log(said, log) + "\nUndo with u.")

    def _changed(self, title: str, body: str, error: bool = False) -> None:
        """After an apply or undo (done or failed): back to the findings, rescanned, with the
        outcome on top. Every screen above the review goes: a plan, a confirmation, the help
        opened meanwhile; the plan was made for the files as they were."""
        self.state.busy = None
        while self.screen is not self.review:
            self.pop_screen()
        self.state.marked.clear()
        self.rescan(then=body, title=title, error=error)

    def _failed(self, title: str, log: list[str], message: str) -> None:
        # Part of the change may have happened: show the files as they are now.
        self._changed(title, "\n".join([*log, message]), error=True)

    # --- undo -----------------------------------------------------------------------------

    def request_undo(self) -> None:
        refusal = change_refusal(self.source)
        if refusal:
            self.push_screen(MessageScreen("Cannot undo", refusal, error=True))
            return
        if self.refuse_if_unavailable():
            return
        assert self.current is not None
        self._undo_lookup_worker(self.current)

    @work(thread=True, exclusive=True, group="change")
    def _undo_lookup_worker(self, current: Scan) -> None:
        from hostcheck.fix.store import undoable
        from hostcheck.fix.transaction import history

        try:
            transactions = [tx for tx in history(current.host) if undoable(tx)]
            if not transactions:
                self.call_from_thread(
                    self._message, "Nothing to undo", "No transaction to undo on this host."
                )
                return
            tx = transactions[-1]
            body = "\n".join(
                [
                    f"Transaction {tx.id} ({tx.created}) fixed {', '.join(tx.rules)}.",
                    "",
                    *(f"  {'restore' if f.existed else 'remove'} {f.path}" for f in tx.files),
                ]
            )
            tx_id = tx.id
        except Exception as exc:  # an unreadable journal, a record of another shape
            self.call_from_thread(self._message, "Cannot undo", describe(exc), True)
            return
        self.call_from_thread(self._confirm_undo, current, tx_id, body)

    def _confirm_undo(self, current: Scan, tx_id: str, body: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes and not self.refuse_if_unavailable():
                self._start_change("Undoing")
                self._undo_worker(current, tx_id)

        self.push_screen(ConfirmScreen("Undo the last transaction?", body, "Undo"), answered)

    @work(thread=True, exclusive=True, group="change")
    def _undo_worker(self, current: Scan, tx_id: str) -> None:
        from hostcheck.fix import outcome
        from hostcheck.fix.changes import FixError
        from hostcheck.fix.transaction import undo

        log: list[str] = []
        try:
            tx = undo(current.host, tx_id, log=log.append)
        except Exception as exc:
            message = describe(exc)
            if isinstance(exc, FixError) and "--force" in message:
                message += (
                    "\n\nhostcheck tui never overwrites edits made after a fix. To restore the "
                    f"originals anyway, run: {self.force_undo_command(tx_id)}"
                )
            self.call_from_thread(self._failed, "Undo failed", log, message)
            return
        said = outcome.render("undo", [tx])
        self.call_from_thread(self._changed, "Undone", _with_log(said, log))

    def root_option(self) -> str:
        """` --root DIR` for a command the user runs on the tree this TUI changes."""
        from hostcheck.fix.outcome import root_option

        return root_option(self.source.live, self.source.root or "/")

    def force_undo_command(self, tx_id: str) -> str:
        return f"hostcheck fix{self.root_option()} --undo {tx_id} --force"

    # --- export and help --------------------------------------------------------------------

    def request_export(self) -> None:
        if self.report is None:
            self.refuse_if_unavailable()
            return
        report = self.report

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self.export(report, *answer)

        self.push_screen(ExportScreen(self.last_export or "hostcheck-report.json"), chosen)

    def export(self, report: Report, path: str, fmt: str) -> None:
        """Render with the report renderers and write atomically (hostcheck.host.output)."""
        from hostcheck.host.output import write_atomic
        from hostcheck.render import Format, renderer

        target = os.path.abspath(os.path.expanduser(path))
        try:
            write_atomic(target, renderer(Format(fmt))(report))
        except OSError as exc:
            self.push_screen(
                MessageScreen("Export failed", f"{target}: {exc.strerror or exc}", error=True)
            )
            return
        except Exception as exc:  # a renderer's bug: said, not a traceback over the screen
            self.push_screen(MessageScreen("Export failed", describe(exc), error=True))
            return
        self.last_export = path
        self.notify(printable(f"Wrote the report ({fmt}) to {target}"), markup=False)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_open_reference(self, url: str) -> None:
        """A click on a reference: copy the URL (OSC 52) and show it. Not webbrowser.open():
        on a server reached over SSH that starts nothing useful, or a text browser inside
        this very terminal. Terminals that support hyperlinks open it on Ctrl/Cmd-click."""
        self.copy_to_clipboard(url)
        self.notify(f"{url} (copied to the clipboard)", markup=False)


def _with_log(said: str, log: list[str]) -> str:
    """What `hostcheck fix` says after a change (hostcheck.fix.outcome), with the files it
    wrote, restored or removed under its first line."""
    first, _, rest = said.rstrip("\n").partition("\n")
    return "\n".join([first, *log, *([rest] if rest else [])])


def describe(exc: BaseException) -> str:
    """An exception as one message: the core's own errors say what is wrong in words; anything
    else (a bug, an unexpected OSError) names its type too."""
    from hostcheck.checks.session import SourceError
    from hostcheck.fix.changes import FixError, PlanError

    if isinstance(exc, FixError | PlanError | SourceError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
