"""Node reports found and read for ``hostcheck fleet``: report files (each with its pool), log
streams of them (``kubectl logs``, with or without ``--prefix``), and what the summary keeps of
each report. A report that cannot be read is an :class:`Unreadable` with the reason.
"""

import datetime
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from hostcheck._record import NamedTuple
from hostcheck.host.safeio import (
    MAX_DEPTH,
    InputError,
    check_depth,
    load_json_file,
    read_file_text,
    stream_decoder,
)

MAX_REPORT_BYTES = 32 * 1024 * 1024  # one node's JSON report; larger is not one of ours


class NodeReport(NamedTuple):
    """What the summary needs from one node's report."""

    node: str
    pool: str
    source: str
    ready: bool
    kernel: str
    rocm: str | None
    mes_firmware: str | None
    statuses: Mapping[str, str]  # rule id -> status
    generated: str | None = None  # the report's "generated" time (schema 1.3), as written
    mem_total_kib: int | None = None  # MemTotal from the memory.gtt finding's evidence
    stack: str | None = None  # the kind of node judged, "container-node/rocm" (schema 1.4)
    # the report's "functional" object (schema 1.4): what scan --functional measured
    functional: Mapping[str, Any] | None = None


class Statuses(Mapping[str, str]):
    """A node's rule id -> status, compactly: the rule ids are one tuple shared by every
    report with the same rules, the statuses interned strings. A fleet of 100,000 reports
    keeps these for every node, so a dict each (about 1 KiB) would dominate its memory."""

    __slots__ = ("_codes", "_index", "_rules")
    _shared: ClassVar[dict[tuple[str, ...], tuple[tuple[str, ...], dict[str, int]]]] = {}
    _shared_codes: ClassVar[dict[tuple[str, ...], tuple[str, ...]]] = {}

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        merged = dict(pairs)  # a rule reported twice: its last status, at its first place
        key = tuple(merged)
        shared = self._shared.get(key)
        if shared is None:
            rules = tuple(sys.intern(rule) for rule in key)
            shared = self._shared.setdefault(key, (rules, {r: i for i, r in enumerate(rules)}))
        self._rules, self._index = shared
        codes = tuple(map(sys.intern, merged.values()))
        # nodes of a fleet mostly share their statuses too: one tuple each distinct
        self._codes = self._shared_codes.setdefault(codes, codes)

    def __getitem__(self, rule: str) -> str:
        return self._codes[self._index[rule]]

    def get(self, rule: str, default: Any = None) -> Any:  # Mapping.get, without its try
        at = self._index.get(rule)
        return default if at is None else self._codes[at]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def items(self) -> Any:  # the pairs in order, without a lookup per rule
        return zip(self._rules, self._codes, strict=True)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class Unreadable(NamedTuple):
    source: str
    reason: str


# -- reading --------------------------------------------------------------------------------
def report_files(paths: Sequence[str]) -> tuple[list[tuple[str, str]], list[Unreadable]]:
    """The report files named by the arguments, each with its pool: files as given,
    directories searched (with their subdirectories) for ``*.json``. A missing path is
    unreadable."""
    files: list[tuple[str, str]] = []
    missing: list[Unreadable] = []
    for path in paths:
        if path == STDIN:
            files.append((path, STDIN_POOL))
        elif os.path.isdir(path):
            for directory, subdirs, names in os.walk(path):
                subdirs.sort()
                pool = _pool_name(path, directory)
                files += [
                    (os.path.join(directory, n), pool) for n in sorted(names) if n.endswith(".json")
                ]
        elif os.path.exists(path):
            files.append((path, pool_of(path)))
        else:
            missing.append(Unreadable(path, "no such file or directory"))
    return _one_name_each(files), missing


def _one_name_each(files: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One entry per report file: a symbolic link to a file that is listed too (a monitor
    state directory's latest.json) is not a second report. Where only links name a file,
    the first link stays."""
    real: dict[str, tuple[str, str]] = {}
    directories: dict[str, str] = {}  # one realpath() per directory, not per file
    for path, pool in files:
        directory, name = os.path.split(path)
        real_directory = directories.get(directory)
        if real_directory is None:
            real_directory = directories[directory] = os.path.realpath(directory)
        key = os.path.join(real_directory, name)
        if os.path.islink(path) or name in ("", ".", ".."):
            key = os.path.realpath(key)
        if key not in real or (os.path.islink(real[key][0]) and not os.path.islink(path)):
            real[key] = (path, pool)
    kept = set(real.values())
    return [entry for entry in files if entry in kept]


def _pool_name(argument: str, directory: str) -> str:
    """A directory's pool: its path relative to the argument that named it; the argument's
    own name for the argument itself."""
    relative = os.path.relpath(directory, argument)
    if relative == ".":
        return os.path.basename(os.path.abspath(argument)) or "/"
    return relative.replace(os.sep, "/")


def pool_of(path: str) -> str:
    """The pool of a report file given as such: the name of the directory holding it."""
    return os.path.basename(os.path.dirname(os.path.abspath(path))) or "/"


STDIN, STDIN_POOL = "-", "stdin"
_PREFIX = re.compile(r"\[(pod/[^\]\s]+)\]")  # `kubectl logs --prefix`: "[pod/NAME/CONTAINER] "


MAX_STREAM_BYTES = 2 << 30  # a `kubectl logs` stream of ~10,000 reports is ~550 MB


def read_reports(path: str, pool: str) -> list[NodeReport | Unreadable]:
    """The reports of one file: one JSON report, or else a log stream of them (``kubectl logs``
    of several pods, with or without --prefix); ``-`` is standard input, always a stream.
    Files are read as every input is (regular files only, bounded); standard input up to
    MAX_STREAM_BYTES."""

    if path == STDIN:
        import sys

        try:
            text = sys.stdin.read(MAX_STREAM_BYTES + 1)
        except UnicodeDecodeError:
            return [Unreadable(path, "not UTF-8 text")]
        if len(text) > MAX_STREAM_BYTES:
            return [Unreadable(path, f"more than {MAX_STREAM_BYTES} bytes on standard input")]
        return read_stream(text, path, pool)
    read = read_report(path, pool)
    if not isinstance(read, Unreadable) or not read.reason.startswith("not JSON"):
        return [read]
    try:
        text = read_file_text(path, what="reports", max_bytes=MAX_STREAM_BYTES)
    except InputError as exc:
        return [Unreadable(path, exc.reason)]
    # reports one after the other, or `kubectl logs --prefix` lines: a stream
    if "Extra data" not in read.reason and not _PREFIX.match(text.lstrip()[:4096]):
        return [read]
    return read_stream(text, path, pool)


def read_stream(text: str, source: str, pool: str) -> list[NodeReport | Unreadable]:
    """JSON reports one after the other. When the text starts with a ``kubectl logs --prefix``
    prefix, each line's prefix names the pod it came from: the lines of one pod are put back
    together (pods' lines may interleave) and read as that pod's stream. Text between reports
    that is not JSON (a line a wrapper printed) is named as unreadable and skipped."""
    streams: dict[str, list[str]] = {}
    if _PREFIX.match(text.lstrip()[:4096]):
        for line in text.split("\n"):
            end = line.find("] ") if line.startswith("[pod/") else -1
            if end < 0 and line.startswith("[pod/") and line.endswith("]"):
                end = len(line) - 1  # an empty line of the pod: "[pod/x/c]"
            name = line[1:end] if end > 0 else ""
            rest = line[end + 2 :] if end > 0 else line
            stream = streams.get(name)
            if stream is None:
                stream = streams[name] = []
            stream.append(rest)
    else:
        streams[""] = [text]
    import json

    results: list[NodeReport | Unreadable] = []
    decoder = stream_decoder()
    for name, stream in streams.items():
        where = f"{source} [{name}]" if name else source
        body = "\n".join(stream)
        position, number = 0, 0
        while True:
            while position < len(body) and body[position].isspace():
                position += 1
            if position >= len(body):
                break
            number += 1
            label = f"{where} (report {number})"
            try:
                data, end = decoder.raw_decode(body, position)
            except (ValueError, RecursionError) as exc:  # not JSON, or past the guards
                at = exc.pos if isinstance(exc, json.JSONDecodeError) else position
                number_of_line = body.count("\n", 0, at) + 1
                results.append(
                    Unreadable(
                        label,
                        f"not JSON (line {number_of_line}: {exc.msg})"
                        if isinstance(exc, json.JSONDecodeError)
                        else f"not usable JSON (line {number_of_line}): an invalid number or too deep",
                    )
                )
                # go on at the next line that starts a JSON object
                following = body.find("\n{", max(at, position + 1))
                if following < 0:
                    break
                position = following + 1
                continue
            start, position = position, end
            try:
                results.append(_node_report(data, label, pool))
            except _TooDeep:  # named where the document starts, as a decoding error is
                number_of_line = body.count("\n", 0, start) + 1
                results.append(
                    Unreadable(
                        label,
                        f"not usable JSON (line {number_of_line}): an invalid number or too deep",
                    )
                )
            except _Malformed as exc:
                results.append(Unreadable(label, f"not a hostcheck JSON report: {exc}"))
    if not results:
        results.append(Unreadable(source, "no report in it (empty)"))
    return results


def read_report(path: str, pool: str | None = None) -> NodeReport | Unreadable:

    try:  # the depth of what the summary keeps is checked by _node_report
        data = load_json_file(path, max_bytes=MAX_REPORT_BYTES, whole_depth=False)
    except InputError as exc:  # the operating system's words in lower case, as the others
        return Unreadable(path, exc.reason.lower() if exc.errno is not None else exc.reason)
    try:
        return _node_report(data, path, pool_of(path) if pool is None else pool)
    except _TooDeep:
        return Unreadable(path, f"nested more than {MAX_DEPTH} levels deep")
    except _Malformed as exc:
        return Unreadable(path, f"not a hostcheck JSON report: {exc}")


class _Malformed(Exception):
    pass


class _TooDeep(_Malformed):
    """A part the summary keeps (the "functional" object, an evidence value) nests deeper
    than MAX_DEPTH."""


def _shallow(value: Any) -> Any:
    """``value``, checked to nest at most MAX_DEPTH deep when it is a container.

    A report is decoded without walking all of it (``whole_depth=False``): the summary reads
    a few scalars and keeps only these values, which are written out again (JSON, str()) and
    would recurse. Elsewhere deep nesting costs nothing: nothing recurses over the rest of a
    report, and nesting beyond the decoder's own recursion limit is refused while decoding."""
    if isinstance(value, dict | list):
        try:
            check_depth(value)
        except ValueError:
            raise _TooDeep from None
    return value


def _node_report(data: Any, path: str, pool: str) -> NodeReport:
    if not isinstance(data, dict):
        raise _Malformed("the top level is not an object")
    tool = data.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "hostcheck":
        raise _Malformed('no "tool": {"name": "hostcheck"}')
    version = data.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise _Malformed(f"schema_version {version!r}; this hostcheck reads 1.x")
    host = data.get("host")
    if not isinstance(host, dict) or not isinstance(host.get("hostname"), str):
        raise _Malformed('no "host" with a "hostname"')
    if not isinstance(data.get("ready"), bool):
        raise _Malformed('"ready" is not true or false')
    findings = data.get("findings")
    if not isinstance(findings, list):
        raise _Malformed('"findings" is not a list')
    functional = data.get("functional")
    generated = data.get("generated")
    if generated is not None and report_time(generated) is None:
        raise _Malformed(f'"generated" {generated!r} is not an RFC 3339 time')
    pairs, by_rule = _findings(findings)
    mes, gtt = by_rule.get("firmware.mes"), by_rule.get("memory.gtt")
    firmware = None if mes is None else _evidence_value(mes, "MES firmware")
    mem_total = None if gtt is None else _kib(_evidence_value(gtt, "RAM (MemTotal)"))
    # Versions repeat across a fleet: one string each (a fleet keeps every node's).
    return NodeReport(
        node=host["hostname"] or "(no hostname)",
        pool=pool,
        source=path,
        ready=data["ready"],
        kernel=sys.intern(str(host.get("kernel_release") or "unknown")),
        rocm=_opt_intern(host.get("rocm")),
        mes_firmware=_opt_intern(firmware),
        statuses=Statuses(pairs),
        generated=generated,
        mem_total_kib=mem_total,
        stack=_stack_kind(data.get("stack")),
        functional=_shallow(functional) if isinstance(functional, dict) else None,
    )


def _findings(findings: list[Any]) -> tuple[Iterable[tuple[str, str]], dict[str, Any]]:
    """The (rule, status) pairs of a report's findings and each rule's (last) finding.

    Every finding of a report is an object with a string "rule" and "status": that is
    checked with a few calls over the whole list rather than a Python step per finding;
    where it fails, the findings are gone through one by one to name the first bad one."""
    try:
        rules = [finding["rule"] for finding in findings]
        states = [finding["status"] for finding in findings]
    except (TypeError, KeyError):  # a finding that is not an object, or lacks one of them
        pass
    else:
        if {*map(type, rules), *map(type, states)} <= {str}:
            return zip(rules, states, strict=True), dict(zip(rules, findings, strict=True))
    pairs: list[tuple[str, str]] = []
    by_rule: dict[str, Any] = {}
    for number, finding in enumerate(findings):
        rule = finding.get("rule") if isinstance(finding, dict) else None
        status = finding.get("status") if rule is not None else None
        if not (isinstance(rule, str) and isinstance(status, str)):
            raise _Malformed(f"finding {number} has no rule and status")
        pairs.append((rule, status))
        by_rule[rule] = finding
    return pairs, by_rule


def _stack_kind(stack: object) -> str | None:
    """'container-node/rocm' from a report's "stack" object (schema 1.4), None before."""
    if not isinstance(stack, dict):
        return None
    node, backend = stack.get("node"), stack.get("backend")
    return f"{node}/{backend}" if isinstance(node, str) and isinstance(backend, str) else None


_KIB = re.compile(r"\s*(\d+)\s*kB\b")


def _kib(value: str | None) -> int | None:
    """``128647168 kB = 122.7 GiB`` (the evidence's form) -> 128647168."""
    match = _KIB.match(value or "")
    return int(match.group(1)) if match else None


def report_time(value: object) -> datetime.datetime | None:
    """An RFC 3339 time with an offset (``Z`` or ``+hh:mm``), or None."""
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _evidence_value(finding: Mapping[str, Any], label: str) -> str | None:
    evidence = finding.get("evidence")
    for item in evidence if isinstance(evidence, list) else []:
        if isinstance(item, dict) and item.get("label") == label and item.get("value") is not None:
            return str(_shallow(item["value"]))
    return None


def _opt_intern(value: object) -> str | None:
    return None if value is None else sys.intern(str(value))
