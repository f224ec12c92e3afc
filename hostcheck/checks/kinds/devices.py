"""Device nodes the inference service opens: /dev/kfd and the GPU's render node (facts §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import Context, evidence
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Reason, Unavailable


@check_kind("device-access", requires=("node",), provides=("user", "group"))
def device_access(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    gpu = facts.gpu.strix_halo
    path: str | None = "/dev/kfd" if params["node"] == "kfd" else None
    if path is None:
        path = gpu.render_node if gpu else None
        if path is None:
            return Outcome(
                Verdict.PROBLEM,
                "The GPU has no DRM render node (no renderD* under its sysfs drm directory).",
                (Evidence("render node", None, f"{gpu.sysfs if gpu else '/sys/class/drm'}/drm"),),
            )
    device = facts.devices.get(path)
    user = facts.user
    user_name = user.name if not isinstance(user, Unavailable) else "the service user"
    groups = (
        Evidence("user groups", ", ".join(user.groups) or "(none)", user.source)
        if not isinstance(user, Unavailable)
        else evidence("user", user)
    )
    if device is None:
        return Outcome(Verdict.UNKNOWN, f"{path} was not probed.", ())
    node = device.node
    node_item = evidence(
        path,
        node,
        lambda n: (
            f"{n.kind} {n.mode:04o} group {device.group or n.group or n.gid}"
            + (f" rdev {n.rdev}" if n.rdev else "")
        ),
    )
    items = (node_item, groups, Evidence("access", device.why, path))
    if isinstance(node, Unavailable):
        if node.reason is Reason.MISSING:
            extra = " (is amdgpu loaded with KFD support?)" if path == "/dev/kfd" else ""
            return Outcome(Verdict.PROBLEM, f"{path} does not exist{extra}.", items)
        return Outcome(Verdict.UNKNOWN, f"Could not inspect {path}: {node.describe()}.", items)
    if node.value.kind != "char":
        return Outcome(
            Verdict.PROBLEM, f"{path} is a {node.value.kind}, not a character device.", items
        )
    if device.user_can_open is None:
        return Outcome(
            Verdict.UNKNOWN,
            f"Could not decide whether {user_name} can open {path}: {device.why}.",
            items,
        )
    if not device.user_can_open:
        group = device.group or "render"
        return Outcome(
            Verdict.PROBLEM,
            f"{user_name} cannot open {path} ({device.why}). Add the user to the group: "
            f"`usermod -aG {group} {user_name}` (containers: --group-add {group}).",
            items,
            fix={"user": user_name, "group": group},
        )
    return Outcome(Verdict.OK, f"{user_name} can open {path} ({device.why}).", items)
