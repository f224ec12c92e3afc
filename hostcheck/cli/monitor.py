"""`hostcheck monitor`: one pass for a systemd timer. Scan, store, compare, log, export.

It reuses the scan of ``hostcheck scan`` (probe → rules → waivers → report), stores the JSON
report in the state directory, logs what changed since the previous report with a journald
priority, and writes Prometheus metrics when configured. It never changes the host. Its exit
status tells readiness as ``scan`` does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from hostcheck.cli import common
from hostcheck.cli.common import EXIT_INTERNAL, EXIT_NOT_READY, EXIT_READY, UsageError
from hostcheck.cli.options import Options

MONITOR_DESCRIPTION = """\
One check of this host for a systemd timer: scan as `hostcheck scan` does, store the JSON report
in the state directory (the last N are kept), log every change since the previous report with
a journald priority, and write Prometheus metrics when configured. It never changes the host."""

MONITOR_EPILOG = """\
what it logs (one line each, with a journald priority when run by systemd):
  err      the host stopped being ready; a rule turned fail; a new GPU hang in the kernel log
  warning  a rule turned warn or error; a waiver has expired (every run until renewed)
  notice   the host is ready again; a rule recovered or was waived; the kernel, MES firmware,
           linux-firmware or ROCm version changed
  info     the verdict of every run and where its report is stored

exit status: as `hostcheck scan`: 0 ready, 1 not ready, 2 usage, config or state error, 3 internal.

examples:
  sudo hostcheck monitor --install                  install hostcheck.service and .timer
  hostcheck monitor --state-dir /tmp/hc --fixture stock-128g
  hostcheck monitor --metrics-file /var/lib/prometheus/node-exporter/hostcheck.prom
"""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    monitor = commands.add_parser(
        name,
        help=help_text,
        description=MONITOR_DESCRIPTION,
        epilog=MONITOR_EPILOG,
    )
    common.add_source_options(monitor)
    out = monitor.add_argument_group("monitor")
    common.add_fail_on(out)
    out.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where reports are kept (default: $STATE_DIRECTORY from systemd, else /var/lib/hostcheck)",
    )
    out.add_argument(
        "--metrics-file",
        metavar="FILE",
        help="write Prometheus metrics to FILE (default: [monitor] metrics_file of the config "
        "file; none when unset). As for `scan -o`: a regular file is replaced atomically, a "
        "link's file replaced and the link kept, a character device or FIFO written into, a "
        "block device, socket or directory refused",
    )
    out.add_argument(
        "--log-format",
        choices=["auto", "journal", "plain"],
        default="auto",
        help="journal: '<N>' priority prefixes that journald reads; plain: 'warning: …' "
        "(default: auto, journal when standard output is the journal)",
    )
    units = out.add_mutually_exclusive_group()
    units.add_argument(
        "--install",
        action="store_true",
        help="install hostcheck.service and hostcheck.timer into /etc/systemd/system "
        "(DIR/etc/systemd/system with --root DIR) and print how to enable the timer",
    )
    units.add_argument(
        "--uninstall", action="store_true", help="remove the units that --install installed"
    )
    out.add_argument(
        "--exec",
        metavar="COMMAND",
        dest="exec_path",
        help="with --install: the hostcheck command the service runs (an absolute path, e.g. "
        "/opt/hostcheck/bin/hostcheck, or '/usr/bin/python3 -m hostcheck'), as the host that "
        "runs the units has it (default: this hostcheck on the live host; under --root DIR, the "
        "hostcheck found inside DIR at /usr/local/bin, /usr/bin or /opt/hostcheck/bin)",
    )
    monitor.set_defaults(select=[])


def _journal_stdout() -> bool:
    """systemd sets JOURNAL_STREAM to the device:inode of the journal stream it connected;
    only when that is our stdout are we talking to journald (the variable leaks into shells
    started from services)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in expected.split(":"))
        st = os.fstat(sys.stdout.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def cmd_monitor(args: Options) -> int:
    from hostcheck.errors import INTERNAL, HostcheckError

    journal = args.log_format == "journal" or (args.log_format == "auto" and _journal_stdout())

    def run(args: Options, shown_root: str | None = None) -> int:
        return _monitor(args, journal, shown_root)

    try:
        if args.install or args.uninstall:
            return _units(args)
        # A snapshot tarball as --root is unpacked privately, as `scan` does.
        from_archive = common.archive_root(args, run)
        return from_archive if from_archive is not None else run(args)
    except Exception as exc:
        if journal and isinstance(exc, HostcheckError) and exc.kind != INTERNAL:
            # Under systemd the error line must carry its priority, or journald logs it as info.
            print(f"<3>hostcheck: error: {exc.shown()}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        if not journal or os.environ.get("HOSTCHECK_DEBUG"):
            raise  # main() prints it (or the traceback) and exits 3
        print(
            f"<3>hostcheck: error: internal error: {type(exc).__name__}: {exc} — please report "
            "it (set HOSTCHECK_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_INTERNAL) from None


def _units(args: Options) -> int:
    from hostcheck.monitor.install import InstallError, install, uninstall

    if args.fixture:
        raise UsageError("--install/--uninstall take --root DIR (where to install), not --fixture")
    root = args.root or "/"
    if not os.path.isdir(root):
        raise UsageError(f"--root {root}: no such directory")
    try:
        if args.exec_path and not args.install:
            raise InstallError("--exec goes with --install")
        messages = install(root, args.exec_path) if args.install else uninstall(root)
    except OSError as exc:
        raise UsageError(f"{exc.filename or root}: {exc.strerror or exc}") from None
    for line in messages:
        print(line)
    return 0


def _monitor(args: Options, journal: bool, shown_root: str | None = None) -> int:
    import datetime
    import time

    from hostcheck.host.output import write_atomic
    from hostcheck.monitor import drift, state
    from hostcheck.render.json import to_dict

    common.apply_config(args)
    config = args.loaded_config
    directory = state.state_dir(args.state_dir)
    state.prepare(directory, explicit=bool(args.state_dir))
    metrics_file = args.metrics_file or config.metrics_file
    started = datetime.datetime.now(datetime.UTC)
    report, facts, _host = common.scan(args, shown_root)
    finished = time.time()
    current = to_dict(report)
    current["monitor"] = {
        "started_at": started.isoformat(timespec="seconds"),
        "observed": drift.observe(report, facts),
    }
    # What changed is logged, and the metrics written, even when the report cannot be stored
    # (and the other way round): each output that works still reaches its reader. Runs on one
    # state directory take turns from reading the previous report to storing this one.
    failures = []
    path = "not stored"
    with state.locked(directory):
        previous, unreadable = state.load_previous(directory)
        try:
            path = state.store_report(directory, current, config.keep_reports, finished)
        except state.StateError as exc:
            failures.append(str(exc))
    lines: list[drift.LogLine] = []
    if unreadable:
        lines.append(
            drift.LogLine(
                drift.WARNING,
                f"the previous report is unreadable ({unreadable}); comparing from the next run on",
            )
        )
    elif previous is None:
        lines.append(
            drift.LogLine(
                drift.INFO, f"first run: no earlier report in {directory} to compare with"
            )
        )
    lines += drift.transitions(previous, current, drift.blocking(report))
    if metrics_file:
        try:
            write_atomic(metrics_file, common.metrics_text(args, report, facts, finished), 0o644)
        except OSError as exc:
            failures.append(f"metrics file {metrics_file}: {exc.strerror or exc}")
    lines += drift.standing(current, path)
    out = sys.stdout
    for line in lines:
        out.write(drift.format_line(line, journal) + "\n")
    out.flush()
    if failures:
        raise UsageError("; ".join(failures))
    return EXIT_READY if report.ready else EXIT_NOT_READY


run = cmd_monitor
