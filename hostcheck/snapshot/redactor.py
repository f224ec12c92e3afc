"""The token map of a redaction (:class:`Redactor`) and its application to bytes.

Each identifying value gets one token of its kind (``host-1``, ``user-1``, a UUID, a MAC address
of the same shape), replaced as a whole word in every form other programs write it in; user
names only where they are identities. :mod:`hostcheck.snapshot.redact` finds the values.
"""

from __future__ import annotations

import re

# Where a value starts and ends. User and full names are whole words ("_" is part of a word,
# a user "amd" stays in "amd_iommu"); the rest also end at "_" (rhel_HOST-root), after a
# systemd escape (luks\x2dUUID) and after the enx/wlx of an interface named by its MAC.
STRICT_LEFT = rb"(?:(?<![A-Za-z0-9_])|(?<=\\x[0-9a-fA-F]{2}))"
STRICT_RIGHT = rb"(?![A-Za-z0-9_])"
LOOSE_LEFT = rb"(?:(?<![A-Za-z0-9])|(?<=\\x[0-9a-fA-F]{2})|(?<=enx)|(?<=wlx))"
LOOSE_RIGHT = rb"(?![A-Za-z0-9])"
WHOLE_WORD_KINDS = {"user name", "full name"}
HEX_KINDS = {"UUID", "short UUID", "MAC address", "machine-id"}
# Credentials inside URLs anywhere: scheme://user:password@host
URL_CREDENTIALS_RE = re.compile(
    rb"(?i)(?<![A-Za-z0-9+.-])([a-z][a-z0-9+.-]{1,30}://)([^\s/@:\"'<>]*):([^\s/@\"'<>]*)@"
)
# Where a name is a user's identity outside /etc/passwd and /etc/group: a home directory,
# ~NAME, and user=/owner=/acct=/LOGNAME= style fields (JSON "owner": "NAME" too).
USER_CONTEXT = (
    rb"(?:/home/|(?<![A-Za-z0-9_])~|(?i:(?:user|acct|owner|logname|login|username)\"?\s*[=:]\s*"
    rb"[\"']?)|(?i:for user\s+))"
)

KINDS = {
    "hostname": "host-{n}",
    "user name": "user-{n}",
    "full name": "name-{n}",
    "machine-id": "{n:032x}",
    "UUID": "00000000-0000-4000-8000-{n:012x}",
    "short UUID": "0000-{n:04X}",
    "MAC address": "02:00:00:00:00:{n:02x}",
    "IPv4 address": "192.0.2.{n}",
    "IPv6 address": "2001:db8::{n:x}",
    "serial number": "serial-{n}",
    "secret": "secret-{n}",
}
CASE_INSENSITIVE_KINDS = {"hostname"}  # HOST-NAME in a kernel log is the same host


# A token of a snapshot being snapshotted again stays as it is.
ALREADY_TOKEN = re.compile(
    r"(?:host|user|name|serial|secret)-[0-9]+|0{24}[0-9a-f]{8}"
    r"|00000000-0000-4000-8000-[0-9a-f]{12}|02:00:00:00:00:[0-9a-f]{2}|0000-[0-9A-F]{4}"
    r"|192\.0\.2\.[0-9]+|2001:db8::[0-9a-f]+"
)


class Redactor:
    """A consistent map of identifying values to tokens, and its application to bytes."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}  # value -> token (never written anywhere)
        self.kind_of: dict[str, str] = {}
        self.forms: dict[str, str] = {}  # every written form of a value -> that form of its token
        self.kept: dict[
            str, int
        ] = {}  # kind -> values deliberately left (why: see hostcheck.snapshot.redact)
        self.occurrences: dict[str, int] = {}
        self.structured: dict[str, int] = {}
        self._form_kind: dict[bytes, str] = {}
        self._pattern: re.Pattern[bytes] | None = None
        self._tokens: dict[bytes, bytes] = {}
        self._folded: dict[bytes, bytes] = {}  # lower-cased form -> form (case-insensitive kinds)
        # User names are replaced where they are identities only (see apply), never as any
        # word: a service user `vllm` must not turn `-m vllm.entrypoints` into `user-1…`.
        self.users: dict[str, str] = {}
        self._user_pattern: re.Pattern[bytes] | None = None

    def add(self, kind: str, value: str) -> str:
        if kind == "MAC address":
            bare = value.replace(":", "").replace("-", "").lower()
            value = ":".join(bare[i : i + 2] for i in range(0, 12, 2))
        elif kind in ("UUID", "short UUID"):
            value = value.replace("\\x2d", "-")
        if value in self.forms:
            return self.forms[value]
        if kind == "user name" and value in self.users:
            return self.users[value]
        if ALREADY_TOKEN.fullmatch(value):
            return value
        n = sum(1 for k in self.kind_of.values() if k == kind) + 1
        token = KINDS[kind].format(n=n)
        self.mapping[value] = token
        self.kind_of[value] = kind
        if kind == "user name":
            self.users[value] = token
            self._user_pattern = None
            return token
        pairs = [(value, token)]
        if kind in HEX_KINDS:
            pairs += [(value.lower(), token.lower()), (value.upper(), token.upper())]
        if kind == "MAC address":
            pairs += [(v.replace(":", ""), t.replace(":", "")) for v, t in pairs]
        if any("-" in v for v, _ in pairs):
            pairs += [(v.replace("-", "\\x2d"), t.replace("-", "\\x2d")) for v, t in pairs]
            pairs += [(v.replace("-", "--"), t.replace("-", "--")) for v, t in pairs if "-" in v]
        for form, form_token in pairs:
            self.forms.setdefault(form, form_token)
            self._form_kind.setdefault(form.encode(), kind)
            if kind in CASE_INSENSITIVE_KINDS:
                self._folded.setdefault(form.encode().lower(), form.encode())
        self._pattern = None
        return token

    def user_token(self, name: str) -> str | None:
        return self.users.get(name)

    def keep(self, kind: str) -> None:
        self.kept[kind] = self.kept.get(kind, 0) + 1

    def keep_structured(self, kind: str) -> None:
        """A value replaced where it was found (by its place, not its text)."""
        self.structured[kind] = self.structured.get(kind, 0) + 1

    def apply(self, data: bytes) -> bytes:
        """Every identifying value replaced by its token; credentials in URLs replaced; user
        names replaced where they are identities (home directories, owner fields)."""
        data = URL_CREDENTIALS_RE.sub(self._url_credentials, data)
        if self.users:
            data = self._users_pattern().sub(self._user, data)
        if not self.forms:
            return data
        if self._pattern is None:
            # Longest first, so that a value inside a longer one never wins; consecutive
            # values with the same boundaries share one branch.
            branches: list[tuple[bool, bool, list[bytes]]] = []
            for form in sorted(self._form_kind, key=len, reverse=True):
                kind = self._form_kind[form]
                whole_word = kind in WHOLE_WORD_KINDS
                folded = kind in CASE_INSENSITIVE_KINDS
                if not branches or branches[-1][:2] != (whole_word, folded):
                    branches.append((whole_word, folded, []))
                branches[-1][2].append(re.escape(form))
            self._pattern = re.compile(
                b"|".join(
                    (STRICT_LEFT if whole_word else LOOSE_LEFT)
                    + (b"(?i:" if folded else b"(?:")
                    + b"|".join(forms)
                    + b")"
                    + (STRICT_RIGHT if whole_word else LOOSE_RIGHT)
                    for whole_word, folded, forms in branches
                )
            )
            self._tokens = {v.encode(): t.encode() for v, t in self.forms.items()}

        def replace(match: re.Match[bytes]) -> bytes:
            value = match.group(0)
            form = value if value in self._tokens else self._folded[value.lower()]
            kind = self._form_kind[form]
            self.occurrences[kind] = self.occurrences.get(kind, 0) + 1
            token = self._tokens[form]
            return token.upper() if value != form and value.isupper() else token

        return self._pattern.sub(replace, data)

    def _url_credentials(self, match: re.Match[bytes]) -> bytes:
        self.occurrences["secret"] = self.occurrences.get("secret", 0) + 1
        self.structured["secret"] = self.structured.get("secret", 0) + 1
        return match.group(1) + b"user:secret@"

    def _users_pattern(self) -> re.Pattern[bytes]:
        if self._user_pattern is None:
            names = b"|".join(
                re.escape(name.encode()) for name in sorted(self.users, key=len, reverse=True)
            )
            self._user_pattern = re.compile(
                b"(" + USER_CONTEXT + b")(" + names + b")" + STRICT_RIGHT
            )
        return self._user_pattern

    def _user(self, match: re.Match[bytes]) -> bytes:
        self.occurrences["user name"] = self.occurrences.get("user name", 0) + 1
        name = match.group(2).decode("utf-8", errors="surrogateescape")
        return match.group(1) + self.users[name].encode()

    def apply_text(self, text: str) -> str:
        return self.apply(text.encode()).decode("utf-8", errors="replace")

    def report_text(self, text: str) -> str:
        """A report of the original host, as its replay would word it: as :meth:`apply_text`,
        with user names replaced as whole words too ("llm is in render"): for comparing a
        report with its replay, never for writing a snapshot."""
        text = self.apply_text(text)
        if not self.users:
            return text
        names = "|".join(re.escape(n) for n in sorted(self.users, key=len, reverse=True))
        return re.sub(
            rf"(?<![A-Za-z0-9_])(?:{names})(?![A-Za-z0-9_])",
            lambda m: self.users[m.group(0)],
            text,
        )

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
