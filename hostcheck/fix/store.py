"""The journal's directory, ROOT/var/lib/hostcheck/fix/: one file per transaction
(hostcheck.fix.journal) and the lock that keeps two runs of `hostcheck fix` apart."""

from __future__ import annotations

# fcntl and contextlib are imported where the lock is taken: the dry run (the plan only) never
# takes it.
import errno
import json
import os
import stat
from collections.abc import Iterator

from hostcheck.fix.changes import FixError
from hostcheck.fix.target import check_components, open_dir_nofollow
from hostcheck.host.core import Host
from hostcheck.host.output import TEMP_SUFFIX, replace_durably
from hostcheck.host.safeio import InputError, load_json_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from hostcheck.fix.journal import Transaction

JOURNAL_DIR = "/var/lib/hostcheck/fix"
MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # the journal holds the edited files (base64)


class Journal:
    """The transactions of one host (or --root tree), and the lock that keeps two runs apart."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.dir = os.path.join(os.path.realpath(host.root), JOURNAL_DIR.lstrip("/"))

    def locked(self, *, create: bool = True) -> AbstractContextManager[None]:
        """Hold the journal lock (a context manager). The directories and the lock file are opened one component
        at a time from the root with O_NOFOLLOW, so a planted link (``var/lib/hostcheck/fix/
        lock`` → ``/etc/nologin``) is refused, never followed. Without ``create`` (undo,
        resume) a tree with no journal yet is left as it is: nothing to lock, nothing to do."""
        import contextlib

        return contextlib.contextmanager(self._locked)(create=create)

    def _locked(self, *, create: bool) -> Iterator[None]:
        root = os.path.realpath(self.host.root)
        if not os.path.isdir(root):  # gone since the scan: never recreate a tree
            raise FixError(f"{self.host.root} no longer exists")
        check_components(root, JOURNAL_DIR, "the journal")
        dir_fd = open_dir_nofollow(root, JOURNAL_DIR, create=create, what="the journal")
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
        import contextlib

        with contextlib.suppress(OSError):
            for name in os.listdir(self.dir):
                if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.dir, name))

    def path(self, tx_id: str) -> str:
        return os.path.join(self.dir, f"{tx_id}.json")

    def save(self, tx: Transaction) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        data = (json.dumps(tx.to_json(), indent=2) + "\n").encode()
        replace_durably(self.path(tx.id), data, 0o600)

    def all(self) -> list[Transaction]:
        """Every transaction, oldest first. A damaged journal is a refusal naming it."""
        transactions, problems = self.read()
        if problems:
            raise FixError(problems[0])
        return transactions

    def read(self) -> tuple[list[Transaction], list[str]]:
        """The transactions that check out, oldest first, and one message for each journal
        file that does not (unreadable, not JSON, or not a journal of this version)."""
        check_components(os.path.realpath(self.host.root), JOURNAL_DIR, "the journal", "use")
        if not os.path.isdir(self.dir):
            return [], []
        # The journal's format is read only where a journal exists: the dry run on a host
        # that never ran `fix --apply` does without it.
        from hostcheck.fix.journal import Damaged, parse

        transactions = []
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
            try:
                transactions.append(parse(record, name[: -len(".json")]))
            except Damaged as exc:
                problems.append(f"journal {path}: not a hostcheck journal ({exc})")
        # Oldest first by creation time (ids sort by time too; this also orders old ids).
        transactions.sort(key=lambda tx: (tx.created_ns or 0, tx.id))
        return transactions, problems

    def interrupted(self) -> list[Transaction]:
        return [tx for tx in self.all() if tx.state in ("started", "undoing")]

    def find(self, tx_id: str | None) -> Transaction:
        """The transaction ``tx_id``, or without one the last that can be undone."""
        transactions = self.all()
        if tx_id is None:
            candidates = [tx for tx in transactions if undoable(tx)]
            if not candidates:
                raise FixError("no transaction to undo (see `hostcheck fix --history`)")
            return candidates[-1]
        for tx in transactions:
            if tx.id == tx_id:
                return tx
        raise FixError(f"no transaction {tx_id!r} (see `hostcheck fix --history`)")


def undoable(tx: Transaction) -> bool:
    """Whether `hostcheck fix --undo` (without an id) may pick this transaction."""
    return tx.state in ("complete", "started", "undoing")


def interrupted_message(journal: Journal) -> str | None:
    """What to tell the user about interrupted transactions, or None."""
    interrupted = journal.interrupted()
    parts = []
    for tx in interrupted:
        verb = "undoing" if tx.state == "undoing" else "applying"
        parts.append(
            f"transaction {tx.id} was interrupted while {verb} after {tx.done_steps} of "
            f"{len(tx.steps)} steps"
        )
    if not parts:
        return None
    return (
        "; ".join(parts) + f": complete it with `hostcheck fix --resume` or roll it back with "
        f"`hostcheck fix --undo {interrupted[-1].id}`"
    )
