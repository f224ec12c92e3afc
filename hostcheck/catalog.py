"""Load the rule catalog (rules/*.toml) and the workload profiles (rules/profiles.toml).

Rules are data: each file declares one rule, the check kind that decides it and that kind's
parameters. A malformed file is a :class:`CatalogError` that names the file and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostcheck.model import Rule, Severity

RULE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:[-.][a-z0-9]+)*")
RULE_KEYS = {
    "id", "title", "severity", "applies_to", "references", "rationale", "command", "check",
    "remediation",
}  # fmt: skip
APPLIES_TO = {"any-host", "strix-halo"}
REMEDIATION_KINDS = {"kernel-args", "modprobe", "sysctl", "manual"}


class CatalogError(Exception):
    """A rule or profile file is invalid; the message names the file and what is wrong."""


def data_dir(name: str) -> Path:
    """``rules`` or ``fixtures``: inside the installed wheel, or at the top of a checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "_data" / name
    if installed.is_dir():
        return installed
    return package.parent / name


@dataclass(frozen=True)
class Profile:
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
        raise CatalogError(f"{where}: '{key}' must be a {kind.__name__}, not {type(value).__name__}")
    return value


def parse_rule(data: dict[str, Any], where: str, check_kinds: set[str]) -> Rule:
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rule_id = _require(data, "id", str, where)
    if not RULE_ID.fullmatch(rule_id):
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


def load_rules(directory: Path | None = None) -> list[Rule]:
    from hostcheck.checks import CHECK_KINDS

    directory = directory or data_dir("rules")
    if not directory.is_dir():
        raise CatalogError(f"{directory}: rule directory not found")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".toml") or name == "profiles.toml":
            continue
        path = directory / name
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{path}: not valid TOML ({exc})") from None
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
        rule = parse_rule(data, str(path), set(CHECK_KINDS))
        if name != f"{rule.id}.toml":
            raise CatalogError(f"{path}: file name must be {rule.id}.toml")
        if rule.id in seen:
            raise CatalogError(f"{path}: duplicate rule id {rule.id} (also in {seen[rule.id]})")
        seen[rule.id] = str(path)
        rules.append(rule)
    if not rules:
        raise CatalogError(f"{directory}: no rule files (*.toml)")
    return rules


def load_profiles(directory: Path | None = None) -> dict[str, Profile]:
    path = (directory or data_dir("rules")) / "profiles.toml"
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from None
    profiles = {}
    for name, entry in data.get("profile", {}).items():
        where = f"{path} [profile.{name}]"
        profiles[name] = Profile(
            name=name,
            title=_require(entry, "title", str, where),
            required_gib=float(_require(entry, "required_gib", (int, float), where)),  # type: ignore[arg-type]
            reasoning=_require(entry, "reasoning", str, where).strip(),
            default=bool(entry.get("default", False)),
        )
    defaults = [p for p in profiles.values() if p.default]
    if len(defaults) != 1:
        raise CatalogError(f"{path}: exactly one profile must have default = true")
    return profiles


def default_profile(profiles: dict[str, Profile]) -> Profile:
    return next(p for p in profiles.values() if p.default)
