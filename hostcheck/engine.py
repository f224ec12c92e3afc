"""Run rules over facts and build the report. No host access here: facts in, findings out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hostcheck import __version__, staged
from hostcheck.catalog import Profile
from hostcheck.checks import CHECK_KINDS, Context
from hostcheck.facts import Facts
from hostcheck.model import (
    Evidence,
    Finding,
    Outcome,
    Remediation,
    Report,
    Rule,
    Severity,
    Status,
    Verdict,
)
from hostcheck.readings import Value

_FAILING = {Severity.CRITICAL, Severity.HIGH}
KERNEL_ARG_KINDS = {"kernel-args"}


def status_for(verdict: Verdict, severity: Severity) -> Status:
    if verdict is Verdict.OK:
        return Status.PASS
    if verdict is Verdict.PROBLEM:
        return Status.FAIL if severity in _FAILING else Status.WARN
    if verdict is Verdict.ADVISORY:
        return Status.WARN
    if verdict is Verdict.NOT_APPLICABLE:
        return Status.SKIP
    return Status.ERROR


def _fill(template: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, list):
        return [_fill(item, values) for item in template]
    if isinstance(template, dict):
        return {key: _fill(item, values) for key, item in template.items()}
    return template


def build_remediation(rule: Rule, fix: Mapping[str, Any] | None) -> Remediation | None:
    """The rule's declared remediation with the values the check computed from the host.

    A check may override the argument lists, the summary and the kind (``add_kernel_args``,
    ``remove_kernel_args``, ``summary``, ``kind``) where the fix depends on what it found,
    e.g. a setting that lives in modprobe.d rather than on the command line.
    """
    if fix is None or rule.remediation is None:
        return None
    declared = rule.remediation
    try:
        filled = _fill({k: v for k, v in declared.items() if k != "kind"}, fix)
    except (KeyError, IndexError, ValueError):
        # The check did not compute a value the template needs (e.g. RAM unreadable).
        return None
    add = fix.get("add_kernel_args", filled.get("add_kernel_args", []))
    remove = fix.get("remove_kernel_args", filled.get("remove_kernel_args", []))
    return Remediation(
        kind=str(fix.get("kind", declared["kind"])),
        summary=str(fix.get("summary", filled["summary"])),
        add_kernel_args=tuple(add),
        remove_kernel_args=tuple(remove),
        modprobe=tuple(filled.get("modprobe", [])),
        sysctl=dict(filled.get("sysctl", {})),
        reboot_required=bool(
            declared.get("reboot_required", fix.get("kind", declared["kind"]) in KERNEL_ARG_KINDS)
        ),
    )


def evaluate(rule: Rule, facts: Facts, context: Context) -> Finding:
    if rule.applies_to == "strix-halo" and facts.gpu.strix_halo is None:
        return Finding(rule, Status.SKIP, "No Strix Halo GPU on this host.", (), None)
    check = CHECK_KINDS[rule.check]
    try:
        outcome = check(facts, rule.params, context)
    except Exception as exc:  # a bug in a check must not take the whole report down
        outcome = Outcome(
            Verdict.UNKNOWN,
            f"Internal error in check {rule.check}: {type(exc).__name__}: {exc}. Please report it.",
            (Evidence("check", rule.check, rule.source_file),),
        )
    status = status_for(outcome.verdict, rule.severity)
    remediation = (
        build_remediation(rule, outcome.fix) if status in (Status.FAIL, Status.WARN) else None
    )
    if remediation is not None:
        found = staged.check(facts, remediation)
        if found is not None and found.satisfied:
            return Finding(
                rule,
                Status.PENDING,
                _pending_message(status, outcome.message, remediation, found.pending),
                outcome.evidence + found.evidence,
                remediation,
            )
    return Finding(rule, status, outcome.message, outcome.evidence, remediation)


def _pending_message(
    status: Status, message: str, remediation: Remediation, pending: tuple[str, ...]
) -> str:
    when = (
        "reboot required"
        if remediation.reboot_required
        else "takes effect at the next boot, or now with `sysctl -w`"
    )
    todo = "; ".join(pending)
    return (
        f"Fixed, pending reboot: the fix is staged for the next boot ({when}"
        + (f"; {todo}" if todo else "")
        + f"). In effect now ({status.value}): {message}"
    )


def run(
    rules: Iterable[Rule],
    facts: Facts,
    profile: Profile,
    *,
    fail_on: Status = Status.FAIL,
    duration: float = 0.0,
    generated: str | None = None,
) -> Report:
    from hostcheck.checks.functional import figures

    context = Context(profile=profile)
    findings = tuple(evaluate(rule, facts, context) for rule in rules)
    release = facts.kernel.release
    gpu = facts.gpu.strix_halo
    rocm = facts.software.rocm_version
    return Report(
        tool_version=__version__,
        hostname=facts.hostname.value if isinstance(facts.hostname, Value) else "unknown",
        kernel_release=release.value.raw if isinstance(release, Value) else "unknown",
        root=facts.root,
        profile=profile.name,
        profile_title=profile.title,
        fail_on=fail_on,
        findings=findings,
        gpu=f"gfx1151 at {gpu.pci_slot} ({gpu.card or 'no card'})" if gpu else None,
        rocm=rocm.value if isinstance(rocm, Value) else None,
        container=facts.container,
        duration_seconds=duration,
        generated=generated,
        functional=figures(facts),
    )
