"""Load the rule catalog (rules/*.toml) and the workload profiles (rules/profiles.toml).

Rules are data: each file declares one rule, the check kind that decides it and that kind's
parameters. A malformed file is a :class:`CatalogError` that names the file and the key.
"""

import json
import os
import re
import zlib
from typing import Any

from hostcheck._record import NamedTuple
from hostcheck.model import Rule, Severity

# Patterns are compiled on first use (re caches them), not at import: every run pays for
# an import, few use every pattern.
RULE_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:[-.][a-z0-9]+)*"
RULE_KEYS = {
    "id", "title", "severity", "applies_to", "references", "rationale", "command", "check",
    "remediation",
}  # fmt: skip
APPLIES_TO = {"any-host", "strix-halo"}
REMEDIATION_KINDS = {"kernel-args", "modprobe", "sysctl", "manual"}


class CatalogError(Exception):
    """A rule or profile file is invalid; the message names the file and what is wrong."""


CACHE_NAME = "catalog.json"


def data_dir(name: str) -> str:
    """``rules`` or ``fixtures``: inside the installed wheel, or at the top of a checkout."""
    package = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(package, "_data", name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(package), name)


class Profile(NamedTuple):
    name: str
    title: str
    required_gib: float
    reasoning: str
    default: bool


def _require(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise CatalogError(f"{where}: missing key '{key}'")
    value = data[key]
    if not isinstance(value, kind):
        raise CatalogError(
            f"{where}: '{key}' must be a {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _check_template(text: object, fields: tuple[str, ...], where: str) -> None:
    """A remediation string must be a str.format template whose {fields} the check fills."""
    from _string import formatter_parser  # what string.Formatter().parse() calls

    if not isinstance(text, str):
        raise CatalogError(f"{where}: expected text, got {type(text).__name__}")
    try:
        for _, field, _, _ in formatter_parser(text):
            if field is not None and field not in fields:
                known = ", ".join(f"{{{f}}}" for f in fields) or "none"
                raise CatalogError(
                    f"{where}: {{{field}}} is not filled by this check (it fills {known})"
                )
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc} in {text!r}") from None


def parse_rule(
    data: dict[str, Any],
    where: str,
    check_kinds: dict[str, tuple[str, ...]],
    fix_fields: dict[str, tuple[str, ...]] | None = None,
) -> Rule:
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rule_id = _require(data, "id", str, where)
    if not re.fullmatch(RULE_ID, rule_id):
        raise CatalogError(f"{where}: id {rule_id!r} is not lower-case dotted 'area.name'")
    severity_text = _require(data, "severity", str, where)
    try:
        severity = Severity(severity_text)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise CatalogError(f"{where}: severity {severity_text!r} is not one of {allowed}") from None
    applies = data.get("applies_to", "strix-halo")
    if applies not in APPLIES_TO:
        raise CatalogError(f"{where}: applies_to {applies!r} is not one of {sorted(APPLIES_TO)}")
    check = dict(_require(data, "check", dict, where))
    kind = check.pop("kind", None)
    if kind not in check_kinds:
        raise CatalogError(f"{where}: [check] kind {kind!r} is not a known check kind")
    missing = [name for name in check_kinds[kind] if name not in check]
    if missing:
        raise CatalogError(f"{where}: [check] kind {kind} needs {', '.join(missing)}")
    references = _require(data, "references", list, where)
    if not all(isinstance(ref, str) for ref in references):
        raise CatalogError(f"{where}: references must be strings")
    remediation = data.get("remediation")
    if remediation is not None:
        if not isinstance(remediation, dict) or remediation.get("kind") not in REMEDIATION_KINDS:
            raise CatalogError(
                f"{where}: [remediation] kind must be one of {sorted(REMEDIATION_KINDS)}"
            )
        _require(remediation, "summary", str, f"{where} [remediation]")
        for key in ("summary", "add_kernel_args", "remove_kernel_args", "modprobe"):
            values = remediation.get(key, [])
            for text in values if isinstance(values, list) else [values]:
                _check_template(
                    text, (fix_fields or {}).get(kind, ()), f"{where} [remediation] {key}"
                )
    return Rule(
        id=rule_id,
        title=_require(data, "title", str, where),
        severity=severity,
        applies_to=applies,
        check=kind,
        params=check,
        references=tuple(references),
        rationale=_require(data, "rationale", str, where).strip(),
        command=_require(data, "command", str, where),
        remediation=remediation,
        source_file=where,
    )


def _sources(directory: str) -> dict[str, bytes]:
    """The rule catalog's TOML files, by name."""
    if not os.path.isdir(directory):
        raise CatalogError(f"{directory}: rule directory not found")
    sources = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".toml"):
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as handle:
                    sources[name] = handle.read()
            except OSError as exc:
                raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
    return sources


def _digest(sources: dict[str, bytes]) -> str:
    return ",".join(f"{name}:{len(data)}:{zlib.crc32(data):08x}" for name, data in sources.items())


def _parse_sources(directory: str, sources: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    import tomllib

    parsed = {}
    for name, data in sources.items():
        try:
            parsed[name] = tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CatalogError(f"{os.path.join(directory, name)}: not valid TOML ({exc})") from None
    return parsed


def _load_data(directory: str) -> dict[str, dict[str, Any]]:
    """Every TOML file of the catalog, parsed.

    ``catalog.json`` beside the rules is a compiled copy of them (like a .pyc: written by
    ``python -m hostcheck.catalog``, shipped in the wheel). It is used only when its digest
    of the TOML files matches them exactly; otherwise the TOML files are parsed. It saves the
    TOML parser's ~25 ms on every scan (benchmarks/bench_scan.py).
    """
    sources = _sources(directory)
    try:
        with open(os.path.join(directory, CACHE_NAME), encoding="utf-8") as handle:
            cached = json.load(handle)
        if isinstance(cached, dict) and cached.get("digest") == _digest(sources):
            files: dict[str, dict[str, Any]] = cached["files"]
            return files
    except (OSError, ValueError, KeyError):
        pass
    return _parse_sources(directory, sources)


def compile_catalog(directory: str | None = None) -> str:
    """Write catalog.json for a rule directory; returns its path."""
    directory = directory or data_dir("rules")
    sources = _sources(directory)
    data = {"digest": _digest(sources), "files": _parse_sources(directory, sources)}
    path = os.path.join(directory, CACHE_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    return path


def load_catalog(directory: str | None = None) -> tuple[list[Rule], dict[str, Profile]]:
    """The rules and the workload profiles of a rule directory (default: the bundled one)."""
    from hostcheck.checks import FIX_FIELDS, REQUIRED_PARAMS

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
    if "profiles.toml" not in files:
        raise CatalogError(f"{os.path.join(directory, 'profiles.toml')}: missing")
    return rules, _profiles(files["profiles.toml"], os.path.join(directory, "profiles.toml"))


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
        profiles[name] = Profile(
            name=name,
            title=_require(entry, "title", str, where),
            required_gib=float(required),
            reasoning=_require(entry, "reasoning", str, where).strip(),
            default=bool(entry.get("default", False)),
        )
    defaults = [p for p in profiles.values() if p.default]
    if len(defaults) != 1:
        raise CatalogError(f"{path}: exactly one profile must have default = true")
    return profiles


def default_profile(profiles: dict[str, Profile]) -> Profile:
    return next(p for p in profiles.values() if p.default)


if __name__ == "__main__":
    print(f"wrote {compile_catalog()}")
