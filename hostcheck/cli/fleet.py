"""`hostcheck fleet`: many nodes' JSON reports summarised (hostcheck/cluster/fleet.py)."""

from __future__ import annotations

import sys
from typing import Any

from hostcheck.cli import common
from hostcheck.cli.common import EXIT_NOT_READY, EXIT_READY, EXIT_USAGE, UsageError
from hostcheck.cli.options import Options

FLEET_EPILOG = """\
A pool is the set of reports in one directory (e.g. reports/worker/*.json). A rule is
INCONSISTENT in a pool when its nodes do not all have the same status. A file that is not one
JSON report is read as a log stream: JSON reports one after the other, as `kubectl logs` prints
them, with or without its --prefix ("[pod/NAME/CONTAINER] " before each line); "-" is
standard input.

exit status: 0 every node ready; 1 some node not ready; 2 usage error, or a report could not
be read (it is named, and the others are still summarised).

examples:
  kubectl logs -n hostcheck -l hostcheck.io/preflight-run=RUN --prefix --tail=-1 \\
    --max-log-requests=50 | hostcheck fleet -
  hostcheck fleet reports/
  hostcheck fleet reports/ --format json --output fleet.json
"""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    fleet = commands.add_parser(
        name,
        help=help_text,
        description="Summarise JSON reports of many nodes: each rule's status per node, "
        "INCONSISTENT where nodes of one pool disagree, the spread of kernel, ROCm and MES "
        "firmware versions, and how many nodes are ready.",
        epilog=FLEET_EPILOG,
    )
    fleet.add_argument(
        "reports",
        metavar="REPORT",
        nargs="+",
        help="a JSON report (`hostcheck scan --format json`) or a directory of them",
    )
    fleet.add_argument(
        "--format", choices=["table", "json"], default="table", help="default: table"
    )
    fleet.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically)")


def cmd_fleet(args: Options) -> int:
    from hostcheck.cluster import fleet as fleet_mod
    from hostcheck.cluster.fleet_render import render_json_pieces, render_table
    from hostcheck.host.safeio import printable

    fleet = fleet_mod.load(args.reports)
    for item in fleet.unreadable:
        print(f"hostcheck: error: {printable(f'{item.source}: {item.reason}')}", file=sys.stderr)
    if not fleet.nodes:
        raise UsageError("no readable report among the given paths")
    # JSON is written as it is made: the summary of 100,000 nodes is never held whole.
    pieces = render_json_pieces(fleet) if args.format == "json" else iter([render_table(fleet)])
    if args.output:
        common.write_output(args.output, pieces)
    else:
        sys.stdout.writelines(pieces)
        sys.stdout.flush()
    if fleet.unreadable:
        return EXIT_USAGE
    return EXIT_READY if fleet.ready == len(fleet.nodes) else EXIT_NOT_READY


run = cmd_fleet
