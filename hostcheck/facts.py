"""Facts: plain data the probes read from the host, and the only thing rules see.

Every leaf that comes from the host is a :class:`~hostcheck.readings.Value` (with its source)
or an :class:`~hostcheck.readings.Unavailable` (with the reason).
"""

from hostcheck._record import NamedTuple
from hostcheck.host import NodeInfo
from hostcheck.parsers import (
    KernelArg,
    KernelLogEvent,
    KernelRelease,
    ModprobeOption,
    RocmInfo,
)
from hostcheck.readings import Unavailable, Value

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


class GpuSearch(NamedTuple):
    strix_halo: GpuFacts | None
    other_gpus: list[str]
    searched: str  # where we looked, for the evidence
    amdsmi: Value[str] | Unavailable | None  # None: not tried (not a live host)


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


class SoftwareFacts(NamedTuple):
    rocm_version: Value[str] | Unavailable
    packages: Value[dict[str, str]] | Unavailable  # dpkg status (Debian/Ubuntu)
    rpm_firmware: Value[str] | Unavailable  # `rpm -q linux-firmware`
    rocminfo: Value[RocmInfo] | Unavailable
    mes_firmware_overrides: list[str]  # gc_11_5_1_mes* in /lib/firmware/updates/amdgpu
    python: Value[PythonEnv] | Unavailable | None  # None: --python not given


class InferenceProcess(NamedTuple):
    kind: str  # "vllm" or "llama.cpp"
    pid: int
    argv: tuple[str, ...]
    environ: Value[dict[str, str]] | Unavailable
    source: str


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
    boot: BootFacts
