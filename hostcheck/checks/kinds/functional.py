"""Functional readiness: what the probe script measured with the serving stack's PyTorch.

The figures come from facts.functional (hostcheck/probes/functional.py); the known-good ranges
come from the rules (rules/functional.*.toml) with their sources.
"""

from __future__ import annotations

from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import GIB, Context, unknown
from hostcheck.facts import Facts, FunctionalRun
from hostcheck.model import Evidence, FunctionalFigures, Outcome, Verdict
from hostcheck.readings import Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SEE_RUN = "see functional.run"


def _run(facts: Facts) -> FunctionalRun | Outcome:
    """The run, or the outcome every functional rule gives without one."""
    found = facts.functional
    if found is None:
        return Outcome(
            Verdict.NOT_APPLICABLE,
            "Not run: the functional probe runs only when asked (hostcheck scan --functional "
            "--python PATH).",
        )
    if isinstance(found, Unavailable):
        return unknown(
            f"The functional probe did not run: {found.detail or found.reason.value}.",
            Evidence("functional probe", None, found.source, found.reason.value),
        )
    return found.value


def _source(facts: Facts) -> str:
    found = facts.functional
    return found.source if isinstance(found, Value) else "functional probe"


def _missing_step(run: FunctionalRun, name: str, what: str, facts: Facts) -> Outcome:
    """The outcome for a step that has no result (the run ended before or in it)."""
    if run.in_flight == name:
        how = (
            f"killed at the {run.timed_out:g} s bound"
            if run.timed_out is not None
            else "ended by the probe's own watchdog or a crash"
        )
        reached = (run.progress or {}).get("allocated_bytes")
        so_far = (
            f" after {int(reached) / GIB:.1f} GiB of {run.target_gib:g} GiB"
            if isinstance(reached, int) and name == "allocate"
            else ""
        )
        return Outcome(
            Verdict.PROBLEM,
            f"The {what} step never finished{so_far} ({how}); {SEE_RUN} for the kernel log.",
            (Evidence("step in flight", name, _source(facts)),),
        )
    return unknown(
        f"No {what} result: the probe ended before this step ({SEE_RUN}).",
        Evidence(
            "steps finished",
            ", ".join(str(s.get("step")) for s in run.steps) or "none",
            _source(facts),
        ),
    )


def _failed_step(step: dict[str, Any], what: str, facts: Facts) -> Outcome | None:
    if step.get("ok"):
        return None
    reason = step.get("error") or step.get("skipped") or "failed"
    verdict = Verdict.UNKNOWN if step.get("skipped") else Verdict.PROBLEM
    return Outcome(
        verdict,
        f"The {what} step failed: {reason}.",
        (Evidence(str(step.get("step")), False, _source(facts), str(reason)),),
    )


@check_kind("functional-run")
def functional_run(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """The probe ran to its end within the bound, from the interpreter's own PyTorch."""
    run = _run(facts)
    if isinstance(run, Outcome):
        return run
    source = _source(facts)
    items = [Evidence("interpreter", run.interpreter, source)]
    if isinstance(run.kernel_lines, Value):
        shown = run.kernel_lines.value[-int(params.get("kernel_lines", 20)) :]
        items.append(
            Evidence(
                "kernel log lines during the run",
                len(run.kernel_lines.value),
                run.kernel_lines.source,
                " | ".join(shown) if shown else None,
            )
        )
    else:
        items.append(
            Evidence(
                "kernel log during the run",
                None,
                run.kernel_lines.source,
                run.kernel_lines.describe(),
            )
        )
    if run.stderr_tail and run.result is None:
        items.append(Evidence("stderr (last lines)", " | ".join(run.stderr_tail[-4:]), source))
    where = f" in step {run.in_flight}" if run.in_flight else ""
    if run.timed_out is not None:
        return Outcome(
            Verdict.PROBLEM,
            f"The GPU probe hung{where}: killed with its process group after the "
            f"{run.timed_out:g} s bound. A dispatch or copy that never returns is the signature "
            "of MES hangs (ROCm#5590) and the HMM copy stall (ROCm#5952); read the kernel log "
            "lines in the evidence.",
            tuple(items),
        )
    if run.result is None:
        if run.returncode < 0:
            try:
                import signal  # here: a scan without --functional never needs it

                name = signal.Signals(-run.returncode).name
            except ValueError:
                name = f"signal {-run.returncode}"
            how = f"died with {name}"
        elif any("Timeout (" in line for line in run.stderr_tail):
            how = "was ended by its own step watchdog (the step did not return)"
        else:
            how = f"exited with status {run.returncode} before its result"
        return Outcome(
            Verdict.PROBLEM,
            f"The GPU probe {how}{where}. hipMalloc crashing on ROCm 6.4-7.1 and hangs on the "
            "first dispatch look like this; read the stderr and kernel log lines in the evidence.",
            tuple(items),
        )
    init = run.step("init")
    if init is None or not init.get("ok"):
        reason = (init or {}).get("error", "no init step")
        return Outcome(
            Verdict.PROBLEM,
            f"PyTorch in {run.interpreter} cannot use a GPU: {reason}.",
            tuple(items),
        )
    items.insert(
        1,
        Evidence(
            "device",
            f"{init.get('device_name')} ({init.get('gcn_arch') or 'no gcnArchName'})",
            source,
            f"torch {init.get('torch')}, HIP {init.get('hip')}, CUDA {init.get('cuda')}",
        ),
    )
    failed = [str(s.get("step")) for s in run.steps if not s.get("ok")]
    seconds = run.result.get("seconds")
    if failed:
        # It did not hang or crash; the steps that did not pass are judged by their rules.
        return Outcome(
            Verdict.OK,
            f"The GPU probe ran to its end in {seconds} s without a hang; step(s) "
            f"{', '.join(failed)} did not pass (see their findings).",
            tuple(items),
        )
    return Outcome(
        Verdict.OK,
        f"The GPU probe allocated, copied and computed on {init.get('device_name')} in "
        f"{seconds} s without a hang.",
        tuple(items),
    )


@check_kind("functional-allocation", requires=("slow_chunk_s",))
def functional_allocation(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    run = _run(facts)
    if isinstance(run, Outcome):
        return run
    step = run.step("allocate")
    if step is None:
        return _missing_step(run, "allocate", "allocation", facts)
    source = _source(facts)
    done = int(step.get("allocated_bytes") or 0)
    target = int(step.get("target_bytes") or 0)
    slowest = float(step.get("slowest_chunk_s") or 0.0)
    items = (
        Evidence("allocated and touched", f"{done / GIB:.1f} GiB", source,
                 f"{step.get('chunks')} chunks of {int(step.get('chunk_bytes') or 0) / GIB:g} GiB in {step.get('seconds')} s"),
        Evidence("target", f"{target / GIB:.1f} GiB", source, f"profile {ctx.profile.name}"),
        Evidence("slowest chunk", f"{slowest:.3f} s", source),
    )  # fmt: skip
    if step.get("failed"):
        return Outcome(
            Verdict.PROBLEM,
            f"Allocation failed at {done / GIB:.1f} GiB of {target / GIB:.1f} GiB: "
            f"{step['failed']}. ROCm sees less memory than the profile needs (memory.gtt, "
            "memory.rocm-visible, ROCm#5444).",
            items,
        )
    if step.get("error") or step.get("skipped"):
        failed = _failed_step(step, "allocation", facts)
        assert failed is not None
        return failed._replace(evidence=items + failed.evidence)
    if done < target:
        return Outcome(
            Verdict.PROBLEM,
            f"Only {done / GIB:.1f} GiB of the target {target / GIB:.1f} GiB could be allocated "
            f"without starving the OS: the probe stopped at {step.get('limited_by')} "
            f"({int(step.get('headroom_bytes') or 0) / GIB:g} GiB).",
            items,
        )
    if slowest > float(params["slow_chunk_s"]):
        return Outcome(
            Verdict.ADVISORY,
            f"Allocated {done / GIB:.1f} GiB, but one {int(step.get('chunk_bytes') or 0) / GIB:g} GiB "
            f"chunk took {slowest:.1f} s (more than {params['slow_chunk_s']} s): large "
            "allocations stall on this stack (llama.cpp#15018, ROCm#6501).",
            items,
        )
    return Outcome(
        Verdict.OK,
        f"Allocated and touched {done / GIB:.1f} GiB (the target, {target / GIB:.1f} GiB) in "
        f"{step.get('seconds')} s.",
        items,
    )


COPY_STEPS = (
    ("h2d", "host to device"),
    ("h2d_pinned", "host to device, pinned"),
    ("d2h", "device to host"),
)


@check_kind("functional-copy", requires=("stall_gbps", "low_gbps"))
def functional_copy(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    run = _run(facts)
    if isinstance(run, Outcome):
        return run
    source = _source(facts)
    stall, low = float(params["stall_gbps"]), float(params["low_gbps"])
    items: list[Evidence] = []
    stalled: list[str] = []
    slow: list[str] = []
    for name, what in COPY_STEPS:
        step = run.step(name)
        if step is None:
            if run.in_flight == name:
                stalled.append(f"{what}: never finished")
                items.append(Evidence(what, None, source, "step in flight when the run ended"))
            continue
        if not step.get("ok"):
            failed = _failed_step(step, what, facts)
            assert failed is not None
            return failed
        gbps = float(step.get("gbps") or 0.0)
        first_gbps = (
            float(step.get("first_bytes") or 0) / max(float(step.get("first_s") or 0), 1e-9) / 1e9
        )
        worst = min(gbps, first_gbps)
        items.append(
            Evidence(
                what,
                f"{gbps:.2f} GB/s",
                source,
                f"{int(step.get('bytes') or 0) >> 20} MiB, the best timed copy; first "
                f"{int(step.get('first_bytes') or 0) >> 20} MiB in {step.get('first_s')} s",
            )
        )
        if worst < stall:
            stalled.append(f"{what} {worst:.3f} GB/s")
        elif gbps < low:
            slow.append(f"{what} {gbps:.2f} GB/s")
    if stalled:
        return Outcome(
            Verdict.PROBLEM,
            f"Copies between host and GPU stall ({'; '.join(stalled)}; below {stall:g} GB/s): the "
            "HMM retry-loop bug of Ubuntu's 7.0.0-28 kernels (ROCm#5952) looks like this. Change "
            "the kernel; model loading takes minutes instead of seconds.",
            tuple(items),
        )
    if not items:
        return _missing_step(run, "h2d", "copy", facts)
    if slow:
        return Outcome(
            Verdict.ADVISORY,
            f"Copies between host and GPU are slow ({'; '.join(slow)}; expected at least "
            f"{low:g} GB/s): model loading will take longer.",
            tuple(items),
        )
    return Outcome(Verdict.OK, "Copies between host and GPU run at " + ", ".join(
        str(i.value) for i in items) + ".", tuple(items))  # fmt: skip


@check_kind("functional-bandwidth", requires=("min_gbps",))
def functional_bandwidth(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    run = _run(facts)
    if isinstance(run, Outcome):
        return run
    step = run.step("device_bandwidth")
    if step is None:
        return _missing_step(run, "device_bandwidth", "memory bandwidth", facts)
    failed = _failed_step(step, "memory bandwidth", facts)
    if failed is not None:
        return failed
    gbps = float(step.get("gbps") or 0.0)
    floor = float(params["min_gbps"])
    items = (
        Evidence(
            "device memory bandwidth",
            f"{gbps:.1f} GB/s",
            _source(facts),
            f"copy_ of {int(step.get('bytes') or 0) >> 20} MiB x {step.get('repeat')}, "
            "read + write counted",
        ),
    )
    if gbps < floor:
        return Outcome(
            Verdict.ADVISORY,
            f"Device memory bandwidth is {gbps:.1f} GB/s, below the {floor:g} GB/s a Strix Halo "
            "reaches (~200-230 GB/s measured): token generation is bandwidth-bound and will be "
            "slower. Check the power profile and perf.iommu.",
            items,
        )
    return Outcome(Verdict.OK, f"Device memory bandwidth {gbps:.1f} GB/s.", items)


@check_kind("functional-compute", requires=("min_tflops",))
def functional_compute(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    run = _run(facts)
    if isinstance(run, Outcome):
        return run
    source = _source(facts)
    items: list[Evidence] = []
    for name, what in (("matmul", "bf16 matmul"), ("attention", "attention kernel")):
        step = run.step(name)
        if step is None:
            return _missing_step(run, name, what, facts)
        failed = _failed_step(step, what, facts)
        if failed is not None:
            return failed._replace(evidence=tuple(items) + failed.evidence)
        detail = (
            f"{step.get('n')}x{step.get('n')} bf16, {step.get('repeat')} runs"
            if name == "matmul"
            else f"scaled_dot_product_attention {step.get('shape')}, causal"
        )
        items.append(
            Evidence(what, f"{float(step.get('tflops') or 0):.1f} TFLOP/s", source, detail)
        )
    matmul = run.step("matmul") or {}
    tflops = float(matmul.get("tflops") or 0.0)
    floor = float(params["min_tflops"])
    if tflops < floor:
        return Outcome(
            Verdict.ADVISORY,
            f"bf16 matmul reaches {tflops:.1f} TFLOP/s, below the {floor:g} TFLOP/s of the "
            "hipBLASLt path on gfx1151 (ROCm#4748): prompt processing will be slower "
            "(see perf.hipblaslt).",
            tuple(items),
        )
    return Outcome(
        Verdict.OK,
        f"bf16 matmul {tflops:.1f} TFLOP/s; the attention kernel ran and gave finite results.",
        tuple(items),
    )


def figures(facts: Facts) -> FunctionalFigures | None:
    """The measured figures of the functional run, None without a run."""
    if not isinstance(facts.functional, Value):
        return None
    run = facts.functional.value

    def number(step: str, key: str, scale: float = 1.0) -> float | None:
        found = run.step(step)
        if not found or not found.get("ok") or not isinstance(found.get(key), int | float):
            return None
        return round(float(found[key]) / scale, 3)

    init = run.step("init") or {}
    return FunctionalFigures(
        completed=run.result is not None and run.timed_out is None,
        timed_out=run.timed_out is not None,
        seconds=run.result.get("seconds") if run.result else None,
        device=init.get("device_name"),
        target_gib=number("allocate", "target_bytes", GIB) or run.target_gib or None,
        allocated_gib=number("allocate", "allocated_bytes", GIB),
        h2d_gbps=number("h2d", "gbps"),
        h2d_pinned_gbps=number("h2d_pinned", "gbps"),
        d2h_gbps=number("d2h", "gbps"),
        memory_bandwidth_gbps=number("device_bandwidth", "gbps"),
        matmul_tflops=number("matmul", "tflops"),
        attention_tflops=number("attention", "tflops"),
    )
