"""The table as plain text, for output that is not a terminal (a pipe, a file, a CI log).

The same columns, order and words as the terminal table (hostcheck.render.table), without box
drawing or colour, and without importing rich: a scan piped into a file starts in a fraction
of the time. Areas are separated by a blank line; long findings wrap under their column.
"""

from __future__ import annotations

from hostcheck.checks.waivers import unshown_expired
from hostcheck.model import Finding, Report, Status
from hostcheck.render import printable

WORD = {
    Status.FAIL: "✗ FAIL",
    Status.ERROR: "! ERROR",
    Status.PENDING: "↻ PENDING",
    Status.WARN: "▲ WARN",
    Status.PASS: "✓ pass",
    Status.SKIP: "– skip",
    Status.WAIVED: "○ waived",
}


def _detail(finding: Finding, verbose: bool) -> list[str]:
    """The finding cell's lines (before wrapping), as the terminal table shows them."""
    lines = [printable(finding.message)]
    if finding.waiver is not None:
        lines.append(printable(finding.waiver.note()))
    if (
        verbose
        and finding.remediation
        and finding.status in (Status.FAIL, Status.WARN, Status.PENDING)
    ):
        lines.append("fix: " + finding.remediation.summary)
    if verbose or finding.status is Status.ERROR:
        for item in finding.evidence:
            value = "—" if item.value is None else printable(item.value)
            note = f" {item.note}" if item.note else ""
            lines.append(f"  {item.label}: {value}  [{item.source}]{note}")
    return lines


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces (a longer word stays
    whole, the spacing between words is kept); an indented line's continuations are
    indented two columns further."""
    body = text.lstrip(" ")
    indent = text[: len(text) - len(body)]
    out: list[str] = []
    line = indent
    for word in body.split(" "):
        if line.strip() and len(line) + 1 + len(word) > width:
            out.append(line.rstrip())
            line = (indent + "  " if indent else "") + word
        else:
            line = f"{line} {word}" if line.strip() else line + word
    out.append(line.rstrip())
    return out


def render(report: Report, *, width: int = 100, verbose: bool = False) -> str:
    out = [
        printable(f"hostcheck {report.tool_version} — {report.hostname}: ")
        + ("READY" if report.ready else "NOT READY"),
        printable(
            f"kernel {report.kernel_release} · GPU {report.gpu or 'none found'} · "
            f"ROCm {report.rocm or 'not found'} · profile {report.profile}"
            + (f" · in a container: {report.container}" if report.container else "")
        ),
        *([printable(f"judged as {report.judged}")] if report.judged else []),
        "",
    ]
    ordered = report.sorted_findings()
    shown = [f for f in ordered if verbose or f.status is not Status.SKIP]
    skipped = [f for f in ordered if f.status is Status.SKIP]
    rule_width = max([len(f.rule.id) for f in shown] + [4])
    lead = 9 + 1 + rule_width + 1
    cell = max(width - lead, 30)
    out.append(f"{'status':<9} {'rule':<{rule_width}} finding")
    area = None
    for finding in shown:
        if area is not None and finding.rule.area != area:
            out.append("")
        area = finding.rule.area
        lines = [part for line in _detail(finding, verbose) for part in _wrap(line, cell)]
        out.append(f"{WORD[finding.status]:<9} {finding.rule.id:<{rule_width}} {lines[0]}".rstrip())
        out += [(" " * lead + line).rstrip() for line in lines[1:]]
    out.append("")
    if skipped and not verbose:
        by_reason: dict[str, list[str]] = {}
        for finding in skipped:
            by_reason.setdefault(finding.message, []).append(finding.rule.id)
        out += [printable(f"– skip {', '.join(rules)}: {why}") for why, rules in by_reason.items()]
    out += [printable(state.note()) for state in unshown_expired(report)]
    counts = " · ".join(f"{n} {s}" for s, n in report.summary.items() if n)
    out.append(
        f"{counts}  (exit status {0 if report.ready else 1}; --fail-on {report.fail_on.value})"
    )
    out += notes(report)
    out.append(
        "Details: hostcheck explain RULE · evidence and fixes: --verbose · JSON: --format json"
    )
    step = next_step(report)
    if step:
        out += _wrap(step, width)
    return "\n".join(out) + "\n"


def notes(report: Report) -> list[str]:
    """The lines under the counts that say what the scan covered (the terminal table's too)."""
    lines = []
    if report.catalog_size is not None:
        lines.append(
            f"--select: checked {len(report.findings)} of the catalog's {report.catalog_size} rules."
        )
    if report.gpu is None and not any(f.blocks(report.fail_on) for f in report.findings):
        lines.append(
            "Not ready: no Strix Halo GPU (PCI 1002:1586, gfx1151) was found"
            + (", so the GPU rules were skipped." if report.findings else ".")
        )
    return lines


def next_step(report: Report) -> str | None:
    """The scan's last line: where to go from here when something needs doing."""
    fixable = [
        f.rule.id
        for f in report.sorted_findings()
        if f.status in (Status.FAIL, Status.WARN)
        and f.remediation is not None
        and f.remediation.kind != "manual"
    ]
    if fixable:
        return (
            f"Next: `hostcheck fix` (with this scan's options) shows the changes for "
            f"{', '.join(fixable)}; `hostcheck tui` reviews and applies them interactively."
        )
    if not report.ready and report.gpu is not None:
        return (
            "Next: `hostcheck explain RULE` says how to fix each failing rule by hand; "
            "`hostcheck tui` walks through them."
        )
    return None
