"""modprobe.d: module options in our drop-in (read last, so its values win), and the
initramfs rebuild that carries them to amdgpu and ttm, which load from it."""

from __future__ import annotations

from hostcheck.facts import Facts
from hostcheck.fix.changes import (
    MARKER,
    MODPROBE_DROPIN,
    UNDO_NOTE,
    Command,
    FileChange,
    PlanError,
    read_bytes,
)
from hostcheck.host.core import Host
from hostcheck.parse.kernel import parse_modprobe_conf
from hostcheck.readings import Value

# (module, name) -> (value, the rule that wants it)
Options = dict[tuple[str, str], tuple[str, str]]


def dropin_text(options: Options, note: str | None = None) -> str:
    """The drop-in's content; ``note`` replaces the first comment's `hostcheck fix --undo`
    line (a MachineConfig's drop-in says who manages it)."""
    by_module: dict[str, list[str]] = {}
    for (module, name), (value, _rule) in sorted(options.items()):
        by_module.setdefault(module, []).append(f"{name}={value}")
    lines = [
        f"{MARKER}: {note or UNDO_NOTE}",
        "# Named zz- so that kmod reads it after the other modprobe.d files: its values win.",
    ]
    lines += [f"options {module} {' '.join(values)}" for module, values in by_module.items()]
    return "\n".join(lines) + "\n"


def plan(host: Host, options: Options, files: list[FileChange], declarative: bool) -> None:
    """Add the drop-in's change to ``files``, merged with what it already sets; ``options``
    becomes the merged set."""
    if not options:
        return
    before = None if declarative else read_bytes(host, MODPROBE_DROPIN)
    merged: Options = {}
    if before is not None:
        if not before.startswith(MARKER.encode()):
            raise PlanError(f"{MODPROBE_DROPIN} exists and was not written by hostcheck")
        for option in parse_modprobe_conf(before.decode(errors="replace")):
            merged[(option.module, option.name)] = (option.value, "")
    merged.update(options)
    options.clear()
    options.update(merged)
    after = dropin_text(merged).encode()
    if after != before:
        files.append(FileChange(MODPROBE_DROPIN, before, after, "module options"))


def initramfs(facts: Facts, loader: str, created: bool) -> Command:
    """The command that rebuilds the initramfs with the drop-in (``created``: this plan makes
    the file, so undo stops tracking it on rpm-ostree)."""
    why = "rebuild the initramfs: amdgpu and ttm load from it, with the modprobe.d options"
    if loader in ("rpm-ostree", "bootc"):
        track = ("rpm-ostree", "initramfs-etc", f"--track={MODPROBE_DROPIN}")
        untrack = ("rpm-ostree", "initramfs-etc", f"--untrack={MODPROBE_DROPIN}")
        return Command(track, why, untrack if created else None)
    if _distro_family(facts) & {"fedora", "rhel", "centos"}:
        argv: tuple[str, ...] = ("dracut", "--force", "--regenerate-all")
    else:
        argv = ("update-initramfs", "-u", "-k", "all")
    return Command(argv, why, argv)


def _distro_family(facts: Facts) -> set[str]:
    info = facts.kernel.os_release.value if isinstance(facts.kernel.os_release, Value) else {}
    return {info.get("ID", "")} | set(info.get("ID_LIKE", "").split())
