"""How a report, a finding and a plan look: pure functions from core values to Textual
Content. No widget state here, so the screens stay thin and this is easy to read in one go."""

from textual.content import Content
from textual.style import Style

from hostcheck.fix.plan import fixable
from hostcheck.model import Finding, Report, Status
from hostcheck.render import printable
from hostcheck.render.table import STYLE
from hostcheck.tui.review import reference_url

SUMMARY_ORDER = (
    Status.FAIL,
    Status.ERROR,
    Status.PENDING,
    Status.WARN,
    Status.WAIVED,
    Status.PASS,
    Status.SKIP,
)


def status_label(status: Status) -> Content:
    """The status as the table renderer shows it: a symbol and a word, then a colour."""
    word, style = STYLE[status]
    return Content.styled(word, style)


def shorten_middle(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut from the middle: a path keeps its start and its
    last, most telling components."""
    if len(text) <= limit:
        return text
    if limit < 3:
        return text[:limit]
    tail = (limit - 1) * 2 // 3
    return text[: limit - 1 - tail] + "…" + text[len(text) - tail :]


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at the end."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def summary(report: Report, where: str, width: int = 80) -> Content:
    """What was scanned and the verdict, in at most four lines of ``width`` columns (the
    summary bar's height): the verdict, the host name (cut) and the counts; then what was
    scanned (a long path shortened in the middle), the GPU, kernel, ROCm and profile."""
    verdict = (
        Content.styled("READY", "bold green")
        if report.ready
        else Content.styled("NOT READY", "bold red")
    )
    counts = report.summary
    tallies: list[Content | str] = []
    for status in SUMMARY_ORDER:
        if counts[status.value]:
            word, style = STYLE[status]
            symbol, _, name = word.partition(" ")
            tallies += [
                " ",
                Content.styled(f"{symbol} {counts[status.value]} {name.lower()}", style),
            ]
    room = width - 2  # the bar's padding
    tally_width = sum(len(str(part)) for part in tallies)
    host = cut(printable(report.hostname), max(room - len(str(verdict)) - 2 - tally_width, 12))
    target = shorten_middle(printable(where), max(room, 20))
    details = printable(
        f"GPU {report.gpu or 'none found'} · kernel {report.kernel_release} · "
        f"ROCm {report.rocm or 'not found'} · profile {report.profile}"
        # where the stack lives, when it is not simply the host's own ROCm
        + (
            f" · {report.judged}"
            if report.stack
            and (report.stack["node"] != "host" or report.stack["backend"] == "vulkan")
            else ""
        )
    )
    # What was scanned starts the second line, so it shows even when the rest wraps.
    return Content.assemble(
        verdict, f" {host} ", *tallies, "\n", Content.styled(target, "bold"), " · ", details
    )


def reflow(text: str) -> str:
    """Rule files wrap their prose at a fixed width; let the pane wrap it instead."""
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _link(reference: str) -> Content:
    url = reference_url(reference)
    if url is None:
        return Content(printable(reference))
    style = Style(underline=True, link=url) + Style.from_meta(
        {"@click": f"app.open_reference({url!r})"}
    )
    return Content(reference).stylize(style)


def detail(finding: Finding, *, marked: bool) -> Content:
    """Everything about one finding, in the order a person asks: what, why believed, how to
    see it yourself, why it matters, where to read more, what the fix would do."""
    rule = finding.rule
    out: list[Content | str] = [
        Content.styled(rule.id, "bold"),
        f" — {rule.title}\n",
        status_label(finding.status),
        f"  severity {rule.severity.value}\n\n",
        printable(finding.message),
        "\n\n",
    ]
    if finding.waiver is not None:
        out += [
            Content.styled(
                printable(finding.waiver.note()),
                "bold yellow" if finding.waiver.expired else "bold blue",
            ),
            "\n\n",
        ]
    out.append(Content.styled("Evidence\n", "bold underline"))
    if not finding.evidence:
        out.append("  (none recorded)\n")
    for item in finding.evidence:
        value = "—" if item.value is None else printable(item.value)
        out += [f"  {printable(item.label)}: ", Content.styled(value, "bold"), "\n"]
        note = f"; {printable(item.note)}" if item.note else ""
        out.append(Content.styled(f"    from {printable(item.source)}{note}\n", "dim"))
    out += [
        Content.styled("See it yourself: ", "bold"),
        Content.styled(printable(rule.command), "italic"),
        "\n\n",
        Content.styled("Why it matters\n", "bold underline"),
        printable(reflow(rule.rationale)),
        "\n\n",
        Content.styled("References: ", "bold"),
    ]
    for number, reference in enumerate(rule.references):
        if number:
            out.append(", ")
        out.append(_link(reference))
    out += ["\n\n", Content.styled("Fix\n", "bold underline")]
    out.append(fix_text(finding, marked=marked))
    return Content.assemble(*out)


def fix_text(finding: Finding, *, marked: bool) -> Content:
    remedy = finding.remediation
    if remedy is None:
        if finding.status in (Status.PASS, Status.SKIP):
            return Content("Nothing to fix.")
        return Content("No fix proposed for this finding.")
    lines = [printable(remedy.summary)]
    if remedy.add_kernel_args:
        lines.append(f"kernel arguments to add: {' '.join(remedy.add_kernel_args)}")
    if remedy.remove_kernel_args:
        lines.append(f"kernel arguments to remove: {' '.join(remedy.remove_kernel_args)}")
    if remedy.modprobe:
        lines.append(f"module options: {'; '.join(remedy.modprobe)}")
    if remedy.sysctl:
        lines.append("sysctls: " + ", ".join(f"{k} = {v}" for k, v in remedy.sysctl.items()))
    if remedy.kind != "manual":
        lines.append("needs a reboot" if remedy.reboot_required else "no reboot needed")
    text = Content(printable("\n".join(lines)) + "\n")
    if not fixable(finding):
        return text + Content.styled(
            "hostcheck does not make this change: it is a manual step.", "italic"
        )
    if marked:
        return text + Content.styled("✔ marked: part of the plan (p). Space unmarks.", "bold green")
    return text + Content.styled("Not marked: space marks it for the plan (p).", "italic")


_DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def diff_lines(text: str) -> Content:
    """A unified diff, coloured by line kind; the +/- signs keep it readable without colour."""
    lines = []
    for line in text.rstrip("\n").splitlines():
        style = next((s for prefix, s in _DIFF_STYLES if line.startswith(prefix)), "")
        shown = printable(line)
        lines.append(Content.styled(shown, style) if style else Content(shown))
    return Content("\n").join(lines)
