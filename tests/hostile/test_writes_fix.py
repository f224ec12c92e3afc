"""Hostile trees and faults for `hostcheck fix`'s writes (issue 18, write half): a planted lock
link, unreadable modprobe.d files, full and read-only file systems, a kill inside the atomic
replace, damaged journals. Everything runs on copies of fixture trees."""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fix.test_fix import hc, snapshot

JOURNAL_DIR = "var/lib/hostcheck/fix"


# --- item 2: a planted lock link --------------------------------------------------------------


@pytest.mark.parametrize("action", [["--apply", "--yes"], ["--undo"], ["--resume"]])
def test_a_planted_lock_link_is_refused_and_never_followed(fixture_copy, tmp_path, action) -> None:
    root = fixture_copy("stock-128g")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / JOURNAL_DIR).mkdir(parents=True)
    (root / JOURNAL_DIR / "lock").symlink_to(outside / "nologin")
    before = snapshot(root)
    run = hc("fix", "--root", str(root), *action)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("hostcheck: error: ")
    assert f"{root.resolve()}/{JOURNAL_DIR}/lock is a symbolic link" in run.stderr
    assert list(outside.iterdir()) == []  # nothing created through the link
    assert snapshot(root) == before


def test_a_lock_link_to_an_existing_file_leaves_it_untouched(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me\n")
    victim.chmod(0o644)
    (root / JOURNAL_DIR).mkdir(parents=True)
    (root / JOURNAL_DIR / "lock").symlink_to(victim)
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2, run.stderr
    assert victim.read_bytes() == b"keep me\n" and (victim.stat().st_mode & 0o777) == 0o644
    assert not list((root / JOURNAL_DIR).glob("*.json"))  # no transaction began


def test_a_link_in_the_journal_path_is_refused_at_the_first_link(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "var/lib/hostcheck").mkdir(parents=True)
    (root / "var/lib/hostcheck/fix").symlink_to(outside)
    for action in (["--apply", "--yes"], ["--undo"], ["--resume"]):
        run = hc("fix", "--root", str(root), *action)
        assert run.returncode == 2, run.stderr
        assert "var/lib/hostcheck/fix is a symbolic link" in run.stderr
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "action", [["--undo"], ["--resume"], ["--undo", "20260101T000000.000000Z-abcd"]]
)
def test_a_refused_undo_or_resume_creates_nothing_in_the_tree(fixture_copy, action) -> None:
    root = fixture_copy("stock-128g")
    before = snapshot(root)
    run = hc("fix", "--root", str(root), *action)
    assert run.returncode == 2, run.stderr
    assert "no transaction" in run.stderr or "no interrupted transaction" in run.stderr
    assert not (root / "var/lib/hostcheck").exists()  # no journal directory, no lock
    assert snapshot(root) == before


# --- item 10: an unreadable modprobe.d file stops a plan that touches module parameters -----


def _unreadable(root: Path, items: dict[str, tuple[str, str]]) -> None:
    """Mark host paths as a snapshot saw them: unreadable, with a reason and detail."""
    record = {
        path: {"reason": reason, "source": path, "detail": detail}
        for path, (reason, detail) in items.items()
    }
    (root / ".hostcheck/unreadable.json").write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("reason", "detail"),
    [
        ("permission", "Permission denied"),
        ("error", "Input/output error"),
        ("timeout", "read took over 2 s"),
    ],
)
def test_an_unreadable_modprobe_d_file_refuses_the_plan(fixture_copy, reason, detail) -> None:
    """rocm5590-mes-hang needs amdgpu.cwsr_enable=0; a local file sets cwsr_enable=1."""
    root = fixture_copy("rocm5590-mes-hang")
    conf = root / "etc/modprobe.d/amdgpu-local.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("options amdgpu cwsr_enable=1\n")
    # Readable, the plan puts the option in modprobe.d, read after that file, so ours wins.
    readable = hc("fix", "--root", str(root))
    assert readable.returncode == 0, readable.stderr
    assert "+options amdgpu cwsr_enable=0" in readable.stdout
    _unreadable(root, {"/etc/modprobe.d/amdgpu-local.conf": (reason, detail)})
    before = snapshot(root)
    for action in ([], ["--apply", "--yes"]):
        run = hc("fix", "--root", str(root), *action)
        assert run.returncode == 2, run.stdout + run.stderr
        assert run.stderr.count("\n") == 1
        assert (
            f"cannot plan module options: /etc/modprobe.d/amdgpu-local.conf: {reason} ({detail})"
            in run.stderr
        )
        assert "cwsr_enable" not in run.stdout  # no plan shown
    assert snapshot(root) == before


def test_an_unlistable_modprobe_d_directory_refuses_the_plan(fixture_copy) -> None:
    root = fixture_copy("rocm5590-mes-hang")
    (root / "etc/modprobe.d").mkdir(parents=True)
    _unreadable(root, {"/etc/modprobe.d": ("permission", "Permission denied")})
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 2
    assert "cannot plan module options: /etc/modprobe.d: permission" in run.stderr
    assert not (root / "etc/default/grub.d/99-hostcheck.cfg").exists()


def test_a_plan_without_module_parameters_ignores_an_unreadable_modprobe_d_file(
    fixture_copy,
) -> None:
    root = fixture_copy("stock-128g")
    conf = root / "etc/modprobe.d/other.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("options snd_hda_intel power_save=0\n")
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    _unreadable(root, {"/etc/modprobe.d/other.conf": ("permission", "Permission denied")})
    run = hc("fix", "--root", str(root), "--only", "sysctl.numa-balancing")
    assert run.returncode == 0, run.stderr
    assert "+kernel.numa_balancing = 0" in run.stdout


# --- item 12: a full disk or a read-only /etc during apply -------------------------------------


def _namespaces_work() -> str | None:
    """Why real faults cannot be staged here (a private mount namespace is needed), or None."""
    if os.geteuid() != 0:
        return "needs root for a private mount namespace (unshare -m)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"mounting in a private namespace is not permitted: {probe.stderr.strip()}"
    return None


def _in_namespace(setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`setup` (mounts), then `hostcheck ARGS…`, inside a private mount namespace: the
    mounts vanish with it, and nothing outside the copy is touched."""
    command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "hostcheck", *args))
    return subprocess.run(
        ["unshare", "-m", "sh", "-euc", f"{setup}\nexec {command}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(Path(__file__).resolve().parents[2]),
    )


_FULL = "mount -t tmpfs -o size=4k tmpfs {d} && head -c 4096 /dev/zero > {d}/filler"
_READ_ONLY = "mount --bind {d} {d} && mount -o remount,bind,ro {d}"


@pytest.fixture
def faults() -> None:
    why = _namespaces_work()
    if why:
        pytest.skip(why)


@pytest.mark.parametrize(
    ("fault", "message"),
    [(_FULL, "No space left on device"), (_READ_ONLY, "Read-only file system")],
)
def test_a_write_that_fails_mid_transaction_exits_1_with_the_hint_and_undoes_truthfully(
    faults, fixture_copy, fault, message
) -> None:
    """Step 1 (the GRUB drop-in) is written; step 2 (/etc/sysctl.d) meets the fault."""
    root = fixture_copy("stock-128g")
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    sysctl_d = root / "etc/sysctl.d"
    sysctl_d.mkdir(parents=True, exist_ok=True)
    before = snapshot(root)
    run = _in_namespace(fault.format(d=sysctl_d), "fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 1, run.stderr
    (line,) = run.stderr.splitlines()
    assert f"cannot write {root}/etc/sysctl.d/zz-hostcheck.conf: {message}" in line
    (journal,) = (root / JOURNAL_DIR).glob("*.json")
    tx = journal.stem
    assert f"`hostcheck fix --resume`, or roll back with `hostcheck fix --undo {tx}`" in line
    record = json.loads(journal.read_text())
    assert record["state"] == "started"
    assert [s["done"] for s in record["steps"]] == [True, False, False, False]
    assert (root / "etc/default/grub.d/99-hostcheck.cfg").exists()
    assert not (sysctl_d / "zz-hostcheck.conf").exists()
    assert [p.name for p in sysctl_d.iterdir()] == []  # no temporary file either
    undone = hc("fix", "--root", str(root), "--undo", tx)
    assert undone.returncode == 0, undone.stderr
    assert f"removed {root}/etc/default/grub.d/99-hostcheck.cfg" in undone.stdout
    assert "sysctl.d" not in undone.stdout  # never written: not reported as removed
    assert snapshot(root) == before


def test_resume_after_the_disk_was_freed_completes_the_transaction(faults, fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    sysctl_d = root / "etc/sysctl.d"
    sysctl_d.mkdir(parents=True, exist_ok=True)
    run = _in_namespace(_FULL.format(d=sysctl_d), "fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 1, run.stderr
    resumed = hc("fix", "--root", str(root), "--resume")  # outside: the disk has room again
    assert resumed.returncode == 0, resumed.stderr
    assert "+kernel.numa_balancing = 0" not in resumed.stdout
    assert (sysctl_d / "zz-hostcheck.conf").read_text().count("kernel.numa_balancing = 0") == 1
    (journal,) = (root / JOURNAL_DIR).glob("*.json")
    assert json.loads(journal.read_text())["state"] == "complete"


def test_a_journal_that_cannot_be_written_changes_nothing_and_exits_1(faults, fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    journal = root / JOURNAL_DIR
    journal.mkdir(parents=True)
    before = snapshot(root)
    # Room for the lock file (no data), none for the journal's bytes.
    setup = (
        f"mount -t tmpfs -o size=4k tmpfs {journal} && head -c 4096 /dev/zero > {journal}/filler"
    )
    run = _in_namespace(setup, "fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 1, run.stderr
    assert run.stderr == (
        f"hostcheck: error: cannot write the journal in {journal.resolve()}: No space left on "
        "device; nothing was changed\n"
    )
    assert snapshot(root) == before


# --- item 14: a kill inside the atomic replace ------------------------------------------------


@pytest.mark.parametrize("then", ["--undo", "--resume"])
def test_a_kill_inside_the_replace_leaves_no_temporary_file_after_undo_or_resume(
    fixture_copy, then
) -> None:
    root = fixture_copy("stock-128g")
    grub_d = root / "etc/default/grub.d"
    before = snapshot(root)
    env = {**os.environ, "HOSTCHECK_TEST_KILL_IN_WRITE": "1"}
    killed = hc("fix", "--root", str(root), "--apply", "--yes", env=env)
    assert killed.returncode == -9  # really killed (SIGKILL), after the temp file was written
    (left,) = grub_d.glob(".99-hostcheck.cfg.*")
    assert left.name.endswith(".hostcheck.tmp")
    assert not (grub_d / "99-hostcheck.cfg").exists()
    done = hc("fix", "--root", str(root), then)
    assert done.returncode == 0, done.stderr
    assert (
        f"removed {root}/etc/default/grub.d/{left.name} (left by an interrupted write)"
        in done.stdout
    )
    assert not list(grub_d.glob(".99-hostcheck.cfg.*"))
    if then == "--undo":
        assert snapshot(root) == before
    else:
        assert (grub_d / "99-hostcheck.cfg").is_file()


def test_a_kill_while_saving_the_journal_leaves_no_temporary_journal(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    journal = root / JOURNAL_DIR
    journal.mkdir(parents=True)
    stale = journal / ".20260101T000000.000000Z-abcd.json.x1y2z3.hostcheck.tmp"
    stale.write_text("{")
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 0, run.stderr
    assert not stale.exists()
    assert not [p.name for p in journal.iterdir() if p.name.startswith(".")]


# --- damaged journals: a refusal naming the file, never a crash ------------------------------

BAD_ID = "20270101T000000.000000Z-beef"


def _drop(key: str):
    return lambda r: r.pop(key)


def _files(key: str, value: object):
    return lambda r: r["files"][0].__setitem__(key, value)


def _step(index: int, key: str, value: object):
    return lambda r: r["steps"][index].__setitem__(key, value)


def _drop_step_key(index: int, key: str):
    return lambda r: r["steps"][index].pop(key)


DAMAGE = {
    "not an object": lambda r: r.clear() or r.update({"x": [1]}),
    "schema_version true": lambda r: r.__setitem__("schema_version", True),
    "unknown state": lambda r: r.__setitem__("state", "exploded"),
    "created_ns a string": lambda r: r.__setitem__("created_ns", "1796600000000000000"),
    "created_ns negative": lambda r: r.__setitem__("created_ns", -1),
    "created missing": _drop("created"),
    "rules with a number": lambda r: r.__setitem__("rules", ["memory.gtt", 5]),
    "file path missing": lambda r: r["files"][0].pop("path"),
    "file path with NUL": _files("path", "/etc/default/grub.d/x\x00y"),
    "file path a directory": _files("path", "/etc/default/grub.d/.."),
    "after_b64 not base64": _files("after_b64", "@@not base64@@"),
    "before_b64 not base64": _files("before_b64", "!!"),
    "after_sha256 wrong": _files("after_sha256", "0" * 64),
    "after_sha256 a number": _files("after_sha256", 5),
    "mode a string": _files("mode", "0644"),
    "mode out of range": _files("mode", 0o170000),
    "mode true": _files("mode", True),
    "uid negative": _files("uid", -1),
    "gid huge": _files("gid", 2**64),
    "absent file with original bytes": _files("before_b64", "aGk="),
    "file listed twice": lambda r: r["files"].append(dict(r["files"][0])),
    "write step path missing": _drop_step_key(0, "path"),
    "write step for an unknown file": _step(0, "path", "/etc/sysctl.d/other.conf"),
    "write step path a list": _step(0, "path", ["/etc/sysctl.d/zz-hostcheck.conf"]),
    "command argv with a number": _step(2, "argv", ["update-grub", 1]),
    "step done a string": _step(0, "done", "yes"),
    "command argv empty": _step(2, "argv", []),
    "command why missing": _drop_step_key(2, "why"),
    "command run missing": _drop_step_key(2, "run"),
    "undo_argv a string": _step(2, "undo_argv", "update-grub"),
    "steps not a list": lambda r: r.__setitem__("steps", {"0": 1}),
    "created_dirs with a number": lambda r: r.__setitem__("created_dirs", [1]),
    "undo_pending a string": lambda r: r.__setitem__("undo_pending", "update-grub"),
}


@pytest.fixture(scope="module")
def applied_template(tmp_path_factory) -> Path:
    """stock-128g after one complete transaction: 2 files, update-grub and sysctl -w."""
    from tests.conftest import FIXTURES

    root = tmp_path_factory.mktemp("journal") / "stock-128g"
    shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
    (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
    run = hc("fix", "--root", str(root), "--apply", "--yes")
    assert run.returncode == 0, run.stderr
    return root


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_journal_is_a_refusal_naming_it(cli, applied_template, tmp_path, damage) -> None:
    root = tmp_path / "tree"
    shutil.copytree(applied_template, root, symlinks=True)
    journal = root / JOURNAL_DIR
    (good,) = journal.glob("*.json")
    record = json.loads(good.read_text())
    assert len(record["files"]) == 2 and len(record["steps"]) == 4
    record["id"] = BAD_ID
    DAMAGE[damage](record)
    bad = journal / f"{BAD_ID}.json"
    bad.write_text(json.dumps(record))
    before = snapshot(root)
    history = cli("fix", "--root", str(root), "--history")
    assert history.code == 2
    assert good.stem in history.out  # the good transaction is still listed
    assert history.err.startswith(f"hostcheck: error: journal {bad}")
    assert history.err.count("\n") == 1
    for action in (["--undo"], ["--undo", good.stem], ["--resume"], ["--apply", "--yes"]):
        run = cli("fix", "--root", str(root), *action)
        assert run.code == 2, (action, run.err)
        assert run.err.startswith(f"hostcheck: error: journal {bad}"), (action, run.err)
        assert "internal error" not in run.err and "Traceback" not in run.err
    assert snapshot(root) == before


@pytest.mark.parametrize(
    "text", ["", "{", "[" * 100_000, '{"schema_version": 1, "id": NaN}', "\xff\xfe"]
)
def test_a_journal_that_is_not_json_is_a_refusal_naming_it(
    cli, applied_template, tmp_path, text
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(applied_template, root, symlinks=True)
    bad = root / JOURNAL_DIR / f"{BAD_ID}.json"
    bad.write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    history = cli("fix", "--root", str(root), "--history")
    assert history.code == 2
    assert history.err.startswith(f"hostcheck: error: journal {bad}")
    assert history.err.count("\n") == 1
    run = cli("fix", "--root", str(root), "--undo")
    assert run.code == 2 and run.err.startswith(f"hostcheck: error: journal {bad}")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a copy to another user (setpriv)")
def test_permission_denied_mid_transaction_exits_1_with_the_hint() -> None:
    """An unprivileged user owns the copy, except /etc/sysctl.d (root's, 0755): the GRUB
    drop-in is written, the sysctl drop-in is refused with EACCES."""
    import tempfile

    from tests.conftest import FIXTURES

    base = Path(tempfile.mkdtemp(prefix="hostcheck-eacces-", dir="/tmp"))
    try:
        base.chmod(0o755)
        root = base / "stock-128g"
        shutil.copytree(FIXTURES / "stock-128g", root, symlinks=True)
        (root / "proc/sys/kernel/numa_balancing").write_text("1\n")
        (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
        for path in [root, *root.rglob("*")]:
            if not path.is_relative_to(root / "etc/sysctl.d"):
                os.lchown(path, 65534, 65534)
        before = snapshot(root)
        run = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             sys.executable, "-m", "hostcheck", "fix", "--root", str(root), "--apply", "--yes"],
            capture_output=True, text=True, timeout=120, cwd="/",
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )  # fmt: skip
        assert run.returncode == 1, run.stderr
        assert (
            f"cannot write {root}/etc/sysctl.d/zz-hostcheck.conf: Permission denied" in run.stderr
        )
        assert "hostcheck fix --undo 20" in run.stderr and "--resume" in run.stderr
        undone = hc("fix", "--root", str(root), "--undo")
        assert undone.returncode == 0, undone.stderr
        assert "sysctl.d" not in undone.stdout
        assert snapshot(root) == before
    finally:
        shutil.rmtree(base)


def test_history_does_not_read_a_journal_through_a_link(fixture_copy, tmp_path) -> None:
    root = fixture_copy("stock-128g")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(fixture_copy("stock-128g"), elsewhere, symlinks=True)
    assert hc("fix", "--root", str(elsewhere), "--apply", "--yes").returncode == 0
    (root / "var/lib").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/hostcheck").symlink_to(elsewhere / "var/lib/hostcheck")
    run = hc("fix", "--root", str(root), "--history")
    assert run.returncode == 2
    assert "refusing to use the journal" in run.stderr and "is a symbolic link" in run.stderr
    assert run.stdout == ""


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


_FIELDS = sorted(
    {
        *[
            "schema_version",
            "id",
            "created_ns",
            "created",
            "tool_version",
            "root",
            "live",
            "state",
            "rules",
            "loader",
        ],
        *[
            "reboot_required",
            "files",
            "created_dirs",
            "steps",
            "undo_pending",
            "undone",
            "path",
            "existed",
        ],
        *[
            "before_b64",
            "before_sha256",
            "mode",
            "uid",
            "gid",
            "after_b64",
            "after_sha256",
            "kind",
            "done",
            "argv",
        ],
        *["why", "undo_argv", "run", "pending", "output"],
    }
)


@settings(max_examples=400, deadline=None)
@given(
    where=st.sampled_from(["record", "file", "step", "command"]),
    key=st.sampled_from(_FIELDS) | st.text(max_size=12),
    value=_JSON,
    remove=st.booleans(),
)
def test_any_damage_to_one_field_is_a_verdict_never_an_exception(where, key, value, remove) -> None:
    """Whatever one field becomes (or a new one, or none), the check says what is wrong or
    accepts it; and an accepted journal still has what apply, resume, undo and --history read."""
    from hostcheck.fix.journal import _journal_problem

    record = _valid_record()
    target = {
        "record": record,
        "file": record["files"][0],
        "step": record["steps"][0],
        "command": record["steps"][1],
    }[where]
    if remove:
        target.pop(key, None)
    else:
        target[key] = value
    problem = _journal_problem(record, "20261207T000000.000000Z-abcd")
    if problem is None:
        for entry in record["files"]:
            base64.b64decode(entry["after_b64"], validate=True)
            assert 0 <= entry["mode"] <= 0o7777
        assert record["state"] in ("started", "complete", "undoing", "undone")
        assert isinstance(record["created"], str) and isinstance(record["rules"], list)
    else:
        assert isinstance(problem, str) and problem


def _valid_record() -> dict:
    import hashlib

    after = b"GRUB_CMDLINE_LINUX_DEFAULT=x\n"
    return {
        "schema_version": 1,
        "id": "20261207T000000.000000Z-abcd",
        "created_ns": 1,
        "created": "2026-12-07T00:00:00Z",
        "tool_version": "0.1.0",
        "root": "/tmp/x",
        "live": False,
        "state": "started",
        "rules": ["memory.gtt"],
        "loader": "grub",
        "reboot_required": True,
        "files": [
            {
                "path": "/etc/default/grub.d/99-hostcheck.cfg",
                "existed": False,
                "before_b64": "",
                "before_sha256": None,
                "mode": 0o644,
                "uid": 0,
                "gid": 0,
                "after_b64": base64.b64encode(after).decode(),
                "after_sha256": hashlib.sha256(after).hexdigest(),
            }
        ],
        "created_dirs": ["/etc/default/grub.d"],
        "steps": [
            {"kind": "write", "path": "/etc/default/grub.d/99-hostcheck.cfg", "done": False},
            {
                "kind": "command",
                "argv": ["update-grub"],
                "why": "w",
                "undo_argv": ["update-grub"],
                "run": False,
                "done": False,
            },
        ],
    }


def test_the_valid_record_used_above_is_valid() -> None:
    from hostcheck.fix.journal import _journal_problem

    assert _journal_problem(_valid_record(), "20261207T000000.000000Z-abcd") is None
