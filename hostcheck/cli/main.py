"""Command line: argument parsing, composition, output and exit codes. The only exit point.

Exit codes (DESIGN.md): 0 ready, 1 not ready, 2 usage or input error, 3 internal error.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from hostcheck.checks.session import Source
    from hostcheck.facts import Facts, Workload
    from hostcheck.host.core import Host
    from hostcheck.model import Profile, Report, Rule
    from hostcheck.probes.functional import FunctionalOptions

EXIT_READY, EXIT_NOT_READY, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

DESCRIPTION = """\
Is this AMD Strix Halo (Ryzen AI Max, gfx1151) host ready to serve 32B-70B language models with
vLLM or llama.cpp? hostcheck probes the kernel, GPU memory visibility, amdgpu parameters,
firmware, the kernel log, device permissions and the ROCm / PyTorch stack, and reports every
problem against a catalog of known issues, with the evidence and the fix."""

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


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, told the width up front: its own default imports shutil (and
    with it bz2 and lzma) on every run just to ask for the terminal size."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            columns = 80
        super().__init__(prog, width=max(columns - 2, 40))


class UsageError(Exception):
    """A user's mistake: a bad option value, an unknown rule id, an unreadable --root."""


def seconds_argument(maximum: float) -> Callable[[str], float]:
    """An argparse type for a duration: a finite number of seconds above 0 and at most
    ``maximum`` (nan, inf, 1e308 and negative values are usage errors, exit 2, not a crash in
    the clock arithmetic later)."""

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 < value <= maximum):  # also false for nan
            raise argparse.ArgumentTypeError(
                f"expected a number of seconds above 0 and at most {maximum:.0f}, got {text!r}"
            )
        return value

    seconds.__name__ = "seconds"
    return seconds


READ_TIMEOUT_MAX = 86400.0  # a day: a bound for one file read, far above any sane one


def _fatal(message: str, code: int = EXIT_USAGE) -> NoReturn:
    from hostcheck.host.safeio import printable

    # Text from files and hosts may hold escape sequences: never sent raw to a terminal.
    print(f"hostcheck: error: {printable(message, keep_newlines=True)}", file=sys.stderr)
    raise SystemExit(code)


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $HOSTCHECK_CONFIG, else /etc/hostcheck/config.toml if "
        "it exists); read from this machine even with --root or --fixture",
    )


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    _add_config_option(parser)
    where = parser.add_argument_group("what to check (default: this host)")
    source = where.add_mutually_exclusive_group()
    source.add_argument(
        "--root",
        metavar="DIR",
        help="treat DIR as / (a fixture, a snapshot directory or .tar.gz, or the host mounted "
        "in a container)",
    )
    source.add_argument(
        "--fixture",
        metavar="NAME",
        help="a bundled sample host; list them with `hostcheck fixtures`",
    )
    where.add_argument(
        "--host-mount",
        action="store_true",
        help="with --root: DIR is the live host's / mounted into this container (e.g. /host), so the "
        "kernel log is read from the running kernel, which is the host's",
    )
    where.add_argument(
        "--node-name",
        metavar="NAME",
        help="the name the report gives the host (default: its hostname; with --host-mount, "
        "$NODE_NAME when set, e.g. from the Kubernetes Downward API spec.nodeName)",
    )
    where.add_argument(
        "--profile",
        metavar="NAME",
        help="workload profile: how much memory the GPU must address (see `hostcheck rules --profiles`); default: the 70B class",
    )
    where.add_argument(
        "--user",
        metavar="NAME",
        help="the service user whose access to /dev/kfd and the render node is checked "
        "(default: the invoking user, SUDO_USER under sudo)",
    )
    where.add_argument(
        "--python",
        metavar="PATH",
        help="a Python interpreter whose PyTorch / vLLM / TheRock install to inspect (run with a timeout)",
    )
    where.add_argument(
        "--backend",
        choices=("rocm", "vulkan"),
        help="declare the GPU backend the inference uses here (default: what running processes "
        "have loaded); with vulkan, ROCm-only rules are skipped",
    )
    where.add_argument(
        "--workload-rocm",
        metavar="VERSION",
        help="declare the ROCm the serving image brings (e.g. 7.2.1): judged where no ROCm runs "
        "yet, as on a Kubernetes/OpenShift node before the workload lands",
    )
    where.add_argument(
        "--workload-torch",
        metavar="VERSION",
        help="declare the serving image's PyTorch (e.g. 2.9.1+rocm7.2.1; its +rocm part counts "
        "as a ROCm)",
    )
    where.add_argument(
        "--workload-image",
        metavar="REF",
        help="the serving image reference, shown in the report as a label (not pulled)",
    )
    where.add_argument(
        "--env-file",
        metavar="FILE",
        action="append",
        default=[],
        help="a vLLM environment file (KEY=VALUE lines, as systemd's EnvironmentFile=) to check "
        "as if vLLM ran with it; repeatable",
    )
    where.add_argument(
        "--rules", metavar="DIR", help="read the rule catalog from DIR instead of the bundled one"
    )
    where.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds_argument(READ_TIMEOUT_MAX),
        default=2.0,
        help="bound for each file read, so a hung sysfs file cannot hang the scan (default: 2)",
    )


def _add_functional_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "functional probe (uses the GPU for about a minute; never by default)"
    )
    group.add_argument(
        "--functional",
        action="store_true",
        help="run hostcheck's GPU probe in the --python interpreter: allocate the profile's "
        "memory, copy, matmul, attention (findings functional.*; see docs/functional.md)",
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="with --functional: run even while a vLLM / llama.cpp process is using the GPU",
    )
    group.add_argument(
        "--functional-timeout",
        metavar="SECONDS",
        type=float,
        default=300.0,
        help="with --functional: kill the probe (and its process group) after this (default: 300)",
    )
    group.add_argument(
        "--functional-target-gib",
        metavar="GIB",
        type=float,
        help="with --functional: memory to allocate (default: the profile's required memory)",
    )


class _Inert:
    """Stands in for the parser of a subcommand that is not being run: every argparse call
    on it does nothing, so its ~10-30 options are never built."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self


class _OnlyWanted:
    """The subparsers action, building in full only the subcommand on the command line.

    Each subcommand still gets a parser with its one-line help (for `hostcheck --help` and
    argparse's "invalid choice" list); only the one being run gets its options. With ten
    subcommands that is ~100 add_argument calls fewer on every run.
    """

    def __init__(self, commands: Any, wanted: str | None) -> None:
        self.commands, self.wanted = commands, wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self.wanted is None or name == self.wanted:
            return self.commands.add_parser(name, **kwargs)
        # No -h of its own and hostcheck's formatter: argparse's default one would import
        # shutil (and bz2, lzma) for the terminal width while adding -h.
        self.commands.add_parser(
            name, help=kwargs.get("help"), add_help=False, formatter_class=_Formatter
        )
        return _Inert()


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on a command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given the command line) one whose only fully built subcommand
    is the one the command line names."""
    from hostcheck import __version__

    parser = argparse.ArgumentParser(
        prog="hostcheck", description=DESCRIPTION, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"hostcheck {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: Any = subparsers if argv is None else _OnlyWanted(subparsers, _command_in(argv) or "")

    scan = commands.add_parser(
        "scan",
        help="check a host and report (the main job)",
        description=DESCRIPTION,
        epilog=SCAN_EPILOG,
        formatter_class=_Formatter,
    )
    _add_source_options(scan)
    _add_functional_options(scan)
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
    out.add_argument(
        "--fail-on",
        choices=["warn", "fail"],
        help="the lowest status that makes the host not ready (default: fail, or fail_on in the "
        "config file)",
    )
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

    from hostcheck.cli.monitor import add_monitor_parser

    add_monitor_parser(commands, _Formatter, _add_source_options)

    rules = commands.add_parser("rules", help="list the rule catalog", formatter_class=_Formatter)
    _add_config_option(rules)
    rules.add_argument("--rules", metavar="DIR", help="a rule directory instead of the bundled one")
    rules.add_argument("--profiles", action="store_true", help="list the workload profiles instead")

    explain = commands.add_parser(
        "explain", help="print a rule's full documentation", formatter_class=_Formatter
    )
    explain.add_argument("rule", metavar="RULE", help="a rule id, e.g. amdgpu.cwsr")
    explain.add_argument(
        "--rules", metavar="DIR", help="a rule directory instead of the bundled one"
    )
    _add_config_option(explain)

    commands.add_parser(
        "fixtures", help="list the bundled sample hosts", formatter_class=_Formatter
    )

    fix = commands.add_parser(
        "fix",
        help="preview, apply and undo fixes (kernel arguments, module options, sysctls)",
        description=FIX_DESCRIPTION,
        epilog=FIX_EPILOG,
        formatter_class=_Formatter,
    )
    _add_source_options(fix)
    what = fix.add_argument_group("what to change")
    what.add_argument(
        "--only", metavar="RULE", nargs="+", default=[], help="fix only these rules' findings"
    )
    what.add_argument(
        "--exclude",
        metavar="RULE",
        nargs="+",
        default=[],
        help="leave these rules' fixes out (e.g. perf.iommu on a host that needs the IOMMU)",
    )
    what.add_argument(
        "--bootloader",
        choices=["grub", "grubby", "systemd-boot", "rpm-ostree", "bootc"],
        help="the boot path for kernel arguments (default: detected from the host; the plan's "
        "first line names it)",
    )
    what.add_argument(
        "--module-options",
        choices=["auto", "cmdline", "modprobe"],
        default="auto",
        help="where module parameters such as ttm.pages_limit go: the kernel command line, or "
        "a modprobe.d drop-in plus an initramfs rebuild (default auto: modprobe.d when "
        "modprobe.d already configures that module, else the command line)",
    )
    act = fix.add_argument_group("actions (default: print the plan, change nothing)")
    acts = act.add_mutually_exclusive_group()
    acts.add_argument("--apply", action="store_true", help="carry the plan out (journaled)")
    acts.add_argument(
        "--undo",
        metavar="ID",
        nargs="?",
        const="",
        help="restore the files of the last transaction (or transaction ID) byte for byte",
    )
    acts.add_argument("--resume", action="store_true", help="complete an interrupted transaction")
    acts.add_argument("--history", action="store_true", help="list the transactions")
    acts.add_argument(
        "--emit",
        choices=["machineconfig", "butane", "tuned"],
        help="print the desired state of the pool --role as an OpenShift MachineConfig (YAML): "
        "the plan plus hostcheck's settings the node already carries, under one stable name, "
        "so nodes of a pool in different states give the same object; butane: the same as a "
        "Butane config; tuned: its sysctls as a Node Tuning Operator Tuned object. Notes go to "
        "standard error; this host is not changed",
    )
    act.add_argument(
        "--role", default="worker", help="with --emit: the MachineConfigPool role (default: worker)"
    )
    act.add_argument(
        "--name",
        help="with --emit: the MachineConfig name (default: 99-ROLE-hostcheck, one per pool: "
        "applying a newer one replaces the older)",
    )
    act.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    act.add_argument(
        "--force",
        action="store_true",
        help="with --undo: restore even files edited since hostcheck wrote them",
    )

    tui = commands.add_parser(
        "tui",
        help="review findings, plans and fixes interactively (needs a terminal)",
        description=TUI_DESCRIPTION,
        formatter_class=_Formatter,
    )
    _add_source_options(tui)

    from hostcheck.cli.cluster import add_commands

    add_commands(commands, _Formatter, _add_source_options)
    _add_snapshot_parser(commands)
    _add_functional_job_parser(commands)
    return parser


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


def _add_snapshot_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    snap = commands.add_parser(
        "snapshot",
        help="record this host into a replayable, redacted snapshot (for bug reports)",
        description=SNAPSHOT_DESCRIPTION,
        epilog=SNAPSHOT_EPILOG,
        formatter_class=_Formatter,
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
    _add_config_option(snap)  # its user and python: the snapshot records what the monitor sees
    _add_functional_options(snap)
    snap.add_argument(
        "--no-redact",
        action="store_true",
        help="keep host names, user names, identifiers and credentials as they are",
    )


def _dropin_dir(args: argparse.Namespace) -> str:
    """rules.d next to the configuration file (/etc/hostcheck/rules.d by default)."""
    from hostcheck.cli.config import config_path

    loaded = getattr(args, "loaded_config", None)
    path = loaded.path if loaded is not None and loaded.path else config_path(args.config)[0]
    return os.path.join(os.path.dirname(os.path.abspath(path)), "rules.d")


def _load_catalog(args: argparse.Namespace) -> tuple[list[Rule], dict[str, Profile]]:
    from hostcheck.checks.catalog import load_catalog
    from hostcheck.checks.rulefile import CatalogError

    try:
        return load_catalog(getattr(args, "rules", None), _dropin_dir(args))
    except CatalogError as exc:
        if "rules" in getattr(args, "from_config", ()):
            raise UsageError(f"{args.loaded_config.place('rules')}: rules: {exc}") from None
        raise UsageError(str(exc)) from None


def _fixture_names() -> list[str]:
    from hostcheck.checks.session import fixture_names

    return fixture_names()


def _fixture_root(name: str) -> str:
    from hostcheck.checks.session import SourceError, fixture_root

    try:
        return fixture_root(name)
    except SourceError as exc:
        raise UsageError(str(exc)) from None


def _write_output(path: str, text: str | Iterable[str]) -> None:
    """Write a report atomically (hostcheck.host.output); a failure is the user's to fix."""
    from hostcheck.host.output import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"--output {path}: {exc.strerror or exc}") from None


def _apply_config(args: argparse.Namespace) -> None:
    """Fill the options not given on the command line from the configuration file."""
    from hostcheck.cli.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    args.from_config = set()
    for key in ("profile", "fail_on", "user", "python", "rules"):
        if hasattr(args, key) and getattr(args, key) is None:
            setattr(args, key, getattr(config, key))
            if getattr(config, key) is not None:
                args.from_config.add(key)
    args.loaded_config = config


def _workload(args: argparse.Namespace) -> Workload | None:
    """The declared workload: --backend / --workload-* options over the config's [workload]."""
    from hostcheck.cli.config import WORKLOAD_KEYS, check_workload_value
    from hostcheck.facts import Workload

    options = {
        "backend": getattr(args, "backend", None),
        "rocm": getattr(args, "workload_rocm", None),
        "torch": getattr(args, "workload_torch", None),
        "image": getattr(args, "workload_image", None),
    }
    for key, value in options.items():
        problem = check_workload_value(key, value) if value is not None else None
        if problem:
            flag = "--backend" if key == "backend" else f"--workload-{key}"
            raise UsageError(f"{flag} {value!r}: {problem}")
    config = getattr(args, "loaded_config", None)
    declared = dict(config.workload) if config is not None else {}
    given = {key: value for key, value in options.items() if value is not None}
    if not given and not declared:
        return None
    merged = {key: given.get(key, declared.get(key)) for key in WORKLOAD_KEYS}
    where = f"config {config.path}" if config is not None else ""
    source = (
        "the command line"
        if not declared
        else (where if not given else f"the command line and {where}")
    )
    return Workload(source=source, **merged)


FIX_DESCRIPTION = """\
Compute the changes that fix this host's failing findings, show them (a unified diff for
every file, the exact command for every step, whether a reboot is needed), and with --apply
carry them out as one journaled transaction that --undo reverses byte for byte. Values are
computed from the host (ttm.pages_limit from MemTotal less 8 GiB headroom), not copied."""

FIX_EPILOG = """\
where changes go: kernel arguments through the boot loader (GRUB: /etc/default/grub.d/
99-hostcheck.cfg + update-grub; grubby --update-kernel=ALL; systemd-boot: /etc/kernel/cmdline +
kernel-install; rpm-ostree/bootc: rpm-ostree kargs); module options in
/etc/modprobe.d/zz-hostcheck.conf + the initramfs rebuild; sysctls in
/etc/sysctl.d/zz-hostcheck.conf + sysctl -w for the changed keys. With --root DIR, only files
under DIR change; commands are listed as pending steps. The journal lives in
/var/lib/hostcheck/fix/ (under DIR with --root).

exit status: 0 planned, applied or undone (or nothing to do); 1 a step failed, a full disk
             or read-only /etc included (the transaction is left for --resume or --undo);
             2 refused (a damaged journal, a link where the journal lock goes, an unreadable
             modprobe.d file) or usage error; 3 internal error.

examples:
  hostcheck fix                                    show the plan for this host
  sudo hostcheck fix --apply                       apply it (asks first)
  sudo hostcheck fix --apply --yes --only memory.gtt amdgpu.cwsr
  sudo hostcheck fix --undo                        restore the last transaction
  hostcheck fix --fixture stock-128g               the plan for a bundled sample host
  hostcheck fix --root /tmp/copy --apply --yes     apply to a copy of a host tree
"""


def _archive_root(args: argparse.Namespace, command: Callable[..., int]) -> int | None:
    """Run ``command`` on a snapshot tarball given as --root, unpacked privately; None when
    --root is not a file."""
    if not args.root or not os.path.isfile(args.root):
        return None
    from hostcheck.snapshot.archive import ArchiveError, unpacked

    if args.host_mount:
        raise UsageError(f"--root {args.root}: a snapshot tarball is not a mounted host")
    try:
        with unpacked(args.root) as tree:
            return command(argparse.Namespace(**{**vars(args), "root": tree}), shown_root=args.root)
    except ArchiveError as exc:
        raise UsageError(f"--root {args.root}: {exc}") from None


def _source(args: argparse.Namespace, shown_root: str | None = None) -> Source:
    """The source options of scan, fix, tui … (and the config file's defaults and waivers)
    as a hostcheck.checks.session.Source."""
    from hostcheck.checks.session import Source

    if not hasattr(args, "loaded_config"):
        _apply_config(args)
    return Source(
        root=args.root,
        fixture=args.fixture,
        host_mount=args.host_mount,
        profile=args.profile,
        user=args.user,
        python=args.python,
        env_files=tuple(args.env_file),
        rules_dir=getattr(args, "rules", None),
        dropin_dir=_dropin_dir(args),
        timeout=args.timeout,
        select=tuple(getattr(args, "select", None) or ()),
        fail_on=getattr(args, "fail_on", None) or "fail",
        waivers=tuple(args.loaded_config.waivers),
        workload=_workload(args),
        shown_root=shown_root,
        node_name=_node_name(args),
        origins=tuple(
            (key, args.loaded_config.place(key)) for key in sorted(getattr(args, "from_config", ()))
        ),
        functional=getattr(args, "functional", False),
        functional_force=getattr(args, "force", False) and getattr(args, "functional", False),
        functional_timeout=getattr(args, "functional_timeout", 300.0),
        functional_target_gib=getattr(args, "functional_target_gib", None),
    )


def _node_name(args: argparse.Namespace) -> str | None:
    """--node-name, or $NODE_NAME in a container that reads the host at --root --host-mount
    (the Downward API's spec.nodeName); a name with control characters or spaces is refused."""
    name = getattr(args, "node_name", None)
    if name is None and getattr(args, "host_mount", False):
        name = os.environ.get("NODE_NAME") or None
    if name is not None and (not name or not name.isprintable() or " " in name or len(name) > 253):
        raise UsageError(f"--node-name / $NODE_NAME {name!r}: not a node name")
    return name


def _scan(args: argparse.Namespace, shown_root: str | None = None) -> tuple[Report, Facts, Host]:
    """Probe the host the options name, run the catalog and apply the config file's waivers:
    the shared start of scan, fix, monitor and nfd (hostcheck.checks.session). ``shown_root`` is the
    --root the user gave when the scan reads an unpacked copy of it."""
    from hostcheck.checks.session import SourceError, scan

    try:
        return scan(_source(args, shown_root))
    except SourceError as exc:
        raise UsageError(str(exc)) from None


TUI_DESCRIPTION = """\
Walk through a host's findings before putting it into service: what is wrong and why, the
evidence and the command to see it yourself, the exact change each fix makes; mark the fixes
you agree with, review the plan, apply it (after a confirmation; on the live host as root,
under --root to the copy only), see the rescan, undo. Press ? inside for every key."""


def cmd_tui(args: argparse.Namespace, shown_root: str | None = None) -> int:
    from hostcheck.checks.session import SourceError, check

    try:
        import textual  # noqa: F401  (a dependency; imported by the TUI only)
    except ImportError:
        raise UsageError(
            "the TUI needs Textual, which this installation lacks: "
            "pip install 'strixhalo-hostcheck' (it depends on textual)"
        ) from None
    from_archive = _archive_root(args, cmd_tui)
    if from_archive is not None:
        return from_archive
    source = _source(args, shown_root)
    try:
        check(source)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "hostcheck tui needs a terminal (standard input and output are not one); "
            "in scripts use `hostcheck scan` and `hostcheck fix`"
        )
    from hostcheck.tui.app import HostcheckApp

    HostcheckApp(source).run()
    return 0


def _scan_report(args: argparse.Namespace) -> Report:
    """Scan the host the source options name and return the report (usage errors raise)."""
    return _scan(args)[0]


def cmd_scan(args: argparse.Namespace, shown_root: str | None = None) -> int:
    from_archive = _archive_root(args, cmd_scan)
    if from_archive is not None:
        return from_archive
    if args.force and not args.functional:
        raise UsageError("--force goes with --functional")
    report, _facts, _host = _scan(args, shown_root)
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
        from hostcheck.render import Format, renderer

        text = renderer(Format(args.format))(report)
    code = EXIT_READY if report.ready or getattr(args, "exit_zero", False) else EXIT_NOT_READY
    if args.output:
        _write_output(args.output, text)
        return code
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): the verdict still stands in the exit status.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


def cmd_fix(args: argparse.Namespace) -> int:
    from hostcheck.checks.session import change_refusal
    from hostcheck.fix import apply as fixer
    from hostcheck.fix import plan as planner
    from hostcheck.host.core import Host, HostError

    _apply_config(args)  # profile, user, python, rules and waivers (a waived rule is not fixed)
    if args.force and args.undo is None:
        raise UsageError("--force goes with --undo")
    changes = args.apply or args.undo is not None or args.resume
    refusal = change_refusal(_source(args)) if changes else None
    if refusal:  # a bundled fixture, or the live host without root (shared with the TUI)
        raise UsageError(refusal)
    try:
        if args.history or args.undo is not None or args.resume:
            root = _fixture_root(args.fixture) if args.fixture else (args.root or "/")
            try:
                host = Host(root)
            except HostError as exc:
                raise UsageError(str(exc)) from None
            if args.history:
                return _print_history(*fixer.readable_history(host))
            if args.resume:
                record = fixer.resume(host)
                _after_apply(record, _root_option(host))
                return 0
            record = fixer.undo(host, args.undo or None, force=args.force)
            print(f"Undid transaction {record['id']}: the files are as they were before it.")
            for command in record["undo_pending"]:
                print(f"  pending (run on the host itself): {command}")
            if record["reboot_required"]:
                print("Reboot to bring the previous kernel arguments and module options back.")
            return 0
        report, facts, host = _scan(args)
        if args.emit:
            return _emit_machineconfig(args, report, facts, host)
        interrupted = fixer.interrupted_message(fixer.Journal(host))
        if interrupted and args.apply:
            raise fixer.FixError(interrupted)
        plan = planner.build(
            report,
            facts,
            host,
            planner.PlanOptions(
                tuple(args.only),
                args.bootloader,
                args.module_options,
                exclude=tuple(args.exclude),
            ),
        )
        if interrupted:
            print(f"warning: {interrupted}\n")
        shown = f"bundled fixture {args.fixture}" if args.fixture else host.root
        sys.stdout.write(planner.render(plan, live=host.live, root=shown))
        if not args.apply:
            if not plan.empty:
                print("\nDry run: nothing was changed. Apply with --apply.")
            return 0
        if plan.empty:
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("--apply without --yes needs a terminal to confirm on")
            answer = input("\nApply these changes? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("Nothing was changed.")
                return 0
        _after_apply(fixer.apply(host, plan), _root_option(host))
        return 0
    except planner.PlanError as exc:
        raise UsageError(str(exc)) from None
    except fixer.FixError as exc:
        _fatal(str(exc), EXIT_NOT_READY if exc.failed else EXIT_USAGE)
    except PermissionError as exc:
        raise UsageError(f"permission denied: {exc.filename or exc}") from None


def _emit_machineconfig(args: argparse.Namespace, report: Report, facts: Facts, host: Host) -> int:
    """The pool's desired state as a MachineConfig (or Butane config, or NTO Tuned object):
    RHCOS nodes are rpm-ostree hosts whose kernel arguments and files the Machine Config
    Operator owns. The plan is made for that boot path, and what the node already carries of
    hostcheck's settings is added to it (hostcheck.fix.machineconfig.desired_state), so every node
    of a pool, fixed or not, gives the same object under one stable name."""
    from hostcheck.checks.kinds._util import ttm_module_in_use
    from hostcheck.fix import plan as planner
    from hostcheck.fix.machineconfig import (
        MachineConfigError,
        butane,
        desired_state,
        drop_in_note,
        drop_in_path,
        machineconfig,
        machineconfig_notes,
        managed_settings,
        pool_name,
        to_yaml,
        tuned,
    )
    from hostcheck.model import Status
    from hostcheck.parse.kernel import parse_modprobe_conf
    from hostcheck.readings import Value

    name = args.name or pool_name(args.role)
    options = planner.PlanOptions(
        tuple(args.only),
        "rpm-ostree",
        args.module_options,
        declarative=True,
        exclude=tuple(args.exclude),
        drop_in_note=drop_in_note(name),
    )
    plan = planner.build(report, facts, host, options)
    plan_modprobe = {
        (o.module, o.name): o.value
        for path, content in plan.drop_ins
        if path == planner.MODPROBE_DROPIN
        for o in parse_modprobe_conf(content.decode())
    }
    cmdline = facts.kernel.cmdline.value if isinstance(facts.kernel.cmdline, Value) else []
    staged = facts.boot.staged.value if isinstance(facts.boot.staged, Value) else []
    desired = desired_state(
        managed_settings(
            # rules that do not apply to this host (skipped) manage nothing on it
            (f.rule.remediation for f in report.findings if f.status is not Status.SKIP),
            ttm_module_in_use(facts),
        ),
        plan_kernel_args=plan.kernel_args_add,
        plan_kernel_args_remove=plan.kernel_args_remove,
        plan_modprobe=plan_modprobe,
        plan_sysctl=plan.sysctl,
        running_kernel_args=[a.key if a.value is None else f"{a.key}={a.value}" for a in cmdline],
        staged_kernel_args=staged,
        staged_modprobe={(o.module, o.name): o.value for _, o in facts.driver.staged_options},
        running_sysctl={k: v.value for k, v in facts.sysctl.items() if isinstance(v, Value)},
    )
    if args.emit == "tuned":
        try:
            sys.stdout.write(to_yaml(tuned(args.role, desired.sysctl)))
        except MachineConfigError as exc:
            raise UsageError(str(exc)) from None
        return 0
    note = drop_in_note(name)
    files = []
    if desired.modprobe:
        text = planner._modprobe_text({k: (v, "") for k, v in desired.modprobe.items()}, note)
        files.append((drop_in_path(planner.MODPROBE_DROPIN, name), text.encode()))
    if desired.sysctl:
        text = planner._sysctl_text(dict(desired.sysctl), note)
        files.append((drop_in_path(planner.SYSCTL_DROPIN, name), text.encode()))
    try:
        obj = machineconfig(
            role=args.role,
            name=name,
            kernel_args_add=desired.kernel_args,
            kernel_args_remove=desired.kernel_args_remove,
            files=[(path, content, 0o644) for path, content in files],
        )
    except MachineConfigError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(to_yaml(butane(obj) if args.emit == "butane" else obj))
    mem = facts.memory.mem_total_kib
    notes = machineconfig_notes(
        role=args.role,
        name=name,
        kernel_args_remove=desired.kernel_args_remove,
        kernel_args_add=desired.kernel_args,
        files=files,
        mem_total_kib=mem.value if isinstance(mem, Value) else None,
        named_by_user=bool(args.name),
    )
    sys.stderr.write(notes if notes.endswith("\n") else notes + "\n")
    return 0


def _root_option(host: Host) -> str:
    """` --root DIR` for the commands printed after a change under --root (copied as printed
    without it, they would act on the live host)."""
    import shlex

    return "" if host.live else f" --root {shlex.quote(host.root)}"


def _after_apply(record: dict[str, object], root_option: str = "") -> None:
    steps = record["steps"]
    assert isinstance(steps, list)
    pending = [s for s in steps if s.get("pending")]
    print(
        f"Applied as transaction {record['id']} "
        f"(undo: hostcheck fix{root_option} --undo {record['id']})."
    )
    for step in pending:
        print(f"  pending (run on the host itself): {' '.join(step['argv'])}")
    if record["reboot_required"]:
        print("Reboot to bring the kernel arguments and module options into effect;")
        print(
            f"until then `hostcheck scan{root_option}` reports these rules as fixed-pending-reboot."
        )


def _print_history(records: list[dict[str, object]], problems: Sequence[str] = ()) -> int:
    """The transactions; a damaged journal is named on stderr (exit 2), the rest still listed."""
    from hostcheck.host.safeio import printable

    for problem in problems:
        print(f"hostcheck: error: {printable(problem, limit=500)}", file=sys.stderr)
    if not records:
        print("No transactions.")
        return EXIT_USAGE if problems else 0
    for record in records:
        rules = record["rules"]
        files = record["files"]
        assert isinstance(rules, list) and isinstance(files, list)
        print(
            f"{record['id']}  {record['state']:<9} {record['created']}  "
            f"{len(files)} file(s)  {', '.join(rules)}"
        )
    return EXIT_USAGE if problems else 0


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


def cmd_snapshot(args: argparse.Namespace, shown_root: str | None = None) -> int:
    import shutil
    import tempfile

    from hostcheck.host.core import HostError
    from hostcheck.snapshot import take, write_tree
    from hostcheck.snapshot.archive import write_tarball
    from hostcheck.snapshot.termination import exit_on_termination

    from_archive = _archive_root(args, cmd_snapshot)
    if from_archive is not None:
        return from_archive
    _apply_config(args)  # user and python, as scan and monitor take them
    if args.host_mount and not args.root:
        raise UsageError("--host-mount needs --root DIR (the host's / as mounted in the container)")
    output, tarball = _snapshot_output(args.output)
    root = _fixture_root(args.fixture) if args.fixture else (args.root or "/")
    functional = _functional_options(args, root)
    try:
        recording = take(
            root,
            host_mount=args.host_mount,
            user=args.user,
            python=args.python,
            read_timeout=args.timeout,
            redact=not args.no_redact,
            functional=functional,
        )
    except HostError as exc:
        raise UsageError(str(exc)) from None
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


def _functional_options(args: argparse.Namespace, root: str) -> FunctionalOptions | None:
    """snapshot --functional: the probe's options (the default profile's memory as target)."""
    if args.force and not args.functional:
        raise UsageError("--force goes with --functional")
    if not args.functional:
        return None
    from hostcheck.checks.session import Source, SourceError, check
    from hostcheck.probes.functional import FunctionalOptions

    try:
        check(
            Source(
                root=root,
                python=args.python,
                functional=True,
                functional_timeout=args.functional_timeout,
                functional_target_gib=args.functional_target_gib,
            )
        )
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    target = args.functional_target_gib
    if target is None:
        from hostcheck.checks.catalog import default_profile

        target = default_profile(_load_catalog(args)[1]).required_gib
    return FunctionalOptions(
        python=args.python,
        target_gib=target,
        bound_s=args.functional_timeout,
        force=args.force,
    )


FUNCTIONAL_JOB_EPILOG = """\
The Job runs hostcheck's functional GPU probe (a standalone script: Python standard library and
PyTorch only) with the serving image's own Python, on one node, with one GPU from the device
plugin. Complete: every step passed; Failed: read the pod's log. See docs/functional.md.

examples:
  hostcheck functional-job --image docker.io/rocm/vllm:latest --node gpu-1 | kubectl apply -f -
  hostcheck functional-job --image IMG --node gpu-1 --profile 32b-q4 -o functional-gpu-1.yaml
"""


def _add_functional_job_parser(commands: Any) -> None:
    job = commands.add_parser(
        "functional-job",
        help="print a Kubernetes ConfigMap + Job that runs the functional GPU probe in a "
        "serving image",
        description="Print a ConfigMap holding hostcheck's functional probe script and a Job "
        "that runs it in the serving image on one node.",
        epilog=FUNCTIONAL_JOB_EPILOG,
        formatter_class=_Formatter,
    )
    job.add_argument("--image", required=True, help="the serving image (its Python has PyTorch)")
    job.add_argument("--node", required=True, help="the node to run on (spec.nodeName)")
    job.add_argument("--namespace", default="hostcheck", help="default: hostcheck")
    job.add_argument(
        "--python", default="python3", help="the interpreter in the image (default: python3)"
    )
    size = job.add_mutually_exclusive_group()
    size.add_argument(
        "--profile",
        metavar="NAME",
        help="allocate this profile's memory (default: the default profile)",
    )
    size.add_argument("--target-gib", metavar="GIB", type=float, help="allocate this much instead")
    job.add_argument(
        "--budget",
        metavar="SECONDS",
        type=int,
        default=300,
        help="the probe's time budget; the Job's deadline adds 600 s for the image pull (default: 300)",
    )
    job.add_argument(
        "--gpu-resource",
        default="amd.com/gpu",
        help="the device plugin's resource name (default: amd.com/gpu)",
    )
    job.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE instead of standard output"
    )


def cmd_functional_job(args: argparse.Namespace) -> int:
    from hostcheck.checks.catalog import default_profile
    from hostcheck.cluster.functional_job import JobOptions, render

    if args.budget < 30:
        raise UsageError("--budget must be at least 30 seconds")
    target = args.target_gib
    if target is None:
        profiles = _load_catalog(args)[1]
        if args.profile and args.profile not in profiles:
            raise UsageError(f"unknown profile {args.profile!r}; available: {', '.join(profiles)}")
        target = (
            profiles[args.profile] if args.profile else default_profile(profiles)
        ).required_gib
    if target <= 0:
        raise UsageError("--target-gib must be a positive number")
    text = render(
        JobOptions(
            image=args.image,
            node=args.node,
            namespace=args.namespace,
            python=args.python,
            target_gib=target,
            budget_s=args.budget,
            gpu_resource=args.gpu_resource,
        )
    )
    if args.output:
        _write_output(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    _apply_config(args)
    rules, profiles = _load_catalog(args)
    if args.profiles:
        for profile in profiles.values():
            mark = " (default)" if profile.default else ""
            print(f"{profile.name:<10} needs {profile.required_gib:>5g} GiB  {profile.title}{mark}")
        return 0
    for rule in rules:
        print(f"{rule.id:<28} {rule.severity.value:<8} {rule.reviewed}  {rule.title}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    _apply_config(args)
    rules, _ = _load_catalog(args)
    rule = next((r for r in rules if r.id == args.rule), None)
    if rule is None:
        from hostcheck.checks.catalog import unknown_ids

        raise UsageError(
            f"unknown rule id {unknown_ids([args.rule], (r.id for r in rules), quote=True)} "
            "(see `hostcheck rules`)"
        )
    print(f"{rule.id} — {rule.title}")
    print(f"severity: {rule.severity.value}   applies to: {rule.applies_to}   check: {rule.check}")
    if rule.needs:
        print(
            "judged where ROCm serves: skipped where inference runs on Vulkan"
            + (
                ", and on a container node with no ROCm running or declared (docs/stack.md)"
                if rule.needs == "rocm-version"
                else " (docs/stack.md)"
            )
        )
    print(f"reviewed: {rule.reviewed} (facts checked against the sources on that date)")
    print("references:")
    for ref in rule.references:
        print(f"  {ref}")
    print(f"see it yourself: {rule.command}")
    print()
    print(rule.rationale)
    if rule.params:
        print("\nparameters (from the rule file):")
        for key, value in rule.params.items():
            print(f"  {key} = {value!r}")
    if rule.remediation:
        print(f"\nremediation ({rule.remediation['kind']}): {rule.remediation['summary']}")
    print(f"\ndefined in {rule.source_file}")
    return 0


def cmd_fixtures(args: argparse.Namespace) -> int:
    from hostcheck.checks.catalog import data_dir

    for name in _fixture_names():
        with open(
            os.path.join(data_dir("fixtures"), name, ".hostcheck", "about.txt"), encoding="utf-8"
        ) as handle:
            summary = handle.readline().strip()
        print(f"{name:<22} {summary}")
    return 0


def _cluster_command(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from hostcheck.cli import cluster as _cluster_cli

        handler: Callable[[argparse.Namespace], int] = getattr(_cluster_cli, name)
        return handler(args)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from hostcheck.cli.monitor import cmd_monitor
    from hostcheck.host.safeio import InputError, printable

    handlers = {
        "scan": cmd_scan,
        "monitor": cmd_monitor,
        "rules": cmd_rules,
        "explain": cmd_explain,
        "fixtures": cmd_fixtures,
        "snapshot": cmd_snapshot,
        "functional-job": cmd_functional_job,
        "fix": cmd_fix,
        "tui": cmd_tui,
        "nfd": _cluster_command("cmd_nfd"),
        "fleet": _cluster_command("cmd_fleet"),
        "preflight-jobs": _cluster_command("cmd_preflight_jobs"),
    }
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        _fatal(str(exc))
    except InputError as exc:  # a file given or recorded that cannot be used: exit 2, one line
        _fatal(printable(str(exc), limit=500))
    except KeyboardInterrupt:
        _fatal("interrupted", 130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_READY
    except Exception as exc:
        if os.environ.get("HOSTCHECK_DEBUG"):
            raise
        _fatal(
            f"internal error: {type(exc).__name__}: {exc} — please report it "
            "(set HOSTCHECK_DEBUG=1 for the traceback)",
            EXIT_INTERNAL,
        )
