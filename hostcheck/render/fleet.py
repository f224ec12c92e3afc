"""Renderers of a fleet summary (pure: Fleet in, text out). Plain text, no rich: a thousand
nodes' summary must print fast, and it is read in CI logs as often as on terminals."""

from __future__ import annotations

import json
from typing import Any

from hostcheck.fleet import INCONSISTENT, Fleet, Pool

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


def render_json(fleet: Fleet) -> str:
    return json.dumps(to_dict(fleet), indent=2, ensure_ascii=False) + "\n"


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
