"""Kernel, memory, driver/module, kernel-log, sysctl and container probes."""

from __future__ import annotations

from hostcheck.facts import DriverFacts, KernelFacts, MemoryFacts, PreviousBoot, TtmModule
from hostcheck.host.core import Host
from hostcheck.parse.kernel import (
    ModprobeOption,
    parse_cmdline,
    parse_kernel_release,
    parse_modprobe_conf,
    parse_version_signature,
)
from hostcheck.parse.kernellog import (
    KernelLogEvent,
    classify_kernel_log,
    parse_kernel_log_of_interest,
)
from hostcheck.parse.text import parse_meminfo, parse_os_release, parse_sysfs_int
from hostcheck.probes._common import parse_reading, read_parsed, read_stripped
from hostcheck.readings import Reason, Unavailable, Value

MODPROBE_DIRS = (
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/usr/lib/modprobe.d",
    "/lib/modprobe.d",
)
AMDGPU_PARAMS = ("cwsr_enable", "gttsize", "no_system_mem_limit")


def probe_kernel(host: Host) -> KernelFacts:
    os_release = read_parsed(host, "/etc/os-release", parse_os_release)
    if not isinstance(os_release, Value):
        fallback = read_parsed(host, "/usr/lib/os-release", parse_os_release)
        if isinstance(fallback, Value):
            os_release = fallback
    signature = read_parsed(
        host, "/proc/version_signature", lambda text: parse_version_signature(text)[0]
    )
    return KernelFacts(
        release=read_parsed(host, "/proc/sys/kernel/osrelease", parse_kernel_release),
        cmdline=read_parsed(host, "/proc/cmdline", parse_cmdline),
        os_release=os_release,
        ubuntu_package=signature,
    )


def _ttm_module(host: Host, name: str, loaded: bool) -> TtmModule:
    base = f"/sys/module/{name}/parameters"
    return TtmModule(
        name=name,
        loaded=loaded,
        pages_limit=read_parsed(host, f"{base}/pages_limit", parse_sysfs_int),
        page_pool_size=read_parsed(host, f"{base}/page_pool_size", parse_sysfs_int),
    )


def probe_modules(host: Host) -> Value[set[str]] | Unavailable:
    text = host.read_text("/proc/modules")
    if not isinstance(text, Value):
        return text
    return Value({line.split()[0] for line in text.value.splitlines() if line.strip()}, text.source)


def probe_memory(host: Host, modules: Value[set[str]] | Unavailable) -> MemoryFacts:
    meminfo = read_parsed(host, "/proc/meminfo", parse_meminfo)
    mem_total: Value[int] | Unavailable = (
        Value(meminfo.value["MemTotal"], meminfo.source) if isinstance(meminfo, Value) else meminfo
    )

    def loaded(name: str) -> bool:
        if isinstance(modules, Value):
            return name in modules.value
        return host.is_dir(f"/sys/module/{name}")

    return MemoryFacts(
        mem_total_kib=mem_total,
        ttm={name: _ttm_module(host, name, loaded(name)) for name in ("ttm", "amdttm")},
    )


# Reasons a modprobe.d file that exists says nothing about what it sets.
_UNKNOWN = frozenset({Reason.PERMISSION, Reason.TIMEOUT, Reason.ERROR})


def _staged_options(
    host: Host,
) -> tuple[list[tuple[str, ModprobeOption]], tuple[tuple[str, str], ...]]:
    """Options from modprobe.d in the order kmod applies them (later ones win), and the files
    or directories that exist but could not be read (permission, I/O error, time-out): those
    may set anything, which the planner must not guess.

    kmod reads the *.conf files of all its directories sorted by file name; a file name in an
    earlier directory (/etc before /run before /usr/local/lib before /usr/lib) hides the same
    name in later ones.
    """
    chosen: dict[str, str] = {}
    unreadable: list[tuple[str, str]] = []
    for directory in MODPROBE_DIRS:
        paths = host.glob(directory, "*.conf")
        if not paths:  # none, or a directory that could not be listed: which one?
            listing = host.listdir(directory)
            if isinstance(listing, Unavailable) and listing.reason in _UNKNOWN:
                unreadable.append((directory, listing.describe()))
        for path in paths:
            chosen.setdefault(path.rsplit("/", 1)[-1], path)
    staged: list[tuple[str, ModprobeOption]] = []
    for name in sorted(chosen):
        text = host.read_text(chosen[name])
        if isinstance(text, Value):
            staged.extend((chosen[name], option) for option in parse_modprobe_conf(text.value))
        elif text.reason in _UNKNOWN:  # not MISSING: a file gone since the listing is absent
            unreadable.append((chosen[name], text.describe()))
    return staged, tuple(unreadable)


def probe_driver(
    host: Host, release: str | None, modules: Value[set[str]] | Unavailable
) -> DriverFacts:
    """In-kernel amdgpu or AMD's amdgpu-dkms (facts §6, §9.9), and the amdgpu parameters."""
    evidence: list[str] = []
    dkms = False
    loaded = modules.value if isinstance(modules, Value) else set()
    # amdttm and amdkcl (the kernel-compatibility layer) exist only in AMD's out-of-tree
    # driver, whether dkms built it or a driver container (KMM, the GPU Operator) loaded it.
    for module in ("amdttm", "amdkcl"):
        if module in loaded:
            dkms = True
            evidence.append(f"module {module} is loaded (/proc/modules): amdgpu-dkms")
    if release:
        for path in host.glob(f"/lib/modules/{release}/updates/dkms", "amdgpu.ko*"):
            dkms = True
            evidence.append(f"{path} exists: amdgpu-dkms built for the running kernel")
    version = read_stripped(host, "/sys/module/amdgpu/version")
    if isinstance(version, Value):
        evidence.append(f"/sys/module/amdgpu/version = {version.value}")
    kind = "dkms" if dkms else ("in-kernel" if "amdgpu" in loaded else "unknown")
    if kind == "in-kernel":
        evidence.append("amdgpu is loaded and no amdgpu-dkms module or amdttm was found")
    params = {
        name: read_stripped(host, f"/sys/module/amdgpu/parameters/{name}") for name in AMDGPU_PARAMS
    }
    staged, unreadable = _staged_options(host)
    return DriverFacts(kind, evidence, version, modules, params, staged, unreadable)


def kernel_log_events(
    text: Value[str] | Unavailable,
) -> Value[list[KernelLogEvent]] | Unavailable:
    if not isinstance(text, Value):
        return text
    return parse_reading(text, lambda raw: classify_kernel_log(parse_kernel_log_of_interest(raw)))


def probe_sysctls(host: Host, keys: tuple[str, ...]) -> dict[str, Value[str] | Unavailable]:
    """The sysctls the rules name (their `key`), read from /proc/sys."""
    return {key: read_stripped(host, sysctl_path(key)) for key in keys}


def sysctl_path(key: str) -> str:
    """kernel.numa_balancing -> /proc/sys/kernel/numa_balancing (sysctl(8)'s mapping)."""
    return "/proc/sys/" + key.replace(".", "/")


def probe_hostname(host: Host) -> Value[str] | Unavailable:
    # In a container, /proc/sys/kernel/hostname is the container's (its UTS namespace), so a
    # mounted host's own /etc/hostname comes first there.
    paths = ["/proc/sys/kernel/hostname", "/etc/hostname"]
    if host.host_mount and not host.live:
        paths.reverse()
    first: Unavailable | None = None
    for path in paths:
        name = read_stripped(host, path)
        if isinstance(name, Value):
            return name
        first = first or name
    assert first is not None
    return first


def probe_container(host: Host) -> str | None:
    """Whether hostcheck itself runs in a container (only meaningful on a live host)."""
    if not host.live:
        return None
    if host.exists("/run/.containerenv"):
        return "podman (/run/.containerenv)"
    if host.exists("/.dockerenv"):
        return "docker (/.dockerenv)"
    cgroup = host.read_text("/proc/1/cgroup")
    if isinstance(cgroup, Value):
        for marker in ("kubepods", "libpod", "docker", "containerd"):
            if marker in cgroup.value:
                return f"{marker} (/proc/1/cgroup)"
    return None


def probe_vfio(host: Host) -> list[str]:
    entries = host.listdir("/sys/bus/pci/drivers/vfio-pci")
    if not isinstance(entries, Value):
        return []
    return [name for name in entries.value if name.count(":") == 2]


def probe_chassis(host: Host) -> Value[str] | Unavailable:
    return read_stripped(host, "/sys/class/dmi/id/chassis_type")


def probe_npu(host: Host, modules: Value[set[str]] | Unavailable) -> list[str]:
    """Traces of the XDNA NPU: the amdxdna module loaded, accel device nodes."""
    found = []
    if isinstance(modules, Value) and "amdxdna" in modules.value:
        found.append("module amdxdna is loaded (/proc/modules)")
    found.extend(f"{path} exists" for path in host.glob("/dev/accel", "accel*"))
    return found


PSTORE = "/sys/fs/pstore"


def probe_previous_boot(host: Host) -> PreviousBoot:
    """The previous boot's kernel journal and pstore crash records (silent GPU hangs leave
    nothing in this boot's log, ROCm#6165)."""
    done = host.run(
        "journal-previous-boot",
        ["journalctl", "-b", "-1", "-k", "-o", "short-monotonic", "--no-pager", "-q"],
        timeout=20,
    )
    log: Value[list[KernelLogEvent]] | Unavailable
    if isinstance(done, Value):
        if done.value.returncode != 0:
            err = (done.value.stderr.strip().splitlines() or ["no previous boot"])[-1]
            log = Unavailable(Reason.MISSING, done.source, err)
        else:
            log = parse_reading(
                Value(done.value.stdout, done.source),
                lambda raw: classify_kernel_log(parse_kernel_log_of_interest(raw)),
            )
    else:
        log = done
    entries = host.listdir(PSTORE)
    pstore: Value[list[str]] | Unavailable = (
        Value(sorted(entries.value), PSTORE) if isinstance(entries, Value) else entries
    )
    return PreviousBoot(log, pstore)
