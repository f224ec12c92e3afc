"""The plan `hostcheck fix` would carry out for the marked findings; `a` asks the app to
apply it (PlanScreen.ApplyRequested)."""

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from hostcheck.fix.plan import Plan
from hostcheck.fix.preview import diff
from hostcheck.render import printable
from hostcheck.tui import view


class PlanScreen(Screen[None]):
    """The plan `hostcheck fix` would carry out for the marked findings."""

    HELP_TITLE = "Plan"

    class ApplyRequested(Message):
        """`a`: apply the plan (the app asks first)."""

        def __init__(self, plan: Plan) -> None:
            super().__init__()
            self.plan = plan

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
        self.busy = False  # an apply runs (show_busy)

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
        self.busy = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply" and self.busy:
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
        self.post_message(self.ApplyRequested(self.plan))
