"""The plain command-line reader (hostcheck/cli/options.py) against argparse: wherever it reads
a line itself, argparse must read the same options from it; everything else is argparse's."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostcheck.cli.main import COMMANDS, build_parser, main, recorded_command
from hostcheck.cli.options import Command, Options, parse_plain

NAMES = [name for name, _, _ in COMMANDS]


def _command(name: str) -> Command:
    command = recorded_command(name)
    assert command is not None
    return command


def _argparse(line: list[str]) -> Options | None:
    """What argparse makes of the line, or None where it refuses it (exit 2) or prints help."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return build_parser(line).parse_args(line, namespace=Options())
        except SystemExit:
            return None


def _same(plain: Options, parsed: Options) -> bool:
    # repr: nan is not equal to itself, and 1, 1.0 and "1" must not pass for one another
    return repr(sorted(vars(plain).items())) == repr(sorted(vars(parsed).items()))


# The command lines of the README, the --help examples and the benchmarks: read without argparse.
PLAIN_LINES = [
    ["scan"],
    ["scan", "--fixture", "stock-128g", "--format", "json"],
    ["scan", "--fixture=stock-128g", "--format=table", "--verbose"],
    ["scan", "--root", "/host", "--host-mount", "--format", "npd"],
    ["scan", "--user", "vllm", "--python", "/opt/vllm/bin/python"],
    ["scan", "--format", "json", "--output", "report.json", "--fail-on", "warn"],
    ["scan", "--select", "amdgpu.cwsr", "--select", "kernel.rocm-floor", "-v", "-o", "r.txt"],
    ["scan", "--timeout", "0.5", "--backend", "vulkan", "--env-file", "a", "--env-file", "b"],
    ["scan", "--functional", "--force", "--functional-timeout", "60", "--node-name", ""],
    ["fix", "--fixture", "stock-128g"],
    ["fix", "--root", "/host", "--apply", "--yes"],
    ["monitor", "--root", "/host", "--host-mount"],
    ["nfd", "--root", "/host", "--host-mount"],
    ["snapshot", "--output", "bug.tar.gz"],
    ["rules", "--profiles"],
    ["fixtures"],
    ["functional-job", "--image", "img", "--node", "gpu-1", "--budget", "120"],
]


@pytest.mark.parametrize("line", PLAIN_LINES, ids=" ".join)
def test_plain_command_lines_are_read_without_argparse_as_argparse_reads_them(
    line: list[str],
) -> None:
    plain = parse_plain(_command(line[0]), line[1:])
    assert plain is not None
    parsed = _argparse(line)
    assert parsed is not None
    assert _same(plain, parsed), (vars(plain), vars(parsed))


# Lines the plain reader leaves to argparse: help, positionals, abbreviations, clusters,
# values that start with "-", mistakes argparse words itself.
ARGPARSE_LINES = [
    ["scan", "--help"],
    ["scan", "-h"],
    ["scan", "--form", "json"],  # an abbreviation argparse accepts
    ["scan", "-vo", "r.txt"],  # a cluster
    ["scan", "-or.txt"],
    ["scan", "--output", "-"],  # "-" as a value
    ["scan", "--format", "jsn"],
    ["scan", "--format"],
    ["scan", "--root", "/a", "--fixture", "b"],  # mutually exclusive
    ["scan", "--verbose=yes"],
    ["scan", "--timeout", "nan"],
    ["scan", "--", "--format", "json"],
    ["scan", "extra"],
    ["explain", "amdgpu.cwsr"],  # a positional argument
    ["fix", "--only", "amdgpu.cwsr"],  # nargs
    ["functional-job", "--image", "img"],  # --node is required
]


@pytest.mark.parametrize("line", ARGPARSE_LINES, ids=" ".join)
def test_other_command_lines_are_left_to_argparse(line: list[str]) -> None:
    assert parse_plain(_command(line[0]), line[1:]) is None


def _words(command: Command) -> st.SearchStrategy[str]:
    flags = sorted({flag for argument in command.arguments for flag in argument.flags})
    flags += ["--version", "--nope", "-x"]  # options the command does not have
    values = {"", "-", "--", "-h", "--help", "x=y", "stock-128g", "1", "2.5", "0", "-1", "nan"}
    values |= {"inf", "1e308", "--fix", "-v", "amdgpu.cwsr", "rocm", " ", "é"}
    for argument in command.arguments:
        values.update(str(choice) for choice in argument.kwargs.get("choices") or ())
    values.update(flag[:-2] for flag in flags if flag.startswith("--") and len(flag) > 4)
    ordered = sorted(values)
    joined = st.builds(lambda f, v: f"{f}={v}", st.sampled_from(flags), st.sampled_from(ordered))
    return st.one_of(st.sampled_from(flags), st.sampled_from(ordered), joined)


def _options(command: Command) -> st.SearchStrategy[list[str]]:
    """Well-formed options of the command: a flag, and a value where it takes one (one of its
    choices, a number or a word), as two words or joined by "="."""

    def one(draw: st.DrawFn) -> list[str]:
        argument = draw(st.sampled_from(command.arguments))
        flag = draw(st.sampled_from(argument.flags))
        if argument.kwargs.get("action") == "store_true" or argument.positional:
            return [flag]
        choices = [str(choice) for choice in argument.kwargs.get("choices") or ()]
        value = draw(st.sampled_from(choices or ["stock-128g", "1", "0.5", "", "x=y", "nan"]))
        return (
            [f"{flag}={value}"] if flag.startswith("--") and draw(st.booleans()) else [flag, value]
        )

    return st.composite(one)()


@st.composite
def _command_lines(draw: st.DrawFn) -> list[str]:
    name = draw(st.sampled_from(NAMES))
    command = _command(name)
    if command.arguments and draw(st.booleans()):
        words = [
            word for option in draw(st.lists(_options(command), max_size=5)) for word in option
        ]
        if draw(st.booleans()):  # and something stray somewhere
            words.insert(draw(st.integers(0, len(words))), draw(_words(command)))
        return [name, *words]
    return [name, *draw(st.lists(_words(command), max_size=8))]


@settings(max_examples=800, deadline=None)
@given(_command_lines())
def test_wherever_the_plain_reader_reads_a_line_argparse_reads_the_same(line: list[str]) -> None:
    plain = parse_plain(_command(line[0]), line[1:])
    if plain is None:
        return  # argparse reads it: its help, its message and exit 2
    parsed = _argparse(line)
    assert parsed is not None, f"read a line argparse refuses: {line}"
    assert _same(plain, parsed), (line, vars(plain), vars(parsed))


def test_a_mistake_on_a_plain_looking_line_is_argparses_message_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hostcheck", "scan", "--fixture", "stock-128g", "--timeout", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        "hostcheck scan: error: argument --timeout: expected a number of seconds above 0 and at "
        "most 86400, got '0'"
    )


def test_a_snapshot_tarball_root_keeps_the_options_of_the_line(tmp_path, capsys) -> None:
    """--root with a snapshot tarball re-runs the command on the unpacked tree with a copy of
    the options (common.archive_root): the copy is an Options, and the report names the
    tarball."""
    tarball = tmp_path / "host.tar.gz"
    assert main(["snapshot", "--fixture", "stock-128g", "--output", str(tarball)]) == 0
    capsys.readouterr()
    code = main(["scan", "--root", str(tarball), "--format", "json", "--select", "amdgpu.cwsr"])
    report = capsys.readouterr().out
    assert code in (0, 1)
    assert f'"root": "{tarball}"' in report
    assert '"rule": "amdgpu.cwsr"' in report
    assert report.count('"rule": ') == 1  # --select survived the copy


# Values argparse passes through as they are (or through the option's own type): the plain
# reader must keep them byte for byte, and convert them with the same type, never its own.
ODD_VALUE_LINES = [
    ["scan", "--output="],  # empty after "="
    ["scan", "--output", "a=b=c"],
    ["scan", "--output=a=b=c"],
    ["scan", "--output", "\u00a0"],  # no-break space, not stripped
    ["scan", "--output", "a\nb\u2028c\x85d"],
    ["scan", "--output", "\udcff"],  # a surrogate, as undecodable argv bytes arrive
    ["scan", "--timeout", "\u0663"],  # Arabic-Indic 3: float() reads it, so argparse does
    ["scan", "--timeout", "1_0"],
    ["scan", "--timeout", " 5 "],
    ["scan", "--format", "json", "--format", "table", "-o", "a", "--output", "b"],  # last wins
    ["scan", "--select", "a", "--select=", "--select", "a"],  # appended, empty and repeated
    ["scan", "--fixture", "stock-128g", "--fixture", "stock-128g"],  # one of a mutex, twice
]


@pytest.mark.parametrize("line", ODD_VALUE_LINES, ids=ascii)
def test_odd_values_are_read_as_argparse_reads_them(line: list[str]) -> None:
    plain = parse_plain(_command(line[0]), line[1:])
    assert plain is not None  # read without argparse: the comparison means something
    parsed = _argparse(line)
    assert parsed is not None
    assert _same(plain, parsed), (vars(plain), vars(parsed))
