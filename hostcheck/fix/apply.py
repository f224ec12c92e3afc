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
import time
from collections.abc import Iterator
from typing import Any

from hostcheck import __version__
from hostcheck.fix.plan import KERNEL_CMDLINE, Command, Plan
from hostcheck.host import Host
from hostcheck.output import fsync_dir, replace_durably

JOURNAL_DIR = "/var/lib/hostcheck/fix"
SCHEMA_VERSION = 1
ALLOWED_DIRS = (
    "/etc/default/grub.d",
    "/etc/modprobe.d",
    "/etc/sysctl.d",
    os.path.dirname(KERNEL_CMDLINE),
)
COMMAND_TIMEOUT = 900.0  # update-initramfs -k all on a slow disk takes minutes
CRASH_HOOK = "HOSTCHECK_TEST_CRASH_AFTER_STEP"  # tests: die (as a kill would) after step N


class FixError(Exception):
    """A refusal (``failed`` False) or a failed step (``failed`` True), with a message."""

    def __init__(self, message: str, *, failed: bool = False) -> None:
        super().__init__(message)
        self.failed = failed


def _check_components(root: str, host_dir: str, what: str) -> None:
    """Refuse if any existing component of ``host_dir`` under ``root`` is a symbolic link
    or not a directory: a link could send a write anywhere, out of the root included."""
    current = root
    for part in host_dir.strip("/").split("/"):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise FixError(f"refusing to write {what}: {current} is a symbolic link")
        if os.path.exists(current) and not os.path.isdir(current):
            raise FixError(f"refusing to write {what}: {current} is not a directory")


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

    def write(self, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        replace_durably(self.real, data, mode, (uid, gid))

    def remove(self) -> None:
        try:
            os.unlink(self.real)
        except FileNotFoundError:
            return  # never written (an interrupted transaction) or already gone
        fsync_dir(self.dir)


class Journal:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.dir = os.path.join(os.path.realpath(host.root), JOURNAL_DIR.lstrip("/"))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        root = os.path.realpath(self.host.root)
        if not os.path.isdir(root):  # gone since the scan: never recreate a tree
            raise FixError(f"{self.host.root} no longer exists")
        _check_components(root, JOURNAL_DIR, "the journal")
        try:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise FixError(f"cannot open the journal in {self.dir}: {exc.strerror}") from None
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise FixError(
                        "another `hostcheck fix` is running on this host (journal lock "
                        f"{self.dir}/lock is held); wait for it to finish"
                    ) from None
                raise
            yield
        finally:
            os.close(fd)

    def path(self, tx_id: str) -> str:
        return os.path.join(self.dir, f"{tx_id}.json")

    def save(self, record: dict[str, Any]) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        data = (json.dumps(record, indent=2) + "\n").encode()
        replace_durably(self.path(record["id"]), data, 0o600)

    def all(self) -> list[dict[str, Any]]:
        """Every transaction, oldest first. A journal that cannot be read is reported."""
        if not os.path.isdir(self.dir):
            return []
        records = []
        try:
            names = sorted(os.listdir(self.dir))
        except OSError as exc:
            raise FixError(f"cannot read the journal in {self.dir}: {exc.strerror}") from None
        for name in names:
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.dir, name), encoding="utf-8") as handle:
                    record = json.load(handle)
            except (OSError, ValueError) as exc:
                raise FixError(f"journal {self.dir}/{name} is unreadable: {exc}") from None
            problem = _journal_problem(record, name[: -len(".json")])
            if problem:
                raise FixError(f"journal {self.dir}/{name}: not a hostcheck journal ({problem})")
            records.append(record)
        # Oldest first by creation time (ids sort by time too; this also orders old ids).
        records.sort(key=lambda r: (r.get("created_ns", 0), r["id"]))
        return records

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
_RECORD_KEYS: dict[str, type] = {
    "id": str,
    "state": str,
    "live": bool,
    "rules": list,
    "files": list,
    "steps": list,
    "reboot_required": bool,
}
_FILE_KEYS: dict[str, type | tuple[type, ...]] = {
    "path": str,
    "existed": bool,
    "before_b64": str,
    "before_sha256": (str, type(None)),
    "after_b64": str,
    "after_sha256": str,
    "mode": int,
    "uid": int,
    "gid": int,
}


def _journal_problem(record: object, stem: str) -> str | None:
    """What makes ``record`` not a journal this version wrote, or None. A journal under a
    --root tree is untrusted input: its id names a file and its paths are written."""
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        return "schema 1 expected"
    for key, kind in _RECORD_KEYS.items():
        if not isinstance(record.get(key), kind):
            return f"{key} missing or of the wrong type"
    if not _ID.match(record["id"]) or record["id"] != stem:
        return "its id is not its file name"
    for entry in record["files"]:
        if not isinstance(entry, dict) or any(
            not isinstance(entry.get(k), t) for k, t in _FILE_KEYS.items()
        ):
            return "a file entry is malformed"
        if os.path.dirname(entry["path"]) not in ALLOWED_DIRS:
            return f"it names {entry['path']!r}, outside the directories hostcheck writes"
    for step in record["steps"]:
        if not isinstance(step, dict) or step.get("kind") not in ("write", "command"):
            return "a step is malformed"
        if not isinstance(step.get("done"), bool):
            return "a step is malformed"
        if step["kind"] == "command" and not (
            isinstance(step.get("argv"), list) and all(isinstance(a, str) for a in step["argv"])
        ):
            return "a command step is malformed"
    allowed = {d for path in ALLOWED_DIRS for d in _parents(path)}
    if any(d not in allowed for d in record.get("created_dirs", [])):
        return "it names a directory hostcheck does not create"
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
        journal.save(record)  # the originals are on disk before the first change
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
            target.write(_unb64(entry["after_b64"]), entry["mode"], entry["uid"], entry["gid"])
            log(f"wrote {step['path']}")
        elif step["run"]:
            log(f"running {Command(tuple(step['argv']), '').text}")
            try:
                step["output"] = _run(host, Command(tuple(step["argv"]), step["why"]))
            except FixError as exc:
                journal.save(record)
                raise FixError(
                    f"{exc}. Transaction {record['id']} is incomplete: fix the cause and run "
                    f"`hostcheck fix --resume`, or roll back with `hostcheck fix --undo {record['id']}`",
                    failed=True,
                ) from None
        else:
            step["pending"] = True
        step["done"] = True
        journal.save(record)
        _maybe_crash(number)
    record["state"] = "complete"
    journal.save(record)


def resume(host: Host, *, log: Any = print) -> dict[str, Any]:
    journal = Journal(host)
    with journal.locked():
        interrupted = journal.interrupted()
        if not interrupted:
            raise FixError("no interrupted transaction to resume")
        record = interrupted[-1]
        if record["state"] == "undoing":
            raise FixError(
                f"transaction {record['id']} was being undone; finish with "
                f"`hostcheck fix --undo {record['id']}`"
            )
        _run_steps(host, journal, record, log)
        return record


def undo(host: Host, tx_id: str | None, *, force: bool = False, log: Any = print) -> dict[str, Any]:
    """Restore the originals of a transaction byte for byte (modes and owners included)."""
    journal = Journal(host)
    with journal.locked():
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
        journal.save(record)
        for entry in reversed(record["files"]):
            target = Target(host, entry["path"])
            if entry["existed"]:
                target.write(_unb64(entry["before_b64"]), entry["mode"], entry["uid"], entry["gid"])
                log(f"restored {entry['path']}")
            else:
                target.remove()
                log(f"removed {entry['path']}")
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


def history(host: Host) -> list[dict[str, Any]]:
    return Journal(host).all()
