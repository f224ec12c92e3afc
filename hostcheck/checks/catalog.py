"""Load the rule catalog (rules/*.toml) and the workload profiles (rules/profiles.toml).

Rules are data: each file declares one rule (validated by :mod:`hostcheck.checks.rulefile`);
the operator's drop-ins add rows to their tables (:mod:`hostcheck.checks.dropins`). The parsed
files are cached in ``catalog.json`` beside them, keyed by their digest.
"""

from __future__ import annotations

import binascii
import json
import os
from collections.abc import Iterable

from hostcheck.checks.rulefile import ENGINES, CatalogError, parse_rule, require
from hostcheck.model import Profile, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CACHE_NAME = "catalog.json"


def unknown_ids(unknown: list[str], known: Iterable[str], *, quote: bool = False) -> str:
    """Mistyped rule ids with the nearest known one: "memory.gt (did you mean 'memory.gtt'?)"."""
    import difflib

    choices = sorted(known)
    shown = []
    for rule in unknown:
        near = difflib.get_close_matches(rule, choices, n=1, cutoff=0.6)
        name = repr(rule) if quote else rule
        shown.append(f"{name} (did you mean {near[0]!r}?)" if near else name)
    return ", ".join(shown)


def data_dir(name: str) -> str:
    """``rules`` or ``fixtures``: inside the installed wheel, or at the top of a checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # hostcheck/
    installed = os.path.join(package, "_data", name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(package), name)


MAX_RULE_FILE_BYTES = 1024 * 1024  # a rule file is a few kilobytes


def _sources(directory: str) -> dict[str, bytes]:
    """The rule catalog's TOML files, by name (regular files only, bounded)."""
    from hostcheck.host.safeio import InputError, read_file_bytes

    if not os.path.isdir(directory):
        raise CatalogError(f"{directory}: rule directory not found")
    sources = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".toml"):
            path = os.path.join(directory, name)
            try:
                sources[name] = read_file_bytes(path, max_bytes=MAX_RULE_FILE_BYTES)
            except InputError as exc:
                raise CatalogError(f"{path}: cannot read ({exc.reason})") from None
    return sources


def _digest(sources: dict[str, bytes]) -> str:
    return ",".join(
        f"{name}:{len(data)}:{binascii.crc32(data):08x}" for name, data in sources.items()
    )


def _parse_sources(directory: str, sources: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    from hostcheck.host.safeio import InputError, parse_toml_text

    parsed = {}
    for name, data in sources.items():
        try:
            parsed[name] = parse_toml_text(data.decode("utf-8"))
        except (InputError, UnicodeDecodeError) as exc:
            detail = (
                exc.reason.removeprefix("invalid TOML: ")
                if isinstance(exc, InputError)
                else str(exc)
            )
            raise CatalogError(
                f"{os.path.join(directory, name)}: not valid TOML ({detail})"
            ) from None
    return parsed


def _cache_paths(directory: str, digest: str) -> list[str]:
    """Where the compiled catalog may be: beside the rules, else in the user's cache."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = f"{binascii.crc32(os.path.abspath(directory).encode()):08x}-{binascii.crc32(digest.encode()):08x}"
    return [
        os.path.join(directory, CACHE_NAME),
        os.path.join(cache_home, "hostcheck", f"catalog-{key}.json"),
    ]


def _load_data(directory: str) -> dict[str, dict[str, Any]]:
    """Every TOML file of the catalog, parsed.

    ``catalog.json`` is a compiled copy of them (like a .pyc), built on first use: beside the
    rules when that directory is writable, else in ``$XDG_CACHE_HOME/hostcheck``; nobody
    commits or edits it. It is used only when its digest of the TOML files matches them
    exactly; otherwise the TOML files are parsed (and the copy rebuilt). It saves the TOML
    parser's ~25 ms on every scan (benchmarks/bench_scan.py).
    """
    sources = _sources(directory)
    digest = _digest(sources)
    paths = _cache_paths(directory, digest)
    from hostcheck.host.safeio import InputError, load_json_file

    for path in paths:
        try:
            cached = load_json_file(path, what="catalog cache")
            if isinstance(cached, dict) and cached.get("digest") == digest:
                files = cached["files"]
                if isinstance(files, dict) and all(isinstance(f, dict) for f in files.values()):
                    return files
        except (InputError, KeyError):
            continue  # a damaged or foreign cache is only slower: the TOML files are parsed
    parsed = _parse_sources(directory, sources)
    for path in paths:
        if _write_cache(path, {"digest": digest, "files": parsed}):
            break
    return parsed


def _write_cache(path: str, data: dict[str, Any]) -> bool:
    """Write the compiled catalog atomically; False where that is not possible."""
    import contextlib  # a scan that finds the compiled catalog writes nothing: not imported
    import tempfile

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".catalog-")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.write("\n")
        os.replace(temp, path)
        return True
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False


def compile_catalog(directory: str | None = None) -> str:
    """Write catalog.json beside a rule directory's files now; returns its path."""
    directory = directory or data_dir("rules")
    sources = _sources(directory)
    path = os.path.join(directory, CACHE_NAME)
    if not _write_cache(
        path, {"digest": _digest(sources), "files": _parse_sources(directory, sources)}
    ):
        raise CatalogError(f"{path}: cannot write")
    return path


def load_catalog(
    directory: str | None = None, dropin_dir: str | None = None
) -> tuple[list[Rule], dict[str, Profile]]:
    """The rules and the workload profiles of a rule directory (default: the bundled one)."""
    rules, profiles, _ = load_catalog_with_dropins(directory, dropin_dir)
    return rules, profiles


def probe_needs(rules: list[Rule]) -> dict[str, tuple[str, ...]]:
    """What the probes must read because rules name it: the sysctl keys of `sysctl` rules."""
    keys = {str(rule.params["key"]) for rule in rules if rule.check == "sysctl"}
    return {"sysctls": tuple(sorted(keys))}


def catalog_date(rules: list[Rule]) -> str:
    """The catalog's date: the latest review of any of its rules (YYYY-MM-DD)."""
    return max((rule.reviewed for rule in rules), default="")


def load_catalog_with_dropins(
    directory: str | None = None, dropin_dir: str | None = None
) -> tuple[list[Rule], dict[str, Profile], list[str]]:
    """The catalog with the operator's drop-ins applied, and the drop-in files used.

    Drop-ins (``DIR/*.toml``, by default ``rules.d`` next to the configuration file) add rows
    to a rule's tables: a new ROCm release, a known-bad kernel, a firmware version. They are
    validated like the catalog; a bad one is a CatalogError naming the file and the line.
    """
    from hostcheck.checks.kinds import FIX_FIELDS, REQUIRED_PARAMS

    directory = directory or data_dir("rules")
    files = _load_data(directory)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for name, data in files.items():
        if name == "profiles.toml":
            continue
        path = os.path.join(directory, name)
        rule = parse_rule(data, path, REQUIRED_PARAMS, FIX_FIELDS)
        if name != f"{rule.id}.toml":
            raise CatalogError(f"{path}: file name must be {rule.id}.toml")
        if rule.id in seen:
            raise CatalogError(f"{path}: duplicate rule id {rule.id} (also in {seen[rule.id]})")
        seen[rule.id] = path
        rules.append(rule)
    if not rules:
        raise CatalogError(f"{directory}: no rule files (*.toml)")
    used: list[str] = []
    if dropin_dir is not None and os.path.isdir(dropin_dir):
        from hostcheck.checks.dropins import apply_dropins  # imported only where there are some

        rules, used = apply_dropins(rules, dropin_dir, REQUIRED_PARAMS, FIX_FIELDS)
    rules = _resolve_shared_tables(rules)
    if "profiles.toml" not in files:
        raise CatalogError(f"{os.path.join(directory, 'profiles.toml')}: missing")
    profiles = _profiles(files["profiles.toml"], os.path.join(directory, "profiles.toml"))
    return rules, profiles, used


# can never disagree about which kernel carries the KFD fix.
SHARED_TABLE_KEYS = ("kernel",)


def _resolve_shared_tables(rules: list[Rule]) -> list[Rule]:
    by_id = {rule.id: rule for rule in rules}
    resolved = []
    for rule in rules:
        params = dict(rule.params)
        for key in SHARED_TABLE_KEYS:
            target = params.get(key)
            if not isinstance(target, str):
                continue
            other = by_id.get(target)
            if other is None or isinstance(other.params.get(key), str):
                raise CatalogError(
                    f"{rule.source_file}: [check] {key} = {target!r} must name a rule whose "
                    "[check] table holds the values"
                )
            params[key] = dict(other.params)
        resolved.append(rule._replace(params=params))
    return resolved


def _profiles(data: dict[str, Any], path: str) -> dict[str, Profile]:
    profiles = {}
    table = data.get("profile", {})
    if not isinstance(table, dict):
        raise CatalogError(f"{path}: [profile] must be a table of profiles")
    for name, entry in table.items():
        where = f"{path} [profile.{name}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be a table")
        required = entry.get("required_gib")
        if not isinstance(required, int | float) or required <= 0:
            raise CatalogError(f"{where}: required_gib must be a positive number")
        engines = entry.get("engines", [])
        if not isinstance(engines, list) or not set(engines) <= ENGINES:
            raise CatalogError(f"{where}: engines must be a list of {sorted(ENGINES)}")
        profiles[name] = Profile(
            name=name,
            title=require(entry, "title", str, where),
            required_gib=float(required),
            reasoning=require(entry, "reasoning", str, where).strip(),
            default=bool(entry.get("default", False)),
            engines=tuple(engines),
        )
    defaults = [p for p in profiles.values() if p.default]
    if len(defaults) != 1:
        raise CatalogError(f"{path}: exactly one profile must have default = true")
    return profiles


def default_profile(profiles: dict[str, Profile]) -> Profile:
    return next(p for p in profiles.values() if p.default)


if __name__ == "__main__":
    print(f"wrote {compile_catalog()}")
