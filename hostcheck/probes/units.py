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
    """System units and their drop-ins under /etc/systemd/system."""
    files = host.glob(SYSTEMD_DIR, "*.service")
    entries = host.listdir(SYSTEMD_DIR)
    if isinstance(entries, Value):
        for name in entries.value:
            if name.endswith(".service.d"):
                files.extend(host.glob(f"{SYSTEMD_DIR}/{name}", "*.conf"))
    return files


def _quadlets(host: Host) -> list[str]:
    """Quadlets: system ones and rootless ones under users/ and users/UID."""
    dirs = [QUADLET_DIR, f"{QUADLET_DIR}/users"]
    users = host.listdir(f"{QUADLET_DIR}/users")
    if isinstance(users, Value):
        dirs.extend(f"{QUADLET_DIR}/users/{uid}" for uid in users.value if uid.isdigit())
    return [path for directory in dirs for path in host.glob(directory, "*.container")]


def probe_unit_environment(host: Host, variables: tuple[str, ...]) -> tuple[UnitSetting, ...]:
    """Each assignment of one of ``variables`` in a unit, drop-in or quadlet (the last one of a
    file wins, as in systemd)."""
    if not variables:
        return ()
    settings: list[UnitSetting] = []
    files = [(path, host.read_lines_with(path, variables)) for path in _unit_files(host)]
    # Quadlets are read whole: the container probe reads and records them so already, and a
    # second, filtered recording of the same file would replay differently.
    for path in _quadlets(host):
        text = host.read_text(path)
        files.append(
            (path, Value(text.value.splitlines(), path) if isinstance(text, Value) else text)
        )
    for path, lines in files:
        if not isinstance(lines, Value):
            continue
        last: dict[str, str] = {}
        for name, value in environment_assignments(lines.value):
            if name in variables:
                last[name] = value
        settings.extend(UnitSetting(path, name, value) for name, value in last.items())
    return tuple(settings)
