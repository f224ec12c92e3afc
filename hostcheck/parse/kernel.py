"""Pure parsers for the kernel's identity and parameters: its release (``uname -r``), Ubuntu's
version signature, the kernel command line and modprobe.d options.

Each parser takes a string and returns plain data or raises :class:`~hostcheck.parse.text.ParseError`;
none of them touches the host. The formats and examples are in research/strix-halo-facts.md §9.
"""

from hostcheck._record import NamedTuple
from hostcheck.parse.text import KERNEL_SPACE, ParseError, ascii_digits, digit_run

# --- kernel release --------------------------------------------------------------------------

# A release is parsed by str methods, not regexes (each scan would compile ten patterns, ~0.6
# ms); tests/parse/test_token_parsers.py checks every function here against the regex it
# replaces, kept there:
#   _release_numbers  (?P<major>[0-9]{1,4})\.(?P<minor>[0-9]{1,4})(?:\.(?P<patch>[0-9]{1,6}))?(?P<rest>\S*)
#   _ubuntu_abi       -(?P<abi>[0-9]{1,9})(?:\.(?P<upload>[0-9]{1,9}))?-(?P<flavour>[a-z][a-z0-9-]*)
#   _ubuntu_mainline  -0[0-9]{5}(?:rc[0-9]{1,3})?(?:-[0-9]{12})?-[a-z][a-z0-9-]*
#   _release_candidate  (?:^|[-.0-9])rc(?P<rc>[0-9]{1,3})  (searched)
# kernel.ubuntu.com mainline builds: 6.16.9-061609-generic, 6.18.0-061800rc5-generic. The
# six digits encode the upstream version; it is not an Ubuntu ABI and carries no backports.
_FLAVOUR_START = frozenset("abcdefghijklmnopqrstuvwxyz")
_FLAVOUR_CHARS = _FLAVOUR_START | frozenset("0123456789-")


def _flavour(text: str) -> bool:
    """``[a-z][a-z0-9-]*`` fullmatched."""
    return bool(text) and text[0] in _FLAVOUR_START and _FLAVOUR_CHARS.issuperset(text)


def _release_numbers(raw: str) -> tuple[str, str, str | None, str] | None:
    """Major, minor, patch (or None) and the rest of a release, or None if it is not one."""
    major, dot, after = raw.partition(".")
    if not dot or not ascii_digits(major, 4):
        return None
    run = digit_run(after)
    if not run:
        return None
    minor, rest = after[: min(run, 4)], after[min(run, 4) :]
    patch = None
    if rest[:1] == "." and (run := digit_run(rest, 1)):
        patch, rest = rest[1 : 1 + min(run, 6)], rest[1 + min(run, 6) :]
    if rest and rest.split() != [rest]:  # \S*: no whitespace (str.isspace()'s)
        return None
    return major, minor, patch, rest


def _release_candidate(rest: str) -> int | None:
    """The first ``rc`` at the start or after ``-``, ``.`` or a digit, with its 1-3 digits."""
    at = rest.find("rc")
    while at >= 0:
        run = digit_run(rest, at + 2)
        if run and (at == 0 or rest[at - 1] in "-.0123456789"):
            return int(rest[at + 2 : at + 2 + min(run, 3)])
        at = rest.find("rc", at + 1)
    return None


def _ubuntu_abi(rest: str) -> tuple[int, str] | None:
    """Ubuntu's ``-ABI[.UPLOAD]-FLAVOUR`` (``-1016-oem``): the ABI and the flavour."""
    abi, sep, flavour = rest[1:].partition("-")
    if rest[:1] != "-" or not sep or not _flavour(flavour):
        return None
    abi, dot, upload = abi.partition(".")
    if not ascii_digits(abi, 9) or (dot and not ascii_digits(upload, 9)):
        return None
    return int(abi), flavour


def _ubuntu_mainline(rest: str) -> bool:
    """kernel.ubuntu.com's ``-0NNNNN[rcN][-YYYYMMDDhhmm]-FLAVOUR``."""
    parts = rest.split("-")
    if len(parts) < 3 or parts[0] or not parts[1].startswith("0"):
        return False
    version, rc, number = parts[1].partition("rc")
    if not ascii_digits(version, 6) or len(version) != 6 or (rc and not ascii_digits(number, 3)):
        return False
    flavour = parts[2:]
    if len(flavour) > 1 and len(flavour[0]) == 12 and ascii_digits(flavour[0], 12):
        flavour = flavour[1:]
    return _flavour("-".join(flavour))


def _digit_after(text: str, marker: str) -> bool:
    """Whether ``marker\\d`` is found in text (\\d: any Unicode decimal digit, as re's)."""
    at = text.find(marker)
    while at >= 0:
        if text[at + len(marker) : at + len(marker) + 1].isdecimal():
            return True
        at = text.find(marker, at + 1)
    return False


def _at_end(text: str, suffix: str) -> bool:
    """Whether ``suffix$`` is found in text ($: at the end or before a final newline)."""
    return text.endswith(suffix) or text.endswith(suffix + "\n")


def _distro_hint(rest: str) -> str | None:
    """The distribution a release's suffix names; the first hint that matches wins (Nobara
    kernels carry .fcNN too). As re.search of nobara, \\.fc\\d+, \\.el\\d+, \\+deb\\d+|-amd64$,
    cachyos, -arch\\d|-mainline$ in that order."""
    if "nobara" in rest:
        return "nobara"
    if _digit_after(rest, ".fc"):
        return "fedora"
    if _digit_after(rest, ".el"):
        return "rhel"
    if _digit_after(rest, "+deb") or _at_end(rest, "-amd64"):
        return "debian"
    if "cachyos" in rest:
        return "cachyos"
    if _digit_after(rest, "-arch") or _at_end(rest, "-mainline"):
        return "arch"
    return None


class KernelRelease(NamedTuple):
    """``uname -r`` split into what version comparisons need.

    ``upstream`` is the mainline version the release is built from; ``rc`` is set for release
    candidates (which sort before the release); ``abi`` and ``flavour`` are Ubuntu's
    ``6.14.0-1016-oem`` parts; ``distro`` is a hint from the suffix (``fc43``, ``deb13``, …).
    """

    raw: str
    upstream: tuple[int, int, int]
    rc: int | None = None
    abi: int | None = None
    flavour: str | None = None
    distro: str | None = None

    def sort_key(self) -> tuple[int, int, int, int]:
        # A release candidate of 6.18 sorts before 6.18.0 itself.
        return (*self.upstream, self.rc if self.rc is not None else 1_000_000)

    def at_least(self, floor: tuple[int, ...], rc: int | None = None) -> bool:
        want = tuple(floor) + (0,) * (3 - len(floor))
        return self.sort_key() >= (*want, rc if rc is not None else 1_000_000)

    @property
    def upstream_text(self) -> str:
        text = ".".join(str(part) for part in self.upstream)
        return f"{text}-rc{self.rc}" if self.rc is not None else text


def parse_kernel_release(text: str) -> KernelRelease:
    """Parse ``uname -r`` of any distribution style seen on Strix Halo hosts (facts §9.3)."""
    raw = text.strip()
    numbers = _release_numbers(raw)
    if numbers is None:
        raise ParseError(f"not a kernel release: {raw[:60]!r}")
    major, minor, patch, rest = numbers
    upstream = (int(major), int(minor), int(patch or 0))
    rc = _release_candidate(rest)
    abi = flavour = None
    distro = None
    ubuntu = _ubuntu_abi(rest)
    if _ubuntu_mainline(rest):
        distro = "ubuntu-mainline"
        flavour = rest.rsplit("-", 1)[-1]
    elif ubuntu:
        abi, flavour = ubuntu
        distro = "ubuntu" if flavour in _UBUNTU_FLAVOURS else None
    distro = _distro_hint(rest) or distro
    return KernelRelease(raw, upstream, rc, abi, flavour, distro)


_UBUNTU_FLAVOURS = frozenset(
    {"generic", "oem", "lowlatency", "generic-64k", "generic-hwe", "azure", "aws", "gcp", "kvm"}
)


def parse_version_signature(text: str) -> tuple[str, str]:
    """Ubuntu's ``/proc/version_signature``: ``Ubuntu 6.17.0-19.19~24.04.2-generic 6.17.13``.

    Returns the package version (``6.17.0-19.19~24.04.2``) and the flavour (``generic``).
    """
    parts = text.split()
    if len(parts) < 2 or parts[0] != "Ubuntu":
        raise ParseError(f"not an Ubuntu version signature: {text.strip()[:60]!r}")
    # VERSION-ABI.UPLOAD[~SERIES]-FLAVOUR, where the flavour may contain dashes (generic-64k);
    # by str methods, as ([0-9.]+-[0-9]+\.[0-9]+(?:~[0-9A-Za-z.+]+)?)-([a-z][a-z0-9-]*)
    # fullmatches (tests/parse/test_token_parsers.py)
    version, dash, tail = parts[1].partition("-")
    abi, sep, flavour = tail.partition("-")
    number, tilde, series = abi.partition("~")
    abi_number, dot, upload = number.partition(".")
    if not (
        dash
        and sep
        and version
        and not version.strip(".0123456789")
        and digit_run(abi_number) == len(abi_number) > 0
        and dot
        and digit_run(upload) == len(upload) > 0
        and (not tilde or (series and not series.strip(_SERIES_CHARS)))
        and _flavour(flavour)
    ):
        raise ParseError(f"no version and flavour in {parts[1]!r}")
    return f"{version}-{abi}", flavour


_SERIES_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.+"


# --- kernel command line ---------------------------------------------------------------------


class KernelArg(NamedTuple):
    """One kernel argument. ``key`` is as written; ``name`` is normalised (``-`` → ``_``)."""

    key: str
    value: str | None
    position: int

    @property
    def name(self) -> str:
        return normalise_param(self.key)

    @property
    def module(self) -> str | None:
        return self.name.split(".", 1)[0] if "." in self.name else None

    @property
    def text(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


def normalise_param(key: str) -> str:
    """The kernel treats ``-`` and ``_`` in parameter names as the same (``parameq``)."""
    return key.replace("-", "_")


def parse_cmdline(text: str) -> list[KernelArg]:
    """Split ``/proc/cmdline`` exactly as the kernel's ``next_arg()`` (lib/cmdline.c) does.

    A value may be quoted (``foo="a b"``), or the whole argument (``"foo=a b"``); the first
    ``=`` after the first character separates name and value, even inside quotes. Only the
    kernel's isspace() characters separate arguments. Arguments after ``--`` (quoted or not)
    belong to init and are not returned.
    """
    args: list[KernelArg] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in KERNEL_SPACE:
            i += 1
        if i >= n:
            break
        quoted = text[i] == '"'
        if quoted:
            i += 1
        start, in_quote, equals = i, quoted, -1
        while i < n and (in_quote or text[i] not in KERNEL_SPACE):
            # next_arg() keeps equals == 0 for "none yet", so an "=" in the first position
            # does not split.
            if equals < 0 and text[i] == "=" and i != start:
                equals = i
            if text[i] == '"':
                in_quote = not in_quote
            i += 1
        end = i
        strip_tail = end > start and text[end - 1] == '"'
        if equals < 0:
            key, value = text[start : end - 1 if quoted and strip_tail else end], None
        else:
            key = text[start:equals]
            value = text[equals + 1 : end]
            if value.startswith('"'):
                value = value[1:]
                if strip_tail and value.endswith('"'):
                    value = value[:-1]
            elif quoted and strip_tail and value.endswith('"'):
                value = value[:-1]
        if key == "--" and value is None:
            break
        if key:
            args.append(KernelArg(key, value, len(args)))
    return args


# --- modprobe.d ------------------------------------------------------------------------------


class ModprobeOption(NamedTuple):
    module: str
    name: str
    value: str
    line: int


def parse_modprobe_conf(text: str) -> list[ModprobeOption]:
    """``options MODULE name=value …`` lines of a modprobe.d file (continuations joined)."""
    result: list[ModprobeOption] = []
    joined = text.replace("\\\n", " ")
    for lineno, raw in enumerate(joined.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):  # kmod: only whole-line comments
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or parts[0] != "options":
            continue
        module = normalise_param(parts[1])
        # modprobe hands the rest to the kernel's parse_args(): the command-line rules apply.
        for arg in parse_cmdline(parts[2]):
            result.append(ModprobeOption(module, arg.name, arg.value or "", lineno))
    return result
