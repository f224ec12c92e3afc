"""Subcommands for clusters: ``hostcheck nfd`` (node labels through Node Feature Discovery)
and ``hostcheck fleet`` (many nodes' reports summarised). Composition and output only: the
labels come from hostcheck/render/nfd.py, the summary from hostcheck/cluster/fleet.py."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from hostcheck.cli.main import EXIT_NOT_READY, EXIT_READY, EXIT_USAGE, UsageError, seconds_argument

# render/nfd.py's FEATURES_DIR, spelled out here so that building the parser imports nothing.
NFD_FILE = "/etc/kubernetes/node-feature-discovery/features.d/hostcheck"
DAY = 86400
LONGEST = 10 * 366 * DAY  # --every/--expiry: ten years, so the expiry time stays a date

NFD_EPILOG = """\
nfd-worker turns the file's lines into node labels (hostcheck.feature.node.kubernetes.io/ready,
/profile, and one per rule area that fails, errs or warns). The file is replaced atomically and
carries an expiry time, so a node whose checker stopped loses its labels.

exit status: once: 0 ready, 1 not ready, 2 usage error. With --every it runs until stopped
(SIGTERM, SIGINT) and then exits 0; a file it cannot write stops it with status 2.

examples:
  hostcheck nfd --root /host --host-mount --every 3600      the DaemonSet in deploy/
  hostcheck nfd --fixture stock-128g --output ./hostcheck   once, to see the labels
  hostcheck nfd --functional --python /opt/vllm/bin/python  once, with functional-* labels
"""

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

PREFLIGHT_EPILOG = """\
Jobs are created, not applied: each round has its own names (--run). The Job's result is the
scan's exit status (Complete: ready; Failed: not ready or could not scan), its log the report.

exit status: 0 printed; 2 usage error (no node names on standard input).

examples:
  kubectl get nodes -l feature.node.kubernetes.io/pci-1002.present=true -o name \\
    | hostcheck preflight-jobs --image registry.example.com/hostcheck:0.1.0 --run r1 \\
    | kubectl create -f -
  kubectl wait -n hostcheck --for=condition=complete -l hostcheck.io/preflight-run=r1 \\
    job --timeout=10m
  kubectl logs -n hostcheck -l hostcheck.io/preflight-run=r1 --prefix --tail=-1 \\
    --max-log-requests=50 | hostcheck fleet -
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
    from hostcheck.cli.main import _add_functional_options

    _add_functional_options(nfd)  # once only: the labels then carry what the GPU proved
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
        type=seconds_argument(LONGEST),
        help="scan again every SECONDS until stopped (default: once)",
    )
    out.add_argument(
        "--expiry",
        metavar="SECONDS",
        type=seconds_argument(LONGEST),
        help="labels expire SECONDS after each scan (default: 3 × --every, so two missed "
        "rounds drop them; one day when run once)",
    )
    out.add_argument(
        "--fail-on",
        choices=["warn", "fail"],
        default="fail",
        help="the lowest status that makes the host not ready (default: fail)",
    )
    out.add_argument(
        "--metrics-listen",
        metavar="[HOST]:PORT",
        help="with --every: serve the last scan's Prometheus metrics at http://HOST:PORT/metrics "
        "(read-only, from memory; /healthz is 503 once no scan finished within --expiry), "
        "e.g. :9464",
    )
    nfd.set_defaults(select=[])

    jobs = commands.add_parser(
        "preflight-jobs",
        help="print one preflight Job per node (JSON for `kubectl create -f -`)",
        description="Print a Kubernetes List of preflight Jobs, one pinned to each node named "
        "on standard input (the output of `kubectl get nodes -l SELECTOR -o name`), each "
        "scanning its node once with the DaemonSet's least privileges. Their logs are JSON "
        "reports that `hostcheck fleet` reads as they come.",
        epilog=PREFLIGHT_EPILOG,
        formatter_class=formatter,
    )
    jobs.add_argument(
        "--image",
        required=True,
        help="the hostcheck image: the one set in deploy/base/kustomization.yaml (images:)",
    )
    jobs.add_argument("--namespace", "-n", default="hostcheck", help="default: hostcheck")
    jobs.add_argument(
        "--run",
        metavar="ID",
        help="names this round's Jobs and labels them hostcheck.io/preflight-run=ID "
        "(default: the UTC time, e.g. 20261207t0300)",
    )
    jobs.add_argument(
        "--openshift",
        action="store_true",
        help="add the SELinux type spc_t the hostcheck SCC allows (deploy/overlays/openshift)",
    )

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

    from hostcheck.cli.main import _scan, _write_output
    from hostcheck.render.nfd import render

    # Both finite and positive (seconds_argument), so the expiry time is a date.
    if args.functional and args.every is not None:
        raise UsageError("--functional runs once: it uses the GPU, so not with --every")
    if args.force and not args.functional:
        raise UsageError("--force goes with --functional")
    expiry = args.expiry if args.expiry is not None else 3 * args.every if args.every else DAY
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
    metrics = None
    if args.metrics_listen is not None:
        from hostcheck.cluster import metrics as cluster

        if args.every is None:
            raise UsageError("--metrics-listen goes with --every (a single scan serves nothing)")
        metrics = cluster.MetricsState(stale_after=expiry)
        try:
            server = cluster.serve_metrics(args.metrics_listen, metrics)
        except ValueError as exc:
            raise UsageError(f"--metrics-listen: {exc}") from None
        except OSError as exc:
            raise UsageError(
                f"--metrics-listen {args.metrics_listen}: {exc.strerror or exc}"
            ) from None
        host, port = server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        print(f"hostcheck nfd: metrics at http://{host}:{port}/metrics", flush=True)
    if args.every is not None:
        _Stop.install()
    while True:
        started = time.monotonic()
        report, facts, _host = _scan(args)
        expires = datetime.now(UTC) + timedelta(seconds=expiry)
        _write_output(args.output, render(report, expires=expires))
        if metrics is not None:
            metrics.update(_metrics(args, report, facts))
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


def _metrics(
    args: argparse.Namespace, report: Any, facts: Any, finished: float | None = None
) -> str:
    """The Prometheus text of a scan, with the gauges taken from its facts (nfd and monitor)."""
    import time

    from hostcheck.checks.catalog import load_catalog
    from hostcheck.cluster import metrics as cluster
    from hostcheck.render import prometheus

    profile = load_catalog(getattr(args, "rules", None))[1].get(report.profile)
    gauges = cluster.gauges(report, facts, profile.required_gib if profile else None)
    when = time.time() if finished is None else finished
    return prometheus.render(report, timestamp=when, gauges=gauges)


# -- hostcheck preflight-jobs -----------------------------------------------------------------
def cmd_preflight_jobs(args: argparse.Namespace) -> int:
    import json
    import re
    from datetime import UTC, datetime

    from hostcheck.cluster.metrics import preflight_jobs

    run = args.run or datetime.now(UTC).strftime("%Y%m%dt%H%M")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?", run):
        raise UsageError(f"--run {run!r}: 1-20 lowercase letters, digits and '-'")
    if sys.stdin.isatty():
        raise UsageError(
            "node names go on standard input: kubectl get nodes -l SELECTOR -o name | "
            "hostcheck preflight-jobs --image IMAGE"
        )
    nodes = []
    for line in sys.stdin:
        name = line.strip().removeprefix("node/")
        if not name:
            continue
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
            raise UsageError(f"standard input: {name!r} is not a node name")
        nodes.append(name)
    if not nodes:
        raise UsageError(
            "no node names on standard input (kubectl get nodes -l SELECTOR -o name | …)"
        )
    jobs = preflight_jobs(
        nodes, args.image, namespace=args.namespace, run=run, selinux=args.openshift
    )
    sys.stdout.write(json.dumps(jobs, indent=2) + "\n")
    return EXIT_READY


def _oneline(text: str) -> str:
    from hostcheck.render import printable

    return printable(text).replace("\n", "\\n")


# -- hostcheck fleet --------------------------------------------------------------------------
def cmd_fleet(args: argparse.Namespace) -> int:
    from hostcheck.cli.main import _write_output
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
        _write_output(args.output, pieces)
    else:
        sys.stdout.writelines(pieces)
        sys.stdout.flush()
    if fleet.unreadable:
        return EXIT_USAGE
    return EXIT_READY if fleet.ready == len(fleet.nodes) else EXIT_NOT_READY
