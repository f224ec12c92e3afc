"""The fix journal's records: a typed Transaction and its JSON file (schema_version 1),
written by to_json() and read back, every field checked, by parse(). The directory they live
in, with its lock, is hostcheck.fix.store.

A transaction's file holds the originals of every file it will touch (bytes, mode, owner, or
"absent"), written and fsynced before the first change; each step is marked done as it
completes. A journal still marked "started" (or "undoing") is an interrupted transaction.
A journal under a --root tree is untrusted input: every file is checked (types, ranges,
digests, paths hostcheck writes) before anything reads it, and one that does not check out
is named, never used.
"""

from __future__ import annotations

# base64 and hashlib are imported where they are used: the dry run (the plan only) is
# the common case and should start fast.
import os
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from hostcheck._record import NamedTuple
from hostcheck.fix.target import ALLOWED_DIRS

SCHEMA_VERSION = 1
STATES = ("started", "complete", "undoing", "undone")
State = Literal["started", "complete", "undoing", "undone"]


def sha256(data: bytes | None) -> str | None:
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


class FileEntry(NamedTuple):
    """A file the transaction changes: its original bytes (None: it did not exist), the
    new ones, and the mode and owner it is written (and restored) with."""

    path: str
    before: bytes | None
    after: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0

    @property
    def existed(self) -> bool:
        return self.before is not None

    @property
    def before_sha256(self) -> str | None:
        return sha256(self.before)

    @property
    def after_sha256(self) -> str:
        return sha256(self.after) or ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "existed": self.existed,
            "before_b64": _b64(self.before) if self.before else "",
            "before_sha256": self.before_sha256,
            "mode": self.mode,
            "uid": self.uid,
            "gid": self.gid,
            "after_b64": _b64(self.after),
            "after_sha256": self.after_sha256,
        }


class WriteStep(NamedTuple):
    """Write one of the transaction's files (its FileEntry has the bytes)."""

    path: str
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": "write", "path": self.path, "done": self.done}


class CommandStep(NamedTuple):
    """Run a command (on the live host) or list it as pending (under --root)."""

    argv: tuple[str, ...]
    why: str
    undo_argv: tuple[str, ...] | None  # what undoes it once the files are restored
    run: bool  # False: listed as pending, never run here
    done: bool = False
    pending: bool = False  # done by listing it: the user runs it on the host
    output: str | None = None  # the tail of what it printed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "command",
            "argv": list(self.argv),
            "why": self.why,
            "undo_argv": list(self.undo_argv) if self.undo_argv else None,
            "run": self.run,
            "done": self.done,
        }
        if self.output is not None:
            out["output"] = self.output
        if self.pending:
            out["pending"] = True
        return out


Step = WriteStep | CommandStep


class Transaction(NamedTuple):
    """One run of `hostcheck fix --apply` as its journal records it."""

    id: str
    state: State
    live: bool  # made on the live host (not under --root)
    rules: tuple[str, ...]
    reboot_required: bool
    created: str  # UTC, ISO 8601 to the second
    files: tuple[FileEntry, ...]
    steps: tuple[Step, ...]
    created_dirs: tuple[str, ...] = ()  # host paths a write made, outermost first
    created_ns: int | None = None  # None in a journal written without it
    root: str | None = None
    tool_version: str | None = None
    loader: str | None = None
    undone: str | None = None  # when it was undone (UTC)
    undo_pending: tuple[str, ...] | None = None  # inverse commands to run on the host itself

    @property
    def done_steps(self) -> int:
        return sum(1 for step in self.steps if step.done)

    @property
    def pending(self) -> tuple[CommandStep, ...]:
        """The command steps only listed, for the user to run on the host itself."""
        return tuple(s for s in self.steps if isinstance(s, CommandStep) and s.pending)

    def with_step(self, index: int, step: Step) -> Transaction:
        return self._replace(steps=(*self.steps[:index], step, *self.steps[index + 1 :]))

    def to_json(self) -> dict[str, Any]:
        """The journal file's object, keys in the order this version always wrote them."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "id": self.id}
        if self.created_ns is not None:
            out["created_ns"] = self.created_ns
        out.update(
            {
                "created": self.created,
                "tool_version": self.tool_version,
                "root": self.root,
                "live": self.live,
                "state": self.state,
                "rules": list(self.rules),
                "loader": self.loader,
                "reboot_required": self.reboot_required,
                "files": [entry.to_json() for entry in self.files],
                "created_dirs": list(self.created_dirs),
                "steps": [step.to_json() for step in self.steps],
            }
        )
        if self.undone is not None:
            out["undone"] = self.undone
        if self.undo_pending is not None:
            out["undo_pending"] = list(self.undo_pending)
        return out


def new_id(now_ns: int) -> str:
    """Sortable by time to the microsecond, unique with the random tail."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns // 10**9))
    return f"{stamp}.{now_ns // 1000 % 10**6:06d}Z-{os.urandom(2).hex()}"


# --- reading a journal file: every field checked ---------------------------------------------

_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4}\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_MAX_ID = 2**32 - 2  # uid/gid: (uid_t)-1 means "unchanged" to fchown


class Damaged(Exception):
    """What makes a journal not one this version wrote (a message without the file name)."""


def _need(ok: bool, problem: str) -> None:
    if not ok:
        raise Damaged(problem)


def _integer(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high  # a bool is an int, not a number here


def _strings(value: object, *, empty: bool = True) -> bool:
    return (
        isinstance(value, list)
        and (empty or bool(value))
        and all(isinstance(v, str) for v in value)
    )


def _optional(record: dict[str, Any], key: str, ok: Callable[[Any], bool]) -> Any:
    if key in record:
        _need(ok(record[key]), f"{key} is of the wrong type")
    return record.get(key)


def _decoded(entry: dict[str, Any], key: str) -> bytes:
    text = entry.get(key)
    _need(isinstance(text, str), f"{key} missing or not a string")
    assert isinstance(text, str)
    import base64

    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error
        raise Damaged(f"{key} of {entry.get('path')!r} is not base64") from None


def _file(entry: object, index: int) -> FileEntry:
    """One ``files`` entry: the path, the original and the new bytes with their digests, the
    mode and owner to restore."""
    _need(isinstance(entry, dict), f"files[{index}] is not an object")
    assert isinstance(entry, dict)
    path = entry.get("path")
    _need(isinstance(path, str) and "\0" not in path, f"files[{index}].path missing or not a path")
    assert isinstance(path, str)
    _need(
        os.path.dirname(path) in ALLOWED_DIRS and os.path.basename(path) not in ("", ".", ".."),
        f"it names {path!r}, outside the directories hostcheck writes",
    )
    _need(isinstance(entry.get("existed"), bool), f"files[{index}].existed is not true/false")
    before, after = _decoded(entry, "before_b64"), _decoded(entry, "after_b64")
    if entry["existed"]:
        _need(
            entry.get("before_sha256") == sha256(before), f"before_sha256 of {path} does not match"
        )
    else:
        _need(
            entry.get("before_sha256") is None and before == b"",
            f"{path} did not exist, yet the journal holds its original bytes",
        )
    after_sha = entry.get("after_sha256")
    _need(
        isinstance(after_sha, str) and _SHA256.match(after_sha) is not None,
        f"after_sha256 of {path} is not a SHA-256",
    )
    _need(after_sha == sha256(after), f"after_sha256 of {path} does not match after_b64")
    _need(_integer(entry.get("mode"), 0, 0o7777), f"mode of {path} is not a file mode")
    for key in ("uid", "gid"):
        _need(_integer(entry.get(key), 0, _MAX_ID), f"{key} of {path} is not a user or group id")
    return FileEntry(
        path, before if entry["existed"] else None, after, entry["mode"], entry["uid"], entry["gid"]
    )


def _step(step: object, index: int, paths: set[str]) -> Step:
    _need(isinstance(step, dict), f"steps[{index}] is not an object")
    assert isinstance(step, dict)
    _need(step.get("kind") in ("write", "command"), f"steps[{index}].kind is not write or command")
    _need(isinstance(step.get("done"), bool), f"steps[{index}].done is not true/false")
    _need(isinstance(step.get("pending", False), bool), f"steps[{index}].pending is not true/false")
    if step["kind"] == "write":
        path = step.get("path")
        _need(
            isinstance(path, str) and path in paths,
            f"steps[{index}] writes a file the journal does not hold",
        )
        assert isinstance(path, str)
        return WriteStep(path, step["done"])
    _need(_strings(step.get("argv"), empty=False), f"steps[{index}].argv is not a command")
    _need(isinstance(step.get("why"), str), f"steps[{index}].why missing")
    _need(isinstance(step.get("run"), bool), f"steps[{index}].run is not true/false")
    undo = step.get("undo_argv")
    _need(undo is None or _strings(undo, empty=False), f"steps[{index}].undo_argv is not a command")
    _need(isinstance(step.get("output", ""), str), f"steps[{index}].output is not text")
    return CommandStep(
        tuple(step["argv"]),
        step["why"],
        tuple(undo) if undo else None,
        step["run"],
        step["done"],
        step.get("pending", False),
        step.get("output"),
    )


def parse(record: object, stem: str) -> Transaction:
    """The whole journal, typed: what apply/resume/undo/--history read is there, of its type,
    in range and consistent (digests match the bytes; each write step has its file)."""
    _need(isinstance(record, dict), "not a JSON object")
    assert isinstance(record, dict)
    _need(_integer(record.get("schema_version"), 1, 1), "schema 1 expected")
    tx_id = record.get("id")
    _need(
        isinstance(tx_id, str) and bool(_ID.match(tx_id)) and tx_id == stem,
        "its id is not its file name",
    )
    assert isinstance(tx_id, str)
    _need(record.get("state") in STATES, f"state is not one of {', '.join(STATES)}")
    for key in ("live", "reboot_required"):
        _need(isinstance(record.get(key), bool), f"{key} missing or not true/false")
    _need(_strings(record.get("rules")), "rules is not a list of rule ids")
    _need(isinstance(record.get("created"), str), "created missing or not a time")
    created_ns = _optional(record, "created_ns", lambda v: _integer(v, 0, 2**63 - 1))
    text = {
        key: _optional(record, key, lambda v: v is None or isinstance(v, str))
        for key in ("root", "tool_version", "loader", "undone")
    }
    undo_pending = _optional(record, "undo_pending", _strings)
    files = record.get("files")
    _need(isinstance(files, list), "files is not a list")
    assert isinstance(files, list)
    entries = [_file(entry, i) for i, entry in enumerate(files)]
    paths = [entry.path for entry in entries]
    _need(len(set(paths)) == len(paths), "a file is listed twice")
    steps = record.get("steps")
    _need(isinstance(steps, list), "steps is not a list")
    assert isinstance(steps, list)
    typed_steps = [_step(step, i, set(paths)) for i, step in enumerate(steps)]
    created_dirs = record.get("created_dirs", [])
    _need(_strings(created_dirs), "created_dirs is not a list of directories")
    allowed = {d for path in ALLOWED_DIRS for d in _parents(path)}
    _need(all(d in allowed for d in created_dirs), "it names a directory hostcheck does not create")
    return Transaction(
        id=tx_id,
        state=record["state"],
        live=record["live"],
        rules=tuple(record["rules"]),
        reboot_required=record["reboot_required"],
        created=record["created"],
        files=tuple(entries),
        steps=tuple(typed_steps),
        created_dirs=tuple(created_dirs),
        created_ns=created_ns,
        undo_pending=None if undo_pending is None else tuple(undo_pending),
        **text,
    )


def _journal_problem(record: object, stem: str) -> str | None:
    """What makes ``record`` not a journal this version wrote, or None. A journal under a
    --root tree is untrusted input: its id names a file and its paths are written."""
    try:
        parse(record, stem)
    except Damaged as exc:
        return str(exc)
    return None


def _parents(path: str) -> list[str]:
    out = []
    while path not in ("/", ""):
        out.append(path)
        path = os.path.dirname(path)
    return out
