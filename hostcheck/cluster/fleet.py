"""Many nodes' JSON reports summarised: a rule × node matrix per pool, version spread, ready count.

A **pool** is the set of reports kept in one directory (reports carry no pool of their own). Its
name is the directory's path relative to the argument that named it: ``hostcheck fleet
reports`` makes ``reports/worker/*.json`` and ``reports/gpu/*.json`` the pools ``worker`` and
``gpu``, and ``reports/a/worker`` and ``reports/b/worker`` the pools ``a/worker`` and
``b/worker``. Reports directly in an argument directory, and report files given as such, are
in the pool named after their directory. The same name under two arguments is one pool.
Within a pool, a rule whose nodes do not all have the same status is ``INCONSISTENT`` (the
Compliance Operator's verdict for nodes of one pool that disagree); a node missing a rule that
others report counts as disagreeing too.

A node with several reports (a preflight Job run again) counts once, with its newest report by
the report's ``generated`` time; the older ones are listed as superseded. When the times cannot
tell (a report from before schema 1.3 has none, or two have the same), the second is left out as
unreadable, which the exit status shows.

A report that cannot be read is named with the reason and left out; the others are still
summarised (one broken file among a thousand must not hide the rest), and the command's exit
status says that something was left out.

Nodes of one pool whose RAM (MemTotal, from the evidence of ``memory.gtt``) differs by more
than :data:`RAM_SPREAD_KIB` get a warning: a MachineConfig applies one ``ttm.pages_limit``,
computed from the node it was made on, to every node of the pool.
"""

import datetime
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, ClassVar

from hostcheck._record import NamedTuple

MAX_REPORT_BYTES = 32 * 1024 * 1024  # one node's JSON report; larger is not one of ours

INCONSISTENT = "INCONSISTENT"
ABSENT = "absent"  # a node's report has no finding for a rule that other nodes of its pool have
RAM_SPREAD_KIB = 1024 * 1024  # nodes of a pool whose MemTotal differs by more get a warning
_STATUS_ORDER = {
    "fail": 0,
    "error": 1,
    "fixed-pending-reboot": 2,
    "warn": 3,
    "waived": 4,
    "pass": 5,
    "skip": 6,
}


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

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        merged: dict[str, str] = {}
        for rule, status in pairs:
            merged[rule] = status
        key = tuple(merged)
        shared = self._shared.get(key)
        if shared is None:
            rules = tuple(sys.intern(rule) for rule in key)
            shared = self._shared.setdefault(key, (rules, {r: i for i, r in enumerate(rules)}))
        self._rules, self._index = shared
        self._codes = tuple(sys.intern(status) for status in merged.values())

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


class Superseded(NamedTuple):
    """An older report of a node that has a newer one: left out, and said so."""

    source: str
    node: str
    generated: str
    kept: str  # the file of the newer report


class RuleRow(NamedTuple):
    rule: str
    verdict: str  # the status all nodes share, or INCONSISTENT
    statuses: Mapping[str, str]  # node -> status (ABSENT where its report lacks the rule)


class Column(Mapping[str, str]):
    """node -> status of one rule over a pool's nodes, read from the nodes when asked (a
    pool of 100,000 nodes and 25 rules would otherwise hold 2.5 million entries). Where
    every node has the same rules (the usual case), a column is read without a Python step
    per node."""

    __slots__ = ("_lookup", "_nodes", "_rule", "_uniform")

    def __init__(
        self,
        rule: str,
        nodes: Sequence[NodeReport],
        uniform: "tuple[list[str], list[tuple[str, ...]], dict[str, int]] | None" = None,
    ) -> None:
        self._rule, self._nodes, self._uniform = rule, nodes, uniform
        self._lookup: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._lookup is None:
            self._lookup = dict(self.items())
        return self._lookup

    def __getitem__(self, node: str) -> str:
        return self._dict()[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def statuses(self) -> Iterator[str]:
        """The statuses in the order of the pool's nodes."""
        if self._uniform is not None:
            _, codes, index = self._uniform
            at = index.get(self._rule)
            return repeat(ABSENT, len(codes)) if at is None else map(itemgetter(at), codes)
        rule = self._rule
        return (node.statuses.get(rule, ABSENT) for node in self._nodes)

    def items(self) -> Any:
        if self._lookup is not None:
            return self._lookup.items()
        if self._uniform is not None:
            return zip(self._uniform[0], self.statuses(), strict=True)
        rule = self._rule
        return ((node.node, node.statuses.get(rule, ABSENT)) for node in self._nodes)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class Pool(NamedTuple):
    name: str
    nodes: tuple[NodeReport, ...]
    rules: tuple[RuleRow, ...]
    versions: Mapping[str, Mapping[str, tuple[str, ...]]]  # what -> version -> nodes
    warnings: tuple[str, ...] = ()

    @property
    def ready(self) -> int:
        return sum(node.ready for node in self.nodes)


class Fleet(NamedTuple):
    pools: tuple[Pool, ...]
    unreadable: tuple[Unreadable, ...]
    superseded: tuple[Superseded, ...] = ()

    @property
    def nodes(self) -> list[NodeReport]:
        return [node for pool in self.pools for node in pool.nodes]

    @property
    def ready(self) -> int:
        return sum(pool.ready for pool in self.pools)


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
    for path, pool in files:
        key = os.path.realpath(path)
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
    from hostcheck.host.safeio import InputError, read_file_text

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

    from hostcheck.host.safeio import check_depth, stream_decoder

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
                check_depth(data)
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
            position = end
            try:
                results.append(_node_report(data, label, pool))
            except _Malformed as exc:
                results.append(Unreadable(label, f"not a hostcheck JSON report: {exc}"))
    if not results:
        results.append(Unreadable(source, "no report in it (empty)"))
    return results


def read_report(path: str, pool: str | None = None) -> NodeReport | Unreadable:
    from hostcheck.host.safeio import InputError, load_json_file

    try:
        data = load_json_file(path, max_bytes=MAX_REPORT_BYTES)
    except InputError as exc:  # the operating system's words in lower case, as the others
        return Unreadable(path, exc.reason.lower() if exc.errno is not None else exc.reason)
    try:
        return _node_report(data, path, pool_of(path) if pool is None else pool)
    except _Malformed as exc:
        return Unreadable(path, f"not a hostcheck JSON report: {exc}")


class _Malformed(Exception):
    pass


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
    generated = data.get("generated")
    if generated is not None and _time(generated) is None:
        raise _Malformed(f'"generated" {generated!r} is not an RFC 3339 time')
    statuses: list[tuple[str, str]] = []
    firmware = None
    mem_total = None
    for number, finding in enumerate(findings):
        rule = finding.get("rule") if isinstance(finding, dict) else None
        status = finding.get("status") if rule is not None else None
        if not (isinstance(rule, str) and isinstance(status, str)):
            raise _Malformed(f"finding {number} has no rule and status")
        statuses.append((rule, status))
        if rule == "firmware.mes":
            firmware = _evidence_value(finding, "MES firmware")
        elif rule == "memory.gtt":
            mem_total = _kib(_evidence_value(finding, "RAM (MemTotal)"))
    # Versions repeat across a fleet: one string each (a fleet keeps every node's).
    return NodeReport(
        node=host["hostname"] or "(no hostname)",
        pool=pool,
        source=path,
        ready=data["ready"],
        kernel=sys.intern(str(host.get("kernel_release") or "unknown")),
        rocm=_opt_intern(host.get("rocm")),
        mes_firmware=_opt_intern(firmware),
        statuses=Statuses(statuses),
        generated=generated,
        mem_total_kib=mem_total,
        stack=_stack_kind(data.get("stack")),
        functional=data["functional"] if isinstance(data.get("functional"), dict) else None,
    )


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


def _time(value: object) -> datetime.datetime | None:
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
            return str(item["value"])
    return None


def _opt_intern(value: object) -> str | None:
    return None if value is None else sys.intern(str(value))


# -- summarising ----------------------------------------------------------------------------
def load(paths: Sequence[str]) -> Fleet:
    """Read every report the arguments name and summarise them: one report per node, its
    newest."""
    files, unreadable = report_files(paths)
    kept: dict[str, NodeReport] = {}
    superseded: list[Superseded] = []
    reads = (
        (read.source if isinstance(read, NodeReport) else path, read)
        for path, pool in files
        for read in read_reports(path, pool)
    )
    for path, read in reads:
        if isinstance(read, Unreadable):
            unreadable.append(read)
            continue
        other = kept.get(read.node)
        if other is None:
            kept[read.node] = read
            continue
        new, old = _time(read.generated), _time(other.generated)
        if new is not None and (old is None or new > old):
            kept[read.node] = read
            superseded.append(Superseded(other.source, other.node, _when(other), read.source))
        elif old is not None and (new is None or old > new):
            superseded.append(Superseded(read.source, read.node, _when(read), other.source))
        else:
            why = "the same generated time" if new is not None else "no generated time"
            unreadable.append(
                Unreadable(
                    path,
                    f"a second report for node {read.node} (kept {other.source}; "
                    f"both have {why}, so which is newer is unknown)",
                )
            )
    return summarise(kept.values(), unreadable, superseded)


def _when(node: NodeReport) -> str:
    return node.generated or "no generated time"


def summarise(
    nodes: Iterable[NodeReport],
    unreadable: Iterable[Unreadable] = (),
    superseded: Iterable[Superseded] = (),
) -> Fleet:
    by_pool: dict[str, list[NodeReport]] = {}
    for node in nodes:
        by_pool.setdefault(node.pool, []).append(node)
    pools = tuple(
        _pool(name, sorted(members, key=lambda n: n.node))
        for name, members in sorted(by_pool.items())
    )
    return Fleet(pools, tuple(unreadable), tuple(superseded))


def _pool(name: str, nodes: list[NodeReport]) -> Pool:
    rule_ids = sorted({rule for node in nodes for rule in node.statuses})
    uniform = _uniform(nodes)
    rows = []
    for rule in rule_ids:
        column = Column(rule, nodes, uniform)
        distinct = set(column.statuses())
        verdict = distinct.pop() if len(distinct) == 1 else INCONSISTENT
        rows.append(RuleRow(rule, verdict, column))
    rows.sort(key=lambda row: (_verdict_rank(row.verdict), row.rule))
    versions = {
        "kernel": _spread((n.kernel, n.node) for n in nodes),
        "rocm": _spread((n.rocm or "none found", n.node) for n in nodes),
        "mes_firmware": _spread((n.mes_firmware or "unknown", n.node) for n in nodes),
        "stack": _spread((n.stack or "unknown", n.node) for n in nodes),
        "ram": _spread(
            (_gib(n.mem_total_kib) if n.mem_total_kib else "unknown", n.node) for n in nodes
        ),
    }
    if any(n.functional is not None for n in nodes):
        versions["functional"] = _spread((_functional(n.functional), n.node) for n in nodes)
    return Pool(name, tuple(nodes), tuple(rows), versions, _ram_warnings(nodes))


def _functional(measured: Mapping[str, Any] | None) -> str:
    """What a node's functional run proved, in a few words (fleet's spread of it)."""
    if measured is None:
        return "not run"
    if not measured.get("completed"):
        return "hung (killed at the bound)" if measured.get("timed_out") else "did not complete"
    allocated = measured.get("allocated_gib")
    if not isinstance(allocated, int | float):
        return "allocation failed"
    return f"{allocated:.0f} GiB allocated"


def _uniform(
    nodes: Sequence[NodeReport],
) -> tuple[list[str], list[tuple[str, ...]], dict[str, int]] | None:
    """Names, status tuples and the shared rule index, when every node has the same rules
    and no name repeats; else None."""
    first = nodes[0].statuses if nodes else None
    if not isinstance(first, Statuses):
        return None
    rules = first._rules
    if not all(
        isinstance(node.statuses, Statuses) and node.statuses._rules is rules for node in nodes
    ):
        return None
    names = [node.node for node in nodes]
    if len(set(names)) != len(names):
        return None
    codes = [node.statuses._codes for node in nodes if isinstance(node.statuses, Statuses)]
    return names, codes, first._index


def _ram_warnings(nodes: Sequence[NodeReport]) -> tuple[str, ...]:
    known = [(node.mem_total_kib, node.node) for node in nodes if node.mem_total_kib is not None]
    if not known:
        return ()
    least, most = min(known), max(known)
    if most[0] - least[0] <= RAM_SPREAD_KIB:
        return ()
    return (
        f"nodes differ in RAM (MemTotal {_gib(least[0])} on {least[1]} … {_gib(most[0])} on "
        f"{most[1]}): a MachineConfig applies the ttm.pages_limit of the node it was made on to "
        f"every node of the pool; make it on {least[1]} (the least RAM), or split the pool",
    )


def _gib(kib: int) -> str:
    return f"{kib / 1024**2:.1f} GiB"


def _verdict_rank(verdict: str) -> int:
    return -1 if verdict == INCONSISTENT else _STATUS_ORDER.get(verdict, 3)


def _spread(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for version, node in pairs:
        grouped.setdefault(version, []).append(node)
    # The most common version first: the odd ones out are what a reader looks for.
    ordered = sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))
    return {version: tuple(members) for version, members in ordered}
