"""What a change did, in words: the text after `hostcheck fix --apply`, `--resume`, `--undo`
and `--history`. The CLI prints it; the TUI shows it after an apply or an undo."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Literal

from hostcheck.fix.journal import Transaction

Action = Literal["apply", "resume", "undo", "history"]


def root_option(live: bool, root: str) -> str:
    """` --root DIR` for the commands printed after a change under --root (copied as printed
    without it, they would act on the live host)."""
    return "" if live else f" --root {shlex.quote(root)}"


def render(action: Action, transactions: Sequence[Transaction], *, root_option: str = "") -> str:
    """The text (one line or more, each ending in a newline) that tells what ``action`` did:
    for apply, resume and undo the one transaction it made or changed, for history every
    transaction, oldest first. ``root_option`` (see root_option()) goes into the commands
    it suggests."""
    lines: list[str] = []
    if action == "history":
        if not transactions:
            lines.append("No transactions.")
        for tx in transactions:
            lines.append(
                f"{tx.id}  {tx.state:<9} {tx.created}  "
                f"{len(tx.files)} file(s)  {', '.join(tx.rules)}"
            )
    elif action == "undo":
        (tx,) = transactions
        lines.append(f"Undid transaction {tx.id}: the files are as they were before it.")
        lines += [f"  pending (run on the host itself): {c}" for c in tx.undo_pending or ()]
        if tx.reboot_required:
            lines.append("Reboot to bring the previous kernel arguments and module options back.")
    else:  # apply, resume: the transaction is complete
        (tx,) = transactions
        lines.append(
            f"Applied as transaction {tx.id} (undo: hostcheck fix{root_option} --undo {tx.id})."
        )
        lines += [f"  pending (run on the host itself): {' '.join(s.argv)}" for s in tx.pending]
        if tx.reboot_required:
            lines.append("Reboot to bring the kernel arguments and module options into effect;")
            lines.append(
                f"until then `hostcheck scan{root_option}` reports these rules as "
                "fixed-pending-reboot."
            )
    return "".join(f"{line}\n" for line in lines)
