"""Pure parsers for the kernel's identity and parameters: its release (``uname -r``), Ubuntu's
version signature, the kernel command line and modprobe.d options.

Each parser takes a string and returns plain data or raises :class:`~hostcheck.parse.text.ParseError`;
none of them touches the host. The formats and examples are in research/strix-halo-facts.md §9.
"""

import re

from hostcheck._record import NamedTuple
from hostcheck.parse.text import KERNEL_SPACE, ParseError

# --- kernel release --------------------------------------------------------------------------

_RELEASE = r"(?P<major>[0-9]{1,4})\.(?P<minor>[0-9]{1,4})(?:\.(?P<patch>[0-9]{1,6}))?(?P<rest>\S*)"
_UBUNTU = r"-(?P<abi>[0-9]{1,9})(?:\.(?P<upload>[0-9]{1,9}))?-(?P<flavour>[a-z][a-z0-9-]*)"
# kernel.ubuntu.com mainline builds: 6.16.9-061609-generic, 6.18.0-061800rc5-generic. The
# six digits encode the upstream version; it is not an Ubuntu ABI and carries no backports.
_UBUNTU_MAINLINE = r"-0[0-9]{5}(?:rc[0-9]{1,3})?(?:-[0-9]{12})?-[a-z][a-z0-9-]*"
_RC = r"(?:^|[-.0-9])rc(?P<rc>[0-9]{1,3})"


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


_DISTRO_HINTS = (  # first match wins: Nobara kernels carry .fcNN too
    (r"nobara", "nobara"),
    (r"\.fc\d+", "fedora"),
    (r"\.el\d+", "rhel"),
    (r"\+deb\d+|-amd64$", "debian"),
    (r"cachyos", "cachyos"),
    (r"-arch\d|-mainline$", "arch"),
)


def parse_kernel_release(text: str) -> KernelRelease:
    """Parse ``uname -r`` of any distribution style seen on Strix Halo hosts (facts §9.3)."""
    raw = text.strip()
    match = re.fullmatch(_RELEASE, raw)
    if not match:
        raise ParseError(f"not a kernel release: {raw[:60]!r}")
    upstream = (int(match["major"]), int(match["minor"]), int(match["patch"] or 0))
    rest = match["rest"]
    rc_match = re.search(_RC, rest)
    rc = int(rc_match["rc"]) if rc_match else None
    abi = flavour = None
    distro = None
    ubuntu = re.fullmatch(_UBUNTU, rest)
    if re.fullmatch(_UBUNTU_MAINLINE, rest):
        distro = "ubuntu-mainline"
        flavour = rest.rsplit("-", 1)[-1]
    elif ubuntu:
        abi = int(ubuntu["abi"])
        flavour = ubuntu["flavour"]
        distro = "ubuntu" if flavour in _UBUNTU_FLAVOURS else None
    for pattern, name in _DISTRO_HINTS:
        if re.search(pattern, rest):
            distro = name
            break
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
    # VERSION-ABI.UPLOAD[~SERIES]-FLAVOUR, where the flavour may contain dashes (generic-64k)
    match = re.fullmatch(
        r"([0-9.]+-[0-9]+\.[0-9]+(?:~[0-9A-Za-z.+]+)?)-([a-z][a-z0-9-]*)", parts[1]
    )
    if not match:
        raise ParseError(f"no version and flavour in {parts[1]!r}")
    return match[1], match[2]


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
