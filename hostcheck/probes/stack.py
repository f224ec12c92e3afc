"""Where the inference stack lives: the host's ROCm (wherever the distribution put it), the
ROCm / PyTorch / vLLM / llama.cpp backend of running inference processes (their loaded
libraries and their own root, which is a container's filesystem for a containerised service),
a Python environment given with --python, and a declared workload.

Every located component says where it lives and how it was found. From them follow the
backend the host serves with (ROCm or Vulkan) and the kind of node judged: a host whose stack
is its own, or a container node whose ROCm comes with the images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hostcheck.facts import InferenceProcess, SoftwareFacts, StackComponent, StackFacts, Workload
from hostcheck.host.core import Host
from hostcheck.parse.text import digit_run
from hostcheck.readings import Reason, Unavailable, Value

# Distribution library directories searched for the HIP runtime when neither /opt/rocm nor a
# package database names a ROCm (Fedora /usr/lib64, Debian/Ubuntu multiarch, Arch /usr/lib).
LIBRARY_DIRS = ("/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib")
RPM_PACKAGES = ("rocm-core", "rocm-runtime", "rocm-hip", "hip-runtime-amd")
MAPS_LIMIT = 8 * 1024 * 1024  # ~80,000 mappings; a larger map is not read (bounded)
MAX_PROCESSES = 32  # inference processes whose maps and root are read

# What tells a container runtime or kubelet runs here (a socket, or the node's config).
RUNTIME_MARKERS = (
    ("kubelet", "/var/lib/kubelet/config.yaml"),
    ("kubelet", "/etc/kubernetes/kubelet.conf"),
    ("CRI-O", "/run/crio/crio.sock"),
    ("containerd", "/run/containerd/containerd.sock"),
    ("docker", "/run/docker.sock"),
    ("docker", "/var/run/docker.sock"),
    ("podman", "/run/podman/podman.sock"),
)


def maps_library(line: str) -> bool:
    """Whether a /proc/PID/maps line maps a file that tells which GPU stack the process runs
    on: libamdhip64.so[0-9.]*, libhsa-runtime64.so[0-9.]*, libggml-{hip,vulkan}*.so*,
    libtorch_hip.so or libvulkan_radeon.so, as the last part of its path. By str methods,
    as the regex /(...)$ that tests/probes/test_probe_tokens.py keeps is found in the line
    (a scan compiles no pattern for it; $ also before a final newline)."""
    slash = line.rfind("/")
    if slash < 0:
        return False
    name = line[slash + 1 :]
    return _library_name(name) or (name.endswith("\n") and _library_name(name[:-1]))


def _library_name(name: str) -> bool:
    if name in ("libtorch_hip.so", "libvulkan_radeon.so"):
        return True
    for prefix in ("libamdhip64.so", "libhsa-runtime64.so"):
        if name.startswith(prefix):
            return not name[len(prefix) :].strip("0123456789.")
    for prefix in ("libggml-hip", "libggml-vulkan"):
        if name.startswith(prefix):
            return name.find(".so", len(prefix)) >= 0
    return False


# /proc/PID/cgroup: the runtime's scope or directory, with the container id; each with the
# literal every match holds, so a host process's cgroup compiles none of the patterns.
_CGROUP = (
    ("docker", "docker", r"docker[-/]([0-9a-f]{12,64})"),
    ("podman", "libpod-", r"libpod-(?!conmon)([0-9a-f]{12,64})"),
    ("CRI-O", "crio-", r"crio-(?!conmon)([0-9a-f]{12,64})"),
    ("containerd", "cri-containerd-", r"cri-containerd-([0-9a-f]{12,64})"),
    ("kubepods", "kubepods", r"kubepods.*?/([0-9a-f]{64})"),
)


def rocm_from_library(name: str) -> tuple[str, bool] | None:
    """ROCm's version from ``libamdhip64.so.X.Y.Z``: AMD's builds encode the ROCm release in
    Z (``.so.7.2.70201`` is ROCm 7.2.1); distributions build HIP with another patch number,
    so only X.Y is told. Returns (version, exact)."""
    match = re.search(r"libamdhip64\.so\.([0-9]+)\.([0-9]+)(?:\.([0-9]+))?", name)
    if not match:
        return None
    major, minor, patch = match[1], match[2], match[3]
    if patch and len(patch) == 5 and patch.startswith(f"{major}{int(minor):02d}"):
        return f"{major}.{minor}.{int(patch[-2:])}", True
    return f"{major}.{minor}", False


def _archive_hip(name: str) -> bool:
    """Whether a package is Debian's HIP runtime, ``libamdhip64-[0-9]+`` (fullmatched, by str
    methods: tests/probes/test_probe_tokens.py)."""
    return name.startswith("libamdhip64-") and digit_run(name, 12) == len(name) - 12 > 0


def _version_in_name(name: str, prefix: str) -> str | None:
    """``rocm-core-7.2.0-1`` -> ``7.2.0``; ``vllm-0.11.2.dist-info`` -> ``0.11.2``."""
    rest = name[len(prefix) :] if name.startswith(prefix) else ""
    match = re.match(r"([0-9][0-9A-Za-z.+]*?)(?:-[0-9]+)?(?:\.dist-info)?$", rest)
    return match[1] if match else None


def _host_rocm(host: Host, software: SoftwareFacts, gpu_found: bool) -> list[StackComponent]:
    """The host's own ROCm, the first of: /opt/rocm/.info/version or dpkg (as before), pacman,
    rpm, the HIP runtime's library file or its CMake version file in the library paths."""
    found: list[StackComponent] = []
    pacman = [
        (path, version)
        for path in host.glob("/var/lib/pacman/local", "rocm-core-*")
        if (version := _version_in_name(path.rsplit("/", 1)[-1], "rocm-core-"))
    ]
    rocm = software.rocm_version
    if isinstance(rocm, Value):
        how = "dpkg" if rocm.source.startswith("dpkg") else ".info/version"
        # Arch's own rocm-core installs /opt/rocm/.info/version too: the distribution's build
        # (https://archlinux.org/packages/extra/any/rocm-core/files/), not AMD's.
        origin = "distribution" if pacman and how == ".info/version" else "amd"
        detail = f"package {pacman[0][0].rsplit('/', 1)[-1]} (pacman)" if pacman else ""
        found.append(StackComponent("rocm", rocm.value, "host", rocm.source, how, origin, detail))
    for path in host.glob("/opt", "rocm-*"):
        version = _version_in_name(path.rsplit("/", 1)[-1], "rocm-")
        found.append(StackComponent("rocm-install", version, "host", path, "directory name", "amd"))
    if found and found[0].name == "rocm":
        return found
    for path, version in pacman:
        return [
            StackComponent("rocm", version, "host", path, "pacman", "distribution"),
            *found,
        ]
    # Debian's and Ubuntu's archive HIP runtime (libamdhip64-7 7.1.0-0ubuntu2 on Ubuntu 26.04,
    # https://packages.ubuntu.com/resolute/libamdhip64-7): its version is the ROCm release.
    packages = software.packages.value if isinstance(software.packages, Value) else {}
    for name, raw in sorted(packages.items(), reverse=True):
        if not _archive_hip(name):  # first: the version's pattern is compiled only for it
            continue
        match = re.fullmatch(r"(?:[0-9]+:)?([0-9]+\.[0-9]+(?:\.[0-9]+)?)(?:[-+~].*)?", raw)
        if match:
            return [
                StackComponent(
                    "rocm", match[1], "host", f"dpkg: {name} {raw}", "dpkg", "distribution"
                ),
                *found,
            ]
    if gpu_found:
        done = host.run("rpm-rocm", ["rpm", "-q", *RPM_PACKAGES], timeout=20)
        if isinstance(done, Value):
            for line in done.value.stdout.splitlines():
                name = line.strip()
                if not name.startswith(RPM_PACKAGES[0] + "-"):
                    continue
                version = name[len("rocm-core-") :].split("-")[0]
                # AMD's own RPMs carry the encoded release (7.2.1.70201); Fedora's do not.
                origin = "amd" if re.fullmatch(r"[0-9.]+\.[0-9]{5}", version) else "distribution"
                short = ".".join(version.split(".")[:3])
                return [
                    StackComponent("rocm", short, "host", f"rpm: {name}", "rpm", origin),
                    *found,
                ]
    for directory in LIBRARY_DIRS:
        for path in sorted(host.glob(directory, "libamdhip64.so.*"), key=len, reverse=True):
            parsed = rocm_from_library(path)
            if parsed:
                return [
                    StackComponent("rocm", parsed[0], "host", path, "library name", "distribution"),
                    *found,
                ]
        cmake = host.read_text(f"{directory}/cmake/hip/hip-config-version.cmake")
        if isinstance(cmake, Value):
            match = re.search(r'PACKAGE_VERSION\s+"([0-9]+)\.([0-9]+)', cmake.value)
            if match:
                version = f"{match[1]}.{match[2]}"
                return [
                    StackComponent("rocm", version, "host", cmake.source, "cmake", "distribution"),
                    *found,
                ]
    return found


def parse_cgroup(text: str) -> tuple[str, str] | None:
    """(runtime, short container id) of a process from /proc/PID/cgroup, or None (the host)."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        for runtime, literal, pattern in _CGROUP:
            match = re.search(pattern, path) if literal in path else None
            if match:
                return runtime, match[1][:12]
    return None


def _torch_version(text: str) -> tuple[str | None, str | None]:
    """``__version__`` and ``hip`` from torch/version.py."""

    def field(name: str) -> str | None:
        match = re.search(rf"^{name}\s*(?::\s*[^=]+)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
        return match[1] if match else None

    return field("__version__"), field("hip")


def _process_stack(
    host: Host, proc: InferenceProcess, unreadable: list[Unavailable]
) -> tuple[list[StackComponent], str | None, str]:
    """What one inference process runs on: components, its backend ("rocm", "vulkan" or
    None) and where it lives (a container, or the pid)."""
    pid = proc.pid
    where = f"pid {pid}"
    container = None
    cgroup = host.read_text(f"/proc/{pid}/cgroup", limit=64 * 1024)
    if isinstance(cgroup, Value):
        container = parse_cgroup(cgroup.value)
        if container:
            where = f"{container[0]} {container[1]} (pid {pid})"
    maps = host.read_lines(f"/proc/{pid}/maps", maps_library, limit=MAPS_LIMIT)
    paths: list[str] = []
    if isinstance(maps, Value):
        for line in maps.value:
            fields = line.split(None, 5)
            if len(fields) == 6:
                path = fields[5].removesuffix(" (deleted)")
                if path not in paths:
                    paths.append(path)
    elif maps.reason is not Reason.MISSING or host.live:
        detail = maps.detail or ("the process ended during the scan" if host.live else "")
        unreadable.append(Unavailable(maps.reason, maps.source, detail))
    components: list[StackComponent] = []
    maps_source = f"/proc/{pid}/maps"
    backend: str | None = "rocm" if proc.kind == "vllm" else None
    rocm_dirs: list[str] = []
    site_packages: list[str] = []
    hip_from_maps: tuple[str, bool, str] | None = None
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if name.startswith("libggml-vulkan") or name == "libvulkan_radeon.so":
            backend = backend or "vulkan"
            if name.startswith("libggml-vulkan"):
                components.append(
                    StackComponent("llama.cpp", None, where, path, maps_source, "", "vulkan")
                )
        elif name.startswith("libggml-hip"):
            backend = "rocm"
            components.append(
                StackComponent("llama.cpp", None, where, path, maps_source, "", "hip")
            )
        elif name.startswith(("libamdhip64", "libhsa-runtime64")):
            backend = "rocm"
            lib_dir = path.rsplit("/", 1)[0]
            if lib_dir.endswith("/lib") and "site-packages" not in lib_dir:
                rocm_dirs.append(lib_dir[: -len("/lib")])
            parsed = rocm_from_library(name)
            if parsed and hip_from_maps is None:
                hip_from_maps = (parsed[0], parsed[1], path)
        elif name == "libtorch_hip.so" and "/torch/lib/" in path:
            backend = "rocm"
            site_packages.append(path.split("/torch/lib/", 1)[0])
    if backend == "vulkan" and any(c.detail == "hip" for c in components):
        backend = "rocm"
    # The ROCm in the process's own root: its /opt/rocm (a container's), the directory its
    # HIP library came from, or ROCM_PATH from its environment.
    candidates = list(dict.fromkeys(rocm_dirs))
    env = proc.environ.value if isinstance(proc.environ, Value) else {}
    if env.get("ROCM_PATH", "").startswith("/"):
        candidates.append(env["ROCM_PATH"].rstrip("/"))
    if container is not None or not rocm_dirs:
        candidates.append("/opt/rocm")
    rocm_found = False
    for directory in dict.fromkeys(candidates):
        text = host.read_in_process(pid, f"{directory}/.info/version", limit=4096)
        if isinstance(text, Value) and text.value.strip():
            # "7.2.1-81": the release, and nothing else a planted file may append (escapes).
            release = re.match(r"\s*([0-9]+(?:\.[0-9]+)+(?:[a-z]+[0-9]+)?)", text.value)
            if release is None:
                unreadable.append(
                    Unavailable(Reason.ERROR, text.source, "not a ROCm version; ignored")
                )
                continue
            components.append(
                StackComponent(
                    "rocm", release[1], where, f"{directory}/.info/version", "/proc/PID/root"
                )
            )
            rocm_found = True
            break
        if isinstance(text, Unavailable) and text.reason not in (Reason.MISSING,):
            unreadable.append(text)
    if not rocm_found and hip_from_maps is not None:
        version, exact, path = hip_from_maps
        origin = "therock" if "_rocm_sdk" in path else ("amd" if exact else "distribution")
        components.append(StackComponent("rocm", version, where, path, maps_source, origin))
    for directory in dict.fromkeys(site_packages):
        components.extend(_site_packages(host, pid, directory, where, unreadable))
    return components, backend, where


def _site_packages(
    host: Host, pid: int, directory: str, where: str, unreadable: list[Unavailable]
) -> Iterable[StackComponent]:
    """torch (torch/version.py), vLLM and TheRock's rocm-sdk (their .dist-info names) in a
    process's site-packages."""
    text = host.read_in_process(pid, f"{directory}/torch/version.py", limit=64 * 1024)
    if isinstance(text, Value):
        version, hip = _torch_version(text.value)
        if version:
            detail = f"HIP {hip}" if hip else ""
            origin = "pytorch"
            yield StackComponent(
                "torch", version, where, f"{directory}/torch/version.py", "/proc/PID/root", origin,
                detail,
            )  # fmt: skip
    elif text.reason is not Reason.MISSING:
        unreadable.append(text)
    for name, prefix, origin in (
        ("vllm", "vllm-", "vllm"),
        ("rocm-sdk", "rocm_sdk_core-", "therock"),
    ):
        listed = host.list_in_process(pid, directory, f"{prefix}*.dist-info")
        if isinstance(listed, Value):
            for entry in listed.value:
                version = _version_in_name(entry, prefix)
                if version:
                    yield StackComponent(
                        name, version, where, f"{directory}/{entry}", "/proc/PID/root", origin
                    )
                    break


def _runtimes(host: Host) -> list[str]:
    found: dict[str, str] = {}
    for runtime, path in RUNTIME_MARKERS:
        if runtime not in found and host.exists(path):
            found[runtime] = path
    return [f"{runtime} ({path})" for runtime, path in found.items()]


def probe_stack(
    host: Host,
    software: SoftwareFacts,
    processes: Value[list[InferenceProcess]] | Unavailable,
    workload: Workload | None,
    gpu_found: bool = True,
) -> StackFacts:
    components = _host_rocm(host, software, gpu_found)
    host_rocm = next((c for c in components if c.name == "rocm"), None)
    unreadable: list[Unavailable] = []
    backends: list[tuple[str, str]] = []
    running = processes.value if isinstance(processes, Value) else []
    # Whether every running inference process is in a container that brings its own ROCm.
    own_rocm_everywhere = bool(running)
    for proc in [p for p in running if p.pid > 0][:MAX_PROCESSES]:
        found, backend, where = _process_stack(host, proc, unreadable)
        components.extend(found)
        if backend:
            backends.append((backend, f"{proc.kind} {where}"))
        if where == f"pid {proc.pid}" or not any(_is_rocm(c) for c in found):
            own_rocm_everywhere = False
    python = software.python
    # The host's own ROCm serves nothing where every running inference process is in a
    # container with a ROCm of its own and no --python environment is given: it is listed,
    # not judged (an old /opt/rocm, or a distribution's libamdhip64 pulled in by another
    # package, does not make a host that serves from its images "not ready").
    host_rocm_unused = (
        host_rocm is not None
        and own_rocm_everywhere
        and len(running) <= MAX_PROCESSES
        and not isinstance(python, Value)
    )
    if isinstance(python, Value):
        env = python.value
        where = f"venv {env.interpreter}"
        for name, version, origin in (
            ("torch", env.torch, "pytorch"),
            ("vllm", env.vllm, "vllm"),
            ("rocm-sdk", env.rocm_sdk, "therock"),
        ):
            if version:
                components.append(
                    StackComponent(name, version, where, env.interpreter, "--python", origin)
                )
    if workload is not None:
        for name, version in (("rocm", workload.rocm), ("torch", workload.torch)):
            if version:
                components.append(
                    StackComponent(
                        name, version, "declared", workload.source, "declared", "declared",
                        f"image {workload.image}" if workload.image else "",
                    )
                )  # fmt: skip
    # The backend: declared, else what the running processes have loaded. A process that
    # runs on ROCm here now outweighs a declared Vulkan: the ROCm rules are about it.
    on_rocm = [who for kind, who in backends if kind == "rocm"]
    declared = workload.backend if workload is not None else None
    declared_in = workload.source if workload is not None else ""
    if declared and not (declared == "vulkan" and on_rocm):
        backend, backend_why = declared, f"declared in {declared_in}"
    elif on_rocm:
        backend = "rocm"
        backend_why = ", ".join(on_rocm)
        if declared == "vulkan":
            backend_why += f" (declared vulkan in {declared_in}, but these run on ROCm)"
    elif backends:
        backend = "vulkan"
        backend_why = ", ".join(f"{who} maps libggml-vulkan" for _, who in backends)
    elif any(c.name in ("rocm", "rocm-sdk", "torch") for c in components):
        backend, backend_why = "rocm", "a ROCm stack is installed"
    else:
        backend, backend_why = "unknown", "nothing runs, nothing is declared and no ROCm found"
    runtimes = _runtimes(host)
    in_job = host.host_mount and not host.live
    if host_rocm is None and (runtimes or in_job):
        node = "container-node"
        node_why = ", ".join(runtimes) or "scanned as a mounted host (--host-mount)"
    else:
        node = "host"
        elsewhere = next(
            (c for c in components if c.name in ("rocm", "rocm-sdk") and c.where != "host"), None
        )
        if host_rocm is not None and host_rocm_unused:
            node_why = (
                f"ROCm {host_rocm.version} from {host_rocm.path} is not used: the running "
                "inference processes bring their own ROCm"
            )
        elif host_rocm is not None:
            node_why = f"ROCm {host_rocm.version} from {host_rocm.path}"
        elif elsewhere is not None:
            node_why = f"no ROCm on the host; ROCm {elsewhere.version} in {elsewhere.where}"
        else:
            node_why = "no ROCm installed on the host"
    return StackFacts(
        components=components,
        backend=backend,
        backend_why=backend_why,
        node=node,
        node_why=node_why,
        runtimes=runtimes,
        declared=workload,
        unreadable=unreadable,
        host_rocm_unused=host_rocm_unused,
    )


def _is_rocm(part: StackComponent) -> bool:
    """Whether a component tells a ROCm version (a ROCm, TheRock's SDK, a +rocm PyTorch)."""
    if part.name in ("rocm", "rocm-sdk"):
        return bool(part.version)
    return part.name == "torch" and "+rocm" in (part.version or "")
