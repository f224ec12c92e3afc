"""Which user the service runs as, and whether that user can open /dev/kfd and the render node."""

from __future__ import annotations

import os

from hostcheck.facts import DeviceNode, UserFacts
from hostcheck.host import Host, NodeInfo
from hostcheck.parsers import parse_decimal
from hostcheck.readings import Reason, Unavailable, Value


def _table(host: Host, path: str) -> list[list[str]]:
    text = host.read_text(path)
    if not isinstance(text, Value):
        return []
    return [
        line.split(":") for line in text.value.splitlines() if line and not line.startswith("#")
    ]


def default_user(host: Host) -> str:
    """The invoking user: ``SUDO_USER`` under sudo, the recorded user of a snapshot, else us."""
    recorded = host.recorded_user()
    if recorded:
        return recorded
    if host.live and os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def probe_user(host: Host, name: str) -> UserFacts | Unavailable:
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
    return UserFacts(name, uid, sorted(set(groups)), "/etc/passwd, /etc/group")


def _group_name(host: Host, node: NodeInfo) -> str | None:
    if node.group:
        return node.group
    for row in _table(host, "/etc/group"):
        if len(row) >= 3 and parse_decimal(row[2]) == node.gid:
            return row[0]
    return None


def _decide(host: Host, node: NodeInfo, user: UserFacts | Unavailable) -> tuple[bool | None, str]:
    group = _group_name(host, node) or str(node.gid)
    if node.kind != "char":
        return False, f"is a {node.kind}, not a character device"
    perms = f"mode {node.mode:04o}, group {group}"
    if isinstance(user, Unavailable):
        return None, f"{perms}; the user could not be looked up ({user.describe()})"
    if user.uid == 0:
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


def probe_device(host: Host, path: str, user: UserFacts | Unavailable) -> DeviceNode:
    info = host.stat(path)
    if not isinstance(info, Value):
        return DeviceNode(
            path, info, False if info.reason == Reason.MISSING else None, info.describe()
        )
    allowed, why = _decide(host, info.value, user)
    live = host.can_open_live(path)
    if live is not None and isinstance(user, UserFacts) and user.uid == os.getuid():
        # This process is that user: the kernel's answer includes ACLs (logind's uaccess).
        if live != allowed:
            why += f"; the kernel says {'allowed' if live else 'denied'} (ACLs)"
        allowed = live
    return DeviceNode(path, info, allowed, why)
