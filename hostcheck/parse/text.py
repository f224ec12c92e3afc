"""Pure parsers for host text: kernel releases, command lines, sysfs numbers, kernel-log lines,
rocminfo, os-release, meminfo, modprobe.d and dpkg status.

Each parser takes a string and returns plain data or raises :class:`ParseError`; none of them
touches the host. The formats and examples are in research/strix-halo-facts.md §9.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType

from hostcheck._record import NamedTuple
from hostcheck.errors import HostcheckError


class ParseError(HostcheckError, ValueError):
    """The text is not in the format the kernel or tool writes."""


# --- numbers ---------------------------------------------------------------------------------


# Numbers as the kernel and tools print them: ASCII digits only (str.isdigit() and int() also
# accept "²", "١٢", "1_000" and "+5"), and bounded, since int() refuses > 4300 digits.
_DECIMAL = r"[0-9]{1,20}"
_SPACE = " \t\n\v\f\r"  # the kernel's isspace(), narrower than str.isspace()


def parse_decimal(text: str) -> int | None:
    """An ASCII decimal of at most 20 digits, or None (for ids and numbers in names)."""
    return int(text) if re.fullmatch(_DECIMAL, text) else None


def parse_sysfs_int(text: str) -> int:
    """A sysfs number: decimal (``536870912``) or hex as amdgpu prints it (``0x00000080``)."""
    token = text.strip(_SPACE)
    if not token:
        raise ParseError("empty file where a number was expected")
    if re.fullmatch(_DECIMAL, token):
        return int(token)
    if re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}", token):
        return int(token, 16)
    raise ParseError(f"not a number: {token[:40]!r}")


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
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            break
        quoted = text[i] == '"'
        if quoted:
            i += 1
        start, in_quote, equals = i, quoted, -1
        while i < n and (in_quote or text[i] not in _SPACE):
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
        if fields and re.fullmatch(_DECIMAL, fields[0]):
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
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]  # single quotes: literal, as in the shell
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r'\\(["$`\\])', r"\1", value[1:-1])
        result[key] = value
    return result


def parse_kfd_properties(text: str) -> dict[str, int]:
    """KFD topology ``properties`` files: ``name value`` lines (``gfx_target_version 110501``)."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"-?[0-9]{1,20}", parts[1]):
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


# --- kernel log ------------------------------------------------------------------------------

_LOG_PREFIX = r"^\s*(?:<[0-9]{1,3}>)?\[\s*(?P<ts>[0-9]{1,12}\.[0-9]{1,9})\]\s?(?P<text>.*)$"
# three formats of the amdgpu memory line (facts §9.4):
#  (a) "[drm] amdgpu: 512M of VRAM memory ready"
#  (b) "amdgpu 0000:c5:00.0: amdgpu: amdgpu: 62816M of GTT memory ready."
#  (c) "amdgpu 0000:bd:00.0:  63968M of GTT memory ready."
_MEMORY_READY = r"(?<![0-9])(?P<mib>[0-9]{1,12})M of (?P<kind>VRAM|GTT) memory ready"
_GTT_TTM_MISMATCH = r"GTT size has been set as (?P<gtt>[0-9]{1,20}) but TTM size has been set as (?P<ttm>[0-9]{1,20})"
_UNKNOWN_PARAM = r"(?P<module>[\w-]+): unknown parameter '(?P<param>[^']+)' ignored"


class LogLine(NamedTuple):
    timestamp: float | None
    text: str


class KernelLogEvent(NamedTuple):
    """A kernel-log line a rule cares about, classified."""

    kind: str  # vram-ready, gtt-ready, gttsize-deprecated, gtt-ttm-mismatch, unknown-param, and
    # the hang kinds of _HANG_PATTERNS
    line: LogLine
    data: Mapping[str, str | int] = MappingProxyType({})


# journalctl -k -o short-monotonic puts "HOST kernel: " between the time stamp and the text
# that dmesg prints alone; without it a line reads the same from either source.
JOURNAL_KERNEL_TAG = r"^[^\s:\[\]]+ kernel: "


def parse_kernel_log(text: str) -> list[LogLine]:
    """Lines as ``dmesg`` or ``journalctl -k -o short-monotonic`` print them; the text is the
    same whichever printed it (the journal's "HOST kernel: " tag is dropped)."""
    lines: list[LogLine] = []
    for raw in text.splitlines():
        match = re.match(_LOG_PREFIX, raw)
        if match:
            lines.append(
                LogLine(float(match["ts"]), re.sub(JOURNAL_KERNEL_TAG, "", match["text"], count=1))
            )
        elif raw.strip():
            lines.append(LogLine(None, re.sub(JOURNAL_KERNEL_TAG, "", raw.strip(), count=1)))
    return lines


# Every line classify_kernel_log looks at holds one of these; the others are skipped
# before any regex runs (a kernel log is mostly other drivers' lines).
KERNEL_LOG_KEYWORDS = (
    "amdgpu",
    "[drm]",
    "unknown parameter",
    # the lines of _OTHER_PATTERNS, which do not name amdgpu
    "with unavailable key",
    "Key was rejected",
    "AMD-Vi: Unknown option",
    "orphan cleanup on readonly fs",
    "uncleanly shut down",
)


def parse_kernel_log_of_interest(text: str) -> list[LogLine]:
    """parse_kernel_log() of only the lines that hold a KERNEL_LOG_KEYWORDS word, found by
    substring search (no per-line objects for the rest): classify_kernel_log() of the
    result equals classify_kernel_log(parse_kernel_log(text))."""
    starts: set[int] = set()
    for word in KERNEL_LOG_KEYWORDS:
        at = text.find(word)
        while at >= 0:
            start = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
            starts.add(start)
            end = _line_end(text, at)
            at = text.find(word, end)
    wanted = [text[start : _line_end(text, start)] for start in sorted(starts)]
    return parse_kernel_log("\n".join(wanted))


def _line_end(text: str, at: int) -> int:
    ends = [end for end in (text.find("\n", at), text.find("\r", at)) if end >= 0]
    return min(ends) if ends else len(text)


_HANG_PATTERNS = (
    # One event per hang: the first line of each counts; the follow-up lines of the same
    # event have kinds of their own, so a report can count hangs and still show the details.
    ("mes-timeout", r"MES failed to respond to msg=(?P<msg>[A-Z0-9_]+(?: \([A-Z0-9_]+\))?)"),
    ("mes-unrecoverable", r"MES might be in unrecoverable state"),
    ("gpu-reset", r"GPU reset begin!"),
    ("gpu-reset-done", r"GPU reset\(\d+\) succeeded|MODE2 reset"),
    ("page-fault", r"\[gfxhub\] page fault"),
    ("page-fault-status", r"GCVM_L2_PROTECTION_FAULT_STATUS:(?P<status>0x[0-9A-Fa-f]+)"),
    ("device-wedged", r"device wedged"),
    ("ring-timeout", r"ring \S+ timeout"),
    ("ring-reset", r"Ring \S+ reset succeeded"),
    ("cpf-fault", r"Faulty UTCL2 client ID: CPF"),
    (
        "smu-hang",
        r"SMU: No response msg_reg|SMU: mailbox access failed|Failed to enable gfxoff"
        r"|VPE: powergate request failed|REG_WAIT timeout .*optc\d+_disable_crtc",
    ),
)

# Lines that do not name amdgpu: the module loader and the AMD IOMMU driver.
_OTHER_PATTERNS = (
    (
        "module-key-rejected",
        r"Loading of module with unavailable key is rejected|Key was rejected by service",
    ),
    ("amd-iommu-unknown-option", r"AMD-Vi: Unknown option - '(?P<value>[^']*)'"),
    # The previous boot ended without unmounting or closing the journal (a hang or power cut).
    ("unclean-shutdown", r"orphan cleanup on readonly fs|uncleanly shut down"),
)


def classify_kernel_log(lines: list[LogLine]) -> list[KernelLogEvent]:
    """The amdgpu memory, parameter and hang events among kernel-log lines."""
    events: list[KernelLogEvent] = []
    for line in lines:
        text = line.text
        other = next(
            ((kind, m) for kind, pattern in _OTHER_PATTERNS if (m := re.search(pattern, text))),
            None,
        )
        if other is not None:
            kind, found = other
            data = {k: v for k, v in found.groupdict().items() if v is not None}
            events.append(KernelLogEvent(kind, line, data))
            continue
        if "amdgpu" not in text and "[drm]" not in text and "unknown parameter" not in text:
            continue
        match = re.search(_MEMORY_READY, text)
        if match:
            kind = "vram-ready" if match["kind"] == "VRAM" else "gtt-ready"
            events.append(KernelLogEvent(kind, line, {"mib": int(match["mib"])}))
            continue
        if "Configuring gttsize via module parameter is deprecated" in text:
            events.append(KernelLogEvent("gttsize-deprecated", line))
            continue
        match = re.search(_GTT_TTM_MISMATCH, text)
        if match:
            events.append(
                KernelLogEvent(
                    "gtt-ttm-mismatch", line, {"gtt": int(match["gtt"]), "ttm": int(match["ttm"])}
                )
            )
            continue
        match = re.search(_UNKNOWN_PARAM, text)
        if match:
            events.append(
                KernelLogEvent(
                    "unknown-param", line, {"module": match["module"], "param": match["param"]}
                )
            )
            continue
        for kind, pattern in _HANG_PATTERNS:
            match = re.search(pattern, text)
            if match:
                data = {k: v for k, v in match.groupdict().items() if v is not None}
                events.append(KernelLogEvent(kind, line, data))
                break
    return events


# --- rocminfo --------------------------------------------------------------------------------


class RocmAgent(NamedTuple):
    name: str
    device_type: str
    marketing_name: str
    pool_sizes_kib: tuple[int, ...]


class RocmInfo(NamedTuple):
    rock_module_version: str | None  # "6.16.6" with amdgpu-dkms; None with the in-kernel driver
    agents: tuple[RocmAgent, ...]

    def gpu_agents(self) -> list[RocmAgent]:
        return [agent for agent in self.agents if agent.device_type == "GPU"]


_POOL_SIZE = r"^\s*Size:\s*(?P<kib>[0-9]{1,20})\(0x[0-9a-fA-F]+\)\s*KB\s*$"


def parse_rocminfo(text: str) -> RocmInfo:
    """The agents and their memory pools from ``rocminfo`` (padding-tolerant, facts §9.5)."""
    rock = re.search(r"ROCk module version (\S+) is loaded", text)
    agents: list[RocmAgent] = []
    blocks = re.split(r"^\*+\s*\n\s*Agent \d+\s*\n\*+\s*$", text, flags=re.M)
    if len(blocks) < 2:
        raise ParseError("no 'Agent N' sections")
    for block in blocks[1:]:
        fields: dict[str, str] = {}
        pools: list[int] = []
        in_pools = False
        for line in block.splitlines():
            if line.strip().startswith("Pool Info:"):
                in_pools = True
                continue
            if in_pools:
                size = re.match(_POOL_SIZE, line)
                if size:
                    pools.append(int(size["kib"]))
                    continue
                if line.strip().startswith("ISA Info:"):
                    in_pools = False
            key, sep, value = line.partition(":")
            if sep and not line.startswith("    ") and key.strip() not in fields:
                fields[key.strip()] = value.strip()
        agents.append(
            RocmAgent(
                name=fields.get("Name", ""),
                device_type=fields.get("Device Type", ""),
                marketing_name=fields.get("Marketing Name", ""),
                pool_sizes_kib=tuple(pools),
            )
        )
    return RocmInfo(rock[1] if rock else None, tuple(agents))
