"""One rule file (rules/*.toml) validated into a :class:`~hostcheck.model.Rule`.

A rule file declares one rule, the check kind that decides it and that kind's parameters. A
malformed file is a :class:`CatalogError` that names the file and the key.
"""

from __future__ import annotations

import re

from hostcheck.errors import INPUT, HostcheckError
from hostcheck.model import Rule, Severity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Patterns are compiled on first use (re caches them), not at import: every run pays for
# an import, few use every pattern.
RULE_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:[-.][a-z0-9]+)*"
RULE_KEYS = {
    "id", "title", "severity", "applies_to", "references", "rationale", "command", "check",
    "remediation", "needs", "reviewed",
}  # fmt: skip
PUBLIC_URL = r"https://[A-Za-z0-9.-]+\.[a-z]{2,}(/\S*)?"
REVIEWED = r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
APPLIES_TO = {"any-host", "strix-halo"}
NEEDS = {"rocm", "rocm-version"}
ENGINES = {"vllm", "llama.cpp"}
REMEDIATION_KINDS = {"kernel-args", "modprobe", "sysctl", "manual"}


class CatalogError(HostcheckError):
    """A rule or profile file is invalid; the message names the file and what is wrong."""

    kind = INPUT


def require(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
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
    """The rule a rule file's data declares; a CatalogError naming ``where`` and the key when
    the data is not a valid rule."""
    validate_rule(data, where, check_kinds, fix_fields)
    return build_rule(data, where)


def validate_rule(
    data: dict[str, Any],
    where: str,
    check_kinds: dict[str, tuple[str, ...]],
    fix_fields: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """Raise CatalogError for rule data that is not a valid rule (the first mistake found)."""
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rule_id = require(data, "id", str, where)
    if not re.fullmatch(RULE_ID, rule_id):
        raise CatalogError(f"{where}: id {rule_id!r} is not lower-case dotted 'area.name'")
    severity_text = require(data, "severity", str, where)
    try:
        Severity(severity_text)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise CatalogError(f"{where}: severity {severity_text!r} is not one of {allowed}") from None
    applies = data.get("applies_to", "strix-halo")
    if applies not in APPLIES_TO:
        raise CatalogError(f"{where}: applies_to {applies!r} is not one of {sorted(APPLIES_TO)}")
    needs = data.get("needs")
    if needs is not None and needs not in NEEDS:
        raise CatalogError(f"{where}: needs {needs!r} is not one of {sorted(NEEDS)}")
    check = dict(require(data, "check", dict, where))
    kind = check.pop("kind", None)
    if kind not in check_kinds:
        raise CatalogError(f"{where}: [check] kind {kind!r} is not a known check kind")
    missing = [name for name in check_kinds[kind] if name not in check]
    if missing:
        raise CatalogError(f"{where}: [check] kind {kind} needs {', '.join(missing)}")
    reviewed = require(data, "reviewed", str, where)
    if not re.fullmatch(REVIEWED, reviewed):
        raise CatalogError(f"{where}: reviewed {reviewed!r} is not a date YYYY-MM-DD")
    references = require(data, "references", list, where)
    if not all(isinstance(ref, str) for ref in references):
        raise CatalogError(f"{where}: references must be strings")
    for ref in references:
        if not re.fullmatch(PUBLIC_URL, ref):
            raise CatalogError(
                f"{where}: reference {ref!r} is not a public https:// URL (users must be able "
                "to open every reference)"
            )
    remediation = data.get("remediation")
    if remediation is not None:
        if not isinstance(remediation, dict) or remediation.get("kind") not in REMEDIATION_KINDS:
            raise CatalogError(
                f"{where}: [remediation] kind must be one of {sorted(REMEDIATION_KINDS)}"
            )
        require(remediation, "summary", str, f"{where} [remediation]")
        for key in ("summary", "add_kernel_args", "remove_kernel_args", "modprobe"):
            values = remediation.get(key, [])
            for text in values if isinstance(values, list) else [values]:
                _check_template(
                    text, (fix_fields or {}).get(kind, ()), f"{where} [remediation] {key}"
                )
    for key in ("title", "rationale", "command"):
        require(data, key, str, where)


def build_rule(data: dict[str, Any], where: str) -> Rule:
    """The Rule of rule data that :func:`validate_rule` accepted. The bundled catalog's
    compiled copy holds data validated when it was written; it is built with this alone."""
    check = dict(data["check"])
    kind = check.pop("kind")
    return Rule(
        id=data["id"],
        title=data["title"],
        severity=Severity(data["severity"]),
        applies_to=data.get("applies_to", "strix-halo"),
        check=kind,
        params=check,
        references=tuple(data["references"]),
        rationale=data["rationale"].strip(),
        command=data["command"],
        remediation=data.get("remediation"),
        source_file=where,
        needs=data.get("needs"),
        reviewed=data["reviewed"],
    )
