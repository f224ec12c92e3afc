"""The command line through argparse: ``--help``, ``--version``, and every command line that
hostcheck.cli.options.parse_plain leaves to it (positional arguments, abbreviations, mistakes
with argparse's own messages and exit status 2).

Each command's options are declared once, in its module's ``add_parser``, and recorded
(hostcheck.cli.options); here the recording of the command on the command line is replayed
onto an ArgumentParser. The other commands get a stand-in with their one-line help only (for
`hostcheck --help` and argparse's "invalid choice" list), and their modules are not imported.
"""

from __future__ import annotations

import argparse
import os

from hostcheck.cli.common import DESCRIPTION
from hostcheck.cli.options import recorded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


class Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, told the width up front: its own default imports shutil (and
    with it bz2 and lzma) on every run just to ask for the terminal size."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            columns = 80
        super().__init__(prog, width=max(columns - 2, 40))


class _Unbuilt:
    """The parser of a command that is not being run: only its name and one-line help are
    needed (for `hostcheck --help` and argparse's "invalid choice" list), so no ArgumentParser
    is made for it. Should argparse ever hand it arguments, it parses them as the empty parser
    it stands for would."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs

    def parse_known_args(self, *args: Any) -> Any:
        return argparse.ArgumentParser(**self.kwargs).parse_known_args(*args)


def _subparser(*, unbuilt: bool = False, **kwargs: Any) -> Any:
    """add_subparsers' parser_class: an ArgumentParser, or for ``unbuilt=True`` a stand-in."""
    if unbuilt:
        return _Unbuilt({**kwargs, "add_help": False})
    return argparse.ArgumentParser(**kwargs)


def build_parser(
    commands_table: Sequence[tuple[str, str, str]],
    declare: Callable[[str], Callable[[Any, str, str], None]],
    version: str,
    wanted: str | None = None,
) -> argparse.ArgumentParser:
    """The whole parser (``wanted`` None), or one whose only fully built subcommand is
    ``wanted``. ``declare(module)`` is that command module's ``add_parser``."""
    parser = argparse.ArgumentParser(
        prog="hostcheck", description=DESCRIPTION, formatter_class=Formatter
    )
    parser.add_argument("--version", action="version", version=f"hostcheck {version}")
    parser_class: Any = _subparser  # typeshed asks for a class; argparse calls it
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    for name, help_text, module in commands_table:
        if wanted is None or name == wanted:
            command = recorded(name, declare(module), help_text)
            command.replay(commands.add_parser(name, formatter_class=Formatter, **command.kwargs))
        else:
            commands.add_parser(name, help=help_text, formatter_class=Formatter, unbuilt=True)
    return parser
