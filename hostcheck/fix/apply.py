"""Carrying out a plan: the one place that changes the host. Journaled, atomic, reversible.

A transaction is a JSON journal under ROOT/var/lib/hostcheck/fix/ (schema_version 1). The
originals of every file it will touch (bytes, mode, owner, or "absent") are written and
fsynced before the first change; each step is marked done as it completes. A journal still
marked "started" is an interrupted transaction: the next run refuses new work until it is
completed (``--resume``) or rolled back (``--undo``).

Safety rules (DESIGN.md): only files in ALLOWED_DIRS are written, never through a symlink
and never out of the root; temp file + fsync + rename; a lock keeps two runs apart; commands
run only on the live host (under another root they are listed as pending steps).
"""

from __future__ import annotations

# base64, fcntl and hashlib are imported where a change is carried out: the dry run (the
# plan only) is the common case and should start fast.
import contextlib
import errno
import json
import os
import re
import signal
import stat
import time
from collections.abc import Iterator
from typing import Any, NoReturn

from hostcheck import __version__
from hostcheck.errors import INPUT, HostcheckError
from hostcheck.fix.plan import KERNEL_CMDLINE, Command, Plan
from hostcheck.host.core import Host
from hostcheck.host.output import TEMP_SUFFIX, fsync_dir, replace_durably, temporary_files
from hostcheck.host.safeio import InputError, load_json_file

JOURNAL_DIR = "/var/lib/hostcheck/fix"
SCHEMA_VERSION = 1
MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # the journal holds the edited files (base64)
ALLOWED_DIRS = (
    "/etc/default/grub.d",
    "/etc/modprobe.d",
    "/etc/sysctl.d",
    os.path.dirname(KERNEL_CMDLINE),
)
COMMAND_TIMEOUT = 900.0  # update-initramfs -k all on a slow disk takes minutes
CRASH_HOOK = "HOSTCHECK_TEST_CRASH_AFTER_STEP"  # tests: die (as a kill would) after step N
KILL_HOOK = "HOSTCHECK_TEST_KILL_IN_WRITE"  # tests: SIGKILL inside write step N, before its rename


class FixError(HostcheckError):
    """A refusal (``failed`` False) or a failed step (``failed`` True), with a message."""

    kind = INPUT

    def __init__(self, message: str, *, failed: bool = False) -> None:
        super().__init__(message)
        self.failed = failed

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else super().exit_code  # a failed step: 1, as a not-ready host


def _check_components(root: str, host_dir: str, what: str, verb: str = "write") -> None:
    """Refuse if any existing component of ``host_dir`` under ``root`` is a symbolic link
    or not a directory: a link could send a write (or a read) anywhere, out of the root
    included."""
    current = root
    for part in host_dir.strip("/").split("/"):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise FixError(f"refusing to {verb} {what}: {current} is a symbolic link")
        if os.path.exists(current) and not os.path.isdir(current):
            raise FixError(f"refusing to {verb} {what}: {current} is not a directory")


def _open_dir_nofollow(root: str, host_dir: str, *, create: bool, what: str) -> int | None:
    """A descriptor of ROOT/host_dir reached one component at a time with O_NOFOLLOW, each
    missing directory made (mode 0755, the last 0700) when ``create``; None when one is
    missing and not ``create``. A link or non-directory on the way is a refusal naming it."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    current = root
    parts = host_dir.strip("/").split("/")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        for number, part in enumerate(parts, start=1):
            current = os.path.join(current, part)
            try:
                try:
                    next_fd = os.open(part, flags, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700 if number == len(parts) else 0o755, dir_fd=fd)
                    next_fd = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    kind = "a symbolic link" if os.path.islink(current) else "not a directory"
                    raise FixError(f"refusing to write {what}: {current} is {kind}") from None
                raise FixError(f"cannot open {what} in {current}: {exc.strerror}") from None
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sha(data: bytes | None) -> str | None:
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


class Target:
    """A host path we may write, resolved safely under the root."""

    def __init__(self, host: Host, path: str) -> None:
        directory = os.path.dirname(path)
        if directory not in ALLOWED_DIRS:
            raise FixError(f"refusing to write {path}: not in {', '.join(ALLOWED_DIRS)}")
        root = os.path.realpath(host.root)
        self.root = root
        self.path = path
        self.real = os.path.join(root, path.lstrip("/"))
        self.dir = os.path.dirname(self.real)
        _check_components(root, directory, path)
        if os.path.islink(self.real):
            raise FixError(f"refusing to write {path}: it is a symbolic link")
        if os.path.exists(self.real) and not os.path.isfile(self.real):
            raise FixError(f"refusing to write {path}: not a regular file")

    def missing_dirs(self) -> list[str]:
        """Host paths of the directories a write would create, outermost first."""
        missing: list[str] = []
        directory = os.path.dirname(self.path)
        while directory != "/" and not os.path.isdir(
            os.path.join(self.root, directory.lstrip("/"))
        ):
            missing.insert(0, directory)
            directory = os.path.dirname(directory)
        return missing

    def read(self) -> bytes | None:
        try:
            with open(self.real, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write(
        self,
        data: bytes,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        before_rename: Any = None,
    ) -> None:
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        replace_durably(self.real, data, mode, (uid, gid), before_rename=before_rename)

    def remove_temporaries(self) -> list[str]:
        """Remove the temporary files a killed write left beside this file (named
        ``.NAME.<random>.hostcheck.tmp``; under the journal lock no other run writes them).
        Returns their host paths."""
        removed = []
        for path in temporary_files(self.real):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed.append(os.path.join(os.path.dirname(self.path), os.path.basename(path)))
        if removed:
            fsync_dir(self.dir)
        return removed

    def remove(self) -> bool:
        """Remove the file; False when it was not there (never written, or already gone)."""
        try:
            os.unlink(self.real)
        except FileNotFoundError:
            return False
        fsync_dir(self.dir)
        return True


class Journal:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.dir = os.path.join(os.path.realpath(host.root), JOURNAL_DIR.lstrip("/"))

    @contextlib.contextmanager
    def locked(self, *, create: bool = True) -> Iterator[None]:
        """Hold the journal lock. The directories and the lock file are opened one component
        at a time from the root with O_NOFOLLOW, so a planted link (``var/lib/hostcheck/fix/
        lock`` → ``/etc/nologin``) is refused, never followed. Without ``create`` (undo,
        resume) a tree with no journal yet is left as it is: nothing to lock, nothing to do."""
        root = os.path.realpath(self.host.root)
        if not os.path.isdir(root):  # gone since the scan: never recreate a tree
            raise FixError(f"{self.host.root} no longer exists")
        _check_components(root, JOURNAL_DIR, "the journal")
        dir_fd = _open_dir_nofollow(root, JOURNAL_DIR, create=create, what="the journal")
        if dir_fd is None:
            yield
            return
        lock = os.path.join(self.dir, "lock")
        try:
            try:
                flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                fd = os.open("lock", flags | (os.O_CREAT if create else 0), 0o600, dir_fd=dir_fd)
            except FileNotFoundError:
                fd = -1  # no lock file: no run of `fix --apply` ever held one here
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise FixError(
                        f"refusing to use the journal lock: {lock} is a symbolic link"
                    ) from None
                raise FixError(f"cannot open the journal lock {lock}: {exc.strerror}") from None
        finally:
            os.close(dir_fd)
        if fd < 0:
            yield
            return
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FixError(f"refusing to use the journal lock: {lock} is not a regular file")
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise FixError(
                        "another `hostcheck fix` is running on this host (journal lock "
                        f"{lock} is held); wait for it to finish"
                    ) from None
                raise
            self._remove_temporaries()
            yield
        finally:
            os.close(fd)

    def _remove_temporaries(self) -> None:
        """Journal temporary files a killed run left (under the lock none is being written)."""
        with contextlib.suppress(OSError):
            for name in os.listdir(self.dir):
                if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.dir, name))

    def path(self, tx_id: str) -> str:
        return os.path.join(self.dir, f"{tx_id}.json")

    def save(self, record: dict[str, Any]) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        data = (json.dumps(record, indent=2) + "\n").encode()
        replace_durably(self.path(record["id"]), data, 0o600)

    def all(self) -> list[dict[str, Any]]:
        """Every transaction, oldest first. A damaged journal is a refusal naming it."""
        records, problems = self.read()
        if problems:
            raise FixError(problems[0])
        return records

    def read(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The transactions that check out, oldest first, and one message for each journal
        file that does not (unreadable, not JSON, or not a journal of this version)."""
        _check_components(os.path.realpath(self.host.root), JOURNAL_DIR, "the journal", "use")
        if not os.path.isdir(self.dir):
            return [], []
        records = []
        problems = []
        try:
            names = sorted(os.listdir(self.dir))
        except OSError as exc:
            raise FixError(f"cannot read the journal in {self.dir}: {exc.strerror}") from None
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = os.path.join(self.dir, name)
            try:
                record = load_json_file(path, what="journal", max_bytes=MAX_JOURNAL_BYTES)
            except InputError as exc:
                problems.append(f"journal {path} is unreadable: {exc.reason}")
                continue
            problem = _journal_problem(record, name[: -len(".json")])
            if problem:
                problems.append(f"journal {path}: not a hostcheck journal ({problem})")
                continue
            records.append(record)
        # Oldest first by creation time (ids sort by time too; this also orders old ids).
        records.sort(key=lambda r: (r.get("created_ns", 0), r["id"]))
        return records, problems

    def interrupted(self) -> list[dict[str, Any]]:
        return [r for r in self.all() if r["state"] in ("started", "undoing")]

    def find(self, tx_id: str | None) -> dict[str, Any]:
        records = self.all()
        if tx_id is None:
            candidates = [r for r in records if r["state"] in ("complete", "started", "undoing")]
            if not candidates:
                raise FixError("no transaction to undo (see `hostcheck fix --history`)")
            return candidates[-1]
        for record in records:
            if record["id"] == tx_id:
                return record
        raise FixError(f"no transaction {tx_id!r} (see `hostcheck fix --history`)")


_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4}\Z")
STATES = ("started", "complete", "undoing", "undone")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_MAX_ID = 2**32 - 2  # uid/gid: (uid_t)-1 means "unchanged" to fchown


class _Damaged(Exception):
    """What makes a journal not one this version wrote (a message without the file name)."""


def _need(ok: bool, problem: str) -> None:
    if not ok:
        raise _Damaged(problem)


def _integer(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high  # a bool is an int, not a number here


def _strings(value: object, *, empty: bool = True) -> bool:
    return (
        isinstance(value, list)
        and (empty or bool(value))
        and all(isinstance(v, str) for v in value)
    )


def _optional(record: dict[str, Any], key: str, ok: Any) -> None:
    if key in record:
        _need(ok(record[key]), f"{key} is of the wrong type")


def _decoded(entry: dict[str, Any], key: str) -> bytes:
    text = entry.get(key)
    _need(isinstance(text, str), f"{key} missing or not a string")
    assert isinstance(text, str)
    import base64

    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error
        raise _Damaged(f"{key} of {entry.get('path')!r} is not base64") from None


def _check_file(entry: object, index: int) -> str:
    """One ``files`` entry: the path, the original and the new bytes with their digests, the
    mode and owner to restore. Returns its path."""
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
        _need(entry.get("before_sha256") == _sha(before), f"before_sha256 of {path} does not match")
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
    _need(after_sha == _sha(after), f"after_sha256 of {path} does not match after_b64")
    _need(_integer(entry.get("mode"), 0, 0o7777), f"mode of {path} is not a file mode")
    for key in ("uid", "gid"):
        _need(_integer(entry.get(key), 0, _MAX_ID), f"{key} of {path} is not a user or group id")
    return path


def _check_step(step: object, index: int, paths: set[str]) -> None:
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
        return
    _need(_strings(step.get("argv"), empty=False), f"steps[{index}].argv is not a command")
    _need(isinstance(step.get("why"), str), f"steps[{index}].why missing")
    _need(isinstance(step.get("run"), bool), f"steps[{index}].run is not true/false")
    undo = step.get("undo_argv")
    _need(undo is None or _strings(undo, empty=False), f"steps[{index}].undo_argv is not a command")
    _need(isinstance(step.get("output", ""), str), f"steps[{index}].output is not text")


def _check_record(record: object, stem: str) -> None:
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
    _need(record.get("state") in STATES, f"state is not one of {', '.join(STATES)}")
    for key in ("live", "reboot_required"):
        _need(isinstance(record.get(key), bool), f"{key} missing or not true/false")
    _need(_strings(record.get("rules")), "rules is not a list of rule ids")
    _need(isinstance(record.get("created"), str), "created missing or not a time")
    _optional(record, "created_ns", lambda v: _integer(v, 0, 2**63 - 1))
    for key in ("root", "tool_version", "loader", "undone"):
        _optional(record, key, lambda v: v is None or isinstance(v, str))
    _optional(record, "undo_pending", _strings)
    files = record.get("files")
    _need(isinstance(files, list), "files is not a list")
    assert isinstance(files, list)
    paths = [_check_file(entry, i) for i, entry in enumerate(files)]
    _need(len(set(paths)) == len(paths), "a file is listed twice")
    steps = record.get("steps")
    _need(isinstance(steps, list), "steps is not a list")
    assert isinstance(steps, list)
    for i, step in enumerate(steps):
        _check_step(step, i, set(paths))
    created_dirs = record.get("created_dirs", [])
    _need(_strings(created_dirs), "created_dirs is not a list of directories")
    allowed = {d for path in ALLOWED_DIRS for d in _parents(path)}
    _need(all(d in allowed for d in created_dirs), "it names a directory hostcheck does not create")


def _journal_problem(record: object, stem: str) -> str | None:
    """What makes ``record`` not a journal this version wrote, or None. A journal under a
    --root tree is untrusted input: its id names a file and its paths are written."""
    try:
        _check_record(record, stem)
    except _Damaged as exc:
        return str(exc)
    return None


def _parents(path: str) -> list[str]:
    out = []
    while path not in ("/", ""):
        out.append(path)
        path = os.path.dirname(path)
    return out


def _new_id(now_ns: int) -> str:
    """Sortable by time to the microsecond, unique with the random tail."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns // 10**9))
    return f"{stamp}.{now_ns // 1000 % 10**6:06d}Z-{os.urandom(2).hex()}"


def _maybe_crash(step: int) -> None:
    if os.environ.get(CRASH_HOOK) == str(step):
        os._exit(137)  # as SIGKILL would: no cleanup, no journal update


def _kill_hook(step: int) -> Any:
    """For tests: a callback that really kills this process inside write step ``step``,
    after its temporary file is written and before the rename."""
    if os.environ.get(KILL_HOOK) != str(step):
        return None
    return lambda: os.kill(os.getpid(), signal.SIGKILL)


def _run(host: Host, command: Command) -> str:
    result = host.execute(command.argv, COMMAND_TIMEOUT)
    from hostcheck.readings import Value

    if not isinstance(result, Value):
        raise FixError(f"`{command.text}` could not run: {result.describe()}", failed=True)
    if result.value.returncode != 0:
        tail = (result.value.stderr or result.value.stdout).strip().splitlines()[-3:]
        raise FixError(
            f"`{command.text}` failed with exit status {result.value.returncode}: "
            + " / ".join(tail),
            failed=True,
        )
    return result.value.stdout[-2000:]


def _shown(host: Host, path: str) -> str:
    """A host path as the user finds it: under --root, inside the root (printed as the host
    path, "wrote /etc/…" reads as a change to the machine running the command)."""
    return path if host.live else os.path.join(host.root, path.lstrip("/"))


def apply(host: Host, plan: Plan, *, log: Any = print) -> dict[str, Any]:
    """Carry out ``plan`` as one transaction; returns its journal record."""
    journal = Journal(host)
    with journal.locked():
        _refuse_if_interrupted(journal)
        files = []
        created_dirs: list[str] = []
        for change in plan.files:
            target = Target(host, change.path)
            current = target.read()
            if current != change.before:
                raise FixError(
                    f"{change.path} changed since the plan was made; run `hostcheck fix` again"
                )
            st = os.stat(target.real) if current is not None else None
            created_dirs += [d for d in target.missing_dirs() if d not in created_dirs]
            files.append(
                {
                    "path": change.path,
                    "existed": current is not None,
                    "before_b64": _b64(current) if current else "",
                    "before_sha256": _sha(current),
                    "mode": (st.st_mode & 0o7777) if st else 0o644,
                    "uid": st.st_uid if st else 0,
                    "gid": st.st_gid if st else 0,
                    "after_b64": _b64(change.after),
                    "after_sha256": _sha(change.after),
                }
            )
        steps: list[dict[str, Any]] = [
            {"kind": "write", "path": f["path"], "done": False} for f in files
        ]
        steps += [
            {
                "kind": "command",
                "argv": list(c.argv),
                "why": c.why,
                "undo_argv": list(c.undo) if c.undo else None,
                "run": host.live,
                "done": False,
            }
            for c in plan.commands
        ]
        now = time.time_ns()
        record = {
            "schema_version": SCHEMA_VERSION,
            "id": _new_id(now),
            "created_ns": now,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tool_version": __version__,
            "root": host.root,
            "live": host.live,
            "state": "started",
            "rules": list(plan.rules),
            "loader": plan.loader,
            "reboot_required": plan.reboot_required,
            "files": files,
            "created_dirs": created_dirs,
            "steps": steps,
        }
        try:
            journal.save(record)  # the originals are on disk before the first change
        except OSError as exc:
            raise FixError(
                f"cannot write the journal in {journal.dir}: {exc.strerror or exc}; nothing "
                "was changed",
                failed=True,
            ) from None
        _run_steps(host, journal, record, log)
        return record


def interrupted_message(journal: Journal) -> str | None:
    """What to tell the user about interrupted transactions, or None."""
    parts = []
    for record in journal.interrupted():
        done = sum(1 for s in record["steps"] if s["done"])
        verb = "undoing" if record["state"] == "undoing" else "applying"
        parts.append(
            f"transaction {record['id']} was interrupted while {verb} after {done} of "
            f"{len(record['steps'])} steps"
        )
    if not parts:
        return None
    last = journal.interrupted()[-1]["id"]
    return (
        "; ".join(parts) + f": complete it with `hostcheck fix --resume` or roll it back with "
        f"`hostcheck fix --undo {last}`"
    )


def _refuse_if_interrupted(journal: Journal) -> None:
    message = interrupted_message(journal)
    if message:
        raise FixError(message)


def _run_steps(host: Host, journal: Journal, record: dict[str, Any], log: Any) -> None:
    by_path = {f["path"]: f for f in record["files"]}
    for number, step in enumerate(record["steps"], start=1):
        if step["done"]:
            continue
        if step["kind"] == "write":
            entry = by_path[step["path"]]
            target = Target(host, step["path"])
            current = _sha(target.read())
            if current not in (entry["before_sha256"], entry["after_sha256"]):
                raise FixError(
                    f"{step['path']} changed since transaction {record['id']} began; not "
                    f"overwriting it. Look at it, then `hostcheck fix --undo {record['id']} "
                    "--force` restores the originals"
                )
            try:
                target.write(
                    _unb64(entry["after_b64"]),
                    entry["mode"],
                    entry["uid"],
                    entry["gid"],
                    before_rename=_kill_hook(number),
                )
            except OSError as exc:  # a full disk, a read-only /etc: the step stays not done
                _stopped(
                    journal,
                    record,
                    f"cannot write {_shown(host, step['path'])}: {exc.strerror or exc}",
                )
            log(f"wrote {_shown(host, step['path'])}")
        elif step["run"]:
            log(f"running {Command(tuple(step['argv']), '').text}")
            try:
                step["output"] = _run(host, Command(tuple(step["argv"]), step["why"]))
            except FixError as exc:
                _stopped(journal, record, str(exc))
        else:
            step["pending"] = True
        step["done"] = True
        _save_or_stop(journal, record)
        _maybe_crash(number)
    record["state"] = "complete"
    _save_or_stop(journal, record)


def _stopped(journal: Journal, record: dict[str, Any], why: str) -> NoReturn:
    """A step failed: record what is done (as far as the disk lets us), and tell how to go
    on. The journal on disk never says a step is done that is not."""
    with contextlib.suppress(OSError):
        journal.save(record)
    raise FixError(
        f"{why}. Transaction {record['id']} is incomplete: fix the cause and run "
        f"`hostcheck fix --resume`, or roll back with `hostcheck fix --undo {record['id']}`",
        failed=True,
    )


def _save_or_stop(journal: Journal, record: dict[str, Any]) -> None:
    try:
        journal.save(record)
    except OSError as exc:
        _stopped(
            journal, record, f"cannot update the journal in {journal.dir}: {exc.strerror or exc}"
        )


def resume(host: Host, *, log: Any = print) -> dict[str, Any]:
    journal = Journal(host)
    with journal.locked(create=False):
        interrupted = journal.interrupted()
        if not interrupted:
            raise FixError("no interrupted transaction to resume")
        record = interrupted[-1]
        if record["state"] == "undoing":
            raise FixError(
                f"transaction {record['id']} was being undone; finish with "
                f"`hostcheck fix --undo {record['id']}`"
            )
        _remove_temporaries(host, record, log)
        _run_steps(host, journal, record, log)
        return record


def _remove_temporaries(host: Host, record: dict[str, Any], log: Any) -> None:
    for entry in record["files"]:
        for path in Target(host, entry["path"]).remove_temporaries():
            log(f"removed {_shown(host, path)} (left by an interrupted write)")


def undo(host: Host, tx_id: str | None, *, force: bool = False, log: Any = print) -> dict[str, Any]:
    """Restore the originals of a transaction byte for byte (modes and owners included)."""
    journal = Journal(host)
    with journal.locked(create=False):
        record = journal.find(tx_id)
        if record["state"] == "undone":
            raise FixError(f"transaction {record['id']} is already undone")
        if record["live"] != host.live:
            raise FixError(f"transaction {record['id']} was made on another root")
        changed = []
        for entry in record["files"]:
            current = Target(host, entry["path"]).read()
            if _sha(current) not in (entry["after_sha256"], entry["before_sha256"]):
                changed.append(entry["path"])
        if changed and not force:
            raise FixError(
                f"changed since hostcheck wrote them: {', '.join(changed)}; undo would lose "
                "those edits (use --force to restore the originals anyway)"
            )
        record["state"] = "undoing"
        try:
            journal.save(record)
            _remove_temporaries(host, record, log)
            for entry in reversed(record["files"]):
                _undo_file(Target(host, entry["path"]), entry, log, _shown(host, entry["path"]))
        except OSError as exc:
            raise FixError(
                f"undo of transaction {record['id']} stopped: {exc.filename or ''}"
                f"{': ' if exc.filename else ''}{exc.strerror or exc}; fix the cause and run "
                f"`hostcheck fix --undo {record['id']}` again",
                failed=True,
            ) from None
        root = os.path.realpath(host.root)
        for directory in reversed(record.get("created_dirs", [])):
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                os.rmdir(os.path.join(root, directory.lstrip("/")))
        # The inverse of each command step, last first (a regeneration's inverse is the same
        # regeneration over the restored files). A step that ran is undone by running its
        # inverse; a step that was only listed as pending gets its inverse listed too.
        pending = []
        for step in reversed(record["steps"]):
            if step["kind"] != "command" or not step["done"] or not step.get("undo_argv"):
                continue
            command = Command(tuple(step["undo_argv"]), "undo")
            if step.get("pending") or not host.live:
                pending.append(command.text)
            else:
                log(f"running {command.text}")
                _run(host, command)
        record["state"] = "undone"
        record["undone"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record["undo_pending"] = pending
        journal.save(record)
        return record


def _undo_file(target: Target, entry: dict[str, Any], log: Any, shown: str) -> None:
    """Bring one file back as it was; say only what was done (a file never written, because
    the transaction stopped before it, is neither restored nor removed)."""
    current = target.read()
    if _sha(current) == entry["before_sha256"]:
        return  # never written, or already back: nothing to do and nothing to report
    if entry["existed"]:
        target.write(_unb64(entry["before_b64"]), entry["mode"], entry["uid"], entry["gid"])
        log(f"restored {shown}")
    elif target.remove():
        log(f"removed {shown}")


def history(host: Host) -> list[dict[str, Any]]:
    return Journal(host).all()


def readable_history(host: Host) -> tuple[list[dict[str, Any]], list[str]]:
    """The transactions that check out, and a message for each damaged journal file (for
    --history, which lists what it can and names the rest)."""
    return Journal(host).read()
