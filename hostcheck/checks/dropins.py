"""The operator's rule drop-ins (``rules.d/*.toml``): rows added to the catalog's tables.

A drop-in adds rows to a rule's tables (a new ROCm release, a known-bad kernel, a firmware
version). Each row is validated against the rows the table already has, and the rule with the
added rows is validated like a rule file; a bad one is a :class:`CatalogError` naming the file
and the line.
"""

import os
import re
from typing import Any

from hostcheck.checks.rulefile import CatalogError, parse_rule
from hostcheck.model import Rule

# Row fields whose values are versions or table verdicts: checked when a drop-in adds a row.
_VERSION_FIELDS = {"from", "below", "min", "release_from"}
_VERDICT_FIELDS = {"ubuntu", "fixed", "older"}
_VERDICTS = {"ok", "caution", "broken"}


def _row_lines(text: str) -> list[int]:
    """The line number of each [[row]] header of a drop-in, in order."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith("[[row]]")]


class _FieldError(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key, self.problem = key, problem


def _check_row(row: dict[str, Any], table: list[Any], where: str) -> Any:
    """A drop-in row, validated against the rows the table already has; returns the entry."""
    if table and not isinstance(table[0], dict):
        if set(row) != {"value"}:
            raise CatalogError(f"{where}: this table holds plain values: give only 'value'")
        value = row["value"]
        if not isinstance(value, type(table[0])):
            raise _FieldError(
                "value", f"value must be a {type(table[0]).__name__} like {table[0]!r}"
            )
        return value
    known: dict[str, type] = {}
    required = set(table[0]) if table else set(row)
    for existing in table:
        required &= set(existing)
        for key, value in existing.items():
            known.setdefault(key, type(value))
    missing = sorted(required - set(row))
    if missing:
        raise CatalogError(f"{where}: missing {', '.join(missing)}")
    for key, value in row.items():
        if key not in known:
            raise _FieldError(
                key, f"unknown field {key!r} (this table has {', '.join(sorted(known))})"
            )
        if not isinstance(value, known[key]):
            raise _FieldError(key, f"{key} must be a {known[key].__name__}")
        if key in _VERSION_FIELDS and not re.fullmatch(
            r"[0-9]+(\.[0-9]+)*(-rc[0-9]+)?", str(value)
        ):
            raise _FieldError(key, f"{key} = {value!r} is not a version like 7.2.1")
        if key in _VERDICT_FIELDS and value not in _VERDICTS:
            raise _FieldError(key, f"{key} = {value!r} is not one of {sorted(_VERDICTS)}")
    return row


def apply_dropins(
    rules: list[Rule],
    dropin_dir: str,
    check_kinds: dict[str, tuple[str, ...]],
    fix_fields: dict[str, tuple[str, ...]],
) -> tuple[list[Rule], list[str]]:
    """Add the rows of every drop-in file (sorted by name) to the rules' tables."""
    import tomllib

    if not os.path.isdir(dropin_dir):
        return rules, []
    by_id = {rule.id: rule for rule in rules}
    params = {
        rule.id: {k: (list(v) if isinstance(v, list) else v) for k, v in rule.params.items()}
        for rule in rules
    }
    touched: dict[str, list[str]] = {}
    used = []
    for name in sorted(os.listdir(dropin_dir)):
        if not name.endswith(".toml"):
            continue
        path = os.path.join(dropin_dir, name)
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
            data = tomllib.loads(text)
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise CatalogError(f"{path}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{path}: not valid TOML ({exc})") from None
        unknown = set(data) - {"row"}
        if unknown:
            raise CatalogError(
                f"{path}: unknown key(s) {', '.join(sorted(unknown))}; a drop-in holds [[row]] tables"
            )
        rows = data.get("row", [])
        if not isinstance(rows, list) or not rows:
            raise CatalogError(f"{path}: no [[row]] tables")
        lines = _row_lines(text)
        text_lines = text.splitlines()
        for index, entry in enumerate(rows):
            line = lines[index] if index < len(lines) else 1
            end = lines[index + 1] if index + 1 < len(lines) else len(text_lines) + 1
            where = f"{path}, line {line}"

            def key_line(
                key: str, start: int = line, stop: int = end, src: list[str] = text_lines,
                file: str = path,
            ) -> str:  # fmt: skip
                """The line of ``key = `` inside this row (else the row's header)."""
                for number in range(start, stop):
                    if re.match(rf"\s*{re.escape(key)}\s*=", src[number - 1]):
                        return f"{file}, line {number}"
                return f"{file}, line {start}"

            entry = dict(entry)
            rule_id = entry.pop("rule", None)
            table_name = entry.pop("table", None)
            if rule_id not in by_id:
                raise CatalogError(
                    f"{key_line('rule')}: rule {rule_id!r} is not a rule of the catalog"
                )
            table = params[rule_id].get(table_name)
            if not isinstance(table, list):
                tables = [k for k, v in params[rule_id].items() if isinstance(v, list)]
                raise CatalogError(
                    f"{key_line('table')}: {rule_id} has no table {table_name!r}"
                    + (f" (its tables: {', '.join(tables)})" if tables else " (it has no tables)")
                )
            # New rows go first, so they win over a catalog row they overlap.
            try:
                table.insert(0, _check_row(entry, table, where))
            except _FieldError as exc:
                raise CatalogError(f"{key_line(exc.key)}: {exc.problem}") from None
            touched.setdefault(rule_id, []).append(where)
        used.append(path)
    result = []
    for rule in rules:
        if rule.id not in touched:
            result.append(rule)
            continue
        data = {
            "id": rule.id, "title": rule.title, "severity": rule.severity.value,
            "applies_to": rule.applies_to, "references": list(rule.references),
            "rationale": rule.rationale, "command": rule.command, "reviewed": rule.reviewed,
            "check": {"kind": rule.check, **params[rule.id]},
        }  # fmt: skip
        if rule.remediation is not None:
            data["remediation"] = dict(rule.remediation)
        where = touched[rule.id][-1]
        # The rule with the added rows is validated like a rule file.
        result.append(
            parse_rule(data, where, check_kinds, fix_fields)._replace(source_file=rule.source_file)
        )
    return result, used


# [check] keys whose value may name another rule, whose [check] table is then used: one table
# of kernel floors (kernel.rocm-floor) serves amdgpu.cwsr and rocm.kernel-compat, so the rules
