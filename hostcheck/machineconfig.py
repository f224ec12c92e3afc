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

**MachineConfigs accumulate, they never replace each other.** The plan comes from the node's
current state: a node already rebooted into an earlier fix passes those rules, so a later plan
no longer asks for them. Had the later MachineConfig the earlier one's name, ``oc apply`` would
replace it and the MCO would take the earlier fixes back off the pool at the next reboot. So
the default name ends in a hash of what the MachineConfig does (kernel arguments and drop-in
settings, not comments): a different fix is a new MachineConfig beside the old ones, the same
fix the same name (applying it again changes nothing). The drop-ins are named after the
MachineConfig for the same reason: the MCO lets the last MachineConfig that writes a path win,
so a shared path would again drop the earlier settings. Old ones are listed and pruned by
hand; the notes say how.

Ignition spec 3.2.0: every OpenShift 4.x release the MCO supports today accepts it (newer
releases also take 3.4.0, older 4.6-4.13 clusters do not), and it has everything used here:
files with a mode, ``overwrite`` and ``data:`` URL contents.
"""

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

IGNITION_VERSION = "3.2.0"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
MANAGED_BY = "app.kubernetes.io/managed-by"
# Kernel arguments (or module options) whose value hostcheck computes from the node's RAM.
_RAM_SIZED = ("pages_limit", "page_pool_size")

# Kubernetes object names (DNS-1123 subdomain) and label values, as the API server checks them.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


class MachineConfigError(ValueError):
    """The request cannot become a (non-empty, valid) MachineConfig; the message says why."""


def default_name(
    role: str,
    kernel_args: Sequence[str] = (),
    files: Sequence[tuple[str, bytes]] = (),
) -> str:
    """``99-<role>-hostcheck-<hash>``: MachineConfigs of a pool are merged in name order and a
    later one wins, so ``99-`` sorts after the cluster's own ``00-``…``50-`` configs.

    The hash (8 hex digits of SHA-256) covers the kernel arguments and, per drop-in directory,
    the drop-ins' settings (lines that are not comments): a comment or a file's name does not
    change it, a setting does.
    """
    digest = hashlib.sha256()
    for arg in _unique(kernel_args):
        digest.update(b"karg\0" + arg.encode() + b"\n")
    for directory, settings in sorted(
        (posixpath.dirname(path), _settings(content)) for path, content in files
    ):
        digest.update(b"file\0" + directory.encode() + b"\0" + settings + b"\n")
    return f"99-{role}-hostcheck-{digest.hexdigest()[:8]}"


def _settings(content: bytes) -> bytes:
    lines = (line.strip() for line in content.splitlines())
    return b"\n".join(line for line in lines if line and not line.startswith(b"#"))


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
        name = default_name(role, kernel_args_add, [(path, content) for path, content, _ in files])
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
            f"Named by --name: `oc apply` replaces any MachineConfig called {name}, and the MCO",
            "takes off the pool whatever only that one carried (a node rebooted into an earlier",
            "fix passes its rules, so this plan no longer asks for it). Without --name the name",
            "ends in a hash of the content and MachineConfigs accumulate instead.",
        ]
    else:
        lines += [
            "The name ends in a hash of what it sets: it adds to earlier hostcheck MachineConfigs",
            "instead of replacing them (a node rebooted into an earlier fix passes its rules, so",
            "this plan no longer asks for it), and the same fix always gets the same name.",
        ]
    lines += [
        "hostcheck's MachineConfigs of the pool:",
        f"  {listing}",
        "Delete an old one when the pool no longer needs what it sets, or when a newer one sets",
        "the same argument to another value (both would stay, and the one whose name sorts last",
        "wins, which need not be the newer one); deleting one reboots the pool too:",
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


def to_yaml(obj: Mapping[str, Any]) -> str:
    """Block-style YAML for a MachineConfig-shaped object, byte for byte deterministic.

    A small emitter instead of a YAML library: the shape is fixed (mappings, lists, strings,
    integers, booleans), and a runtime dependency for ~30 lines is not worth it. Every string
    is written as a JSON string, which is also a valid YAML double-quoted scalar, so no value
    can be misread as a number, a boolean or a comment.
    """
    return "".join(_yaml_lines(obj, 0))


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{pad}{_yaml_key(str(key))}:"
            if _is_block(item):
                out.append(head + "\n")
                out += _yaml_lines(item, indent + 2)
            else:
                out.append(f"{head} {_yaml_scalar(item)}\n")
    elif isinstance(value, list):
        for item in value:
            if _is_block(item):
                nested = _yaml_lines(item, indent + 2)
                out.append(f"{pad}- {nested[0].lstrip()}")
                out += nested[1:]
            else:
                out.append(f"{pad}- {_yaml_scalar(item)}\n")
    return out


def _is_block(value: Any) -> bool:
    return isinstance(value, Mapping | list) and len(value) > 0


_PLAIN_KEY = re.compile(r"[A-Za-z][-A-Za-z0-9_./]*")


def _yaml_key(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML here")


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
