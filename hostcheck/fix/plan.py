"""The plan of changes: from the findings' remediations and the host to files and commands.

Pure apart from reading the current content of the files it would change (through the Host).
Nothing here writes; hostcheck.fix.apply carries a plan out.

Where things go (the reasons are in the README's "Fixing" section):
- kernel arguments: the boot loader backend (GRUB drop-in + update-grub, grubby, the
  systemd-boot /etc/kernel/cmdline + kernel-install, rpm-ostree kargs, bootc);
- a module parameter (``ttm.pages_limit``) that modprobe.d already sets for that module goes
  to our modprobe.d drop-in instead, so our value is not fought by the user's (or always, with
  ``--module-options modprobe``); the initramfs is rebuilt after a modprobe.d change, because
  amdgpu and ttm load from it;
- sysctls: our sysctl.d drop-in, plus ``sysctl -w`` for the keys whose live value differs.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Sequence
from typing import NamedTuple

from hostcheck.facts import Facts
from hostcheck.fix import grub, kargs
from hostcheck.host import Host
from hostcheck.model import Report, Status
from hostcheck.parsers import normalise_param, parse_modprobe_conf
from hostcheck.readings import Value

MODPROBE_DROPIN = "/etc/modprobe.d/zz-hostcheck.conf"
SYSCTL_DROPIN = "/etc/sysctl.d/zz-hostcheck.conf"
KERNEL_CMDLINE = "/etc/kernel/cmdline"
MARKER = "# hostcheck-managed"
BOOTLOADERS = ("grub", "grubby", "systemd-boot", "rpm-ostree", "bootc")
FIXABLE = (Status.FAIL, Status.WARN, Status.PENDING)


class PlanError(Exception):
    """The plan cannot be made: a conflict, an unknown boot loader, an unsafe value."""


class FileChange(NamedTuple):
    path: str
    before: bytes | None  # None: the file does not exist yet
    after: bytes
    why: str


class Command(NamedTuple):
    argv: tuple[str, ...]
    why: str

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


class Plan(NamedTuple):
    rules: tuple[str, ...]
    loader: str
    kernel_args_add: tuple[str, ...]
    kernel_args_remove: tuple[str, ...]
    modprobe: tuple[str, ...]  # "module name=value …" lines of our drop-in
    sysctl: dict[str, str]
    files: tuple[FileChange, ...]
    commands: tuple[Command, ...]  # after the files, in order
    undo_commands: tuple[Command, ...]  # what undoes the commands that are not regenerations
    reboot_required: bool
    notes: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.files and not self.commands


class PlanOptions(NamedTuple):
    only: tuple[str, ...] = ()
    bootloader: str | None = None
    module_options: str = "auto"  # auto, cmdline or modprobe


def _module_param(arg: str) -> tuple[str, str] | None:
    key = kargs.key_of(arg)
    if "." not in key:
        return None
    module, name = key.split(".", 1)
    return module, name


def _read_bytes(host: Host, path: str) -> bytes | None:
    text = host.read_text(path)
    return text.value.encode() if isinstance(text, Value) else None


def _distro_family(facts: Facts) -> set[str]:
    info = facts.kernel.os_release.value if isinstance(facts.kernel.os_release, Value) else {}
    return {info.get("ID", "")} | set(info.get("ID_LIKE", "").split())


def build(report: Report, facts: Facts, host: Host, options: PlanOptions) -> Plan:
    known = {f.rule.id for f in report.findings}
    unknown = [rule for rule in options.only if rule not in known]
    if unknown:
        raise PlanError(f"unknown rule id(s) for --only: {', '.join(unknown)}")
    chosen = [
        f
        for f in report.findings
        if f.status in FIXABLE
        and f.remediation is not None
        and f.remediation.kind != "manual"
        and (not options.only or f.rule.id in options.only)
    ]
    notes: list[str] = []
    for rule in options.only:
        if rule not in {f.rule.id for f in chosen}:
            notes.append(f"{rule}: nothing hostcheck can change (passing, or a manual fix)")
    manual = [
        f.rule.id
        for f in report.findings
        if f.status in (Status.FAIL, Status.WARN)
        and f.remediation is not None
        and f.remediation.kind == "manual"
        and (not options.only or f.rule.id in options.only)
    ]
    if manual:
        notes.append(
            f"Manual fixes (see `hostcheck scan --verbose`), not part of this plan: {', '.join(manual)}"
        )

    adds: dict[str, tuple[str, str]] = {}  # key -> (arg, rule)
    removes: dict[str, str] = {}
    modprobe: dict[tuple[str, str], tuple[str, str]] = {}  # (module, name) -> (value, rule)
    sysctl: dict[str, str] = {}
    for finding in chosen:
        remedy = finding.remediation
        assert remedy is not None
        for arg in remedy.add_kernel_args:
            key = kargs.key_of(arg)
            if key in adds and adds[key][0] != arg:
                raise PlanError(
                    f"conflicting fixes: {adds[key][1]} wants {adds[key][0]}, "
                    f"{finding.rule.id} wants {arg}; narrow the plan with --only"
                )
            adds[key] = (arg, finding.rule.id)
        for key in remedy.remove_kernel_args:
            removes[normalise_param(key)] = finding.rule.id
        for line in remedy.modprobe:
            for option in parse_modprobe_conf(f"options {line}\n"):
                modprobe[(option.module, option.name)] = (option.value, finding.rule.id)
        sysctl.update(remedy.sysctl)
    for key in list(removes):
        if key in adds:  # a replacement: the add wins
            del removes[key]

    # Route module parameters that modprobe.d already sets (or all, if asked) to modprobe.d.
    staged_params = {(o.module, o.name) for _, o in facts.driver.staged_options}
    cmdline_adds: list[str] = []
    for arg, _rule in adds.values():
        module = _module_param(arg)
        route = module is not None and (
            options.module_options == "modprobe"
            or (options.module_options == "auto" and module in staged_params)
        )
        if module is not None and route:
            modprobe[module] = (arg.split("=", 1)[1] if "=" in arg else "1", _rule)
        else:
            cmdline_adds.append(arg)
    cmdline_removes: list[str] = []
    for key in removes:
        module = _module_param(key)
        if module is not None and module in staged_params:
            if module == ("amdgpu", "gttsize"):
                modprobe[module] = ("-1", removes[key])  # -1 = auto: as if never set
                notes.append(
                    "amdgpu.gttsize is set in modprobe.d: overridden with gttsize=-1 (auto) in "
                    f"{MODPROBE_DROPIN}; the original line stays where it is"
                )
            else:
                notes.append(
                    f"{key} is set in modprobe.d; remove it there by hand (hostcheck does not "
                    "edit files it does not own)"
                )
        cmdline_removes.append(key)
    for arg in [*cmdline_adds, *cmdline_removes]:
        try:
            kargs.check_safe(arg)
        except kargs.KargError as exc:
            raise PlanError(str(exc)) from None

    files: list[FileChange] = []
    commands: list[Command] = []
    undo: list[Command] = []
    loader = options.bootloader or facts.boot.loader
    if cmdline_adds or cmdline_removes:
        _kernel_args(
            facts, host, loader, cmdline_adds, cmdline_removes, files, commands, undo, notes
        )
    modprobe_lines = _modprobe(host, modprobe, files)
    if modprobe_lines is not None:
        commands.append(_initramfs(facts, loader))
    _sysctl(facts, host, sysctl, files, commands, undo)
    reboot = bool(cmdline_adds or cmdline_removes or modprobe)
    return Plan(
        rules=tuple(f.rule.id for f in chosen),
        loader=loader,
        kernel_args_add=tuple(cmdline_adds),
        kernel_args_remove=tuple(cmdline_removes),
        modprobe=tuple(_modprobe_text(modprobe).splitlines()[2:]) if modprobe else (),
        sysctl=sysctl,
        files=tuple(files),
        commands=tuple(commands),
        undo_commands=tuple(undo),
        reboot_required=reboot and bool(files or commands),
        notes=tuple(notes),
    )


def _kernel_args(
    facts: Facts,
    host: Host,
    loader: str,
    adds: list[str],
    removes: list[str],
    files: list[FileChange],
    commands: list[Command],
    undo: list[Command],
    notes: list[str],
) -> None:
    staged = facts.boot.staged.value if isinstance(facts.boot.staged, Value) else None
    if loader == "grub":
        before = _read_bytes(host, grub.DROPIN)
        old_add: list[str] = []
        old_remove: list[str] = []
        if before is not None:
            ours = grub.read_dropin(before.decode())
            if ours is None:
                raise PlanError(f"{grub.DROPIN} exists and was not written by hostcheck")
            old_add, old_remove = ours
        new_add = kargs.edit(old_add, adds, removes)
        new_keys = {kargs.key_of(a) for a in new_add}
        new_remove = sorted((set(old_remove) | set(removes)) - new_keys)
        after = grub.render_dropin(new_add, new_remove).encode()
        if after != before:
            files.append(FileChange(grub.DROPIN, before, after, "kernel arguments (GRUB drop-in)"))
        generated = facts.boot.generated
        # A stale grub.cfg is regenerated on the live host; under another root the command
        # is only ever a pending step, so repeating it would make every run a change.
        stale = (
            host.live
            and generated is not None
            and not kargs.satisfied(generated.value, adds, removes)
        )
        if after != before or stale:
            commands.append(Command(("update-grub",), "regenerate /boot/grub/grub.cfg"))
        return
    if loader == "systemd-boot":
        before = _read_bytes(host, KERNEL_CMDLINE)
        if before is not None:
            base = kargs.split(before.decode())
        else:
            base = [a for a in (staged or []) if not a.startswith(("BOOT_IMAGE=", "initrd="))]
            notes.append(f"{KERNEL_CMDLINE} does not exist: created from the current command line")
        after = (" ".join(kargs.edit(base, adds, removes)) + "\n").encode()
        if after != before:
            files.append(
                FileChange(KERNEL_CMDLINE, before, after, "kernel arguments for new boot entries")
            )
        release = (
            facts.kernel.release.value.raw if isinstance(facts.kernel.release, Value) else None
        )
        if release is None:
            raise PlanError("the running kernel release is unknown: cannot run kernel-install")
        generated = facts.boot.generated
        stale = host.live and (
            generated is None or not kargs.satisfied(generated.value, adds, removes)
        )
        if after != before or stale:
            commands.append(
                Command(
                    ("kernel-install", "add", release, f"/usr/lib/modules/{release}/vmlinuz"),
                    "regenerate the boot entry of the running kernel",
                )
            )
        return
    if staged is not None and kargs.satisfied(staged, adds, removes):
        return
    if loader == "grubby":
        argv = ["grubby", "--update-kernel=ALL"]
        if adds:
            argv.append(f"--args={' '.join(adds)}")
        if removes:
            argv.append(f"--remove-args={' '.join(removes)}")
        commands.append(Command(tuple(argv), "kernel arguments of every boot entry (BLS)"))
        undo_argv = ["grubby", "--update-kernel=ALL"]
        old = kargs.effective(staged or [])
        restore = [
            _arg(kargs.key_of(a), old[kargs.key_of(a)]) for a in adds if kargs.key_of(a) in old
        ] + [_arg(k, old[k]) for k in removes if k in old]
        new_only = [kargs.key_of(a) for a in adds if kargs.key_of(a) not in old]
        if restore:
            undo_argv.append(f"--args={' '.join(restore)}")
        if new_only:
            undo_argv.append(f"--remove-args={' '.join(new_only)}")
        undo.append(Command(tuple(undo_argv), "restore the kernel arguments"))
        return
    if loader in ("rpm-ostree", "bootc"):
        old = kargs.effective(staged or [])
        argv = ["rpm-ostree", "kargs"]
        back = ["rpm-ostree", "kargs"]
        for arg in adds:
            key = kargs.key_of(arg)
            if key in old:
                argv.append(f"--replace={arg}")
                back.append(f"--replace={_arg(key, old[key])}")
            else:
                argv.append(f"--append={arg}")
                back.append(f"--delete={arg}")
        for key in removes:
            if key in old:
                argv.append(f"--delete={_arg(key, old[key])}")
                back.append(f"--append={_arg(key, old[key])}")
        commands.append(Command(tuple(argv), "stage a deployment with the kernel arguments"))
        undo.append(Command(tuple(back), "restore the kernel arguments"))
        if loader == "bootc":
            toml = ", ".join(f'"{a}"' for a in adds)
            notes.append(
                "bootc: these are machine-local kernel arguments, carried across `bootc upgrade`. "
                "To make them part of the image, add /usr/lib/bootc/kargs.d/99-hostcheck.toml "
                f"with `kargs = [{toml}]` to the Containerfile"
                + (f" and drop {', '.join(removes)} there" if removes else "")
                + "."
            )
        return
    raise PlanError(
        f"cannot change kernel arguments: boot loader {loader!r} ({facts.boot.detected_by}); "
        f"choose one with --bootloader {{{','.join(BOOTLOADERS)}}}"
    )


def _arg(key: str, value: str | None) -> str:
    return key if value is None else f"{key}={value}"


def _modprobe_text(options: dict[tuple[str, str], tuple[str, str]]) -> str:
    by_module: dict[str, list[str]] = {}
    for (module, name), (value, _rule) in sorted(options.items()):
        by_module.setdefault(module, []).append(f"{name}={value}")
    lines = [
        f"{MARKER}: written by `hostcheck fix`; remove it with `hostcheck fix --undo`.",
        "# Named zz- so that kmod reads it after the other modprobe.d files: its values win.",
    ]
    lines += [f"options {module} {' '.join(values)}" for module, values in by_module.items()]
    return "\n".join(lines) + "\n"


def _modprobe(
    host: Host, options: dict[tuple[str, str], tuple[str, str]], files: list[FileChange]
) -> str | None:
    if not options:
        return None
    before = _read_bytes(host, MODPROBE_DROPIN)
    merged: dict[tuple[str, str], tuple[str, str]] = {}
    if before is not None:
        if not before.startswith(MARKER.encode()):
            raise PlanError(f"{MODPROBE_DROPIN} exists and was not written by hostcheck")
        for option in parse_modprobe_conf(before.decode()):
            merged[(option.module, option.name)] = (option.value, "")
    merged.update(options)
    options.clear()
    options.update(merged)
    after = _modprobe_text(merged).encode()
    if after == before:
        return None
    files.append(FileChange(MODPROBE_DROPIN, before, after, "module options"))
    return after.decode()


def _initramfs(facts: Facts, loader: str) -> Command:
    why = "rebuild the initramfs: amdgpu and ttm load from it, with the modprobe.d options"
    if loader in ("rpm-ostree", "bootc"):
        return Command(("rpm-ostree", "initramfs-etc", f"--track={MODPROBE_DROPIN}"), why)
    if _distro_family(facts) & {"fedora", "rhel", "centos"}:
        return Command(("dracut", "--force", "--regenerate-all"), why)
    return Command(("update-initramfs", "-u", "-k", "all"), why)


def _sysctl(
    facts: Facts,
    host: Host,
    wanted: dict[str, str],
    files: list[FileChange],
    commands: list[Command],
    undo: list[Command],
) -> None:
    if not wanted:
        return
    before = _read_bytes(host, SYSCTL_DROPIN)
    merged: dict[str, str] = {}
    if before is not None:
        if not before.startswith(MARKER.encode()):
            raise PlanError(f"{SYSCTL_DROPIN} exists and was not written by hostcheck")
        from hostcheck.probes.boot import parse_sysctl_conf

        merged.update(parse_sysctl_conf(before.decode()))
    merged.update(wanted)
    lines = [
        f"{MARKER}: written by `hostcheck fix`; remove it with `hostcheck fix --undo`.",
        "# Named zz- so that it is read after the other sysctl.d files: its values win.",
        *(f"{key} = {value}" for key, value in sorted(merged.items())),
    ]
    after = ("\n".join(lines) + "\n").encode()
    if after != before:
        files.append(FileChange(SYSCTL_DROPIN, before, after, "sysctls at boot"))
    for key, value in sorted(wanted.items()):
        live = facts.sysctl.get(key)
        if isinstance(live, Value) and live.value == value:
            continue
        commands.append(
            Command(("sysctl", "-w", f"{key}={value}"), "the live value, this key only")
        )
        if isinstance(live, Value):
            undo.append(Command(("sysctl", "-w", f"{key}={live.value}"), "the previous live value"))


# --- presentation ----------------------------------------------------------------------------


def diff(change: FileChange) -> str:
    before = (change.before or b"").decode(errors="replace").splitlines(keepends=True)
    after = change.after.decode(errors="replace").splitlines(keepends=True)
    label = "/dev/null" if change.before is None else f"a{change.path}"
    return "".join(difflib.unified_diff(before, after, label, f"b{change.path}"))


def render(plan: Plan, *, live: bool, root: str) -> str:
    """The plan as a reader checks it: diffs, exact commands, what needs a reboot."""
    out: list[str] = []
    if plan.empty:
        out.append("Nothing to do: every fix hostcheck can make is already in place.")
        if plan.rules:
            out.append(
                f"(already staged: {', '.join(plan.rules)}; reboot to bring them into effect)"
            )
        out.extend(f"note: {n}" for n in plan.notes)
        return "\n".join(out) + "\n"
    where = "this host" if live else f"the tree at {root}"
    out.append(f"Plan for {where}: fixes {', '.join(plan.rules)} (boot loader: {plan.loader})")
    for change in plan.files:
        out.append("")
        out.append(f"--- {change.path}: {change.why}")
        out.append(diff(change).rstrip("\n"))
    if plan.commands:
        out.append("")
        heading = (
            "Commands, in order:"
            if live
            else ("Commands to run on the host itself (not run under --root; pending steps):")
        )
        out.append(heading)
        for command in plan.commands:
            out.append(f"  {command.text}    # {command.why}")
    out.append("")
    out.append(
        "A reboot is needed for the kernel arguments and module options to take effect."
        if plan.reboot_required
        else "No reboot needed."
    )
    out.extend(f"note: {n}" for n in plan.notes)
    return "\n".join(out) + "\n"


def summary_args(values: Sequence[str]) -> str:
    return " ".join(values) if values else "-"
