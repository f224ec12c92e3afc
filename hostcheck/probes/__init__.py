"""Probes turn raw host data into :class:`~hostcheck.facts.Facts`.

A probe that cannot read something records why (an Unavailable); it never raises out of the
scan and never invents a value. Every read goes through the Host, which bounds it in time.
"""

from hostcheck._record import NamedTuple
from hostcheck.facts import Facts, Workload
from hostcheck.host.core import Host
from hostcheck.probes.access import default_user, probe_containers, probe_devices, probe_user
from hostcheck.probes.boot import probe_boot
from hostcheck.probes.functional import FunctionalOptions, probe_functional
from hostcheck.probes.gpu import start_gpu
from hostcheck.probes.software import probe_processes, start_python, start_software
from hostcheck.probes.stack import probe_stack
from hostcheck.probes.system import (
    kernel_log_events,
    probe_chassis,
    probe_container,
    probe_driver,
    probe_hostname,
    probe_kernel,
    probe_memory,
    probe_modules,
    probe_npu,
    probe_previous_boot,
    probe_sysctls,
    probe_vfio,
)
from hostcheck.probes.units import hsa_errors, probe_unit_environment, start_hsa_errors
from hostcheck.readings import Value


class ProbeOptions(NamedTuple):
    user: str | None = None  # the service user to check device access for
    python: str | None = None  # an interpreter whose PyTorch/vLLM to inspect
    workload: Workload | None = None  # what is declared to run here (a preflight)
    # The sysctl keys to read: the ones the rules name (checks.catalog.probe_needs); the probes
    # know no rule, so whoever loads the catalog passes them.
    sysctls: tuple[str, ...] = ()
    functional: FunctionalOptions | None = None  # run the functional probe (live hosts)
    # The variables to look for in systemd units, drop-ins and quadlets (env.hsa-override's).
    unit_variables: tuple[str, ...] = ("HSA_OVERRIDE_GFX_VERSION",)


def collect(host: Host, options: ProbeOptions | None = None) -> Facts:
    """All the facts of a host. The probes that run commands start them as soon as what they
    need is known (the kernel log and --python at once; amdsmi, rpm and rocminfo once the
    GPU is found) and are collected at the end, so a live scan takes as long as its slowest
    command, not the sum; each command keeps its own time limit."""
    options = options or ProbeOptions()

    # The kernel log starts at once, unless --functional runs first (see below).
    kernel_log_started = host.start_kernel_log() if options.functional is None else None
    python = start_python(host, options.python) if options.python else None
    # The services' journal too: after --functional, so it sees what that run logged.
    hsa_started = start_hsa_errors(host) if options.functional is None else None

    kernel = probe_kernel(host)
    release = kernel.release.value.raw if isinstance(kernel.release, Value) else None
    modules = probe_modules(host)

    gpu_started = start_gpu(host)
    found = gpu_started.search.strix_halo
    software_started = start_software(host, python, options.python, gpu_found=found is not None)

    memory = probe_memory(host, modules)
    driver = probe_driver(host, release, modules)
    processes = probe_processes(host)
    # The functional probe runs before the kernel log is read, so the log the other rules
    # judge is the one a snapshot records (with what the run added to it).
    functional = probe_functional(host, options.functional, processes)
    if kernel_log_started is None:
        kernel_log_started = host.start_kernel_log()
    if hsa_started is None:
        hsa_started = start_hsa_errors(host)

    name, explicit = (options.user, True) if options.user else default_user(host)
    if host.recorder is not None:
        host.recorder.checked_user(name, explicit)
    user = probe_user(host, name, explicit)
    render = found.render_node if found else None
    device_paths = ["/dev/kfd"] + ([render] if render else [])
    devices = probe_devices(host, device_paths, user)
    hostname = probe_hostname(host)
    container = probe_container(host)
    sysctl = probe_sysctls(host, options.sysctls)
    vfio_devices = probe_vfio(host)
    boot = probe_boot(host, kernel.os_release)
    software = software_started.result()

    return Facts(
        root=host.root,
        live=host.live,
        hostname=hostname,
        container=container,
        kernel=kernel,
        gpu=gpu_started.result(),
        memory=memory,
        driver=driver,
        kernel_log=kernel_log_events(kernel_log_started.result()),
        user=user,
        devices=devices,
        software=software,
        processes=processes,
        sysctl=sysctl,
        vfio_devices=vfio_devices,
        chassis_type=probe_chassis(host),
        npu=probe_npu(host, modules),
        previous_boot=probe_previous_boot(host),
        containers=probe_containers(host),
        boot=boot,
        stack=probe_stack(host, software, processes, options.workload, gpu_found=found is not None),
        functional=functional,
        unit_environment=probe_unit_environment(host, options.unit_variables),
        hsa_errors=hsa_errors(hsa_started),
    )
