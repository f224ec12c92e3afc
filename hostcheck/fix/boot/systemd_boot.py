"""systemd-boot: /etc/kernel/cmdline, the command line of new boot entries, then
kernel-install regenerates the running kernel's entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostcheck.fix.changes import KERNEL_CMDLINE, Command, FileChange, PlanError, read_bytes
from hostcheck.parse import kargs
from hostcheck.readings import Value

if TYPE_CHECKING:
    from hostcheck.fix.boot import BootPlan


def plan(boot: BootPlan, adds: list[str], removes: list[str]) -> None:
    before = read_bytes(boot.host, KERNEL_CMDLINE)
    if before is not None:
        base = kargs.split(before.decode(errors="replace"))
    else:
        # kernel-install's own fallback is /proc/cmdline, less what the boot loader adds.
        running = boot.facts.kernel.cmdline
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
        boot.notes.append(
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
        boot.files.append(
            FileChange(KERNEL_CMDLINE, before, after, "kernel arguments for new boot entries")
        )
    release = boot.facts.kernel.release
    if not isinstance(release, Value):
        raise PlanError("the running kernel release is unknown: cannot run kernel-install")
    kver = release.value.raw
    image = next(
        (
            path
            for path in (f"/usr/lib/modules/{kver}/vmlinuz", f"/boot/vmlinuz-{kver}")
            if boot.host.exists(path)
        ),
        f"/usr/lib/modules/{kver}/vmlinuz",
    )
    initrd = [
        path
        for path in (f"/boot/initrd.img-{kver}", f"/boot/initramfs-{kver}.img")
        if boot.host.exists(path)
    ][:1]
    if after != before or boot.generated_stale(adds, removes):
        argv = ("kernel-install", "add", kver, image, *initrd)
        boot.commands.append(Command(argv, "regenerate the boot entry of the running kernel", argv))
        boot.notes.append(
            "kernel-install rewrites the running kernel's entry only; other installed "
            "kernels get the arguments when they are next installed or updated"
        )
