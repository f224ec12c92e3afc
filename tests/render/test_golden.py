"""Every report format of every bundled fixture is byte-for-byte what it was before the speed
work (issue #15): the golden files in tests/data/golden/ were generated from the code before it
changed (and, since, deliberately regenerated where rules and report fields changed). Only
the run's time, its durations and the checkout's path are masked.

The plain-text table (``table`` piped or written to a file) is the one deliberate change: it
no longer draws boxes (the terminal keeps rich's table); its golden files are of the new form.

They are made with a fixed set of rules (conftest.GOLDEN_RULES, today's files of them): a rule
added to the catalog changes none of them, a change to one of those rules shows here.

Regenerate deliberately with `python tools/regen.py --write` (it sets HOSTCHECK_REGEN_GOLDEN=1
for this test and prints the diff to review).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_NAMES, REPO, expected

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
FORMATS = {"json": "json", "markdown": "md", "junit": "xml", "table": "txt"}


def _masked(text: str) -> str:
    text = text.replace(str(REPO), "<REPO>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<TIME>", text)
    text = re.sub(r'("duration_seconds": )[0-9.e-]+', r"\1<SECONDS>", text)
    text = re.sub(r'( time=")[0-9.e-]+"', r'\1<SECONDS>"', text)  # JUnit's run times
    return re.sub(r"(hostcheck_scan_duration_seconds )[0-9.e-]+", r"\1<SECONDS>", text)


def _check(name: str, produced: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HOSTCHECK_REGEN_GOLDEN"):
        path.write_text(produced, encoding="utf-8")
    assert produced == path.read_text(encoding="utf-8"), f"{name} changed"


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_report_bytes_are_unchanged(cli, golden_rules: str, fixture: str, fmt: str) -> None:
    args = ("--format", fmt, "--rules", golden_rules, *expected(fixture)["args"])
    run = cli("scan", "--fixture", fixture, *args)
    assert run.code in (0, 1), run.err
    _check(f"{fixture}.{FORMATS[fmt]}", _masked(run.out))


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_prometheus_bytes_are_unchanged(golden_rules: str, fixture: str) -> None:
    from hostcheck.checks.session import Source, scan
    from hostcheck.render import prometheus

    args = expected(fixture)["args"]
    python = args[args.index("--python") + 1] if "--python" in args else None
    report = scan(Source(fixture=fixture, python=python, rules_dir=golden_rules)).report
    _check(f"{fixture}.prom", _masked(prometheus.render(report, timestamp=1_700_000_000.0)))


# What a user reads besides reports: every command's --help, the catalog listings and a
# rule's documentation, a fix preview, and the messages and exit codes of mistakes. The
# restructuring of issue #16 must leave all of them byte for byte as they were.
COMMANDS = [
    "scan",
    "monitor",
    "rules",
    "explain",
    "fixtures",
    "fix",
    "tui",
    "nfd",
    "preflight-jobs",
    "fleet",
    "snapshot",
    "functional-job",
]
CLI_TEXTS: dict[str, tuple[str, ...]] = {
    "help": ("--help",),
    **{f"help-{name}": (name, "--help") for name in COMMANDS},
    "rules": ("rules",),
    "explain": ("explain", "memory.gtt"),
    "fixtures": ("fixtures",),
    "fix-preview": ("fix", "--fixture", "stock-128g"),
    "fix-emit-machineconfig": ("fix", "--fixture", "stock-128g", "--emit", "machineconfig"),
    "error-no-command": (),
    "error-unknown-command": ("bogus",),
    "error-unknown-fixture": ("scan", "--fixture", "no-such-host"),
    "error-unknown-format": ("scan", "--fixture", "stock-128g", "--format", "yaml"),
    "error-unknown-rule": ("explain", "no.such-rule"),
    "error-unknown-select": ("scan", "--fixture", "stock-128g", "--select", "nope.*"),
    "error-root-missing": ("scan", "--root", "/nonexistent/hostcheck-root"),
    "error-config-missing": ("scan", "--fixture", "stock-128g", "--config", "/nonexistent.toml"),
    "error-profile": ("scan", "--fixture", "stock-128g", "--profile", "no-such-profile"),
    "error-fleet-missing": ("fleet", "/nonexistent/reports"),
    "error-fix-conflict": ("fix", "--fixture", "stock-128g", "--apply", "--history"),
    "error-timeout": ("scan", "--fixture", "stock-128g", "--timeout", "-1"),
    "error-rules-dir": ("scan", "--fixture", "stock-128g", "--rules", "/nonexistent/rules"),
}


@pytest.mark.parametrize("name", sorted(CLI_TEXTS))
def test_cli_texts_are_unchanged(
    cli, monkeypatch: pytest.MonkeyPatch, golden_rules: str, name: str
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("HOSTCHECK_CONFIG", raising=False)
    args = CLI_TEXTS[name]
    if args[:1] in (("scan",), ("fix",), ("rules",), ("explain",)) and not {"--help", "--rules"} & {
        *args
    }:
        args = (*args, "--rules", golden_rules)  # the golden set of rules (see the docstring)
    run = cli(*args)
    text = f"exit {run.code}\n--- stdout\n{run.out}--- stderr\n{run.err}"
    # the copy stands for the bundled rules (`explain` names the file that defines a rule)
    text = text.replace(golden_rules, str(REPO / "rules"))
    _check(f"cli-{name}.txt", _masked(text))
