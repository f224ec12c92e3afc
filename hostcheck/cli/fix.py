"""`hostcheck fix`: preview, apply and undo fixes; --emit the desired state of a pool."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hostcheck.cli import common
from hostcheck.cli.common import EXIT_USAGE, UsageError
from hostcheck.cli.options import Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hostcheck.facts import Facts
    from hostcheck.fix.journal import Transaction
    from hostcheck.host.core import Host
    from hostcheck.model import Report

FIX_DESCRIPTION = """\
Compute the changes that fix this host's failing findings, show them (a unified diff for
every file, the exact command for every step, whether a reboot is needed), and with --apply
carry them out as one journaled transaction that --undo reverses byte for byte. Values are
computed from the host (ttm.pages_limit from MemTotal less 8 GiB headroom), not copied."""

FIX_EPILOG = """\
where changes go: kernel arguments through the boot loader (GRUB: /etc/default/grub.d/
99-hostcheck.cfg + update-grub; grubby --update-kernel=ALL; systemd-boot: /etc/kernel/cmdline +
kernel-install; rpm-ostree/bootc: rpm-ostree kargs); module options in
/etc/modprobe.d/zz-hostcheck.conf + the initramfs rebuild; sysctls in
/etc/sysctl.d/zz-hostcheck.conf + sysctl -w for the changed keys. With --root DIR, only files
under DIR change; commands are listed as pending steps. The journal lives in
/var/lib/hostcheck/fix/ (under DIR with --root).

exit status: 0 planned, applied or undone (or nothing to do); 1 a step failed, a full disk
             or read-only /etc included (the transaction is left for --resume or --undo);
             2 refused (a damaged journal, a link where the journal lock goes, an unreadable
             modprobe.d file) or usage error; 3 internal error.

examples:
  hostcheck fix                                    show the plan for this host
  sudo hostcheck fix --apply                       apply it (asks first)
  sudo hostcheck fix --apply --yes --only memory.gtt amdgpu.cwsr
  sudo hostcheck fix --undo                        restore the last transaction
  hostcheck fix --fixture stock-128g               the plan for a bundled sample host
  hostcheck fix --root /tmp/copy --apply --yes     apply to a copy of a host tree
"""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    fix = commands.add_parser(
        name,
        help=help_text,
        description=FIX_DESCRIPTION,
        epilog=FIX_EPILOG,
    )
    common.add_source_options(fix)
    what = fix.add_argument_group("what to change")
    what.add_argument(
        "--only", metavar="RULE", nargs="+", default=[], help="fix only these rules' findings"
    )
    what.add_argument(
        "--exclude",
        metavar="RULE",
        nargs="+",
        default=[],
        help="leave these rules' fixes out (e.g. perf.iommu on a host that needs the IOMMU)",
    )
    what.add_argument(
        "--bootloader",
        choices=["grub", "grubby", "systemd-boot", "rpm-ostree", "bootc"],
        help="the boot path for kernel arguments (default: detected from the host; the plan's "
        "first line names it)",
    )
    what.add_argument(
        "--module-options",
        choices=["auto", "cmdline", "modprobe"],
        default="auto",
        help="where module parameters such as ttm.pages_limit go: the kernel command line, or "
        "a modprobe.d drop-in plus an initramfs rebuild (default auto: modprobe.d when "
        "modprobe.d already configures that module, else the command line)",
    )
    act = fix.add_argument_group("actions (default: print the plan, change nothing)")
    acts = act.add_mutually_exclusive_group()
    acts.add_argument("--apply", action="store_true", help="carry the plan out (journaled)")
    acts.add_argument(
        "--undo",
        metavar="ID",
        nargs="?",
        const="",
        help="restore the files of the last transaction (or transaction ID) byte for byte",
    )
    acts.add_argument("--resume", action="store_true", help="complete an interrupted transaction")
    acts.add_argument("--history", action="store_true", help="list the transactions")
    acts.add_argument(
        "--emit",
        choices=["machineconfig", "butane", "tuned"],
        help="print the desired state of the pool --role as an OpenShift MachineConfig (YAML): "
        "the plan plus hostcheck's settings the node already carries, under one stable name, "
        "so nodes of a pool in different states give the same object; butane: the same as a "
        "Butane config; tuned: its sysctls as a Node Tuning Operator Tuned object. Notes go to "
        "standard error; this host is not changed",
    )
    act.add_argument(
        "--role", default="worker", help="with --emit: the MachineConfigPool role (default: worker)"
    )
    act.add_argument(
        "--name",
        help="with --emit: the MachineConfig name (default: 99-ROLE-hostcheck, one per pool: "
        "applying a newer one replaces the older)",
    )
    act.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    act.add_argument(
        "--force",
        action="store_true",
        help="with --undo: restore even files edited since hostcheck wrote them",
    )


def cmd_fix(args: Options) -> int:
    from hostcheck.checks.session import change_refusal
    from hostcheck.fix import plan as planner
    from hostcheck.fix import preview
    from hostcheck.fix.changes import FixError
    from hostcheck.fix.store import Journal, interrupted_message
    from hostcheck.host.core import Host

    common.apply_config(
        args
    )  # profile, user, python, rules and waivers (a waived rule is not fixed)
    if args.force and args.undo is None:
        raise UsageError("--force goes with --undo")
    changes = args.apply or args.undo is not None or args.resume
    refusal = change_refusal(common.source(args)) if changes else None
    if refusal:  # a bundled fixture, or the live host without root (shared with the TUI)
        raise UsageError(refusal)
    try:
        if args.history or args.undo is not None or args.resume:
            from hostcheck.fix import outcome, transaction

            root = common.fixture_root(args.fixture) if args.fixture else (args.root or "/")
            host = Host(root)
            if args.history:
                return _print_history(*transaction.readable_history(host))
            if args.resume:
                resumed = transaction.resume(host)
                shown = outcome.root_option(host.live, host.root)
                sys.stdout.write(outcome.render("resume", [resumed], root_option=shown))
                return 0
            undone = transaction.undo(host, args.undo or None, force=args.force)
            sys.stdout.write(outcome.render("undo", [undone]))
            return 0
        report, facts, host = common.scan(args)
        if args.emit:
            return _emit_machineconfig(args, report, facts, host)
        interrupted = interrupted_message(Journal(host))
        if interrupted and args.apply:
            raise FixError(interrupted)
        plan = planner.build(
            report,
            facts,
            host,
            planner.PlanOptions(
                tuple(args.only),
                args.bootloader,
                args.module_options,
                exclude=tuple(args.exclude),
            ),
        )
        if interrupted:
            print(f"warning: {interrupted}\n")
        shown = f"bundled fixture {args.fixture}" if args.fixture else host.root
        sys.stdout.write(preview.render(plan, live=host.live, root=shown))
        if not args.apply:
            if not plan.empty:
                print("\nDry run: nothing was changed. Apply with --apply.")
            return 0
        if plan.empty:
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("--apply without --yes needs a terminal to confirm on")
            answer = input("\nApply these changes? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("Nothing was changed.")
                return 0
        from hostcheck.fix import outcome, transaction

        applied = transaction.apply(host, plan)
        shown = outcome.root_option(host.live, host.root)
        sys.stdout.write(outcome.render("apply", [applied], root_option=shown))
        return 0
    except PermissionError as exc:
        raise UsageError(f"permission denied: {exc.filename or exc}") from None


def _emit_machineconfig(args: Options, report: Report, facts: Facts, host: Host) -> int:
    """The pool's desired state as a MachineConfig (or Butane config, or NTO Tuned object):
    RHCOS nodes are rpm-ostree hosts whose kernel arguments and files the Machine Config
    Operator owns. The plan is made for that boot path, and what the node already carries of
    hostcheck's settings is added to it (hostcheck.fix.machineconfig.desired_state), so every node
    of a pool, fixed or not, gives the same object under one stable name."""
    from hostcheck.checks.kinds._util import ttm_module_in_use
    from hostcheck.fix import modprobe as modprobe_d
    from hostcheck.fix import plan as planner
    from hostcheck.fix import sysctl as sysctl_d
    from hostcheck.fix.machineconfig import (
        butane,
        desired_state,
        drop_in_note,
        drop_in_path,
        machineconfig,
        machineconfig_notes,
        managed_settings,
        pool_name,
        to_yaml,
        tuned,
    )
    from hostcheck.model import Status
    from hostcheck.parse.kernel import parse_modprobe_conf
    from hostcheck.readings import Value

    name = args.name or pool_name(args.role)
    options = planner.PlanOptions(
        tuple(args.only),
        "rpm-ostree",
        args.module_options,
        declarative=True,
        exclude=tuple(args.exclude),
        drop_in_note=drop_in_note(name),
    )
    plan = planner.build(report, facts, host, options)
    plan_modprobe = {
        (o.module, o.name): o.value
        for path, content in plan.drop_ins
        if path == planner.MODPROBE_DROPIN
        for o in parse_modprobe_conf(content.decode())
    }
    cmdline = facts.kernel.cmdline.value if isinstance(facts.kernel.cmdline, Value) else []
    staged = facts.boot.staged.value if isinstance(facts.boot.staged, Value) else []
    desired = desired_state(
        managed_settings(
            # rules that do not apply to this host (skipped) manage nothing on it
            (f.rule.remediation for f in report.findings if f.status is not Status.SKIP),
            ttm_module_in_use(facts),
        ),
        plan_kernel_args=plan.kernel_args_add,
        plan_kernel_args_remove=plan.kernel_args_remove,
        plan_modprobe=plan_modprobe,
        plan_sysctl=plan.sysctl,
        running_kernel_args=[a.key if a.value is None else f"{a.key}={a.value}" for a in cmdline],
        staged_kernel_args=staged,
        staged_modprobe={(o.module, o.name): o.value for _, o in facts.driver.staged_options},
        running_sysctl={k: v.value for k, v in facts.sysctl.items() if isinstance(v, Value)},
    )
    if args.emit == "tuned":
        sys.stdout.write(to_yaml(tuned(args.role, desired.sysctl)))
        return 0
    note = drop_in_note(name)
    files = []
    if desired.modprobe:
        text = modprobe_d.dropin_text({k: (v, "") for k, v in desired.modprobe.items()}, note)
        files.append((drop_in_path(planner.MODPROBE_DROPIN, name), text.encode()))
    if desired.sysctl:
        text = sysctl_d.dropin_text(dict(desired.sysctl), note)
        files.append((drop_in_path(planner.SYSCTL_DROPIN, name), text.encode()))
    obj = machineconfig(
        role=args.role,
        name=name,
        kernel_args_add=desired.kernel_args,
        kernel_args_remove=desired.kernel_args_remove,
        files=[(path, content, 0o644) for path, content in files],
    )
    sys.stdout.write(to_yaml(butane(obj) if args.emit == "butane" else obj))
    mem = facts.memory.mem_total_kib
    notes = machineconfig_notes(
        role=args.role,
        name=name,
        kernel_args_remove=desired.kernel_args_remove,
        kernel_args_add=desired.kernel_args,
        files=files,
        mem_total_kib=mem.value if isinstance(mem, Value) else None,
        named_by_user=bool(args.name),
    )
    sys.stderr.write(notes if notes.endswith("\n") else notes + "\n")
    return 0


def _print_history(transactions: Sequence[Transaction], problems: Sequence[str] = ()) -> int:
    """The transactions; a damaged journal is named on stderr (exit 2), the rest still listed."""
    from hostcheck.fix.outcome import render
    from hostcheck.host.safeio import printable

    for problem in problems:
        print(f"hostcheck: error: {printable(problem, limit=500)}", file=sys.stderr)
    sys.stdout.write(render("history", transactions))
    return EXIT_USAGE if problems else 0


run = cmd_fix
