"""grubby: the kernel arguments of every BLS boot entry, changed by one command whose
inverse puts back the values the entries had."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostcheck.fix.changes import Command
from hostcheck.parse import kargs

if TYPE_CHECKING:
    from hostcheck.fix.boot import BootPlan


def plan(boot: BootPlan, adds: list[str], removes: list[str]) -> None:
    if boot.already(adds, removes):
        return
    argv = ["grubby", "--update-kernel=ALL"]
    if adds:
        argv.append(f"--args={' '.join(adds)}")
    if removes:
        # As the entries spell them (grubby compares names literally: ttm.pages-limit).
        spelled = [spelling for key in removes for spelling in boot.spellings(key)]
        argv.append(f"--remove-args={' '.join(spelled)}")
    old_values = [a for key in [*adds, *removes] for a in boot.exact(key)]
    new_only = [kargs.key_of(a) for a in adds if not boot.exact(a)]
    back = ["grubby", "--update-kernel=ALL"]
    if old_values:
        back.append(f"--args={' '.join(old_values)}")
    if new_only:
        back.append(f"--remove-args={' '.join(new_only)}")
    boot.commands.append(
        Command(tuple(argv), "kernel arguments of every boot entry (BLS)", tuple(back))
    )
