"""Helpers shared by check kinds: evidence from readings, sizes, kernel classes, versions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from hostcheck._record import NamedTuple
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Profile, Verdict
from hostcheck.parse.kernel import KernelArg, KernelRelease
from hostcheck.readings import Unavailable, Value

GIB = 1024**3
PAGE = 4096  # TTM counts 4 KiB pages (facts §5.1)


class Context(NamedTuple):
    profile: Profile


TYPE_CHECKING = False  # typing stays unimported on a scan (start-up: docs/speed.md)
if TYPE_CHECKING:
    from typing import Any

    CheckFunc = Callable[[Facts, Mapping[str, Any], Context], Outcome]


def gib(nbytes: int) -> str:
    return f"{nbytes / GIB:.1f} GiB"


def size_text(nbytes: int) -> str:
    return f"{gib(nbytes)} ({nbytes} bytes)"


def pages_text(pages: int) -> str:
    return f"{pages} pages = {gib(pages * PAGE)}"


def value_or(reading: Value[Any] | Unavailable | None, default: Any) -> Any:
    """The value of a reading, or ``default`` when it could not be read."""
    return reading.value if isinstance(reading, Value) else default


def evidence(
    label: str,
    reading: Value[Any] | Unavailable | None,
    show: Callable[[Any], str | int | float | bool] | None = None,
) -> Evidence:
    """Evidence from a reading: the value and its source, or why it could not be read."""
    if reading is None:
        return Evidence(label, None, "-", "not probed")
    if isinstance(reading, Unavailable):
        note = f"{reading.reason.value}" + (f": {reading.detail}" if reading.detail else "")
        return Evidence(label, None, reading.source, note)
    value = show(reading.value) if show else reading.value
    if not isinstance(value, str | int | float | bool):
        value = str(value)
    return Evidence(label, value, reading.source)


def unknown(message: str, *items: Evidence) -> Outcome:
    return Outcome(Verdict.UNKNOWN, message, items)


# --- kernel command line ---------------------------------------------------------------------


def cmdline_args(facts: Facts) -> list[KernelArg]:
    cmdline = facts.kernel.cmdline
    return value_or(cmdline, [])


def cmdline_value(facts: Facts, name: str) -> str | None:
    """The effective value of a kernel argument: the last occurrence wins, as in the kernel."""
    found = None
    for arg in cmdline_args(facts):
        if arg.name == name:
            found = arg.value if arg.value is not None else ""
    return found


def cmdline_evidence(facts: Facts) -> Evidence:
    """The kernel command line as evidence."""
    return evidence("kernel command line", facts.kernel.cmdline, _cmdline_text)


EVIDENCE_CMDLINE_CHARS = 4096  # a real command line is far shorter; a 4 MiB one is cut


def _cmdline_text(args: list[KernelArg]) -> str:
    text = " ".join(a.text for a in args)
    if len(text) <= EVIDENCE_CMDLINE_CHARS:
        return text
    return text[:EVIDENCE_CMDLINE_CHARS] + f"… ({len(text)} characters)"


def staged_option(facts: Facts, module: str, name: str) -> tuple[str, str] | None:
    """A module option staged in modprobe.d: (value, file)."""
    found = None
    for path, option in facts.driver.staged_options:
        if option.module == module and option.name == name:
            found = (option.value, path)
    return found


# --- kernel classes (ROCm docs, facts §5.3) --------------------------------------------------


def release(facts: Facts) -> KernelRelease | None:
    rel = facts.kernel.release
    return value_or(rel, None)


def _abi_at_least(rel: KernelRelease, upstream: tuple[int, int, int], abi: int) -> bool:
    if rel.upstream != upstream:
        return rel.upstream > upstream
    return rel.abi is not None and rel.abi >= abi


def ubuntu_kernel_class(facts: Facts, params: Mapping[str, Any]) -> str | None:
    """'oem-fixed', 'hwe-fixed', 'ubuntu-native' or None, after the ROCm docs' Ubuntu columns.

    params: ubuntu_oem = "6.14.0-1018", ubuntu_hwe = "6.17.0-19", ubuntu_native = ["26.04"].
    """
    rel = release(facts)
    if rel is None or rel.distro != "ubuntu":
        return None
    os_release = facts.kernel.os_release
    version_id = os_release.value.get("VERSION_ID") if isinstance(os_release, Value) else None
    if version_id in params.get("ubuntu_native", []):
        return "ubuntu-native"
    if rel.flavour == "oem":
        upstream, abi = _split_ubuntu(params["ubuntu_oem"])
        return "oem-fixed" if _abi_at_least(rel, upstream, abi) else None
    if rel.flavour and rel.flavour.startswith("generic"):
        upstream, abi = _split_ubuntu(params["ubuntu_hwe"])
        return (
            "hwe-fixed" if _abi_at_least(rel, upstream, abi) and rel.upstream == upstream else None
        )
    return None


def _split_ubuntu(text: str) -> tuple[tuple[int, int, int], int]:
    version, _, abi = text.partition("-")
    major, minor, patch = (int(part) for part in version.split("."))
    return (major, minor, patch), int(abi)


def parse_floor(text: str) -> tuple[int, int, int]:
    """ "6.16.9" -> (6, 16, 9); "6.15" -> (6, 15, 0); an "-rcN" suffix is ignored here."""
    parts = [int(part) for part in text.split("-", 1)[0].split(".")]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def floor_rc(text: str) -> int | None:
    """The release candidate of a floor: "6.18.0-rc6" -> 6."""
    # as re.search(r"-rc([0-9]+)$", text) (tests/checks/test_version_tokens.py): the digits
    # reach the end, so only the last "-rc" can be followed by them
    at = text.rfind("-rc")
    digits = text[at + 3 :].removesuffix("\n") if at >= 0 else ""
    return int(digits) if digits.isascii() and digits.isdigit() else None


def meets_floor(rel: KernelRelease, text: str) -> bool:
    return rel.at_least(parse_floor(text), floor_rc(text))


def kfd_cwsr_export(facts: Facts) -> Value[int] | None:
    """The GPU's KFD cwsr_size property, which only a KFD with the CWSR fix exports."""
    gpu = facts.gpu.strix_halo
    return gpu.kfd_cwsr_size if gpu is not None else None


def kfd_cwsr_evidence(facts: Facts) -> list[Evidence]:
    exported = kfd_cwsr_export(facts)
    if exported is None:
        return []
    return [
        Evidence(
            "KFD cwsr_size",
            exported.value,
            exported.source,
            "exported: this KFD carries the CWSR fix, whatever the release says",
        )
    ]


def kernel_has_fixes(facts: Facts, params: Mapping[str, Any]) -> bool | None:
    """Whether the running kernel's amdgpu/amdkfd carries a fix, per a floor spec.

    params: ``generic`` (a floor such as "6.18.4" or "6.18.0-rc6"), optional ``series`` (a list
    of {series = "6.17", min = "6.17.9"} for stable backports), and the Ubuntu columns of
    :func:`ubuntu_kernel_class`. A KFD that exports cwsr_size carries it whatever its release
    (a backport, a rebased distribution kernel, a dkms driver). None when it cannot be told:
    the release is unreadable, or amdgpu-dkms replaces the kernel's driver (its fix state is
    not documented).
    """
    if kfd_cwsr_export(facts) is not None:
        return True
    return release_has_fixes(facts, params)


def release_has_fixes(facts: Facts, params: Mapping[str, Any]) -> bool | None:
    """As :func:`kernel_has_fixes`, judged from the kernel release alone."""
    rel = release(facts)
    if rel is None or facts.driver.kind == "dkms":
        return None
    if ubuntu_kernel_class(facts, params):
        return True
    for backport in params.get("series", []):
        if rel.upstream[:2] == parse_floor(backport["series"])[:2] and meets_floor(
            rel, backport["min"]
        ):
            return True
    return meets_floor(rel, params["generic"])


def floors_text(params: Mapping[str, Any]) -> str:
    """The kernel floors of a floor spec, for messages: "6.18.4+ or 6.12.64+ (mainline 6.19.0-rc2)"."""
    stable = [f"{row['min']}+" for row in params.get("series", [])]
    mainline = f"mainline {params['generic']}"
    return f"{' or '.join(stable)} ({mainline})" if stable else f"{params['generic']}+"


def dkms_note(facts: Facts) -> str:
    version = facts.driver.version
    shown = f" {version.value}" if isinstance(version, Value) else ""
    return (
        f"amdgpu-dkms{shown} replaces the kernel's amdgpu and amdkfd, so the kernel release does "
        "not tell which fixes are in; AMD recommends the kernel's own driver, not amdgpu-dkms, "
        "on Strix Halo (see driver.no-dkms)"
    )


# --- ROCm version ----------------------------------------------------------------------------


class RocmVersion(NamedTuple):
    text: str
    release: tuple[int, ...]
    source: str
    origin: str = "amd"  # whose build: "amd", "distribution", "therock", "declared" …


def release_tuple(text: str) -> tuple[int, ...]:
    """The release numbers of a version: 7.10.0a20251015 -> (7, 10, 0); 6.4.1-103 -> (6, 4, 1).

    Only the release part matters for the ROCm tables (pre-releases of TheRock are placed by
    their release number), so this does not need packaging's full PEP 440 parser.
    """
    # As re.match(r"\s*v?(\d+(?:\.\d+)*)", text), by str methods (the scan compiles no
    # regex for it; tests/checks/test_version_tokens.py): \d is any Unicode decimal digit,
    # str.isdecimal(), and int() reads those.
    rest = text.lstrip()
    rest = rest[1:] if rest[:1] == "v" else rest
    numbers: list[int] = []
    for part in rest.split("."):
        end = 0
        while end < len(part) and part[end].isdecimal():
            end += 1
        if end:
            numbers.append(int(part[:end]))
        if not end or end < len(part):
            break
    if not numbers:
        raise ValueError(f"not a version: {text!r}")
    return tuple(numbers)


def rocm_versions(facts: Facts) -> list[RocmVersion]:
    """Every ROCm userspace found: the host's (/opt/rocm, packages, libraries), TheRock and
    the ROCm bundled in PyTorch in --python's env, the ROCm of running inference processes
    (their container's root, their loaded libraries) and a declared workload's."""
    found: list[RocmVersion] = []
    candidates: list[tuple[str, str, str]] = []
    rocm = facts.software.rocm_version
    stack = facts.stack
    host_unused = stack is not None and stack.host_rocm_unused
    if isinstance(rocm, Value) and not host_unused:
        # AMD's, unless the stack probe tells the distribution built it (Arch's rocm-core).
        own = next(
            (
                part.origin
                for part in (stack.components if stack is not None else ())
                if part.name == "rocm" and part.where == "host" and part.path == rocm.source
            ),
            "",
        )
        candidates.append((rocm.value, rocm.source, own or "amd"))
    python = facts.software.python
    if isinstance(python, Value):
        env = python.value
        if env.rocm_sdk:
            candidates.append((env.rocm_sdk, f"{env.interpreter}: rocm-sdk (TheRock)", "therock"))
        # The ROCm a PyTorch wheel bundles, which vLLM runs on: torch 2.9.1+rocm7.2.1
        bundled = re.search(r"\+rocm([0-9][0-9a-z.]*)", env.torch or "")
        if bundled:
            candidates.append((bundled[1], f"{env.interpreter}: torch {env.torch}", "pytorch"))
    for part in stack.components if stack is not None else ():
        if part.found_by == "--python" or not part.version:
            continue
        if host_unused and part.where == "host":
            continue
        if part.found_by == "declared":
            shown = f"declared in {part.path}" + (f" for {part.detail}" if part.detail else "")
        else:
            shown = f"{part.where}: {part.path} ({part.found_by})"
        if part.name in ("rocm", "rocm-sdk"):
            candidates.append((part.version, shown, part.origin))
        elif part.name == "torch":
            bundled = re.search(r"\+rocm([0-9][0-9a-z.]*)", part.version)
            if bundled:
                candidates.append((bundled[1], f"{shown}: torch {part.version}", part.origin))
    for text, source, origin in candidates:
        try:
            numbers = release_tuple(text)
        except ValueError:
            continue
        # The same ROCm seen twice, once less precisely (a distribution's libamdhip64.so.6.4.x
        # names 6.4 of the rpm's 6.4.4): counted once, as the more precise one.
        if any(
            version.text == text
            or (len(numbers) < len(version.release) and version.release[: len(numbers)] == numbers)
            for version in found
        ):
            continue
        found.append(RocmVersion(text, numbers, source, origin))
    return found


def pad(release: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(release) + (0,) * (3 - len(release))


def prerelease_date(text: str) -> str | None:
    """The build date of a TheRock nightly: 7.12.0a20260218 -> "20260218"."""
    # The first a, rc or dev followed by 8 ASCII digits, as re.search(r"(?:a|rc|dev)([0-9]{8})")
    # finds it (tests/checks/test_version_tokens.py); by str methods, as the scan compiles
    # no regex for it.
    found: tuple[int, str] | None = None
    for marker in ("a", "rc", "dev"):
        at = text.find(marker)
        while at >= 0 and (found is None or at < found[0]):
            digits = text[at + len(marker) : at + len(marker) + 8]
            if len(digits) == 8 and digits.isascii() and digits.isdigit():
                found = (at, digits)
                break
            at = text.find(marker, at + 1)
    return found[1] if found else None


def fixed_rocm(
    version: RocmVersion,
    lines: list[Mapping[str, str]],
    nightly: Mapping[str, str] | None = None,
) -> bool:
    """Whether a ROCm version is in one of the [from, below) release ranges.

    A nightly (a dated pre-release) counts only from ``nightly``'s release and build date on:
    nightlies of a release line predate its fixes.
    """
    rel = pad(version.release)
    date = prerelease_date(version.text)
    if date is not None and nightly is not None:
        first = pad(release_tuple(nightly["release"]))
        return rel > first or (rel == first and date >= nightly["date"])
    for line in lines:
        low = pad(release_tuple(line["from"]))
        high = pad(release_tuple(line["below"])) if "below" in line else None
        if rel >= low and (high is None or rel < high):
            return True
    return False


def ttm_module_in_use(facts: Facts) -> str:
    """TTM limits belong to ``amdttm`` with amdgpu-dkms, to ``ttm`` with the in-kernel driver."""
    return "amdttm" if facts.driver.kind == "dkms" else "ttm"


def gpu_addressable(facts: Facts) -> tuple[int | None, list[Evidence]]:
    """Bytes the GPU can address: the larger of the carve-out and GTT as limited by TTM."""
    gpu = facts.gpu.strix_halo
    assert gpu is not None
    module = facts.memory.ttm[ttm_module_in_use(facts)]
    items = [
        evidence("VRAM carve-out", gpu.vram_total, size_text),
        evidence("GTT size", gpu.gtt_total, size_text),
        evidence(
            f"{module.name}.pages_limit",
            module.pages_limit,
            pages_text,
        ),
    ]
    gtt = value_or(gpu.gtt_total, None)
    ttm = module.pages_limit.value * PAGE if isinstance(module.pages_limit, Value) else None
    limited = min(x for x in (gtt, ttm) if x is not None) if (gtt or ttm) else None
    vram = value_or(gpu.vram_total, None)
    best = max((x for x in (vram, limited) if x is not None), default=None)
    return best, items


def recommended_pages(mem_total_kib: int, headroom_gib: float) -> int:
    """TTM pages for all RAM but ``headroom_gib``, rounded down to a whole GiB."""
    whole_gib = int((mem_total_kib * 1024 - headroom_gib * GIB) // GIB)
    return max(whole_gib, 1) * (GIB // PAGE)
