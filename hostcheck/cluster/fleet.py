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

The reports are found and read by :mod:`hostcheck.cluster.reports`.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from hostcheck._record import NamedTuple
from hostcheck.cluster.reports import (
    NodeReport,
    Statuses,
    Unreadable,
    read_reports,
    report_files,
    report_time,
)

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
        new, old = report_time(read.generated), report_time(other.generated)
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
    rule_ids = _rule_ids(nodes)
    uniform = _uniform(nodes, rule_ids)
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


def _rule_ids(nodes: Sequence[NodeReport]) -> list[str]:
    """Every rule of the pool's nodes, sorted; the rules tuple that reports share is read
    once, not once per node."""
    shared: dict[int, tuple[str, ...]] = {}
    rules: set[str] = set()
    for node in nodes:
        statuses = node.statuses
        if isinstance(statuses, Statuses):
            shared[id(statuses._rules)] = statuses._rules
        else:
            rules.update(statuses)
    for each in shared.values():
        rules.update(each)
    return sorted(rules)


def _uniform(
    nodes: Sequence[NodeReport], rule_ids: Sequence[str]
) -> tuple[list[str], list[tuple[str, ...]], dict[str, int]] | None:
    """Names, status tuples aligned to ``rule_ids`` (ABSENT where a node lacks a rule) and
    the rule index, when every node's statuses are :class:`Statuses` and no name repeats;
    else None. A node with exactly these rules keeps its own tuple; the others are put in
    order by one itemgetter call each (one per set of rules), and each distinct aligned tuple
    is made once: no Python step per node and rule."""
    if len(rule_ids) < 2 or not all(isinstance(node.statuses, Statuses) for node in nodes):
        return None
    names = [node.node for node in nodes]
    if len(set(names)) != len(names):
        return None
    rule_ids = tuple(rule_ids)
    getters: dict[int, Any] = {}  # id of a shared rules tuple -> its aligning itemgetter
    # ids of a shared rules tuple and a shared status tuple -> the statuses aligned
    aligned: dict[tuple[int, int], tuple[str, ...]] = {}
    codes: list[tuple[str, ...]] = []
    absent = (ABSENT,)
    for node in nodes:
        statuses = node.statuses
        assert isinstance(statuses, Statuses)
        own, rules = statuses._codes, statuses._rules
        key = (id(rules), id(own))
        row = aligned.get(key)
        if row is None:
            if rules == rule_ids:
                row = own
            else:
                getter = getters.get(id(rules))
                if getter is None:
                    where = statuses._index
                    getter = getters[id(rules)] = itemgetter(
                        *(where.get(rule, len(rules)) for rule in rule_ids)
                    )
                row = getter(own + absent)
            aligned[key] = row
        codes.append(row)
    return names, codes, {rule: at for at, rule in enumerate(rule_ids)}


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
