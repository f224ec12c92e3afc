"""Redaction of systemd units, their drop-ins and podman quadlets: the values of their
environment assignments and of the credentials on their command lines, as for process
environments (secrets.py decides what is a credential)."""

from __future__ import annotations

import re

from hostcheck.snapshot.redactor import Redactor
from hostcheck.snapshot.secrets import env_value, secret, secret_option

# systemd units, their drop-ins and podman quadlets: their Environment= lines and the
# environment options of their command lines (Exec=, ExecStart=, PodmanArgs=) carry a
# service's credentials (HF_TOKEN=…, --env API_KEY=…, --api-key …).
UNIT_DIRS = (
    "/etc/systemd/",
    "/run/systemd/",
    "/usr/lib/systemd/",
    "/lib/systemd/",
    "/etc/containers/systemd/",
    "/usr/share/containers/systemd/",
)
UNIT_COMMAND_KEYS = ("Exec", "PodmanArgs", "GlobalArgs")  # and every Exec*= of systemd
# One assignment of an Environment= line: "NAME=value with spaces", 'NAME=…' or NAME=value.
# A backslash escapes the next character (a quote, a space) as in systemd.exec(5)'s quoting.
UNIT_ASSIGNMENT = re.compile(
    r'(?:(?<![^\s])"(?P<dn>[A-Za-z_][A-Za-z0-9_]*)=(?P<dv>(?:\\.|[^"\\])*)"'
    r"|(?<![^\s])'(?P<sn>[A-Za-z_][A-Za-z0-9_]*)=(?P<sv>(?:\\.|[^'\\])*)'"
    # bare, or after a quote that is never closed (systemd ignores the line; the file keeps it)
    r"|(?<![^\s\"'])(?P<n>[A-Za-z_][A-Za-z0-9_]*)=(?P<v>(?:\\[^\n]|\S)*))"
)
# One word of a unit's command line: quoted parts and escapes stay in the word.
UNIT_WORD = re.compile(r"""(?:"(?:\\.|[^"\\])*"?|'[^']*'?|\\.|[^\s"'\\]|\\)+""")
# Inline credentials (systemd.exec(5)): SetCredential=ID:VALUE, SetCredentialEncrypted=ID:DATA
UNIT_CREDENTIAL_KEYS = ("SetCredential", "SetCredentialEncrypted")


def _unit_assignments(text: str, redactor: Redactor) -> str:
    def replace(match: re.Match[str]) -> str:
        for name_group, value_group, quote in (
            ("dn", "dv", '"'),
            ("sn", "sv", "'"),
            ("n", "v", ""),
        ):
            name = match.group(name_group)
            if name is not None:
                value = env_value(redactor, name, match.group(value_group))
                return f"{quote}{name}={value}{quote}"
        return match.group(0)

    return UNIT_ASSIGNMENT.sub(replace, text)


def _unquoted(word: str) -> tuple[str, str]:
    """A word's quote character ("" if none) and what it quotes."""
    if len(word) >= 2 and word[0] in "\"'" and word[-1] == word[0]:
        return word[0], word[1:-1]
    return "", word


def _unit_secret(redactor: Redactor, word: str) -> str:
    quote, inner = _unquoted(word)
    return f"{quote}{secret(redactor, inner)}{quote}" if inner else word


def _unit_env_word(redactor: Redactor, word: str) -> str:
    """NAME=VALUE after -e/--env (the whole word may be quoted, or only its value)."""
    outer, inner = _unquoted(word)
    name, eq, value = inner.partition("=")
    if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return word
    quote, value = _unquoted(value)
    return f"{outer}{name}={quote}{env_value(redactor, name, value)}{quote}{outer}"


def _unit_command(text: str, redactor: Redactor) -> str:
    """A command line of a unit: the values of -e/--env NAME=VALUE and of credential options.
    Words are split as a shell does (quotes and backslash escapes keep a value whole; tabs and
    continued lines separate words), and the separators are kept as they were."""
    env_next = secret_next = False

    def word(match: re.Match[str]) -> str:
        nonlocal env_next, secret_next
        item = match.group(0)
        if item == "\\":  # a line continuation
            return item
        if env_next:
            env_next = False
            return _unit_env_word(redactor, item)
        if secret_next:
            secret_next = False
            return _unit_secret(redactor, item)
        quote, inner = _unquoted(item)
        if quote:  # a script (sh -c "… --token=…"): its words as well
            return quote + _unit_command(inner, redactor) + quote
        if item[0] in "\"'":  # a quote never closed: what follows it is still redacted
            return item[0] + _unit_command(item[1:], redactor)
        if item in ("-e", "--env"):
            env_next = True
        elif item.startswith("--env="):
            return "--env=" + _unit_env_word(redactor, item[len("--env=") :])
        elif item.startswith("-e") and "=" in item:  # -eNAME=VALUE
            return "-e" + _unit_env_word(redactor, item[2:])
        elif secret_option(item):
            option, sep, value = item.partition("=")
            if sep and value:
                return f"{option}={_unit_secret(redactor, value)}"
            if not sep:
                secret_next = True
        return item

    return UNIT_WORD.sub(word, text)


def redact_unit(data: bytes, redactor: Redactor) -> bytes:
    """A unit, drop-in or quadlet with the values of its environment assignments, its inline
    credentials and its command lines' credentials replaced; the variables the checks read
    keep theirs. A line ending in a backslash continues on the next (systemd.syntax(7)): the
    continued lines are redacted as part of the key's value."""
    lines = data.decode("utf-8", errors="surrogateescape").split("\n")
    index = 0
    while index < len(lines):
        first = index
        while lines[index].rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
        index += 1
        line = "\n".join(lines[first:index])
        key, sep, rest = line.partition("=")
        # a commented-out line keeps what it held (an old token): redacted as if it were set
        key = key.strip().lstrip("#;").strip()
        if not sep:
            continue
        head = line[: len(line) - len(rest)]
        if key == "Environment":
            line = head + _unit_assignments(rest, redactor)
        elif key.startswith("Exec") or key in UNIT_COMMAND_KEYS:
            line = head + _unit_command(rest, redactor)
        elif key in UNIT_CREDENTIAL_KEYS:
            ident, colon, value = rest.partition(":")
            if colon and value.strip():
                line = f"{head}{ident}:{secret(redactor, value.strip())}"
        lines[first:index] = line.split("\n")
    return "\n".join(lines).encode("utf-8", errors="surrogateescape")
