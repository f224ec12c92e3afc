"""`hostcheck tui`: an interactive review of a scan, its fix plan, apply and undo (Textual).

Only presentation lives here. The scan (hostcheck.checks.session), the choice of findings
(hostcheck.tui.review, hostcheck.fix.plan.fixable), the plan (hostcheck.fix.plan), the changes
(hostcheck.fix.transaction) and the words after them (hostcheck.fix.outcome) are the core's,
called from worker threads; no screen reads the host. The app (app.py) owns the state
(state.py) and hands it to the screens (screens/, one a module), which ask for work by
posting messages. Nothing outside this package imports textual: tests/tui/test_tui.py proves it
in a subprocess, and the import-linter contracts (pyproject.toml) on every import.
"""
