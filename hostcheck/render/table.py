"""The terminal table (rich): grouped by area, failing first, each line actionable.

Statuses carry a symbol and a word as well as a colour, so the table reads without colour.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hostcheck.checks.waivers import unshown_expired
from hostcheck.model import Finding, Report, Status
from hostcheck.render import printable
from hostcheck.render.text import next_step, notes

STYLE = {
    Status.FAIL: ("✗ FAIL", "bold red"),
    Status.ERROR: ("! ERROR", "bold magenta"),
    Status.PENDING: ("↻ PENDING", "bold cyan"),
    Status.WARN: ("▲ WARN", "yellow"),
    Status.PASS: ("✓ pass", "green"),
    Status.SKIP: ("– skip", "dim"),
    Status.WAIVED: ("○ waived", "blue"),
}


def _detail(finding: Finding, verbose: bool) -> Text:
    text = Text(printable(finding.message))
    if finding.waiver is not None:
        text.append(
            "\n" + printable(finding.waiver.note()),
            style="bold yellow" if finding.waiver.expired else "blue",
        )
    if (
        verbose
        and finding.remediation
        and finding.status in (Status.FAIL, Status.WARN, Status.PENDING)
    ):
        text.append("\nfix: ", style="bold")
        text.append(finding.remediation.summary)
    if verbose or finding.status is Status.ERROR:
        for item in finding.evidence:
            value = "—" if item.value is None else printable(item.value)
            text.append(f"\n  {item.label}: ", style="dim")
            text.append(value)
            text.append(f"  [{item.source}]" + (f" {item.note}" if item.note else ""), style="dim")
    return text


def render(report: Report, *, color: bool = False, width: int = 100, verbose: bool = False) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,  # host text ("6.17.0[/x]") must never be read as rich markup
    )
    verdict = (
        Text("READY", style="bold green") if report.ready else Text("NOT READY", style="bold red")
    )
    header = Text(printable(f"hostcheck {report.tool_version} — {report.hostname}: "))
    header.append_text(verdict)
    console.print(header)
    console.print(
        printable(
            f"kernel {report.kernel_release} · GPU {report.gpu or 'none found'} · "
            f"ROCm {report.rocm or 'not found'} · profile {report.profile}"
            + (f" · in a container: {report.container}" if report.container else "")
        ),
        style="dim",
    )
    if report.judged:
        console.print(printable(f"judged as {report.judged}"), style="dim")
    table = Table(
        show_header=True, header_style="bold", expand=True, show_lines=False, pad_edge=False
    )
    table.add_column("status", no_wrap=True, width=9)
    table.add_column("rule", no_wrap=True, style="cyan")
    table.add_column("finding", ratio=1)
    area = None
    shown = [f for f in report.sorted_findings() if verbose or f.status is not Status.SKIP]
    skipped = [f for f in report.sorted_findings() if f.status is Status.SKIP]
    for finding in shown:
        if finding.rule.area != area:
            if area is not None:
                table.add_section()
            area = finding.rule.area
        word, style = STYLE[finding.status]
        table.add_row(Text(word, style=style), finding.rule.id, _detail(finding, verbose))
    console.print(table)
    if skipped and not verbose:
        by_reason: dict[str, list[str]] = {}
        for finding in skipped:
            by_reason.setdefault(finding.message, []).append(finding.rule.id)
        for why, rules in by_reason.items():
            console.print(printable(f"– skip {', '.join(rules)}: {why}"), style="dim")
    for state in unshown_expired(report):
        console.print(printable(state.note()), style="bold yellow")
    counts = " · ".join(f"{n} {s}" for s, n in report.summary.items() if n)
    console.print(
        f"{counts}  (exit status {0 if report.ready else 1}; --fail-on {report.fail_on.value})"
    )
    for line in notes(report):
        console.print(line)
    console.print(
        "Details: hostcheck explain RULE · evidence and fixes: --verbose · JSON: --format json",
        style="dim",
    )
    step = next_step(report)
    if step:
        console.print(step)
    return out.getvalue()
