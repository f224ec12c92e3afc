"""`hostcheck snapshot`: record what the probes read from a host into a replayable tree.

The scan's own probe collection runs against a Host with a
:class:`~hostcheck.host.recording.Recorder`; what it noted is written out in the fixture format
(fixtures/README.md), so ``hostcheck scan --root SNAPSHOT`` reads the same data back. Nothing
is recorded that the probes did not read, and there is no list of paths besides the probes.
Identifying values are replaced by stable tokens unless redaction is turned off
(:mod:`hostcheck.snapshot.redact`). The manifest ``.hostcheck/snapshot.json`` says what was
redacted (kinds and counts) and what could not be read and why.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from hostcheck import __version__
from hostcheck._record import NamedTuple
from hostcheck.facts import Facts
from hostcheck.host.core import Host
from hostcheck.host.recording import KERNEL_LOG_PATH, Recorder, command_record_path
from hostcheck.probes import ProbeOptions, collect
from hostcheck.probes.functional import FunctionalOptions
from hostcheck.readings import NodeInfo, Unavailable
from hostcheck.snapshot.redact import discover
from hostcheck.snapshot.redactor import Redactor
from hostcheck.snapshot.tree import Plan, Resolver, make_private_dirs, write_plan, write_private

MANIFEST = ".hostcheck/snapshot.json"
FORMAT_VERSION = 1


class Recording(NamedTuple):
    """A finished recording: what was read, and the facts the scan made of it."""

    recorder: Recorder
    host: Host
    facts: Facts
    redactor: Redactor | None
    taken_at: float
    python: str | None


class Written(NamedTuple):
    path: str
    files: int
    links: int
    unreadable: int
    redaction: dict[str, dict[str, int]] | None


def take(
    root: str = "/",
    *,
    host_mount: bool = False,
    user: str | None = None,
    python: str | None = None,
    read_timeout: float = 2.0,
    redact: bool = True,
    functional: FunctionalOptions | None = None,
) -> Recording:
    """Run the scan's probe collection on ``root`` with recording on (and the functional
    probe, when given: its output is recorded as the command ``functional``)."""
    recorder = Recorder()
    host = Host(root, host_mount=host_mount, read_timeout=read_timeout, recorder=recorder)
    # the sysctl keys the bundled rules name: what a scan of the snapshot will ask for
    from hostcheck.checks.catalog import load_catalog, probe_needs

    sysctls = probe_needs(load_catalog()[0])["sysctls"]
    options = ProbeOptions(user=user, python=python, functional=functional, sysctls=sysctls)
    facts = collect(host, options)
    redactor = None
    if redact:
        redactor = _discover(recorder, host, user)
    return Recording(recorder, host, facts, redactor, time.time(), python)


def _discover(recorder: Recorder, host: Host, user: str | None) -> Redactor:
    # The machine id is not something the probes read, but it is what tracks a machine, so
    # it is looked up (through a Host that records nothing) to be scrubbed wherever it shows.
    plain = Host(host.root, host_mount=host.host_mount, read_timeout=host.read_timeout)
    machine_ids = []
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        text = plain.read_text(path)
        if not isinstance(text, Unavailable):
            machine_ids.append(text.value.strip())
    texts = [
        out.stdout.encode() + b"\n" + out.stderr.encode() for out in recorder.commands.values()
    ]
    if recorder.kernel_log is not None:
        texts.append(recorder.kernel_log.encode())
    users = [name for name in (user, recorder.user.name if recorder.user else None) if name]
    if host.live and os.environ.get("SUDO_USER"):
        users.append(os.environ["SUDO_USER"])
    logs = [recorder.kernel_log.encode()] if recorder.kernel_log is not None else []
    redactor, edited = discover(
        recorder.files, texts, extra_users=users, machine_ids=machine_ids, logs=logs
    )
    recorder.files.update(edited)
    return redactor


def _group_names(recorder: Recorder) -> dict[int, str]:
    names: dict[int, str] = {}
    text = recorder.files.get("/etc/group", b"").decode("utf-8", errors="replace")
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            names.setdefault(int(fields[2]), fields[0])
    return names


def _device_entry(node: NodeInfo, groups: dict[int, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": node.kind, "mode": f"{node.mode:04o}", "uid": node.uid}
    if node.gid >= 0:
        entry["gid"] = node.gid
    group = node.group or groups.get(node.gid)
    if group:
        entry["group"] = group
    if node.owner:
        entry["owner"] = node.owner
    if node.rdev:
        entry["rdev"] = node.rdev
    return entry


def _plan(recording: Recording) -> tuple[Plan, dict[str, bytes]]:
    """The host tree, and the files of .hostcheck/ (by path relative to the snapshot)."""
    recorder = recording.recorder
    plan = Plan()
    resolver = Resolver(recording.host.root, plan, recording.host.process_root)
    for path, data in recorder.files.items():
        resolver.add_file(path, data)
    for path in recorder.directories:
        resolver.add_dir(path)
    for directory, names in recorder.listed.items():
        for name in names:
            resolver.add_entry(directory, name)
    for path in recorder.present:
        parent, _, name = path.rstrip("/").rpartition("/")
        if name:
            resolver.add_entry(parent or "/", name)

    records: dict[str, bytes] = {}
    if recorder.kernel_log is not None:
        records[KERNEL_LOG_PATH] = recorder.kernel_log.encode()
        if recorder.kernel_log_omitted:
            # Only the newest part was used; the replay says how much was left out.
            records["/.hostcheck/dmesg.json"] = _json(
                {"omitted_bytes": recorder.kernel_log_omitted}
            )
    groups = _group_names(recorder)
    devices = {path: _device_entry(node, groups) for path, node in recorder.devices.items()}
    if devices:
        records["/.hostcheck/devices.json"] = _json(devices)
    for name, output in recorder.commands.items():
        path = command_record_path(name)
        records[path] = output.stdout.encode()
        if output.returncode != 0 or output.stderr or output.timed_out is not None:
            status: dict[str, object] = {"returncode": output.returncode, "stderr": output.stderr}
            if output.timed_out is not None:
                status["timed_out"] = output.timed_out
            records[path.removesuffix(".txt") + ".json"] = _json(status)
    if recorder.user is not None and recorder.user.explicit:
        records["/.hostcheck/user"] = recorder.user.name.encode() + b"\n"
    if recorder.unavailable:
        records["/.hostcheck/unreadable.json"] = _json(_unreadable(recorder))
    return plan, records


def _unreadable(recorder: Recorder) -> dict[str, dict[str, str]]:
    return {
        key: {"reason": item.reason.value, "source": item.source, "detail": item.detail}
        for key, item in sorted(recorder.unavailable.items())
    }


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_tree(recording: Recording, out_dir: str) -> Written:
    """Write the snapshot tree into the existing, empty directory ``out_dir``, which is made
    private (0700, its directories too; files 0600)."""
    os.chmod(out_dir, 0o700)
    redactor = recording.redactor
    plan, records = _plan(recording)
    redact = redactor.apply if redactor else (lambda data: data)
    plan.files = {path: redact(data) for path, data in plan.files.items()}
    records = {path: redact(data) for path, data in records.items()}
    user = recording.recorder.user
    if redactor and user is not None and "/.hostcheck/user" in records:
        # the user checked, by its token (a bare name has no context that says "user")
        records["/.hostcheck/user"] = (redactor.user_token(user.name) or user.name).encode() + b"\n"

    def rename(path: str) -> str:
        return redact(path.encode()).decode("utf-8", errors="surrogateescape")

    links = write_plan(plan, out_dir, rename)
    facts = recording.facts
    release = facts.kernel.release
    kernel = release.value.raw if not isinstance(release, Unavailable) else "unknown"
    hostname = facts.hostname.value if not isinstance(facts.hostname, Unavailable) else "unknown"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(recording.taken_at))
    about = (
        f"snapshot of {hostname}, kernel {kernel}, taken {stamp}\n"
        f"Recorded by hostcheck {__version__} (`hostcheck snapshot`); replay it with "
        "`hostcheck scan --root THIS`. What was redacted and what could not be read: "
        "snapshot.json.\n"
    )
    records["/.hostcheck/about.txt"] = redact(about.encode())
    summary = redactor.summary() if redactor else None
    manifest = {
        "format": FORMAT_VERSION,
        "tool": {"name": "hostcheck", "version": __version__},
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(recording.taken_at)),
        "source": "live host"
        if recording.host.live
        else (
            "mounted host (--host-mount)" if recording.host.host_mount else "a host tree (--root)"
        ),
        "replay": "hostcheck scan --root SNAPSHOT"
        + (f" --python {recording.python}" if recording.python else ""),
        "recorded": {
            "files": len(recording.recorder.files),
            "directories listed or tested": len(recording.recorder.directories),
            "symlinks": links,
            "commands": sorted(recording.recorder.commands),
            "device nodes": len(recording.recorder.devices),
            "kernel log": recording.recorder.kernel_log is not None,
            **(
                {"kernel log bytes left out (oldest)": recording.recorder.kernel_log_omitted}
                if recording.recorder.kernel_log_omitted
                else {}
            ),
        },
        "redaction": {"enabled": redactor is not None, "replaced": summary or {}},
        "unreadable": [
            {"item": key, **item} for key, item in _unreadable(recording.recorder).items()
        ],
    }
    records["/" + MANIFEST] = redact(_json(manifest))
    for path, data in records.items():
        where = os.path.join(out_dir, path.lstrip("/"))
        make_private_dirs(os.path.dirname(where))
        write_private(where, data)
    return Written(
        out_dir,
        len(plan.files) + len(records),
        links,
        len(recording.recorder.unavailable),
        summary,
    )
