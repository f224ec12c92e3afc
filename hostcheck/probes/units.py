"""Environment set for services by their systemd units, drop-ins and podman quadlets.

A variable such as HSA_OVERRIDE_GFX_VERSION is usually set where the service is defined
(``systemctl edit ollama`` writes ``/etc/systemd/system/ollama.service.d/override.conf``), so
it matters before the service runs again. Only the lines that name a watched variable are read
(and recorded in a snapshot): unit files can carry other services' credentials.
"""

from __future__ import annotations

from hostcheck.facts import UnitSetting
from hostcheck.host.core import Host
from hostcheck.parse.units import environment_assignments
from hostcheck.readings import Value

SYSTEMD_DIR = "/etc/systemd/system"
QUADLET_DIR = "/etc/containers/systemd"


def _unit_files(host: Host) -> list[str]:
    """System units and their drop-ins under /etc/systemd/system, and quadlets (system and
    rootless ones under users/ and users/UID)."""
    files = host.glob(SYSTEMD_DIR, "*.service")
    entries = host.listdir(SYSTEMD_DIR)
    if isinstance(entries, Value):
        for name in entries.value:
            if name.endswith(".service.d"):
                files.extend(host.glob(f"{SYSTEMD_DIR}/{name}", "*.conf"))
    quadlet_dirs = [QUADLET_DIR, f"{QUADLET_DIR}/users"]
    users = host.listdir(f"{QUADLET_DIR}/users")
    if isinstance(users, Value):
        quadlet_dirs.extend(f"{QUADLET_DIR}/users/{uid}" for uid in users.value if uid.isdigit())
    for directory in quadlet_dirs:
        files.extend(host.glob(directory, "*.container"))
    return files


def probe_unit_environment(host: Host, variables: tuple[str, ...]) -> tuple[UnitSetting, ...]:
    """Each assignment of one of ``variables`` in a unit, drop-in or quadlet (the last one of a
    file wins, as in systemd)."""
    if not variables:
        return ()
    settings: list[UnitSetting] = []
    for path in _unit_files(host):
        lines = host.read_lines_with(path, variables)
        if not isinstance(lines, Value):
            continue
        last: dict[str, str] = {}
        for name, value in environment_assignments(lines.value):
            if name in variables:
                last[name] = value
        settings.extend(UnitSetting(path, name, value) for name, value in last.items())
    return tuple(settings)
