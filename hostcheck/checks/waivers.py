"""Waivers: findings an operator accepted until a date, applied to a report after the rules ran.

A waiver turns a warn, fail, error or fixed-pending-reboot finding into ``waived`` (which never blocks readiness)
through its expiry date. From the next day the finding keeps the status the rule gave it and
carries a note that its waiver expired, so an expired waiver is visible, never silently ignored.
A waiver for a rule that passes or does not apply changes no finding; every waiver, expired
or not, is listed in the report's ``waivers`` whatever its rule's status.
"""

from __future__ import annotations

from collections.abc import Iterable

from hostcheck.model import AppliedWaiver, Report, Status, Waiver, WaiverState

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime

# A fix pending a reboot is still the rule's problem on the running system: a waiver of the
# rule keeps covering it.
WAIVABLE = frozenset({Status.WARN, Status.FAIL, Status.ERROR, Status.PENDING})


def apply_waivers(report: Report, waivers: Iterable[Waiver], today: datetime.date) -> Report:
    by_rule = {waiver.rule: waiver for waiver in waivers}
    if not by_rule:
        return report
    findings = []
    for finding in report.findings:
        waiver = by_rule.get(finding.rule.id)
        if waiver is None or finding.status not in WAIVABLE:
            findings.append(finding)
            continue
        expired = waiver.expired_on(today)
        applied = AppliedWaiver(waiver, expired, finding.status)
        status = finding.status if expired else Status.WAIVED
        findings.append(finding._replace(status=status, waiver=applied))
    now = {finding.rule.id: finding.status for finding in findings}
    states = tuple(
        WaiverState(waiver, waiver.expired_on(today), now.get(rule))
        for rule, waiver in sorted(by_rule.items())
    )
    return report._replace(findings=tuple(findings), waivers=states)


def expired_waivers(report: Report) -> list[WaiverState]:
    return [state for state in report.waivers if state.expired]


def unshown_expired(report: Report) -> list[WaiverState]:
    """Expired waivers that no finding shows a note for (their rule passes, is skipped or was
    not run): the report lists these on their own, so none goes unnoticed."""
    noted = {f.rule.id for f in report.findings if f.waiver is not None}
    return [state for state in expired_waivers(report) if state.waiver.rule not in noted]
