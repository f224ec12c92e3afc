"""systemd unit and podman quadlet files: the ``Environment=`` assignments they make.

systemd.exec(5): ``Environment=`` takes a space-separated list of ``VAR=value`` assignments,
each of which may be quoted with double or single quotes; the line may be repeated, and a
later assignment of a variable overrides an earlier one. Quadlet ``.container`` files use the
same key in their ``[Container]`` section (podman-systemd.unit(5)). Comment lines start with
``#`` or ``;``.
"""

from __future__ import annotations

import shlex


def environment_assignments(lines: list[str]) -> list[tuple[str, str]]:
    """The (VARIABLE, value) pairs of every ``Environment=`` line, in file order."""
    pairs: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith(("#", ";")) or not line.startswith("Environment"):
            continue
        key, sep, rest = line.partition("=")
        if not sep or key.strip() != "Environment":
            continue
        try:
            words = shlex.split(rest, comments=False, posix=True)
        except ValueError:  # an unbalanced quote: systemd ignores the line as well
            continue
        for word in words:
            name, eq, value = word.partition("=")
            if eq and name:
                pairs.append((name, value))
    return pairs
