"""Kernel-argument set operations: pure functions on lists of argument strings.

An edit is a set of arguments to add (``key`` or ``key=value``) and keys to remove. Removing a
key removes every occurrence, whatever its value; adding ``key=value`` first removes every
other occurrence of the key, then appends it, so the edited line carries exactly one value
and the kernel (last occurrence wins) and a human reader agree on it. Keys compare as the
kernel compares parameter names: ``-`` and ``_`` are the same (``parameq``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hostcheck.errors import HostcheckError
from hostcheck.parse.kernel import normalise_param, parse_cmdline

# What we are willing to write into a boot loader's configuration, which is shell (GRUB) or
# a line that other tools split on spaces: no quotes, no spaces, no shell metacharacters.
# Compiled on first use (re caches them), not at import.
# What check_safe lets through, tested by str methods (fix compiles no pattern for them): a key
# as [A-Za-z0-9][A-Za-z0-9._-]*\Z matches it, a value as [A-Za-z0-9._,:/+@%=-]*\Z
# (tests/parse/test_token_parsers.py).
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SAFE_KEY_CHARS = _ALNUM + "._-"
_SAFE_VALUE_CHARS = _ALNUM + "._,:/+@%=-"


class KargError(HostcheckError, ValueError):
    """A kernel argument hostcheck will not write (unsafe characters, empty key)."""


def key_of(arg: str) -> str:
    """The normalised name of ``key`` or ``key=value``."""
    return normalise_param(arg.split("=", 1)[0])


def module_param(arg: str) -> tuple[str, str] | None:
    """(module, parameter) of a module's argument (``amdgpu.gttsize`` or ``…=VALUE``), else None."""
    key = key_of(arg)
    if "." not in key:
        return None
    module, name = key.split(".", 1)
    return module, name


def safe_key(key: str) -> bool:
    return key[:1] != "" and key[0] in _ALNUM and not key.strip(_SAFE_KEY_CHARS)


def safe_value(value: str) -> bool:
    return not value.strip(_SAFE_VALUE_CHARS)


def check_safe(arg: str) -> str:
    key, sep, value = arg.partition("=")
    if not safe_key(key) or (sep and not safe_value(value)):
        raise KargError(f"refusing to write kernel argument {arg!r}: unexpected characters")
    return arg


def split(line: str) -> list[str]:
    """A command line as argument strings, split as the kernel splits it (quotes kept)."""
    out = []
    for arg in parse_cmdline(line):
        if arg.value is not None and any(c.isspace() for c in arg.value):
            out.append(f'{arg.key}="{arg.value}"')
        else:
            out.append(arg.text)
    return out


def edit(args: Sequence[str], add: Sequence[str], remove: Iterable[str]) -> list[str]:
    """``args`` with the keys in ``remove`` and the keys of ``add`` dropped, then ``add``
    appended in order (a later duplicate in ``add`` replaces an earlier one)."""
    wanted: dict[str, str] = {}
    for arg in add:
        wanted.pop(key_of(arg), None)
        wanted[key_of(arg)] = arg
    drop = {normalise_param(key) for key in remove} | set(wanted)
    kept = [arg for arg in args if key_of(arg) not in drop]
    return kept + list(wanted.values())


def effective(args: Sequence[str]) -> dict[str, str | None]:
    """Each key's effective value: the last occurrence wins, as in the kernel."""
    values: dict[str, str | None] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        values[normalise_param(key)] = value.strip('"') if sep else None
    return values


def satisfied(args: Sequence[str], add: Sequence[str], remove: Iterable[str]) -> bool:
    """Whether ``args`` already carries the edit: every added argument in effect with its
    value, and no removed key present."""
    values = effective(args)
    for arg in add:
        key, sep, value = arg.partition("=")
        name = normalise_param(key)
        if name not in values or values[name] != (value if sep else None):
            return False
    return not any(normalise_param(key) in values for key in remove)


def missing(args: Sequence[str], add: Sequence[str], remove: Iterable[str]) -> list[str]:
    """What ``args`` lacks of the edit, for messages: ``+arg`` and ``-key`` items."""
    values = effective(args)
    out = []
    for arg in add:
        key, sep, value = arg.partition("=")
        if values.get(normalise_param(key), "\0") != (value if sep else None):
            out.append(f"+{arg}")
    out.extend(f"-{key}" for key in remove if normalise_param(key) in values)
    return out
