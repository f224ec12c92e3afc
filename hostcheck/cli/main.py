"""Command line: the top-level parser, dispatch to the command being run, and the one exit
point.

Each command lives in its own module under hostcheck/cli/ (``add_parser`` and ``run``); only the
module of the command on the command line is imported, and only its parser is built in full.
The others are listed with their one-line help from the table below.

Exit codes (DESIGN.md): 0 ready, 1 not ready, 2 usage or input error, 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from hostcheck.cli.common import DESCRIPTION, EXIT_INTERNAL, EXIT_NOT_READY, EXIT_USAGE, Formatter

# name, one-line help (for `hostcheck --help`), the module under hostcheck/cli/ that builds
# its parser and runs it; in the order `hostcheck --help` lists them.
COMMANDS = (
    ("scan", "check a host and report (the main job)", "scan"),
    (
        "monitor",
        "one check for a timer: store the report, log what changed, write metrics",
        "monitor",
    ),
    ("rules", "list the rule catalog", "catalog"),
    ("explain", "print a rule's full documentation", "catalog"),
    ("fixtures", "list the bundled sample hosts", "catalog"),
    ("fix", "preview, apply and undo fixes (kernel arguments, module options, sysctls)", "fix"),
    ("tui", "review findings, plans and fixes interactively (needs a terminal)", "tui"),
    (
        "nfd",
        "publish this host's verdict as node labels (Node Feature Discovery feature file)",
        "nfd",
    ),
    ("preflight-jobs", "print one preflight Job per node (JSON for `kubectl create -f -`)", "jobs"),
    ("fleet", "summarise many nodes' JSON reports (per rule and node, version spread)", "fleet"),
    (
        "snapshot",
        "record this host into a replayable, redacted snapshot (for bug reports)",
        "snapshot",
    ),
    (
        "functional-job",
        "print a Kubernetes ConfigMap + Job that runs the functional GPU probe in a serving image",
        "jobs",
    ),
)


def _module(name: str) -> Any:
    """The command module hostcheck/cli/NAME.py (imported on first use)."""
    import importlib

    return importlib.import_module(f"hostcheck.cli.{name}")


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on a command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given the command line) one whose only fully built subcommand
    is the one the command line names: the others get a parser with their one-line help only
    (for `hostcheck --help` and argparse's "invalid choice" list), and their modules are not
    imported."""
    from hostcheck import __version__

    parser = argparse.ArgumentParser(
        prog="hostcheck", description=DESCRIPTION, formatter_class=Formatter
    )
    parser.add_argument("--version", action="version", version=f"hostcheck {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None if argv is None else (_command_in(argv) or "")
    for name, help_text, module in COMMANDS:
        if wanted is None or name == wanted:
            _module(module).add_parser(commands, name, help_text)
        else:
            # No -h of its own and hostcheck's formatter: argparse's default one would import
            # shutil (and bz2, lzma) for the terminal width while adding -h.
            commands.add_parser(name, help=help_text, add_help=False, formatter_class=Formatter)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from hostcheck.cli.common import fatal
    from hostcheck.errors import INTERNAL, HostcheckError

    module = _module(next(module for name, _, module in COMMANDS if name == args.command))
    try:
        code: int = module.run(args)
        return code
    except KeyboardInterrupt:
        fatal("interrupted", 130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_READY
    except Exception as exc:
        # A user's mistake or an unusable input: one line, exit 2 (1 for a failed fix step).
        if isinstance(exc, HostcheckError) and exc.kind != INTERNAL:
            fatal(exc.shown(), exc.exit_code)
        if os.environ.get("HOSTCHECK_DEBUG"):
            raise
        fatal(
            f"internal error: {type(exc).__name__}: {exc} — please report it "
            "(set HOSTCHECK_DEBUG=1 for the traceback)",
            EXIT_INTERNAL,
        )
