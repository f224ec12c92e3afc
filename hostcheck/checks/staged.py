"""Staged versus effective: is a finding's fix already staged for the next boot?

A remediation is staged when the boot configuration (facts.boot.staged: what the boot loader
will pass next time), the modprobe.d options and the sysctl.d files already carry it, while
the running system (/proc/cmdline, /sys/module, /proc/sys) still shows the problem. Facts in,
an answer out: no host access here.

A module parameter (``ttm.pages_limit``) counts as staged when the command line or a
modprobe.d option sets it to the wanted value and neither sets another value: the order in
which the two are applied is not something to rely on.
"""

from __future__ import annotations

from hostcheck._record import NamedTuple
from hostcheck.checks.kinds._util import staged_option
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Remediation
from hostcheck.parse import kargs
from hostcheck.parse.kernel import normalise_param
from hostcheck.readings import Value

AMDGPU_GTTSIZE_AUTO = "-1"  # amdgpu_drv.c: "Size of the GTT domain in megabytes (-1 = auto)"


class Staged(NamedTuple):
    satisfied: bool
    evidence: tuple[Evidence, ...]
    pending: tuple[str, ...]  # what still has to happen besides the reboot


def check(facts: Facts, remediation: Remediation) -> Staged | None:
    """None when the remediation has nothing hostcheck stages (a manual step), or the boot
    configuration could not be read."""
    adds, removes = remediation.add_kernel_args, remediation.remove_kernel_args
    if not (adds or removes or remediation.modprobe or remediation.sysctl):
        return None
    evidence: list[Evidence] = []
    pending: list[str] = []
    ok = True
    if adds or removes:
        staged = facts.boot.staged
        if not isinstance(staged, Value):
            return None
        values = kargs.effective(staged.value)
        for arg in adds:
            key, sep, want = arg.partition("=")
            want_value = want if sep else None
            on_line = values.get(normalise_param(key), "\0")
            module = kargs.module_param(key)
            in_conf = staged_option(facts, *module) if module else None
            if (
                (in_conf is not None and in_conf[0] != want_value)
                or (on_line != "\0" and on_line != want_value)
                or (on_line == "\0" and in_conf is None)
            ):
                ok = False
        for key in removes:
            if normalise_param(key) in values:
                ok = False
            module = kargs.module_param(key)
            in_conf = staged_option(facts, *module) if module else None
            if in_conf is not None and not _is_default(module, in_conf[0]):
                ok = False
        wanted = " ".join([*adds, *(f"-{k}" for k in removes)])
        evidence.append(
            Evidence(
                f"staged for the next boot ({facts.boot.loader})",
                " ".join(staged.value),
                staged.source,
                f"wanted: {wanted}",
            )
        )
        generated = facts.boot.generated
        if (
            ok
            and generated is not None
            and not kargs.satisfied(
                generated.value, [a for a in adds if not _in_modprobe(facts, a)], removes
            )
        ):
            step = "update-grub" if facts.boot.loader == "grub" else "kernel-install"
            pending.append(f"{generated.source} does not carry it yet: run {step}")
            evidence.append(
                Evidence(
                    "generated boot entry",
                    " ".join(generated.value),
                    generated.source,
                    "not regenerated yet",
                )
            )
    for line in remediation.modprobe:
        module_name, _, options = line.partition(" ")
        for arg in kargs.split(options):
            name, _, want = arg.partition("=")
            found = staged_option(facts, normalise_param(module_name), normalise_param(name))
            if found is None or found[0] != want:
                ok = False
            else:
                evidence.append(Evidence(f"staged option {module_name} {name}", found[0], found[1]))
    for key, want in remediation.sysctl.items():
        found_sysctl = facts.boot.sysctl_staged.get(key)
        if found_sysctl is None or found_sysctl[0] != want:
            ok = False
        else:
            evidence.append(Evidence(f"staged sysctl {key}", found_sysctl[0], found_sysctl[1]))
    return Staged(ok, tuple(evidence), tuple(pending))


def _in_modprobe(facts: Facts, arg: str) -> bool:
    module = kargs.module_param(arg)
    return module is not None and staged_option(facts, *module) is not None


def _is_default(module: tuple[str, str] | None, value: str) -> bool:
    return module == ("amdgpu", "gttsize") and value == AMDGPU_GTTSIZE_AUTO
