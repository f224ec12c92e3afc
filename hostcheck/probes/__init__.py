"""Probes turn raw host data into :class:`~hostcheck.facts.Facts`.

A probe that cannot read something records why (an Unavailable); it never raises out of the
scan and never invents a value. Every read goes through the Host, which bounds it in time.
"""

from typing import NamedTuple

from hostcheck.facts import Facts, Workload
from hostcheck.host import Host
from hostcheck.probes.access import default_user, probe_containers, probe_devices, probe_user
from hostcheck.probes.boot import probe_boot
from hostcheck.probes.functional import FunctionalOptions, probe_functional
from hostcheck.probes.gpu import probe_gpu
from hostcheck.probes.software import probe_processes, probe_software
from hostcheck.probes.stack import probe_stack
from hostcheck.probes.system import (
    probe_chassis,
    probe_container,
    probe_driver,
    probe_hostname,
    probe_kernel,
    probe_kernel_log,
    probe_memory,
    probe_modules,
    probe_npu,
    probe_previous_boot,
    probe_sysctls,
    probe_vfio,
)
from hostcheck.readings import Value


class ProbeOptions(NamedTuple):
    user: str | None = None  # the service user to check device access for
    python: str | None = None  # an interpreter whose PyTorch/vLLM to inspect
    workload: Workload | None = None  # what is declared to run here (a preflight)
    # The sysctl keys to read: the ones the rules name (None: those of the bundled catalog).
    sysctls: tuple[str, ...] | None = None
    functional: FunctionalOptions | None = None  # run the functional probe (live hosts)


def _catalog_sysctls() -> tuple[str, ...]:
    from hostcheck.catalog import load_catalog, probe_needs

    return probe_needs(load_catalog()[0])["sysctls"]


def collect(host: Host, options: ProbeOptions | None = None) -> Facts:
    options = options or ProbeOptions()

    kernel = probe_kernel(host)
    release = kernel.release.value.raw if isinstance(kernel.release, Value) else None
    modules = probe_modules(host)

    gpu = probe_gpu(host)

    memory = probe_memory(host, modules)
    driver = probe_driver(host, release, modules)
    # The functional probe runs before the kernel log is read, so the log the other rules
    # judge is the one a snapshot records (with what the run added to it).
    processes = probe_processes(host)
    functional = probe_functional(host, options.functional, processes)
    kernel_log = probe_kernel_log(host)

    name, explicit = (options.user, True) if options.user else default_user(host)
    if host.recorder is not None:
        host.recorder.checked_user(name, explicit)
    user = probe_user(host, name, explicit)
    render = gpu.strix_halo.render_node if gpu.strix_halo else None
    device_paths = ["/dev/kfd"] + ([render] if render else [])
    devices = probe_devices(host, device_paths, user)

    software = probe_software(host, options.python, gpu_found=gpu.strix_halo is not None)

    return Facts(
        root=host.root,
        live=host.live,
        hostname=probe_hostname(host),
        container=probe_container(host),
        kernel=kernel,
        gpu=gpu,
        memory=memory,
        driver=driver,
        kernel_log=kernel_log,
        user=user,
        devices=devices,
        software=software,
        processes=processes,
        sysctl=probe_sysctls(
            host, options.sysctls if options.sysctls is not None else _catalog_sysctls()
        ),
        vfio_devices=probe_vfio(host),
        chassis_type=probe_chassis(host),
        npu=probe_npu(host, modules),
        previous_boot=probe_previous_boot(host),
        containers=probe_containers(host),
        boot=probe_boot(host, kernel.os_release),
        stack=probe_stack(
            host, software, processes, options.workload, gpu_found=gpu.strix_halo is not None
        ),
        functional=functional,
    )
