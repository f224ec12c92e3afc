"""Redaction of a recording: identifying values replaced by stable tokens everywhere.

Each identifying value found in what the probes read gets one token (``host-1``, ``user-1``,
``00000000-0000-4000-8000-000000000001``, ``02:00:00:00:00:01``, ``serial-1``), and that token
replaces it in every file, path, link target, command output and the kernel log, so the
snapshot still replays: ``/home/user-1`` in a process environment, ``user-1`` in
``/etc/passwd``, ``/etc/group`` and ``.hostcheck/user`` all still agree. Tokens keep the shape
of what they replace where a parser might care (UUIDs, MAC addresses, the machine id).

A value is replaced only as a whole word (not inside a longer name: the user ``llm`` does not
turn ``vllm`` into ``vuser-1``). Names that identify nobody are kept: ``root``, ``localhost``,
and the distribution's own name (a host called ``ubuntu`` keeps its name, or ``ID=ubuntu`` in
os-release would change and with it the verdicts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from hostcheck.parsers import parse_os_release

WORD = rb"[A-Za-z0-9_]"
UUID_RE = re.compile(
    rb"(?<![0-9A-Fa-f-])[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}(?![0-9A-Fa-f-])"
)
MAC_RE = re.compile(rb"(?<![0-9A-Fa-f:])(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}(?![0-9A-Fa-f:])")
SERIAL_RES = (
    re.compile(rb"SerialNumber:\s*([^\s,;]{3,})"),  # USB devices in the kernel log
    re.compile(rb"(?i)serial[ _-]?(?:number|no)\s*[:=]\s*([^\s,;]{3,})"),
    re.compile(rb"(?im)^\s*Uuid:\s+GPU-([0-9A-Fa-f]{8,})"),  # rocminfo's GPU agent id
)
# Environment variables and command-line options whose values are credentials.
SECRET_NAME = re.compile(
    r"(?i)token|secret|passw|api_?key|access_?key|private_?key|credential|auth"
)
SECRET_OPTION = re.compile(
    r"(?i)^--?[\w-]*(?:token|secret|passw|api-?key|access-?key|credential)[\w-]*"
)
UNIDENTIFYING = {"root", "localhost", "localhost.localdomain", "nobody", "(none)", "none"}
MIN_NAME = 3  # shorter names would be replaced inside ordinary words of the kernel log
MIN_SECRET = 6

KINDS = {
    "hostname": "host-{n}",
    "user name": "user-{n}",
    "full name": "name-{n}",
    "machine-id": "{n:032x}",
    "UUID": "00000000-0000-4000-8000-{n:012x}",
    "MAC address": "02:00:00:00:00:{n:02x}",
    "serial number": "serial-{n}",
    "secret": "secret-{n}",
}


# A token of a snapshot being snapshotted again stays as it is.
ALREADY_TOKEN = re.compile(
    r"(?:host|user|name|serial|secret)-[0-9]+|0{24}[0-9a-f]{8}"
    r"|00000000-0000-4000-8000-[0-9a-f]{12}|02:00:00:00:00:[0-9a-f]{2}"
)
NIL_UUID = "00000000-0000-0000-0000-000000000000"


class Redactor:
    """A consistent map of identifying values to tokens, and its application to bytes."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}  # value -> token (never written anywhere)
        self.kind_of: dict[str, str] = {}
        self.kept: dict[str, int] = {}  # kind -> values deliberately left (why: see module doc)
        self.occurrences: dict[str, int] = {}
        self.structured: dict[str, int] = {}
        self._pattern: re.Pattern[bytes] | None = None
        self._tokens: dict[bytes, bytes] = {}

    def add(self, kind: str, value: str) -> str:
        if value in self.mapping:
            return self.mapping[value]
        if ALREADY_TOKEN.fullmatch(value):
            return value
        n = sum(1 for k in self.kind_of.values() if k == kind) + 1
        token = KINDS[kind].format(n=n)
        self.mapping[value] = token
        self.kind_of[value] = kind
        self._pattern = None
        return token

    def keep(self, kind: str) -> None:
        self.kept[kind] = self.kept.get(kind, 0) + 1

    def keep_structured(self, kind: str) -> None:
        """A value replaced where it was found (by its place, not its text)."""
        self.structured[kind] = self.structured.get(kind, 0) + 1

    def apply(self, data: bytes) -> bytes:
        if not self.mapping:
            return data
        if self._pattern is None:
            values = sorted(self.mapping, key=len, reverse=True)
            alternation = b"|".join(re.escape(v.encode()) for v in values)
            self._pattern = re.compile(
                rb"(?<!" + WORD + rb")(?:" + alternation + rb")(?!" + WORD + rb")"
            )
            self._tokens = {v.encode(): t.encode() for v, t in self.mapping.items()}

        def replace(match: re.Match[bytes]) -> bytes:
            value = match.group(0)
            kind = self.kind_of[value.decode()]
            self.occurrences[kind] = self.occurrences.get(kind, 0) + 1
            return self._tokens[value]

        return self._pattern.sub(replace, data)

    def apply_text(self, text: str) -> str:
        return self.apply(text.encode()).decode("utf-8", errors="replace")

    def summary(self) -> dict[str, dict[str, int]]:
        """Kinds and counts only: the manifest never holds a redacted value."""
        kinds = sorted(set(self.kind_of.values()) | set(self.kept) | set(self.structured))
        return {
            kind: {
                "values": sum(1 for k in self.kind_of.values() if k == kind)
                + self.structured.get(kind, 0),
                "occurrences": self.occurrences.get(kind, 0),
                **({"kept": self.kept[kind]} if kind in self.kept else {}),
            }
            for kind in kinds
        }


def _text(data: bytes | None) -> str:
    return data.decode("utf-8", errors="replace") if data else ""


def discover(
    files: Mapping[str, bytes],
    texts: Iterable[bytes],
    *,
    extra_users: Iterable[str] = (),
    machine_ids: Iterable[str] = (),
) -> tuple[Redactor, dict[str, bytes]]:
    """Find the identifying values in a recording; returns the redactor and the files whose
    structure had to be edited first (secrets in process environments and command lines,
    full names in /etc/passwd). ``texts`` are the other recorded outputs (kernel log,
    commands); ``extra_users`` are names the scan used (--user, the recorded user)."""
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
    for name in extra_users:
        if name and name not in known and name.lower() not in keep and len(name) >= MIN_NAME:
            users.add(name)  # a user from elsewhere (LDAP, --user) still names a person
    for name in sorted(users):
        redactor.add("user name", name)

    for path, data in files.items():
        if path.startswith("/proc/") and path.endswith(("/environ", "/cmdline")):
            edited[path] = _redact_secrets(data, redactor, environ=path.endswith("/environ"))

    everything = [*files.values(), *texts]
    for data in everything:
        for match in UUID_RE.finditer(data):
            if match.group(0).decode() != NIL_UUID:  # "no UUID", identifies nothing
                redactor.add("UUID", match.group(0).decode())
        for match in MAC_RE.finditer(data):
            mac = match.group(0).decode().lower()
            if mac not in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
                redactor.add("MAC address", match.group(0).decode())
        for pattern in SERIAL_RES:
            for match in pattern.finditer(data):
                redactor.add("serial number", match.group(1).decode(errors="replace"))
    return redactor, edited


def _redact_secrets(data: bytes, redactor: Redactor, *, environ: bool) -> bytes:
    parts = data.split(b"\0")
    out = []
    secret_next = False
    for raw in parts:
        item = raw.decode("utf-8", errors="surrogateescape")
        if environ and "=" in item:
            key, value = item.split("=", 1)
            if SECRET_NAME.search(key) and value:
                item = f"{key}={_secret(redactor, value)}"
        elif not environ:
            if secret_next and item:
                item = _secret(redactor, item)
                secret_next = False
            elif SECRET_OPTION.match(item):
                option, sep, value = item.partition("=")
                if sep and value:
                    item = f"{option}={_secret(redactor, value)}"
                else:
                    secret_next = True
        out.append(item.encode("utf-8", errors="surrogateescape"))
    return b"\0".join(out)


def _secret(redactor: Redactor, value: str) -> str:
    """A credential's token; short values are replaced here only (as words elsewhere they
    would hit ordinary text)."""
    redactor.occurrences["secret"] = redactor.occurrences.get("secret", 0) + 1
    if len(value) < MIN_SECRET:
        redactor.keep_structured("secret")
        return "secret"
    return redactor.add("secret", value)
