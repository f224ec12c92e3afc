"""rpm-ostree and bootc: `rpm-ostree kargs` stages a deployment with the kernel arguments;
its inverse restores the values the deployment had."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostcheck.fix.changes import Command

if TYPE_CHECKING:
    from hostcheck.fix.boot import BootPlan


def plan(boot: BootPlan, adds: list[str], removes: list[str]) -> None:
    if boot.already(adds, removes):
        return
    argv = ["rpm-ostree", "kargs"]
    back = ["rpm-ostree", "kargs"]
    for arg in adds:
        olds = boot.exact(arg)
        for old in olds:
            if old != arg:
                argv.append(f"--delete-if-present={old}")
                back.append(f"--append-if-missing={old}")
        if arg not in olds:
            argv.append(f"--append-if-missing={arg}")
            back.insert(2, f"--delete-if-present={arg}")
    for key in removes:
        for old in boot.exact(key):
            argv.append(f"--delete-if-present={old}")
            back.append(f"--append-if-missing={old}")
    boot.commands.append(
        Command(tuple(argv), "stage a deployment with the kernel arguments", tuple(back))
    )
    if boot.loader == "bootc":
        toml = ", ".join(f'"{a}"' for a in adds)
        boot.notes.append(
            "bootc: these are machine-local kernel arguments, carried across `bootc upgrade`. "
            "To make them part of the image, add /usr/lib/bootc/kargs.d/99-hostcheck.toml "
            f"with `kargs = [{toml}]` to the Containerfile"
            + (f" and drop {', '.join(removes)} there" if removes else "")
            + "."
        )
