"""`hostcheck scan`: check a host and report (the main job)."""

from __future__ import annotations

import os
import sys

from hostcheck.cli import common
from hostcheck.cli.common import EXIT_NOT_READY, EXIT_READY, UsageError
from hostcheck.cli.options import Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCAN_EPILOG = """\
exit status: 0 ready; 1 not ready (a fail, an error in a critical/high rule, any warning or
             error with --fail-on warn, or no Strix Halo GPU); 2 usage or input error;
             3 internal error. --exit-zero: 0 instead of 1 (the report still says it).

examples:
  hostcheck scan                                  check this host
  sudo hostcheck scan --user vllm --python /opt/vllm/bin/python
  hostcheck scan --fixture stock-128g             a bundled sample host (hostcheck fixtures)
  hostcheck scan --root /host --host-mount        in a container with the host's / at /host
  hostcheck scan --root bug.tar.gz                a snapshot (`hostcheck snapshot`)
  hostcheck scan --format json --output report.json --fail-on warn
  hostcheck scan --root /host --host-mount --format npd   a node-problem-detector plugin
"""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    scan = commands.add_parser(
        name,
        help=help_text,
        description=common.DESCRIPTION,
        epilog=SCAN_EPILOG,
    )
    common.add_source_options(scan)
    common.add_functional_options(scan)
    out = scan.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=["table", "json", "junit", "markdown", "npd"],
        default="table",
        help="report format (default: table); npd: one line of at most 80 characters for a "
        "node-problem-detector custom plugin, whose exit status contract (0 OK, 1 problem, "
        "other unknown) the exit status already follows",
    )
    out.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE instead of standard output: a regular file is replaced "
        "atomically, a link's file replaced and the link kept, a character device (/dev/null) "
        "or FIFO written into, a block device, socket or directory refused",
    )
    common.add_fail_on(out)
    out.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 when the report was produced, ready or not (report-only runs); usage and "
        "internal errors still exit 2 and 3",
    )
    out.add_argument(
        "--select",
        metavar="RULE",
        action="append",
        default=[],
        help="run only this rule (repeatable)",
    )
    out.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="table: show the evidence and the fix of every finding",
    )
    out.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="table colours (default: auto, off when NO_COLOR is set or output is not a terminal)",
    )


def cmd_scan(args: Options, shown_root: str | None = None) -> int:
    from_archive = common.archive_root(args, cmd_scan)
    if from_archive is not None:
        return from_archive
    if args.force and not args.functional:
        raise UsageError("--force goes with --functional")
    report, _facts, _host = common.scan(args, shown_root)
    if args.format == "table":
        to_terminal = not args.output and sys.stdout.isatty()
        color = args.color == "always" or (
            args.color == "auto" and to_terminal and "NO_COLOR" not in os.environ
        )
        if to_terminal or color:
            from hostcheck.render.table import render

            width = os.get_terminal_size().columns if to_terminal else 100
            text = render(report, color=color, width=max(width, 60), verbose=args.verbose)
        else:  # a pipe or a file: the same table in plain text, without rich
            from hostcheck.render import text as plain

            text = plain.render(report, width=100, verbose=args.verbose)
    else:
        from hostcheck.render import renderer

        text = renderer(args.format)(report)
    code = EXIT_READY if report.ready or getattr(args, "exit_zero", False) else EXIT_NOT_READY
    if args.output:
        common.write_output(args.output, text)
        return code
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): the verdict still stands in the exit status.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


run = cmd_scan
