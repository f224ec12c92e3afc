"""Pure parsers of host text: kernel release and arguments, sysfs and KFD properties, the kernel
log, rocminfo, modprobe options, os-release; the GRUB evaluator and the kernel-argument editor.
Nothing here reads the host or imports anything above it."""
