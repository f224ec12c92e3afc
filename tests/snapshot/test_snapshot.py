"""`hostcheck snapshot`: a host recorded into the fixture format replays to the same findings
(this machine, every bundled fixture), redaction leaves no identifying value anywhere in the
snapshot, and an untrusted snapshot tarball is read safely or refused with one clear line."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hostcheck.host.core import Host
from hostcheck.readings import Reason, Unavailable, Value
from hostcheck.snapshot import take, write_tree
from hostcheck.snapshot.archive import ArchiveError, extract
from hostcheck.snapshot.redactor import Redactor
from tests.conftest import FIXTURE_NAMES, FIXTURES, expected, run_subprocess

VOLATILE_HOST_FIELDS = ("root", "container")  # where it was read from; container: live only


def comparable(report: dict[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """The parts of a report a replay must reproduce: verdicts, messages, evidence, fixes.

    Volatile fields go (duration, the root path, the container a live scan ran in); with a
    redactor, the original's identifying values are replaced as in the snapshot."""
    data = {
        "ready": report["ready"],
        "summary": report["summary"],
        "host": {k: v for k, v in report["host"].items() if k not in VOLATILE_HOST_FIELDS},
        "findings": report["findings"],
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    if redactor is not None:
        text = redactor.report_text(text)
    result = json.loads(text)
    for finding in result["findings"]:
        for item in finding["evidence"]:
            # Lists the checks sort by name ("llm, render, video") may sort differently once
            # a name is replaced ("render, user-1, video"): compare them as sets.
            if isinstance(item["value"], str) and ", " in item["value"]:
                item["value"] = sorted(item["value"].split(", "))
    return result


def live_sources_as_replayed(report: dict[str, Any]) -> dict[str, Any]:
    """A live scan names the live sources of what a replay reads from the recording: pyudev's
    device list (the replay lists the recorded sysfs), commands as run (replayed: "…
    (recorded)"), device nodes (replayed from devices.json), the kernel log (from dmesg.txt)."""
    text = json.dumps(report)
    text = text.replace("/sys/class/drm/card* (pyudev)", "/sys/class/drm/card* (sysfs)")
    text = re.sub(r"/drm \(pyudev\)", "/drm (sysfs)", text)
    text = text.replace(" (recorded)", "").replace(".hostcheck/devices.json:", "")
    return json.loads(text)


def scan(cli, *args: str) -> tuple[int, dict[str, Any]]:
    run = cli("scan", "--format", "json", *args)
    assert run.code in (0, 1), run.err
    return run.code, run.json()


def replay_args(snapshot: Path) -> list[str]:
    """The replay command the manifest gives, as arguments after `--root SNAPSHOT`."""
    manifest = json.loads((snapshot / ".hostcheck" / "snapshot.json").read_text())
    words = manifest["replay"].split()
    assert words[:4] == ["hostcheck", "scan", "--root", "SNAPSHOT"]
    return words[4:]


def all_bytes(path: Path) -> list[tuple[str, bytes]]:
    """Every name and every byte of a snapshot: each file's content, each link target and,
    for a tarball, the whole uncompressed tar stream (member names, headers, data)."""
    found: list[tuple[str, bytes]] = []
    if path.is_file():
        raw = gzip.decompress(path.read_bytes())
        found.append(("<tar stream>", raw))
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar:
                found.append((f"<name> {member.name}", member.name.encode()))
                found.append((f"<link> {member.name}", member.linkname.encode()))
                handle = tar.extractfile(member) if member.isreg() else None
                if handle is not None:
                    found.append((member.name, handle.read()))
        return found
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            found.append((f"<name> {full}", str(full.relative_to(path)).encode()))
            if full.is_symlink():
                found.append((f"<link> {full}", os.readlink(full).encode()))
            elif full.is_file():
                found.append((str(full), full.read_bytes()))
    return found


def assert_absent(snapshot: Path, values: list[str]) -> None:
    """No value appears as a word anywhere in the snapshot (a user `llm` may stay inside
    `vllm`: values are replaced as whole words, and looked for the same way)."""
    assert values
    for where, data in all_bytes(snapshot):
        for value in values:
            word = re.compile(
                rb"(?<![A-Za-z0-9_])" + re.escape(value.encode()) + rb"(?![A-Za-z0-9_])"
            )
            assert not word.search(data), f"{value!r} left in {where}"


# -- round trips ---------------------------------------------------------------------------


def test_round_trip_of_this_machine(cli, tmp_path: Path) -> None:
    """Live scan -> snapshot -> scan of the snapshot: the same findings (this machine has no
    Strix Halo GPU, which is itself a real case)."""
    code, live = scan(cli)
    out = tmp_path / "live"
    run = cli("snapshot", "--output", str(out))
    assert run.code == 0, run.err
    assert f"replay: hostcheck scan --root {out}" in run.out
    recording = take("/")  # the same redaction map, to compare modulo redacted tokens
    replay_code, replayed = scan(cli, "--root", str(out), *replay_args(out))
    assert replay_code == code
    assert comparable(replayed) == comparable(live_sources_as_replayed(live), recording.redactor)
    assert replayed["host"]["root"] == str(out)
    # this machine's machine id is scrubbed wherever it might show
    machine_id = (
        Path("/etc/machine-id").read_text().strip() if Path("/etc/machine-id").exists() else ""
    )
    if machine_id:
        assert_absent(out, [machine_id])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_round_trip_of_every_fixture_redacted_tarball(cli, tmp_path: Path, name: str) -> None:
    args = expected(name)["args"]
    code, original = scan(cli, "--fixture", name, *args)
    tarball = tmp_path / f"{name}.tar.gz"
    run = cli("snapshot", "--fixture", name, *args, "--output", str(tarball))
    assert run.code == 0, run.err
    unpacked = tmp_path / "unpacked"
    root = Path(extract(str(tarball), str(unpacked)))
    assert root.name == name  # one top-level directory, named after the file
    replay_code, replayed = scan(cli, "--root", str(tarball), *replay_args(root))
    assert replay_code == code == expected(name)["exit"]
    recording = take(str(FIXTURES / name), python=args[1] if args else None)
    assert comparable(replayed) == comparable(original, recording.redactor)
    assert replayed["host"]["root"] == str(tarball)
    assert recording.redactor is not None
    assert_absent(tarball, list(recording.redactor.mapping))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_round_trip_of_every_fixture_unredacted_directory(cli, tmp_path: Path, name: str) -> None:
    """Without redaction the replay is the original, byte for byte in its findings."""
    args = expected(name)["args"]
    _, original = scan(cli, "--fixture", name, *args)
    out = tmp_path / name
    run = cli("snapshot", "--fixture", name, *args, "--no-redact", "-o", str(out))
    assert run.code == 0 and "not redacted (--no-redact)" in run.out
    _, replayed = scan(cli, "--root", str(out), *args)
    assert comparable(replayed) == comparable(original)
    # the recorded files are the fixture's bytes, at the same paths
    for rel in ("proc/cmdline", "proc/meminfo", "etc/passwd", ".hostcheck/user"):
        assert (out / rel).read_bytes() == (FIXTURES / name / rel).read_bytes(), rel
    # only what the probes read: the fixture's own test data is not part of a snapshot
    assert not (out / ".hostcheck" / "expected.json").exists()


def test_snapshot_holds_only_what_the_probes_read(cli, fixture_copy, tmp_path: Path) -> None:
    root = fixture_copy("stock-128g")
    (root / "etc" / "shadow").write_text("root:$6$secret:19000:0:99999:7:::\n")
    (root / "proc" / "2211" / "maps").write_text("not read by any probe\n")
    (root / "proc" / "4242").mkdir()
    (root / "proc" / "4242" / "cmdline").write_bytes(b"/usr/bin/ssh\0-i\0/root/.ssh/key\0")
    out = tmp_path / "snap"
    assert cli("snapshot", "--root", str(root), "-o", str(out)).code == 0
    assert not (out / "etc" / "shadow").exists()
    assert not (out / "proc" / "2211" / "maps").exists()
    # other programs' command lines are read to find inference processes, never recorded
    assert not (out / "proc" / "4242").exists()
    assert (out / "proc" / "2211" / "cmdline").exists()  # llama-server: what the rules use


# -- the fixture format's details ------------------------------------------------------------


def test_sysfs_symlinks_are_kept_and_absolute_ones_made_relative(
    cli, fixture_copy, tmp_path: Path
) -> None:
    """Real sysfs reaches the GPU through links (/sys/class/drm/card1 ->
    ../../devices/…/drm/card1, device -> ../../../0000:c5:00.0); a snapshot keeps them."""
    root = fixture_copy("stock-128g")
    pci = root / "sys/devices/pci0000:00/0000:00:08.1/0000:c5:00.0"
    pci.parent.mkdir(parents=True)
    (root / "sys/class/drm/card1/device").rename(pci)
    (pci / "drm").rename(root / "drm-tmp")
    (pci / "drm").mkdir()
    (root / "drm-tmp/card1").rename(pci / "drm/card1")
    (root / "drm-tmp/renderD128").rename(pci / "drm/renderD128")
    (root / "drm-tmp").rmdir()
    (root / "sys/class/drm/card1").rmdir()
    os.symlink(
        "../../devices/pci0000:00/0000:00:08.1/0000:c5:00.0/drm/card1", root / "sys/class/drm/card1"
    )
    os.symlink("../../../0000:c5:00.0", pci / "drm/card1/device")
    (root / "usr/lib").mkdir(parents=True)
    (root / "etc/os-release").rename(root / "usr/lib/os-release")
    os.symlink("/usr/lib/os-release", root / "etc/os-release")  # absolute, as some distros ship
    _, original = scan(cli, "--root", str(root))
    assert original["host"]["gpu"] == "gfx1151 at 0000:c5:00.0 (card1)"

    out = tmp_path / "snap"
    assert cli("snapshot", "--root", str(root), "--no-redact", "-o", str(out)).code == 0
    assert os.readlink(out / "sys/class/drm/card1") == (
        "../../devices/pci0000:00/0000:00:08.1/0000:c5:00.0/drm/card1"
    )
    assert os.readlink(
        out / "sys/devices/pci0000:00/0000:00:08.1/0000:c5:00.0/drm/card1/device"
    ) == ("../../../0000:c5:00.0")
    assert os.readlink(out / "etc/os-release") == "../usr/lib/os-release"
    uevent = out / "sys/devices/pci0000:00/0000:00:08.1/0000:c5:00.0/uevent"
    assert uevent.read_bytes() == (pci / "uevent").read_bytes()
    assert uevent.read_bytes().endswith(b"\n")
    assert (out / "sys/module/ttm/parameters/pages_limit").read_bytes() == (
        root / "sys/module/ttm/parameters/pages_limit"
    ).read_bytes()
    _, replayed = scan(cli, "--root", str(out))
    assert comparable(replayed) == comparable(original)


def test_device_nodes_and_user_are_recorded_as_the_format_documents(cli, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    assert cli("snapshot", "--fixture", "stock-128g", "--no-redact", "-o", str(out)).code == 0
    devices = json.loads((out / ".hostcheck/devices.json").read_text())
    assert devices["/dev/kfd"] == {
        "type": "char",
        "mode": "0660",
        "uid": 0,
        "group": "render",
        "rdev": "510:0",
    }
    assert set(devices) == {"/dev/kfd", "/dev/dri/renderD128"}  # what the probes stat'ed
    assert (out / ".hostcheck/user").read_text() == "llm\n"
    assert (out / ".hostcheck/dmesg.txt").read_bytes() == (
        FIXTURES / "stock-128g/.hostcheck/dmesg.txt"
    ).read_bytes()
    manifest = json.loads((out / ".hostcheck/snapshot.json").read_text())
    assert manifest["tool"]["name"] == "hostcheck" and manifest["format"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["taken_at"])
    assert manifest["redaction"] == {"enabled": False, "replaced": {}}
    assert manifest["unreadable"] == []


def test_commands_that_failed_replay_as_they_failed(tmp_path: Path) -> None:
    """A command's exit status and error output, and a command that could not run at all,
    come back from the snapshot as they were seen."""
    recording = take("/")
    host = recording.host
    failing = ["sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"]
    live_failing = host.run("failing", failing)
    live_absent = host.run("absent", ["/nonexistent/bin/tool", "--version"])
    assert isinstance(live_absent, Unavailable) and live_absent.reason is Reason.MISSING
    write_tree(recording, str(tmp_path))
    replay = Host(tmp_path)
    replayed = replay.run("failing", failing)
    assert isinstance(live_failing, Value) and isinstance(replayed, Value)
    assert replayed.value == live_failing.value
    assert (replayed.value.returncode, replayed.value.stderr) == (3, "it broke\n")
    assert replay.run("absent", ["/nonexistent/bin/tool", "--version"]) == live_absent


def test_a_hung_read_is_recorded_with_its_reason_and_replayed(
    fixture_copy, tmp_path: Path, cli
) -> None:
    root = fixture_copy("tuned-ready")
    gtt = root / "sys/class/drm/card1/device/mem_info_gtt_total"
    gtt.unlink()
    os.mkfifo(gtt)  # never answers, as a wedged GPU's attribute
    args = ["--python", "/opt/vllm/bin/python3"]
    out = tmp_path / "snap"
    # in a child: the abandoned reader thread stays blocked on the FIFO until it exits
    run = run_subprocess(
        "snapshot", "--root", str(root), *args, "--timeout", "0.5", "--no-redact", "-o", str(out)
    )
    assert run.code == 0, run.err
    assert "could not be read (listed in .hostcheck/snapshot.json)" in run.out
    manifest = json.loads((out / ".hostcheck/snapshot.json").read_text())
    items = {item["item"]: item for item in manifest["unreadable"]}
    hung = items["/sys/class/drm/card1/device/mem_info_gtt_total"]
    assert hung["reason"] == "timeout" and "no answer within 0.5 s" in hung["detail"]
    assert not (out / "sys/class/drm/card1/device/mem_info_gtt_total").exists()
    original = run_subprocess(
        "scan", "--root", str(root), *args, "--timeout", "0.5", "--format", "json"
    )
    _, replayed = scan(cli, "--root", str(out), *args)
    assert comparable(replayed) == comparable(json.loads(original.out))
    gtt = next(f for f in replayed["findings"] if f["rule"] == "memory.gtt")
    assert gtt["status"] == "error" and "no answer within 0.5 s" in json.dumps(gtt)


# -- redaction -------------------------------------------------------------------------------

SECRETS = {
    "hostname": "saross-zbook.lab.example.org",
    "user": "saross",
    "full name": "Sarah Ross",
    "machine-id": "6f1c2a9be4d84b0f9a3c5d7e8f901234",
    "root uuid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "resume uuid": "11111111-2222-4333-8444-555555555555",
    "mac": "a8:a1:59:12:34:56",
    "usb serial": "AB12CD34EF56",
    "token": "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
    "api key": "sk-live-0123456789abcdef",
    # found where a whole-word search does not look: LVM names (rhel_HOST-root), systemd's
    # \x2d escapes, LUKS names (luks-UUID), FAT ids, interface names made of the MAC address
    "short hostname": "saross-zbook",
    "luks uuid": "5d7e6f80-91a2-4b3c-8d4e-5f60718293a4",
    "fat uuid": "ABCD-1234",
    "usb nic mac": "00:e0:4c:68:00:01",
    "wifi mac": "a0:b1:c2:d3:e4:f5",
    # a directory (LDAP, SSSD) user, not in /etc/passwd, in a process environment
    "ldap user": "mkowalski",
    # where the user logged in from (SSH_CONNECTION, SSH_CLIENT) and a server in the kernel log
    "ssh client": "203.0.113.77",
    "ssh server": "10.20.30.40",
    "ssh client v6": "2a02:8071:5e1:a700::7",
    "nfs server": "172.16.44.9",
}


def _escaped(value: str) -> str:
    """How systemd writes a value in a unit name: "-" as \\x2d."""
    return value.replace("-", "\\x2d")


# Other forms of the values above, none of which may be left either.
OTHER_FORMS = [
    _escaped(SECRETS["short hostname"]),
    "saross--zbook",  # device-mapper doubles the "-" of LVM names
    _escaped(SECRETS["root uuid"]),
    _escaped(SECRETS["luks uuid"]),
    SECRETS["root uuid"].upper(),
    "00e04c680001",
    "a0b1c2d3e4f5",
    "/home/mkowalski",
]


def _identifying_host(fixture_copy) -> Path:
    """stock-128g with a person's identifiers in every place the probes read."""
    s = SECRETS
    root = fixture_copy("stock-128g")
    (root / "proc/sys/kernel/hostname").write_text(s["hostname"] + "\n")
    (root / "etc/hostname").write_text(s["hostname"] + "\n")
    (root / "etc/machine-id").write_text(s["machine-id"] + "\n")
    passwd = (root / "etc/passwd").read_text()
    passwd += (
        f"{s['user']}:x:1001:1001:{s['full name']},Room 4,555-0100,:/home/{s['user']}:/bin/bash\n"
    )
    (root / "etc/passwd").write_text(passwd)
    group = (root / "etc/group").read_text().replace("render:x:992:", f"render:x:992:{s['user']},")
    (root / "etc/group").write_text(group + f"{s['user']}:x:1001:\n")
    cmdline = (root / "proc/cmdline").read_text()
    cmdline = re.sub(
        r"root=UUID=\S+",
        f"root=UUID={s['root uuid']} resume=UUID={s['fat uuid']} rd.luks.uuid=luks-{s['luks uuid']}"
        f" rd.lvm.lv=ubuntu_{s['short hostname']}/root",
        cmdline,
    )
    (root / "proc/cmdline").write_text(cmdline)
    dmesg = (root / ".hostcheck/dmesg.txt").read_text()
    dmesg = re.sub(
        r"root=UUID=\S+", f"root=UUID={s['root uuid']} resume=UUID={s['resume uuid']}", dmesg
    )
    dmesg += (
        f"[    5.100000] r8169 0000:c3:00.0 eth0: RTL8125B, {s['mac']}, XID 641, IRQ 140\n"
        f"[    6.200000] usb 3-1: SerialNumber: {s['usb serial']}\n"
        f"[    7.300000] systemd[1]: Hostname set to <{s['hostname']}>.\n"
        f"[    8.400000] EXT4-fs (nvme0n1p2): mounted filesystem {s['root uuid']} r/w.\n"
        f"[    8.500000] Adding 8388604k swap on /dev/disk/by-uuid/{s['resume uuid']}.\n"
        f"[    8.600000] systemd[1]: Found device dev-disk-by\\x2duuid-{_escaped(s['root uuid'])}"
        ".device - Samsung SSD 990 PRO 2TB.\n"
        f"[    8.700000] systemd[1]: Starting systemd-cryptsetup@luks\\x2d"
        f"{_escaped(s['luks uuid'])}.service - Cryptography Setup...\n"
        f"[    8.800000] systemd[1]: Found device dev-mapper-rhel_{_escaped(s['short hostname'])}"
        f"\\x2droot.device - /dev/mapper/rhel_{s['short hostname'].replace('-', '--')}-root.\n"
        f"[    8.900000] EXT4-fs (dm-1): mounted /dev/mapper/rhel_{s['short hostname']}-root\n"
        f"[    9.000000] r8152 2-1:1.0 enx{s['usb nic mac'].replace(':', '')}: renamed from eth0\n"
        f"[    9.100000] iwlwifi 0000:c2:00.0 wlx{s['wifi mac'].replace(':', '')}: renamed from wlan0\n"
        f"[    9.200000] FAT-fs (nvme0n1p1): mounting UUID={s['root uuid'].upper()}\n"
        f"[    9.300000] nfs: server {s['nfs server']} not responding, still trying\n"
        f"[    9.400000] IPv6: {s['ssh client v6']} duplicate address detected\n"
    )
    (root / ".hostcheck/dmesg.txt").write_text(dmesg)
    (root / ".hostcheck/user").write_text(s["user"] + "\n")
    environ = (root / "proc/2211/environ").read_bytes()
    environ += f"HOME=/home/{s['user']}\0HF_TOKEN={s['token']}\0HOSTNAME={s['hostname']}\0".encode()
    # started from an SSH session of a directory user
    environ = environ.replace(b"HOME=/home/llm", f"HOME=/home/{s['ldap user']}".encode())
    ssh_connection = f"{s['ssh client']} 51234 {s['ssh server']} 22"
    environ += (
        f"USER={s['ldap user']}\0LOGNAME={s['ldap user']}\0SSH_CONNECTION={ssh_connection}\0"
        f"SSH_CLIENT={s['ssh client v6']} 51234 22\0"
    ).encode()
    (root / "proc/2211/environ").write_bytes(environ)
    argv = (root / "proc/2211/cmdline").read_bytes()
    (root / "proc/2211/cmdline").write_bytes(argv + f"--api-key\0{s['api key']}\0".encode())
    return root


def test_redaction_leaves_no_identifying_value_and_keeps_the_verdicts(
    cli, fixture_copy, tmp_path: Path
) -> None:
    root = _identifying_host(fixture_copy)
    code, original = scan(cli, "--root", str(root))
    tarball = tmp_path / "bug.tar.gz"
    run = cli("snapshot", "--root", str(root), "-o", str(tarball))
    assert run.code == 0, run.err
    assert_absent(tarball, list(SECRETS.values()))
    # and as raw bytes (not only as words), in every form, for every value
    for where, data in all_bytes(tarball):
        for value in [*SECRETS.values(), *OTHER_FORMS]:
            assert value.encode() not in data, f"{value!r} in {where}"

    recording = take(str(root))
    assert recording.redactor is not None
    mapping = recording.redactor.mapping
    assert mapping[SECRETS["hostname"]] == "host-1"
    assert {mapping[SECRETS["user"]], mapping["llm"], mapping[SECRETS["ldap user"]]} == {
        "user-1",
        "user-2",
        "user-3",
    }
    assert set(SECRETS.values()) <= set(mapping)

    replay_code, replayed = scan(cli, "--root", str(tarball))
    assert replay_code == code
    assert comparable(replayed) == comparable(original, recording.redactor)
    assert replayed["host"]["hostname"] == "host-1"
    kfd = next(f for f in replayed["findings"] if f["rule"] == "devices.kfd")
    assert kfd["status"] == "pass" and f"{mapping[SECRETS['user']]} is in render" in json.dumps(
        kfd
    )  # still replays

    with tarfile.open(tarball) as tar:
        top = tar.getnames()[0]
        manifest = json.load(tar.extractfile(f"{top}/.hostcheck/snapshot.json"))  # type: ignore[arg-type]
    replaced = manifest["redaction"]["replaced"]
    for kind in (
        "hostname",
        "user name",
        "full name",
        "machine-id",
        "UUID",
        "MAC address",
        "serial number",
        "secret",
        "short UUID",
        "IPv4 address",
        "IPv6 address",
    ):
        assert replaced[kind]["values"] >= 1, kind
    assert "redacted: " in run.out and "3 user name" in run.out
    # each form of a value became the same form of its token, so the replay still agrees
    with tarfile.open(tarball) as tar:
        dmesg = tar.extractfile(f"{top}/.hostcheck/dmesg.txt").read().decode()  # type: ignore[union-attr]
        cmdline = tar.extractfile(f"{top}/proc/cmdline").read().decode()  # type: ignore[union-attr]
    host, luks = mapping[SECRETS["short hostname"]], mapping[SECRETS["luks uuid"]]
    assert f"rd.lvm.lv=ubuntu_{host}/root" in cmdline and f"luks-{luks}" in cmdline
    assert f"rhel_{_escaped(host)}\\x2droot" in dmesg
    assert f"rhel_{host.replace('-', '--')}-root" in dmesg
    assert f"luks\\x2d{_escaped(luks)}.service" in dmesg
    assert f"enx{mapping[SECRETS['usb nic mac']].replace(':', '')}:" in dmesg
    assert f"nfs: server {mapping[SECRETS['nfs server']]} not" in dmesg
    assert mapping[SECRETS["nfs server"]].startswith("192.0.2.")


def test_no_redact_keeps_the_values(cli, fixture_copy, tmp_path: Path) -> None:
    root = _identifying_host(fixture_copy)
    out = tmp_path / "raw"
    assert cli("snapshot", "--root", str(root), "--no-redact", "-o", str(out)).code == 0
    assert (out / "proc/sys/kernel/hostname").read_text() == SECRETS["hostname"] + "\n"
    assert SECRETS["token"] in (out / "proc/2211/environ").read_text()


def test_a_host_named_after_its_distribution_keeps_its_name(
    cli, fixture_copy, tmp_path: Path
) -> None:
    """`ubuntu` names no one (nor does the cloud image's user `ubuntu`, full name "Ubuntu"),
    and replacing it would change ID=ubuntu, the kernel's "Ubuntu" signature and the verdicts."""
    root = fixture_copy("stock-128g")
    (root / "proc/sys/kernel/hostname").write_text("ubuntu\n")
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write("ubuntu:x:1001:1001:Ubuntu:/home/ubuntu:/bin/bash\n")
    _, original = scan(cli, "--root", str(root))
    out = tmp_path / "snap"
    assert cli("snapshot", "--root", str(root), "-o", str(out)).code == 0
    assert "ID=ubuntu" in (out / "etc/os-release").read_text()
    assert "Ubuntu" in (out / "proc/version_signature").read_text()
    assert "ubuntu:x:1001:1001:Ubuntu:" in (out / "etc/passwd").read_text()
    _, replayed = scan(cli, "--root", str(out))
    assert comparable(replayed) == comparable(original, take(str(root)).redactor)
    manifest = json.loads((out / ".hostcheck/snapshot.json").read_text())
    assert manifest["redaction"]["replaced"]["hostname"]["kept"] == 1
    assert manifest["redaction"]["replaced"]["user name"]["kept"] == 1


# -- the command line ------------------------------------------------------------------------


def test_snapshot_never_overwrites(cli, tmp_path: Path) -> None:
    existing = tmp_path / "old.tar.gz"
    existing.write_bytes(b"keep me")
    run = cli("snapshot", "--fixture", "stock-128g", "-o", str(existing))
    assert run.code == 2 and "already exists; choose a new name" in run.err
    assert existing.read_bytes() == b"keep me"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file").write_text("x")
    run = cli("snapshot", "--fixture", "stock-128g", "-o", str(tmp_path / "dir"))
    assert run.code == 2 and "already exists and is not an empty directory" in run.err


@pytest.mark.parametrize("name", ["out.zip", "out.tar", "out.tar.xz", "OUT.ZIP", "out.tar.bz2"])
def test_an_archive_name_of_another_format_is_refused(cli, tmp_path: Path, name: str) -> None:
    """`-o out.zip` wrote a directory named out.zip."""
    target = tmp_path / name
    run = cli("snapshot", "--fixture", "stock-128g", "-o", str(target))
    assert run.code == 2
    assert "snapshots are written as a .tar.gz or a directory" in run.err
    assert run.err.count("\n") == 1 and not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_default_output_is_a_dated_tarball_here(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = cli("snapshot", "--fixture", "no-amd-gpu")
    assert run.code == 0, run.err
    (made,) = tmp_path.glob("hostcheck-snapshot-*.tar.gz")
    assert re.fullmatch(r"hostcheck-snapshot-\d{8}-\d{6}\.tar\.gz", made.name)
    assert f"replay: hostcheck scan --root {made.name}" in run.out
    assert cli("scan", "--root", made.name).code == 1


def test_scan_of_a_tarball_removes_its_private_copy(cli, tmp_path: Path, monkeypatch) -> None:
    tarball = tmp_path / "s.tar.gz"
    python = ["--python", "/opt/vllm/bin/python3"]
    assert cli("snapshot", "--fixture", "tuned-ready", *python, "-o", str(tarball)).code == 0
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert cli("scan", "--root", str(tarball), *python).code == 0
    assert list(private.iterdir()) == []


# -- untrusted archives ----------------------------------------------------------------------


def _tarball(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


def _base() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [
        (_member("snap", tarfile.DIRTYPE), None),
        (_member("snap/proc/cmdline"), b"ro quiet\n"),
    ]


MALICIOUS = {
    "traversal": ([(_member("snap/../../escaped"), b"x")], "climbs out of the archive with '..'"),
    "absolute": ([(_member("/tmp/hostcheck-abs-escape"), b"x")], "has an absolute path"),
    "symlink out": (
        [(_member("snap/etc", tarfile.SYMTYPE, "../../../../etc"), None)],
        "symbolic link 'snap/etc' points outside the snapshot",
    ),
    "absolute symlink": (
        [(_member("snap/passwd", tarfile.SYMTYPE, "/etc/passwd"), None)],
        "symbolic link 'snap/passwd' points outside the snapshot ('/etc/passwd')",
    ),
    "through a symlink": (
        [
            (_member("snap/here", tarfile.SYMTYPE, "."), None),
            (_member("snap/here/file"), b"x"),
        ],
        "lies below the symbolic link 'snap/here'",
    ),
    "hardlink out": (
        [(_member("snap/shadow", tarfile.LNKTYPE, "/etc/shadow"), None)],
        "hard link 'snap/shadow' points outside the snapshot",
    ),
    "hardlink up": (
        [(_member("snap/shadow", tarfile.LNKTYPE, "../etc/shadow"), None)],
        "hard link 'snap/shadow' points outside the snapshot",
    ),
    "device": (
        [(_member("snap/dev/kfd", tarfile.CHRTYPE), None)],
        "member 'snap/dev/kfd' is a device node",
    ),
    "fifo": ([(_member("snap/sys/hang", tarfile.FIFOTYPE), None)], "is a FIFO"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archive_is_refused_with_one_line(cli, tmp_path: Path, case: str) -> None:
    members, message = MALICIOUS[case]
    archive = _tarball(tmp_path / f"{case}.tar.gz", _base() + members)
    run = cli("scan", "--root", str(archive))
    assert run.code == 2, run.out
    assert run.err.startswith(f"hostcheck: error: --root {archive}: ")
    assert message in run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert not (tmp_path.parent / "escaped").exists()
    assert not Path("/tmp/hostcheck-abs-escape").exists()


@pytest.fixture
def tarfile_of_python_3_11_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """tarfile as Debian 12's Python 3.11.2 has it: no extraction filters, no FilterError, and
    extract() refuses the ``filter`` argument."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.delattr(tarfile, "FilterError", raising=False)
    original = tarfile.TarFile.extract

    def extract_3_11_2(self, member, path="", set_attrs=True, *, numeric_owner=False):  # type: ignore[no-untyped-def]
        return original(self, member, path, set_attrs, numeric_owner=numeric_owner)

    monkeypatch.setattr(tarfile.TarFile, "extract", extract_3_11_2)


def test_a_snapshot_is_read_by_python_3_11_2(cli, tmp_path: Path, tarfile_of_python_3_11_2) -> None:
    """Debian 12's own python3 scanned a tarball with exit 3 (filter="data" is 3.11.4's)."""
    snapshot = tmp_path / "snap.tar.gz"
    assert cli("snapshot", "--fixture", "stock-128g", "-o", str(snapshot)).code == 0
    run = cli("scan", "--root", str(snapshot), "--format", "json")
    assert run.code == 1, run.err
    direct = cli("scan", "--fixture", "stock-128g", "--format", "json")
    assert [f["status"] for f in run.json()["findings"]] == [
        f["status"] for f in direct.json()["findings"]
    ]


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archive_is_refused_without_extraction_filters(
    cli, tmp_path: Path, case: str, tarfile_of_python_3_11_2
) -> None:
    members, message = MALICIOUS[case]
    archive = _tarball(tmp_path / f"{case}.tar.gz", _base() + members)
    run = cli("scan", "--root", str(archive))
    assert run.code == 2, run.out + run.err
    assert message in run.err and run.err.count("\n") == 1
    assert not (tmp_path.parent / "escaped").exists()
    assert not Path("/tmp/hostcheck-abs-escape").exists()


def test_oversized_member_is_refused_before_it_is_read(cli, tmp_path: Path) -> None:
    """A header that claims a terabyte: refused on its size, nothing is unpacked."""
    info = _member("snap/proc/meminfo")
    info.size = 1 << 40
    header = info.tobuf(tarfile.PAX_FORMAT)
    archive = tmp_path / "huge.tar.gz"
    archive.write_bytes(gzip.compress(header + b"\0" * 512))
    run = cli("scan", "--root", str(archive))
    assert run.code == 2
    assert "member 'snap/proc/meminfo' is 1099511627776 bytes, larger than" in run.err


def test_oversized_total_and_too_many_members_are_refused(tmp_path: Path) -> None:
    members = _base() + [(_member(f"snap/sys/f{i}"), b"x" * 400) for i in range(5)]
    archive = _tarball(tmp_path / "many.tar.gz", members)
    with pytest.raises(ArchiveError, match="unpacks to more than 1000 bytes"):
        extract(str(archive), str(tmp_path / "a"), max_total=1000)
    with pytest.raises(ArchiveError, match="more than 4 members"):
        extract(str(archive), str(tmp_path / "b"), max_members=4)
    assert Path(extract(str(archive), str(tmp_path / "c"))).name == "snap"  # within the limits


@pytest.mark.parametrize(
    "damage",
    ["truncated", "first 100 bytes", "first 10 bytes", "corrupt", "not an archive", "empty"],
)
def test_damaged_archive_is_refused_with_one_line(cli, tmp_path: Path, damage: str) -> None:
    good = tmp_path / "good.tar.gz"
    assert cli("snapshot", "--fixture", "stock-128g", "-o", str(good)).code == 0
    data = good.read_bytes()
    bad = tmp_path / "bad.tar.gz"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage.startswith("first "):
        bad.write_bytes(data[: int(damage.split()[1])])  # cut inside the first header
    elif damage == "corrupt":
        middle = len(data) // 2
        bad.write_bytes(
            data[:middle]
            + bytes(b ^ 0xFF for b in data[middle : middle + 64])
            + data[middle + 64 :]
        )
    elif damage == "not an archive":
        bad.write_text("this is a screenshot of a terminal, not a snapshot\n")
    else:
        bad.write_bytes(b"")
    run = cli("scan", "--root", str(bad))
    assert run.code == 2, run.out
    assert run.err.startswith(f"hostcheck: error: --root {bad}: ")
    expected_text = (
        "the archive is empty"
        if damage == "empty"
        else "not a directory, and not a snapshot tarball"
        if damage == "not an archive"
        else "truncated or corrupt archive"
    )
    assert expected_text in run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err


def test_a_snapshot_of_a_snapshot_is_the_same_snapshot(cli, tmp_path: Path) -> None:
    """Recording a snapshot reads back exactly what it holds (tokens stay tokens)."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli("snapshot", "--fixture", "rocm5444-carveout96", "-o", str(first)).code == 0
    assert cli("snapshot", "--root", str(first), "-o", str(second)).code == 0
    own = {".hostcheck/about.txt", ".hostcheck/snapshot.json"}  # time of taking

    def tree(root: Path) -> dict[str, bytes | str]:
        return {
            str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else p.read_bytes()
            for p in root.rglob("*")
            if (p.is_file() or p.is_symlink()) and str(p.relative_to(root)) not in own
        }

    assert tree(first) == tree(second)
    assert len(tree(first)) > 20


@pytest.mark.parametrize(
    ("layout", "compression"),
    [
        ("one top directory", "z"),
        ("members at the top", "z"),
        ("one top directory", ""),
        ("one top directory", "bz2"),
        ("one top directory", "xz"),
    ],
)
def test_a_tree_packed_with_tar_is_read_too(
    cli, tmp_path: Path, layout: str, compression: str
) -> None:
    """A fixture or snapshot directory packed by hand with GNU tar (gzip or not compressed) or
    another tool (bzip2, xz: here Python's, as CI may lack the programs) replays like the tree."""
    import subprocess

    archive = tmp_path / "packed.tar"
    if compression in ("bz2", "xz"):
        with tarfile.open(archive, f"w:{compression}") as tar:
            tar.add(FIXTURES / "stock-128g", arcname="stock-128g")
    else:
        if layout == "one top directory":
            source = ["-C", str(FIXTURES), "stock-128g"]
        else:
            source = ["-C", str(FIXTURES / "stock-128g"), "."]
        subprocess.run(["tar", f"c{compression}f", str(archive), *source], check=True)
    _, original = scan(cli, "--fixture", "stock-128g")
    code, replayed = scan(cli, "--root", str(archive))
    assert code == 1 and comparable(replayed) == comparable(original)


def test_links_that_lead_out_only_together_are_refused(cli, tmp_path: Path, monkeypatch) -> None:
    """Each link passes a check of its text; unpacked, `.hostcheck` leads outside the private
    directory (zz/b is the unpacked root, and ../../tmp/secret two levels above it), where a
    replay would read devices.json and unreadable.json. Refused after unpacking."""
    work = tmp_path / "work"  # the private directory is made here: work/hostcheck-snapshot-*
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    secret = tmp_path / "tmp" / "secret"  # what work/hostcheck-snapshot-*/../../tmp/secret names
    secret.mkdir(parents=True)
    (secret / "unreadable.json").write_text(
        json.dumps({"/proc/cmdline": {"reason": "permission", "source": "x", "detail": "planted"}})
    )
    members = [
        (_member("top", tarfile.DIRTYPE), None),
        (_member("top/proc/cmdline"), b"ro quiet\n"),
        (_member("top/.hostcheck", tarfile.SYMTYPE, "zz/b/../../tmp/secret"), None),
        (_member("top/zz", tarfile.DIRTYPE), None),
        (_member("top/zz/b", tarfile.SYMTYPE, "../.."), None),
    ]
    archive = _tarball(tmp_path / "combined.tar.gz", members)
    run = cli("scan", "--root", str(archive))
    assert run.code == 2, run.out
    assert "symbolic link 'top/.hostcheck' points outside the snapshot" in run.err
    assert run.err.count("\n") == 1 and "planted" not in run.out
    assert list(work.iterdir()) == []  # the private copy is gone
    with pytest.raises(ArchiveError, match="points outside the snapshot"):
        extract(str(archive), str(work / "direct"))


def test_recorded_data_is_read_inside_the_root_only(tmp_path: Path) -> None:
    """A snapshot directory whose .hostcheck is a link out of it: the Host resolves it inside
    the root, as every host path, and reads nothing from outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "unreadable.json").write_text(
        json.dumps({"/proc/cmdline": {"reason": "permission", "source": "x", "detail": "planted"}})
    )
    (outside / "devices.json").write_text(
        json.dumps({"/dev/kfd": {"type": "char", "mode": "0666", "uid": 0, "rdev": "510:0"}})
    )
    (outside / "commands").mkdir()
    (outside / "commands" / "rocminfo.txt").write_text("planted\n")
    root = tmp_path / "snap"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cmdline").write_text("ro quiet\n")
    os.symlink("../outside", root / ".hostcheck")
    host = Host(root)
    assert host.read_text("/proc/cmdline") == Value("ro quiet\n", "/proc/cmdline")
    kfd = host.stat("/dev/kfd")
    assert isinstance(kfd, Unavailable) and kfd.reason is Reason.MISSING
    assert not host.has_recorded_command("rocminfo")
    assert isinstance(host.run("rocminfo", ["rocminfo"]), Unavailable)


def _pax_bomb(path: Path, header_bytes: int, members: int = 1) -> Path:
    """A gzip tarball whose members each carry a PAX comment of ``header_bytes``, written in
    chunks (the archive is small; only a reader that keeps the header whole needs the memory)."""
    with gzip.open(path, "wb", compresslevel=1) as out:
        for i in range(members):
            key = b" comment="
            length = len(key) + header_bytes + 1
            length += len(str(length + len(str(length))))
            record_head = str(length).encode() + key
            pax = tarfile.TarInfo(f"snap/PaxHeaders/f{i}")
            pax.type = tarfile.XHDTYPE
            pax.size = length
            out.write(pax.tobuf(tarfile.USTAR_FORMAT))
            out.write(record_head)
            chunk = b"x" * (1 << 20)
            left = header_bytes
            while left:
                out.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
            out.write(b"\n" + b"\0" * (-length % tarfile.BLOCKSIZE))
            member = tarfile.TarInfo(f"snap/f{i}")
            member.size = 1
            out.write(member.tobuf(tarfile.USTAR_FORMAT) + b"y" + b"\0" * 511)
        out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    return path


def test_a_pax_header_bomb_is_refused_without_the_memory(cli, tmp_path: Path) -> None:
    """A small tarball declaring a 16 MiB PAX header: refused before the header is read, so
    reading it costs nothing near 16 MiB."""
    import tracemalloc

    archive = _pax_bomb(tmp_path / "bomb.tar.gz", 16 << 20)
    assert archive.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=r"header .* is larger than the 1048576 bytes"):
            extract(str(archive), str(tmp_path / "a"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak} bytes used"
    run = cli("scan", "--root", str(archive))
    assert run.code == 2 and "is larger than the 1048576 bytes a snapshot header" in run.err
    assert run.err.count("\n") == 1
    # within the limits, the same layout unpacks (PAX comments are legitimate)
    small = _pax_bomb(tmp_path / "fine.tar.gz", 1000)
    assert Path(extract(str(small), str(tmp_path / "b"))).name == "snap"
    with pytest.raises(ArchiveError, match="larger than the 999 bytes"):
        extract(str(small), str(tmp_path / "c"), max_header=999)


def test_the_decompressed_stream_is_bounded_with_its_headers(tmp_path: Path) -> None:
    """Many headers each under the limit still add up: the whole decompressed stream counts,
    not only the members' declared sizes (which are 1 byte each here)."""
    archive = _pax_bomb(tmp_path / "many.tar.gz", 30_000, members=20)
    with pytest.raises(ArchiveError, match="unpacks to more than 200000 bytes"):
        extract(str(archive), str(tmp_path / "a"), max_stream=200_000)
    assert Path(extract(str(archive), str(tmp_path / "b"), max_stream=1_000_000)).name == "snap"


HOOK = """
import pathlib, sys, time
import importlib

module_name, attribute, ready = sys.argv[1:4]
module = importlib.import_module(module_name)
original = getattr(module, attribute)

def slow(*args, **kwargs):
    result = original(*args, **kwargs)
    pathlib.Path(ready).write_text("ready")
    time.sleep(60)
    return result

setattr(module, attribute, slow)
from hostcheck.cli.main import main
sys.exit(main(sys.argv[4:]))
"""


def _signalled(tmp_path: Path, hook: str, signum: int, *args: str) -> tuple[int, Path]:
    """Run hostcheck ARGS in a child whose ``hook`` (module:function) stalls once it has done
    its work; send ``signum`` then. Returns the exit status and the child's TMPDIR."""
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    private = tmp_path / "tmpdir"
    private.mkdir()
    ready = tmp_path / "ready"
    module, attribute = hook.split(":")
    env = {**os.environ, "TMPDIR": str(private)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOOK, module, attribute, str(ready), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never got there"
            time.sleep(0.05)
        child.send_signal(signum)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, private


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_terminated_replay_removes_its_private_copy(tmp_path: Path, signame: str) -> None:
    import signal

    tarball = tmp_path / "s.tar.gz"
    assert run_subprocess("snapshot", "--fixture", "stock-128g", "-o", str(tarball)).code == 0
    signum = getattr(signal, signame)
    code, private = _signalled(
        tmp_path, "hostcheck.snapshot.archive:extract", signum, "scan", "--root", str(tarball)
    )
    assert code == 128 + signum
    assert list(private.iterdir()) == []  # no hostcheck-snapshot-* left behind


def test_a_terminated_snapshot_leaves_nothing(tmp_path: Path) -> None:
    """SIGTERM once the tree is written, before it is in place: no output, no staging copy."""
    import signal

    out = tmp_path / "out"
    code, private = _signalled(
        tmp_path, "hostcheck.snapshot:write_plan", signal.SIGTERM, "snapshot",
        "--fixture", "stock-128g", "-o", str(out),
    )  # fmt: skip
    assert code == 128 + signal.SIGTERM
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready", "tmpdir"]
    assert list(private.iterdir()) == []


def test_a_signal_during_cleanup_waits_for_it() -> None:
    """A second SIGTERM while the private copy is being removed: the removal finishes, then
    the program ends as the signal asks; outside, the old handler is back."""
    import signal

    from hostcheck.snapshot.termination import Terminated, exit_on_termination

    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with (
        pytest.raises(Terminated) as ended,
        exit_on_termination() as termination,
        termination.held(),
    ):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes: it has run by now
            pass
        cleaned.append(True)
    assert cleaned == [True] and ended.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("output", ["new directory", "empty directory", "tarball"])
def test_an_interrupted_snapshot_is_not_left_half_written(
    cli, tmp_path: Path, monkeypatch, output: str
) -> None:
    """Ctrl-C in the middle of `snapshot -o DIR|FILE`: nothing at DIR (or the empty directory
    that was there), no tarball, and no temporary sibling or staging copy."""
    import hostcheck.snapshot

    original = hostcheck.snapshot.write_plan

    def interrupted(*args: Any, **kwargs: Any) -> int:
        original(*args, **kwargs)  # files written, the records and manifest not yet
        raise KeyboardInterrupt

    monkeypatch.setattr(hostcheck.snapshot, "write_plan", interrupted)
    staging = tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    out = tmp_path / "parent" / ("snap.tar.gz" if output == "tarball" else "snap")
    out.parent.mkdir()
    if output == "empty directory":
        out.mkdir()
    run = cli("snapshot", "--fixture", "stock-128g", "-o", str(out))
    assert run.code == 130 and "interrupted" in run.err
    if output == "empty directory":
        assert out.is_dir() and list(out.iterdir()) == []
        assert list(out.parent.iterdir()) == [out]
    else:
        assert not out.exists()
        assert list(out.parent.iterdir()) == []
    assert list(staging.iterdir()) == []
    monkeypatch.setattr(hostcheck.snapshot, "write_plan", original)
    run = cli("snapshot", "--fixture", "stock-128g", "-o", str(out))
    assert run.code == 0, run.err
    assert out.is_file() if output == "tarball" else (out / ".hostcheck/snapshot.json").is_file()
    assert list(out.parent.iterdir()) == [out] and list(staging.iterdir()) == []


@pytest.mark.parametrize("kind", ["directory", "tarball"])
def test_a_snapshot_is_private_to_its_owner(cli, tmp_path: Path, kind: str) -> None:
    """Process environments hold credentials (every one of them under --no-redact): the
    snapshot is 0700 with files 0600 whatever the umask, and so is a tarball and its members."""
    old = os.umask(0o022)
    try:
        out = tmp_path / ("snap" if kind == "directory" else "snap.tar.gz")
        run = cli("snapshot", "--fixture", "stock-128g", "--no-redact", "-o", str(out))
    finally:
        os.umask(old)
    assert run.code == 0, run.err
    if kind == "tarball":
        assert out.stat().st_mode & 0o777 == 0o600
        with tarfile.open(out) as tar:
            modes = {m.name: m.mode for m in tar if not m.issym()}
        assert {mode for name, mode in modes.items() if name.endswith("/environ")} == {0o600}
        assert set(modes.values()) == {0o700, 0o600}
        return
    assert out.stat().st_mode & 0o777 == 0o700
    files = dirs = 0
    for dirpath, dirnames, filenames in os.walk(out):
        for name in dirnames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                assert path.stat().st_mode & 0o777 == 0o700, path
                dirs += 1
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                assert path.stat().st_mode & 0o777 == 0o600, path
                files += 1
    assert files > 10 and dirs > 5
    assert (out / "proc/2211/environ").stat().st_mode & 0o777 == 0o600
