"""`hostcheck nfd`: publish this host's verdict as node labels through Node Feature Discovery,
once or every SECONDS (the labels come from hostcheck/render/nfd.py)."""

from __future__ import annotations

import os
from typing import Any

from hostcheck.cli import common
from hostcheck.cli.common import EXIT_NOT_READY, EXIT_READY, UsageError, seconds_argument
from hostcheck.cli.options import Options

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


def add_parser(commands: Any, name: str, help_text: str) -> None:
    nfd = commands.add_parser(
        name,
        help=help_text,
        description="Scan the host and write its verdict as a Node Feature Discovery local "
        "feature file, once or every SECONDS.",
        epilog=NFD_EPILOG,
    )
    common.add_source_options(nfd)
    common.add_functional_options(nfd)  # once only: the labels then carry what the GPU proved
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


def cmd_nfd(args: Options) -> int:
    import time
    from datetime import UTC, datetime, timedelta

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
        report, facts, _host = common.scan(args)
        expires = datetime.now(UTC) + timedelta(seconds=expiry)
        common.write_output(args.output, render(report, expires=expires))
        if metrics is not None:
            metrics.update(common.metrics_text(args, report, facts))
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


run = cmd_nfd
