"""ROCm userspace, distribution packages, rocminfo, a Python environment's PyTorch/vLLM, and
running inference processes (facts §7)."""

from __future__ import annotations

import json

from hostcheck.facts import InferenceProcess, PythonEnv, SoftwareFacts
from hostcheck.host import Host, Started
from hostcheck.parsers import ParseError, RocmInfo, parse_dpkg_status, parse_rocminfo
from hostcheck.probes._common import parse_reading, read_parsed, read_stripped
from hostcheck.readings import Reason, Unavailable, Value

ROCM_VERSION_FILES = ("/opt/rocm/.info/version", "/opt/rocm/.info/version-rocm")
PYTHON_MARKER = "HOSTCHECK-PYTHON-ENV "

# Runs inside the interpreter given with --python. Importing torch may print; the result is
# the last line that starts with the marker.
PYTHON_PROBE = r"""
import json, sys
from importlib import metadata
def ver(*names):
    for name in names:
        try:
            return metadata.version(name)
        except Exception:
            pass
    return None
out = {"interpreter": sys.executable, "vllm": ver("vllm"),
       "rocm_sdk": ver("rocm-sdk-core", "rocm"), "arch_list": []}
try:
    import torch
    out["torch"] = torch.__version__
    out["hip"] = getattr(torch.version, "hip", None)
    try:
        out["arch_list"] = list(torch.cuda.get_arch_list())
    except Exception:
        pass
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        out["device_name"] = p.name
        out["gcn_arch"] = getattr(p, "gcnArchName", None)
        out["total_memory"] = int(p.total_memory)
except Exception as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
print("HOSTCHECK-PYTHON-ENV " + json.dumps(out))
"""


def _rocm_version(
    host: Host, packages: Value[dict[str, str]] | Unavailable
) -> Value[str] | Unavailable:
    first: Unavailable | None = None
    for path in ROCM_VERSION_FILES:
        version = read_stripped(host, path)
        if isinstance(version, Value):
            return Value(version.value.split("-")[0], version.source)
        first = first or version
    if isinstance(packages, Value) and "rocm-core" in packages.value:
        # rocm-core 7.0.0.70000-17~24.04 -> 7.0.0
        raw = packages.value["rocm-core"]
        return Value(".".join(raw.split("-")[0].split(".")[:3]), f"dpkg: rocm-core {raw}")
    assert first is not None
    return first


def _parse_python_env(text: str) -> PythonEnv:
    for line in reversed(text.splitlines()):
        if line.startswith(PYTHON_MARKER):
            data = json.loads(line[len(PYTHON_MARKER) :])
            if not isinstance(data, dict):
                break
            return PythonEnv(
                interpreter=str(data.get("interpreter", "")),
                torch=data.get("torch"),
                hip=data.get("hip"),
                arch_list=[str(a) for a in data.get("arch_list") or []],
                device_name=data.get("device_name"),
                gcn_arch=data.get("gcn_arch"),
                total_memory=data.get("total_memory"),
                vllm=data.get("vllm"),
                rocm_sdk=data.get("rocm_sdk"),
                error=data.get("error"),
            )
    raise ParseError("the interpreter did not print hostcheck's probe result")


def probe_python(host: Host, interpreter: str) -> Value[PythonEnv] | Unavailable:
    return python_answer(start_python(host, interpreter), interpreter)


def start_python(host: Host, interpreter: str) -> Started:
    """Start the --python probe (importing torch takes seconds); see :func:`python_answer`."""
    return host.start(
        "python-env",
        [interpreter, "-I", "-c", PYTHON_PROBE],
        timeout=120,
        display=f"{interpreter} -I -c <hostcheck's torch probe>",
    )


def python_answer(started: Started, interpreter: str) -> Value[PythonEnv] | Unavailable:
    done = started.result()
    if not isinstance(done, Value):
        return done
    if done.value.returncode != 0 and PYTHON_MARKER not in done.value.stdout:
        err = (done.value.stderr.strip().splitlines() or ["no output"])[-1]
        return Unavailable(Reason.ERROR, done.source, f"exit status {done.value.returncode}: {err}")
    return parse_reading(Value(done.value.stdout, f"{interpreter} -c <probe>"), _parse_python_env)


def _start_rocminfo(host: Host) -> Started:
    """rocminfo from /opt/rocm/bin, else from PATH (a missing program is known at once)."""
    started = host.start("rocminfo", ("/opt/rocm/bin/rocminfo",), timeout=30)
    known = started.known()
    if isinstance(known, Unavailable) and known.reason == Reason.MISSING:
        started = host.start("rocminfo", ("rocminfo",), timeout=30)
    return started


def _rocminfo(started: Started) -> Value[RocmInfo] | Unavailable:
    done = started.result()
    if isinstance(done, Unavailable):
        return done
    if done.value.returncode != 0:
        err = (done.value.stderr.strip().splitlines() or ["no output"])[-1]
        return Unavailable(Reason.ERROR, done.source, err)
    return parse_reading(Value(done.value.stdout, done.source), parse_rocminfo)


# The distribution packages the rules look at (dpkg names; Fedora's come from `rpm -q`).
RELEVANT_PACKAGES = ("rocm", "hip-runtime-amd", "hsa-rocr", "amdgpu-dkms", "linux-firmware")


def _relevant_packages(text: str) -> dict[str, str]:
    return {
        name: version
        for name, version in parse_dpkg_status(text).items()
        if name.startswith(RELEVANT_PACKAGES)
    }


def probe_software(host: Host, python: str | None, gpu_found: bool = True) -> SoftwareFacts:
    started = start_python(host, python) if python else None
    return start_software(host, started, python, gpu_found).result()


class StartedSoftware:
    """The software probes, their commands running; ``result()`` waits for them."""

    def __init__(
        self,
        host: Host,
        python: tuple[Started, str] | None,
        rpm: Started | None,
        rocminfo: Started | None,
    ) -> None:
        self._host, self._python, self._rpm, self._rocminfo = host, python, rpm, rocminfo

    def result(self) -> SoftwareFacts:
        host = self._host
        packages = read_parsed(host, "/var/lib/dpkg/status", _relevant_packages)
        rpm = (
            self._rpm.result()
            if self._rpm is not None
            else Unavailable(Reason.NOT_RUN, "rpm -q linux-firmware", "no Strix Halo GPU")
        )
        rpm_firmware: Value[str] | Unavailable
        if isinstance(rpm, Value):
            if rpm.value.returncode == 0 and rpm.value.stdout.strip():
                rpm_firmware = Value(rpm.value.stdout.strip().splitlines()[0], rpm.source)
            else:
                rpm_firmware = Unavailable(Reason.MISSING, rpm.source, rpm.value.stdout.strip())
        else:
            rpm_firmware = rpm
        return SoftwareFacts(
            rocm_version=_rocm_version(host, packages),
            packages=packages,
            rpm_firmware=rpm_firmware,
            rocminfo=_rocminfo(self._rocminfo)
            if self._rocminfo is not None
            else Unavailable(Reason.NOT_RUN, "rocminfo", "no Strix Halo GPU"),
            mes_firmware_overrides=[
                path.rsplit("/", 1)[-1]
                for path in host.glob("/lib/firmware/updates/amdgpu", "gc_11_5_1_mes*")
            ],
            python=python_answer(*self._python) if self._python else None,
        )


def start_software(
    host: Host, python: Started | None, interpreter: str | None, gpu_found: bool
) -> StartedSoftware:
    """ROCm, packages and tools. Without a Strix Halo GPU, no rule needs rocminfo or rpm, so
    they are not run (rocminfo can take seconds); with one, both start now. ``python`` is
    the --python probe, started earlier (it needs nothing the other probes find)."""
    rpm = (
        host.start("rpm-linux-firmware", ["rpm", "-q", "linux-firmware"], timeout=20)
        if gpu_found
        else None
    )
    rocminfo = _start_rocminfo(host) if gpu_found else None
    python_probe = (python, interpreter) if python is not None and interpreter else None
    return StartedSoftware(host, python_probe, rpm, rocminfo)


def _inference_kind(argv: tuple[str, ...]) -> str | None:
    """vLLM or llama.cpp, from the first words of a command line (interpreter, script, -m)."""
    names = [part.rsplit("/", 1)[-1] for part in argv[:3]]
    if any(name.startswith("llama-") for name in names[:2]):
        return "llama.cpp"
    if "vllm" in names or any(part.startswith("vllm.entrypoints") for part in argv[:4]):
        return "vllm"
    return None


def probe_processes(host: Host) -> Value[list[InferenceProcess]] | Unavailable:
    source = "/proc/*/cmdline" + (" (pids from psutil)" if host.live else "")
    found = []
    try:
        for proc in host.processes(lambda argv: _inference_kind(argv) is not None):
            kind = _inference_kind(proc.cmdline)
            assert kind is not None
            environ: Value[dict[str, str]] | Unavailable = (
                proc.environ
                if isinstance(proc.environ, Unavailable)
                else Value(proc.environ, f"/proc/{proc.pid}/environ")
            )
            found.append(
                InferenceProcess(kind, proc.pid, proc.cmdline, environ, f"/proc/{proc.pid}/cmdline")
            )
    except OSError as exc:
        return Unavailable(Reason.ERROR, source, str(exc))
    return Value(found, source)
