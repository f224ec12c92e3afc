"""Find the Strix Halo iGPU and read what it reports: PCI id, DRM card and render node, KFD
topology node, memory sizes and MES firmware versions (facts §6).

On a live host the DRM devices are enumerated with pyudev (libudev, so umockdev can stand in
for real hardware); elsewhere, and when libudev is unavailable, the sysfs tree is listed.
"""

from __future__ import annotations

from hostcheck.facts import GFX1151_TARGET_VERSION, STRIX_HALO_PCI_ID, GpuFacts, GpuSearch
from hostcheck.host.commands import Started
from hostcheck.host.core import Host
from hostcheck.parse.text import (
    ascii_hex,
    parse_decimal,
    parse_kfd_properties,
    parse_sysfs_int,
    parse_uevent,
)
from hostcheck.probes._common import read_parsed
from hostcheck.readings import Reason, Unavailable, Value

DRM_CLASS = "/sys/class/drm"
PCI_DEVICES = "/sys/bus/pci/devices"
KFD_NODES = "/sys/class/kfd/kfd/topology/nodes"
AMD_VENDOR = "1002:"


def _drm_cards_sysfs(host: Host) -> list[str] | Unavailable:
    found = host.glob_or_unavailable(DRM_CLASS, "card*")
    if isinstance(found, Unavailable):
        return [] if found.reason is Reason.MISSING else found
    return [path for path in found.value if parse_decimal(path.rsplit("/", 1)[-1][4:]) is not None]


def _drm_cards_udev(host: Host) -> list[str] | None:
    """Card sysfs paths from libudev, or None when pyudev/libudev cannot be used."""
    if not host.live:
        return None
    try:
        import pyudev

        context = pyudev.Context()
        cards = [
            f"{DRM_CLASS}/{device.sys_name}"
            for device in context.list_devices(subsystem="drm")
            if device.sys_name.startswith("card") and parse_decimal(device.sys_name[4:]) is not None
        ]
    except Exception:  # libudev missing or unusable: fall back to listing sysfs
        return None
    return sorted(cards)


def _pci_ids_of(host: Host, device_dir: str) -> dict[str, str]:
    uevent = host.read_text(f"{device_dir}/uevent")
    return parse_uevent(uevent.value) if isinstance(uevent, Value) else {}


AMDSMI_MARKER = "HOSTCHECK-AMDSMI "
# Runs in a child interpreter: amdsmi's import prints to stdout and raises KeyError without
# AMD's libamd_smi.so, its C library may print too, and amdsmi_init() on a wedged GPU can
# block; a child with a timeout contains all three.
AMDSMI_PROBE = r"""
import json
try:
    import amdsmi
    amdsmi.amdsmi_init()
    try:
        names = []
        for handle in amdsmi.amdsmi_get_processor_handles():
            info = amdsmi.amdsmi_get_gpu_asic_info(handle)
            names.append("%s (%s)" % (info.get("market_name", "?"), info.get("device_id", "?")))
        out = {"ok": ", ".join(names) or "no processors"}
    finally:
        amdsmi.amdsmi_shut_down()
except ImportError:
    out = {"missing": "Python package not installed"}
except KeyError as exc:
    out = {"missing": "library %s not found" % exc}
except Exception as exc:
    out = {"error": "%s: %s" % (type(exc).__name__, exc)}
print("HOSTCHECK-AMDSMI " + json.dumps(out))
"""


def _start_amdsmi(host: Host) -> Started:
    import sys

    return host.start("amdsmi", [sys.executable, "-c", AMDSMI_PROBE], timeout=15, display="amdsmi")


def _amdsmi_answer(started: Started) -> Value[str] | Unavailable:
    """What amdsmi says, in one line of evidence (optional: needs AMD's library)."""
    from hostcheck.host.safeio import InputError, parse_json_text

    done = started.result()
    if not isinstance(done, Value):
        return done
    for line in reversed(done.value.stdout.splitlines()):
        if line.startswith(AMDSMI_MARKER):
            try:
                result = parse_json_text(line[len(AMDSMI_MARKER) :], what="amdsmi", expect=dict)
            except InputError as exc:
                return Unavailable(Reason.UNPARSABLE, "amdsmi", exc.reason)
            if "ok" in result:
                return Value(str(result["ok"]), "amdsmi")
            if "missing" in result:
                return Unavailable(Reason.MISSING, "amdsmi", str(result["missing"]))
            return Unavailable(Reason.ERROR, "amdsmi", str(result.get("error")))
    return Unavailable(Reason.ERROR, "amdsmi", f"no answer (exit status {done.value.returncode})")


def _render_node(host: Host, device_dir: str) -> str | None:
    for path in host.glob(f"{device_dir}/drm", "renderD*"):
        return "/dev/dri/" + path.rsplit("/", 1)[-1]
    return None


def pci_address(slot: str) -> tuple[int, int, int] | None:
    """Bus, device and function of a PCI address ``DDDD:BB:DD.F`` (hex; function 0-7), as
    ``[0-9a-fA-F]{4}:([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\\.([0-7])`` fullmatches it (by str
    methods: the scan compiles no regex for it)."""
    if len(slot) != 12 or slot[4] != ":" or slot[7] != ":" or slot[10] != ".":
        return None
    if not (ascii_hex(slot[:4], 4) and ascii_hex(slot[5:7], 2) and ascii_hex(slot[8:10], 2)):
        return None
    if slot[11] not in "01234567":
        return None
    return int(slot[5:7], 16), int(slot[8:10], 16), int(slot[11])


def _kfd_node(
    host: Host, render_node: str | None, pci_slot: str
) -> tuple[str | None, dict[str, int], Unavailable | None]:
    """The KFD topology node of the GPU: by render minor, else by PCI location; with no node
    found, why, when the topology could not be listed or a node's properties not read
    (a timeout, permission denied: not the same as a kernel without KFD)."""
    minor = parse_decimal(render_node.rsplit("renderD", 1)[-1]) if render_node else None
    location = None
    slot = pci_address(pci_slot)
    if slot:
        bus, dev, fn = slot
        location = (bus << 8) | (dev << 3) | fn
    nodes = host.glob_or_unavailable(KFD_NODES, "*")
    if isinstance(nodes, Unavailable):
        return None, {}, None if nodes.reason is Reason.MISSING else nodes
    failed: Unavailable | None = None
    for node in nodes.value:
        props = read_parsed(host, f"{node}/properties", parse_kfd_properties)
        if isinstance(props, Unavailable) and props.reason in _READ_FAILURES:
            failed = failed or props
        if not isinstance(props, Value) or props.value.get("simd_count", 0) == 0:
            continue
        values = props.value
        if minor is not None and values.get("drm_render_minor") == minor:
            return node, values, None
        if location is not None and values.get("location_id") == location:
            return node, values, None
    return None, {}, failed


# Reasons that say a read failed, not that the item is absent.
_READ_FAILURES = (Reason.PERMISSION, Reason.TIMEOUT, Reason.ERROR)


class StartedGpu:
    """The GPU found in sysfs (``search``), its amdsmi probe still running: ``result()``."""

    def __init__(self, search: GpuSearch, amdsmi: Started | None) -> None:
        self.search, self._amdsmi = search, amdsmi

    def result(self) -> GpuSearch:
        if self._amdsmi is None:
            return self.search
        return self.search._replace(amdsmi=_amdsmi_answer(self._amdsmi))


def start_gpu(host: Host) -> StartedGpu:
    """Find the GPU; amdsmi is started as soon as there is one and answers in ``result()``."""
    udev_cards = _drm_cards_udev(host)
    listed = udev_cards if udev_cards is not None else _drm_cards_sysfs(host)
    failed = listed if isinstance(listed, Unavailable) else None
    cards = [] if isinstance(listed, Unavailable) else listed
    found_by = "pyudev" if udev_cards is not None else "sysfs"
    searched = f"{DRM_CLASS}/card* ({found_by})"
    others: list[str] = []
    candidate: tuple[str | None, str, dict[str, str]] | None = None
    by_target: tuple[str | None, str, dict[str, str]] | None = None
    for card_path in cards:
        device_dir = f"{card_path}/device"
        ids = _pci_ids_of(host, device_dir)
        pci_id = ids.get("PCI_ID", "").lower()
        if pci_id == STRIX_HALO_PCI_ID:
            candidate = (card_path.rsplit("/", 1)[-1], device_dir, ids)
            break
        if by_target is None and pci_id.startswith(AMD_VENDOR):
            # Another PCI id, but KFD calls it gfx1151: Strix Halo's successors (Gorgon Halo,
            # Ryzen AI Max PRO 495/490/485) keep the GPU target, not the device id.
            slot = ids.get("PCI_SLOT_NAME", "")
            _, props, _ = _kfd_node(host, _render_node(host, device_dir), slot)
            if props.get("gfx_target_version") == GFX1151_TARGET_VERSION:
                by_target = (card_path.rsplit("/", 1)[-1], device_dir, ids)
                continue
        if pci_id:
            others.append(
                f"{ids.get('PCI_SLOT_NAME', '?')} {pci_id} ({ids.get('DRIVER', 'no driver')})"
            )
    candidate = candidate or by_target
    if candidate is None:
        # Not bound to a DRM driver? Look for the PCI function itself.
        searched += f", {PCI_DEVICES}/*"
        devices = host.glob_or_unavailable(PCI_DEVICES, "*")
        if isinstance(devices, Unavailable) and devices.reason is not Reason.MISSING:
            failed = failed or devices
        for device_dir in devices.value if isinstance(devices, Value) else []:
            ids = _pci_ids_of(host, device_dir)
            if ids.get("PCI_ID", "").lower() == STRIX_HALO_PCI_ID:
                candidate = (None, device_dir, ids)
                break
    # Off the live host, only a snapshot that recorded amdsmi's answer replays it.
    amdsmi = (
        _start_amdsmi(host)
        if candidate is not None and (host.live or host.has_recorded_command("amdsmi"))
        else None
    )
    if candidate is None:
        return StartedGpu(GpuSearch(None, others, searched, None, failed), amdsmi)
    card, device_dir, ids = candidate
    slot = ids.get("PCI_SLOT_NAME", device_dir.rsplit("/", 1)[-1])
    revision = host.read_text(f"{device_dir}/revision")
    render = _render_node(host, device_dir) if card else None
    kfd_node, kfd_props, kfd_failed = _kfd_node(host, render, slot) if card else (None, {}, None)
    kfd_source = f"{kfd_node}/properties" if kfd_node else KFD_NODES
    gfx: Value[int] | Unavailable = (
        Value(kfd_props["gfx_target_version"], kfd_source)
        if "gfx_target_version" in kfd_props
        else kfd_failed or Unavailable(Reason.MISSING, kfd_source, "no KFD node for this GPU")
    )

    def sysfs_int(name: str) -> Value[int] | Unavailable:
        return read_parsed(host, f"{device_dir}/{name}", parse_sysfs_int)

    kfd_memory: Value[int] | Unavailable
    if kfd_node:
        kfd_memory = read_parsed(host, f"{kfd_node}/mem_banks/0/properties", _size_in_bytes)
    else:
        kfd_memory = kfd_failed or Unavailable(
            Reason.MISSING, KFD_NODES, "no KFD node for this GPU"
        )
    search = GpuSearch(
        GpuFacts(
            pci_slot=slot,
            pci_id=ids.get("PCI_ID", "").lower(),
            revision=revision.value.strip() if isinstance(revision, Value) else None,
            driver=ids.get("DRIVER"),
            card=card,
            sysfs=device_dir,
            render_node=render,
            kfd_node=kfd_node,
            gfx_target_version=gfx,
            vram_total=sysfs_int("mem_info_vram_total"),
            vis_vram_total=sysfs_int("mem_info_vis_vram_total"),
            gtt_total=sysfs_int("mem_info_gtt_total"),
            kfd_memory=kfd_memory,
            mes_fw=sysfs_int("fw_version/mes_fw_version"),
            mes_kiq_fw=sysfs_int("fw_version/mes_kiq_fw_version"),
            found_by=found_by,
            kfd_cwsr_size=(
                Value(kfd_props["cwsr_size"], kfd_source) if "cwsr_size" in kfd_props else None
            ),
        ),
        others,
        searched,
        None,
    )
    return StartedGpu(search, amdsmi)


def _size_in_bytes(text: str) -> int:
    props = parse_kfd_properties(text)
    if "size_in_bytes" not in props:
        raise ValueError("no size_in_bytes line")
    return props["size_in_bytes"]
