"""Pure parsers for the kernel log (``dmesg``, ``journalctl -k``): its lines, the few that
matter, and what they say (memory ready, GPU hangs, ignored parameters).
"""

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from hostcheck._record import NamedTuple
from hostcheck.parse.text import digit_run

# --- kernel log ------------------------------------------------------------------------------

_LOG_PREFIX = r"^\s*(?:<[0-9]{1,3}>)?\[\s*(?P<ts>[0-9]{1,12}\.[0-9]{1,9})\]\s?(?P<text>.*)$"
# A few lines are matched by _log_prefix's str methods, many by the compiled pattern: its
# compile (~0.13 ms, sre's compiler is Python) costs what str methods lose on ~130 lines.
# tests/parse/test_token_parsers.py checks that both read every line alike.
_LOG_PREFIX_COMPILED_FROM = 128
# The amdgpu memory line is found by str methods, not a regex (each scan would compile it);
# _memory_ready is tested against the pattern
# (?<![0-9])(?P<mib>[0-9]{1,12})M of (?P<kind>VRAM|GTT) memory ready (searched).
# Three formats of the amdgpu memory line (facts §9.4):
#  (a) "[drm] amdgpu: 512M of VRAM memory ready"
#  (b) "amdgpu 0000:c5:00.0: amdgpu: amdgpu: 62816M of GTT memory ready."
#  (c) "amdgpu 0000:bd:00.0:  63968M of GTT memory ready."
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


def _untag(text: str) -> str:
    """The text without the journal's tag (the pattern is compiled only for a journal)."""
    return re.sub(JOURNAL_KERNEL_TAG, "", text, count=1) if " kernel: " in text else text


def _log_prefix(raw: str) -> tuple[str, str] | None:
    """The time stamp and the text of a ``[   12.345678] text`` line (optionally after a
    ``<6>`` level and white space), or None."""
    n = len(raw)
    i = n - len(raw.lstrip())
    if raw.startswith("<", i):
        run = digit_run(raw, i + 1)
        if not 0 < run <= 3 or not raw.startswith(">", i + 1 + run):
            return None
        i += run + 2
    if not raw.startswith("[", i):
        return None
    i += 1
    while i < n and raw[i].isspace():
        i += 1
    seconds = digit_run(raw, i)
    fraction = digit_run(raw, i + seconds + 1)
    end = i + seconds + 1 + fraction
    if not (
        0 < seconds <= 12
        and raw.startswith(".", i + seconds)
        and 0 < fraction <= 9
        and raw.startswith("]", end)
    ):
        return None
    start = end + 2 if end + 1 < n and raw[end + 1].isspace() else end + 1
    text = raw[start:]
    newline = text.find("\n")
    if newline >= 0:  # "." stops at a newline; "$" matches only before a final one
        if newline != len(text) - 1:
            return None
        text = text[:-1]
    return raw[i:end], text


def _log_prefixes(raws: list[str]) -> Iterator[tuple[str, str] | None]:
    """_log_prefix of each line, by the compiled pattern."""
    match = re.compile(_LOG_PREFIX).match
    for raw in raws:
        found = match(raw)
        yield (found["ts"], found["text"]) if found else None


def _memory_ready(text: str) -> tuple[int, str] | None:
    """MiB and kind (VRAM or GTT) of the first ``NNNM of VRAM|GTT memory ready`` in text,
    with 1 to 12 digits not preceded by another digit."""
    at = text.find("M of ")
    while at >= 0:
        kind = (
            "VRAM"
            if text.startswith("VRAM memory ready", at + 5)
            else "GTT"
            if text.startswith("GTT memory ready", at + 5)
            else None
        )
        start = at
        while start > 0 and text[start - 1] in "0123456789":
            start -= 1
        if kind and 0 < at - start <= 12:
            return int(text[start:at]), kind
        at = text.find("M of ", at + 1)
    return None


def parse_kernel_log(text: str) -> list[LogLine]:
    """Lines as ``dmesg`` or ``journalctl -k -o short-monotonic`` print them; the text is the
    same whichever printed it (the journal's "HOST kernel: " tag is dropped)."""
    lines: list[LogLine] = []
    raws = text.splitlines()
    prefixes = (
        map(_log_prefix, raws) if len(raws) < _LOG_PREFIX_COMPILED_FROM else _log_prefixes(raws)
    )
    for raw, prefixed in zip(raws, prefixes, strict=True):
        if prefixed:
            lines.append(LogLine(float(prefixed[0]), _untag(prefixed[1])))
        elif raw.strip():
            lines.append(LogLine(None, _untag(raw.strip())))
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


# Each pattern with the literal text that any match of it contains (one per alternative): a
# line without any of them is not searched, so a log without hangs compiles none of these
# patterns (~1 ms of every scan; tests/parse check that the literals are the patterns').
_HANG_PATTERNS = (
    # One event per hang: the first line of each counts; the follow-up lines of the same
    # event have kinds of their own, so a report can count hangs and still show the details.
    (
        "mes-timeout",
        ("MES failed to respond to msg=",),
        r"MES failed to respond to msg=(?P<msg>[A-Z0-9_]+(?: \([A-Z0-9_]+\))?)",
    ),
    (
        "mes-unrecoverable",
        ("MES might be in unrecoverable state",),
        r"MES might be in unrecoverable state",
    ),
    ("gpu-reset", ("GPU reset begin!",), r"GPU reset begin!"),
    ("gpu-reset-done", ("GPU reset(", "MODE2 reset"), r"GPU reset\(\d+\) succeeded|MODE2 reset"),
    ("page-fault", ("[gfxhub] page fault",), r"\[gfxhub\] page fault"),
    (
        "page-fault-status",
        ("GCVM_L2_PROTECTION_FAULT_STATUS:0x",),
        r"GCVM_L2_PROTECTION_FAULT_STATUS:(?P<status>0x[0-9A-Fa-f]+)",
    ),
    ("device-wedged", ("device wedged",), r"device wedged"),
    ("ring-timeout", (" timeout",), r"ring \S+ timeout"),
    ("ring-reset", (" reset succeeded",), r"Ring \S+ reset succeeded"),
    ("cpf-fault", ("Faulty UTCL2 client ID: CPF",), r"Faulty UTCL2 client ID: CPF"),
    (
        "smu-hang",
        (
            "SMU: No response msg_reg",
            "SMU: mailbox access failed",
            "Failed to enable gfxoff",
            "VPE: powergate request failed",
            "REG_WAIT timeout ",
        ),
        r"SMU: No response msg_reg|SMU: mailbox access failed|Failed to enable gfxoff"
        r"|VPE: powergate request failed|REG_WAIT timeout .*optc\d+_disable_crtc",
    ),
)

# Lines that do not name amdgpu: the module loader and the AMD IOMMU driver.
_OTHER_PATTERNS = (
    (
        "module-key-rejected",
        ("Loading of module with unavailable key is rejected", "Key was rejected by service"),
        r"Loading of module with unavailable key is rejected|Key was rejected by service",
    ),
    (
        "amd-iommu-unknown-option",
        ("AMD-Vi: Unknown option - '",),
        r"AMD-Vi: Unknown option - '(?P<value>[^']*)'",
    ),
    # The previous boot ended without unmounting or closing the journal (a hang or power cut).
    (
        "unclean-shutdown",
        ("orphan cleanup on readonly fs", "uncleanly shut down"),
        r"orphan cleanup on readonly fs|uncleanly shut down",
    ),
)


def _search(needles: tuple[str, ...], pattern: str, text: str) -> re.Match[str] | None:
    """re.search(pattern, text), not compiled nor run where text lacks all of its literals."""
    if not any(needle in text for needle in needles):
        return None
    return re.search(pattern, text)


def classify_kernel_log(lines: list[LogLine]) -> list[KernelLogEvent]:
    """The amdgpu memory, parameter and hang events among kernel-log lines."""
    events: list[KernelLogEvent] = []
    for line in lines:
        text = line.text
        other = next(
            (
                (kind, m)
                for kind, needles, pattern in _OTHER_PATTERNS
                if (m := _search(needles, pattern, text))
            ),
            None,
        )
        if other is not None:
            kind, found = other
            data = {k: v for k, v in found.groupdict().items() if v is not None}
            events.append(KernelLogEvent(kind, line, data))
            continue
        if "amdgpu" not in text and "[drm]" not in text and "unknown parameter" not in text:
            continue
        ready = _memory_ready(text) if " memory ready" in text else None
        if ready:
            kind = "vram-ready" if ready[1] == "VRAM" else "gtt-ready"
            events.append(KernelLogEvent(kind, line, {"mib": ready[0]}))
            continue
        if "Configuring gttsize via module parameter is deprecated" in text:
            events.append(KernelLogEvent("gttsize-deprecated", line))
            continue
        match = _search(("GTT size has been set as ",), _GTT_TTM_MISMATCH, text)
        if match:
            events.append(
                KernelLogEvent(
                    "gtt-ttm-mismatch", line, {"gtt": int(match["gtt"]), "ttm": int(match["ttm"])}
                )
            )
            continue
        match = _search((": unknown parameter '",), _UNKNOWN_PARAM, text)
        if match:
            events.append(
                KernelLogEvent(
                    "unknown-param", line, {"module": match["module"], "param": match["param"]}
                )
            )
            continue
        for kind, needles, pattern in _HANG_PATTERNS:
            match = _search(needles, pattern, text)
            if match:
                data = {k: v for k, v in match.groupdict().items() if v is not None}
                events.append(KernelLogEvent(kind, line, data))
                break
    return events
