"""Which user the service runs as, and whether that user can open /dev/kfd and the render node."""

from __future__ import annotations

import os

from hostcheck.facts import ContainerAccess, DeviceNode, UserFacts
from hostcheck.host.core import Host
from hostcheck.parse.text import parse_decimal
from hostcheck.readings import NodeInfo, Reason, Unavailable, Value


def _table(host: Host, path: str) -> list[list[str]]:
    text = host.read_text(path)
    if not isinstance(text, Value):
        return []
    return [
        line.split(":") for line in text.value.splitlines() if line and not line.startswith("#")
    ]


def default_user(host: Host) -> tuple[str, bool]:
    """The user to check when --user is not given, and whether it stands for a real choice.

    The recorded user of a snapshot or fixture; on a live host, whoever ran ``sudo`` (when
    hostcheck runs as root through sudo) or else the invoking user; off the live host,
    root, which tells nothing about a service account (the check then says so).
    """
    recorded = host.recorded_user()
    if recorded:
        return recorded, True
    if not host.live:
        return "root", False
    if os.geteuid() == 0 and os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"], True
    import pwd

    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = str(os.getuid())
    return name, name != "root"


def probe_user(host: Host, name: str, explicit: bool = True) -> UserFacts | Unavailable:
    passwd = {row[0]: row for row in _table(host, "/etc/passwd") if len(row) >= 4}
    groups_table = [row for row in _table(host, "/etc/group") if len(row) >= 3]
    row = passwd.get(name)
    if row is None:
        return Unavailable(Reason.MISSING, "/etc/passwd", f"no user {name!r}")
    uid, gid = parse_decimal(row[2]), parse_decimal(row[3])
    if uid is None or gid is None:
        return Unavailable(Reason.UNPARSABLE, "/etc/passwd", f"bad uid/gid for {name!r}")
    groups = [
        g[0]
        for g in groups_table
        if parse_decimal(g[2]) == gid or (len(g) > 3 and name in g[3].split(","))
    ]
    return UserFacts(name, uid, sorted(set(groups)), "/etc/passwd, /etc/group", explicit)


def _group_names(host: Host) -> dict[int, str]:
    """gid -> group name from the host's /etc/group."""
    names: dict[int, str] = {}
    for row in _table(host, "/etc/group"):
        gid = parse_decimal(row[2]) if len(row) >= 3 else None
        if gid is not None:
            names.setdefault(gid, row[0])
    return names


def _decide(node: NodeInfo, group: str, user: UserFacts | Unavailable) -> tuple[bool | None, str]:
    if node.kind != "char":
        return False, f"is a {node.kind}, not a character device"
    perms = f"mode {node.mode:04o}, group {group}"
    if isinstance(user, Unavailable):
        return None, f"{perms}; the user could not be looked up ({user.describe()})"
    if user.uid == 0:
        if not user.explicit:
            return (
                True,
                f"{perms}; checked as root, which can open it: give --user SERVICE_USER to check the account the service runs as",
            )
        return True, f"{perms}; {user.name} is root"
    if node.uid == user.uid:
        ok = node.mode & 0o600 == 0o600
        return ok, f"{perms}; owner bits {'allow' if ok else 'deny'} read-write"
    if group in user.groups:
        ok = node.mode & 0o060 == 0o060
        return (
            ok,
            f"{perms}; {user.name} is in {group}, group bits {'allow' if ok else 'deny'} read-write",
        )
    ok = node.mode & 0o006 == 0o006
    if ok:
        return True, f"{perms}; world read-write"
    return (
        False,
        f"{perms}; {user.name} is not in group {group} (groups: {', '.join(user.groups) or 'none'})",
    )


def probe_devices(
    host: Host, paths: list[str], user: UserFacts | Unavailable
) -> dict[str, DeviceNode]:
    """Each device node and whether the user can open it (/etc/group read once)."""
    names = _group_names(host)
    return {path: probe_device(host, path, user, names) for path in paths}


def probe_device(
    host: Host, path: str, user: UserFacts | Unavailable, group_names: dict[int, str]
) -> DeviceNode:
    """Whether the user can open a device node, decided from its mode and /etc/group.

    The group file decides, because that is what a service started at boot gets. On a live
    host the kernel's own answer for this process (access(2), which sees logind's uaccess
    ACLs and this session's groups) is added as a note where it differs.
    """
    info = host.stat(path)
    if not isinstance(info, Value):
        return DeviceNode(
            path, info, False if info.reason == Reason.MISSING else None, info.describe()
        )
    group = info.value.group or group_names.get(info.value.gid) or str(info.value.gid)
    allowed, why = _decide(info.value, group, user)
    live = host.can_open_live(path)
    if (
        live is not None
        and isinstance(user, UserFacts)
        and user.uid == os.getuid()
        and live != allowed
    ):
        why += (
            f"; for this login session the kernel says {'allowed' if live else 'denied'} "
            "(a seat ACL, or groups changed since login)"
        )
    return DeviceNode(path, info, allowed, why, group)


SELINUX = "/sys/fs/selinux"
CONTAINER_BOOLEANS = ("container_use_devices", "container_use_dri_devices")
# podman's quadlet directories for system units and for rootless users' units (podman-systemd.unit(5))
QUADLET_DIRS = ("/etc/containers/systemd", "/etc/containers/systemd/users")
AUDIT_LOG = "/var/log/audit/audit.log"
GPU_NODE_MARKERS = ("/dev/kfd", "/dev/dri")
# An AVC line names the node by path= or, for some denials, only by name=
GPU_AUDIT_MARKERS = (*GPU_NODE_MARKERS, 'name="kfd"', 'name="renderD')


def probe_containers(host: Host) -> ContainerAccess:
    """SELinux state and container booleans, podman quadlets that hand the GPU to a container
    (system units, and rootless units under users/ and users/UID), and AVC denials for the
    GPU's device nodes in the audit log."""
    enforcing = host.read_text(f"{SELINUX}/enforce")
    booleans = {name: host.read_text(f"{SELINUX}/booleans/{name}") for name in CONTAINER_BOOLEANS}
    dirs = list(QUADLET_DIRS)
    users = host.listdir("/etc/containers/systemd/users")
    if isinstance(users, Value):
        dirs.extend(f"/etc/containers/systemd/users/{uid}" for uid in users.value if uid.isdigit())
    quadlets = []
    for directory in dirs:
        for path in host.glob(directory, "*.container"):
            text = host.read_text(path)
            if isinstance(text, Value) and any(m in text.value for m in GPU_NODE_MARKERS):
                quadlets.append((path, text.value))
    denials = []
    # Only the AVC lines are read into the scan (and a snapshot): the rest of the audit log
    # is other programs' business.
    audit = host.read_lines_with(AUDIT_LOG, ["avc:"])
    if isinstance(audit, Value):
        denials = [
            line
            for line in audit.value
            if "denied" in line and any(m in line for m in GPU_AUDIT_MARKERS)
        ]
    return ContainerAccess(
        Value(enforcing.value.strip(), enforcing.source)
        if isinstance(enforcing, Value)
        else enforcing,
        {
            name: Value(value.value.strip(), value.source) if isinstance(value, Value) else value
            for name, value in booleans.items()
        },
        quadlets,
        denials,
    )
