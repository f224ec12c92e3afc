"""GRUB on Debian/Ubuntu: our drop-in in /etc/default/grub.d/, and reading back what the
configuration will put on the kernel command line. Pure functions on text.

grub-mkconfig sources /etc/default/grub, then every /etc/default/grub.d/*.cfg in order (a
Debian/Ubuntu addition), and 10_linux writes ``linux … ${GRUB_CMDLINE_LINUX}
${GRUB_CMDLINE_LINUX_DEFAULT}`` for the normal entries. Our drop-in sorts last (99-) and
rewrites both variables: it removes the keys it replaces or deletes, then appends its own
arguments to GRUB_CMDLINE_LINUX (which recovery entries carry too, as kernel arguments that
make the GPU usable should).

Reading the configuration back never runs it (a snapshot or fixture tree is untrusted
input): a small evaluator understands the assignments these files contain in practice —
quotes, ``$VAR``, ``${VAR}``, ``${VAR:+word}``, ``${VAR:-word}`` — and our own drop-in by its
header. Anything else that touches a GRUB_CMDLINE variable makes the result unknown, with the
file and line, rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hostcheck.errors import HostcheckError
from hostcheck.parse import kargs
from hostcheck.parse.text import identifier_end

DROPIN = "/etc/default/grub.d/99-hostcheck.cfg"
MARKER = "# hostcheck-managed: GRUB drop-in"
_VARS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")


class GrubEvalError(HostcheckError, ValueError):
    """The configuration does something the static reader does not understand."""


def _pattern(key: str) -> str:
    # parameq(): "-" and "_" are the same in parameter names.
    name = "".join("[-_]" if c in "-_" else c for c in key)  # re.sub(r"[-_]", "[-_]", key)
    return f"{name}|{name}=*"


def render_dropin(add: Sequence[str], remove: Sequence[str]) -> str:
    """The drop-in that removes ``remove`` keys (and the keys of ``add``) from both command
    line variables and appends ``add`` to GRUB_CMDLINE_LINUX."""
    for arg in [*add, *remove]:
        kargs.check_safe(arg)
    keys = sorted({kargs.key_of(a) for a in add} | {kargs.key_of(k) for k in remove})
    lines = [
        MARKER,
        "# Written by `hostcheck fix`; remove it with `hostcheck fix --undo`, then run update-grub.",
        f"# hostcheck-remove: {' '.join(sorted(kargs.key_of(k) for k in remove))}".rstrip(),
        f"# hostcheck-add: {' '.join(add)}".rstrip(),
    ]
    if keys:
        patterns = "|".join(_pattern(key) for key in keys)
        lines += [
            "_hostcheck_filter() {",
            "    _hostcheck_out=",
            "    set -f",
            "    for _hostcheck_arg in $1; do",
            '        case "$_hostcheck_arg" in',
            f"            {patterns}) ;;",
            '            *) _hostcheck_out="${_hostcheck_out:+$_hostcheck_out }$_hostcheck_arg" ;;',
            "        esac",
            "    done",
            "    set +f",
            "    printf '%s' \"$_hostcheck_out\"",
            "}",
            'GRUB_CMDLINE_LINUX="$(_hostcheck_filter "$GRUB_CMDLINE_LINUX")"',
            'GRUB_CMDLINE_LINUX_DEFAULT="$(_hostcheck_filter "$GRUB_CMDLINE_LINUX_DEFAULT")"',
            "unset -f _hostcheck_filter",
            "unset _hostcheck_out _hostcheck_arg",
        ]
    if add:
        lines.append(
            'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }' + " ".join(add) + '"'
        )
    return "\n".join(lines) + "\n"


def read_dropin(text: str) -> tuple[list[str], list[str]] | None:
    """(add, remove) of our own drop-in, from its header; None if it is not ours."""
    if not text.startswith(MARKER):
        return None
    add: list[str] = []
    remove: list[str] = []
    for line in text.splitlines():
        if line.startswith("# hostcheck-add:"):
            add = line.split(":", 1)[1].split()
        elif line.startswith("# hostcheck-remove:"):
            remove = line.split(":", 1)[1].split()
    return add, remove


# --- static evaluation -----------------------------------------------------------------------

# An assignment, (?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=, and a name are read by str
# methods (a scan compiles no pattern for them; tests/parse/test_token_parsers.py).


def _assignment(text: str, start: int) -> tuple[str, int] | None:
    """The name and the end (after its ``=``) of ``[export ]NAME=`` at start, or None."""
    if text.startswith("export", start):
        at = start + 6
        while at < len(text) and text[at] in " \t":
            at += 1
        end = identifier_end(text, at)
        if at > start + 6 and end > at and text.startswith("=", end):
            return text[at:end], end + 1
    end = identifier_end(text, start)
    if end > start and text.startswith("=", end):
        return text[start:end], end + 1
    return None


class _Unsupported(Exception):
    pass


class _Reader:
    def __init__(self, text: str, variables: dict[str, str | None]) -> None:
        self.text = text
        self.i = 0
        self.vars = variables

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def word(self, stop: str = " \t\n;&|<>()") -> str:
        """One shell word after ``NAME=``: quotes and parameter expansions."""
        out = []
        while self.i < len(self.text) and self.text[self.i] not in stop:
            c = self.text[self.i]
            if c == "'":
                end = self.text.find("'", self.i + 1)
                if end < 0:
                    raise _Unsupported("unterminated single quote")
                out.append(self.text[self.i + 1 : end])
                self.i = end + 1
            elif c == '"':
                self.i += 1
                out.append(self._double_quoted())
            elif c == "\\":
                if self.text[self.i + 1 : self.i + 2] == "\n":
                    self.i += 2
                else:
                    out.append(self.text[self.i + 1 : self.i + 2])
                    self.i += 2
            elif c == "$":
                out.append(self._expansion())
            elif c == "`":
                raise _Unsupported("command substitution")
            else:
                out.append(c)
                self.i += 1
        return "".join(out)

    def _double_quoted(self) -> str:
        out: list[str] = []
        while True:
            if self.i >= len(self.text):
                raise _Unsupported("unterminated double quote")
            c = self.text[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c == "\\" and self.text[self.i + 1 : self.i + 2] in ('"', "\\", "$", "`", "\n"):
                nxt = self.text[self.i + 1]
                out.append("" if nxt == "\n" else nxt)
                self.i += 2
            elif c == "$":
                out.append(self._expansion())
            elif c == "`":
                raise _Unsupported("command substitution")
            else:
                out.append(c)
                self.i += 1

    def _expansion(self) -> str:
        self.i += 1  # "$"
        c = self.peek()
        if c == "{":
            self.i += 1
            end = identifier_end(self.text, self.i)
            if end == self.i:
                raise _Unsupported("unsupported parameter expansion")
            name = self.text[self.i : end]
            self.i = end
            op = ""
            for candidate in (":+", ":-", "+", "-", "}"):
                if self.text.startswith(candidate, self.i):
                    op = candidate
                    break
            if not op:
                raise _Unsupported("unsupported parameter expansion")
            self.i += len(op)
            if op == "}":
                return self._value(name)
            alternative = self.word(stop="}")
            if self.peek() != "}":
                raise _Unsupported("unterminated parameter expansion")
            self.i += 1
            value = self.vars.get(name)
            is_set = value is not None
            non_empty = bool(value)
            if op == ":+":
                return alternative if non_empty else ""
            if op == "+":
                return alternative if is_set else ""
            if op == ":-":
                return self._value(name) if non_empty else alternative
            return self._value(name) if is_set else alternative
        end = identifier_end(self.text, self.i)
        if end == self.i:
            raise _Unsupported("unsupported expansion")
        name, self.i = self.text[self.i : end], end
        return self._value(name)

    def _value(self, name: str) -> str:
        value = self.vars.get(name, "")
        if value is None:
            raise _Unsupported(f"${name} has a value the reader could not work out")
        return value


def evaluate(files: Sequence[tuple[str, str]]) -> dict[str, str]:
    """GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT after sourcing ``files`` (path,
    text) in order. Raises GrubEvalError naming the file and line it could not follow."""
    variables: dict[str, str | None] = {}
    for path, text in files:
        ours = read_dropin(text)
        if ours is not None:
            add, remove = ours
            drop = [*remove, *(kargs.key_of(a) for a in add)]
            linux = kargs.edit(kargs.split(variables.get("GRUB_CMDLINE_LINUX") or ""), add, drop)
            default = kargs.edit(
                kargs.split(variables.get("GRUB_CMDLINE_LINUX_DEFAULT") or ""), [], drop
            )
            variables["GRUB_CMDLINE_LINUX"] = " ".join(linux)
            variables["GRUB_CMDLINE_LINUX_DEFAULT"] = " ".join(default)
            continue
        _evaluate_file(path, text, variables)
    return {name: variables.get(name) or "" for name in _VARS}


_OPENERS = {"if", "case", "for", "while", "until", "{"}
_CLOSERS = {"fi", "esac", "done", "}"}


class _Lines:
    """Line numbers and line ends of positions that only move forward, in linear time
    (counting from the file's start at every statement was quadratic: a 4 MiB file of
    ``X=1;`` took many minutes)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0  # newlines before this position have been counted
        self.line = 1
        self.next_newline = -1

    def number(self, i: int) -> int:
        self.line += self.text.count("\n", self.at, i)
        self.at = i
        return self.line

    def end(self, i: int) -> int:
        """The position of the end of the line holding ``i``."""
        if self.next_newline < i:
            found = self.text.find("\n", i)
            self.next_newline = len(self.text) if found < 0 else found
        return self.next_newline


def _evaluate_file(path: str, text: str, variables: dict[str, str | None]) -> None:
    reader = _Reader(text, variables)
    lines = _Lines(text)
    depth = 0  # inside if/case/loops/functions, an assignment may or may not happen
    while reader.i < len(text):
        c = reader.peek()
        if c in " \t\n;":
            reader.i += 1
            continue
        line_no = lines.number(reader.i)
        line_end = lines.end(reader.i)
        if c == "#":
            reader.i = line_end
            continue
        assignment = _assignment(text, reader.i)
        if assignment:
            name, assigned = assignment
            start = reader.i
            if depth > 0 and name in _VARS:
                raise GrubEvalError(
                    f"{path}, line {line_no}: {name} is set inside a block (if/case/loop/"
                    "function) the reader cannot follow"
                )
            reader.i = assigned
            try:
                value = reader.word()
                end = lines.end(reader.i)
                after = reader.i
                while after < end and text[after] in " \t\r\f\v":
                    after += 1
                # Only look at what follows (never copy the rest of a long line per statement).
                if after < end and text[after] not in "#;":
                    rest = text[reader.i : end].strip()
                    if "GRUB_CMDLINE_LINUX" in rest:
                        raise GrubEvalError(
                            f"{path}, line {line_no}: sets the command line in a way the reader "
                            f"cannot follow: {text[start:line_end].strip()[:60]!r}"
                        )
                    raise _Unsupported("more than an assignment on the line")
            except _Unsupported as exc:
                if name in _VARS:
                    raise GrubEvalError(f"{path}, line {line_no}: {exc}") from None
                variables[name] = None  # known to be unknown
                reader.i = line_end
                continue
            variables[name] = value
            continue
        statement = text[reader.i : line_end]
        words = [w for w in re.split(r"[\s;&|]+", statement.split("#", 1)[0]) if w]
        if words and words[0] in (".", "source", "eval", "exec"):
            raise GrubEvalError(
                f"{path}, line {line_no}: `{words[0]}` runs other shell code the reader does "
                "not follow"
            )
        # A function body opens with its own `{` (counted below), so `name()` adds nothing.
        depth += sum(w in _OPENERS for w in words)
        depth -= sum(w in _CLOSERS for w in words)
        depth = max(depth, 0)
        if re.fullmatch(r"export(\s+[A-Za-z_][A-Za-z0-9_]*)+\s*", statement.split("#", 1)[0]):
            reader.i = line_end  # `export NAME`: changes no value
            continue
        if "GRUB_CMDLINE_LINUX" in statement:
            raise GrubEvalError(
                f"{path}, line {line_no}: sets the command line in a way the reader cannot "
                f"follow: {statement.strip()[:60]!r}"
            )
        reader.i = line_end


def staged_args(files: Sequence[tuple[str, str]]) -> list[str]:
    """The arguments a normal (non-recovery) entry will carry, in order."""
    values = evaluate(files)
    return kargs.split(values["GRUB_CMDLINE_LINUX"]) + kargs.split(
        values["GRUB_CMDLINE_LINUX_DEFAULT"]
    )


def generated_args(grub_cfg: str) -> list[str] | None:
    """The arguments of the first ``linux`` line of a generated grub.cfg (the default
    entry in a stock configuration), without the image path; None if there is none."""
    arguments = _linux_line(grub_cfg)
    return None if arguments is None else kargs.split(arguments)


def _linux_line(text: str) -> str | None:
    """What ``^\\s*linux(?:efi|16)?\\s+(\\S+)\\s*(.*)$`` (re.MULTILINE) finds as its second
    group, by str methods (a scan compiles no pattern for it; tests/parse/
    test_token_parsers.py). As that pattern, \\s (str.isspace()) may cross newlines: the
    path or the arguments may be on a later line."""
    n = len(text)
    at = text.find("linux")
    while at >= 0:
        before = at
        while before > 0 and text[before - 1].isspace():
            before -= 1
        # at a line's start, after white space that may span lines
        if before == 0 or "\n" in text[before:at]:
            i = at + 5
            if text.startswith("efi", i):
                i += 3
            elif text.startswith("16", i):
                i += 2
            path = i
            while path < n and text[path].isspace():
                path += 1
            end = path
            while end < n and not text[end].isspace():
                end += 1
            if path > i and end > path:
                while end < n and text[end].isspace():
                    end += 1
                line_end = text.find("\n", end)
                return text[end : line_end if line_end >= 0 else n]
        at = text.find("linux", at + 1)
    return None
