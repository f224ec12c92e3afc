"""One line for a node-problem-detector custom plugin (``scan --format npd``).

NPD's custom plugin protocol: the plugin's exit status says the condition (0 OK, 1 problem,
anything else unknown) and its standard output, cut at the config's ``max_output_length``
(80 by default), becomes the condition's message. So the line says the verdict first and
then the blocking rules, worst first, and never exceeds :data:`MAX_LENGTH` characters; the
exit status comes from the CLI (0 ready, 1 not ready, 2/3 a scan that could not run).
"""

from __future__ import annotations

from hostcheck.model import Report
from hostcheck.render import printable

MAX_LENGTH = 80


def render(report: Report) -> str:
    blocking = [f.rule.id for f in report.sorted_findings() if f.blocks(report.fail_on)]
    if report.ready:
        line = f"hostcheck: READY for {report.profile}"
    elif not blocking:  # no finding blocks, but there is no Strix Halo GPU (--select)
        line = "hostcheck: NOT READY: no Strix Halo GPU found"
    else:
        line = "hostcheck: NOT READY:"
        for index, rule in enumerate(blocking):
            rest = len(blocking) - index - 1
            more = f" +{rest} more" if rest else ""
            candidate = f"{line} {rule}" if index == 0 else f"{line}, {rule}"
            if len(candidate) + len(more) > MAX_LENGTH:
                line += f" +{len(blocking) - index} more"
                break
            line = candidate
    line = printable(line).replace("\n", " ").replace("\t", " ")
    return line[:MAX_LENGTH] + "\n"
