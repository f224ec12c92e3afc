"""Pure parsers for host text: numbers as sysfs and tools print them, meminfo, os-release, KFD
properties, uevent files and dpkg status; and :class:`ParseError`, which every parser raises.
The kernel's identity and parameters are parsed in :mod:`hostcheck.parse.kernel`, the kernel
log in :mod:`hostcheck.parse.kernellog`, rocminfo in :mod:`hostcheck.parse.rocm`.

Each parser takes a string and returns plain data or raises :class:`ParseError`; none of them
touches the host. The formats and examples are in research/strix-halo-facts.md §9.
"""

import re

from hostcheck.errors import HostcheckError


class ParseError(HostcheckError, ValueError):
    """The text is not in the format the kernel or tool writes."""


# --- numbers ---------------------------------------------------------------------------------


# Numbers as the kernel and tools print them: ASCII digits only (str.isdigit() and int() also
# accept "²", "١٢", "1_000" and "+5"), and bounded, since int() refuses > 4300 digits.
KERNEL_SPACE = " \t\n\v\f\r"  # the kernel's isspace(), narrower than str.isspace()


# Token tests by str methods, not regexes: each scan would otherwise compile their patterns
# (sre's compiler is Python, 30-250 µs a pattern); tests/parse/test_token_parsers.py checks
# each against the pattern it replaces.
_DIGITS = "0123456789"
_HEX_DIGITS = "0123456789abcdefABCDEF"
_IDENTIFIER_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENTIFIER_CHARS = _IDENTIFIER_START | frozenset(_DIGITS)


def ascii_digits(text: str, max_len: int) -> bool:
    """Whether text is 1 to max_len ASCII digits, as ``[0-9]{1,max_len}`` fullmatches."""
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


def ascii_hex(text: str, max_len: int) -> bool:
    """Whether text is 1 to max_len hex digits, as ``[0-9a-fA-F]{1,max_len}`` fullmatches."""
    return 0 < len(text) <= max_len and not text.strip(_HEX_DIGITS)


def digit_run(text: str, start: int = 0) -> int:
    """The number of ASCII digits in text from start on (``[0-9]*`` matched there)."""
    end, n = start, len(text)
    while end < n and text[end] in _DIGITS:
        end += 1
    return end - start


def is_identifier(text: str) -> bool:
    """Whether text is a shell name, as ``[A-Za-z_][A-Za-z0-9_]*`` fullmatches."""
    return text.isascii() and text.isidentifier()


def identifier_end(text: str, start: int) -> int:
    """Where the shell name ``[A-Za-z_][A-Za-z0-9_]*`` at start ends; start where none is."""
    n = len(text)
    if start >= n or text[start] not in _IDENTIFIER_START:
        return start
    end = start + 1
    while end < n and text[end] in _IDENTIFIER_CHARS:
        end += 1
    return end


def parse_decimal(text: str) -> int | None:
    """An ASCII decimal of at most 20 digits, or None (for ids and numbers in names)."""
    return int(text) if ascii_digits(text, 20) else None


def parse_sysfs_int(text: str) -> int:
    """A sysfs number: decimal (``536870912``) or hex as amdgpu prints it (``0x00000080``)."""
    token = text.strip(KERNEL_SPACE)
    if not token:
        raise ParseError("empty file where a number was expected")
    if ascii_digits(token, 20):
        return int(token)
    if token[:2] in ("0x", "0X") and ascii_hex(token[2:], 16):
        return int(token, 16)
    raise ParseError(f"not a number: {token[:40]!r}")


# --- /proc/meminfo, os-release, key/value files ----------------------------------------------


# No machine has more memory than x86-64's 52-bit physical address space (4 PiB): a larger
# meminfo value is damage (18446744073709551615 kB would plan ttm.pages_limit=4611686018425290752).
MAX_MEMINFO_KB = 2**42


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` as a dict of kB values (``MemTotal`` → 131009800). A MemTotal of
    zero or above :data:`MAX_MEMINFO_KB` is refused (the planner sizes limits from it)."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        fields = rest.split()
        if fields and ascii_digits(fields[0], 20):
            value = int(fields[0])
            key = name.strip()
            if key == "MemTotal" and not 0 < value <= MAX_MEMINFO_KB:
                raise ParseError(f"MemTotal {value} kB is not a plausible memory size")
            result[key] = value
        elif name.strip() == "MemTotal":
            raise ParseError(f"MemTotal {rest.strip()[:40]!r} is not a number of kB")
    if "MemTotal" not in result:
        raise ParseError("no MemTotal line")
    return result


def parse_os_release(text: str) -> dict[str, str]:
    """``/etc/os-release``: ``KEY=value`` lines, values optionally quoted (shell rules)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not is_identifier(key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]  # single quotes: literal, as in the shell
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
            if "\\" in value:  # the regex is compiled only where there is something to undo
                value = re.sub(r'\\(["$`\\])', r"\1", value)
        result[key] = value
    return result


def parse_kfd_properties(text: str) -> dict[str, int]:
    """KFD topology ``properties`` files: ``name value`` lines (``gfx_target_version 110501``)."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and ascii_digits(parts[1].removeprefix("-"), 20):
            result[parts[0]] = int(parts[1])
    if not result:
        raise ParseError("no 'name value' lines")
    return result


def parse_uevent(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip()] = value.strip()
    return result


# --- dpkg status -----------------------------------------------------------------------------


# dpkg's states in which a package's files are on disk and configured (dpkg-query(1)).
_DPKG_INSTALLED = frozenset({"installed", "triggers-pending", "triggers-awaited"})


def parse_dpkg_status(text: str) -> dict[str, str]:
    """Installed packages and versions from ``/var/lib/dpkg/status``."""
    result: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1].isspace():
                continue
            key, sep, value = line.partition(":")
            if sep:
                fields[key] = value.strip()
        name = fields.get("Package")
        state = fields.get("Status", "").rsplit(" ", 1)[-1]
        if name and state in _DPKG_INSTALLED and "Version" in fields:
            result[name] = fields["Version"]
    return result
