"""A node's verdict as a Node Feature Discovery local feature file (pure: report in, text out).

nfd-worker reads every file in ``/etc/kubernetes/node-feature-discovery/features.d/`` (dot
files excepted, at most 64 kB each) and turns each ``<namespace>/<name>[=<value>]`` line into a
node label; ``# +expiry-time=<RFC 3339>`` makes the lines after it expire, so the labels of a
node whose checker stopped do not linger. The namespace is a sub-namespace of
``feature.node.kubernetes.io``, which nfd-master always allows (other namespaces can be denied
by its ``-deny-label-ns``).

Labels (values are valid Kubernetes label values):

- ``hostcheck.feature.node.kubernetes.io/ready``: ``true`` or ``false`` — what InferenceServices
  select on;
- ``…/profile``: the workload profile the verdict is for (e.g. ``70b-q8``);
- ``…/<area>``: for each rule area whose worst finding is ``fail``, ``error`` or ``warn``, that
  status (e.g. ``…/memory=fail``); areas that pass have no label;
- ``…/stack-node``: ``host`` or ``container-node`` (ROCm comes with the images) and
  ``…/stack-backend``: ``rocm``, ``vulkan`` or ``unknown`` — what kind of node was judged.
- with a functional probe run (``--functional``): ``…/functional-completed`` (``true`` or
  ``false``), and the whole-number figures it measured: ``…/functional-allocated-gib`` (the
  memory the GPU actually allocated and touched), ``…/functional-memory-gbps`` and
  ``…/functional-matmul-tflops``, so a scheduler can select on what was proven, not inferred.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hostcheck.model import Report, Status

NAMESPACE = "hostcheck.feature.node.kubernetes.io"
FEATURES_DIR = "/etc/kubernetes/node-feature-discovery/features.d"
MAX_BYTES = 64 * 1024  # nfd-worker ignores larger feature files

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_REPORTED = (Status.FAIL, Status.ERROR, Status.PENDING, Status.WARN)


def labels(report: Report) -> dict[str, str]:
    """The node labels for a report, in a stable order."""
    out = {
        f"{NAMESPACE}/ready": "true" if report.ready else "false",
        f"{NAMESPACE}/profile": report.profile,
    }
    if report.stack is not None:
        out[f"{NAMESPACE}/stack-node"] = str(report.stack["node"])
        out[f"{NAMESPACE}/stack-backend"] = str(report.stack["backend"])
    worst: dict[str, Status] = {}
    for finding in report.findings:
        area = finding.rule.area
        if area not in worst or finding.status.rank < worst[area].rank:
            worst[area] = finding.status
    for area in sorted(worst):
        if worst[area] in _REPORTED:
            out[f"{NAMESPACE}/{area}"] = worst[area].value
    measured = report.functional
    if measured is not None:
        out[f"{NAMESPACE}/functional-completed"] = "true" if measured.completed else "false"
        for name, figure in (
            ("functional-allocated-gib", measured.allocated_gib),
            ("functional-memory-gbps", measured.memory_bandwidth_gbps),
            ("functional-matmul-tflops", measured.matmul_tflops),
        ):
            if figure is not None:
                out[f"{NAMESPACE}/{name}"] = str(int(figure))  # whole numbers: stable labels
    for key, value in out.items():
        name = key.rpartition("/")[2]
        if len(name) > 63 or not _NAME.fullmatch(name) or len(value) > 63:
            raise ValueError(f"{key}={value} is not a valid node label")
        if value and not _NAME.fullmatch(value):
            raise ValueError(f"{key}={value} is not a valid node label")
    return out


def render(report: Report, *, expires: datetime) -> str:
    """The feature file. ``expires`` must be timezone-aware; it is written in UTC."""
    if expires.tzinfo is None:
        raise ValueError("expires must be timezone-aware")
    stamp = expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# hostcheck {report.tool_version}: this node's readiness labels "
        "(written by `hostcheck nfd`, replaced every round; do not edit)",
        f"# +expiry-time={stamp}",
        *(f"{key}={value}" for key, value in labels(report).items()),
    ]
    text = "\n".join(lines) + "\n"
    assert len(text.encode()) < MAX_BYTES  # a few dozen short lines at most
    return text
