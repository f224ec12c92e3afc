"""What the screens show and the app changes: the source, the last scan, the marked fixes and
whether a change runs. The app owns it and hands it down; the review changes only the marks.
No screen reads the app, so the screens need not import it."""

from __future__ import annotations

from hostcheck.checks.session import Scan, Source
from hostcheck.model import Report


class State:
    def __init__(self, source: Source, start_filter: str | None = None) -> None:
        self.source = source
        # The review's first filter (default: what needs attention, or all on a host where
        # nothing does).
        self.start_filter = start_filter
        self.current: Scan | None = None  # the last scan that succeeded, None after a failure
        self.marked: set[str] = set()  # rule ids whose fixes the plan takes (none: all)
        # "Applying" or "Undoing" while a change runs: plan, apply, undo and rescan wait.
        self.busy: str | None = None

    @property
    def report(self) -> Report | None:
        return self.current.report if self.current else None
