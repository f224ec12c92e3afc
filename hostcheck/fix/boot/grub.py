"""GRUB: our drop-in in /etc/default/grub.d, then update-grub regenerates grub.cfg."""

from __future__ import annotations

from hostcheck.fix.changes import Command, FileChange, PlanError, read_bytes
from hostcheck.parse import grub, kargs
from hostcheck.readings import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.fix.boot import BootPlan


def plan(boot: BootPlan, adds: list[str], removes: list[str]) -> None:
    staged = boot.facts.boot.staged
    if boot.staged is None and not boot.declarative and not isinstance(staged, Value):
        why = staged.detail or staged.reason.value
        raise PlanError(
            f"cannot read back the GRUB configuration ({staged.source}: {why}), so no scan "
            "could confirm a change there; fix that, or add the arguments by hand: "
            + " ".join([*adds, *(f"-{k}" for k in removes)])
        )
    if boot.staged is not None and any('"' in a or "'" in a for a in boot.staged):
        raise PlanError(
            "the GRUB command line carries quoted arguments, which the drop-in's word "
            "filter would split; add the arguments by hand: " + " ".join(adds)
        )
    before = read_bytes(boot.host, grub.DROPIN)
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
        boot.files.append(FileChange(grub.DROPIN, before, after, "kernel arguments (GRUB drop-in)"))
    if after != before or boot.generated_stale(adds, removes):
        regenerate = ("update-grub",)
        boot.commands.append(Command(regenerate, "regenerate /boot/grub/grub.cfg", regenerate))
