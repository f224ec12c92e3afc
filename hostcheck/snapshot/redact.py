"""Redaction of a recording: identifying values replaced by stable tokens everywhere.

Each identifying value found in what the probes read gets one token (``host-1``, ``user-1``,
``00000000-0000-4000-8000-000000000001``, ``02:00:00:00:00:01``, ``serial-1``), and that token
replaces it in every file, path, link target, command output and the kernel log, so the
snapshot still replays: ``/home/user-1`` in a process environment, ``user-1`` in
``/etc/passwd``, ``/etc/group`` and ``.hostcheck/user`` all still agree. Tokens keep the shape
of what they replace where a parser might care (UUIDs, MAC addresses, the machine id).

A value is replaced only as a whole word (not inside a longer name: the user ``llm`` does not
turn ``vllm`` into ``vuser-1``). For user names ``_`` is part of a word; for everything else it
is a boundary, as in LVM names (``rhel_HOST-root``). A value is also found in the forms other
programs write it in, each replaced by the same form of its token: systemd's escaped ``-``
(``luks\\x2d<uuid>``, ``host\\x2dname``), device-mapper's doubled ``--``
(``/dev/mapper/vg_my--host-root``), either letter case of hexadecimal values, and a MAC address
without separators (the interface names ``enx…``/``wlx…``). Names that identify nobody are kept:
``root``, ``localhost``, and the distribution's own name (a host called ``ubuntu`` keeps its
name, or ``ID=ubuntu`` in os-release would change and with it the verdicts).

User names come from /etc/passwd (UID 1000 and up), the user checked, and the ``USER``,
``LOGNAME`` and ``HOME=/home/NAME`` of recorded process environments (an LDAP or SSSD user is
not in /etc/passwd). IP addresses (v4 and v6: ``SSH_CONNECTION``, an NFS server) are replaced in
process environments and the kernel log by documentation addresses (192.0.2.N, 2001:db8::N).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

from hostcheck.parse.text import parse_os_release
from hostcheck.snapshot.redactor import Redactor
from hostcheck.snapshot.secrets import env_value_kept, is_secret_name, secret, secret_option
from hostcheck.snapshot.units import UNIT_DIRS, redact_unit

HEX = rb"[0-9A-Fa-f]"
SEP = rb"(?:-|\\x2d)"  # systemd escapes "-" in unit names as \x2d
# Before a hexadecimal value: not a hex digit, unless it ends a \x2d escape.
HEX_LEFT = rb"(?:(?<=\\x2d)|(?<![0-9A-Fa-f]))"
UUID_RE = re.compile(
    HEX_LEFT + HEX + rb"{8}" + SEP + rb"(?:" + HEX + rb"{4}" + SEP + rb"){3}" + HEX + rb"{12}"
    rb"(?![0-9A-Fa-f])"
)
# FAT and exFAT volume ids (XXXX-XXXX), only where named as a UUID: elsewhere the shape is common.
SHORT_UUID_RE = re.compile(
    rb"(?i)(?:uuid=|uuid/|by-uuid-|by\\x2duuid-)("
    + HEX
    + rb"{4}"
    + SEP
    + HEX
    + rb"{4})(?![0-9A-Fa-f])"
)
MAC_RE = re.compile(rb"(?<![0-9A-Fa-f:])(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}(?![0-9A-Fa-f:])")
# Interface names made from the MAC address (systemd's predictable names for USB and wireless).
MAC_NAME_RE = re.compile(rb"(?<![A-Za-z0-9])(?:enx|wlx)([0-9a-fA-F]{12})(?![A-Za-z0-9])")
IPV4_RE = re.compile(
    rb"(?<![A-Za-z0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![A-Za-z0-9]|\.[0-9])"
)
IPV6_RE = re.compile(
    rb"(?<![A-Za-z0-9:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![A-Za-z0-9:.])"
)
SERIAL_RES = (
    re.compile(rb"SerialNumber:\s*([^\s,;]{3,})"),  # USB devices in the kernel log
    re.compile(rb"(?i)serial[ _-]?(?:number|no)\s*[:=]\s*([^\s,;]{3,})"),
    # serial#ABC123, serial=ABC123, SERIAL="ABC123" (firmware and drive messages)
    re.compile(rb"(?i)(?<![A-Za-z0-9])serial\s*[#=]\s*[\"']?([^\s,;\"']{3,})"),
    re.compile(rb"(?im)^\s*Uuid:\s+GPU-([0-9A-Fa-f]{8,})"),  # rocminfo's GPU agent id
)


# Environment variables that name the user a process runs as.
USER_VARIABLES = ("USER", "LOGNAME", "SUDO_USER")
UNIDENTIFYING = {"root", "localhost", "localhost.localdomain", "nobody", "(none)", "none"}
MIN_NAME = 3  # shorter names would be replaced inside ordinary words of the kernel log
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""


def discover(
    files: Mapping[str, bytes],
    texts: Iterable[bytes],
    *,
    extra_users: Iterable[str] = (),
    machine_ids: Iterable[str] = (),
    logs: Iterable[bytes] = (),
) -> tuple[Redactor, dict[str, bytes]]:
    """Find the identifying values in a recording; returns the redactor and the files whose
    structure had to be edited first (secrets in process environments and command lines,
    full names in /etc/passwd). ``texts`` are the other recorded outputs (kernel log,
    commands); ``extra_users`` are names the scan used (--user, the recorded user); ``logs``
    are the texts also searched for IP addresses (the kernel log)."""
    redactor = Redactor()
    edited: dict[str, bytes] = {}
    os_release = _text(files.get("/etc/os-release") or files.get("/usr/lib/os-release"))
    try:
        release = parse_os_release(os_release) if os_release else {}
    except ValueError:
        release = {}
    keep = set(UNIDENTIFYING)
    for key in ("ID", "ID_LIKE", "NAME"):  # e.g. ubuntu, debian, "Fedora Linux"
        keep.update(word.lower() for word in release.get(key, "").split())

    for path in ("/proc/sys/kernel/hostname", "/etc/hostname"):
        name = _text(files.get(path)).strip()
        if not name:
            continue
        if name.lower() in keep or len(name) < MIN_NAME:
            redactor.keep("hostname")
            continue
        redactor.add("hostname", name)
        short = name.split(".", 1)[0]
        if short != name and len(short) >= MIN_NAME and short.lower() not in keep:
            redactor.add("hostname", short)

    for value in machine_ids:
        if re.fullmatch(r"[0-9a-fA-F]{32}", value):
            redactor.add("machine-id", value)

    passwd = files.get("/etc/passwd")
    users = set()
    if passwd is not None:
        lines = []
        for line in _text(passwd).split("\n"):
            fields = line.split(":")
            if len(fields) >= 7 and fields[2].isdigit() and 1000 <= int(fields[2]) < 65534:
                name = fields[0]
                if name.lower() in keep or len(name) < MIN_NAME:
                    redactor.keep("user name")
                else:
                    users.add(name)
                    full = fields[4].split(",")[0].strip()
                    if full and full != name and len(full) >= MIN_NAME and full.lower() not in keep:
                        redactor.add("full name", full)
                    fields[4] = full  # room and telephone numbers are dropped
            lines.append(":".join(fields))
        edited["/etc/passwd"] = "\n".join(lines).encode()
    known = set()
    if passwd is not None:
        known = {line.split(":")[0] for line in _text(passwd).splitlines() if ":" in line}
    environs = [data for path, data in files.items() if _is_proc_file(path, "environ")]
    for name in [*extra_users, *(name for data in environs for name in _environ_users(data))]:
        if name and name not in known and name.lower() not in keep and len(name) >= MIN_NAME:
            users.add(name)  # a user from elsewhere (LDAP, --user) still names a person
    for name in sorted(users):
        redactor.add("user name", name)
    if passwd is not None:
        edited["/etc/passwd"] = _rename_users(edited["/etc/passwd"], redactor, name_fields=(0, 4))
    group = files.get("/etc/group")
    if group is not None:
        edited["/etc/group"] = _rename_users(group, redactor, name_fields=(0,), list_field=3)

    for path, data in files.items():
        if _is_proc_file(path, "environ") or _is_proc_file(path, "cmdline"):
            edited[path] = _redact_secrets(data, redactor, environ=path.endswith("/environ"))
        elif path.startswith(UNIT_DIRS):
            edited[path] = redact_unit(data, redactor)

    for data in [*environs, *logs]:
        _add_addresses(redactor, data)
    everything = [*files.values(), *texts]
    for data in everything:
        for match in UUID_RE.finditer(data):
            uuid = match.group(0).decode().replace("\\x2d", "-")
            if uuid != NIL_UUID:  # "no UUID", identifies nothing
                redactor.add("UUID", uuid)
        for match in SHORT_UUID_RE.finditer(data):
            redactor.add("short UUID", match.group(1).decode())
        macs = [m.group(0) for m in MAC_RE.finditer(data)]
        macs += [m.group(1) for m in MAC_NAME_RE.finditer(data)]
        for raw in macs:
            mac = raw.decode().lower()
            if mac.replace(":", "") not in ("000000000000", "ffffffffffff"):
                redactor.add("MAC address", mac)
        for pattern in SERIAL_RES:
            for match in pattern.finditer(data):
                redactor.add("serial number", match.group(1).decode(errors="replace"))
    return redactor, edited


def _rename_users(
    data: bytes, redactor: Redactor, *, name_fields: tuple[int, ...], list_field: int | None = None
) -> bytes:
    """/etc/passwd or /etc/group with the user names in their fields replaced by tokens (a
    user's private group has the user's name)."""
    lines = []
    for line in _text(data).split("\n"):
        fields = line.split(":")
        if len(fields) >= 3:
            for index in name_fields:
                token = redactor.user_token(fields[index]) if index < len(fields) else None
                if token is not None:
                    fields[index] = token
            if list_field is not None and list_field < len(fields) and fields[list_field]:
                fields[list_field] = ",".join(
                    redactor.user_token(member) or member
                    for member in fields[list_field].split(",")
                )
        lines.append(":".join(fields))
    return "\n".join(lines).encode()


def _is_proc_file(path: str, name: str) -> bool:
    return path.startswith("/proc/") and path.endswith("/" + name)


def _environ_users(data: bytes) -> list[str]:
    """The user names a process environment gives: USER, LOGNAME, SUDO_USER, HOME=/home/NAME."""
    names = []
    for item in data.decode("utf-8", errors="replace").split("\0"):
        key, sep, value = item.partition("=")
        if not sep or not value:
            continue
        if key in USER_VARIABLES:
            names.append(value)
        elif key == "HOME" and value.startswith("/home/"):
            names.append(value.rstrip("/").rsplit("/", 1)[-1])
    return names


def _add_addresses(redactor: Redactor, data: bytes) -> None:
    """IP addresses, v4 and v6, except the ones every host has (loopback, any, broadcast)."""
    for match in IPV4_RE.finditer(data):
        address = match.group(0).decode()
        ipv4 = ipaddress.IPv4Address(address)
        if not (ipv4.is_loopback or ipv4.is_unspecified or ipv4 == BROADCAST):
            redactor.add("IPv4 address", address)
    for match in IPV6_RE.finditer(data):
        candidate = match.group(0).decode()
        if not re.search(r"[0-9A-Fa-f]", candidate):
            continue
        try:
            ipv6 = ipaddress.IPv6Address(candidate)
        except ValueError:
            continue  # a time of day, a MAC address, a PCI address: not an IPv6 address
        if not (ipv6.is_loopback or ipv6.is_unspecified):
            redactor.add("IPv6 address", candidate)


def _command_word(word: str, secret_next: bool, redactor: Redactor) -> tuple[str, bool]:
    """One word of a command line: a credential option's value replaced (``--api-key=X``, or
    the word after ``--api-key``); returns the word and whether the next one is such a value."""
    if secret_next and word:
        return secret(redactor, word), False
    if secret_option(word):
        option, sep, value = word.partition("=")
        if sep and value:
            return f"{option}={secret(redactor, value)}", False
        if not sep:
            return word, True
    return word, secret_next


def _redact_secrets(data: bytes, redactor: Redactor, *, environ: bool) -> bytes:
    parts = data.split(b"\0")
    out = []
    secret_next = False
    for raw in parts:
        item = raw.decode("utf-8", errors="surrogateescape")
        if environ and "=" in item:
            key, value = item.split("=", 1)
            if not value or env_value_kept(key):
                pass
            elif is_secret_name(key):
                item = f"{key}={secret(redactor, value)}"
            elif key in USER_VARIABLES and redactor.user_token(value):
                item = f"{key}={redactor.user_token(value)}"
            else:
                # Not a variable the checks read: its value is nobody's business.
                redactor.keep_structured("environment value")
                item = f"{key}=redacted"
        elif not environ:
            item, secret_next = _command_word(item, secret_next, redactor)
        out.append(item.encode("utf-8", errors="surrogateescape"))
    return b"\0".join(out)
