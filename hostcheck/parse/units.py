"""systemd unit and podman quadlet files: the ``Environment=`` assignments they make.

systemd.exec(5): ``Environment=`` takes a space-separated list of ``VAR=value`` assignments,
each of which may be quoted with double or single quotes; the line may be repeated, and a
later assignment of a variable overrides an earlier one. "If the empty string is assigned to
this option, the list of environment variables is reset, all prior assignments have no
effect." ``UnsetEnvironment=`` removes a variable (``VAR``) or one assignment (``VAR=value``)
from the final environment. A unit's drop-ins are applied after the unit file, in the order
of their file names (systemd.unit(5)). Quadlet ``.container`` files use the same key in their
``[Container]`` section (podman-systemd.unit(5)). Comment lines start with ``#`` or ``;``.
"""

from __future__ import annotations


def _words(line: str, wanted: str) -> list[str] | None:
    """The shell-like words assigned by a ``wanted=`` line; None for any other line."""
    line = line.strip()
    if line.startswith(("#", ";")) or not line.startswith(wanted):
        return None
    key, sep, rest = line.partition("=")
    if not sep or key.strip() != wanted:
        return None
    import shlex  # only where a unit sets what is asked for (~0.4 ms of start-up otherwise)

    try:
        return shlex.split(rest, comments=False, posix=True)
    except ValueError:  # an unbalanced quote: systemd ignores the line as well
        return None


def is_environment_reset(line: str) -> bool:
    """Whether the line is ``Environment=`` with nothing assigned (it empties the list)."""
    return _words(line, "Environment") == []


def apply_environment(
    lines: list[str], source: str, env: dict[str, tuple[str, str]], unset: set[str]
) -> None:
    """Apply one file's ``Environment=`` and ``UnsetEnvironment=`` lines, in order, to ``env``
    (VARIABLE -> (value, the file that set it)); ``unset`` collects ``UnsetEnvironment=``,
    which systemd applies to the final environment."""
    for line in lines:
        assigned = _words(line, "Environment")
        if assigned == []:
            env.clear()
        for word in assigned or ():
            name, eq, value = word.partition("=")
            if eq and name:
                env[name] = (value, source)
        for word in _words(line, "UnsetEnvironment") or ():
            unset.add(word)


def effective_environment(
    env: dict[str, tuple[str, str]], unset: set[str]
) -> dict[str, tuple[str, str]]:
    """``env`` with the ``UnsetEnvironment=`` entries removed (``VAR`` or ``VAR=value``)."""
    return {
        name: (value, source)
        for name, (value, source) in env.items()
        if name not in unset and f"{name}={value}" not in unset
    }
