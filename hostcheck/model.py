"""Domain objects: rules (immutable declarations), outcomes of checks, findings and the report."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from hostcheck._record import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime  # a scan without waivers never needs the module (~2.5 ms to import)
    from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not applicable to this host
    ERROR = "error"  # could not be checked
    # A problem whose fix is staged for the next boot (boot loader, modprobe.d, sysctl.d)
    # but not in effect yet: the running system still has it.
    PENDING = "fixed-pending-reboot"
    WAIVED = "waived"  # a problem an operator accepted until a date (config file waiver)

    @property
    def rank(self) -> int:
        """Order for "failing first": fail, error, warn, pass, skip."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    Status.FAIL: 0,
    Status.ERROR: 1,
    Status.PENDING: 2,
    Status.WARN: 3,
    Status.WAIVED: 4,
    Status.PASS: 5,
    Status.SKIP: 6,
}


class Severity(StrEnum):
    """How much a problem found by a rule matters. critical/high problems fail the host;
    medium/low/info problems warn."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Verdict(StrEnum):
    """What a check kind concludes, before the rule's severity turns it into a Status."""

    OK = "ok"
    PROBLEM = "problem"  # fail for critical/high rules, warn otherwise
    ADVISORY = "advisory"  # always warn: worth knowing, not blocking
    UNKNOWN = "unknown"  # could not be checked -> error
    NOT_APPLICABLE = "not-applicable"  # -> skip


class Evidence(NamedTuple):
    """One value a verdict rests on, and where it was read."""

    label: str
    value: str | int | float | bool | None
    source: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "value": self.value, "source": self.source}
        if self.note:
            data["note"] = self.note
        return data


class Remediation(NamedTuple):
    """What fixes a finding. ``kind`` is kernel-args, modprobe, sysctl or manual."""

    kind: str
    summary: str
    add_kernel_args: tuple[str, ...] = ()
    remove_kernel_args: tuple[str, ...] = ()
    modprobe: tuple[str, ...] = ()
    sysctl: Mapping[str, str] = MappingProxyType({})
    reboot_required: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "summary": self.summary,
            "kernel_args": {
                "add": list(self.add_kernel_args),
                "remove": list(self.remove_kernel_args),
            },
            "modprobe": list(self.modprobe),
            "sysctl": dict(self.sysctl),
            "reboot_required": self.reboot_required,
        }


class Rule(NamedTuple):
    """A rule as declared in rules/*.toml. Immutable; run-time results live in Finding."""

    id: str
    title: str
    severity: Severity
    applies_to: str  # "any-host" or "strix-halo"
    check: str  # check kind name
    params: Mapping[str, Any]
    references: tuple[str, ...]
    rationale: str
    command: str  # what a person would type to see the evidence
    remediation: Mapping[str, Any] | None
    source_file: str
    # What of the inference stack the rule judges: "rocm" (not applicable where inference runs
    # on Vulkan) or "rocm-version" (also not applicable on a container node where no ROCm
    # runs and none is declared); None: the host itself.
    needs: str | None = None
    reviewed: str = ""  # YYYY-MM-DD: when the rule's facts were last checked against sources

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


class Outcome(NamedTuple):
    """What a check kind returns."""

    verdict: Verdict
    message: str
    evidence: tuple[Evidence, ...] = ()
    # Values for the rule's remediation template ({pages}, {module} …); None: no fix offered.
    fix: Mapping[str, Any] | None = None


class Waiver(NamedTuple):
    """An operator's acceptance of a rule's problem until a date (config file ``[[waiver]]``).

    It holds through ``expires`` (inclusive); from the next day the finding counts again and
    the report says the waiver expired."""

    rule: str
    reason: str
    owner: str
    expires: datetime.date
    source: str  # "/etc/hostcheck/config.toml:12", where it was declared

    def expired_on(self, today: datetime.date) -> bool:
        return today > self.expires


class AppliedWaiver(NamedTuple):
    """A waiver that matched a finding: it waived it, or it had expired."""

    waiver: Waiver
    expired: bool
    original: Status  # what the finding was before the waiver was applied

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.waiver.reason,
            "owner": self.waiver.owner,
            "expires": self.waiver.expires.isoformat(),
            "expired": self.expired,
            "original_status": self.original.value,
            "source": self.waiver.source,
        }

    def note(self) -> str:
        """One line a person reads under the finding."""
        w = self.waiver
        if self.expired:
            return (
                f"waiver EXPIRED on {w.expires.isoformat()} (owner {w.owner}: {w.reason}); "
                f"renew or remove it in {w.source}"
            )
        return f"waived until {w.expires.isoformat()} by {w.owner}: {w.reason}"


class WaiverState(NamedTuple):
    """A waiver of the config file on the day of the scan, whatever its rule's finding: an
    expired waiver is reported even when its rule now passes, is skipped or was not run."""

    waiver: Waiver
    expired: bool
    status: Status | None  # the rule's finding now (waived while it holds); None: not run

    def ends_at(self) -> float:
        """Unix time the waiver stops holding: local midnight after its expiry date, as
        :meth:`Waiver.expired_on` counts days by the local date."""
        import datetime

        try:
            day = self.waiver.expires + datetime.timedelta(days=1)
            return datetime.datetime.combine(day, datetime.time()).timestamp()
        except (OverflowError, ValueError, OSError):
            # 9999-12-31 has no next day (and a far date may not fit the platform's time_t):
            # the waiver holds as long as anything can count, which Prometheus writes +Inf.
            return float("inf")

    def to_json(self) -> dict[str, Any]:
        w = self.waiver
        return {
            "rule": w.rule,
            "reason": w.reason,
            "owner": w.owner,
            "expires": w.expires.isoformat(),
            "expired": self.expired,
            "status": self.status.value if self.status is not None else None,
            "source": w.source,
        }

    def note(self) -> str:
        """The line a report shows for an expired waiver no finding carries."""
        w = self.waiver
        now = (
            f"the rule is {self.status.value} now"
            if self.status is not None
            else "the rule was not checked"
        )
        return (
            f"waiver of {w.rule} EXPIRED on {w.expires.isoformat()} (owner {w.owner}: "
            f"{w.reason}); {now}: renew or remove it in {w.source}"
        )


class Finding(NamedTuple):
    rule: Rule
    status: Status
    message: str
    evidence: tuple[Evidence, ...]
    remediation: Remediation | None
    waiver: AppliedWaiver | None = None

    def blocks(self, fail_on: Status) -> bool:
        """Whether this finding makes the host not ready.

        A fail always blocks; a fix pending a reboot blocks where the problem did. An error
        (could not be checked) blocks where a problem would have failed (critical/high
        rules): a host is not called ready on a guess. With ``--fail-on warn``, warnings and
        every error block too.
        """
        if self.status is Status.FAIL:
            return True
        if self.status is Status.PENDING:  # the running system still has the problem
            return fail_on is Status.WARN or self.rule.severity in (
                Severity.CRITICAL,
                Severity.HIGH,
            )
        if self.status is Status.ERROR:
            return fail_on is Status.WARN or self.rule.severity in (
                Severity.CRITICAL,
                Severity.HIGH,
            )
        return fail_on is Status.WARN and self.status is Status.WARN

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule.id,
            "area": self.rule.area,
            "status": self.status.value,
            "severity": self.rule.severity.value,
            "title": self.rule.title,
            "message": self.message,
            "evidence": [item.to_json() for item in self.evidence],
            "command": self.rule.command,
            "references": list(self.rule.references),
            "remediation": self.remediation.to_json() if self.remediation else None,
        }
        if self.waiver is not None:
            data["waiver"] = self.waiver.to_json()
        return data


class FunctionalFigures(NamedTuple):
    """What the functional probe measured (scan --functional), for the report's top-level
    ``functional`` object, node labels and metrics. None: not measured."""

    completed: bool  # ran to its end (no hang, crash or watchdog)
    timed_out: bool  # killed at the bound
    seconds: float | None
    device: str | None
    target_gib: float | None
    allocated_gib: float | None
    h2d_gbps: float | None
    h2d_pinned_gbps: float | None
    d2h_gbps: float | None
    memory_bandwidth_gbps: float | None
    matmul_tflops: float | None
    attention_tflops: float | None

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


class Report(NamedTuple):
    tool_version: str
    hostname: str
    kernel_release: str
    root: str
    profile: str
    profile_title: str
    fail_on: Status
    findings: tuple[Finding, ...]
    gpu: str | None
    rocm: str | None
    container: str | None  # hostcheck itself runs in a container (live scans only)
    duration_seconds: float
    # every waiver of the config file, by rule id (empty without waivers)
    waivers: tuple[WaiverState, ...] = ()
    generated: str | None = None  # when the scan ran: RFC 3339, UTC ("2026-01-31T12:00:00Z")
    # With --select: how many rules the catalog has (the findings are the selected ones).
    catalog_size: int | None = None
    # where the inference stack lives and what kind of node was judged (JSON-ready; None for
    # reports read back from before schema 1.4)
    stack: Mapping[str, Any] | None = None

    @property
    def judged(self) -> str | None:
        """The one line that says what kind of node was judged."""
        return str(self.stack["summary"]) if self.stack else None

    # the rule catalog: {"reviewed": its date (YYYY-MM-DD), "dropins": [drop-in files used]}
    catalog: Mapping[str, Any] | None = None
    functional: FunctionalFigures | None = None  # scan --functional's figures (or replayed)

    @property
    def summary(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for finding in self.findings:
            counts[finding.status.value] += 1
        return counts

    @property
    def ready(self) -> bool:
        """No blocking finding, and a Strix Halo GPU at all (also when --select left
        gpu.present out: DESIGN.md, a host without one is not ready)."""
        if self.gpu is None:
            return False
        return not any(finding.blocks(self.fail_on) for finding in self.findings)

    def sorted_findings(self) -> list[Finding]:
        """Grouped by area, the area with the worst finding first; failing first within."""
        worst: dict[str, int] = {}
        for finding in self.findings:
            area = finding.rule.area
            worst[area] = min(worst.get(area, 9), finding.status.rank)
        return sorted(
            self.findings,
            key=lambda f: (worst[f.rule.area], f.rule.area, f.status.rank, f.rule.id),
        )


class Profile(NamedTuple):
    name: str
    title: str
    required_gib: float
    reasoning: str
    default: bool
    engines: tuple[str, ...] = ()  # serving engines that can run the profile's formats on gfx1151
