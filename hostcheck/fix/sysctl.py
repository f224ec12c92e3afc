"""sysctl.d: sysctls at boot in our drop-in (read last, so its values win), and `sysctl -w`
for the keys whose live value differs."""

from __future__ import annotations

from hostcheck.facts import Facts
from hostcheck.fix.changes import (
    MARKER,
    SYSCTL_DROPIN,
    UNDO_NOTE,
    Command,
    FileChange,
    PlanError,
    read_bytes,
)
from hostcheck.host.core import Host
from hostcheck.readings import Value


def dropin_text(values: dict[str, str], note: str | None = None) -> str:
    """The drop-in's content; ``note`` as for modprobe.dropin_text."""
    lines = [
        f"{MARKER}: {note or UNDO_NOTE}",
        "# Named zz- so that it is read after the other sysctl.d files: its values win.",
        *(f"{key} = {value}" for key, value in sorted(values.items())),
    ]
    return "\n".join(lines) + "\n"


def plan(
    facts: Facts,
    host: Host,
    wanted: dict[str, str],
    files: list[FileChange],
    commands: list[Command],
    declarative: bool,
) -> None:
    if not wanted:
        return
    before = None if declarative else read_bytes(host, SYSCTL_DROPIN)
    merged: dict[str, str] = {}
    if before is not None:
        if not before.startswith(MARKER.encode()):
            raise PlanError(f"{SYSCTL_DROPIN} exists and was not written by hostcheck")
        from hostcheck.probes.boot import parse_sysctl_conf

        merged.update(parse_sysctl_conf(before.decode(errors="replace")))
    merged.update(wanted)
    after = dropin_text(merged).encode()
    changed = after != before
    if changed:
        files.append(FileChange(SYSCTL_DROPIN, before, after, "sysctls at boot"))
    if not (host.live or changed):
        return  # under another root the live value never changes: nothing new to list
    for key, value in sorted(wanted.items()):
        live = facts.sysctl.get(key)
        if isinstance(live, Value) and live.value == value:
            continue
        undo = ("sysctl", "-w", f"{key}={live.value}") if isinstance(live, Value) else None
        commands.append(
            Command(("sysctl", "-w", f"{key}={value}"), "the live value, this key only", undo)
        )
