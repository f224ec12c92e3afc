"""Device nodes the inference service opens: /dev/kfd and the GPU's render node (facts §6),
and whether containers get them (SELinux, group keeping, AVC denials)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import Context, evidence, value_or
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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


@check_kind("container-gpu-access", requires=("booleans",))
def container_gpu_access(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Containers that get /dev/kfd and the render node: SELinux, group keeping, denials."""
    access = facts.containers
    items: list[Evidence] = []
    problems: list[str] = []
    advice: list[str] = []
    for line in access.denials[:3]:
        items.append(Evidence("AVC denial", line[:300], "/var/log/audit/audit.log"))
    if access.denials:
        problems.append(
            f"SELinux denied a container the GPU ({len(access.denials)} AVC line(s) for /dev/kfd "
            "or /dev/dri in the audit log): the container sees no GPU."
        )
    enforcing = value_or(access.selinux_enforcing, None) == "1"
    if isinstance(access.selinux_enforcing, Value):
        items.append(evidence("SELinux enforcing", access.selinux_enforcing))
    rootless = [path for path, _ in access.quadlets if "/users" in path]
    for path, text in access.quadlets:
        items.append(Evidence("quadlet", path, path, "hands the GPU to a container"))
        keeps = "keep-groups" in text or "keep_original_groups" in text
        if path in rootless and not keeps and not re.search(r"GroupAdd=.*(render|video)", text):
            advice.append(
                f"{path} runs rootless without GroupAdd=keep-groups: the container loses the "
                "user's render/video groups and cannot open /dev/kfd (podman#9706)."
            )
    if enforcing and rootless:
        for name in params["booleans"]:
            value = access.booleans.get(name)
            items.append(evidence(name, value))
            if isinstance(value, Value) and not value.value.startswith("1"):
                advice.append(
                    f"SELinux boolean {name} is off; rootless containers need "
                    f"`setsebool -P {name}=on` to open GPU device nodes."
                )
    if problems:
        return Outcome(
            Verdict.PROBLEM,
            " ".join(problems + advice)
            + " Allow it with the container_use_devices / container_use_dri_devices booleans "
            "(rootless) or --security-opt label=disable for that container.",
            tuple(items),
        )
    if advice:
        return Outcome(Verdict.ADVISORY, " ".join(advice), tuple(items))
    if not access.quadlets:
        return Outcome(
            Verdict.NOT_APPLICABLE,
            "No container unit hands the GPU to a container, and the audit log has no GPU denials.",
            tuple(items),
        )
    return Outcome(
        Verdict.OK,
        f"{len(access.quadlets)} container unit(s) get the GPU, with what they need.",
        tuple(items),
    )
