"""Facts: plain data the probes read from the host, and the only thing rules see.

Every leaf that comes from the host is a :class:`~hostcheck.readings.Value` (with its source)
or an :class:`~hostcheck.readings.Unavailable` (with the reason).
"""

from __future__ import annotations

from hostcheck._record import NamedTuple
from hostcheck.parse.kernel import KernelArg, KernelRelease, ModprobeOption
from hostcheck.parse.kernellog import KernelLogEvent
from hostcheck.parse.rocm import RocmInfo
from hostcheck.readings import NodeInfo, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STRIX_HALO_PCI_ID = "1002:1586"  # facts §6: dmesg "kfd kfd: amdgpu: added device 1002:1586"
GFX1151_TARGET_VERSION = 110501  # facts §6: KFD gfx_target_version for gfx1151


class KernelFacts(NamedTuple):
    release: Value[KernelRelease] | Unavailable
    cmdline: Value[list[KernelArg]] | Unavailable
    os_release: Value[dict[str, str]] | Unavailable
    # Ubuntu only: the package version (6.17.0-19.19~24.04.2) from /proc/version_signature
    ubuntu_package: Value[str] | Unavailable


class GpuFacts(NamedTuple):
    """The Strix Halo iGPU: its PCI, DRM and KFD identities and the memory it reports."""

    pci_slot: str
    pci_id: str
    revision: str | None
    driver: str | None
    card: str | None  # "card1"
    sysfs: str  # /sys/class/drm/card1/device or /sys/bus/pci/devices/<slot>
    render_node: str | None  # "/dev/dri/renderD128"
    kfd_node: str | None  # /sys/class/kfd/kfd/topology/nodes/1
    gfx_target_version: Value[int] | Unavailable
    vram_total: Value[int] | Unavailable
    vis_vram_total: Value[int] | Unavailable
    gtt_total: Value[int] | Unavailable
    kfd_memory: Value[int] | Unavailable
    mes_fw: Value[int] | Unavailable
    mes_kiq_fw: Value[int] | Unavailable
    found_by: str  # "pyudev" or "sysfs"
    # The KFD node's cwsr_size property: exported only by kernels with the CWSR fix (commit
    # "Export the cwsr_size and ctl_stack_size to userspace"); None when the node lacks it.
    kfd_cwsr_size: Value[int] | None = None


class GpuSearch(NamedTuple):
    strix_halo: GpuFacts | None
    other_gpus: list[str]
    searched: str  # where we looked, for the evidence
    amdsmi: Value[str] | Unavailable | None  # None: not tried (not a live host)
    # a place searched that could not be listed or read (not merely absent): the search
    # cannot say "no GPU"
    failed: Unavailable | None = None


class TtmModule(NamedTuple):
    name: str  # "ttm" or "amdttm"
    loaded: bool
    pages_limit: Value[int] | Unavailable
    page_pool_size: Value[int] | Unavailable


class MemoryFacts(NamedTuple):
    mem_total_kib: Value[int] | Unavailable
    ttm: dict[str, TtmModule]


class DriverFacts(NamedTuple):
    kind: str  # "in-kernel", "dkms" or "unknown"
    evidence: list[str]
    version: Value[str] | Unavailable  # /sys/module/amdgpu/version (set by amdgpu-dkms)
    loaded_modules: Value[set[str]] | Unavailable
    amdgpu_params: dict[str, Value[str] | Unavailable]  # live /sys/module/amdgpu/parameters
    staged_options: list[tuple[str, ModprobeOption]]  # (file, option) from modprobe.d
    # modprobe.d files (or directories) that exist but could not be read: (path, why). What
    # they set is unknown, so `fix` never plans module options around them.
    staged_unreadable: tuple[tuple[str, str], ...] = ()


class DeviceNode(NamedTuple):
    path: str
    node: Value[NodeInfo] | Unavailable
    user_can_open: bool | None  # None: could not be decided
    why: str
    group: str | None = None  # the node's group by name, resolved through /etc/group


class UserFacts(NamedTuple):
    name: str
    uid: int | None
    groups: list[str]
    source: str
    explicit: bool = True  # given with --user or recorded, not just whoever runs hostcheck


class PythonEnv(NamedTuple):
    interpreter: str
    torch: str | None
    hip: str | None
    arch_list: list[str]
    device_name: str | None
    gcn_arch: str | None
    total_memory: int | None
    vllm: str | None
    rocm_sdk: str | None
    error: str | None
    # torch.backends.cuda.preferred_blas_library(): "_BlasBackend.Cublaslt" is hipBLASLt on
    # ROCm; None when the interpreter's PyTorch does not say (or an older recording)
    blas: str | None = None
    # Installed distributions that carry one GPU target's device code (TheRock's multi-arch
    # wheels: amd-torch-device-gfx1151, rocm-sdk-device-gfx1151); None: not asked (older)
    device_packs: list[str] | None = None


class SoftwareFacts(NamedTuple):
    rocm_version: Value[str] | Unavailable
    packages: Value[dict[str, str]] | Unavailable  # dpkg status (Debian/Ubuntu)
    rpm_firmware: Value[str] | Unavailable  # `rpm -q linux-firmware`
    rocminfo: Value[RocmInfo] | Unavailable
    mes_firmware_overrides: list[str]  # gc_11_5_1_mes* in /lib/firmware/updates/amdgpu
    # The MES blob the next boot loads (first in the kernel's firmware search order) and the
    # package that owns it, when a package database says so; plus the firmware packages found
    # (dpkg, `rpm -q amd-gpu-firmware`, pacman's local database): name -> version.
    mes_firmware_file: Value[str] | Unavailable
    mes_firmware_owner: Value[str] | Unavailable
    firmware_packages: dict[str, Value[str]]
    python: Value[PythonEnv] | Unavailable | None  # None: --python not given


class InferenceProcess(NamedTuple):
    kind: str  # "vllm", "llama.cpp", "ollama" or "comfyui"
    pid: int
    argv: tuple[str, ...]
    environ: Value[dict[str, str]] | Unavailable
    source: str
    # the soft "Max open files" limit from /proc/PID/limits (None: not a running process)
    nofile: Value[int] | Unavailable | None = None


class StackComponent(NamedTuple):
    """One located piece of the inference stack: what, which version, where and how found."""

    name: str  # "rocm", "hip", "torch", "vllm", "rocm-sdk", "llama.cpp", "rocm-install"
    version: str | None
    where: str  # "host", "docker 3f2a1b9c0d4e (pid 4242)", "pid 4242", "venv …", "declared"
    path: str  # the file, directory or label it was read from
    found_by: str  # ".info/version", "dpkg", "rpm", "pacman", "library name", "cmake",
    # "/proc/PID/maps", "/proc/PID/root", "--python", "declared"
    origin: str = "amd"  # whose build: "amd", "distribution", "therock", "pytorch", "declared"
    detail: str = ""  # e.g. the llama.cpp backend ("hip", "vulkan")

    def describe(self) -> str:
        """'ROCm 7.2.1 in docker 3f2a… (pid 4242), /opt/rocm/.info/version via /proc/PID/root'."""
        version = f" {self.version}" if self.version else ""
        return f"{self.name}{version} in {self.where}: {self.path} ({self.found_by})"


class Workload(NamedTuple):
    """What an operator declared will run here (config [workload] or --backend/--workload-*)."""

    backend: str | None  # "rocm" or "vulkan"
    rocm: str | None
    torch: str | None
    image: str | None  # a label only (the serving image reference)
    source: str  # "command line" or "config FILE"


class StackFacts(NamedTuple):
    """Where the inference stack lives, and what the scan therefore judges."""

    components: list[StackComponent]
    backend: str  # "rocm", "vulkan" or "unknown"
    backend_why: str
    node: str  # "host" (the stack is on the host) or "container-node" (it is in the images)
    node_why: str
    runtimes: list[str]  # container runtimes / kubelet found, with the path that showed them
    declared: Workload | None
    unreadable: list[Unavailable]  # process data that could not be read (skipped, with why)
    # The host has a ROCm, but every running inference process is in a container that brings
    # its own: the host's is listed and not judged.
    host_rocm_unused: bool = False

    def summary(self) -> str:
        """The one line a report header shows."""
        if self.backend == "vulkan":
            return f"Vulkan backend: ROCm not needed ({self.backend_why})"
        if self.node == "container-node":
            return f"container node: ROCm from the images ({self.node_why})"
        return f"host: {self.node_why}"


class FunctionalRun(NamedTuple):
    """One run of the functional probe script (hostcheck/probes/probe_script.py): what
    its marker lines said, how it ended, and the kernel log lines that appeared meanwhile."""

    interpreter: str
    pid: int | None  # the probe's process id (from its first line)
    target_gib: float  # what it was asked to allocate
    returncode: int  # negative: killed by that signal
    timed_out: float | None  # the bound in seconds, when it was killed there
    steps: list[dict[str, Any]]  # each finished step's STEP line
    result: dict[str, Any] | None  # the RESULT line; None when it did not get there
    in_flight: str | None  # the step begun and not finished (where it hung or died)
    progress: dict[str, Any] | None  # that step's last PROGRESS line (allocate: how far)
    stderr_tail: list[str]
    kernel_lines: Value[list[str]] | Unavailable

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("step") == name), None)


class BootFacts(NamedTuple):
    """The boot path: the backend that applies and what it stages for the next boot."""

    loader: str  # grub, grubby, systemd-boot, rpm-ostree, bootc or unknown
    detected_by: str
    # The kernel arguments the boot configuration will pass on the next boot.
    staged: Value[list[str]] | Unavailable
    # What the generated boot entries carry now (grub.cfg, the loader entry), when that is
    # a separate step from the configuration (update-grub, kernel-install); else None.
    generated: Value[list[str]] | None
    sysctl_staged: dict[str, tuple[str, str]]  # key -> (value, file) from sysctl.d


class PreviousBoot(NamedTuple):
    """What the previous boot left behind: its kernel journal (`journalctl -b -1 -k`, when the
    journal is persistent) and crash records in pstore (/sys/fs/pstore)."""

    kernel_log: Value[list[KernelLogEvent]] | Unavailable
    pstore: Value[list[str]] | Unavailable


class ContainerAccess(NamedTuple):
    """What decides whether a container can open the GPU: SELinux, quadlets, audit denials."""

    selinux_enforcing: Value[str] | Unavailable  # /sys/fs/selinux/enforce
    booleans: dict[str, Value[str] | Unavailable]  # /sys/fs/selinux/booleans/NAME
    quadlets: list[tuple[str, str]]  # (path, text) of *.container units that name the GPU
    denials: list[str]  # audit.log AVC lines for /dev/kfd or a render node


class UnitSetting(NamedTuple):
    """A variable a systemd unit, drop-in or podman quadlet sets for its service."""

    path: str  # the unit file, drop-in or quadlet
    variable: str
    value: str


class Facts(NamedTuple):
    root: str
    live: bool
    hostname: Value[str] | Unavailable
    container: str | None
    kernel: KernelFacts
    gpu: GpuSearch
    memory: MemoryFacts
    driver: DriverFacts
    kernel_log: Value[list[KernelLogEvent]] | Unavailable
    user: UserFacts | Unavailable
    devices: dict[str, DeviceNode]
    software: SoftwareFacts
    processes: Value[list[InferenceProcess]] | Unavailable
    sysctl: dict[str, Value[str] | Unavailable]
    vfio_devices: list[str]  # PCI functions bound to vfio-pci (passthrough needs the IOMMU)
    # /sys/class/dmi/id/chassis_type (SMBIOS: 8-10, 14, 30-32 are portable) and the XDNA NPU's
    # traces (the amdxdna module, /dev/accel/accel*): the IOMMU advice depends on both.
    chassis_type: Value[str] | Unavailable
    npu: list[str]
    previous_boot: PreviousBoot
    containers: ContainerAccess
    boot: BootFacts
    stack: StackFacts | None = None  # None: facts built without the stack probe (old dumps)
    # The functional probe: None when not asked for (and not recorded); Unavailable when it
    # could not or would not run (refused while an inference process uses the GPU).
    functional: Value[FunctionalRun] | Unavailable | None = None
    # Watched variables (HSA_OVERRIDE_GFX_VERSION) set by systemd units, drop-ins and quadlets
    unit_environment: tuple[UnitSetting, ...] = ()
    # This boot's journal lines of ROCm runtime (HSA) errors from GPU processes (services'
    # output: they never reach the kernel log); None: not probed (older recordings)
    hsa_errors: Value[list[str]] | Unavailable | None = None
