"""`hostcheck tui`: an interactive review of a scan, its fix plan, apply and undo (Textual).

Only presentation lives here. The scan (hostcheck.checks.session), the choice of findings
(hostcheck.tui.review), the plan (hostcheck.fix.plan) and the changes (hostcheck.fix.apply) are the
core's, called from worker threads; no screen reads the host. Nothing outside this package
imports textual (tests/test_tui.py proves it in a subprocess).
"""
