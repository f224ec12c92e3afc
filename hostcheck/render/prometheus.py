"""Prometheus text exposition format, for node_exporter's textfile collector.

Per rule, ``hostcheck_rule_status`` is one series per status (1 for the current one, 0 for the
others), so an alert selects ``{status="fail"} == 1`` and a series never disappears when a rule
changes status. A rule's severity is the label ``rule_severity``, not ``severity``: that name is
Alertmanager's routing label, which an alert's own labels set. With :class:`Gauges` (what the
report alone does not say: memory sizes, versions, the GPU hang count) a dashboard gets numbers.
Waivers are labelled by rule only (owner and reason in ``hostcheck_waiver_info``)
and exported for every waiver of the config file. Pure: the run's wall-clock time is passed
in, not read here; a waiver's end is local midnight, as its expiry counts local dates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from hostcheck.model import Report, Status
from hostcheck.render.json import SCHEMA_VERSION


class Gauges(NamedTuple):
    """Numbers and versions taken from the scan's facts (hostcheck.cluster.metrics.gauges)."""

    gpu_addressable_bytes: int | None
    profile_required_bytes: int | None
    gpu_hang_events: int | None  # hang events in the kernel log (None: log unreadable)
    kernel_release: str | None
    rocm: str | None
    mes_firmware: str | None
    linux_firmware: str | None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


GIB = 1 << 30


def _functional(report: Report, family: Callable[[str, str, str], None], out: list[str]) -> None:
    """What the functional probe measured, in base units (bytes, bytes/s, FLOP/s); only in
    the metrics of a run that had it (scan --functional, or a replayed recording)."""
    measured = report.functional
    assert measured is not None
    family(
        "hostcheck_functional_completed",
        "gauge",
        "1 if the functional GPU probe ran to its end, 0 if it hung, crashed or was killed.",
    )
    out.append(f"hostcheck_functional_completed {int(measured.completed)}")
    gauges = (
        ("allocated_bytes", "Memory the GPU allocated and touched.", measured.allocated_gib, GIB),
        ("target_bytes", "Memory the probe was asked to allocate.", measured.target_gib, GIB),
        (
            "memory_bandwidth_bytes_per_second",
            "Device memory bandwidth (copy, read + write counted).",
            measured.memory_bandwidth_gbps,
            1e9,
        ),
        ("matmul_flops_per_second", "bf16 matmul throughput.", measured.matmul_tflops, 1e12),
        (
            "attention_flops_per_second",
            "scaled_dot_product_attention throughput.",
            measured.attention_tflops,
            1e12,
        ),
    )
    for name, help_text, value, scale in gauges:
        if value is not None:
            family(f"hostcheck_functional_{name}", "gauge", help_text)
            out.append(f"hostcheck_functional_{name} {value * scale:.0f}")
    copies = [
        (direction, value)
        for direction, value in (
            ("h2d", measured.h2d_gbps),
            ("h2d_pinned", measured.h2d_pinned_gbps),
            ("d2h", measured.d2h_gbps),
        )
        if value is not None
    ]
    if copies:
        family(
            "hostcheck_functional_copy_bytes_per_second",
            "gauge",
            "Copy bandwidth between host and GPU, by direction (h2d from pageable memory, "
            "h2d_pinned, d2h).",
        )
        for direction, value in copies:
            out.append(
                f"hostcheck_functional_copy_bytes_per_second{_labels(direction=direction)} "
                f"{value * 1e9:.0f}"
            )


def render(report: Report, *, timestamp: float | None = None, gauges: Gauges | None = None) -> str:
    """The metrics of one run; ``timestamp`` (Unix seconds) is when the run finished."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    family(
        "hostcheck_build_info",
        "gauge",
        "hostcheck version and report schema version; always 1.",
    )
    out.append(
        "hostcheck_build_info"
        + _labels(version=report.tool_version, schema_version=SCHEMA_VERSION)
        + " 1"
    )
    # No labels: a change of profile or --fail-on in the config must not start a new series
    # (and leave the old one stale); what they are is in hostcheck_scan_info.
    family("hostcheck_ready", "gauge", "1 if the host is ready to serve LLMs, 0 if not.")
    out.append(f"hostcheck_ready {int(report.ready)}")
    family(
        "hostcheck_scan_info",
        "gauge",
        "The workload profile and the --fail-on level readiness was judged with; always 1.",
    )
    out.append(
        "hostcheck_scan_info" + _labels(profile=report.profile, fail_on=report.fail_on.value) + " 1"
    )
    if report.stack is not None:
        family(
            "hostcheck_stack_info",
            "gauge",
            "Where the inference stack lives: the kind of node judged (host or container-node) "
            "and the backend (rocm, vulkan or unknown); always 1.",
        )
        out.append(
            "hostcheck_stack_info"
            + _labels(node=str(report.stack["node"]), backend=str(report.stack["backend"]))
            + " 1"
        )
    if timestamp is not None:
        family(
            "hostcheck_last_run_timestamp_seconds",
            "gauge",
            "Unix time at which the last hostcheck run finished.",
        )
        out.append(f"hostcheck_last_run_timestamp_seconds {timestamp:.3f}")
    family("hostcheck_scan_duration_seconds", "gauge", "How long the last scan took.")
    out.append(f"hostcheck_scan_duration_seconds {report.duration_seconds:.6f}")
    family(
        "hostcheck_rule_status",
        "gauge",
        "1 for the status a rule has now (pass, warn, fail, skip, error, fixed-pending-reboot, "
        "waived), 0 for the six others.",
    )
    for finding in sorted(report.findings, key=lambda f: f.rule.id):
        for status in Status:
            labels = _labels(
                rule=finding.rule.id,
                area=finding.rule.area,
                rule_severity=finding.rule.severity.value,
                status=status.value,
            )
            out.append(f"hostcheck_rule_status{labels} {int(finding.status is status)}")
    family(
        "hostcheck_rule_blocking",
        "gauge",
        "1 if the rule's finding makes the host not ready.",
    )
    for finding in sorted(report.findings, key=lambda f: f.rule.id):
        labels = _labels(
            rule=finding.rule.id,
            area=finding.rule.area,
            rule_severity=finding.rule.severity.value,
        )
        out.append(f"hostcheck_rule_blocking{labels} {int(finding.blocks(report.fail_on))}")
    if report.functional is not None:
        _functional(report, family, out)
    family("hostcheck_findings", "gauge", "Number of findings per status.")
    for name, count in report.summary.items():
        out.append(f"hostcheck_findings{_labels(status=name)} {count}")
    # Every waiver of the config file, whatever its rule's status, labelled by rule only: a
    # series neither flips on the expiry day nor vanishes when the rule passes.
    family(
        "hostcheck_waiver_expiry_timestamp_seconds",
        "gauge",
        "Unix time at which a waiver stops holding (local midnight after its expiry date).",
    )
    for state in report.waivers:
        out.append(
            f"hostcheck_waiver_expiry_timestamp_seconds{_labels(rule=state.waiver.rule)} "
            f"{_timestamp(state.ends_at())}"
        )
    family("hostcheck_waiver_expired", "gauge", "1 if a waiver has expired, 0 while it holds.")
    for state in report.waivers:
        out.append(
            f"hostcheck_waiver_expired{_labels(rule=state.waiver.rule)} {int(state.expired)}"
        )
    family("hostcheck_waiver_info", "gauge", "Who owns a waiver and why it exists; always 1.")
    for state in report.waivers:
        labels = _labels(
            rule=state.waiver.rule, owner=state.waiver.owner, reason=state.waiver.reason
        )
        out.append(f"hostcheck_waiver_info{labels} 1")
    if gauges is not None:
        _gauges(gauges, out)
    return "\n".join(out) + "\n"


def _timestamp(seconds: float) -> str:
    """Whole seconds, or +Inf (the text format's spelling) for a waiver that never ends."""
    return "+Inf" if seconds == float("inf") else f"{seconds:.0f}"


def _gauges(gauges: Gauges, out: list[str]) -> None:
    def add(name: str, help_text: str, value: float | None) -> None:
        if value is None:  # unknown: no sample rather than a made-up 0
            return
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} gauge")
        out.append(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}")

    add(
        "hostcheck_gpu_addressable_bytes",
        "Memory the GPU can address: the larger of the VRAM carve-out and the TTM-limited GTT.",
        gauges.gpu_addressable_bytes,
    )
    add(
        "hostcheck_profile_required_bytes",
        "Memory the GPU must address for the workload profile readiness was judged with.",
        gauges.profile_required_bytes,
    )
    add(
        "hostcheck_gpu_hang_events",
        "GPU hang events (MES timeouts, ring resets …) in the kernel log since boot, as "
        "log.gpu-hangs counts them (at most 500).",
        gauges.gpu_hang_events,
    )
    out.append(
        "# HELP hostcheck_host_info Kernel, ROCm, MES firmware and linux-firmware versions of "
        "the host (empty when unknown); always 1."
    )
    out.append("# TYPE hostcheck_host_info gauge")
    out.append(
        "hostcheck_host_info"
        + _labels(
            kernel=gauges.kernel_release or "",
            rocm=gauges.rocm or "",
            mes_firmware=gauges.mes_firmware or "",
            linux_firmware=gauges.linux_firmware or "",
        )
        + " 1"
    )
