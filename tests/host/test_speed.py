"""Speed where users feel it (issue #15): commands started on a live host run at the same
time, and the kernel log is read from its end within a byte budget, in bounded memory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostcheck.host.core import Host
from hostcheck.host.kernellog import KERNEL_LOG_BUDGET
from hostcheck.readings import Reason, Unavailable, Value
from tests.conftest import run_subprocess


def _tool(bin_dir: Path, name: str, script: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_commands_started_together_take_as_long_as_the_slowest(tmp_path: Path) -> None:
    tools = [
        _tool(tmp_path / "bin", f"probe{n}", f"sleep 1\necho answer {n}\necho note {n} >&2\n")
        for n in range(4)
    ]
    host = Host("/")
    began = time.monotonic()
    started = [host.start(f"p{n}", [str(tool)], timeout=10) for n, tool in enumerate(tools)]
    results = [s.result() for s in started]
    elapsed = time.monotonic() - began
    assert elapsed < 2.5, f"4 commands of 1 s each took {elapsed:.2f} s"
    for n, result in enumerate(results):
        assert isinstance(result, Value), result
        assert result.value.returncode == 0
        assert result.value.stdout == f"answer {n}\n"
        assert result.value.stderr == f"note {n}\n"


def test_a_command_past_its_time_is_a_timeout_and_the_others_still_answer(tmp_path: Path) -> None:
    slow = _tool(tmp_path / "bin", "slow", "sleep 30\n")
    quick = _tool(tmp_path / "bin", "quick", "sleep 1\necho fine\n")
    host = Host("/")
    began = time.monotonic()
    stuck = host.start("slow", [str(slow)], timeout=0.5, display="slow-probe")
    fine = host.start("quick", [str(quick)], timeout=10)
    first = fine.result()  # waits for the quick one; the slow one is given up on meanwhile
    second = stuck.result()
    assert time.monotonic() - began < 3
    assert isinstance(first, Value) and first.value.stdout == "fine\n"
    assert isinstance(second, Unavailable) and second.reason is Reason.TIMEOUT
    assert second.source == "slow-probe" and "0.5 s" in second.detail


def test_a_command_writing_a_lot_does_not_stall_the_others(tmp_path: Path) -> None:
    """Output of every running command is read while waiting for any: a full pipe of one
    must not hold it up until its turn."""
    chatty = _tool(tmp_path / "bin", "chatty", "head -c 3000000 /dev/zero | tr '\\0' x\n")
    quiet = _tool(tmp_path / "bin", "quiet", "sleep 1\necho done\n")
    host = Host("/")
    loud = host.start("chatty", [str(chatty)], timeout=10)
    calm = host.start("quiet", [str(quiet)], timeout=10)
    assert isinstance(calm.result(), Value)
    out = loud.result()
    assert isinstance(out, Value) and len(out.value.stdout) == 3_000_000


def _fake_dmesg(bin_dir: Path, log: Path) -> None:
    _tool(bin_dir, "dmesg", f"cat {log}\n")


def _big_log(path: Path, megabytes: int, hang_at_end: bool) -> None:
    line = b"[ 1234.567890] usb 3-2: new high-speed USB device number 7 using xhci_hcd\n"
    with path.open("wb") as out:
        out.write(
            b"[    0.000000] amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to "
            b"msg=REMOVE_QUEUE\n"
        )  # an old hang, far beyond the budget
        out.write(line * (megabytes * 1024 * 1024 // len(line)))
        if hang_at_end:
            out.write(b"[99999.000001] amdgpu 0000:c5:00.0: amdgpu: GPU reset begin!\n")


def test_a_kernel_log_over_the_budget_is_judged_on_its_newest_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "kern.log"
    _big_log(log, 12, hang_at_end=True)
    _fake_dmesg(tmp_path / "bin", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    text = Host("/").kernel_log()
    assert isinstance(text, Value)
    assert len(text.value.encode()) <= KERNEL_LOG_BUDGET
    assert text.value.startswith("[ 1234.567890]")  # a whole line
    assert text.value.endswith("GPU reset begin!\n")
    assert "MES failed" not in text.value
    assert "only its newest 8.0 MiB was read" in text.source
    assert "MiB of older lines were left out" in text.source


def _scan_tree_with_log(tmp_path: Path, megabytes: int) -> Path:
    """A copy of the no-GPU fixture whose recorded kernel log is ``megabytes`` large."""
    import shutil

    from tests.conftest import FIXTURES

    root = tmp_path / "host"
    shutil.copytree(FIXTURES / "tuned-ready", root, symlinks=True)
    _big_log(root / ".hostcheck/dmesg.txt", megabytes, hang_at_end=True)
    return root


def test_a_50_mb_kernel_log_scans_fast_in_bounded_memory_and_its_snapshot_replays(
    tmp_path: Path,
) -> None:
    root = _scan_tree_with_log(tmp_path, 50)
    code = (
        "import sys, time, io, contextlib\n"
        "from hostcheck.cli.main import main\n"
        "out = io.StringIO()\n"
        "began = time.perf_counter()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    main(['scan', '--root', {str(root)!r}, '--format', 'json', "
        "'--select', 'log.gpu-hangs'])\n"
        "took = time.perf_counter() - began\n"
        # VmHWM, not ru_maxrss: that one keeps the forking parent's peak across exec().
        "rss = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(out.getvalue()); print(took, rss, file=sys.stderr)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    took, rss_kib = done.stderr.split()[-2:]
    report = json.loads(done.stdout)
    finding = report["findings"][0]
    assert finding["rule"] == "log.gpu-hangs" and finding["status"] == "warn", finding
    assert "GPU reset" in finding["message"] and "MES timeout" not in finding["message"]
    sources = " ".join(e["source"] for e in finding["evidence"])
    assert "older lines were left out" in sources
    assert float(took) < 1.0, f"scan of a 50 MB log took {float(took):.2f} s"
    assert int(rss_kib) < 100 * 1024, f"peak RSS {int(rss_kib) // 1024} MiB"

    snap = tmp_path / "snap"
    taken = run_subprocess("snapshot", "--root", str(root), "--output", str(snap), "--no-redact")
    assert taken.code == 0, taken.err
    recorded = snap / ".hostcheck/dmesg.txt"
    assert recorded.stat().st_size <= KERNEL_LOG_BUDGET
    left_out = json.loads((snap / ".hostcheck/dmesg.json").read_text())["omitted_bytes"]
    assert left_out > 40 * 1024 * 1024
    replay = run_subprocess(
        "scan", "--root", str(snap), "--format", "json", "--select", "log.gpu-hangs"
    )
    again = replay.json()["findings"][0]
    assert (again["status"], again["message"]) == (finding["status"], finding["message"])
    assert "older lines were left out" in " ".join(e["source"] for e in again["evidence"])


def test_the_substring_prefilter_finds_the_same_events_as_parsing_every_line() -> None:
    from hostcheck.parse.kernellog import (
        classify_kernel_log,
        parse_kernel_log,
        parse_kernel_log_of_interest,
    )
    from tests.parse.test_parsers import DMESG_9_4, DMESG_MES_HANG

    noise = "[    1.000000] usb 1-1: new device\n\rcarriage\x85next amdgpu: x\n"
    journal = "[ 5.1] host kernel: amdgpu: unknown parameter 'gtt_size' ignored\n"
    for text in (DMESG_9_4, DMESG_MES_HANG, noise + DMESG_MES_HANG + journal, "", "amdgpu"):
        for variant in (text, text.replace("\n", "\r\n"), text.rstrip("\n")):
            assert classify_kernel_log(parse_kernel_log_of_interest(variant)) == (
                classify_kernel_log(parse_kernel_log(variant))
            )
    assert classify_kernel_log(parse_kernel_log_of_interest(DMESG_MES_HANG))  # not vacuous


def test_records_behave_as_typing_namedtuples() -> None:
    """hostcheck._record.NamedTuple (cheaper to create) makes what typing's makes."""
    from typing import NamedTuple as TypingNamedTuple

    from hostcheck._record import NamedTuple

    class Cheap(NamedTuple):
        """A record."""

        kind: str
        count: int = 0
        note: str | None = None

        def twice(self) -> int:
            return self.count * 2

    class Typed(TypingNamedTuple):
        kind: str
        count: int = 0
        note: str | None = None

    cheap, typed = Cheap("x", 2), Typed("x", 2)
    assert cheap == typed == ("x", 2, None) and hash(cheap) == hash(typed)
    assert Cheap._fields == Typed._fields and Cheap._field_defaults == Typed._field_defaults
    assert cheap._replace(note="n") == ("x", 2, "n") and cheap._asdict() == typed._asdict()
    assert repr(cheap) == "Cheap(kind='x', count=2, note=None)"
    assert cheap.twice() == 4 and Cheap.__doc__ == "A record."
    assert Cheap(kind="y").count == 0 and isinstance(cheap, tuple)
    with pytest.raises(TypeError):
        type("Bad", (Cheap.__mro__[0],), {})("a", 1, None, 4)
    with pytest.raises(TypeError, match="Non-default namedtuple field"):

        class Broken(NamedTuple):  # a field without a default after one with
            first: int = 0
            second: int  # type: ignore[misc]

    with pytest.raises(AttributeError):

        class Clash(NamedTuple):
            a: int

            def _replace(self) -> None:  # type: ignore[override]
                pass


@pytest.mark.parametrize("source", ["dmesg", "recorded"])
def test_a_tail_that_starts_at_a_line_keeps_that_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """When the budget's cut falls exactly after a newline, the first kept line is whole and
    is kept (only a partial line is dropped)."""
    line = b"[    7.000000] amdgpu: some driver line, 40 bytes long..\n"
    kept = KERNEL_LOG_BUDGET // len(line)
    first = b"[    1.000000] amdgpu: GPU reset begin!" + b"." * (len(line) - 41) + b"\n"
    body = first + line * (kept - 1)
    pad = KERNEL_LOG_BUDGET - len(body)
    text = b"[    0.000000] old line\n" + b"[    0.5] " + b"x" * (pad - 11) + b"\n" + body
    assert len(text) > KERNEL_LOG_BUDGET and text[-KERNEL_LOG_BUDGET - 1 :][:1] == b"\n"
    if source == "dmesg":
        log = tmp_path / "kern.log"
        log.write_bytes(text)
        _fake_dmesg(tmp_path / "bin", log)
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
        host = Host("/")
    else:
        root = tmp_path / "tree"
        (root / ".hostcheck").mkdir(parents=True)
        (root / ".hostcheck/dmesg.txt").write_bytes(text)
        host = Host(root)
    got = host.kernel_log()
    assert isinstance(got, Value)
    assert got.value.encode() == text[-KERNEL_LOG_BUDGET:]
    assert got.value.startswith("[    0.5] x")


@pytest.mark.parametrize(
    ("argv", "absent"),
    [
        (
            ["scan", "--fixture", "stock-128g", "--format", "json"],
            ["typing", "tomllib", "math", "fnmatch", "shlex"],
        ),
        (["fix", "--fixture", "stock-128g"], ["typing", "difflib", "hostcheck.fix.journal"]),
    ],
    ids=["json-scan", "fix-dry-run"],
)
def test_the_fast_paths_leave_costly_modules_unimported(argv: list[str], absent: list[str]) -> None:
    """A JSON scan and a fix dry run do without typing (~2.5 ms), the scan without the TOML
    parser (the compiled catalog), math, fnmatch and shlex, and the dry run of a fix that
    creates its files without difflib and the journal's format (docs/speed.md)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "import os, sys\n"
        "from hostcheck.cli.main import main\n"
        "sys.stdout = open(os.devnull, 'w')\n"
        f"main({argv!r})\n"
        "sys.stderr.write(' '.join(sorted(sys.modules)))\n"
    )
    for _ in range(2):  # the first run may compile the catalog
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
        )
    loaded = set(done.stderr.split())
    assert "hostcheck.checks.engine" in loaded  # the scan ran
    assert [name for name in absent if name in loaded] == []


@given(
    pattern=st.text(alphabet="ab.*?[]-", max_size=6),
    name=st.text(alphabet="ab.-*?[]\n", max_size=8),
)
def test_glob_patterns_match_as_fnmatch_does(pattern: str, name: str) -> None:
    """The probes' patterns (one `*`) are tested without fnmatch; every pattern still matches
    exactly what fnmatch.fnmatchcase matches."""
    import fnmatch

    from hostcheck.host.files import name_matcher

    assert name_matcher(pattern)(name) == fnmatch.fnmatchcase(name, pattern)


@pytest.mark.parametrize("pattern", ["card*", "*.conf", "rocm-core-*", "libamdhip64.so.*", "*"])
@pytest.mark.parametrize("name", ["card", "card0", "x.conf", ".conf", "rocm-core-6", "", "a*b"])
def test_the_probes_glob_patterns_match_as_fnmatch_does(pattern: str, name: str) -> None:
    import fnmatch

    from hostcheck.host.files import name_matcher

    assert name_matcher(pattern)(name) == fnmatch.fnmatchcase(name, pattern)
