"""Runtime environment and tuning: inference processes' environment and arguments, IOMMU,
sysctls (facts §3, §4, §5.2, §8; seed Part 2)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import (
    Context,
    cmdline_evidence,
    cmdline_value,
    evidence,
    unknown,
    value_or,
)
from hostcheck.facts import Facts, InferenceProcess
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.readings import Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TUNED_KINDS = ("vllm", "llama.cpp")


def _processes(facts: Facts, kind: str | None = None) -> list[InferenceProcess]:
    procs = facts.processes
    if not isinstance(procs, Value):
        return []
    # The tuning rules know vLLM's and llama.cpp's switches; other services (ollama, ComfyUI)
    # are found for the stack probe only.
    return [p for p in procs.value if p.kind == kind or (kind is None and p.kind in TUNED_KINDS)]


def _unreadable(procs: list[InferenceProcess]) -> list[str]:
    """The processes whose environment could not be read (another user's, without root)."""
    return [_who(proc) for proc in procs if isinstance(proc.environ, Unavailable)]


def _who(proc: InferenceProcess) -> str:
    return f"{proc.kind} pid {proc.pid}" if proc.pid else f"{proc.kind} env file {proc.source}"


@check_kind("env-var-forbidden", requires=("variable", "why"))
def env_var_forbidden(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """A variable that must not be set for inference processes (e.g. HSA_OVERRIDE_GFX_VERSION):
    in a running process's environment (vLLM, llama.cpp, ollama, ComfyUI) or in a systemd
    unit, drop-in or quadlet that starts one."""
    name = params["variable"]
    if not isinstance(facts.processes, Value):
        return unknown("Processes could not be listed.", evidence("processes", facts.processes))
    # Any ROCm process reads the variable, not only the engines the tuning rules know.
    procs = list(facts.processes.value)
    items: list[Evidence] = []
    offenders = []
    allowed: Mapping[str, str] = params.get("allowed", {})
    for proc in procs:
        if isinstance(proc.environ, Unavailable):
            items.append(evidence(f"{_who(proc)} environment", proc.environ))
            continue
        value = proc.environ.value.get(name)
        if value is not None and value.strip() in allowed:
            items.append(
                Evidence(_who(proc), f"{name}={value}", proc.environ.source, allowed[value.strip()])
            )
            continue
        if value is not None:
            offenders.append(f"{_who(proc)} ({name}={proc.environ.value[name]})")
            items.append(
                Evidence(_who(proc), f"{name}={proc.environ.value[name]}", proc.environ.source)
            )
    for setting in facts.unit_environment:
        if setting.variable != name:
            continue
        shown = f"{name}={setting.value}"
        if setting.value.strip() in allowed:
            items.append(Evidence("unit", shown, setting.path, allowed[setting.value.strip()]))
            continue
        offenders.append(f"{setting.path} ({shown}, used when the service next starts)")
        items.append(Evidence("unit", shown, setting.path))
    if offenders:
        return Outcome(
            Verdict.PROBLEM,
            f"{name} is set for {', '.join(offenders)}. {params['why']}",
            tuple(items),
            fix={},
        )
    unreadable = _unreadable(procs)
    if unreadable:
        return unknown(
            f"The environment of {', '.join(unreadable)} could not be read; run as root to "
            f"check it for {name}.",
            *items,
        )
    if not procs:
        return Outcome(
            Verdict.OK,
            f"No vLLM or llama.cpp process is running, so none has {name} set.",
            (Evidence("inference processes", 0, facts.processes.source), *items),
        )
    return Outcome(
        Verdict.OK, f"{name} is not set for {len(procs)} inference process(es).", tuple(items)
    )


def _torch_prefers_hipblaslt(facts: Facts) -> str | None:
    """What --python's PyTorch says it prefers, when that is hipBLASLt (``Cublaslt``)."""
    python = facts.software.python
    env = python.value if isinstance(python, Value) else None
    if env is not None and env.blas and "cublaslt" in env.blas.lower():
        return f"torch {env.torch}: preferred_blas_library() = {env.blas}"
    return None


@check_kind("hipblaslt", requires=("switches", "why"))
def hipblaslt(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Advisory for ROCm#4748: rocBLAS on gfx1151 is slow; hipBLASLt switches help."""
    procs = _processes(facts)
    switches: dict[str, str] = params["switches"]
    torch = _torch_prefers_hipblaslt(facts)
    missing = []
    items = []
    for proc in procs:
        if isinstance(proc.environ, Unavailable):
            items.append(evidence(f"{_who(proc)} environment", proc.environ))
            continue
        variable = switches[proc.kind]
        value = proc.environ.value.get(variable)
        items.append(
            Evidence(
                _who(proc), f"{variable}={value}" if value else f"{variable} unset", proc.source
            )
        )
        if proc.kind == "vllm" and torch:
            items.append(Evidence("torch", torch, "--python", "prefers hipBLASLt"))
            continue
        if value != "1":
            missing.append(f"{variable}=1 for {_who(proc)}")
    if missing:
        return Outcome(
            Verdict.ADVISORY,
            f"{params['why']} Set {', '.join(missing)}.",
            tuple(items),
        )
    unreadable = _unreadable(procs)
    if unreadable:
        return unknown(
            f"The environment of {', '.join(unreadable)} could not be read; run as root.", *items
        )
    if procs:
        return Outcome(Verdict.OK, "Running inference processes prefer hipBLASLt.", tuple(items))
    return Outcome(
        Verdict.OK,
        "No inference process running. When serving, set "
        + ", ".join(f"{v}=1 ({k})" for k, v in switches.items())
        + " (ROCm#4748).",
        (evidence("inference processes", facts.processes, len),),
    )


def _model_path(argv: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(argv):
        if arg in ("-m", "--model") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--model="):
            return arg.split("=", 1)[1]
    return None


@check_kind(
    "llamacpp-mmap", requires=("threshold_gib", "no_mmap_flags", "no_mmap_env", "load_modes")
)
def llamacpp_mmap(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """llama.cpp on ROCm past 64 GB with mmap (llama.cpp#15018)."""
    items: list[Evidence] = []
    problems: list[str] = []
    flags = set(params["no_mmap_flags"])
    env_off: dict[str, str] = params["no_mmap_env"]
    modes: Mapping[str, str] = params["load_modes"]  # --load-mode value -> "mmap" or "off"
    for proc in _processes(facts, "llama.cpp"):
        argv = proc.argv
        env = value_or(proc.environ, {})
        mode = _arg_value(argv, ["--load-mode", "-lm"]) or env.get("LLAMA_ARG_LOAD_MODE")
        state: str | None = None  # "off", "on" or None (not stated: the build's default)
        if mode is not None:
            # "mmap" maps, "off" reads; "default" (auto) and values the rule does not know leave
            # it to the build, as if nothing were stated
            state = {"mmap": "on", "off": "off"}.get(modes.get(mode.strip().lower(), ""))
        elif (
            any(a in flags for a in argv)
            or any(env.get(k, "").lower() == v for k, v in env_off.items())
            or _arg_value(argv, ["--mmap", "-mmp"]) == "0"
        ):
            state = "off"
        elif "--mmap" in argv:
            state = "on"
        model = _model_path(argv)
        note = {"off": "mmap off", "on": "mmap on", None: "mmap not stated (build default)"}[state]
        items.append(Evidence(_who(proc), " ".join(argv)[:200], proc.source, note))
        if state == "on":
            problems.append(
                f"{_who(proc)} loads {model or 'its model'} with mmap: on ROCm, loading past "
                f"{params['threshold_gib']} GB crawls or stalls (llama.cpp#15018). Use "
                "--load-mode none (older builds: --no-mmap)."
            )
        elif state is None:
            problems.append(
                f"{_who(proc)} does not say how it loads {model or 'its model'}; depending on "
                "the build that is mmap, which stalls past "
                f"{params['threshold_gib']} GB on ROCm (llama.cpp#15018). Pass --load-mode none "
                "(older builds: --no-mmap)."
            )
    if problems:
        return Outcome(Verdict.PROBLEM, " ".join(problems), tuple(items), fix={})
    return Outcome(
        Verdict.OK,
        "No llama.cpp process loads with mmap."
        if items
        else "No llama.cpp process is running; on ROCm run it with --load-mode none "
        "(older builds: --no-mmap).",
        tuple(items) or (evidence("inference processes", facts.processes, len),),
    )


@check_kind("iommu", requires=("portable_chassis",))
def iommu(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """amd_iommu=off is faster for the GPU, but breaks passthrough, the NPU and laptop sleep."""
    amd_iommu = cmdline_value(facts, "amd_iommu")
    mode = cmdline_value(facts, "iommu")
    items = [cmdline_evidence(facts)]
    chassis = value_or(facts.chassis_type, None)
    if isinstance(facts.chassis_type, Value):
        items.append(evidence("chassis type (SMBIOS)", facts.chassis_type))
    portable = chassis is not None and chassis.strip() in [
        str(c) for c in params["portable_chassis"]
    ]
    for trace in facts.npu:
        items.append(Evidence("NPU", trace, "/proc/modules, /dev/accel"))
    if facts.vfio_devices:
        items.append(
            Evidence(
                "vfio-pci devices", ", ".join(facts.vfio_devices), "/sys/bus/pci/drivers/vfio-pci"
            )
        )
        return Outcome(
            Verdict.OK,
            "Devices are bound to vfio-pci: keep the IOMMU on (amd_iommu=off would break "
            "passthrough).",
            tuple(items),
        )
    costs = []
    if facts.npu:
        costs.append("it disables the XDNA NPU ('aie2_init: Running without IOMMU not supported')")
    if portable:
        costs.append(
            "on this laptop it stops s0i3 hardware sleep (0 % residency; iommu=pt keeps ~96 %)"
        )
    if amd_iommu == "off":
        if costs:
            return Outcome(
                Verdict.ADVISORY,
                f"amd_iommu=off is set, but {' and '.join(costs)}. Use iommu=pt instead if "
                "you need them; amd_iommu=off is only 5 % faster for the GPU.",
                tuple(items),
                fix={
                    "add_kernel_args": ["iommu=pt"],
                    "remove_kernel_args": ["amd_iommu"],
                    "summary": "Replace amd_iommu=off with iommu=pt on the kernel command line "
                    "and reboot (keeps the NPU and laptop sleep working).",
                },
            )
        return Outcome(
            Verdict.OK, "amd_iommu=off is set (measured fastest on Strix Halo).", tuple(items)
        )
    if costs:
        return Outcome(
            Verdict.OK,
            f"The IOMMU stays on, as it should here: amd_iommu=off would be ~5 % faster for the "
            f"GPU, but {' and '.join(costs)}.",
            tuple(items),
        )
    current = "iommu=pt" if mode == "pt" else "the IOMMU on"
    return Outcome(
        Verdict.ADVISORY,
        f"With {current}, GPU memory bandwidth is lower: amd_iommu=off measured 5–12 % faster "
        "(kyuz0) and iommu=pt gives no such benefit (lhl). Add amd_iommu=off unless you need "
        "VFIO/PCI passthrough or the NPU.",
        tuple(items),
        fix={},
    )


@check_kind("sysctl", requires=("key", "expected", "why"), provides=("key", "value"))
def sysctl(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    key = params["key"]
    want = str(params["expected"])
    reading = facts.sysctl.get(key)
    item = evidence(key, reading)
    if reading is None or isinstance(reading, Unavailable):
        if isinstance(reading, Unavailable) and reading.reason.value == "missing":
            return Outcome(Verdict.NOT_APPLICABLE, f"{key} does not exist on this kernel.", (item,))
        return unknown(f"{key} could not be read.", item)
    if reading.value == want:
        return Outcome(Verdict.OK, f"{key} = {want}.", (item,))
    return Outcome(
        Verdict.PROBLEM,
        f"{key} = {reading.value}; {params['why']} Set it to {want}.",
        (item,),
        fix={"key": key, "value": want},
    )


def _arg_value(argv: tuple[str, ...], flags: list[str]) -> str | None:
    """The value of the last of ``flags`` in argv (``--flag value`` or ``--flag=value``)."""
    found = None
    for i, arg in enumerate(argv):
        for flag in flags:
            if arg == flag and i + 1 < len(argv):
                found = argv[i + 1]
            elif arg.startswith(flag + "="):
                found = arg.split("=", 1)[1]
    return found


def _vllm_model(argv: tuple[str, ...]) -> str | None:
    """The model vLLM serves: ``vllm serve MODEL`` or ``--model MODEL``."""
    model = _arg_value(argv, ["--model"])  # not -m: that is python's "-m vllm...."
    if model:
        return model
    for i, arg in enumerate(argv[:-1]):
        if arg == "serve" and not argv[i + 1].startswith("-"):
            return argv[i + 1]
    return None


@check_kind("vllm-env", requires=("env", "args"))
def vllm_env(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """vLLM's environment and arguments on gfx1151: settings current vLLM ignores or that hurt."""
    procs = _processes(facts, "vllm")
    if not procs:
        return Outcome(
            Verdict.NOT_APPLICABLE,
            "No vLLM process is running and no --env-file was given.",
        )
    items: list[Evidence] = []
    problems: list[str] = []
    notes: list[str] = []
    env_specs: dict[str, Any] = params["env"]
    for proc in procs:
        if isinstance(proc.environ, Unavailable):
            items.append(evidence(f"{_who(proc)} environment", proc.environ))
        else:
            env = proc.environ.value
            for name, spec in env_specs.items():
                value = env.get(name)
                if value is None or ("value" in spec and value != spec["value"]):
                    continue
                items.append(
                    Evidence(_who(proc), f"{name}={value}", proc.environ.source, spec["reference"])
                )
                text = f"{_who(proc)}: {name}={value}: {spec['why']}"
                (problems if spec.get("warn", True) else notes).append(text)
        for spec in params["args"]:
            if "flags" in spec:
                value = _arg_value(proc.argv, spec["flags"])
                shown = f"{spec['flags'][0]} {value}"
            else:
                value = _vllm_model(proc.argv)
                shown = f"model {value}"
            if value and re.search(spec["pattern"], value):
                items.append(Evidence(_who(proc), shown, proc.source, spec["reference"]))
                problems.append(f"{_who(proc)}: {shown}: {spec['why']}")
    if problems:
        return Outcome(Verdict.ADVISORY, " ".join(problems + notes), tuple(items))
    unreadable = _unreadable(procs)
    if unreadable:
        return unknown(
            f"The environment of {', '.join(unreadable)} could not be read; run as root.", *items
        )
    return Outcome(
        Verdict.OK,
        "vLLM runs without settings that current vLLM ignores or that fail on gfx1151"
        + (f" (notes: {' '.join(notes)})" if notes else "")
        + ".",
        tuple(items),
    )


@check_kind("open-files", requires=("min_nofile", "vmm_settings"))
def open_files(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """PyTorch's expandable segments use HIP VMM, one dmabuf file descriptor per handle."""
    items: list[Evidence] = []
    low: list[str] = []
    users = 0
    for proc in _processes(facts):
        env = value_or(proc.environ, {})
        setting = next(
            (
                f"{k}={env[k]}"
                for k in params["vmm_settings"]
                if "expandable_segments:true" in env.get(k, "").lower().replace(" ", "")
            ),
            None,
        )
        if setting is None or proc.nofile is None:
            continue
        users += 1
        items.append(
            Evidence(
                _who(proc),
                setting,
                proc.environ.source if isinstance(proc.environ, Value) else proc.source,
            )
        )
        items.append(evidence(f"{_who(proc)} Max open files", proc.nofile))
        if isinstance(proc.nofile, Value) and proc.nofile.value < int(params["min_nofile"]):
            low.append(f"{_who(proc)} ({proc.nofile.value})")
    if low:
        return Outcome(
            Verdict.ADVISORY,
            f"Expandable segments (HIP VMM) with a low open-files limit: {', '.join(low)}. Each "
            "hipMemCreate handle holds a dmabuf file descriptor, so the stock 1024 caps VMM "
            "memory near 2 GiB per process (rocm-systems#10604). Raise LimitNOFILE (or ulimit "
            f"-n) to {params['min_nofile']} or more.",
            tuple(items),
        )
    if not users:
        return Outcome(
            Verdict.NOT_APPLICABLE,
            "No inference process uses PyTorch's expandable segments (HIP VMM).",
        )
    return Outcome(
        Verdict.OK,
        f"{users} process(es) with expandable segments have at least {params['min_nofile']} "
        "open files.",
        tuple(items),
    )
