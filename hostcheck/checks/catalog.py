"""Load the rule catalog (rules/*.toml) and the workload profiles (rules/profiles.toml).

Rules are data: each file declares one rule, the check kind that decides it and that kind's
parameters. A malformed file is a :class:`CatalogError` that names the file and the key.
"""

import contextlib
import json
import os
import re
import zlib
from collections.abc import Iterable
from typing import Any

from hostcheck.errors import INPUT, HostcheckError
from hostcheck.model import Profile, Rule, Severity

# Patterns are compiled on first use (re caches them), not at import: every run pays for
# an import, few use every pattern.
RULE_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:[-.][a-z0-9]+)*"
RULE_KEYS = {
    "id", "title", "severity", "applies_to", "references", "rationale", "command", "check",
    "remediation", "needs", "reviewed",
}  # fmt: skip
PUBLIC_URL = re.compile(r"https://[A-Za-z0-9.-]+\.[a-z]{2,}(/\S*)?")
REVIEWED = re.compile(r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
APPLIES_TO = {"any-host", "strix-halo"}
NEEDS = {"rocm", "rocm-version"}
ENGINES = {"vllm", "llama.cpp"}
REMEDIATION_KINDS = {"kernel-args", "modprobe", "sysctl", "manual"}


class CatalogError(HostcheckError):
    """A rule or profile file is invalid; the message names the file and what is wrong."""

    kind = INPUT


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
    needs = data.get("needs")
    if needs is not None and needs not in NEEDS:
        raise CatalogError(f"{where}: needs {needs!r} is not one of {sorted(NEEDS)}")
    check = dict(_require(data, "check", dict, where))
    kind = check.pop("kind", None)
    if kind not in check_kinds:
        raise CatalogError(f"{where}: [check] kind {kind!r} is not a known check kind")
    missing = [name for name in check_kinds[kind] if name not in check]
    if missing:
        raise CatalogError(f"{where}: [check] kind {kind} needs {', '.join(missing)}")
    reviewed = _require(data, "reviewed", str, where)
    if not REVIEWED.fullmatch(reviewed):
        raise CatalogError(f"{where}: reviewed {reviewed!r} is not a date YYYY-MM-DD")
    references = _require(data, "references", list, where)
    if not all(isinstance(ref, str) for ref in references):
        raise CatalogError(f"{where}: references must be strings")
    for ref in references:
        if not PUBLIC_URL.fullmatch(ref):
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
        needs=needs,
        reviewed=reviewed,
    )


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
    return ",".join(f"{name}:{len(data)}:{zlib.crc32(data):08x}" for name, data in sources.items())


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
    key = f"{zlib.crc32(os.path.abspath(directory).encode()):08x}-{zlib.crc32(digest.encode()):08x}"
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
    if dropin_dir is not None:
        rules, used = _apply_dropins(rules, dropin_dir, REQUIRED_PARAMS, FIX_FIELDS)
    rules = _resolve_shared_tables(rules)
    if "profiles.toml" not in files:
        raise CatalogError(f"{os.path.join(directory, 'profiles.toml')}: missing")
    profiles = _profiles(files["profiles.toml"], os.path.join(directory, "profiles.toml"))
    return rules, profiles, used


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


def _apply_dropins(
    rules: list[Rule],
    dropin_dir: str,
    check_kinds: dict[str, tuple[str, ...]],
    fix_fields: dict[str, tuple[str, ...]],
) -> tuple[list[Rule], list[str]]:
    """Add the rows of every drop-in file (sorted by name) to the rules' tables."""
    if not os.path.isdir(dropin_dir):
        return rules, []  # the usual case: no TOML parser (~15 ms) on a scan
    import tomllib

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
            title=_require(entry, "title", str, where),
            required_gib=float(required),
            reasoning=_require(entry, "reasoning", str, where).strip(),
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
