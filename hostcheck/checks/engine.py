"""Run rules over facts and build the report. No host access here: facts in, findings out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hostcheck import __version__
from hostcheck.checks import staged
from hostcheck.checks.kinds import CHECK_KINDS, Context
from hostcheck.facts import Facts
from hostcheck.model import (
    Evidence,
    Finding,
    Outcome,
    Profile,
    Remediation,
    Report,
    Rule,
    Severity,
    Status,
    Verdict,
)
from hostcheck.parse.kernel import normalise_param
from hostcheck.readings import Reason, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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


def stack_evidence(facts: Facts) -> Evidence:
    """What kind of node was judged, as evidence."""
    stack = facts.stack
    assert stack is not None
    return Evidence("stack", stack.summary(), "hostcheck's stack probe (docs/stack.md)")


def not_applicable(rule: Rule, facts: Facts) -> Finding | None:
    """A ROCm rule where the stack needs no ROCm (Vulkan), or a ROCm-version rule on a
    container node where no ROCm runs and none is declared: skipped, saying why and how to
    declare it. Where process data could not be read, an error instead of a guess."""
    from hostcheck.checks.kinds._util import rocm_versions

    stack = facts.stack
    if stack is None or rule.needs is None:
        return None
    if stack.backend == "vulkan":
        return Finding(
            rule,
            Status.SKIP,
            f"Inference runs on Vulkan here ({stack.backend_why}); this ROCm rule does not apply.",
            (stack_evidence(facts),),
            None,
        )
    if rule.needs != "rocm-version" or stack.node != "container-node" or rocm_versions(facts):
        return None
    items = (
        stack_evidence(facts),
        *(
            Evidence("unreadable", None, item.source, f"{item.reason.value}: {item.detail}")
            for item in stack.unreadable
        ),
    )
    if stack.unreadable:
        # Run as root only helps where a read was denied, not where a file hung or loops.
        hint = (
            "run as root, or declare"
            if any(item.reason is Reason.PERMISSION for item in stack.unreadable)
            else "see the evidence; declare"
        )
        return Finding(
            rule,
            Status.ERROR,
            "Container node: the ROCm of the running inference processes could not be read "
            f"({hint} it with --workload-rocm VERSION to check it).",
            items,
            None,
        )
    return Finding(
        rule,
        Status.SKIP,
        "Container node: ROCm comes with the serving image, and none runs here or is declared. "
        "To check it before the workload lands, declare it: --workload-rocm VERSION (or "
        'rocm = "VERSION" under [workload] in the config file).',
        items,
        None,
    )


def evaluate(
    rule: Rule, facts: Facts, context: Context, owned: Mapping[str, str] | None = None
) -> Finding:
    """``owned``: kernel arguments (normalised key -> the passing rule that decides them) this
    rule's fix must not add (see :func:`_owners`)."""
    if rule.applies_to == "strix-halo" and facts.gpu.strix_halo is None:
        return Finding(rule, Status.SKIP, "No Strix Halo GPU on this host.", (), None)
    skipped = not_applicable(rule, facts)
    if skipped is not None:
        return skipped
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
    if remediation is not None and owned:
        remediation = _without_owned(remediation, owned)
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


def _owners(findings: tuple[Finding, ...]) -> dict[str, str]:
    """Kernel arguments that a passing rule decides: normalised key -> rule id.

    A rule decides the arguments its declared remediation adds (amdgpu.cwsr_enable is
    amdgpu.cwsr's). Another rule's fix must not add one while that rule passes without it:
    kernel.params corrects a misspelled ``aamdgpu.cwsr_enable=0`` to its intended form, but on
    a kernel and ROCm with the CWSR fix amdgpu.cwsr would ask after the reboot to remove it.
    """
    owners: dict[str, str] = {}
    for finding in findings:
        if finding.status is not Status.PASS:
            continue
        for arg in (finding.rule.remediation or {}).get("add_kernel_args", []):
            key = str(arg).split("=", 1)[0]
            if "{" not in key:
                owners.setdefault(normalise_param(key), finding.rule.id)
    return owners


def _adds_owned(finding: Finding, owners: Mapping[str, str]) -> bool:
    remedy = finding.remediation
    return remedy is not None and any(
        owners.get(normalise_param(arg.split("=", 1)[0]), finding.rule.id) != finding.rule.id
        for arg in remedy.add_kernel_args
    )


def _without_owned(remediation: Remediation, owned: Mapping[str, str]) -> Remediation:
    kept: list[tuple[str, str | None]] = []
    left_out: list[tuple[str, str | None]] = []
    for arg in remediation.add_kernel_args:
        owner = owned.get(normalise_param(arg.split("=", 1)[0]))
        (left_out if owner is not None else kept).append((arg, owner))
    if not left_out:
        return remediation
    why = "; ".join(
        f"{arg} is left out: {owner} decides it and passes without it" for arg, owner in left_out
    )
    return remediation._replace(
        add_kernel_args=tuple(arg for arg, _ in kept), summary=f"{remediation.summary} ({why})"
    )


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
    catalog: Mapping[str, object] | None = None,
) -> Report:
    from hostcheck.checks.kinds.functional import figures

    context = Context(profile=profile)
    rules = list(rules)
    findings = tuple(evaluate(rule, facts, context) for rule in rules)
    owners = _owners(findings)
    if owners:
        findings = tuple(
            evaluate(f.rule, facts, context, owners) if _adds_owned(f, owners) else f
            for f in findings
        )
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
        stack=stack_json(facts),
        catalog=catalog,
        functional=figures(facts),
    )


def stack_json(facts: Facts) -> dict[str, Any] | None:
    """The stack facts as the JSON report carries them (schema 1.4)."""
    stack = facts.stack
    if stack is None:
        return None
    declared = stack.declared
    return {
        "node": stack.node,
        "backend": stack.backend,
        "summary": stack.summary(),
        "why": {"node": stack.node_why, "backend": stack.backend_why},
        "runtimes": list(stack.runtimes),
        "declared": None
        if declared is None
        else {
            "backend": declared.backend,
            "rocm": declared.rocm,
            "torch": declared.torch,
            "image": declared.image,
            "source": declared.source,
        },
        "components": [
            {
                "name": part.name,
                "version": part.version,
                "where": part.where,
                "path": part.path,
                "found_by": part.found_by,
                "origin": part.origin,
                "detail": part.detail,
            }
            for part in stack.components
        ],
        "unreadable": [item.describe() for item in stack.unreadable],
    }
