"""The configuration file: defaults for the options of every command, monitor settings, waivers.

``/etc/hostcheck/config.toml`` unless ``--config FILE`` or ``HOSTCHECK_CONFIG`` names another.
It configures the tool, not the scanned host: under ``--root DIR`` or ``--fixture`` the file is
still read from the machine running hostcheck. A missing default file means "no settings"; a
file named explicitly must exist. Every mistake is a :class:`ConfigError` naming the file, the
line and the key; options on the command line win over the file.

tomllib reports line numbers for syntax errors only, so the line of a semantically bad key is
found by scanning the text for it inside its table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from hostcheck._record import NamedTuple
from hostcheck.errors import INPUT, HostcheckError
from hostcheck.model import Waiver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/etc/hostcheck/config.toml"
ENV_VAR = "HOSTCHECK_CONFIG"
DEFAULT_KEEP_REPORTS = 10
MAX_CONFIG_BYTES = 1024 * 1024

# Patterns are compiled on first use (re caches them): a scan without a config file never
# pays for them.
_RULE_ID = r"^[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+([-.][a-z0-9]+)*$"


class ConfigError(HostcheckError):
    """The configuration file is missing (when named), unreadable or invalid."""

    kind = INPUT


class Config(NamedTuple):
    path: str | None  # None: no file was read
    profile: str | None = None
    fail_on: str | None = None  # "warn" or "fail"
    user: str | None = None
    python: str | None = None
    rules: str | None = None
    metrics_file: str | None = None
    keep_reports: int = DEFAULT_KEEP_REPORTS
    waivers: tuple[Waiver, ...] = ()
    # [workload]: what is declared to run here (backend, rocm, torch, image), key -> value
    workload: tuple[tuple[str, str], ...] = ()
    # top-level key -> "config FILE, line N": where a value that is checked later (a profile
    # name against the catalog, a rules directory) was set, for that check's error
    places: tuple[tuple[str, str], ...] = ()

    def place(self, key: str) -> str:
        return dict(self.places).get(key, f"config {self.path}")


# key -> (description of the expected value, validator returning an error or None)
_TOP_LEVEL = {
    "profile": "a workload profile name (`hostcheck rules --profiles`)",
    "fail_on": '"warn" or "fail"',
    "user": "the service user whose device access is checked",
    "python": "the path of a Python interpreter to inspect",
    "rules": "a rule directory",
}
_MONITOR = {
    "metrics_file": "the path of the Prometheus text file to write",
    "keep_reports": "how many reports the state directory keeps (1-10000)",
}
_WAIVER = ("rule", "reason", "owner", "expires")
WORKLOAD_KEYS = ("backend", "rocm", "torch", "image")
_WORKLOAD = {
    "backend": '"rocm" or "vulkan"',
    "rocm": "a ROCm version such as 7.2.1",
    "torch": "a PyTorch version such as 2.9.1+rocm7.2.1",
    "image": "the serving image reference (a label)",
}


def check_workload_value(key: str, value: object) -> str | None:
    """Why a declared workload value is not usable, or None."""
    if not isinstance(value, str) or not value.strip():
        return f"expected {_WORKLOAD[key]} as a string"
    if key == "backend" and value not in ("rocm", "vulkan"):
        return 'expected "rocm" or "vulkan"'
    if key in ("rocm", "torch") and not re.fullmatch(
        r"[0-9]+(\.[0-9]+){1,3}[0-9A-Za-z.+_-]*", value
    ):
        return f"expected {_WORKLOAD[key]}"
    if key == "image" and (len(value) > 512 or any(ch.isspace() for ch in value)):
        return "expected an image reference without spaces (at most 512 characters)"
    return None


def config_path(explicit: str | None) -> tuple[str, bool]:
    """The file to read and whether it was named explicitly (then it must exist)."""
    if explicit is not None:
        return explicit, True
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return from_env, True
    return DEFAULT_PATH, False


def load_config(explicit: str | None = None) -> Config:
    path, named = config_path(explicit)
    from hostcheck.host.safeio import InputError, parse_toml_text, read_file_text

    if path == os.devnull:
        return _parse(path, "", {})  # HOSTCHECK_CONFIG=/dev/null: an empty configuration
    try:
        text = read_file_text(path, what="config", max_bytes=MAX_CONFIG_BYTES)
    except InputError as exc:
        if exc.missing:
            if named:
                how = "--config" if explicit is not None else ENV_VAR
                raise ConfigError(f"config {path} (from {how}): no such file") from None
            return Config(path=None)
        raise ConfigError(str(exc)) from None
    # The TOML parser is imported only when there is a file: it costs a scan milliseconds.
    try:
        data = parse_toml_text(text, what="config", path=path)
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    return _parse(path, text, data)


def _parse(path: str, text: str, data: Mapping[str, Any]) -> Config:
    def fail(table: str | None, index: int | None, key: str | None, problem: str) -> ConfigError:
        line = _line_of(text, table, index, key)
        where = f"config {path}" + (f", line {line}" if line else "")
        name = ".".join(part for part in (table, key) if part)
        if table == "waiver" and index is not None:
            name = f"waiver #{index + 1}" + (f" {key}" if key else "")
        return ConfigError(f"{where}: {name}: {problem}" if name else f"{where}: {problem}")

    known = set(_TOP_LEVEL) | {"monitor", "waiver", "workload"}
    for key in data:
        if key not in known:
            raise fail(None, None, key, f"unknown key; known keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key in _TOP_LEVEL:
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not value.strip():
                raise fail(
                    None, None, key, f"expected {_TOP_LEVEL[key]} as a string, got {value!r}"
                )
            values[key] = value
    if values.get("fail_on") not in (None, "warn", "fail"):
        raise fail(None, None, "fail_on", f'expected "warn" or "fail", got {values["fail_on"]!r}')

    monitor = data.get("monitor", {})
    if not isinstance(monitor, dict):
        raise fail(None, None, "monitor", "expected a table: [monitor]")
    for key in monitor:
        if key not in _MONITOR:
            raise fail("monitor", None, key, f"unknown key; known keys: {', '.join(_MONITOR)}")
    if "metrics_file" in monitor:
        value = monitor["metrics_file"]
        if not isinstance(value, str) or not value.startswith("/"):
            raise fail("monitor", None, "metrics_file", f"expected an absolute path, got {value!r}")
        if "\0" in value:
            raise fail("monitor", None, "metrics_file", f"a path has no NUL character: {value!r}")
        values["metrics_file"] = value
    if "keep_reports" in monitor:
        value = monitor["keep_reports"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
            raise fail(
                "monitor", None, "keep_reports", f"expected a whole number 1-10000, got {value!r}"
            )
        values["keep_reports"] = value

    workload = data.get("workload", {})
    if not isinstance(workload, dict):
        raise fail(None, None, "workload", "expected a table: [workload]")
    for key, value in workload.items():
        if key not in _WORKLOAD:
            raise fail("workload", None, key, f"unknown key; known keys: {', '.join(_WORKLOAD)}")
        problem = check_workload_value(key, value)
        if problem:
            raise fail("workload", None, key, f"{problem}, got {value!r}")
    values["workload"] = tuple((key, workload[key]) for key in WORKLOAD_KEYS if key in workload)

    raw_waivers = data.get("waiver", [])
    if not isinstance(raw_waivers, list) or not all(isinstance(w, dict) for w in raw_waivers):
        raise fail(None, None, "waiver", "expected [[waiver]] tables")
    waivers: list[Waiver] = []
    seen: dict[str, int] = {}
    header_lines: list[int] | None = None  # the [[waiver]] headers' lines, found once
    for index, item in enumerate(raw_waivers):
        for key in item:
            if key not in _WAIVER:
                raise fail("waiver", index, key, f"unknown key; known keys: {', '.join(_WAIVER)}")
        for key in _WAIVER:
            if key not in item:
                raise fail(
                    "waiver", index, None, f"missing key {key!r} (needs {', '.join(_WAIVER)})"
                )
        rule = item["rule"]
        if not isinstance(rule, str) or not re.match(_RULE_ID, rule):
            raise fail(
                "waiver", index, "rule", f"expected a rule id such as perf.iommu, got {rule!r}"
            )
        if rule in seen:
            raise fail(
                "waiver", index, "rule", f"{rule} is already waived by waiver #{seen[rule] + 1}"
            )
        seen[rule] = index
        for key in ("reason", "owner"):
            if not isinstance(item[key], str) or not item[key].strip():
                raise fail("waiver", index, key, f"expected a non-empty string, got {item[key]!r}")
        import datetime  # tomllib has imported it already

        expires = item["expires"]
        if isinstance(expires, datetime.datetime) or not isinstance(expires, datetime.date):
            raise fail(
                "waiver",
                index,
                "expires",
                f"expected a date such as 2026-12-31 (a TOML date, no quotes), got {expires!r}",
            )
        if header_lines is None:
            header_lines = _header_lines(text, "waiver")
            if len(header_lines) != len(raw_waivers):
                header_lines = []  # not all [[waiver]] headers: looked up one by one
        line = header_lines[index] if header_lines else _line_of(text, "waiver", index, None)
        waivers.append(
            Waiver(
                rule=rule,
                reason=item["reason"].strip(),
                owner=item["owner"].strip(),
                expires=expires,
                source=f"{path}:{line}" if line else path,
            )
        )
    places = []
    for key in ("profile", "rules"):
        if key in values:
            line = _line_of(text, None, None, key)
            places.append((key, f"config {path}" + (f", line {line}" if line else "")))
    return Config(path=path, waivers=tuple(waivers), places=tuple(places), **values)


_HEADER = r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$"
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_LINE = rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=\s*(.*)$"


def _split_key(dotted: str) -> list[str]:
    """``monitor . "keep_reports"`` -> ["monitor", "keep_reports"]."""
    parts = re.findall(r""""[^"]*"|'[^']*'|[^.]+""", dotted)
    return [part.strip().strip("\"'") for part in parts if part.strip()]


def _header_lines(text: str, table: str) -> list[int]:
    """The 1-based lines of every ``[[table]]`` header, in one pass over the text (looking
    each waiver up with _line_of would read the file once per waiver)."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(_HEADER, line)
        if header and header[1] == "[[" and _split_key(header[2]) == [table]:
            lines.append(number)
    return lines


def _line_of(text: str, table: str | None, index: int | None, key: str | None) -> int | None:
    """The 1-based line of ``key`` in ``table`` (the ``index``-th for arrays of tables),
    however TOML spelled it: under a ``[table]`` header, as a dotted key
    (``monitor.keep_reports = 0``), in an inline table (``monitor = {keep_reports = 0}``), or
    as a header itself (``[monitr]``, ``[[waivers]]``). Without ``key``, or when it is not on
    a line of its own, the line that opens the table."""
    target = [part for part in (table, key) if part]
    current: list[str] = []
    occurrence = -1
    opened: int | None = None  # the table's header, or its first dotted key / inline table
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(_HEADER, line)
        if header:
            current = _split_key(header[2])
            if table is not None and current == [table]:
                occurrence += 1
                if index is None or occurrence == index:
                    opened = number
            elif current[: len(target)] == target and key is not None:
                return number  # [monitr], [[waivers]], [monitr.sub]: the key is the header
            continue
        match = re.match(_KEY_LINE, line)
        if not match:
            continue
        if table is not None and current == [table] and index is not None and occurrence != index:
            continue  # another [[table]] of the array
        path = current + _split_key(match[1])
        if key is not None and path[: len(target)] == target:
            return number
        if table is not None and path[:1] == [table] and opened is None:
            opened = number  # monitor.x = … or monitor = { … } opens the table
            if (
                key is not None
                and len(path) < len(target)
                and re.search(
                    rf"""[{{,]\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""",
                    match[2],
                )
            ):
                return number  # the key inside an inline table
    return opened
