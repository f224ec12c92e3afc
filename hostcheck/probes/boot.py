"""The boot path: which boot loader backend applies, and what it will pass to the kernel on
the next boot (staged) as opposed to what the running kernel got (/proc/cmdline, effective).

Also the sysctls staged in sysctl.d. Read-back never runs anything from the host tree: the
GRUB configuration is evaluated statically (hostcheck.parse.grub), BLS entries are parsed.
"""

from __future__ import annotations

from hostcheck.facts import BootFacts
from hostcheck.host.core import Host
from hostcheck.parse import grub, kargs
from hostcheck.readings import Reason, Unavailable, Value

LOADERS = ("grub", "grubby", "systemd-boot", "rpm-ostree", "bootc")
ESP_CANDIDATES = ("/boot/efi", "/efi", "/boot")
SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)


def detect_loader(host: Host, os_release: dict[str, str]) -> tuple[str, str]:
    """(backend, why). "unknown" when nothing fits."""
    if host.exists("/run/ostree-booted") or host.is_dir("/sysroot/ostree"):
        marker = "/run/ostree-booted" if host.exists("/run/ostree-booted") else "/sysroot/ostree"
        if host.exists("/usr/bin/bootc"):
            return "bootc", f"{marker} and /usr/bin/bootc exist (image-based bootc host)"
        return "rpm-ostree", f"{marker} exists (rpm-ostree host)"
    for esp in ESP_CANDIDATES:
        if host.exists(f"{esp}/loader/loader.conf") and not _grub_cfg(host):
            return "systemd-boot", f"{esp}/loader/loader.conf exists and no grub.cfg"
    if host.exists("/etc/kernel/cmdline") and not _grub_cfg(host):
        return "systemd-boot", "/etc/kernel/cmdline exists and no grub.cfg"
    family = {os_release.get("ID", "")} | set(os_release.get("ID_LIKE", "").split())
    if family & {"fedora", "rhel", "centos"}:
        return "grubby", f"os-release ID={os_release.get('ID')}: GRUB2 with BLS entries, grubby"
    if family & {"debian", "ubuntu"}:
        return "grub", f"os-release ID={os_release.get('ID')}: GRUB with /etc/default/grub.d"
    if host.exists("/etc/default/grub"):
        return "grub", "/etc/default/grub exists"
    return "unknown", "no boot loader configuration recognised"


def _grub_cfg(host: Host) -> str | None:
    for path in ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"):
        if host.exists(path):
            return path
    return None


def _grub_staged(host: Host) -> tuple[Value[list[str]] | Unavailable, Value[list[str]] | None]:
    files: list[tuple[str, str]] = []
    for path in ["/etc/default/grub", *host.glob("/etc/default/grub.d", "*.cfg")]:
        text = host.read_text(path)
        if isinstance(text, Value):
            files.append((path, text.value))
        elif path == "/etc/default/grub" and text.reason is not Reason.MISSING:
            return text, None
    if not files:
        return Unavailable(Reason.MISSING, "/etc/default/grub"), None
    source = " + ".join(path for path, _ in files)
    try:
        staged: Value[list[str]] | Unavailable = Value(grub.staged_args(files), source)
    except grub.GrubEvalError as exc:
        staged = Unavailable(Reason.UNPARSABLE, source, str(exc))
    generated = None
    cfg = _grub_cfg(host)
    if cfg:
        text = host.read_text(cfg)
        if isinstance(text, Value):
            args = grub.generated_args(text.value)
            if args is not None:
                generated = Value(args, cfg)
    return staged, generated


def parse_bls(text: str) -> dict[str, str]:
    """A Boot Loader Specification entry: ``key value`` lines."""
    entry = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        entry[key] = value.strip()
    return entry


def _version_key(text: str) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in decimal_runs(text)]


def decimal_runs(text: str) -> list[str]:
    """Text cut where it turns from digits (str.isdecimal(), re's \\d) to others and back:
    ``[p for p in re.split(r"(\\d+)", text) if p]`` by str methods (a scan compiles no
    pattern for it; tests/probes/test_probe_tokens.py)."""
    runs: list[str] = []
    start = 0
    for at in range(1, len(text) + 1):
        if at == len(text) or text[at].isdecimal() != text[start].isdecimal():
            runs.append(text[start:at])
            start = at
    return runs


def bls_entries(host: Host, directory: str) -> list[tuple[str, dict[str, str]]]:
    """(path, entry) of every BLS entry in ``directory``, newest version first."""
    entries = []
    for path in host.glob(directory, "*.conf"):
        text = host.read_text(path)
        if isinstance(text, Value):
            entries.append((path, parse_bls(text.value)))
    entries.sort(key=lambda item: _version_key(item[1].get("version", item[0])), reverse=True)
    return entries


def _bls_staged(host: Host, directories: tuple[str, ...]) -> Value[list[str]] | Unavailable:
    for directory in directories:
        entries = [e for e in bls_entries(host, directory) if "options" in e[1]]
        if entries:
            path, entry = entries[0]
            return Value(kargs.split(entry["options"]), path)
    return Unavailable(Reason.MISSING, " or ".join(directories), "no boot entry with options")


def boot_entry_dirs(host: Host) -> tuple[str, ...]:
    found = tuple(
        f"{esp}/loader/entries" for esp in ESP_CANDIDATES if host.is_dir(f"{esp}/loader/entries")
    )
    return found or ("/boot/loader/entries",)


def _systemd_boot_staged(
    host: Host,
) -> tuple[Value[list[str]] | Unavailable, Value[list[str]] | None]:
    staged: Value[list[str]] | Unavailable = Unavailable(Reason.MISSING, "/etc/kernel/cmdline")
    for path in ("/etc/kernel/cmdline", "/usr/lib/kernel/cmdline"):
        text = host.read_text(path)
        if isinstance(text, Value):
            staged = Value(kargs.split(text.value), path)
            break
    generated = _bls_staged(host, boot_entry_dirs(host))
    return staged, generated if isinstance(generated, Value) else None


def probe_sysctl_staged(host: Host) -> dict[str, tuple[str, str]]:
    """key -> (value, file) from sysctl.d in systemd-sysctl's order (a file name in an
    earlier directory hides the same name later; files sorted by name; later wins), then
    /etc/sysctl.conf, which procps reads last."""
    chosen: dict[str, str] = {}
    for directory in SYSCTL_DIRS:
        for path in host.glob(directory, "*.conf"):
            chosen.setdefault(path.rsplit("/", 1)[-1], path)
    paths = [chosen[name] for name in sorted(chosen)] + ["/etc/sysctl.conf"]
    staged: dict[str, tuple[str, str]] = {}
    for path in paths:
        text = host.read_text(path)
        if not isinstance(text, Value):
            continue
        for key, value in parse_sysctl_conf(text.value):
            staged[key] = (value, path)
    return staged


def parse_sysctl_conf(text: str) -> list[tuple[str, str]]:
    """``key = value`` lines of sysctl.d(5); ``/`` and ``.`` separators are the same."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key = key.strip().lstrip("-").replace("/", ".")
        out.append((key, value.strip()))
    return out


def read_staged(
    host: Host, loader: str, why: str = ""
) -> tuple[Value[list[str]] | Unavailable, Value[list[str]] | None]:
    """(staged, generated) kernel arguments as ``loader`` keeps them."""
    if loader == "grub":
        return _grub_staged(host)
    if loader in ("grubby", "rpm-ostree", "bootc"):
        return _bls_staged(host, boot_entry_dirs(host)), None
    if loader == "systemd-boot":
        return _systemd_boot_staged(host)
    return Unavailable(Reason.MISSING, "boot loader", why or f"unknown boot loader {loader}"), None


def probe_boot(host: Host, os_release: Value[dict[str, str]] | Unavailable) -> BootFacts:
    info = os_release.value if isinstance(os_release, Value) else {}
    loader, why = detect_loader(host, info)
    staged, generated = read_staged(host, loader, why)
    return BootFacts(loader, why, staged, generated, probe_sysctl_staged(host))
