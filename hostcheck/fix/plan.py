"""The plan of changes: from the findings' remediations and the host to files and commands.

Pure apart from reading the current content of the files it would change (through the Host).
Nothing here writes; hostcheck.fix.transaction carries a plan out.

Where things go (the reasons are in docs/fix.md):
- kernel arguments: the boot loader backend (hostcheck.fix.boot: GRUB drop-in + update-grub,
  grubby, the systemd-boot /etc/kernel/cmdline + kernel-install, rpm-ostree kargs, bootc);
- a module parameter (``ttm.pages_limit``) that modprobe.d already sets for that module goes
  to our modprobe.d drop-in instead, so our value is not fought by the user's (or always, with
  ``--module-options modprobe``); the initramfs is rebuilt after a modprobe.d change, because
  amdgpu and ttm load from it (hostcheck.fix.modprobe);
- sysctls: our sysctl.d drop-in, plus ``sysctl -w`` for the keys whose live value differs
  (hostcheck.fix.sysctl).
"""

from __future__ import annotations

from hostcheck._record import NamedTuple
from hostcheck.facts import Facts
from hostcheck.fix import modprobe as modprobe_d
from hostcheck.fix import sysctl as sysctl_d
from hostcheck.fix.boot import BOOTLOADERS, BootPlan
from hostcheck.fix.changes import (
    KERNEL_CMDLINE,
    MARKER,
    MODPROBE_DROPIN,
    SYSCTL_DROPIN,
    Command,
    FileChange,
    PlanError,
)
from hostcheck.host.core import Host
from hostcheck.model import Report, Status
from hostcheck.parse import kargs
from hostcheck.parse.kargs import module_param
from hostcheck.parse.kernel import normalise_param, parse_modprobe_conf
from hostcheck.readings import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.model import Finding

__all__ = [
    "BOOTLOADERS",
    "FIXABLE",
    "KERNEL_CMDLINE",
    "MARKER",
    "MODPROBE_DROPIN",
    "SYSCTL_DROPIN",
    "Command",
    "FileChange",
    "Plan",
    "PlanError",
    "PlanOptions",
    "build",
    "fixable",
]

FIXABLE = (Status.FAIL, Status.WARN, Status.PENDING)


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


def fixable(finding: Finding) -> bool:
    """Whether `hostcheck fix` can make this finding's remediation: it fails, warns or waits
    for a reboot, and its fix is not a manual step. The plan's choice, and the TUI's marks."""
    return (
        finding.status in FIXABLE
        and finding.remediation is not None
        and finding.remediation.kind != "manual"
    )


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
        or any(module_param(arg) for arg, _ in adds.values())
        or any(module_param(key) for key in removes)
    )
    if unreadable and touches_modules:
        raise PlanError(
            f"cannot plan module options: {unreadable[0][1]}; it may set the same parameters "
            "(make it readable, or leave the module-parameter rules out with --exclude)"
        )


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
        if fixable(f)
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
        module = module_param(arg)
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
        module = module_param(key)
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
        boot = BootPlan(facts, host, loader, staged, notes, declarative=options.declarative)
        boot.plan(cmdline_adds, cmdline_removes)
        files += boot.files
        commands += boot.commands
    reboot = bool(files or commands)
    modprobe_before = len(files)
    modprobe_d.plan(host, modprobe, files, options.declarative)
    if len(files) > modprobe_before:
        reboot = True
        commands.append(modprobe_d.initramfs(facts, loader, files[-1].before is None))
    sysctl_d.plan(facts, host, sysctl, files, commands, options.declarative)
    drop_ins = tuple((f.path, f.after) for f in files if f.path in (MODPROBE_DROPIN, SYSCTL_DROPIN))
    if options.declarative:
        drop_ins = tuple(
            (path, content)
            for path, content in (
                (
                    MODPROBE_DROPIN,
                    modprobe_d.dropin_text(modprobe, options.drop_in_note).encode()
                    if modprobe
                    else None,
                ),
                (
                    SYSCTL_DROPIN,
                    sysctl_d.dropin_text(sysctl, options.drop_in_note).encode() if sysctl else None,
                ),
            )
            if content is not None
        )
    return Plan(
        rules=tuple(f.rule.id for f in chosen),
        loader=loader,
        kernel_args_add=tuple(cmdline_adds),
        kernel_args_remove=tuple(cmdline_removes),
        modprobe=tuple(modprobe_d.dropin_text(modprobe).splitlines()[2:]) if modprobe else (),
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
