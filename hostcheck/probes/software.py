"""ROCm userspace, distribution packages, rocminfo, a Python environment's PyTorch/vLLM, and
running inference processes (facts §7)."""

from __future__ import annotations

import re

from hostcheck.facts import InferenceProcess, PythonEnv, SoftwareFacts
from hostcheck.host.commands import Started
from hostcheck.host.core import Host
from hostcheck.host.safeio import parse_json_text
from hostcheck.parse.rocm import RocmInfo, parse_rocminfo
from hostcheck.parse.text import ParseError, parse_dpkg_status
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
    names = {(d.metadata.get("Name") or "").lower().replace("_", "-")
             for d in metadata.distributions()}
    out["device_packs"] = sorted(n for n in names if "-device-gfx" in n)
except Exception:
    pass
try:
    import torch
    out["torch"] = torch.__version__
    out["hip"] = getattr(torch.version, "hip", None)
    try:
        out["arch_list"] = list(torch.cuda.get_arch_list())
    except Exception:
        pass
    try:
        out["blas"] = str(torch.backends.cuda.preferred_blas_library())
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


_VERSION = r"[0-9]+(?:\.[0-9]+)*(?:[.+\-_a-zA-Z0-9]*)"  # compiled on first use
MAX_GPU_MEMORY = 2**52  # bytes: 4 PiB, more than any address space; above it is damage


def _text_field(data: dict[str, object], name: str, pattern: str | None = None) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise ParseError(f"{name}: expected a string, got {str(value)[:40]!r}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise ParseError(f"{name}: {value[:40]!r} is not a version")
    return value


def _parse_python_env(text: str) -> PythonEnv:
    """The probe's result line, every field checked for its type (a recorded line is
    untrusted input: "torch": "banana" is no version, a total_memory of 1e400 no size)."""
    for line in reversed(text.splitlines()):
        if line.startswith(PYTHON_MARKER):
            data = parse_json_text(line[len(PYTHON_MARKER) :], what="probe result", expect=dict)

            arch_list = data.get("arch_list") or []
            if not isinstance(arch_list, list) or not all(isinstance(a, str) for a in arch_list):
                raise ParseError(
                    f"arch_list: expected a list of strings, got {str(arch_list)[:40]}"
                )
            packs = data.get("device_packs")
            if packs is not None and (
                not isinstance(packs, list)
                or not all(isinstance(p, str) and len(p) <= 200 for p in packs)
            ):
                raise ParseError(f"device_packs: expected a list of names, got {str(packs)[:40]}")
            total = data.get("total_memory")
            if total is not None and (
                isinstance(total, bool)
                or not isinstance(total, int)
                or not 0 < total <= MAX_GPU_MEMORY
            ):
                raise ParseError(f"total_memory: {str(total)[:40]} is not a memory size in bytes")
            return PythonEnv(
                interpreter=_text_field(data, "interpreter") or "",
                torch=_text_field(data, "torch", _VERSION),
                hip=_text_field(data, "hip", _VERSION),
                arch_list=list(arch_list),
                device_name=_text_field(data, "device_name"),
                gcn_arch=_text_field(data, "gcn_arch"),
                total_memory=total,
                vllm=_text_field(data, "vllm", _VERSION),
                rocm_sdk=_text_field(data, "rocm_sdk", _VERSION),
                blas=_text_field(data, "blas"),
                error=_text_field(data, "error"),
                device_packs=list(packs) if packs is not None else None,
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
RELEVANT_PACKAGES = (
    "rocm", "hip-runtime-amd", "hsa-rocr", "amdgpu-dkms", "linux-firmware", "firmware-amd-graphics",
    "libamdhip64",  # Debian's and Ubuntu's own HIP runtime (libamdhip64-5, libamdhip64-7)
)  # fmt: skip

# Where the kernel looks for amdgpu firmware, in its order (updates first); the MES blob of
# gfx1151 and the packages that ship it per distribution (Debian firmware-amd-graphics, Ubuntu
# linux-firmware or amdgpu-dkms-firmware, Fedora 43 amd-gpu-firmware, Arch linux-firmware-amdgpu).
FIRMWARE_DIRS = ("/lib/firmware/updates/amdgpu", "/lib/firmware/amdgpu")
MES_BLOB = "gc_11_5_1_mes_2.bin*"
FIRMWARE_PACKAGES = (
    "firmware-amd-graphics", "linux-firmware", "amdgpu-dkms-firmware", "amd-gpu-firmware",
    "linux-firmware-amdgpu",
)  # fmt: skip


def _mes_firmware_file(host: Host) -> Value[str] | Unavailable:
    for directory in FIRMWARE_DIRS:
        found = sorted(host.glob(directory, MES_BLOB))
        if found:
            return Value(found[0], directory)
    return Unavailable(Reason.MISSING, " ".join(FIRMWARE_DIRS), f"no {MES_BLOB}")


def _pacman_packages(host: Host) -> dict[str, tuple[str, str]]:
    """Arch: name -> (version, local database directory) of the firmware packages."""
    found = {}
    for path in host.glob("/var/lib/pacman/local", "linux-firmware*"):
        entry = path.rsplit("/", 1)[-1]
        name, _, version = entry.rpartition("-")[0].rpartition("-")
        release = entry.rsplit("-", 1)[-1]
        if name in FIRMWARE_PACKAGES:
            found[name] = (f"{version}-{release}", path)
    return found


def _firmware_owner(
    host: Host, path: str, pacman: dict[str, tuple[str, str]], rpm_qf: Started | None
) -> Value[str] | Unavailable:
    """The package that owns a firmware file: dpkg's file lists, pacman's, or `rpm -qf`
    (started with the other commands, see start_software)."""
    relative = path.lstrip("/")
    for name in FIRMWARE_PACKAGES:
        listing = host.read_text(f"/var/lib/dpkg/info/{name}.list")
        if isinstance(listing, Value):
            lines = set(listing.value.splitlines())
            if path in lines or path.replace("/lib/", "/usr/lib/", 1) in lines:
                return Value(name, listing.source)
    for name, (_, directory) in pacman.items():
        files = host.read_text(f"{directory}/files")
        if isinstance(files, Value) and (
            relative in files.value or relative.replace("lib/", "usr/lib/", 1) in files.value
        ):
            return Value(name, files.source)
    if rpm_qf is None:
        return Unavailable(Reason.NOT_RUN, "rpm -qf", "no MES firmware file")
    done = rpm_qf.result()
    if isinstance(done, Value):
        out = done.value.stdout.strip()
        if done.value.returncode == 0 and out and "not owned" not in out:
            return Value(out.splitlines()[0], done.source)
        return Unavailable(Reason.MISSING, done.source, out or "not owned by a package")
    return done


def _firmware_packages(
    host: Host,
    packages: Value[dict[str, str]] | Unavailable,
    rpm: Value[str] | Unavailable,
    pacman: dict[str, tuple[str, str]],
    rpm_amd: Started | None,
) -> dict[str, Value[str]]:
    found: dict[str, Value[str]] = {}
    if isinstance(packages, Value):
        for name in FIRMWARE_PACKAGES:
            if name in packages.value:
                found[name] = Value(packages.value[name], "/var/lib/dpkg/status")
    if isinstance(rpm, Value):
        found["linux-firmware"] = rpm
    done = (
        rpm_amd.result()
        if rpm_amd is not None
        else Unavailable(Reason.NOT_RUN, "rpm -q amd-gpu-firmware", "no Strix Halo GPU")
    )
    if isinstance(done, Value) and done.value.returncode == 0 and done.value.stdout.strip():
        found["amd-gpu-firmware"] = Value(done.value.stdout.strip().splitlines()[0], done.source)
    for name, (version, directory) in pacman.items():
        found[name] = Value(version, directory)
    return found


def _relevant_packages(text: str) -> dict[str, str]:
    return {
        name: version
        for name, version in parse_dpkg_status(text).items()
        if name.startswith(RELEVANT_PACKAGES)
    }


class StartedSoftware:
    """The software probes, their commands running; ``result()`` waits for them."""

    def __init__(
        self,
        host: Host,
        python: tuple[Started, str] | None,
        rpm: Started | None,
        rocminfo: Started | None,
        firmware: tuple[Value[str] | Unavailable, Started | None, Started | None] | None = None,
    ) -> None:
        self._host, self._python, self._rpm, self._rocminfo = host, python, rpm, rocminfo
        # the MES blob the next boot loads, `rpm -qf` of it, `rpm -q amd-gpu-firmware`
        self._firmware = firmware

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
        gpu_found = self._firmware is not None  # the firmware probes run only with the GPU
        pacman = _pacman_packages(host) if gpu_found else {}
        mes_file, rpm_qf, rpm_amd = self._firmware or (
            Unavailable(Reason.NOT_RUN, "/lib/firmware", "no Strix Halo GPU"),
            None,
            None,
        )
        owner = (
            _firmware_owner(host, mes_file.value, pacman, rpm_qf)
            if isinstance(mes_file, Value)
            else mes_file
        )
        if rpm_qf is not None:
            rpm_qf.result()  # reaped (and recorded) even where a package database answered
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
            mes_firmware_file=mes_file,
            mes_firmware_owner=owner,
            firmware_packages=_firmware_packages(host, packages, rpm_firmware, pacman, rpm_amd)
            if gpu_found
            else {},
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
    firmware = None
    if gpu_found:
        mes_file = _mes_firmware_file(host)
        rpm_qf = (
            host.start("rpm-qf-mes-firmware", ["rpm", "-qf", mes_file.value], timeout=20)
            if isinstance(mes_file, Value)
            else None
        )
        rpm_amd = host.start("rpm-amd-gpu-firmware", ["rpm", "-q", "amd-gpu-firmware"], timeout=20)
        firmware = (mes_file, rpm_qf, rpm_amd)
    return StartedSoftware(host, python_probe, rpm, rocminfo, firmware)


def _inference_kind(argv: tuple[str, ...]) -> str | None:
    """vLLM, llama.cpp, ollama or a ComfyUI-style Python service, from the first words of a
    command line (interpreter, script, -m). The tuning rules look at vLLM and llama.cpp; the
    stack probe at all of them (what they have loaded tells the backend)."""
    names = [part.rsplit("/", 1)[-1] for part in argv[:3]]
    if any(name.startswith("llama-") for name in names[:2]):
        return "llama.cpp"
    if "vllm" in names or any(part.startswith("vllm.entrypoints") for part in argv[:4]):
        return "vllm"
    if names[0] == "ollama" and "serve" in argv[1:3]:
        return "ollama"
    if names[0].startswith("python") and any("comfyui" in part.lower() for part in argv[1:3]):
        return "comfyui"
    return None


def _open_files_limit(text: str) -> int:
    """The soft limit of the "Max open files" line of /proc/PID/limits."""
    for line in text.splitlines():
        if line.startswith("Max open files"):
            soft = line[len("Max open files") :].split()[0]
            return 2**63 if soft == "unlimited" else int(soft)
    raise ValueError("no 'Max open files' line")


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
                InferenceProcess(
                    kind,
                    proc.pid,
                    proc.cmdline,
                    environ,
                    f"/proc/{proc.pid}/cmdline",
                    read_parsed(host, f"/proc/{proc.pid}/limits", _open_files_limit),
                )
            )
    except OSError as exc:
        return Unavailable(Reason.ERROR, source, str(exc))
    return Value(found, source)
