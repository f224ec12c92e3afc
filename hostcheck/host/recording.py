"""What a scan read from the host, noted by the Host as it reads (for `hostcheck snapshot`).

A :class:`Recorder` handed to :class:`~hostcheck.host.core.Host` sees every file read, directory
listed, path tested, device node stat'ed, command run, the kernel log and the user the scan
checked, with what came back — data or the reason it could not be read. It only collects;
:mod:`hostcheck.snapshot` turns a recording into a fixture tree. This is the one source of
truth for what a snapshot holds: there is no separate list of paths.

Items under ``/.hostcheck/`` (a fixture's recorded data being replayed) are not noted as
files: the Host notes them by meaning instead (the kernel log, a command's output, a device).
"""

from typing import TYPE_CHECKING

from hostcheck._record import NamedTuple
from hostcheck.readings import Reason, Unavailable, Value

if TYPE_CHECKING:
    from hostcheck.readings import CommandOutput, NodeInfo

RECORD_PREFIX = "/.hostcheck/"


class RecordedUser(NamedTuple):
    name: str
    explicit: bool  # given with --user or recorded; False: a root scan's fallback


class Recorder:
    """Collects what a scan read. Later readings of the same item replace earlier ones."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.directories: set[str] = set()  # listed or tested, and found to be directories
        self.listed: dict[str, set[str]] = {}  # directory -> names the probes were given
        self.present: set[str] = set()  # exists() said yes
        self.devices: dict[str, NodeInfo] = {}
        self.commands: dict[str, CommandOutput] = {}
        self.kernel_log: str | None = None
        self.kernel_log_omitted = 0  # bytes of older kernel log the scan did not read
        self.user: RecordedUser | None = None
        # Items that could not be read, keyed by host path (commands by the path of their
        # recording, the kernel log by .hostcheck/dmesg.txt), replayed as they were seen.
        self.unavailable: dict[str, Unavailable] = {}

    # -- what the Host reports ------------------------------------------------------------
    def read(self, host_path: str, result: bytes | Unavailable) -> None:
        if host_path.startswith(RECORD_PREFIX):
            return
        if isinstance(result, Unavailable):
            self._failed(host_path, result)
        else:
            self.files[host_path] = result
            self.unavailable.pop(host_path, None)

    def listing(self, host_path: str, names: list[str] | Unavailable) -> None:
        if host_path.startswith(RECORD_PREFIX):
            return
        if isinstance(names, Unavailable):
            self._failed(host_path, names)
            return
        self.directories.add(host_path)
        self.listed.setdefault(host_path, set()).update(names)

    def probed(self, host_path: str, found: bool, *, directory: bool = False) -> None:
        if not found or host_path.startswith(RECORD_PREFIX):
            return
        (self.directories if directory else self.present).add(host_path)

    def stat(self, host_path: str, result: "Value[NodeInfo] | Unavailable") -> None:
        if isinstance(result, Unavailable):
            self._failed(host_path, result)
        else:
            self.devices[host_path] = result.value

    def command(self, name: str, result: "Value[CommandOutput] | Unavailable") -> None:
        key = command_record_path(name)
        if isinstance(result, Unavailable):
            self.commands.pop(name, None)
            if result.reason is not Reason.NOT_RECORDED:
                self.unavailable[key] = result
            return
        self.commands[name] = result.value
        self.unavailable.pop(key, None)

    def kernel_log_read(self, result: Value[str] | Unavailable, omitted: int = 0) -> None:
        """The part of the kernel log the scan used, and how many older bytes it left out."""
        if isinstance(result, Unavailable):
            self.kernel_log = None
            self.kernel_log_omitted = 0
            self._failed(KERNEL_LOG_PATH, result)
        else:
            self.kernel_log = result.value
            self.kernel_log_omitted = omitted

    def checked_user(self, name: str, explicit: bool) -> None:
        self.user = RecordedUser(name, explicit)

    def _failed(self, key: str, result: Unavailable) -> None:
        # A missing item replays as missing by itself; everything else is kept with its reason.
        if result.reason is not Reason.MISSING or key.startswith(RECORD_PREFIX):
            self.unavailable[key] = result


KERNEL_LOG_PATH = RECORD_PREFIX + "dmesg.txt"


def command_record_path(name: str) -> str:
    return f"{RECORD_PREFIX}commands/{name}.txt"
