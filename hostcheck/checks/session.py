"""A scan as a value: what to check (a Source), and the report, facts and host it produced.

The one place that turns "this host / this root / this fixture, this profile" into a Report.
The CLI (``scan``, ``fix``, ``nfd`` …) and the TUI both call it; it prints nothing, exits
nothing and imports no user interface. Mistakes in the source raise SourceError with a
one-line message the caller shows as it likes.
"""

from __future__ import annotations

import os
import time

from hostcheck._record import NamedTuple
from hostcheck.errors import USAGE, HostcheckError

# Eager annotations in the NamedTuple below: a string one costs typing a ForwardRef compile
# at import (a few ms on every run); the model is needed by every scan anyway.
from hostcheck.facts import Workload
from hostcheck.model import Waiver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.facts import Facts
    from hostcheck.host.core import Host
    from hostcheck.model import Profile, Report, Rule


# A tree with none of these is not a host's / (an empty directory, a mistyped path's parent):
# scanning it would report "no GPU" on what is no host at all.
HOST_ROOT_DIRS = ("/proc", "/sys", "/etc")
FUNCTIONAL_PREFIX = "functional."


class SourceError(HostcheckError):
    """The source names something that is not there: an unknown fixture, rule id or profile,
    an unreadable root or environment file, an impossible combination of options."""

    kind = USAGE


class Source(NamedTuple):
    """What to scan and how; the defaults scan this host with the default profile."""

    root: str | None = None  # a host tree (fixture copy, snapshot, the host in a container)
    fixture: str | None = None  # a bundled sample host by name
    host_mount: bool = False
    profile: str | None = None
    user: str | None = None
    python: str | None = None
    env_files: tuple[str, ...] = ()
    rules_dir: str | None = None
    # The operator's drop-ins that add rows to rules' tables (rules.d next to the config file).
    dropin_dir: str | None = None
    timeout: float = 2.0
    select: tuple[str, ...] = ()
    fail_on: str = "fail"  # "fail" or "warn"
    waivers: tuple[Waiver, ...] = ()  # from the config file (hostcheck.cli.config)
    workload: Workload | None = None  # declared: --backend / --workload-* / [workload]
    # The --root the user named when the scan reads an unpacked copy of it (a snapshot
    # tarball): what the report and the screens show instead of the temporary directory.
    shown_root: str | None = None
    # Options that came from the config file: option -> "config FILE, line N", so a bad
    # value is reported where it was written.
    origins: tuple[tuple[str, str], ...] = ()
    # scan --functional: run the GPU probe script in --python (live hosts only; a recorded
    # run in a snapshot is replayed without it). force: even while vLLM/llama.cpp runs.
    functional: bool = False
    functional_force: bool = False
    functional_timeout: float = 300.0
    functional_target_gib: float | None = None  # default: the profile's required_gib
    # The node's name as the cluster knows it (--node-name, or $NODE_NAME from the Downward
    # API with --host-mount): a pod without hostNetwork has its own UTS namespace, and RHCOS
    # has no /etc/hostname, so neither names the node.
    node_name: str | None = None

    def origin(self, option: str, problem: str) -> str:
        place = dict(self.origins).get(option)
        return f"{place}: {option}: {problem}" if place else problem

    @property
    def live(self) -> bool:
        return not self.fixture and os.path.realpath(self.root or "/") == "/"

    def describe(self) -> str:
        """Where the scan looks, as a person names it (no temporary paths for fixtures)."""
        if self.fixture:
            return f"fixture {self.fixture}"
        if self.shown_root:
            return f"the snapshot {self.shown_root}"
        if self.root and self.root != "/":
            return f"the tree at {self.root}"
        return "this host"


class Scan(NamedTuple):
    report: Report
    facts: Facts
    host: Host


def fixture_names() -> list[str]:
    from hostcheck.checks.catalog import data_dir

    base = data_dir("fixtures")
    return sorted(n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n, ".hostcheck")))


def fixture_root(name: str) -> str:
    from hostcheck.checks.catalog import data_dir

    names = fixture_names()
    if name not in names:
        raise SourceError(f"no bundled fixture {name!r}; available: {', '.join(names)}")
    return os.path.join(data_dir("fixtures"), name)


def bundled_fixture(root: str) -> str | None:
    """The name of the bundled fixture ``root`` lies in (given by its path, in the installed
    package or in the checkout), or None."""
    from hostcheck.checks.catalog import data_dir

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # hostcheck/
    real = os.path.realpath(root)
    for base in {
        data_dir("fixtures"),
        os.path.join(package, "_data", "fixtures"),
        os.path.join(os.path.dirname(package), "fixtures"),
    }:
        rel = os.path.relpath(real, os.path.realpath(base))
        if rel != "." and not rel.startswith(".."):
            return rel.split(os.sep)[0]
    return None


def load_catalog(
    rules_dir: str | None, dropin_dir: str | None = None
) -> tuple[list[Rule], dict[str, Profile], list[str]]:
    from hostcheck.checks.catalog import load_catalog_with_dropins
    from hostcheck.checks.rulefile import CatalogError

    try:
        return load_catalog_with_dropins(rules_dir, dropin_dir)
    except CatalogError as exc:
        raise SourceError(str(exc)) from None


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them."""
    from hostcheck.host.safeio import InputError, read_file_text

    try:
        text = read_file_text(path, what="--env-file", max_bytes=1024 * 1024)
    except InputError as exc:
        raise SourceError(str(exc)) from None
    env = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip().replace("_", "").isalnum():
            raise SourceError(
                f"--env-file {path}, line {number}: expected KEY=VALUE, got {line[:60]!r}"
            )
        env[key.strip()] = value.strip().strip("'\"")
    return env


class _Prepared:
    """What a scan starts from. A plain class: its annotations name types this module does
    not import at run time, and NamedTuple would compile them as ForwardRefs on import."""

    __slots__ = ("catalog", "catalog_size", "env_files", "host", "profile", "rules")

    def __init__(
        self,
        rules: list[Rule],
        profile: Profile,
        host: Host,
        env_files: list[tuple[str, dict[str, str]]],
        catalog_size: int,
        catalog: dict[str, object],
    ) -> None:
        self.rules, self.profile, self.host, self.env_files = rules, profile, host, env_files
        self.catalog_size = catalog_size
        self.catalog = catalog


def _prepare(source: Source) -> _Prepared:
    from hostcheck.checks.catalog import catalog_date, default_profile
    from hostcheck.host.core import Host, HostError
    from hostcheck.host.safeio import InputError

    try:
        rules, profiles, dropins = load_catalog(source.rules_dir, source.dropin_dir)
    except SourceError as exc:
        raise SourceError(source.origin("rules", str(exc))) from None
    catalog: dict[str, object] = {"reviewed": catalog_date(rules), "dropins": dropins}
    known = {rule.id for rule in rules}
    for waiver in source.waivers:
        if waiver.rule not in known:
            raise SourceError(
                f"config {waiver.source}: waiver rule {waiver.rule!r} is not a known rule id "
                "(see `hostcheck rules`)"
            )
    unknown = [rule for rule in source.select if rule not in known]
    if unknown:
        from hostcheck.checks.catalog import unknown_ids

        raise SourceError(
            f"unknown rule id(s): {unknown_ids(unknown, known)} (see `hostcheck rules`)"
        )
    catalog_size = len(rules)
    if source.select:
        rules = [rule for rule in rules if rule.id in source.select]
    if source.profile:
        if source.profile not in profiles:
            raise SourceError(
                source.origin(
                    "profile",
                    f"unknown profile {source.profile!r}; available: {', '.join(profiles)}",
                )
            )
        profile = profiles[source.profile]
    else:
        profile = default_profile(profiles)
    if source.timeout <= 0:
        raise SourceError("--timeout must be a positive number of seconds")
    if source.functional:
        if not source.live:
            raise SourceError(
                "--functional runs the GPU probe on this host only; a run recorded in a "
                "snapshot is replayed without it"
            )
        if not source.python:
            raise SourceError(
                "--functional needs --python PATH: the interpreter that serves (its PyTorch "
                "runs the GPU probe)"
            )
        if source.functional_timeout < 30:
            raise SourceError("--functional-timeout must be at least 30 seconds")
        if source.functional_target_gib is not None and source.functional_target_gib <= 0:
            raise SourceError("--functional-target-gib must be a positive number")
    if source.host_mount and not source.root:
        raise SourceError(
            "--host-mount needs --root DIR (the host's / as mounted in the container)"
        )
    root = fixture_root(source.fixture) if source.fixture else (source.root or "/")
    env_files = [(path, read_env_file(path)) for path in source.env_files]
    try:
        host = Host(root, host_mount=source.host_mount, read_timeout=source.timeout)
        host.load_records()
    except HostError as exc:
        raise SourceError(str(exc)) from None
    except InputError as exc:  # a damaged recorded item of a snapshot or fixture tree
        raise SourceError(str(exc)) from None
    if not host.live and not any(host.is_dir(d) for d in HOST_ROOT_DIRS):
        shown = source.shown_root or source.root
        raise SourceError(
            f"--root {shown}: this is not a host root (none of "
            f"{', '.join(HOST_ROOT_DIRS)} is in it); give the directory that holds a host's / "
            "(a fixture copy, an unpacked snapshot, the host mounted in a container)"
        )
    return _Prepared(rules, profile, host, env_files, catalog_size, catalog)


def check(source: Source) -> None:
    """Raise SourceError now for a source that cannot be scanned (cheap: reads no host data
    beyond the root directory itself), so an interactive caller can refuse before it starts."""
    _prepare(source)


def scan(source: Source) -> Scan:
    """Probe the host the source names and run the catalog over its facts."""
    from hostcheck.checks import engine
    from hostcheck.facts import InferenceProcess
    from hostcheck.model import Status
    from hostcheck.probes import ProbeOptions, collect
    from hostcheck.readings import Value

    started = time.perf_counter()
    prepared = _prepare(source)
    functional = None
    if source.functional and prepared.host.live:
        from hostcheck.probes.functional import FunctionalOptions

        assert source.python is not None  # _prepare refused --functional without it
        functional = FunctionalOptions(
            python=source.python,
            target_gib=source.functional_target_gib or prepared.profile.required_gib,
            bound_s=source.functional_timeout,
            force=source.functional_force,
        )
    from hostcheck.checks.catalog import probe_needs

    needs = probe_needs(prepared.rules)
    facts = collect(
        prepared.host,
        ProbeOptions(
            user=source.user,
            python=source.python,
            workload=source.workload,
            sysctls=needs["sysctls"],
            functional=functional,
        ),
    )
    if source.shown_root:
        facts = facts._replace(root=source.shown_root)
    if source.node_name:
        facts = facts._replace(hostname=Value(source.node_name, "--node-name / $NODE_NAME"))
    if prepared.env_files:
        extra = [
            InferenceProcess("vllm", 0, ("--env-file", path), Value(env, path), path)
            for path, env in prepared.env_files
        ]
        running = facts.processes.value if isinstance(facts.processes, Value) else []
        facts = facts._replace(processes=Value(running + extra, facts.processes.source))
    fail_on = Status.WARN if source.fail_on == "warn" else Status.FAIL
    rules = prepared.rules
    if facts.functional is None and not source.select:
        # The functional rules judge a run that was neither asked for nor recorded: leave
        # them out rather than add five "not run" lines to every report.
        rules = [rule for rule in rules if not rule.id.startswith(FUNCTIONAL_PREFIX)]
    report = engine.run(
        rules,
        facts,
        prepared.profile,
        fail_on=fail_on,
        duration=time.perf_counter() - started,
        generated=utc_now(),
        catalog=prepared.catalog,
    )
    if source.select:
        report = report._replace(catalog_size=prepared.catalog_size)
    if source.waivers:
        import datetime

        from hostcheck.checks.waivers import apply_waivers

        report = apply_waivers(report, source.waivers, datetime.date.today())
    return Scan(report, facts, prepared.host)


def change_refusal(source: Source) -> str | None:
    """Why fixes may not be applied to (or undone on) this source, or None when they may:
    bundled fixtures are read-only, and the live host changes only as root. The same rules
    as `hostcheck fix --apply`."""
    if source.fixture:
        return (
            "fixture trees are read-only; copy one (hostcheck fixtures lists them) and use --root"
        )
    if source.shown_root:
        return (
            f"{source.shown_root} is unpacked to a temporary copy that is deleted on exit; "
            "unpack it yourself and use --root DIR"
        )
    bundled = bundled_fixture(source.root) if source.root else None
    if bundled is not None:
        return (
            f"{source.root} is the bundled fixture {bundled}, which is read-only; copy it "
            f"first (cp -a {source.root} /tmp/{bundled}) and use --root /tmp/{bundled}"
        )
    if source.live and os.geteuid() != 0:
        return "changing this host needs root: run it with sudo"
    return None


def utc_now() -> str:
    """Now as RFC 3339 UTC with seconds ("2026-01-31T12:00:00Z"): a report's "generated"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # no datetime import per scan
