"""Environment set for services by their systemd units, drop-ins and podman quadlets.

A variable such as HSA_OVERRIDE_GFX_VERSION is usually set where the service is defined
(``systemctl edit ollama`` writes ``/etc/systemd/system/ollama.service.d/override.conf``), so
it matters before the service runs again. Only the lines that name a watched variable are read
(and recorded in a snapshot): unit files can carry other services' credentials.
"""

from __future__ import annotations

from hostcheck.facts import UnitSetting
from hostcheck.host.core import Host, Started
from hostcheck.parse.units import environment_assignments
from hostcheck.readings import Reason, Unavailable, Value

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


# What ROCr prints when it aborts a process on a GPU fault (ROCm#5824, #5747: "Memory access
# fault by GPU node-1 (Agent handle: ...) on address ... Reason: Page not present ...";
# ROCm#6182: "Memory critical error by agent node-0 ... Reason: Memory in use"; ROCm#5590:
# "HW Exception by GPU node-1 ... GPU Hang"). journalctl's --grep takes a PCRE2 pattern.
HSA_ERROR_PATTERN = (
    "Memory access fault by GPU node|Memory critical error by agent node|HW Exception by GPU node"
)
MAX_HSA_LINES = 200
MAX_LINE_CHARS = 500


def start_hsa_errors(host: Host) -> Started:
    """Start reading this boot's journal for ROCm runtime errors (see :func:`hsa_errors`).
    Not quiet (-q): journalctl then says on stderr when it found no journal or sees only this
    user's messages, which must not read as "no errors"."""
    return host.start(
        "journal-hsa-errors",
        ["journalctl", "-b", "--no-pager", "-o", "short-iso", "-g", HSA_ERROR_PATTERN],
        timeout=20,
    )


def hsa_errors(started: Started) -> Value[list[str]] | Unavailable:
    """This boot's journal lines with ROCm runtime errors: a service that runs vLLM, llama.cpp,
    ollama or ComfyUI logs them to its journal, and the kernel log never sees them."""
    done = started.result()
    if not isinstance(done, Value):
        return done
    # "-- No entries --" and "-- Boot ... --" are journalctl's own marker lines
    lines = [
        line[:MAX_LINE_CHARS]
        for line in done.value.stdout.splitlines()
        if line.strip() and not line.startswith("-- ")
    ]
    if lines:
        return Value(lines[:MAX_HSA_LINES], done.source)
    err = done.value.stderr.strip()
    if "No journal files were found" in err:
        return Unavailable(Reason.MISSING, done.source, "no journal files were found")
    if "not seeing messages from other users" in err:
        return Unavailable(
            Reason.PERMISSION, done.source, "only this user's journal is readable (run as root)"
        )
    if done.value.returncode != 0 and err:
        # e.g. a journalctl built without pattern matching support
        return Unavailable(Reason.ERROR, done.source, err.splitlines()[-1][:200])
    return Value([], done.source)
