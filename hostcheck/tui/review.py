"""What an interactive review shows of a report, decided here and not in a screen: which
findings a filter and a search keep, where a reference points (which ones hostcheck can fix
is the plan's choice: hostcheck.fix.plan.fixable).

Pure functions of the report; no user interface is imported (the TUI and its tests use them).
"""

import re
from typing import TYPE_CHECKING

from hostcheck.model import Status

if TYPE_CHECKING:
    from hostcheck.model import Finding, Report

# The filter cycles through these: everything; what needs attention (failing, could not be
# checked, fixed pending a reboot, warnings; not what a waiver accepted); only what blocks
# (failing, could not be checked).
FILTERS: dict[str, tuple[Status, ...]] = {
    "all": tuple(Status),
    "problems": (Status.FAIL, Status.ERROR, Status.PENDING, Status.WARN),
    "failing": (Status.FAIL, Status.ERROR),
}


def opening_filter(report: "Report") -> str:
    """The filter a review opens on: what needs attention, or everything on a host where
    nothing does (an empty list would read as a failed scan)."""
    return "problems" if visible(report, "problems") else "all"


def next_filter(name: str) -> str:
    names = list(FILTERS)
    return names[(names.index(name) + 1) % len(names)]


def matches(finding: "Finding", query: str) -> bool:
    """Case-insensitive search over what a person reads: rule id, title, message, evidence
    values and sources, and the proposed fix."""
    if not query:
        return True
    needle = query.casefold()
    haystack = [finding.rule.id, finding.rule.title, finding.message, finding.status.value]
    for item in finding.evidence:
        haystack += [item.label, str(item.value), item.source, item.note or ""]
    if finding.remediation is not None:
        haystack.append(finding.remediation.summary)
    if finding.waiver is not None:
        haystack.append(finding.waiver.note())
    return any(needle in text.casefold() for text in haystack)


def visible(report: "Report", filter_name: str = "all", query: str = "") -> list["Finding"]:
    """The findings to list, grouped by area with the worst area first, failing first within
    (Report.sorted_findings), that pass the filter and the search."""
    keep = FILTERS[filter_name]
    return [f for f in report.sorted_findings() if f.status in keep and matches(f, query)]


_ISSUE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)#(\d+)$")
_REPO = re.compile(r"^([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)$")


def reference_url(reference: str) -> str | None:
    """Where a catalog reference can be read: ``owner/repo#N`` is a GitHub issue or pull
    request (GitHub redirects /issues/N to a pull request), ``owner/repo`` a repository.
    A public URL is its own address (the catalog's references are URLs since its 2026-12
    review). Anything else has none."""
    if reference.startswith("https://"):
        return reference
    issue = _ISSUE.match(reference)
    if issue:
        owner, repo, number = issue.groups()
        return f"https://github.com/{owner}/{repo}/issues/{number}"
    repo_only = _REPO.match(reference)
    if repo_only:
        return f"https://github.com/{reference}"
    return None
