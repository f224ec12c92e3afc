"""Renderers of a fleet summary (pure: Fleet in, text out). Plain text, no rich: a thousand
nodes' summary must print fast, and it is read in CI logs as often as on terminals."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from json.encoder import encode_basestring
from operator import add
from typing import Any

from hostcheck.cluster.fleet import INCONSISTENT, Column, Fleet, Pool, RuleRow
from hostcheck.cluster.reports import NodeReport, Statuses

# 1.1: a node's "generated" and "mem_total_kib", versions.ram, a pool's "warnings" and the
# top-level "superseded" (older reports of a node, left out). 1.2: a node's "stack" and
# versions.stack (the kind of node judged and its backend, from reports of schema 1.4), a node's
# "functional" (the report's figures of scan --functional, when it has them) and
# versions.functional.
SCHEMA_VERSION = "1.2"
_SHOWN_NODES = 5  # nodes named per table cell before "+N more"


def to_dict(fleet: Fleet) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "hostcheck-fleet",
        "nodes": len(fleet.nodes),
        "ready": fleet.ready,
        "not_ready": len(fleet.nodes) - fleet.ready,
        "inconsistent_rules": sum(
            row.verdict == INCONSISTENT for pool in fleet.pools for row in pool.rules
        ),
        "pools": [_pool_dict(pool) for pool in fleet.pools],
        "unreadable": [{"file": u.source, "reason": u.reason} for u in fleet.unreadable],
        "superseded": [
            {"file": s.source, "node": s.node, "generated": s.generated, "kept": s.kept}
            for s in fleet.superseded
        ],
    }


def _pool_dict(pool: Pool) -> dict[str, Any]:
    return {
        "name": pool.name,
        "nodes": [
            {
                "node": node.node,
                "file": node.source,
                "ready": node.ready,
                "kernel": node.kernel,
                "rocm": node.rocm,
                "mes_firmware": node.mes_firmware,
                "generated": node.generated,
                "mem_total_kib": node.mem_total_kib,
                "stack": node.stack,
                "failing": sorted(r for r, s in node.statuses.items() if s == "fail"),
                **({"functional": dict(node.functional)} if node.functional is not None else {}),
            }
            for node in pool.nodes
        ],
        "ready": pool.ready,
        "rules": [
            {"rule": row.rule, "verdict": row.verdict, "statuses": dict(row.statuses)}
            for row in pool.rules
        ],
        "versions": {what: dict(spread) for what, spread in pool.versions.items()},
        "warnings": list(pool.warnings),
    }


def render_json_pieces(fleet: Fleet) -> Iterator[str]:
    """The bytes of ``json.dumps(to_dict(fleet), indent=2, ensure_ascii=False) + "\\n"``,
    one pool part at a time: a summary of 100,000 nodes is written as it is made, never
    held whole (nor its dict)."""
    total = sum(len(pool.nodes) for pool in fleet.pools)
    head = {
        "schema_version": SCHEMA_VERSION,
        "kind": "hostcheck-fleet",
        "nodes": total,
        "ready": fleet.ready,
        "not_ready": total - fleet.ready,
        "inconsistent_rules": sum(
            row.verdict == INCONSISTENT for pool in fleet.pools for row in pool.rules
        ),
    }
    yield "{\n" + "".join(f"  {_str(key)}: {_scalar(value)},\n" for key, value in head.items())
    yield '  "pools": '
    if not fleet.pools:
        yield "[]"
    else:
        for number, pool in enumerate(fleet.pools):
            yield ("[\n" if number == 0 else ",\n") + "    "
            yield from _pool_pieces(pool)
        yield "\n  ]"
    rest = to_dict(Fleet((), fleet.unreadable, fleet.superseded))
    for key in ("unreadable", "superseded"):
        yield f",\n  {_str(key)}: {_dumped(rest[key], 1)}"
    yield "\n}\n"


_str = encode_basestring  # a JSON string as json.dumps(ensure_ascii=False) writes it


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _str(value)
    return json.dumps(value, ensure_ascii=False)


def _dumped(value: object, level: int) -> str:
    """json.dumps(value, indent=2) as it reads nested ``level`` deep."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)


def _pool_pieces(pool: Pool) -> Iterator[str]:
    pad = "      "  # a pool's keys, three levels deep
    yield "{\n" + f'{pad}"name": {_str(pool.name)},\n{pad}"nodes": '
    if not pool.nodes:
        yield "[]"
    else:
        failing: dict[tuple[int, int], str] = {}
        yield "[" + ",".join(_node_piece(node, failing) for node in pool.nodes) + f"\n{pad}]"
    yield f',\n{pad}"ready": {_scalar(pool.ready)},\n{pad}"rules": '
    if not pool.rules:
        yield "[]"
    else:
        in_order = [_prefixed(node.node) for node in pool.nodes]
        prefixed = dict(zip((node.node for node in pool.nodes), in_order, strict=True))
        unique = len(prefixed) == len(in_order)
        for number, row in enumerate(pool.rules):
            yield ("[" if number == 0 else ",") + _rule_piece(
                row, prefixed, in_order if unique else None
            )
        yield f"\n{pad}]"
    versions = {what: dict(spread) for what, spread in pool.versions.items()}
    yield f',\n{pad}"versions": {_dumped(versions, 3)}'
    yield f',\n{pad}"warnings": {_dumped(list(pool.warnings), 3)}\n    }}'


def _failing_piece(statuses: Mapping[str, str]) -> str:
    pad = " " * 10
    failing = sorted(r for r, s in statuses.items() if s == "fail")
    return (
        "[" + ",".join(f"\n{pad}  {_str(rule)}" for rule in failing) + f"\n{pad}]"
        if failing
        else "[]"
    )


def _node_piece(node: NodeReport, failing: dict[tuple[int, int], str] | None = None) -> str:
    """One node's object. ``failing`` caches the "failing" list per shared rules and
    status tuples (nodes of a fleet mostly have the same statuses)."""
    statuses = node.statuses
    if failing is not None and isinstance(statuses, Statuses):
        key = (id(statuses._rules), id(statuses._codes))  # both shared, alive while the fleet is
        listed = failing.get(key)
        if listed is None:
            listed = failing[key] = _failing_piece(statuses)
    else:
        listed = _failing_piece(statuses)
    pad = "\n" + " " * 10
    functional = (
        f',{pad}"functional": {_dumped(dict(node.functional), 5)}'
        if node.functional is not None
        else ""
    )
    return (
        f'\n        {{{pad}"node": {_str(node.node)},{pad}"file": {_str(node.source)},'
        f'{pad}"ready": {_scalar(node.ready)},{pad}"kernel": {_scalar(node.kernel)},'
        f'{pad}"rocm": {_scalar(node.rocm)},{pad}"mes_firmware": {_scalar(node.mes_firmware)},'
        f'{pad}"generated": {_scalar(node.generated)},'
        f'{pad}"mem_total_kib": {_scalar(node.mem_total_kib)},{pad}"stack": {_scalar(node.stack)},'
        f'{pad}"failing": {listed}{functional}\n        }}'
    )


class _Encoded(dict[str, str]):
    """Statuses (a handful) as JSON strings, each encoded once."""

    def __missing__(self, status: str) -> str:
        self[status] = encoded = _str(status)
        return encoded


def _rule_piece(row: RuleRow, prefixed: dict[str, str], in_order: list[str] | None) -> str:
    """One rule's object; ``prefixed`` holds each node's line start ("\\n  …"node": ");
    ``in_order`` the same for the pool's nodes in order, which a Column yields."""
    pad = " " * 10
    encoded = _Encoded()
    if in_order is not None and isinstance(row.statuses, Column):
        entries = ",".join(map(add, in_order, map(encoded.__getitem__, row.statuses.statuses())))
    else:
        entries = ",".join(
            (prefixed.get(node) or _prefixed(node)) + encoded[status]
            for node, status in row.statuses.items()
        )
    statuses = "{" + entries + f"\n{pad}}}" if entries else "{}"
    return (
        f'\n        {{\n{pad}"rule": {_str(row.rule)},\n{pad}"verdict": {_str(row.verdict)},'
        f'\n{pad}"statuses": {statuses}\n        }}'
    )


def _prefixed(node: str) -> str:
    return f"\n            {_str(node)}: "


def render_table(fleet: Fleet) -> str:
    total = len(fleet.nodes)
    out = [
        f"hostcheck fleet: {total} node{'s' * (total != 1)} in {len(fleet.pools)} "
        f"pool{'s' * (len(fleet.pools) != 1)} — {fleet.ready} ready, {total - fleet.ready} not ready"
    ]
    for pool in fleet.pools:
        out += ["", *_pool_table(pool)]
    if fleet.unreadable:
        out += ["", f"left out ({len(fleet.unreadable)}):"]
        out += [f"  {_clean(u.source)}: {u.reason}" for u in fleet.unreadable]
    if fleet.superseded:
        out += ["", f"older reports left out ({len(fleet.superseded)}):"]
        out += [
            f"  {_clean(s.source)}: node {_clean(s.node)}, generated {_clean(s.generated)}; "
            f"kept the newer {_clean(s.kept)}"
            for s in fleet.superseded
        ]
    return "\n".join(out) + "\n"


def _pool_table(pool: Pool) -> list[str]:
    count = len(pool.nodes)
    lines = [f"pool {_clean(pool.name)}: {count} nodes, {pool.ready} ready"]
    width = max([len(row.rule) for row in pool.rules] + [4])
    lines.append(f"  {'rule':<{width}}  {'verdict':<12}  nodes")
    for row in pool.rules:
        counts: dict[str, list[str]] = {}
        for node, status in row.statuses.items():
            counts.setdefault(status, []).append(node)
        cells = []
        ordered = sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))
        for index, (status, nodes) in enumerate(ordered):
            # The odd ones out are named: every status but the most common one.
            names = f" ({_names(nodes)})" if index else ""
            cells.append(f"{len(nodes)} {status}{names}")
        lines.append(f"  {row.rule:<{width}}  {row.verdict:<12}  {' · '.join(cells)}")
    for what, spread in pool.versions.items():
        label = {
            "kernel": "kernel",
            "rocm": "ROCm",
            "mes_firmware": "MES firmware",
            "ram": "RAM",
            "stack": "stack (node/backend)",
            "functional": "functional probe",
        }[what]
        parts = [f"{_clean(version)} ×{len(nodes)}" for version, nodes in spread.items()]
        odd = [node for nodes in list(spread.values())[1:] for node in nodes]
        mark = f"  (differs: {_names(odd)})" if odd else ""
        lines.append(f"  {label}: {' · '.join(parts)}{mark}")
    not_ready = [node.node for node in pool.nodes if not node.ready]
    if not_ready:
        lines.append(f"  not ready: {_names(not_ready)}")
    lines += [f"  warning: {_clean(warning)}" for warning in pool.warnings]
    return lines


def _names(nodes: list[str]) -> str:
    shown = ", ".join(_clean(n) for n in nodes[:_SHOWN_NODES])
    more = len(nodes) - _SHOWN_NODES
    return f"{shown}, +{more} more" if more > 0 else shown


def _clean(text: str) -> str:
    """Report text made safe for a terminal (a hostname is host data)."""
    from hostcheck.render import printable

    return printable(text).replace("\n", "\\n").replace("\t", "\\t")
