"""Environment set for services by their systemd units, drop-ins and podman quadlets.

A variable such as HSA_OVERRIDE_GFX_VERSION is usually set where the service is defined
(``systemctl edit ollama`` writes ``/etc/systemd/system/ollama.service.d/override.conf``), so
it matters before the service runs again. A unit's drop-ins apply after it, an empty
``Environment=`` drops earlier assignments, ``UnsetEnvironment=`` removes one, and a masked
unit (empty, or a link to /dev/null) never starts. Of units and drop-ins only the lines that
name a watched variable, the resets and the section headers are read (and recorded in a
snapshot): unit files can carry other services' credentials.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from hostcheck.facts import UnitSetting
from hostcheck.host.core import Host, Started
from hostcheck.parse.text import digit_run
from hostcheck.parse.units import apply_environment, effective_environment, is_environment_reset
from hostcheck.readings import Reason, Unavailable, Value

SYSTEMD_DIR = "/etc/systemd/system"
QUADLET_DIR = "/etc/containers/systemd"


def _units(host: Host) -> list[tuple[str | None, list[str]]]:
    """System units under /etc/systemd/system: each unit file (None where only its drop-ins
    are there: the unit lives in /usr/lib) with its drop-ins, in the order systemd applies
    them (by file name)."""
    units: dict[str, tuple[str | None, list[str]]] = {
        posixpath.basename(path): (path, []) for path in host.glob(SYSTEMD_DIR, "*.service")
    }
    entries = host.listdir(SYSTEMD_DIR)
    if isinstance(entries, Value):
        for name in entries.value:
            if name.endswith(".service.d"):
                unit = name.removesuffix(".d")
                units.setdefault(unit, (None, []))[1].extend(
                    host.glob(f"{SYSTEMD_DIR}/{name}", "*.conf")
                )
    return [units[name] for name in sorted(units)]


def _keep_unit_line(variables: tuple[str, ...]) -> Callable[[str], bool]:
    """The lines of a unit or drop-in that are read (and recorded): those naming a watched
    variable, the ``Environment=`` resets that drop earlier assignments, and section headers
    (a unit file without any is empty: masked). Other lines can carry other services'
    credentials."""

    def keep(line: str) -> bool:
        text = line.strip()
        return (
            any(name in line for name in variables)
            or is_environment_reset(line)
            or (text.startswith("[") and text.endswith("]") and "=" not in text)
        )

    return keep


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
    keep = _keep_unit_line(variables)
    for main, dropins in _units(host):
        env: dict[str, tuple[str, str]] = {}
        unset: set[str] = set()
        if main is not None:
            lines = host.read_lines(main, keep)
            if not isinstance(lines, Value) and lines.reason is Reason.MISSING:
                continue  # a link to /dev/null (masked) in a host tree: never started
            if isinstance(lines, Value) and not lines.value:
                continue  # empty or /dev/null: masked (systemd.unit(5)), drop-ins unused
            if isinstance(lines, Value):
                apply_environment(lines.value, main, env, unset)
        for path in dropins:
            lines = host.read_lines(path, keep)
            if isinstance(lines, Value):
                apply_environment(lines.value, path, env, unset)
        settings.extend(
            UnitSetting(source, name, value)
            for name, (value, source) in effective_environment(env, unset).items()
            if name in variables
        )
    # Quadlets are read whole: the container probe reads and records them so already, and a
    # second, filtered recording of the same file would replay differently.
    for path in _quadlets(host):
        text = host.read_text(path)
        if not isinstance(text, Value):
            continue
        env, unset = {}, set()
        # podman's unit parser joins a line ending in a backslash with the next, as systemd does
        lines = text.value.replace("\\\n", " ").splitlines()
        apply_environment(lines, path, env, unset)
        settings.extend(
            UnitSetting(source, name, value)
            for name, (value, source) in effective_environment(env, unset).items()
            if name in variables
        )
    return tuple(settings)


# What ROCr prints when it aborts a process on a GPU fault (ROCm#5824, #5747: "Memory access
# fault by GPU node-1 (Agent handle: ...) on address ... Reason: Page not present ...";
# ROCm#6182: "Memory critical error by agent node-0 ... Reason: Memory in use"; ROCm#5590:
# "HW Exception by GPU node-1 ... GPU Hang"). journalctl's --grep takes a PCRE2 pattern. The
# node number is part of it: the pattern's own text (a `sudo journalctl -g ...` that sudo
# logged with its COMMAND=, this rule's command) has none, so it never matches itself.
HSA_ERROR_PATTERN = (
    "(Memory access fault by GPU|Memory critical error by agent|HW Exception by GPU) node-[0-9]+"
)
# The pattern's matches found by str methods (the scan compiles no regex for them);
# tests/probes/test_probe_tokens.py checks _hsa_error against the pattern.
_HSA_ERROR_WORDS = (
    "Memory access fault by GPU node-",
    "Memory critical error by agent node-",
    "HW Exception by GPU node-",
)
MAX_HSA_LINES = 200
MAX_LINE_CHARS = 500
# The newest output kept: a service in a crash loop can log the error every few seconds.
MAX_HSA_OUTPUT = 256 * 1024


def start_hsa_errors(host: Host) -> Started:
    """Start reading this boot's journal for ROCm runtime errors (see :func:`hsa_errors`).
    Not quiet (-q): journalctl then says on stderr when it found no journal or sees only this
    user's messages, which must not read as "no errors"."""
    return host.start(
        "journal-hsa-errors",
        ["journalctl", "-b", "--no-pager", "-o", "short-iso", "-g", HSA_ERROR_PATTERN],
        timeout=20,
        keep_tail=MAX_HSA_OUTPUT,
    )


def _runtime_error(line: str) -> bool:
    """A line ROCr wrote, not one that quotes its words: sudo logs a command line that
    searches for them (``... ; COMMAND=/usr/bin/grep Memory access fault by GPU node-1 ...``)."""
    return _hsa_error(line) and "COMMAND=" not in line


def _hsa_error(line: str) -> bool:
    """Whether HSA_ERROR_PATTERN is found in line: one of its phrases, then a digit."""
    for words in _HSA_ERROR_WORDS:
        at = line.find(words)
        while at >= 0:
            if digit_run(line, at + len(words)):
                return True
            at = line.find(words, at + 1)
    return False


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
        if line.strip() and not line.startswith("-- ") and _runtime_error(line)
    ]
    if lines:
        return Value(lines[-MAX_HSA_LINES:], done.source)
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
