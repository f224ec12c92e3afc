"""Kernel-argument changes, one backend per boot path: the GRUB drop-in + update-grub
(``grub``), ``grubby`` (BLS entries), systemd-boot's /etc/kernel/cmdline + kernel-install
(``systemd_boot``), and ``rpm-ostree kargs`` for rpm-ostree and bootc hosts (``ostree``).

A backend is a function ``plan(boot, adds, removes)`` that appends the files and commands of
the change to ``boot`` (a BootPlan) and may add notes. It is imported only when the plan
needs it.
"""

from __future__ import annotations

import importlib

from hostcheck.facts import Facts
from hostcheck.fix.changes import Command, FileChange, PlanError
from hostcheck.host.core import Host
from hostcheck.parse import kargs

BOOTLOADERS = ("grub", "grubby", "systemd-boot", "rpm-ostree", "bootc")
_BACKENDS = {
    "grub": "grub",
    "grubby": "grubby",
    "systemd-boot": "systemd_boot",
    "rpm-ostree": "ostree",
    "bootc": "ostree",
}


class BootPlan:
    """One boot loader's share of a plan: what it reads (the facts, the host, the staged
    command line) and what it adds (files, commands, notes)."""

    def __init__(
        self,
        facts: Facts,
        host: Host,
        loader: str,
        staged: list[str] | None,
        notes: list[str],
        *,
        declarative: bool,
    ) -> None:
        self.facts = facts
        self.host = host
        self.loader = loader
        self.staged = staged  # the command line the loader passes next boot (None: unknown)
        self.notes = notes
        self.declarative = declarative
        self.files: list[FileChange] = []
        self.commands: list[Command] = []

    def plan(self, adds: list[str], removes: list[str]) -> None:
        module = _BACKENDS.get(self.loader)
        if module is None:
            raise PlanError(
                f"cannot change kernel arguments: boot loader {self.loader!r} "
                f"({self.facts.boot.detected_by}); choose one with --bootloader "
                f"{{{','.join(BOOTLOADERS)}}}"
            )
        importlib.import_module(f"hostcheck.fix.boot.{module}").plan(self, adds, removes)

    def generated_stale(self, adds: list[str], removes: list[str]) -> bool:
        """Whether the generated configuration (grub.cfg, the loader entry) lacks the change.
        A stale one is regenerated on the live host; under another root the command is only
        ever a pending step, so repeating it would make every run a change."""
        generated = self.facts.boot.generated
        return self.host.live and (
            generated is None or not kargs.satisfied(generated.value, adds, removes)
        )

    def already(self, adds: list[str], removes: list[str]) -> bool:
        return self.staged is not None and kargs.satisfied(self.staged, adds, removes)

    def exact(self, key: str) -> list[str]:
        """The arguments with ``key`` as the staged line writes them (quotes and spelling)."""
        return [a for a in self.staged or [] if kargs.key_of(a) == kargs.key_of(key)]

    def spellings(self, key: str) -> list[str]:
        """The key as the staged line writes it (each distinct spelling), or as given."""
        found = [a.split("=", 1)[0] for a in self.exact(key)]
        return list(dict.fromkeys(found)) or [key]
