"""Command line: the top-level parser, dispatch to the command being run, and the one exit
point.

Each command lives in its own module under hostcheck/cli/: ``add_parser`` declares its options,
``run`` runs it; only the module of the command on the command line is imported. A plain
command line is read without argparse (hostcheck/cli/options.py); help, usage errors and
anything else go through argparse (hostcheck/cli/parser.py), where only the named command's
parser is built in full and the others are listed with their one-line help from the table below.

Exit codes (DESIGN.md): 0 ready, 1 not ready, 2 usage or input error, 3 internal error.
"""

from __future__ import annotations

import os
import sys

from hostcheck.cli.common import EXIT_INTERNAL, EXIT_NOT_READY, EXIT_USAGE
from hostcheck.cli.options import Options, parse_plain, recorded

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from hostcheck.cli.options import Command

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
    # __import__ with a fromlist returns the submodule itself; importlib's package costs ~0.25 ms
    return __import__(f"hostcheck.cli.{name}", fromlist=["run"])


def _declare(module: str) -> Any:
    """The ``add_parser`` of command module ``module``: it declares the command's options."""
    return _module(module).add_parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on a command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argparse parser: the whole one, or (given the command line) one whose only fully
    built subcommand is the one the command line names (hostcheck/cli/parser.py)."""
    from hostcheck import __version__
    from hostcheck.cli.parser import build_parser as build

    wanted = None if argv is None else (_command_in(argv) or "")
    return build(COMMANDS, _declare, __version__, wanted)


def recorded_command(name: str) -> Command | None:
    """Command ``name``'s options as its module declares them, or None for no such command."""
    row = next((row for row in COMMANDS if row[0] == name), None)
    return None if row is None else recorded(name, _declare(row[2]), row[1])


def parse(argv: Sequence[str]) -> Options:
    """The options of a command line: read directly when it is a plain one (the command, then
    its options), else by argparse, which also prints help and usage errors (exit 2)."""
    command = recorded_command(argv[0]) if argv else None
    options = parse_plain(command, argv[1:]) if command is not None else None
    return options or build_parser(argv).parse_args(argv, namespace=Options())


def main(argv: Sequence[str] | None = None) -> int:
    line = sys.argv[1:] if argv is None else argv
    args = parse(line)
    if args.command is None:
        build_parser(line).print_help()
        return EXIT_USAGE
    from hostcheck.cli.common import fatal
    from hostcheck.errors import INTERNAL, HostcheckError

    module = _module(next(module for name, _, module in COMMANDS if name == args.command))
    try:
        code: int = module.run(args)
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
    if argv is None and args.command != "tui":
        _leave(code)
    return code


def _leave(code: int) -> None:
    """End the program now that the command is done and its output flushed, skipping the
    interpreter's teardown: freeing the modules a scan imported costs ~6 ms of CPU, a tenth of
    the whole run (benchmarks/bench_scan.py). hostcheck registers no exit handlers and leaves
    no file unclosed. Only for the program itself (main() without argv: callers in the same
    process get the code back), and not for the TUI, whose toolkit restores the terminal in
    exit handlers. Output that cannot be flushed (a closed pipe) takes the ordinary exit, which
    reports it as it always did."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)
