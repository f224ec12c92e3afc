"""Install and remove the systemd units of the monitor (systemd/ in a checkout, in the wheel).

On the live host (root ``/``) this needs root; under ``--root DIR`` the units go to
``DIR/etc/systemd/system``. It only writes and removes the unit files: enabling the timer
(``systemctl``) is printed for the operator to run, never run here.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from hostcheck.checks.catalog import data_dir
from hostcheck.host.output import replace_durably

UNITS = ("hostcheck.service", "hostcheck.timer")
UNIT_DIR = "etc/systemd/system"
MARKER = "# Installed by `hostcheck monitor --install`"
_EXEC_START = re.compile(r"^ExecStart=\S+", re.MULTILINE)


class InstallError(Exception):
    """The units cannot be installed or removed (not root, a foreign unit in the way)."""


def hostcheck_command() -> str:
    """How systemd should start this very hostcheck: its console script when it runs as one,
    else this interpreter with ``-m hostcheck`` (a venv's python finds its own packages)."""
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "hostcheck" and os.path.isfile(script):
        return shlex.quote(os.path.abspath(script))
    return f"{shlex.quote(sys.executable)} -m hostcheck"


def unit_text(name: str, command: str) -> str:
    with open(os.path.join(data_dir("systemd"), name), encoding="utf-8") as handle:
        text = handle.read()
    if name.endswith(".service"):
        text = _EXEC_START.sub(lambda _: f"ExecStart={command}", text, count=1)
    return f"{MARKER}; remove with --uninstall.\n{text}"


def _target(root: str) -> str:
    """The unit directory under ``root``; a symlink leading out of the root is refused, so
    --root on a copied host tree never writes into this machine's /etc."""
    directory = os.path.join(root, UNIT_DIR)
    base = os.path.realpath(root)
    real = os.path.realpath(directory)
    if os.path.commonpath([base, real]) != base:
        raise InstallError(f"{directory} leads outside {root} (to {real}); refusing to write there")
    return directory


def _check_privilege(root: str) -> None:
    if os.path.realpath(root) == "/" and os.geteuid() != 0:
        raise InstallError(
            f"installing units into /{UNIT_DIR} needs root; run it with sudo, or pass --root DIR "
            "to write them under DIR"
        )


# Where an image or another host tree usually has the hostcheck command (the Containerfile's
# venv is /opt/hostcheck; pipx links into /usr/local/bin with PIPX_BIN_DIR there).
ROOT_COMMANDS = ("/usr/local/bin/hostcheck", "/usr/bin/hostcheck", "/opt/hostcheck/bin/hostcheck")


def command_for(root: str, exec_path: str | None = None) -> str:
    """The ExecStart command: ``exec_path`` as given; on the live host this very hostcheck;
    under another root a hostcheck inside that root, by its path there (this machine's own
    path would not exist on the host that runs the units)."""
    if exec_path:
        try:
            words = shlex.split(exec_path)
        except ValueError as exc:
            raise InstallError(f"--exec {exec_path}: {exc}") from None
        if not words or not words[0].startswith("/"):
            raise InstallError(
                f"--exec {exec_path}: give the command by its absolute path "
                "(e.g. /opt/hostcheck/bin/hostcheck)"
            )
        return shlex.join(words)
    if os.path.realpath(root) == "/":
        return hostcheck_command()
    candidates = list(ROOT_COMMANDS)
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "hostcheck" and os.path.isfile(script):
        candidates.insert(0, os.path.abspath(script))
    for path in candidates:
        inside = os.path.join(root, path.lstrip("/"))
        if os.path.isfile(inside) or os.path.islink(inside):
            return shlex.quote(path)
    raise InstallError(
        f"no hostcheck command inside {root} (looked for {', '.join(dict.fromkeys(candidates))}); "
        "install it there first, or pass --exec PATH: its path as the host of that root runs it"
    )


def install(root: str, exec_path: str | None = None) -> list[str]:
    """Write both units; returns what to tell the operator."""
    _check_privilege(root)
    directory = _target(root)
    command = command_for(root, exec_path)
    texts = {name: unit_text(name, command) for name in UNITS}
    for name in UNITS:
        path = os.path.join(directory, name)
        if os.path.lexists(path) and not _ours(path):
            raise InstallError(
                f"{path} exists and was not installed by hostcheck; move it away first"
            )
    os.makedirs(directory, mode=0o755, exist_ok=True)
    messages = []
    for name, text in texts.items():
        path = os.path.join(directory, name)
        replace_durably(os.path.abspath(path), text.encode("utf-8"), 0o644)
        messages.append(f"installed {path}")
    live = os.path.realpath(root) == "/"
    enable = "systemctl daemon-reload && systemctl enable --now hostcheck.timer"
    messages.append(
        f"now run: {enable}" if live else f"on the host whose / is {root}, run: {enable}"
    )
    messages.append(f"the service runs: {command} monitor --log-format journal")
    return messages


def uninstall(root: str) -> list[str]:
    _check_privilege(root)
    directory = _target(root)
    for name, enabled in _enabled_links(directory):
        raise InstallError(
            f"{name} is still enabled ({enabled}); run `systemctl disable --now {name}` first"
        )
    messages = []
    for name in UNITS:
        path = os.path.join(directory, name)
        if not os.path.lexists(path):
            messages.append(f"{path}: not installed")
            continue
        if not _ours(path):
            raise InstallError(f"{path} was not installed by hostcheck; left alone")
    for name in UNITS:
        path = os.path.join(directory, name)
        if os.path.lexists(path):
            os.unlink(path)
            messages.append(f"removed {path}")
    messages.append("then run: systemctl daemon-reload")
    return messages


def _enabled_links(directory: str) -> list[tuple[str, str]]:
    """The enablement symlinks of our units: the timer's in timers.target.wants, and any other
    (hostcheck.service has no [Install] now, but a unit installed by an earlier version did,
    and an operator may have linked either by hand)."""
    links = []
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.endswith((".wants", ".requires", ".upholds")):
            continue
        for name in UNITS:
            link = os.path.join(directory, entry, name)
            if os.path.lexists(link):
                links.append((name, link))
    return links


def _ours(path: str) -> bool:
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.readline().startswith(MARKER)
