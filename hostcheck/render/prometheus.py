"""Prometheus text exposition format, for node_exporter's textfile collector.

Per rule, ``hostcheck_rule_status`` is one series per status (1 for the current one, 0 for the
others), so an alert selects ``{status="fail"} == 1`` and a series never disappears when a rule
changes status. Pure: the run's wall-clock time is passed in, not read here.
"""

from __future__ import annotations

import calendar
import datetime

from hostcheck.model import Report, Status
from hostcheck.render.json import SCHEMA_VERSION


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def render(report: Report, *, timestamp: float | None = None) -> str:
    """The metrics of one run; ``timestamp`` (Unix seconds) is when the run finished."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    family(
        "hostcheck_build_info",
        "gauge",
        "hostcheck version and report schema version; always 1.",
    )
    out.append(
        "hostcheck_build_info"
        + _labels(version=report.tool_version, schema_version=SCHEMA_VERSION)
        + " 1"
    )
    family("hostcheck_ready", "gauge", "1 if the host is ready to serve LLMs, 0 if not.")
    out.append(
        "hostcheck_ready"
        + _labels(profile=report.profile, fail_on=report.fail_on.value)
        + f" {int(report.ready)}"
    )
    if timestamp is not None:
        family(
            "hostcheck_last_run_timestamp_seconds",
            "gauge",
            "Unix time at which the last hostcheck run finished.",
        )
        out.append(f"hostcheck_last_run_timestamp_seconds {timestamp:.3f}")
    family("hostcheck_scan_duration_seconds", "gauge", "How long the last scan took.")
    out.append(f"hostcheck_scan_duration_seconds {report.duration_seconds:.6f}")
    family(
        "hostcheck_rule_status",
        "gauge",
        "1 for the status a rule has now (pass, warn, fail, skip, error, waived), 0 for the others.",
    )
    for finding in sorted(report.findings, key=lambda f: f.rule.id):
        for status in Status:
            labels = _labels(
                rule=finding.rule.id,
                area=finding.rule.area,
                severity=finding.rule.severity.value,
                status=status.value,
            )
            out.append(f"hostcheck_rule_status{labels} {int(finding.status is status)}")
    family(
        "hostcheck_rule_blocking",
        "gauge",
        "1 if the rule's finding makes the host not ready.",
    )
    for finding in sorted(report.findings, key=lambda f: f.rule.id):
        labels = _labels(
            rule=finding.rule.id, area=finding.rule.area, severity=finding.rule.severity.value
        )
        out.append(f"hostcheck_rule_blocking{labels} {int(finding.blocks(report.fail_on))}")
    family("hostcheck_findings", "gauge", "Number of findings per status.")
    for name, count in report.summary.items():
        out.append(f"hostcheck_findings{_labels(status=name)} {count}")
    waived = sorted((f for f in report.findings if f.waiver is not None), key=lambda f: f.rule.id)
    family(
        "hostcheck_waiver_expiry_timestamp_seconds",
        "gauge",
        "Unix time (00:00 UTC of the day after the expiry date) at which a waiver stops holding.",
    )
    for finding in waived:
        waiver = finding.waiver
        assert waiver is not None
        ends = waiver.waiver.expires + datetime.timedelta(days=1)
        labels = _labels(
            rule=finding.rule.id,
            owner=waiver.waiver.owner,
            expired="true" if waiver.expired else "false",
        )
        out.append(
            f"hostcheck_waiver_expiry_timestamp_seconds{labels} {calendar.timegm(ends.timetuple())}"
        )
    return "\n".join(out) + "\n"
