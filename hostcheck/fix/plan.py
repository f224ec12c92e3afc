"""The plan of changes: from the findings' remediations and the host to files and commands.

Pure apart from reading the current content of the files it would change (through the Host).
Nothing here writes; hostcheck.fix.apply carries a plan out.

Where things go (the reasons are in docs/fix.md):
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

from hostcheck._record import NamedTuple
from hostcheck.facts import Facts
from hostcheck.host.core import Host
from hostcheck.model import Report, Status
from hostcheck.parse import grub, kargs
from hostcheck.parse.kernel import normalise_param, parse_modprobe_conf
from hostcheck.readings import Reason, Value
from hostcheck.render import printable

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
    # What undoes it once the files are restored: the inverse (grubby, rpm-ostree, sysctl),
    # the same regeneration again, or None (nothing to undo).
    undo: tuple[str, ...] | None = None

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
    reboot_required: bool
    notes: tuple[str, ...]
    already_staged: tuple[str, ...] = ()  # rules whose fix waits only for a reboot
    drop_ins: tuple[tuple[str, bytes], ...] = ()  # our drop-ins' full desired content
    manual: tuple[str, ...] = ()  # failing or warning rules whose fix is by hand
    gpu: bool = True  # the host has a Strix Halo GPU (without one there is nothing to fix)

    @property
    def empty(self) -> bool:
        return not self.files and not self.commands


class PlanOptions(NamedTuple):
    only: tuple[str, ...] = ()
    bootloader: str | None = None
    module_options: str = "auto"  # auto, cmdline or modprobe
    # The whole desired state, as for a MachineConfig: ignore what this host already has.
    declarative: bool = False
    exclude: tuple[str, ...] = ()
    # With declarative: the drop-ins' first comment, after the marker (who manages the file and
    # how it is removed); None keeps the `hostcheck fix --undo` line.
    drop_in_note: str | None = None


def _module_param(arg: str) -> tuple[str, str] | None:
    key = kargs.key_of(arg)
    if "." not in key:
        return None
    module, name = key.split(".", 1)
    return module, name


def _refuse_unknown_modprobe(
    facts: Facts,
    adds: dict[str, tuple[str, str]],
    removes: dict[str, str],
    modprobe: dict[tuple[str, str], tuple[str, str]],
) -> None:
    """A plan that sets or removes a module parameter needs every modprobe.d file: one it
    cannot read may set the same parameter (amdgpu cwsr_enable=1 while the plan puts
    amdgpu.cwsr_enable=0 on the command line), and where a parameter goes depends on it."""
    unreadable = facts.driver.staged_unreadable
    touches_modules = (
        bool(modprobe)
        or any(_module_param(arg) for arg, _ in adds.values())
        or any(_module_param(key) for key in removes)
    )
    if unreadable and touches_modules:
        raise PlanError(
            f"cannot plan module options: {unreadable[0][1]}; it may set the same parameters "
            "(make it readable, or leave the module-parameter rules out with --exclude)"
        )


def _read_bytes(host: Host, path: str) -> bytes | None:
    """A file's exact bytes, or None if it does not exist; any other failure stops the plan
    (a file we cannot read is not a file we may replace)."""
    data = host.read_bytes(path)
    if isinstance(data, Value):
        return data.value
    if data.reason is Reason.MISSING:
        return None
    raise PlanError(f"cannot read {path}: {data.describe()}")


def _distro_family(facts: Facts) -> set[str]:
    info = facts.kernel.os_release.value if isinstance(facts.kernel.os_release, Value) else {}
    return {info.get("ID", "")} | set(info.get("ID_LIKE", "").split())


def build(report: Report, facts: Facts, host: Host, options: PlanOptions) -> Plan:
    known = {f.rule.id for f in report.findings}
    for flag, given in (("--only", options.only), ("--exclude", options.exclude)):
        unknown = [rule for rule in given if rule not in known]
        if unknown:
            from hostcheck.checks.catalog import unknown_ids

            raise PlanError(f"unknown rule id(s) for {flag}: {unknown_ids(unknown, known)}")
    chosen = [
        f
        for f in report.findings
        if f.status in FIXABLE
        and f.remediation is not None
        and f.remediation.kind != "manual"
        and (not options.only or f.rule.id in options.only)
        and f.rule.id not in options.exclude
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
    _refuse_unknown_modprobe(facts, adds, removes, modprobe)

    staged: list[str] | None
    if options.bootloader and options.bootloader != facts.boot.loader:
        from hostcheck.probes.boot import read_staged

        notes.append(
            f"--bootloader {options.bootloader}: `hostcheck scan` reads the boot configuration "
            f"of {facts.boot.loader} ({facts.boot.detected_by}), so it will not see this "
            "change as staged; remove what makes it detect that loader if it is stale"
        )
        reading = read_staged(host, options.bootloader)[0]
        staged = reading.value if isinstance(reading, Value) else None
    else:
        staged = facts.boot.staged.value if isinstance(facts.boot.staged, Value) else None
    # What the scanned host's boot configuration passes now, also for a declarative plan (the
    # arguments a MachineConfig cannot remove are named in its notes).
    scanned = staged
    if options.declarative:
        staged = None
    # Route module parameters that modprobe.d already sets (or all, if asked) to modprobe.d.
    staged_params = {(o.module, o.name) for _, o in facts.driver.staged_options}
    # A module the user configures in modprobe.d gets all its parameters there.
    staged_modules = {module for module, _ in staged_params}
    cmdline_adds: list[str] = []
    cmdline_removes: list[str] = []
    for arg, rule_id in adds.values():
        module = _module_param(arg)
        value = arg.split("=", 1)[1] if "=" in arg else "1"
        if module is not None and (
            options.module_options == "modprobe"
            or (options.module_options == "auto" and module[0] in staged_modules)
        ):
            # In modprobe.d, and off the command line, so the two never disagree.
            modprobe[module] = (value, rule_id)
            if options.declarative:
                on_line = scanned is not None and kargs.key_of(arg) in kargs.effective(scanned)
            else:
                on_line = staged is None or kargs.key_of(arg) in kargs.effective(staged)
            if on_line:
                cmdline_removes.append(kargs.key_of(arg))  # off the command line, if there
        else:
            cmdline_adds.append(arg)
            if module is not None and module in staged_params:
                # A modprobe.d file of the user's sets it too: the same value in our drop-in
                # (read last), so the two agree whichever is applied last.
                modprobe[module] = (value, rule_id)
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
        if key not in cmdline_removes:
            cmdline_removes.append(key)
    for arg in [*cmdline_adds, *cmdline_removes]:
        try:
            kargs.check_safe(arg)
        except kargs.KargError as exc:
            raise PlanError(str(exc)) from None

    files: list[FileChange] = []
    commands: list[Command] = []
    loader = options.bootloader or facts.boot.loader
    if cmdline_adds or cmdline_removes:
        boot = _Boot(facts, host, options, loader, staged, notes)
        boot.plan(cmdline_adds, cmdline_removes)
        files += boot.files
        commands += boot.commands
    reboot = bool(files or commands)
    modprobe_before = len(files)
    _modprobe(host, modprobe, files, options.declarative)
    if len(files) > modprobe_before:
        reboot = True
        commands.append(_initramfs(facts, loader, files[-1].before is None))
    _sysctl(facts, host, sysctl, files, commands, options.declarative)
    drop_ins = tuple((f.path, f.after) for f in files if f.path in (MODPROBE_DROPIN, SYSCTL_DROPIN))
    if options.declarative:
        drop_ins = tuple(
            (path, content)
            for path, content in (
                (
                    MODPROBE_DROPIN,
                    _modprobe_text(modprobe, options.drop_in_note).encode() if modprobe else None,
                ),
                (
                    SYSCTL_DROPIN,
                    _sysctl_text(sysctl, options.drop_in_note).encode() if sysctl else None,
                ),
            )
            if content is not None
        )
    return Plan(
        rules=tuple(f.rule.id for f in chosen),
        loader=loader,
        kernel_args_add=tuple(cmdline_adds),
        kernel_args_remove=tuple(cmdline_removes),
        modprobe=tuple(_modprobe_text(modprobe).splitlines()[2:]) if modprobe else (),
        sysctl=sysctl,
        files=tuple(files),
        commands=tuple(commands),
        reboot_required=reboot,
        notes=tuple(notes),
        already_staged=tuple(f.rule.id for f in chosen if f.status is Status.PENDING),
        drop_ins=drop_ins,
        manual=tuple(manual),
        gpu=report.gpu is not None,
    )


class _Boot:
    """Kernel-argument changes through one boot loader backend."""

    def __init__(
        self,
        facts: Facts,
        host: Host,
        options: PlanOptions,
        loader: str,
        staged: list[str] | None,
        notes: list[str],
    ) -> None:
        self.facts, self.host, self.loader, self.staged, self.notes = (
            facts,
            host,
            loader,
            staged,
            notes,
        )
        self.declarative = options.declarative
        self.files: list[FileChange] = []
        self.commands: list[Command] = []

    def plan(self, adds: list[str], removes: list[str]) -> None:
        handler = {
            "grub": self._grub,
            "systemd-boot": self._systemd_boot,
            "grubby": self._grubby,
            "rpm-ostree": self._ostree,
            "bootc": self._ostree,
        }.get(self.loader)
        if handler is None:
            raise PlanError(
                f"cannot change kernel arguments: boot loader {self.loader!r} "
                f"({self.facts.boot.detected_by}); choose one with --bootloader "
                f"{{{','.join(BOOTLOADERS)}}}"
            )
        handler(adds, removes)

    def _generated_stale(self, adds: list[str], removes: list[str]) -> bool:
        # A stale grub.cfg or loader entry is regenerated on the live host; under another
        # root the command is only ever a pending step, so repeating it would make every run
        # a change.
        generated = self.facts.boot.generated
        return self.host.live and (
            generated is None or not kargs.satisfied(generated.value, adds, removes)
        )

    def _grub(self, adds: list[str], removes: list[str]) -> None:
        staged = self.facts.boot.staged
        if self.staged is None and not self.declarative and not isinstance(staged, Value):
            why = staged.detail or staged.reason.value
            raise PlanError(
                f"cannot read back the GRUB configuration ({staged.source}: {why}), so no scan "
                "could confirm a change there; fix that, or add the arguments by hand: "
                + " ".join([*adds, *(f"-{k}" for k in removes)])
            )
        if self.staged is not None and any('"' in a or "'" in a for a in self.staged):
            raise PlanError(
                "the GRUB command line carries quoted arguments, which the drop-in's word "
                "filter would split; add the arguments by hand: " + " ".join(adds)
            )
        before = _read_bytes(self.host, grub.DROPIN)
        old_add: list[str] = []
        old_remove: list[str] = []
        if before is not None:
            ours = grub.read_dropin(before.decode(errors="replace"))
            if ours is None:
                raise PlanError(f"{grub.DROPIN} exists and was not written by hostcheck")
            old_add, old_remove = ours
        # Arguments the drop-in already carries keep their place: re-running a plan must not
        # reorder (and so rewrite) the file.
        new_add = kargs.edit(old_add, [a for a in adds if a not in old_add], removes)
        new_keys = {kargs.key_of(a) for a in new_add}
        new_remove = sorted((set(old_remove) | set(removes)) - new_keys)
        after = grub.render_dropin(new_add, new_remove).encode()
        if after != before:
            self.files.append(
                FileChange(grub.DROPIN, before, after, "kernel arguments (GRUB drop-in)")
            )
        if after != before or self._generated_stale(adds, removes):
            regenerate = ("update-grub",)
            self.commands.append(Command(regenerate, "regenerate /boot/grub/grub.cfg", regenerate))

    def _systemd_boot(self, adds: list[str], removes: list[str]) -> None:
        before = _read_bytes(self.host, KERNEL_CMDLINE)
        if before is not None:
            base = kargs.split(before.decode(errors="replace"))
        else:
            # kernel-install's own fallback is /proc/cmdline, less what the boot loader adds.
            running = self.facts.kernel.cmdline
            if not isinstance(running, Value):
                raise PlanError(
                    f"{KERNEL_CMDLINE} does not exist and /proc/cmdline is unreadable: "
                    "cannot make the command line for new boot entries"
                )
            base = [
                a.text if a.value is None or " " not in a.value else f'{a.key}="{a.value}"'
                for a in running.value
                if a.key not in ("BOOT_IMAGE", "initrd")
            ]
            self.notes.append(
                f"{KERNEL_CMDLINE} does not exist: created from /proc/cmdline (without "
                "BOOT_IMAGE= and initrd=)"
            )
        if not any(kargs.key_of(a) in ("root", "mount.usr") for a in base):
            raise PlanError(
                f"the command line for new boot entries would have no root= "
                f"({KERNEL_CMDLINE}: {' '.join(base) or 'empty'}); set it there first"
            )
        after = (" ".join(kargs.edit(base, adds, removes)) + "\n").encode()
        if after != before:
            self.files.append(
                FileChange(KERNEL_CMDLINE, before, after, "kernel arguments for new boot entries")
            )
        release = self.facts.kernel.release
        if not isinstance(release, Value):
            raise PlanError("the running kernel release is unknown: cannot run kernel-install")
        kver = release.value.raw
        image = next(
            (
                path
                for path in (f"/usr/lib/modules/{kver}/vmlinuz", f"/boot/vmlinuz-{kver}")
                if self.host.exists(path)
            ),
            f"/usr/lib/modules/{kver}/vmlinuz",
        )
        initrd = [
            path
            for path in (f"/boot/initrd.img-{kver}", f"/boot/initramfs-{kver}.img")
            if self.host.exists(path)
        ][:1]
        if after != before or self._generated_stale(adds, removes):
            argv = ("kernel-install", "add", kver, image, *initrd)
            self.commands.append(
                Command(argv, "regenerate the boot entry of the running kernel", argv)
            )
            self.notes.append(
                "kernel-install rewrites the running kernel's entry only; other installed "
                "kernels get the arguments when they are next installed or updated"
            )

    def _already(self, adds: list[str], removes: list[str]) -> bool:
        return self.staged is not None and kargs.satisfied(self.staged, adds, removes)

    def _exact(self, key: str) -> list[str]:
        """The arguments with ``key`` as the staged line writes them (quotes and spelling)."""
        return [a for a in self.staged or [] if kargs.key_of(a) == kargs.key_of(key)]

    def _spellings(self, key: str) -> list[str]:
        """The key as the staged line writes it (each distinct spelling), or as given."""
        found = [a.split("=", 1)[0] for a in self._exact(key)]
        return list(dict.fromkeys(found)) or [key]

    def _grubby(self, adds: list[str], removes: list[str]) -> None:
        if self._already(adds, removes):
            return
        argv = ["grubby", "--update-kernel=ALL"]
        if adds:
            argv.append(f"--args={' '.join(adds)}")
        if removes:
            # As the entries spell them (grubby compares names literally: ttm.pages-limit).
            spelled = [kargs_key for k in removes for kargs_key in self._spellings(k)]
            argv.append(f"--remove-args={' '.join(spelled)}")
        old_values = [a for key in [*adds, *removes] for a in self._exact(key)]
        new_only = [kargs.key_of(a) for a in adds if not self._exact(a)]
        back = ["grubby", "--update-kernel=ALL"]
        if old_values:
            back.append(f"--args={' '.join(old_values)}")
        if new_only:
            back.append(f"--remove-args={' '.join(new_only)}")
        self.commands.append(
            Command(tuple(argv), "kernel arguments of every boot entry (BLS)", tuple(back))
        )

    def _ostree(self, adds: list[str], removes: list[str]) -> None:
        if self._already(adds, removes):
            return
        argv = ["rpm-ostree", "kargs"]
        back = ["rpm-ostree", "kargs"]
        for arg in adds:
            olds = self._exact(arg)
            for old in olds:
                if old != arg:
                    argv.append(f"--delete-if-present={old}")
                    back.append(f"--append-if-missing={old}")
            if arg not in olds:
                argv.append(f"--append-if-missing={arg}")
                back.insert(2, f"--delete-if-present={arg}")
        for key in removes:
            for old in self._exact(key):
                argv.append(f"--delete-if-present={old}")
                back.append(f"--append-if-missing={old}")
        self.commands.append(
            Command(tuple(argv), "stage a deployment with the kernel arguments", tuple(back))
        )
        if self.loader == "bootc":
            toml = ", ".join(f'"{a}"' for a in adds)
            self.notes.append(
                "bootc: these are machine-local kernel arguments, carried across `bootc upgrade`. "
                "To make them part of the image, add /usr/lib/bootc/kargs.d/99-hostcheck.toml "
                f"with `kargs = [{toml}]` to the Containerfile"
                + (f" and drop {', '.join(removes)} there" if removes else "")
                + "."
            )


_UNDO_NOTE = "written by `hostcheck fix`; remove it with `hostcheck fix --undo`."


def _modprobe_text(options: dict[tuple[str, str], tuple[str, str]], note: str | None = None) -> str:
    by_module: dict[str, list[str]] = {}
    for (module, name), (value, _rule) in sorted(options.items()):
        by_module.setdefault(module, []).append(f"{name}={value}")
    lines = [
        f"{MARKER}: {note or _UNDO_NOTE}",
        "# Named zz- so that kmod reads it after the other modprobe.d files: its values win.",
    ]
    lines += [f"options {module} {' '.join(values)}" for module, values in by_module.items()]
    return "\n".join(lines) + "\n"


def _modprobe(
    host: Host,
    options: dict[tuple[str, str], tuple[str, str]],
    files: list[FileChange],
    declarative: bool,
) -> None:
    if not options:
        return
    before = None if declarative else _read_bytes(host, MODPROBE_DROPIN)
    merged: dict[tuple[str, str], tuple[str, str]] = {}
    if before is not None:
        if not before.startswith(MARKER.encode()):
            raise PlanError(f"{MODPROBE_DROPIN} exists and was not written by hostcheck")
        for option in parse_modprobe_conf(before.decode(errors="replace")):
            merged[(option.module, option.name)] = (option.value, "")
    merged.update(options)
    options.clear()
    options.update(merged)
    after = _modprobe_text(merged).encode()
    if after != before:
        files.append(FileChange(MODPROBE_DROPIN, before, after, "module options"))


def _initramfs(facts: Facts, loader: str, created: bool) -> Command:
    why = "rebuild the initramfs: amdgpu and ttm load from it, with the modprobe.d options"
    if loader in ("rpm-ostree", "bootc"):
        track = ("rpm-ostree", "initramfs-etc", f"--track={MODPROBE_DROPIN}")
        # Stop tracking on undo only if this transaction created the file.
        untrack = ("rpm-ostree", "initramfs-etc", f"--untrack={MODPROBE_DROPIN}")
        return Command(track, why, untrack if created else None)
    if _distro_family(facts) & {"fedora", "rhel", "centos"}:
        argv: tuple[str, ...] = ("dracut", "--force", "--regenerate-all")
    else:
        argv = ("update-initramfs", "-u", "-k", "all")
    return Command(argv, why, argv)


def _sysctl_text(values: dict[str, str], note: str | None = None) -> str:
    lines = [
        f"{MARKER}: {note or _UNDO_NOTE}",
        "# Named zz- so that it is read after the other sysctl.d files: its values win.",
        *(f"{key} = {value}" for key, value in sorted(values.items())),
    ]
    return "\n".join(lines) + "\n"


def _sysctl(
    facts: Facts,
    host: Host,
    wanted: dict[str, str],
    files: list[FileChange],
    commands: list[Command],
    declarative: bool,
) -> None:
    if not wanted:
        return
    before = None if declarative else _read_bytes(host, SYSCTL_DROPIN)
    merged: dict[str, str] = {}
    if before is not None:
        if not before.startswith(MARKER.encode()):
            raise PlanError(f"{SYSCTL_DROPIN} exists and was not written by hostcheck")
        from hostcheck.probes.boot import parse_sysctl_conf

        merged.update(parse_sysctl_conf(before.decode(errors="replace")))
    merged.update(wanted)
    after = _sysctl_text(merged).encode()
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


# --- presentation ----------------------------------------------------------------------------


def diff(change: FileChange) -> str:
    before = (change.before or b"").decode(errors="replace").splitlines(keepends=True)
    after = change.after.decode(errors="replace").splitlines(keepends=True)
    label = "/dev/null" if change.before is None else f"a{change.path}"
    return "".join(difflib.unified_diff(before, after, label, f"b{change.path}"))


def render(plan: Plan, *, live: bool, root: str) -> str:
    """The plan as a reader checks it: diffs, exact commands, what needs a reboot."""
    out: list[str] = []
    where = "this host" if live else (root if root.startswith("bundled") else f"the tree at {root}")
    manual = (
        f"By hand (hostcheck cannot change these; `hostcheck explain RULE` says how): "
        f"{', '.join(plan.manual)}."
    )
    if not plan.gpu:
        out.append(
            f"Nothing to fix: {where} has no Strix Halo GPU (gpu.present), so the GPU rules were "
            "skipped and hostcheck has no change to make."
        )
        out.extend(f"note: {n}" for n in plan.notes)
        return printable("\n".join(out)) + "\n"
    if plan.empty:
        if plan.manual and not plan.rules:
            out.append("No change hostcheck can make: what fails here needs a manual fix.")
        else:
            out.append("Nothing to do: every change hostcheck would make is already in place.")
        if plan.already_staged:
            out.append(f"Staged, waiting for a reboot: {', '.join(plan.already_staged)}.")
        stuck = [rule for rule in plan.rules if rule not in plan.already_staged]
        if stuck:
            out.append(
                f"Still failing although the plan changes nothing: {', '.join(stuck)}; "
                "see `hostcheck scan --verbose` for what keeps them failing."
            )
        if plan.manual:
            out.append(manual)
        out.extend(f"note: {n}" for n in plan.notes)
        return printable("\n".join(out)) + "\n"
    fixing = [rule for rule in plan.rules if rule not in plan.already_staged]
    out.append(
        f"Plan for {where}: fixes {', '.join(fixing) or '-'} (boot loader: {plan.loader})"
        + (f"; already staged: {', '.join(plan.already_staged)}" if plan.already_staged else "")
    )
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
    if plan.manual:
        out.append(manual)
    out.extend(f"note: {n}" for n in plan.notes)
    # Diffs show host files and notes host values: an ESC in them must not reach a terminal.
    return printable("\n".join(out)) + "\n"


def summary_args(values: Sequence[str]) -> str:
    return " ".join(values) if values else "-"
