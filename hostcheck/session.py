"""A scan as a value: what to check (a Source), and the report, facts and host it produced.

The one place that turns "this host / this root / this fixture, this profile" into a Report.
The CLI (``scan``, ``fix``, ``nfd`` …) and the TUI both call it; it prints nothing, exits
nothing and imports no user interface. Mistakes in the source raise SourceError with a
one-line message the caller shows as it likes.
"""

import os
import time
from typing import TYPE_CHECKING

from hostcheck._record import NamedTuple

# Eager annotations in the NamedTuple below: a string one costs typing a ForwardRef compile
# at import (a few ms on every run); the model is needed by every scan anyway.
from hostcheck.model import Waiver

if TYPE_CHECKING:
    from hostcheck.catalog import Profile
    from hostcheck.facts import Facts
    from hostcheck.host import Host
    from hostcheck.model import Report, Rule


class SourceError(Exception):
    """The source names something that is not there: an unknown fixture, rule id or profile,
    an unreadable root or environment file, an impossible combination of options."""


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
    timeout: float = 2.0
    select: tuple[str, ...] = ()
    fail_on: str = "fail"  # "fail" or "warn"
    waivers: tuple[Waiver, ...] = ()  # from the config file (hostcheck.config)
    # The --root the user named when the scan reads an unpacked copy of it (a snapshot
    # tarball): what the report and the screens show instead of the temporary directory.
    shown_root: str | None = None
    # Options that came from the config file: option -> "config FILE, line N", so a bad
    # value is reported where it was written.
    origins: tuple[tuple[str, str], ...] = ()

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
    report: "Report"
    facts: "Facts"
    host: "Host"


def fixture_names() -> list[str]:
    from hostcheck.catalog import data_dir

    base = data_dir("fixtures")
    return sorted(n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n, ".hostcheck")))


def fixture_root(name: str) -> str:
    from hostcheck.catalog import data_dir

    names = fixture_names()
    if name not in names:
        raise SourceError(f"no bundled fixture {name!r}; available: {', '.join(names)}")
    return os.path.join(data_dir("fixtures"), name)


def load_catalog(rules_dir: str | None) -> "tuple[list[Rule], dict[str, Profile]]":
    from hostcheck.catalog import CatalogError
    from hostcheck.catalog import load_catalog as load

    try:
        return load(rules_dir)
    except CatalogError as exc:
        raise SourceError(str(exc)) from None


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise SourceError(f"--env-file {path}: not UTF-8 text") from None
        raise SourceError(f"--env-file {path}: {exc.strerror}") from None
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

    __slots__ = ("env_files", "host", "profile", "rules")

    def __init__(
        self,
        rules: "list[Rule]",
        profile: "Profile",
        host: "Host",
        env_files: list[tuple[str, dict[str, str]]],
    ) -> None:
        self.rules, self.profile, self.host, self.env_files = rules, profile, host, env_files


def _prepare(source: Source) -> _Prepared:
    from hostcheck.catalog import default_profile
    from hostcheck.host import Host, HostError

    try:
        rules, profiles = load_catalog(source.rules_dir)
    except SourceError as exc:
        raise SourceError(source.origin("rules", str(exc))) from None
    known = {rule.id for rule in rules}
    for waiver in source.waivers:
        if waiver.rule not in known:
            raise SourceError(
                f"config {waiver.source}: waiver rule {waiver.rule!r} is not a known rule id "
                "(see `hostcheck rules`)"
            )
    unknown = [rule for rule in source.select if rule not in known]
    if unknown:
        raise SourceError(f"unknown rule id(s): {', '.join(unknown)} (see `hostcheck rules`)")
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
    if source.host_mount and not source.root:
        raise SourceError(
            "--host-mount needs --root DIR (the host's / as mounted in the container)"
        )
    root = fixture_root(source.fixture) if source.fixture else (source.root or "/")
    env_files = [(path, read_env_file(path)) for path in source.env_files]
    try:
        host = Host(root, host_mount=source.host_mount, read_timeout=source.timeout)
    except HostError as exc:
        raise SourceError(str(exc)) from None
    return _Prepared(rules, profile, host, env_files)


def check(source: Source) -> None:
    """Raise SourceError now for a source that cannot be scanned (cheap: reads no host data
    beyond the root directory itself), so an interactive caller can refuse before it starts."""
    _prepare(source)


def scan(source: Source) -> Scan:
    """Probe the host the source names and run the catalog over its facts."""
    from hostcheck import engine
    from hostcheck.facts import InferenceProcess
    from hostcheck.model import Status
    from hostcheck.probes import ProbeOptions, collect
    from hostcheck.readings import Value

    started = time.perf_counter()
    prepared = _prepare(source)
    facts = collect(prepared.host, ProbeOptions(user=source.user, python=source.python))
    if source.shown_root:
        facts = facts._replace(root=source.shown_root)
    if prepared.env_files:
        extra = [
            InferenceProcess("vllm", 0, ("--env-file", path), Value(env, path), path)
            for path, env in prepared.env_files
        ]
        running = facts.processes.value if isinstance(facts.processes, Value) else []
        facts = facts._replace(processes=Value(running + extra, facts.processes.source))
    fail_on = Status.WARN if source.fail_on == "warn" else Status.FAIL
    report = engine.run(
        prepared.rules,
        facts,
        prepared.profile,
        fail_on=fail_on,
        duration=time.perf_counter() - started,
        generated=utc_now(),
    )
    if source.waivers:
        import datetime

        from hostcheck.waivers import apply_waivers

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
    if source.live and os.geteuid() != 0:
        return "changing this host needs root: run it with sudo"
    return None


def utc_now() -> str:
    """Now as RFC 3339 UTC with seconds ("2026-01-31T12:00:00Z"): a report's "generated"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # no datetime import per scan
