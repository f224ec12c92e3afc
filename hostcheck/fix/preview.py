"""How a plan reads: the diff of every file, the exact commands, whether a reboot is needed
(`hostcheck fix` prints it; the TUI shows the diffs)."""

from __future__ import annotations

from hostcheck.render import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.fix.changes import FileChange
    from hostcheck.fix.plan import Plan


def diff(change: FileChange) -> str:
    before = (change.before or b"").decode(errors="replace").splitlines(keepends=True)
    after = change.after.decode(errors="replace").splitlines(keepends=True)
    label = "/dev/null" if change.before is None else f"a{change.path}"
    return unified_diff(before, after, label, f"b{change.path}")


def unified_diff(before: list[str], after: list[str], label: str, new_label: str) -> str:
    """``"".join(difflib.unified_diff(before, after, label, new_label))``. A file hostcheck
    creates (nothing before: the usual first fix) is one hunk of added lines, written here
    without difflib, whose import is ~1.3 ms of a dry run."""
    if before or not after:
        import difflib

        return "".join(difflib.unified_diff(before, after, label, new_label))
    added = str(len(after)) if len(after) == 1 else f"1,{len(after)}"
    return "".join(
        [f"--- {label}\n", f"+++ {new_label}\n", f"@@ -0,0 +{added} @@\n"]
        + [f"+{line}" for line in after]
    )


def render(plan: Plan, *, live: bool, root: str) -> str:
    """The plan as a reader checks it: diffs, exact commands, what needs a reboot."""
    out: list[str] = []
    where = "this host" if live else (root if root.startswith("bundled") else f"the tree at {root}")
    manual = (
        f"By hand (hostcheck cannot change these; `hostcheck explain RULE` says how): "
        f"{', '.join(plan.manual)}."
    )
    if not plan.gpu:
        out.append(
            f"Nothing to fix: {where} has no Strix Halo GPU (gpu.present), so the GPU rules were "
            "skipped and hostcheck has no change to make."
        )
        out.extend(f"note: {n}" for n in plan.notes)
        return printable("\n".join(out)) + "\n"
    if plan.empty:
        if plan.manual and not plan.rules:
            out.append("No change hostcheck can make: what fails here needs a manual fix.")
        else:
            out.append("Nothing to do: every change hostcheck would make is already in place.")
        if plan.already_staged:
            out.append(f"Staged, waiting for a reboot: {', '.join(plan.already_staged)}.")
        stuck = [rule for rule in plan.rules if rule not in plan.already_staged]
        if stuck:
            out.append(
                f"Still failing although the plan changes nothing: {', '.join(stuck)}; "
                "see `hostcheck scan --verbose` for what keeps them failing."
            )
        if plan.manual:
            out.append(manual)
        out.extend(f"note: {n}" for n in plan.notes)
        return printable("\n".join(out)) + "\n"
    fixing = [rule for rule in plan.rules if rule not in plan.already_staged]
    out.append(
        f"Plan for {where}: fixes {', '.join(fixing) or '-'} (boot loader: {plan.loader})"
        + (f"; already staged: {', '.join(plan.already_staged)}" if plan.already_staged else "")
    )
    for change in plan.files:
        out.append("")
        out.append(f"--- {change.path}: {change.why}")
        out.append(diff(change).rstrip("\n"))
    if plan.commands:
        out.append("")
        heading = (
            "Commands, in order:"
            if live
            else ("Commands to run on the host itself (not run under --root; pending steps):")
        )
        out.append(heading)
        for command in plan.commands:
            out.append(f"  {command.text}    # {command.why}")
    out.append("")
    out.append(
        "A reboot is needed for the kernel arguments and module options to take effect."
        if plan.reboot_required
        else "No reboot needed."
    )
    if plan.manual:
        out.append(manual)
    out.extend(f"note: {n}" for n in plan.notes)
    # Diffs show host files and notes host values: an ESC in them must not reach a terminal.
    return printable("\n".join(out)) + "\n"
