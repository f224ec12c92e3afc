"""Many nodes' JSON reports summarised: a rule × node matrix per pool, version spread, ready count.

A **pool** is the set of reports kept in one directory (reports carry no pool of their own):
``reports/worker/*.json`` and ``reports/gpu/*.json`` are pools ``worker`` and ``gpu``. Within a
pool, a rule whose nodes do not all have the same status is ``INCONSISTENT`` (the Compliance
Operator's verdict for nodes of one pool that disagree); a node missing a rule that others
report counts as disagreeing too.

A report that cannot be read is named with the reason and left out; the others are still
summarised (one broken file among a thousand must not hide the rest), and the command's exit
status says that something was left out.
"""

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

INCONSISTENT = "INCONSISTENT"
ABSENT = "absent"  # a node's report has no finding for a rule that other nodes of its pool have
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


class Unreadable(NamedTuple):
    source: str
    reason: str


class RuleRow(NamedTuple):
    rule: str
    verdict: str  # the status all nodes share, or INCONSISTENT
    statuses: Mapping[str, str]  # node -> status (ABSENT where its report lacks the rule)


class Pool(NamedTuple):
    name: str
    nodes: tuple[NodeReport, ...]
    rules: tuple[RuleRow, ...]
    versions: Mapping[str, Mapping[str, tuple[str, ...]]]  # what -> version -> nodes

    @property
    def ready(self) -> int:
        return sum(node.ready for node in self.nodes)


class Fleet(NamedTuple):
    pools: tuple[Pool, ...]
    unreadable: tuple[Unreadable, ...]

    @property
    def nodes(self) -> list[NodeReport]:
        return [node for pool in self.pools for node in pool.nodes]

    @property
    def ready(self) -> int:
        return sum(pool.ready for pool in self.pools)


# -- reading --------------------------------------------------------------------------------
def report_files(paths: Sequence[str]) -> tuple[list[str], list[Unreadable]]:
    """The report files named by the arguments: files as given, directories searched (with
    their subdirectories) for ``*.json``. A missing path is unreadable."""
    files: list[str] = []
    missing: list[Unreadable] = []
    for path in paths:
        if os.path.isdir(path):
            for directory, subdirs, names in os.walk(path):
                subdirs.sort()
                files += [os.path.join(directory, n) for n in sorted(names) if n.endswith(".json")]
        elif os.path.exists(path):
            files.append(path)
        else:
            missing.append(Unreadable(path, "no such file or directory"))
    return files, missing


def pool_of(path: str) -> str:
    """The pool of a report file: the name of the directory holding it."""
    return os.path.basename(os.path.dirname(os.path.abspath(path))) or "/"


def read_report(path: str) -> NodeReport | Unreadable:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        return Unreadable(path, (exc.strerror or str(exc)).lower())
    except UnicodeDecodeError:
        return Unreadable(path, "not UTF-8 text")
    except json.JSONDecodeError as exc:
        return Unreadable(path, f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    try:
        return _node_report(data, path)
    except _Malformed as exc:
        return Unreadable(path, f"not a hostcheck JSON report: {exc}")


class _Malformed(Exception):
    pass


def _node_report(data: Any, path: str) -> NodeReport:
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
    statuses: dict[str, str] = {}
    firmware = None
    for number, finding in enumerate(findings):
        if not (
            isinstance(finding, dict)
            and isinstance(finding.get("rule"), str)
            and isinstance(finding.get("status"), str)
        ):
            raise _Malformed(f"finding {number} has no rule and status")
        statuses[finding["rule"]] = finding["status"]
        if finding["rule"] == "firmware.mes":
            firmware = _evidence_value(finding, "MES firmware")
    return NodeReport(
        node=host["hostname"] or "(no hostname)",
        pool=pool_of(path),
        source=path,
        ready=data["ready"],
        kernel=str(host.get("kernel_release") or "unknown"),
        rocm=_opt_str(host.get("rocm")),
        mes_firmware=firmware,
        statuses=statuses,
    )


def _evidence_value(finding: Mapping[str, Any], label: str) -> str | None:
    evidence = finding.get("evidence")
    for item in evidence if isinstance(evidence, list) else []:
        if isinstance(item, dict) and item.get("label") == label and item.get("value") is not None:
            return str(item["value"])
    return None


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


# -- summarising ----------------------------------------------------------------------------
def load(paths: Sequence[str]) -> Fleet:
    """Read every report the arguments name and summarise them."""
    files, unreadable = report_files(paths)
    nodes: list[NodeReport] = []
    seen: dict[str, str] = {}
    for path in files:
        read = read_report(path)
        if isinstance(read, Unreadable):
            unreadable.append(read)
        elif read.node in seen:
            unreadable.append(
                Unreadable(path, f"a second report for node {read.node} (kept {seen[read.node]})")
            )
        else:
            seen[read.node] = path
            nodes.append(read)
    return summarise(nodes, unreadable)


def summarise(nodes: Iterable[NodeReport], unreadable: Iterable[Unreadable] = ()) -> Fleet:
    by_pool: dict[str, list[NodeReport]] = {}
    for node in nodes:
        by_pool.setdefault(node.pool, []).append(node)
    pools = tuple(
        _pool(name, sorted(members, key=lambda n: n.node))
        for name, members in sorted(by_pool.items())
    )
    return Fleet(pools, tuple(unreadable))


def _pool(name: str, nodes: list[NodeReport]) -> Pool:
    rule_ids = sorted({rule for node in nodes for rule in node.statuses})
    rows = []
    for rule in rule_ids:
        statuses = {node.node: node.statuses.get(rule, ABSENT) for node in nodes}
        distinct = set(statuses.values())
        verdict = distinct.pop() if len(distinct) == 1 else INCONSISTENT
        rows.append(RuleRow(rule, verdict, statuses))
    rows.sort(key=lambda row: (_verdict_rank(row.verdict), row.rule))
    versions = {
        "kernel": _spread((n.kernel, n.node) for n in nodes),
        "rocm": _spread((n.rocm or "none found", n.node) for n in nodes),
        "mes_firmware": _spread((n.mes_firmware or "unknown", n.node) for n in nodes),
    }
    return Pool(name, tuple(nodes), tuple(rows), versions)


def _verdict_rank(verdict: str) -> int:
    return -1 if verdict == INCONSISTENT else _STATUS_ORDER.get(verdict, 3)


def _spread(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for version, node in pairs:
        grouped.setdefault(version, []).append(node)
    # The most common version first: the odd ones out are what a reader looks for.
    ordered = sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0]))
    return {version: tuple(members) for version, members in ordered}
