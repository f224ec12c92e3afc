"""What changed between two monitor runs, as journal lines with a syslog priority.

The comparison reads two stored reports (plain JSON dicts): the previous one from the state
directory and the current one about to be stored. What a report alone does not say (firmware
versions, the hang lines of the kernel log) is kept in its ``monitor.observed`` object, taken
from the facts of the scan.
"""

import re
from typing import Any

from hostcheck._record import NamedTuple
from hostcheck.facts import Facts
from hostcheck.model import Report
from hostcheck.parse.kernellog import JOURNAL_KERNEL_TAG
from hostcheck.readings import Value

# sd-daemon.h: a line "<N>text" on stdout is logged by journald with priority N.
ERR, WARNING, NOTICE, INFO = 3, 4, 5, 6
PRIORITY_NAMES = {ERR: "err", WARNING: "warning", NOTICE: "notice", INFO: "info"}

MAX_HANG_LINES_STORED = 500  # a host that hangs in a loop must not grow the report unbounded
MAX_HANG_LINES_LOGGED = 20

# observed key -> how a person calls it
VERSIONS = {
    "kernel_release": "kernel release",
    "mes_firmware": "MES firmware",
    "mes_kiq_firmware": "MES KIQ firmware",
    "linux_firmware_package": "linux-firmware package",
    "rocm": "ROCm version",
}


class LogLine(NamedTuple):
    priority: int
    text: str


def observe(report: Report, facts: Facts) -> dict[str, Any]:
    """The values the next run compares against, beyond the findings."""
    gpu = facts.gpu.strix_halo

    def firmware(reading: object) -> str | None:
        return f"0x{reading.value:08x}" if isinstance(reading, Value) else None

    packages = facts.software.packages
    linux_firmware = packages.value.get("linux-firmware") if isinstance(packages, Value) else None
    if linux_firmware is None and isinstance(facts.software.rpm_firmware, Value):
        linux_firmware = facts.software.rpm_firmware.value
    # The hang kinds are the ones log.gpu-hangs counts (its first line of each event).
    kinds: dict[str, Any] = {}
    for finding in report.findings:
        if finding.rule.check == "gpu-hangs":
            kinds = {
                kind: spec
                for kind, spec in finding.rule.params.get("kinds", {}).items()
                if spec.get("count", True)
            }
    hangs = []
    log = facts.kernel_log
    if isinstance(log, Value):
        for event in log.value:
            if event.kind in kinds:
                hangs.append(
                    {
                        "kind": event.kind,
                        "label": str(kinds[event.kind].get("label", event.kind)),
                        "timestamp": event.line.timestamp,
                        "text": event.line.text,
                    }
                )
    return {
        "kernel_release": report.kernel_release if report.kernel_release != "unknown" else None,
        "mes_firmware": firmware(gpu.mes_fw) if gpu else None,
        "mes_kiq_firmware": firmware(gpu.mes_kiq_fw) if gpu else None,
        "linux_firmware_package": linux_firmware,
        "rocm": report.rocm,
        "kernel_log_readable": isinstance(log, Value),
        "gpu_hang_lines": hangs[-MAX_HANG_LINES_STORED:],
    }


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _hang_key(hang: dict[str, Any]) -> tuple[float | None, str]:
    """What makes a hang line the same line in two runs: its time stamp since boot and its
    text, normalised (whitespace, and the "HOST kernel: " tag that journalctl prints and dmesg
    does not, which reports stored before the parser dropped it may still carry). The time
    stamp stays in: the same hang message after a reboot, or later since boot, is new."""
    stamp = hang.get("timestamp")
    text = re.sub(JOURNAL_KERNEL_TAG, "", _one_line(hang.get("text", "")), count=1)
    return (round(stamp, 6) if isinstance(stamp, (int, float)) else None, text)


def _status_priority(new: str) -> int:
    if new == "fail":
        return ERR
    if new in ("warn", "error"):
        return WARNING
    return NOTICE  # pass, skip, waived: an improvement or an accepted problem


def blocking(report: Report) -> list[str]:
    """The findings that make the host not ready, as "rule (status)"."""
    return [f"{f.rule.id} ({f.status.value})" for f in report.findings if f.blocks(report.fail_on)]


def transitions(
    previous: dict[str, Any] | None, current: dict[str, Any], blocking: list[str]
) -> list[LogLine]:
    """Every change from ``previous`` to ``current`` worth a journal line: readiness, rule
    statuses, versions, new GPU hang lines. ``blocking`` names what keeps the host not ready."""
    lines: list[LogLine] = []
    if previous is None:
        return lines
    if previous.get("ready") and not current["ready"]:
        why = ", ".join(blocking) or "no Strix Halo GPU"
        lines.append(LogLine(ERR, f"host is no longer ready: {why}"))
    elif not previous.get("ready") and current["ready"]:
        lines.append(LogLine(NOTICE, "host is ready again"))

    before = {f["rule"]: f for f in previous.get("findings", [])}
    for finding in current["findings"]:
        old = before.get(finding["rule"])
        if old is None or old["status"] == finding["status"]:
            continue
        text = f"{finding['rule']}: {old['status']} → {finding['status']}: {finding['message']}"
        waiver = finding.get("waiver")
        if waiver and not waiver["expired"]:
            text += f" [waived until {waiver['expires']} by {waiver['owner']}: {waiver['reason']}]"
        elif waiver:
            text += f" [waiver expired on {waiver['expires']}]"
        lines.append(LogLine(_status_priority(finding["status"]), _one_line(text)))

    seen = previous.get("monitor", {}).get("observed", {})
    now = current["monitor"]["observed"]
    for key, name in VERSIONS.items():
        if key in seen and seen[key] != now.get(key):
            old_value = seen[key] or "unknown"
            new_value = now.get(key) or "unknown"
            lines.append(LogLine(NOTICE, f"{name} changed: {old_value} → {new_value}"))

    hangs = now.get("gpu_hang_lines", [])
    if seen.get("kernel_log_readable", True) is False and hangs:
        # The previous run saw no kernel log: every line would look new. One line, not N.
        lines.append(
            LogLine(
                WARNING,
                f"{len(hangs)} GPU hang line{'s' if len(hangs) != 1 else ''} in the kernel log; "
                "the previous run could not read the kernel log, so which are new is unknown "
                "(see log.gpu-hangs)",
            )
        )
        return lines
    known = {_hang_key(h) for h in seen.get("gpu_hang_lines", [])}
    new = [h for h in hangs if _hang_key(h) not in known]
    for hang in new[:MAX_HANG_LINES_LOGGED]:
        stamp = f"[{hang['timestamp']:12.6f}] " if hang["timestamp"] is not None else ""
        lines.append(
            LogLine(
                ERR,
                _one_line(
                    f"new GPU hang in the kernel log ({hang['label']}): {stamp}{hang['text']}"
                ),
            )
        )
    if len(new) > MAX_HANG_LINES_LOGGED:
        lines.append(
            LogLine(
                ERR,
                f"… and {len(new) - MAX_HANG_LINES_LOGGED} more new GPU hang lines (see log.gpu-hangs)",
            )
        )
    return lines


def standing(current: dict[str, Any], report_path: str) -> list[LogLine]:
    """Lines for every run, changed or not: expired waivers and the verdict."""
    lines = []
    counting = {"warn", "fail", "error", "fixed-pending-reboot"}
    for waiver in current.get("waivers", []):
        if not waiver["expired"]:
            continue
        status = waiver["status"]
        if status in counting:
            now = f"the finding counts again as {status}"
        elif status is None:
            now = "its rule was not checked"
        else:
            now = f"its rule is {status} now"
        lines.append(
            LogLine(
                WARNING,
                _one_line(
                    f"{waiver['rule']}: waiver expired on {waiver['expires']} (owner "
                    f"{waiver['owner']}: {waiver['reason']}); {now}. Renew or remove it in "
                    f"{waiver.get('source') or 'the config file'}"
                ),
            )
        )
    counts = ", ".join(f"{n} {s}" for s, n in current["summary"].items() if n)
    verdict = "READY" if current["ready"] else "NOT READY"
    lines.append(
        LogLine(
            INFO, f"host {current['host']['hostname']}: {verdict} ({counts}); report {report_path}"
        )
    )
    return lines


def format_line(line: LogLine, journal: bool) -> str:
    if journal:
        return f"<{line.priority}>{line.text}"
    return f"{PRIORITY_NAMES[line.priority]}: {line.text}"
