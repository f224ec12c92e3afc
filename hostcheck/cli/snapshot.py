"""`hostcheck snapshot`: record a host into a replayable, redacted snapshot."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from hostcheck.cli import common
from hostcheck.cli.common import READ_TIMEOUT_MAX, UsageError, seconds_argument
from hostcheck.cli.options import Options

if TYPE_CHECKING:
    from hostcheck.probes.functional import FunctionalOptions

SNAPSHOT_DESCRIPTION = """\
Record what the checks read from this host (or from --root) into a snapshot: a directory or
a .tar.gz in the fixture format, which `hostcheck scan --root SNAPSHOT` replays to the same
findings. Attach it to a bug report. Only what the probes read is recorded; host names, user
names, the machine id, UUIDs, MAC addresses, serial numbers, credentials (in options, URLs and
process environments) are replaced by stable tokens, and process environment values other
than the ROCm/HIP/vLLM/PyTorch/llama.cpp variables the checks read by `redacted`, unless
--no-redact is given. Run it as root (or
with sudo) to include the kernel log and other users' inference processes."""

SNAPSHOT_EPILOG = """\
examples:
  sudo hostcheck snapshot                          writes hostcheck-snapshot-DATE.tar.gz here
  sudo hostcheck snapshot --user vllm --python /opt/vllm/bin/python -o bug.tar.gz
  hostcheck snapshot --fixture stock-128g --output /tmp/stock    a directory
  hostcheck scan --root bug.tar.gz                 replay a snapshot
"""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    snap = commands.add_parser(
        name,
        help=help_text,
        description=SNAPSHOT_DESCRIPTION,
        epilog=SNAPSHOT_EPILOG,
    )
    snap.add_argument(
        "--output",
        "-o",
        metavar="DIR|FILE.tar.gz",
        help="where to write: a new directory, or a tarball if the name ends in .tar.gz or "
        ".tgz (default: hostcheck-snapshot-DATE.tar.gz in the current directory)",
    )
    source = snap.add_mutually_exclusive_group()
    source.add_argument(
        "--root", metavar="DIR", help="record DIR as / (a host tree, a snapshot, a mounted host)"
    )
    source.add_argument("--fixture", metavar="NAME", help="record a bundled sample host")
    snap.add_argument(
        "--host-mount",
        action="store_true",
        help="with --root: DIR is the live host mounted into this container",
    )
    snap.add_argument(
        "--user", metavar="NAME", help="the service user to record (as for `hostcheck scan`)"
    )
    snap.add_argument(
        "--python",
        metavar="PATH",
        help="also record what this interpreter's PyTorch / vLLM report (as for `hostcheck scan`)",
    )
    snap.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds_argument(READ_TIMEOUT_MAX),
        default=2.0,
        help="bound for each file read (default: 2)",
    )
    common.add_config_option(
        snap
    )  # its user and python: the snapshot records what the monitor sees
    common.add_functional_options(snap)
    snap.add_argument(
        "--no-redact",
        action="store_true",
        help="keep host names, user names, identifiers and credentials as they are",
    )


# Names that promise an archive format the snapshot writer does not write: refused rather
# than made into a directory called out.zip.
_OTHER_ARCHIVES = (
    ".zip",
    ".tar",
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.zst",
    ".tzst",
    ".7z",
    ".rar",
    ".gz",
    ".xz",
    ".bz2",
    ".zst",
)


def _snapshot_output(path: str | None) -> tuple[str, bool]:
    """Where a snapshot goes and whether as a tarball; refuses to overwrite anything."""
    if path is None:
        path = time.strftime("hostcheck-snapshot-%Y%m%d-%H%M%S.tar.gz")
    tarball = path.endswith((".tar.gz", ".tgz"))
    other = next((suffix for suffix in _OTHER_ARCHIVES if path.lower().endswith(suffix)), None)
    if not tarball and other:
        stem = path[: -len(other)]
        raise UsageError(
            f"--output {path}: snapshots are written as a .tar.gz or a directory, not {other}; "
            f"use --output {stem}.tar.gz"
        )
    if tarball:
        if os.path.lexists(path):
            raise UsageError(f"--output {path}: already exists; choose a new name")
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise UsageError(f"--output {path}: no directory {parent}")
    elif os.path.lexists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise UsageError(f"--output {path}: already exists and is not an empty directory")
    return path, tarball


def cmd_snapshot(args: Options, shown_root: str | None = None) -> int:
    import shutil
    import tempfile

    from hostcheck.snapshot import take, write_tree
    from hostcheck.snapshot.archive import exit_on_termination, write_tarball

    from_archive = common.archive_root(args, cmd_snapshot)
    if from_archive is not None:
        return from_archive
    common.apply_config(args)  # user and python, as scan and monitor take them
    if args.host_mount and not args.root:
        raise UsageError("--host-mount needs --root DIR (the host's / as mounted in the container)")
    output, tarball = _snapshot_output(args.output)
    root = common.fixture_root(args.fixture) if args.fixture else (args.root or "/")
    functional = _functional_options(args, root)
    recording = take(
        root,
        host_mount=args.host_mount,
        user=args.user,
        python=args.python,
        read_timeout=args.timeout,
        redact=not args.no_redact,
        functional=functional,
    )
    # Written aside and moved into place at the end: an interrupted snapshot (Ctrl-C, SIGTERM,
    # a full disk) leaves nothing behind, not a half-written one.
    final = os.path.realpath(output) if not tarball else output
    with exit_on_termination() as termination:
        # A tarball is staged in the temporary directory (TMPDIR), a directory beside --output:
        # an error there is said to be there, not blamed on --output.
        staged_in = f"the temporary directory {tempfile.gettempdir()} (TMPDIR)"
        try:
            if tarball:
                staging = tempfile.mkdtemp(prefix="hostcheck-snapshot-")
            else:
                os.makedirs(os.path.dirname(final), exist_ok=True)
                staging = tempfile.mkdtemp(
                    prefix=f".{os.path.basename(final)}.", dir=os.path.dirname(final)
                )
        except OSError as exc:
            where = staged_in if tarball else f"--output {output}"
            raise UsageError(f"{where}: {exc.strerror or exc}") from None
        try:
            try:
                written = write_tree(recording, staging)
            except OSError as exc:
                where = staged_in if tarball else f"--output {output}"
                raise UsageError(
                    f"{where}: cannot write the snapshot: {exc.strerror or exc}"
                ) from None
            if tarball:
                top = os.path.basename(output).removesuffix(".gz").removesuffix(".tgz")
                write_tarball(staging, output, top.removesuffix(".tar"), recording.taken_at)
            else:
                os.replace(staging, final)  # over an empty directory too
        except OSError as exc:
            raise UsageError(f"--output {output}: {exc.strerror or exc}") from None
        finally:
            with termination.held():
                shutil.rmtree(staging, ignore_errors=True)
    redacted = ", ".join(
        f"{counts['values']} {kind}"
        for kind, counts in (written.redaction or {}).items()
        if counts["values"]
    )
    print(f"snapshot written to {output}: {written.files} files, {written.links} symlinks")
    print(
        f"redacted: {redacted or 'nothing found'}"
        if written.redaction is not None
        else "not redacted (--no-redact): do not publish it"
    )
    if written.unreadable:
        print(
            f"{written.unreadable} item(s) could not be read (listed in .hostcheck/snapshot.json)"
            + ("; as root they would be" if recording.host.live and os.geteuid() != 0 else "")
        )
    replay = f"hostcheck scan --root {output}"
    if args.python:
        replay += f" --python {recording.redactor.apply_text(args.python) if recording.redactor else args.python}"
    print(f"replay: {replay}")
    return 0


def _functional_options(args: Options, root: str) -> FunctionalOptions | None:
    """snapshot --functional: the probe's options (the default profile's memory as target)."""
    if args.force and not args.functional:
        raise UsageError("--force goes with --functional")
    if not args.functional:
        return None
    from hostcheck.checks.session import Source, check
    from hostcheck.probes.functional import FunctionalOptions

    check(
        Source(
            root=root,
            python=args.python,
            functional=True,
            functional_timeout=args.functional_timeout,
            functional_target_gib=args.functional_target_gib,
        )
    )
    target = args.functional_target_gib
    if target is None:
        from hostcheck.checks.catalog import default_profile

        target = default_profile(common.load_catalog(args)[1]).required_gib
    return FunctionalOptions(
        python=args.python,
        target_gib=target,
        bound_s=args.functional_timeout,
        force=args.force,
    )


def run(args: Options) -> int:
    return cmd_snapshot(args)
