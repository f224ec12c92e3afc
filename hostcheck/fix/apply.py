"""The journal as plain JSON objects, for callers written before the typed Transaction.

Transitional: hostcheck.cli's fix command still reads ``record["id"]``. The code that carries
a plan out is hostcheck.fix.transaction (typed), the text after a change is
hostcheck.fix.outcome.render. Delete this module once the CLI calls those.
"""

from __future__ import annotations

from typing import Any

from hostcheck.fix import transaction
from hostcheck.fix.changes import FixError
from hostcheck.fix.plan import Plan
from hostcheck.fix.store import Journal, interrupted_message
from hostcheck.host.core import Host

__all__ = [
    "FixError",
    "Journal",
    "apply",
    "interrupted_message",
    "readable_history",
    "resume",
    "undo",
]


def apply(host: Host, plan: Plan, *, log: Any = print) -> dict[str, Any]:
    return transaction.apply(host, plan, log=log).to_json()


def resume(host: Host, *, log: Any = print) -> dict[str, Any]:
    return transaction.resume(host, log=log).to_json()


def undo(host: Host, tx_id: str | None, *, force: bool = False, log: Any = print) -> dict[str, Any]:
    return transaction.undo(host, tx_id, force=force, log=log).to_json()


def readable_history(host: Host) -> tuple[list[dict[str, Any]], list[str]]:
    transactions, problems = transaction.readable_history(host)
    return [tx.to_json() for tx in transactions], problems
