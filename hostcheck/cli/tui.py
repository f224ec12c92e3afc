"""`hostcheck tui`: review findings, plans and fixes interactively (hostcheck/tui/)."""

from __future__ import annotations

import sys
from typing import Any

from hostcheck.cli import common
from hostcheck.cli.common import UsageError
from hostcheck.cli.options import Options

TUI_DESCRIPTION = """\
Walk through a host's findings before putting it into service: what is wrong and why, the
evidence and the command to see it yourself, the exact change each fix makes; mark the fixes
you agree with, review the plan, apply it (after a confirmation; on the live host as root,
under --root to the copy only), see the rescan, undo. Press ? inside for every key."""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    tui = commands.add_parser(name, help=help_text, description=TUI_DESCRIPTION)
    common.add_source_options(tui)


def cmd_tui(args: Options, shown_root: str | None = None) -> int:
    from importlib.util import find_spec

    from hostcheck.checks.session import check

    if find_spec("textual") is None:  # a dependency; only hostcheck.tui imports it
        raise UsageError(
            "the TUI needs Textual, which this installation lacks: "
            "pip install 'strixhalo-hostcheck' (it depends on textual)"
        )
    from_archive = common.archive_root(args, cmd_tui)
    if from_archive is not None:
        return from_archive
    source = common.source(args, shown_root)
    check(source)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "hostcheck tui needs a terminal (standard input and output are not one); "
            "in scripts use `hostcheck scan` and `hostcheck fix`"
        )
    from hostcheck.tui.app import HostcheckApp

    HostcheckApp(source).run()
    return 0


run = cmd_tui
