"""Markdown, for bug reports and pull-request comments."""

from __future__ import annotations

from hostcheck.checks.waivers import unshown_expired
from hostcheck.model import Report, Status
from hostcheck.render import printable

MARK = {
    Status.FAIL: "✗ FAIL",
    Status.ERROR: "! ERROR",
    Status.PENDING: "↻ fixed, pending reboot",
    Status.WARN: "▲ WARN",
    Status.PASS: "✓ pass",
    Status.SKIP: "– skip",
    Status.WAIVED: "○ waived",
}


def _cell(text: object) -> str:
    return printable(text).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _line(text: object) -> str:
    """Text from the host on one line: a newline in a process argument must not start a
    line of its own (a heading, a list item, "host is READY")."""
    return printable(text).replace("\n", " ")


def render(report: Report) -> str:
    verdict = "READY" if report.ready else "NOT READY"
    counts = ", ".join(f"{n} {s}" for s, n in report.summary.items() if n)
    lines = [
        f"# hostcheck: {_cell(report.hostname)} is {verdict}",
        "",
        f"- kernel: `{_cell(report.kernel_release)}`",
        f"- GPU: {_cell(report.gpu or 'no Strix Halo GPU found')}",
        f"- ROCm: {_cell(report.rocm or 'not found')}",
        *([f"- judged as: {_cell(report.judged)}"] if report.judged else []),
        f"- profile: `{_cell(report.profile)}` — {_cell(report.profile_title)}",
        f"- findings: {counts}",
        "",
        "| status | rule | message |",
        "|---|---|---|",
    ]
    for finding in report.sorted_findings():
        message = finding.message + (f" ({finding.waiver.note()})" if finding.waiver else "")
        lines.append(f"| {MARK[finding.status]} | `{finding.rule.id}` | {_cell(message)} |")
    expired = unshown_expired(report)
    if expired:
        lines.append("")
        lines += [f"**{_line(state.note())}**" for state in expired]
    details = [
        f
        for f in report.sorted_findings()
        if f.status in (Status.FAIL, Status.ERROR, Status.PENDING, Status.WARN, Status.WAIVED)
    ]
    if details:
        lines += ["", "## Details"]
    for finding in details:
        lines += [
            "",
            f"### {MARK[finding.status]} `{finding.rule.id}` — {finding.rule.title}",
            "",
            _line(finding.message),
            "",
        ]
        if finding.waiver:
            lines += [f"**{_line(finding.waiver.note())}**", ""]
        for item in finding.evidence:
            value = "—" if item.value is None else f"`{_cell(item.value)}`"
            note = f" ({_cell(item.note)})" if item.note else ""
            lines.append(f"- {_line(item.label)}: {value} from `{_cell(item.source)}`{note}")
        lines.append(f"- see it yourself: `{finding.rule.command}`")
        if finding.remediation:
            lines.append(f"- fix: {_line(finding.remediation.summary)}")
        lines.append(f"- references: {', '.join(finding.rule.references)}")
    return "\n".join(lines) + "\n"
