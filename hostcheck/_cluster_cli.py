"""Subcommands for clusters: ``hostcheck nfd`` (node labels through Node Feature Discovery)
and ``hostcheck fleet`` (many nodes' reports summarised). Composition and output only: the
labels come from hostcheck/render/nfd.py, the summary from hostcheck/fleet.py."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from hostcheck._cli import EXIT_NOT_READY, EXIT_READY, EXIT_USAGE, UsageError

# render/nfd.py's FEATURES_DIR, spelled out here so that building the parser imports nothing.
NFD_FILE = "/etc/kubernetes/node-feature-discovery/features.d/hostcheck"
DAY = 86400

NFD_EPILOG = """\
nfd-worker turns the file's lines into node labels (hostcheck.feature.node.kubernetes.io/ready,
/profile, and one per rule area that fails, errs or warns). The file is replaced atomically and
carries an expiry time, so a node whose checker stopped loses its labels.

exit status: once: 0 ready, 1 not ready, 2 usage error. With --every it runs until stopped
(SIGTERM, SIGINT) and then exits 0; a file it cannot write stops it with status 2.

examples:
  hostcheck nfd --root /host --host-mount --every 3600      the DaemonSet in deploy/
  hostcheck nfd --fixture stock-128g --output ./hostcheck   once, to see the labels
"""

FLEET_EPILOG = """\
A pool is the set of reports in one directory (e.g. reports/worker/*.json). A rule is
INCONSISTENT in a pool when its nodes do not all have the same status.

exit status: 0 every node ready; 1 some node not ready; 2 usage error, or a report could not
be read (it is named, and the others are still summarised).

examples:
  for pod in $(oc get pods -n hostcheck -l app.kubernetes.io/component=preflight -o name); do
    oc logs -n hostcheck "$pod" > "reports/worker/${pod#pod/}.json"; done
  hostcheck fleet reports/
  hostcheck fleet reports/ --format json --output fleet.json
"""


def add_commands(
    commands: Any,
    formatter: type[argparse.HelpFormatter],
    add_source_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    nfd = commands.add_parser(
        "nfd",
        help="publish this host's verdict as node labels (Node Feature Discovery feature file)",
        description="Scan the host and write its verdict as a Node Feature Discovery local "
        "feature file, once or every SECONDS.",
        epilog=NFD_EPILOG,
        formatter_class=formatter,
    )
    add_source_options(nfd)
    out = nfd.add_argument_group("output")
    out.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        default=NFD_FILE,
        help=f"the feature file to write (default: {NFD_FILE})",
    )
    out.add_argument(
        "--every",
        metavar="SECONDS",
        type=float,
        help="scan again every SECONDS until stopped (default: once)",
    )
    out.add_argument(
        "--expiry",
        metavar="SECONDS",
        type=float,
        help="labels expire SECONDS after each scan (default: 3 × --every, so two missed "
        "rounds drop them; one day when run once)",
    )
    out.add_argument(
        "--fail-on",
        choices=["warn", "fail"],
        default="fail",
        help="the lowest status that makes the host not ready (default: fail)",
    )
    nfd.set_defaults(select=[])

    fleet = commands.add_parser(
        "fleet",
        help="summarise many nodes' JSON reports (per rule and node, version spread)",
        description="Summarise JSON reports of many nodes: each rule's status per node, "
        "INCONSISTENT where nodes of one pool disagree, the spread of kernel, ROCm and MES "
        "firmware versions, and how many nodes are ready.",
        epilog=FLEET_EPILOG,
        formatter_class=formatter,
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


# -- hostcheck nfd ----------------------------------------------------------------------------
class _Stop:
    """SIGTERM / SIGINT ask the loop to stop between rounds: a feature file is never left
    half-written, and a pod that is deleted exits 0 within a second."""

    requested = False

    @classmethod
    def install(cls) -> None:
        import signal

        cls.requested = False

        def handler(signum: int, frame: object) -> None:
            cls.requested = True

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def cmd_nfd(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime, timedelta

    from hostcheck._cli import _scan_report, _write_output
    from hostcheck.render.nfd import render

    if args.every is not None and args.every <= 0:
        raise UsageError("--every must be a positive number of seconds")
    expiry = args.expiry if args.expiry is not None else 3 * args.every if args.every else DAY
    if expiry <= 0:
        raise UsageError("--expiry must be a positive number of seconds")
    if args.every is not None and expiry <= args.every:
        raise UsageError(
            f"--expiry {expiry:g} must be longer than --every {args.every:g}, "
            "or the labels lapse between rounds"
        )
    directory = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(directory):
        raise UsageError(
            f"--output {args.output}: no directory {directory} (mount the host's features.d there)"
        )
    if args.every is not None:
        _Stop.install()
    while True:
        started = time.monotonic()
        report = _scan_report(args)
        expires = datetime.now(UTC) + timedelta(seconds=expiry)
        _write_output(args.output, render(report, expires=expires))
        counts = report.summary
        verdict = "READY" if report.ready else "NOT READY"
        print(
            f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {_oneline(report.hostname)}: {verdict} "
            f"({counts['fail']} fail, {counts['error']} error, {counts['warn']} warn); "
            f"labels in {args.output} until {expires:%Y-%m-%dT%H:%M:%SZ}",
            flush=True,
        )
        if args.every is None:
            return EXIT_READY if report.ready else EXIT_NOT_READY
        while not _Stop.requested and time.monotonic() - started < args.every:
            time.sleep(min(1.0, max(0.0, args.every - (time.monotonic() - started))))
        if _Stop.requested:
            print("hostcheck nfd: stopped", flush=True)
            return EXIT_READY


def _oneline(text: str) -> str:
    from hostcheck.render import printable

    return printable(text).replace("\n", "\\n")


# -- hostcheck fleet --------------------------------------------------------------------------
def cmd_fleet(args: argparse.Namespace) -> int:
    from hostcheck import fleet as fleet_mod
    from hostcheck._cli import _write_output
    from hostcheck.render.fleet import render_json_pieces, render_table

    fleet = fleet_mod.load(args.reports)
    for item in fleet.unreadable:
        print(f"hostcheck: error: {item.source}: {item.reason}", file=sys.stderr)
    if not fleet.nodes:
        raise UsageError("no readable report among the given paths")
    # JSON is written as it is made: the summary of 100,000 nodes is never held whole.
    pieces = render_json_pieces(fleet) if args.format == "json" else iter([render_table(fleet)])
    if args.output:
        _write_output(args.output, pieces)
    else:
        sys.stdout.writelines(pieces)
        sys.stdout.flush()
    if fleet.unreadable:
        return EXIT_USAGE
    return EXIT_READY if fleet.ready == len(fleet.nodes) else EXIT_NOT_READY
