"""The commands' options as data, and the reader of plain command lines.

A command module declares its options in ``add_parser(commands, name, help_text)`` with
argparse's own calls (``add_parser``, ``add_argument``, ``add_argument_group``,
``add_mutually_exclusive_group``, ``set_defaults``). They are recorded here, not run: the
recording is then

- read by :func:`parse_plain`, which takes the command lines people type — the command, then
  its long options and ``-x`` short options, each value as the next word or after ``=`` — and
  fills :class:`Options` exactly as argparse would;
- or, for anything else, replayed onto argparse (hostcheck/cli/parser.py): ``--help``,
  ``--version``, positional arguments, abbreviated options, clustered short options, ``--``, a
  value that starts with ``-``, and every mistake, so that help texts, error messages and exit
  status 2 are argparse's own.

Why: importing argparse (with gettext, locale and warnings) and building the parser cost about
3.5 ms, a tenth of a JSON scan (benchmarks/bench_scan.py). A command line parse_plain cannot
read exactly as argparse would is never guessed at: it returns None and argparse reads it.
tests/cli/test_options.py checks that both agree on every command's options.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


class Options:
    """What a command line asks for: one attribute per option (argparse's ``dest``), and
    ``command``. Filled by parse_plain or by argparse (``parse_args(namespace=Options())``)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __repr__(self) -> str:
        return f"Options({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


class Argument:
    """One ``add_argument`` call: its flags and keywords as given, and what argparse derives
    from them (dest, default)."""

    __slots__ = ("default", "dest", "flags", "kwargs", "mutex")

    def __init__(self, flags: tuple[str, ...], kwargs: dict[str, Any], mutex: Group | None) -> None:
        self.flags = flags
        self.kwargs = kwargs
        self.mutex = mutex  # the mutually exclusive group it belongs to
        if "dest" in kwargs:
            self.dest: str = kwargs["dest"]
        elif flags[0][:1] != "-":
            self.dest = flags[0]  # a positional argument
        else:
            long = next((flag for flag in flags if flag.startswith("--")), flags[0])
            self.dest = long.lstrip("-").replace("-", "_")
        action = kwargs.get("action", "store")
        self.default: Any = kwargs.get("default", False if action == "store_true" else None)

    @property
    def positional(self) -> bool:
        return self.flags[0][:1] != "-"


class Group:
    """A recorded parser, argument group or mutually exclusive group: the calls made on it, in
    order, for replaying; and its arguments, for parse_plain."""

    def __init__(self, command: Command, mutex: Group | None = None, **kwargs: Any) -> None:
        self.command = command
        self.mutex = mutex
        self.kwargs = kwargs
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], Group | None]] = []

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        self.calls.append(("add_argument", flags, kwargs, None))
        argument = Argument(flags, kwargs, self.mutex)
        if "default" not in kwargs and argument.dest in self.command.defaults:
            argument.default = self.command.defaults[argument.dest]  # an earlier set_defaults
        self.command.arguments.append(argument)

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Group:
        group = Group(self.command)
        self.calls.append(("add_argument_group", args, kwargs, group))
        return group

    def add_mutually_exclusive_group(self, *, required: bool = False) -> Group:
        group = Group(self.command, required=required)
        group.mutex = group
        self.calls.append(("add_mutually_exclusive_group", (), {"required": required}, group))
        return group

    def set_defaults(self, **defaults: Any) -> None:
        self.calls.append(("set_defaults", (), defaults, None))
        self.command.defaults.update(defaults)
        for argument in self.command.arguments:
            if argument.dest in defaults:
                argument.default = defaults[argument.dest]

    def replay(self, target: Any) -> None:
        """Make the recorded calls on an argparse parser or group."""
        for method, args, kwargs, group in self.calls:
            made = getattr(target, method)(*args, **kwargs)
            if group is not None:
                group.replay(made)


class Command(Group):
    """One subcommand's parser, recorded: ``add_parser``'s keywords (help, description,
    epilog) and everything added to it."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        self.name = name
        self.arguments: list[Argument] = []
        self.defaults: dict[str, Any] = {}
        super().__init__(self, **kwargs)


class Commands:
    """The stand-in for argparse's subparsers action that command modules add their parsers
    to: it keeps the recorded commands by name."""

    def __init__(self) -> None:
        self.recorded: dict[str, Command] = {}

    def add_parser(self, name: str, **kwargs: Any) -> Command:
        command = Command(name, **kwargs)
        self.recorded[name] = command
        return command


def recorded(name: str, declare: Callable[[Any, str, str], None], help_text: str) -> Command:
    """The recorded parser of command ``name``, declared by its module's ``add_parser``."""
    commands = Commands()
    declare(commands, name, help_text)
    return commands.recorded[name]


# -- reading a plain command line -----------------------------------------------------------
_PLAIN_ACTIONS = frozenset({"store", "store_true", "append"})


def parse_plain(command: Command, words: Sequence[str]) -> Options | None:
    """The options of ``hostcheck COMMAND WORDS...``, as argparse would set them, or None
    where argparse must read the line (see the module's docstring)."""
    flags: dict[str, Argument] = {}
    for argument in command.arguments:
        if argument.positional or argument.kwargs.get("action", "store") not in _PLAIN_ACTIONS:
            return None
        if "nargs" in argument.kwargs:
            flags.update(dict.fromkeys(argument.flags, _NOT_PLAIN))
        else:
            flags.update(dict.fromkeys(argument.flags, argument))
    values: dict[str, Any] = {"command": command.name}
    for argument in command.arguments:
        values.setdefault(argument.dest, argument.default)
    for dest, default in command.defaults.items():
        values.setdefault(dest, default)
    seen: list[Argument] = []
    index = 0
    while index < len(words):
        word = words[index]
        explicit = None
        if word.startswith("--") and "=" in word:
            word, explicit = word.split("=", 1)
        found = flags.get(word)
        if found is None or found is _NOT_PLAIN:
            return None  # help, a mistake, an abbreviation, a cluster of short options, --, …
        argument = found
        action = argument.kwargs.get("action", "store")
        if action == "store_true":
            if explicit is not None:
                return None
            value: Any = True
        else:
            if explicit is None:
                index += 1
                if index == len(words):
                    return None
                explicit = words[index]
            if explicit[:1] == "-":
                return None  # argparse's rules for these ("--" is even dropped from "--x=--")
            value = _converted(argument, explicit)
            if value is _NOT_PLAIN:
                return None
            if action == "append":
                value = [*(values[argument.dest] or ()), value]
        if argument.mutex is not None and any(
            other.mutex is argument.mutex and other is not argument for other in seen
        ):
            return None  # "not allowed with argument …"
        seen.append(argument)
        values[argument.dest] = value
        index += 1
    for argument in command.arguments:
        if argument in seen:
            continue
        if argument.kwargs.get("required"):
            return None  # "the following arguments are required"
        group = argument.mutex
        if group and group.kwargs["required"] and not any(o.mutex is group for o in seen):
            return None  # "one of the arguments … is required"
        default, convert = argument.default, argument.kwargs.get("type")
        if isinstance(default, str) and convert is not None and values[argument.dest] is default:
            try:  # argparse passes a string default through the type, not the choices
                values[argument.dest] = convert(default)
            except Exception:
                return None
    return Options(**values)


_NOT_PLAIN: Any = object()


def _converted(argument: Argument, text: str) -> Any:
    """``text`` through the argument's type and checked against its choices, or _NOT_PLAIN
    where argparse would refuse it (it then says why, in its own words)."""
    convert = argument.kwargs.get("type")
    if convert is not None:
        try:
            value = convert(text)
        except Exception:
            return _NOT_PLAIN
    else:
        value = text
    choices = argument.kwargs.get("choices")
    if choices is not None and value not in choices:
        return _NOT_PLAIN
    return value
