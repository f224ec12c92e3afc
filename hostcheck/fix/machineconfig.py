"""A fix plan as an OpenShift MachineConfig: pure functions, no I/O.

On OpenShift, node configuration belongs to the Machine Config Operator (MCO): nobody edits
grub or /etc on an RHCOS node. What hostcheck would change on a plain host becomes a
MachineConfig for a node pool instead:

- kernel arguments to add -> ``spec.kernelArguments``;
- drop-in files -> Ignition ``storage.files`` with ``data:`` URLs, one per MachineConfig:
  ``/etc/modprobe.d/zz-<name>.conf``, ``/etc/sysctl.d/zz-<name>.conf``.

What a MachineConfig cannot do is said in :func:`machineconfig_notes`: it cannot remove a kernel
argument it did not add. An empty MachineConfig is never produced (the Node Tuning Operator's
rule: an empty one still costs every node of the pool a drain and a reboot).

**One MachineConfig per pool, the desired state.** The Machine Config Operator renders a
pool from the complete set of its MachineConfigs, so hostcheck's is the complete set of what it
manages (:func:`desired_state`): the fix plan of the node scanned, plus every hostcheck-managed
kernel argument, module option and sysctl the node already has in effect. A node rebooted into
an earlier fix passes those rules and its plan no longer names them, but the desired state
does; so nodes of one pool give the same object whatever their state, under one stable name
(:func:`pool_name`), and applying a newer one replaces the older instead of piling up. The
notes name only kernel arguments to remove that the node actually carries.

Ignition spec 3.2.0: every OpenShift 4.x release the MCO supports today accepts it (newer
releases also take 3.4.0, older 4.6-4.13 clusters do not), and it has everything used here:
files with a mode, ``overwrite`` and ``data:`` URL contents.
"""

import base64
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from hostcheck.errors import USAGE, HostcheckError
from hostcheck.fix.yamltext import to_yaml as to_yaml  # the CLI takes it from here

IGNITION_VERSION = "3.2.0"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
MANAGED_BY = "app.kubernetes.io/managed-by"
# Kernel arguments (or module options) whose value hostcheck computes from the node's RAM.
_RAM_SIZED = ("pages_limit", "page_pool_size")

# Kubernetes object names (DNS-1123 subdomain) and label values, as the API server checks them.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


class MachineConfigError(HostcheckError, ValueError):
    """The request cannot become a (non-empty, valid) MachineConfig; the message says why."""

    kind = USAGE


def drop_in_path(path: str, name: str) -> str:
    """Where a drop-in of the MachineConfig ``name`` goes: ``zz-<name>.conf`` in the directory
    of ``path`` (``zz-`` so that it is read after the system's own files)."""
    return posixpath.join(posixpath.dirname(path), f"zz-{name}.conf")


def drop_in_note(name: str) -> str:
    """The first comment of a drop-in that a MachineConfig writes (after the marker)."""
    return (
        f"managed by MachineConfig {name}; remove it by deleting that MachineConfig "
        f"(`oc delete machineconfig {name}`), not by editing this file."
    )


def machineconfig(
    *,
    role: str,
    name: str | None,
    kernel_args_add: Sequence[str],
    kernel_args_remove: Sequence[str],
    files: Sequence[tuple[str, bytes, int]],
) -> dict[str, Any]:
    """The MachineConfig object (a plain dict) for the pool ``role``.

    ``files`` are drop-ins as (absolute path, content, mode). ``kernel_args_remove`` cannot be
    expressed in a MachineConfig (see :func:`machineconfig_notes`); it only shapes the error
    message when nothing else is asked for. Raises MachineConfigError for an invalid role,
    name, kernel argument or file, and when the MachineConfig would be empty.
    """
    if not role or len(role) > 63 or not _LABEL_VALUE.fullmatch(role):
        raise MachineConfigError(
            f"role {role!r} is not a valid label value (the MachineConfigPool's role, e.g. worker)"
        )
    if name is None:
        name = pool_name(role)
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise MachineConfigError(
            f"name {name!r} is not a valid Kubernetes resource name "
            "(lower-case letters, digits, '-' and '.', at most 253 characters)"
        )
    kernel_args = _unique(kernel_args_add)
    for arg in kernel_args:
        if not arg or any(ch.isspace() for ch in arg):
            raise MachineConfigError(f"kernel argument {arg!r} is empty or contains white space")
    entries = _file_entries(files)
    if not kernel_args and not entries:
        what = (
            f"only removals of kernel arguments ({', '.join(kernel_args_remove)}), which a "
            "MachineConfig cannot express"
            if kernel_args_remove
            else "no kernel arguments and no files"
        )
        raise MachineConfigError(
            f"nothing to put in a MachineConfig: the plan has {what}; not writing an empty one"
        )
    spec: dict[str, Any] = {
        "config": {
            "ignition": {"version": IGNITION_VERSION},
            **({"storage": {"files": entries}} if entries else {}),
        }
    }
    if kernel_args:
        spec["kernelArguments"] = kernel_args
    return {
        "apiVersion": "machineconfiguration.openshift.io/v1",
        "kind": "MachineConfig",
        "metadata": {
            "name": name,
            "labels": {ROLE_LABEL: role, MANAGED_BY: "hostcheck"},
        },
        "spec": spec,
    }


def machineconfig_notes(
    *,
    role: str,
    name: str,
    kernel_args_remove: Sequence[str],
    kernel_args_add: Sequence[str] = (),
    files: Sequence[tuple[str, bytes]] = (),
    mem_total_kib: int | None = None,
    named_by_user: bool = False,
) -> str:
    """What a person must know before applying the MachineConfig, as plain text lines."""
    pool = f"mcp/{role}"
    listing = (
        f"oc get machineconfig -l {MANAGED_BY}=hostcheck,{ROLE_LABEL}={role} "
        "-o custom-columns=NAME:.metadata.name,CREATED:.metadata.creationTimestamp,"
        "KARGS:.spec.kernelArguments"
    )
    lines = [
        f"MachineConfig {name} for the {role} pool. Applying it drains and reboots every node "
        f"of the pool, one at a time (`oc get {pool} -w` to follow).",
        "",
        "One reboot for a batch of changes: pause the pool, apply everything, then unpause:",
        f'  oc patch {pool} --type merge -p \'{{"spec":{{"paused":true}}}}\'',
        f"  oc apply -f {name}.yaml        # and any other MachineConfigs of the batch",
        f'  oc patch {pool} --type merge -p \'{{"spec":{{"paused":false}}}}\'',
        "Do not leave a pool paused for long: certificate rotation waits while it is paused.",
        "",
    ]
    if named_by_user:
        lines += [
            f"Named by --name: `oc apply` replaces any MachineConfig called {name}.",
        ]
    lines += [
        f"It is the complete desired state of what hostcheck manages on the {role} pool: the fixes",
        "of the node scanned plus hostcheck's settings that node already carries. Every node of",
        "the pool gives the same object, and applying a newer one replaces the older (`oc apply`",
        "keeps one per pool and role).",
        "hostcheck's MachineConfigs of the pool (older hostcheck versions named them",
        "99-ROLE-hostcheck-HASH and they accumulated: once this one is applied and carries",
        "what they set, delete them; deleting one reboots the pool too):",
        f"  {listing}",
        "  oc delete machineconfig NAME",
    ]
    sized = _ram_sized(kernel_args_add, files)
    if sized:
        ram = f" (MemTotal {mem_total_kib / 1024**2:.1f} GiB)" if mem_total_kib is not None else ""
        lines += [
            "",
            f"Sized from the RAM of the node scanned{ram}: {', '.join(sized)}.",
            f"The MachineConfig gives them to every node of the {role} pool, and a node with less",
            "RAM would get a limit above what it has: make the MachineConfig on the node with the",
            "least RAM of the pool, or keep nodes with different RAM in different pools",
            "(`hostcheck fleet` warns about a pool whose nodes differ in RAM).",
        ]
    if kernel_args_remove:
        args = ", ".join(kernel_args_remove)
        lines += [
            "",
            f"Not in the MachineConfig — kernel arguments to remove: {args}.",
            "A MachineConfig can only remove kernel arguments that a MachineConfig added. For each:",
            "  1. find the MachineConfig that adds it and remove it there:",
            "     oc get machineconfig -o custom-columns=NAME:.metadata.name,"
            "KARGS:.spec.kernelArguments",
            "  2. if none does, it was set outside the MCO (installer --append-karg or rpm-ostree "
            "by hand); remove it on each node, then reboot it:",
            "     oc debug node/NODE -- chroot /host rpm-ostree kargs --delete-if-present=ARG",
        ]
    return "\n".join(lines) + "\n"


def _ram_sized(kernel_args: Sequence[str], files: Sequence[tuple[str, bytes]]) -> list[str]:
    """The settings among the kernel arguments and modprobe options whose value comes from
    the node's RAM (``ttm.pages_limit=…``, ``options amdttm page_pool_size=…``)."""
    found: list[str] = []
    for arg in kernel_args:
        key = arg.split("=", 1)[0]
        if key.rsplit(".", 1)[-1] in _RAM_SIZED:
            found.append(key)
    for path, content in files:
        if not path.startswith("/etc/modprobe.d/"):
            continue
        for line in content.decode(errors="replace").splitlines():
            words = line.split()
            if len(words) > 2 and words[0] == "options":
                for option in words[2:]:
                    if option.split("=", 1)[0] in _RAM_SIZED:
                        found.append(f"{words[1]}.{option.split('=', 1)[0]}")
    return _unique(found)


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _file_entries(files: Sequence[tuple[str, bytes, int]]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path, content, mode in files:
        if not path.startswith("/") or "/../" in f"{path}/" or path.endswith("/"):
            raise MachineConfigError(f"file path {path!r} is not an absolute path to a file")
        if path in seen:
            raise MachineConfigError(f"file {path} is given twice")
        if not 0 <= mode <= 0o7777:
            raise MachineConfigError(f"file {path}: mode {mode:o} is not a file mode")
        seen.add(path)
        encoded = base64.b64encode(content).decode("ascii")
        entries.append(
            {
                "path": path,
                "mode": mode,
                "overwrite": True,
                "contents": {"source": f"data:text/plain;charset=utf-8;base64,{encoded}"},
            }
        )
    return entries


# -- desired state of a pool ------------------------------------------------------------------
class Managed(NamedTuple):
    """What hostcheck's fixes can set, from the rules' remediation templates: kernel argument
    keys in catalog order (``{module}`` stands for both ttm and amdttm), the module parameters
    among them, and sysctls with their target values."""

    kernel_arg_keys: tuple[str, ...]
    sysctl: Mapping[str, str]

    def module_params(self) -> set[tuple[str, str]]:
        return {
            (key.split(".", 1)[0], key.split(".", 1)[1])
            for key in self.kernel_arg_keys
            if "." in key
        }


TTM_MODULES = ("ttm", "amdttm")


def managed_settings(
    remediations: Iterable[Mapping[str, Any] | None], ttm_module: str | None = None
) -> Managed:
    """``ttm_module``: the TTM module the node uses (ttm, or amdttm with amdgpu-dkms); the
    other's arguments on its command line do nothing and are not carried. None: both."""
    keys: list[str] = []
    sysctl: dict[str, str] = {}
    for remedy in remediations:
        if not remedy:
            continue
        for template in remedy.get("add_kernel_args", []):
            key = str(template).split("=", 1)[0].replace("-", "_")
            modules = TTM_MODULES if ttm_module is None else (ttm_module,)
            expanded = (
                [key.replace("{module}", module) for module in modules]
                if "{module}" in key
                else [key]
            )
            keys += [k for k in expanded if "{" not in k]
        for key, value in (remedy.get("sysctl") or {}).items():
            if "{" not in str(value):
                sysctl[str(key)] = str(value)
    return Managed(tuple(_unique(keys)), sysctl)


class DesiredState(NamedTuple):
    kernel_args: tuple[str, ...]
    modprobe: Mapping[tuple[str, str], str]  # (module, parameter) -> value
    sysctl: Mapping[str, str]
    kernel_args_remove: tuple[str, ...]  # only those the node carries


def desired_state(
    managed: Managed,
    *,
    plan_kernel_args: Sequence[str],
    plan_kernel_args_remove: Sequence[str],
    plan_modprobe: Mapping[tuple[str, str], str],
    plan_sysctl: Mapping[str, str],
    running_kernel_args: Sequence[str],
    staged_kernel_args: Sequence[str],
    staged_modprobe: Mapping[tuple[str, str], str],
    running_sysctl: Mapping[str, str],
) -> DesiredState:
    """The complete set of what hostcheck manages that a pool's nodes should carry: the fix
    plan of the node scanned, plus every hostcheck-managed setting the node already has in
    effect that the plan does not change (a node rebooted into an earlier MachineConfig
    passes those rules, so its plan no longer names them; the desired state still must, or
    applying it would take them off the pool). Two nodes of a pool, one fixed and one not,
    so give the same desired state. Kernel arguments come in the catalog's order."""
    from hostcheck.parse.kernel import normalise_param

    def key_of(arg: str) -> str:
        return normalise_param(arg.split("=", 1)[0])

    planned = {key_of(arg): arg for arg in plan_kernel_args}
    removing = {normalise_param(key) for key in plan_kernel_args_remove}
    chosen: dict[str, str] = dict(planned)
    for arg in running_kernel_args:
        key = key_of(arg)
        if key in managed.kernel_arg_keys and key not in planned and key not in removing:
            chosen[key] = arg  # the last occurrence wins, as in the kernel
    # a module parameter the plan sets in modprobe.d is not also carried on the command line
    modprobe = dict(plan_modprobe)
    params = managed.module_params()
    for (module, name), value in staged_modprobe.items():
        if (
            (module, name) in params
            and (module, name) not in modprobe
            and (f"{module}.{name}" not in chosen)
        ):
            modprobe[(module, name)] = value
    for module, name in plan_modprobe:
        chosen.pop(f"{module}.{name}", None)
    order = {key: index for index, key in enumerate(managed.kernel_arg_keys)}
    kernel_args = tuple(
        chosen[key] for key in sorted(chosen, key=lambda k: (order.get(k, len(order)), k))
    )
    sysctl = dict(plan_sysctl)
    for key, target in managed.sysctl.items():
        if key not in sysctl and running_sysctl.get(key) == target:
            sysctl[key] = target
    present = {key_of(arg) for arg in [*running_kernel_args, *staged_kernel_args]}
    remove = tuple(k for k in plan_kernel_args_remove if normalise_param(k) in present)
    return DesiredState(kernel_args, modprobe, dict(sorted(sysctl.items())), remove)


def pool_name(role: str) -> str:
    """``99-<role>-hostcheck``: one stable name per pool and role. The MachineConfig is the
    pool's complete desired state of what hostcheck manages, so applying a newer one replaces
    the older (``oc apply``), and nothing piles up. ``99-`` sorts after the cluster's own
    ``00-``…``50-`` configs, whose settings it may override."""
    return f"99-{role}-hostcheck"


# -- Butane and the Node Tuning Operator ------------------------------------------------------
BUTANE_VERSION = "4.14.0"  # Butane's openshift variant; OpenShift 4.14 and later take it
NTO_NAMESPACE = "openshift-cluster-node-tuning-operator"


def butane(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The MachineConfig as a Butane config (variant openshift), the form people keep in git
    and `butane` turns back into the same MachineConfig: kernel arguments under
    ``openshift.kernel_arguments``, files with inline contents."""
    spec = obj["spec"]
    files = []
    for entry in spec["config"].get("storage", {}).get("files", []):
        source = entry["contents"]["source"]
        text = base64.b64decode(source.split(",", 1)[1]).decode()
        files.append(
            {
                "path": entry["path"],
                "mode": entry["mode"],
                "overwrite": entry["overwrite"],
                "contents": {"inline": text},
            }
        )
    config: dict[str, Any] = {
        "variant": "openshift",
        "version": BUTANE_VERSION,
        "metadata": {"name": obj["metadata"]["name"], "labels": dict(obj["metadata"]["labels"])},
    }
    if spec.get("kernelArguments"):
        config["openshift"] = {"kernel_arguments": list(spec["kernelArguments"])}
    if files:
        config["storage"] = {"files": files}
    return config


def tuned(role: str, sysctl: Mapping[str, str]) -> dict[str, Any]:
    """The sysctls as a Node Tuning Operator ``Tuned`` object for the pool ``role``: NTO
    applies them at run time without a reboot (a MachineConfig's sysctl.d drop-in needs
    one). Raises MachineConfigError when there is no sysctl to set."""
    if not sysctl:
        raise MachineConfigError("no sysctl to set: not writing an empty Tuned profile")
    profile = f"hostcheck-{role}"
    data = "\n".join(
        [
            "[main]",
            "summary=hostcheck: sysctls for Strix Halo LLM inference nodes",
            "include=openshift-node",
            "[sysctl]",
            *(f"{key}={value}" for key, value in sorted(sysctl.items())),
        ]
    )
    return {
        "apiVersion": "tuned.openshift.io/v1",
        "kind": "Tuned",
        "metadata": {
            "name": profile,
            "namespace": NTO_NAMESPACE,
            "labels": {MANAGED_BY: "hostcheck"},
        },
        "spec": {
            "profile": [{"name": profile, "data": data + "\n"}],
            "recommend": [
                {
                    "machineConfigLabels": {ROLE_LABEL: role},
                    "priority": 20,
                    "profile": profile,
                }
            ],
        },
    }
