"""Carrying out a plan: the one place that changes the host. Journaled, atomic, reversible.

apply() writes the transaction's journal (hostcheck.fix.journal, in hostcheck.fix.store) with the originals of every
file before the first change, then runs its steps, marking each done. A transaction still
marked "started" refuses new work until it is completed (resume()) or rolled back (undo()).

Safety rules (DESIGN.md): only files in ALLOWED_DIRS are written, never through a symlink
and never out of the root (hostcheck.fix.target); temp file + fsync + rename; a lock keeps
two runs apart; commands run only on the live host (under another root they are listed as
pending steps). What a run did is told by hostcheck.fix.outcome.render.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import NoReturn

from hostcheck import __version__
from hostcheck.fix.changes import Command, FixError
from hostcheck.fix.journal import CommandStep, FileEntry, Transaction, WriteStep, new_id, sha256
from hostcheck.fix.plan import Plan
from hostcheck.fix.store import Journal, interrupted_message
from hostcheck.fix.target import Target
from hostcheck.host.core import Host

COMMAND_TIMEOUT = 900.0  # update-initramfs -k all on a slow disk takes minutes
CRASH_HOOK = "HOSTCHECK_TEST_CRASH_AFTER_STEP"  # tests: die (as a kill would) after step N
KILL_HOOK = "HOSTCHECK_TEST_KILL_IN_WRITE"  # tests: SIGKILL inside write step N, before its rename

Log = Callable[[str], object]


def _maybe_crash(step: int) -> None:
    if os.environ.get(CRASH_HOOK) == str(step):
        os._exit(137)  # as SIGKILL would: no cleanup, no journal update


def _kill_hook(step: int) -> Callable[[], None] | None:
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


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def apply(host: Host, plan: Plan, *, log: Log = print) -> Transaction:
    """Carry out ``plan`` as one transaction; returns it as its journal now records it."""
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
                FileEntry(
                    change.path,
                    current,
                    change.after,
                    (st.st_mode & 0o7777) if st else 0o644,
                    st.st_uid if st else 0,
                    st.st_gid if st else 0,
                )
            )
        steps: list[WriteStep | CommandStep] = [WriteStep(f.path) for f in files]
        steps += [CommandStep(c.argv, c.why, c.undo or None, run=host.live) for c in plan.commands]
        now = time.time_ns()
        tx = Transaction(
            id=new_id(now),
            state="started",
            live=host.live,
            rules=tuple(plan.rules),
            reboot_required=plan.reboot_required,
            created=_utc_now(),
            files=tuple(files),
            steps=tuple(steps),
            created_dirs=tuple(created_dirs),
            created_ns=now,
            root=host.root,
            tool_version=__version__,
            loader=plan.loader,
        )
        try:
            journal.save(tx)  # the originals are on disk before the first change
        except OSError as exc:
            raise FixError(
                f"cannot write the journal in {journal.dir}: {exc.strerror or exc}; nothing "
                "was changed",
                failed=True,
            ) from None
        return _run_steps(host, journal, tx, log)


def _refuse_if_interrupted(journal: Journal) -> None:
    message = interrupted_message(journal)
    if message:
        raise FixError(message)


def _run_steps(host: Host, journal: Journal, tx: Transaction, log: Log) -> Transaction:
    by_path = {f.path: f for f in tx.files}
    for index, step in enumerate(tx.steps):
        number = index + 1
        if step.done:
            continue
        if isinstance(step, WriteStep):
            entry = by_path[step.path]
            target = Target(host, step.path)
            if sha256(target.read()) not in (entry.before_sha256, entry.after_sha256):
                raise FixError(
                    f"{step.path} changed since transaction {tx.id} began; not "
                    f"overwriting it. Look at it, then `hostcheck fix --undo {tx.id} "
                    "--force` restores the originals"
                )
            try:
                target.write(
                    entry.after, entry.mode, entry.uid, entry.gid, before_rename=_kill_hook(number)
                )
            except OSError as exc:  # a full disk, a read-only /etc: the step stays not done
                _stopped(
                    journal, tx, f"cannot write {_shown(host, step.path)}: {exc.strerror or exc}"
                )
            log(f"wrote {_shown(host, step.path)}")
            tx = tx.with_step(index, step._replace(done=True))
        elif step.run:
            command = Command(step.argv, step.why)
            log(f"running {command.text}")
            try:
                output = _run(host, command)
            except FixError as exc:
                _stopped(journal, tx, str(exc))
            tx = tx.with_step(index, step._replace(done=True, output=output))
        else:
            tx = tx.with_step(index, step._replace(done=True, pending=True))
        _save_or_stop(journal, tx)
        _maybe_crash(number)
    tx = tx._replace(state="complete")
    _save_or_stop(journal, tx)
    return tx


def _stopped(journal: Journal, tx: Transaction, why: str) -> NoReturn:
    """A step failed: record what is done (as far as the disk lets us), and tell how to go
    on. The journal on disk never says a step is done that is not."""
    with contextlib.suppress(OSError):
        journal.save(tx)
    raise FixError(
        f"{why}. Transaction {tx.id} is incomplete: fix the cause and run "
        f"`hostcheck fix --resume`, or roll back with `hostcheck fix --undo {tx.id}`",
        failed=True,
    )


def _save_or_stop(journal: Journal, tx: Transaction) -> None:
    try:
        journal.save(tx)
    except OSError as exc:
        _stopped(journal, tx, f"cannot update the journal in {journal.dir}: {exc.strerror or exc}")


def resume(host: Host, *, log: Log = print) -> Transaction:
    """Complete the last interrupted transaction."""
    journal = Journal(host)
    with journal.locked(create=False):
        interrupted = journal.interrupted()
        if not interrupted:
            raise FixError("no interrupted transaction to resume")
        tx = interrupted[-1]
        if tx.state == "undoing":
            raise FixError(
                f"transaction {tx.id} was being undone; finish with `hostcheck fix --undo {tx.id}`"
            )
        _remove_temporaries(host, tx, log)
        return _run_steps(host, journal, tx, log)


def _remove_temporaries(host: Host, tx: Transaction, log: Log) -> None:
    for entry in tx.files:
        for path in Target(host, entry.path).remove_temporaries():
            log(f"removed {_shown(host, path)} (left by an interrupted write)")


def undo(host: Host, tx_id: str | None, *, force: bool = False, log: Log = print) -> Transaction:
    """Restore the originals of a transaction byte for byte (modes and owners included)."""
    journal = Journal(host)
    with journal.locked(create=False):
        tx = journal.find(tx_id)
        if tx.state == "undone":
            raise FixError(f"transaction {tx.id} is already undone")
        if tx.live != host.live:
            raise FixError(f"transaction {tx.id} was made on another root")
        changed = []
        for entry in tx.files:
            current = Target(host, entry.path).read()
            if sha256(current) not in (entry.after_sha256, entry.before_sha256):
                changed.append(entry.path)
        if changed and not force:
            raise FixError(
                f"changed since hostcheck wrote them: {', '.join(changed)}; undo would lose "
                "those edits (use --force to restore the originals anyway)"
            )
        tx = tx._replace(state="undoing")
        try:
            journal.save(tx)
            _remove_temporaries(host, tx, log)
            for entry in reversed(tx.files):
                _undo_file(Target(host, entry.path), entry, log, _shown(host, entry.path))
        except OSError as exc:
            raise FixError(
                f"undo of transaction {tx.id} stopped: {exc.filename or ''}"
                f"{': ' if exc.filename else ''}{exc.strerror or exc}; fix the cause and run "
                f"`hostcheck fix --undo {tx.id}` again",
                failed=True,
            ) from None
        root = os.path.realpath(host.root)
        for directory in reversed(tx.created_dirs):
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                os.rmdir(os.path.join(root, directory.lstrip("/")))
        # The inverse of each command step, last first (a regeneration's inverse is the same
        # regeneration over the restored files). A step that ran is undone by running its
        # inverse; a step that was only listed as pending gets its inverse listed too.
        pending = []
        for step in reversed(tx.steps):
            if not isinstance(step, CommandStep) or not step.done or not step.undo_argv:
                continue
            command = Command(step.undo_argv, "undo")
            if step.pending or not host.live:
                pending.append(command.text)
            else:
                log(f"running {command.text}")
                _run(host, command)
        tx = tx._replace(state="undone", undone=_utc_now(), undo_pending=tuple(pending))
        journal.save(tx)
        return tx


def _undo_file(target: Target, entry: FileEntry, log: Log, shown: str) -> None:
    """Bring one file back as it was; say only what was done (a file never written, because
    the transaction stopped before it, is neither restored nor removed)."""
    current = target.read()
    if sha256(current) == entry.before_sha256:
        return  # never written, or already back: nothing to do and nothing to report
    if entry.before is not None:
        target.write(entry.before, entry.mode, entry.uid, entry.gid)
        log(f"restored {shown}")
    elif target.remove():
        log(f"removed {shown}")


def history(host: Host) -> list[Transaction]:
    """Every transaction, oldest first (a damaged journal is a refusal naming it)."""
    return Journal(host).all()


def readable_history(host: Host) -> tuple[list[Transaction], list[str]]:
    """The transactions that check out, and a message for each damaged journal file (for
    --history, which lists what it can and names the rest)."""
    return Journal(host).read()
