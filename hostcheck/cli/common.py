"""What the commands share: exit codes, the source and functional
options, the configuration file's defaults, the Source a scan reads, and output writing.

Every ``hostcheck/cli/NAME.py`` imports this module and never another command's module.
"""

from __future__ import annotations

import os
import sys

from hostcheck.cli.options import Options
from hostcheck.errors import UsageError as UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, NoReturn

    from hostcheck.checks.session import Source
    from hostcheck.cli.options import Group
    from hostcheck.facts import Facts, Workload
    from hostcheck.host.core import Host
    from hostcheck.model import Profile, Report, Rule

EXIT_READY, EXIT_NOT_READY, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

DESCRIPTION = """\
Is this AMD Strix Halo (Ryzen AI Max, gfx1151) host ready to serve 32B-70B language models with
vLLM or llama.cpp? hostcheck probes the kernel, GPU memory visibility, amdgpu parameters,
firmware, the kernel log, device permissions and the ROCm / PyTorch stack, and reports every
problem against a catalog of known issues, with the evidence and the fix."""

READ_TIMEOUT_MAX = 86400.0  # a day: a bound for one file read, far above any sane one


def seconds_argument(maximum: float) -> Callable[[str], float]:
    """An argparse type for a duration: a finite number of seconds above 0 and at most
    ``maximum`` (nan, inf, 1e308 and negative values are usage errors, exit 2, not a crash in
    the clock arithmetic later)."""

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (0 < value <= maximum):  # also false for nan
            from argparse import ArgumentTypeError

            raise ArgumentTypeError(
                f"expected a number of seconds above 0 and at most {maximum:.0f}, got {text!r}"
            )
        return value

    seconds.__name__ = "seconds"
    return seconds


def fatal(message: str, code: int = EXIT_USAGE) -> NoReturn:
    from hostcheck.host.safeio import printable

    # Text from files and hosts may hold escape sequences: never sent raw to a terminal.
    print(f"hostcheck: error: {printable(message, keep_newlines=True)}", file=sys.stderr)
    raise SystemExit(code)


# -- options ----------------------------------------------------------------------------------
def add_config_option(parser: Group) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $HOSTCHECK_CONFIG, else /etc/hostcheck/config.toml if "
        "it exists); read from this machine even with --root or --fixture",
    )


def add_fail_on(group: Any) -> None:
    """--fail-on of the commands that judge readiness from the configuration (scan, monitor)."""
    group.add_argument(
        "--fail-on",
        choices=["warn", "fail"],
        help="the lowest status that makes the host not ready (default: fail, or fail_on in the "
        "config file)",
    )


def add_source_options(parser: Group) -> None:
    add_config_option(parser)
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


def add_functional_options(parser: Group) -> None:
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


# -- the configuration file, the catalog and the source ---------------------------------------
def apply_config(args: Options) -> None:
    """Fill the options not given on the command line from the configuration file."""
    from hostcheck.cli.config import load_config

    config = load_config(args.config)
    args.from_config = set()
    for key in ("profile", "fail_on", "user", "python", "rules"):
        if hasattr(args, key) and getattr(args, key) is None:
            setattr(args, key, getattr(config, key))
            if getattr(config, key) is not None:
                args.from_config.add(key)
    args.loaded_config = config


def dropin_dir(args: Options) -> str:
    """rules.d next to the configuration file (/etc/hostcheck/rules.d by default)."""
    from hostcheck.cli.config import config_path

    loaded = getattr(args, "loaded_config", None)
    # functional-job has no --config: its rules.d is the default configuration's.
    explicit = getattr(args, "config", None)
    path = loaded.path if loaded is not None and loaded.path else config_path(explicit)[0]
    return os.path.join(os.path.dirname(os.path.abspath(path)), "rules.d")


def load_catalog(args: Options) -> tuple[list[Rule], dict[str, Profile]]:
    from hostcheck.checks.catalog import CatalogError
    from hostcheck.checks.catalog import load_catalog as load

    try:
        return load(getattr(args, "rules", None), dropin_dir(args))
    except CatalogError as exc:
        if "rules" in getattr(args, "from_config", ()):
            raise UsageError(f"{args.loaded_config.place('rules')}: rules: {exc}") from None
        raise


def fixture_root(name: str) -> str:
    from hostcheck.checks.session import fixture_root as root

    return root(name)


def write_output(path: str, text: str | Iterable[str]) -> None:
    """Write a report atomically (hostcheck.host.output); a failure is the user's to fix."""
    from hostcheck.host.output import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"--output {path}: {exc.strerror or exc}") from None


def archive_root(args: Options, command: Callable[..., int]) -> int | None:
    """Run ``command`` on a snapshot tarball given as --root, unpacked privately; None when
    --root is not a file."""
    if not args.root or not os.path.isfile(args.root):
        return None
    from hostcheck.snapshot.archive import ArchiveError, unpacked

    if args.host_mount:
        raise UsageError(f"--root {args.root}: a snapshot tarball is not a mounted host")
    try:
        with unpacked(args.root) as tree:
            return command(Options(**{**vars(args), "root": tree}), shown_root=args.root)
    except ArchiveError as exc:
        raise UsageError(f"--root {args.root}: {exc}") from None


def _workload(args: Options) -> Workload | None:
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


def _node_name(args: Options) -> str | None:
    """--node-name, or $NODE_NAME in a container that reads the host at --root --host-mount
    (the Downward API's spec.nodeName); a name with control characters or spaces is refused."""
    name = getattr(args, "node_name", None)
    if name is None and getattr(args, "host_mount", False):
        name = os.environ.get("NODE_NAME") or None
    if name is not None and (not name or not name.isprintable() or " " in name or len(name) > 253):
        raise UsageError(f"--node-name / $NODE_NAME {name!r}: not a node name")
    return name


def source(args: Options, shown_root: str | None = None) -> Source:
    """The source options of scan, fix, tui … (and the config file's defaults and waivers)
    as a hostcheck.checks.session.Source."""
    from hostcheck.checks.session import Source

    if not hasattr(args, "loaded_config"):
        apply_config(args)
    return Source(
        root=args.root,
        fixture=args.fixture,
        host_mount=args.host_mount,
        profile=args.profile,
        user=args.user,
        python=args.python,
        env_files=tuple(args.env_file),
        rules_dir=getattr(args, "rules", None),
        dropin_dir=dropin_dir(args),
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


def scan(args: Options, shown_root: str | None = None) -> tuple[Report, Facts, Host]:
    """Probe the host the options name, run the catalog and apply the config file's waivers:
    the shared start of scan, fix, monitor and nfd (hostcheck.checks.session). ``shown_root`` is
    the --root the user gave when the scan reads an unpacked copy of it."""
    from hostcheck.checks.session import scan as scan_source

    return scan_source(source(args, shown_root))


def scan_report(args: Options) -> Report:
    """Scan the host the source options name and return the report (usage errors raise)."""
    return scan(args)[0]


def metrics_text(args: Options, report: Any, facts: Any, finished: float | None = None) -> str:
    """The Prometheus text of a scan, with the gauges taken from its facts (nfd and monitor)."""
    import time

    from hostcheck.checks.catalog import load_catalog as load
    from hostcheck.cluster import metrics as cluster
    from hostcheck.render import prometheus

    profile = load(getattr(args, "rules", None))[1].get(report.profile)
    gauges = cluster.gauges(report, facts, profile.required_gib if profile else None)
    when = time.time() if finished is None else finished
    return prometheus.render(report, timestamp=when, gauges=gauges)
