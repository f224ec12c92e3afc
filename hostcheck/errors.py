"""The one base of the errors hostcheck raises on purpose, and what each kind means to a user.

Every error a user can cause or meet is a :class:`HostcheckError` of one kind:

- ``usage``: the command line asks for something impossible (a bad option value, an unknown
  fixture, rule id or profile, a --root that is not a directory): exit status 2;
- ``input``: a file hostcheck was given or recorded cannot be used (an invalid rule or
  configuration file, a damaged snapshot, an unusable state directory): exit status 2;
- ``internal``: hostcheck itself went wrong (a parser met what it should have refused
  earlier): exit status 3, reported as an internal error with a request to report it.

The command line catches them once (``hostcheck.cli.main.main``) and prints ``shown()`` on one
``hostcheck: error:`` line. This module is the base layer: it imports nothing from hostcheck.
"""

USAGE = "usage"
INPUT = "input"
INTERNAL = "internal"

# DESIGN.md's contract: 2 usage or input error, 3 internal error.
EXIT_CODES = {USAGE: 2, INPUT: 2, INTERNAL: 3}


class HostcheckError(Exception):
    """An error hostcheck raises on purpose; ``kind`` (a class attribute) says whose it is."""

    kind: str = INTERNAL

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def shown(self) -> str:
        """The message as the command line prints it after ``hostcheck: error:``."""
        return str(self)


class UsageError(HostcheckError):
    """A user's mistake: a bad option value, an unknown rule id, an unreadable --root."""

    kind = USAGE
