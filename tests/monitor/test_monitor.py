"""`hostcheck monitor` as a timer runs it: two runs against a host that changes in between,
what reaches the journal and with which priority, the stored history, atomic writes, the
metrics file as Prometheus parses it, and a host that the monitor never touches."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hostcheck.checks.catalog import load_catalog
from hostcheck.model import Status
from hostcheck.monitor import state
from hostcheck.render.json import SCHEMA_VERSION
from tests.conftest import ALL_RULES, REPO, boot_as_configured

SCHEMA = json.loads(resources.files("hostcheck").joinpath("schemas/report.schema.json").read_text())
TUNED = ("--python", "/opt/vllm/bin/python3")
HANG = "[ 5123.456789] amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=REMOVE_QUEUE\n"
_PRIORITY_LINE = re.compile(r"^<([0-7])>(.*)$")


def journal_lines(out: str) -> list[tuple[int, str]]:
    lines = []
    for line in out.splitlines():
        match = _PRIORITY_LINE.match(line)
        assert match, f"a line without a journald priority: {line!r}"
        lines.append((int(match[1]), match[2]))
    return lines


def monitor(cli, root: Path, state_dir: Path, *extra: str):
    return cli(
        "monitor", "--root", str(root), "--state-dir", str(state_dir),
        "--log-format", "journal", *TUNED, *extra,
    )  # fmt: skip


def test_two_runs_log_every_change_with_its_priority(cli, fixture_copy, tmp_path: Path) -> None:
    root = fixture_copy("tuned-ready")
    states = tmp_path / "state"
    first = monitor(cli, root, states)
    assert first.code == 0
    assert journal_lines(first.out)[0] == (
        6,
        f"first run: no earlier report in {states} to compare with",
    )
    assert journal_lines(first.out)[-1][0] == 6
    summary = json.loads((states / "latest.json").read_text())["summary"]
    assert summary["pass"] + summary["skip"] == ALL_RULES  # a ready host: nothing else
    assert f"inference-01: READY ({summary['pass']} pass" in journal_lines(first.out)[-1][1]

    # Between the runs: a kernel update dropped amd_iommu=off, the GPU hung once, and
    # linux-firmware brought MES 0x83.
    cmdline = root / "proc/cmdline"
    cmdline.write_text(cmdline.read_text().replace(" amd_iommu=off", ""))
    boot_as_configured(root, cmdline.read_text())  # dropped from the boot loader too
    (root / "proc/sys/kernel/osrelease").write_text("6.17.0-20-generic\n")
    with (root / ".hostcheck/dmesg.txt").open("a") as log:
        log.write(HANG)
    (root / "sys/class/drm/card1/device/fw_version/mes_fw_version").write_text("0x00000083\n")

    second = monitor(cli, root, states)
    assert second.code == 1
    lines = journal_lines(second.out)
    assert lines[:-1] == [
        (3, "host is no longer ready: firmware.mes (fail)"),
        (
            3,
            "firmware.mes: pass → fail: MES firmware 0x00000083 is known bad on Strix Halo "
            "(ROCm#5724): GPU hangs and memory access faults. Install firmware with MES "
            "0x00000080 (linux-firmware 20251111 or 20260110 and later; not 20251125).",
        ),
        (
            4,
            "log.gpu-hangs: pass → warn: The kernel log since boot shows MES timeouts: 1. "
            "See amdgpu.cwsr and firmware.mes for the known causes.",
        ),
        (
            4,
            "perf.iommu: pass → warn: With the IOMMU on, GPU memory bandwidth is lower: "
            "amd_iommu=off measured 5–12 % faster (kyuz0) and iommu=pt gives no such benefit "
            "(lhl). Add amd_iommu=off unless you need VFIO/PCI passthrough or the NPU.",
        ),
        (5, "kernel release changed: 6.17.0-19-generic → 6.17.0-20-generic"),
        (5, "MES firmware changed: 0x00000080 → 0x00000083"),
        (3, "new GPU hang in the kernel log (MES timeouts): " + HANG.strip()),
    ]
    passing = json.loads((states / "latest.json").read_text())["summary"]["pass"]
    assert passing == summary["pass"] - 3  # the three rules that changed passed before
    assert lines[-1][0] == 6 and f"NOT READY ({passing} pass, 2 warn, 1 fail" in lines[-1][1]

    # A third run with nothing changed logs only the verdict; the old hang is not new again.
    third = journal_lines(monitor(cli, root, states).out)
    assert [priority for priority, _ in third] == [6]

    # Fixed again: readiness regained and the recovery are notices.
    (root / "sys/class/drm/card1/device/fw_version/mes_fw_version").write_text("0x00000080\n")
    fourth = monitor(cli, root, states)
    assert fourth.code == 0
    assert journal_lines(fourth.out)[:3] == [
        (5, "host is ready again"),
        (5, "firmware.mes: fail → pass: MES firmware 0x00000080 is known good."),
        (5, "MES firmware changed: 0x00000083 → 0x00000080"),
    ]


def test_history_rotates_and_latest_points_at_the_newest(
    cli, fixture_copy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[monitor]\nkeep_reports = 3\n")
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    root = fixture_copy("stock-128g")
    states = tmp_path / "state"
    stored = []
    for _ in range(5):
        run = cli("monitor", "--root", str(root), "--state-dir", str(states))
        assert run.code == 1
        stored.append(re.search(r"report (\S+\.json)$", run.out.splitlines()[-1])[1])
    names = sorted(p.name for p in states.iterdir())
    assert names == sorted([*(Path(p).name for p in stored[-3:]), "latest.json", ".lock"])
    assert os.readlink(states / "latest.json") == Path(stored[-1]).name
    latest = json.loads((states / "latest.json").read_text())
    jsonschema.validate(latest, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert latest["schema_version"] == SCHEMA_VERSION
    assert latest["monitor"]["observed"]["mes_firmware"] == "0x00000080"
    assert latest["monitor"]["observed"]["kernel_release"] == "6.17.0-19-generic"
    for path in states.glob("report-*.json"):
        assert path.stat().st_mode & 0o777 == 0o644


def test_plain_format_for_people_and_priorities_when_stdout_is_the_journal(
    fixture_copy, tmp_path: Path
) -> None:
    root = fixture_copy("stock-128g")
    states = tmp_path / "state"
    args = [
        sys.executable,
        "-m",
        "hostcheck",
        "monitor",
        "--root",
        str(root),
        "--state-dir",
        str(states),
    ]
    plain = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    assert plain.returncode == 1
    assert plain.stdout.startswith("info: first run: no earlier report")
    # systemd connects stdout to the journal and names that stream in JOURNAL_STREAM.
    out = tmp_path / "stream"
    with out.open("w") as stream:
        st = os.fstat(stream.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        done = subprocess.run(args, stdout=stream, stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert done.returncode == 1
    assert out.read_text().splitlines()[-1].startswith("<6>host framework-desktop: NOT READY")
    # A JOURNAL_STREAM leaked into a shell does not match its stdout: no prefixes.
    leaked = subprocess.run(
        args, capture_output=True, text=True, cwd=REPO, env={**os.environ, "JOURNAL_STREAM": "1:2"}
    )
    assert leaked.stdout.splitlines()[-1].startswith("info: host framework-desktop: NOT READY")


def test_help_says_what_is_logged_and_the_exit_status() -> None:
    from tests.conftest import run_subprocess

    run = run_subprocess("monitor", "--help")
    assert run.code == 0
    assert "err      the host stopped being ready" in run.out
    assert "--install" in run.out and "--state-dir DIR" in run.out


def test_state_directory_comes_from_systemd(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = tmp_path / "from-systemd"
    monkeypatch.setenv("STATE_DIRECTORY", f"{given}:{tmp_path / 'second'}")
    run = cli("monitor", "--fixture", "stock-128g")
    assert run.code == 1
    assert f"report {given}/report-" in run.out
    assert len(list(given.glob("report-*.json"))) == 1


def test_config_errors_carry_the_err_priority_for_the_journal(
    cli, tmp_path: Path, monkeypatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[monitor]\nkeep = 3\n")
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli("monitor", "--fixture", "stock-128g", "--log-format", "journal")
    assert run.code == 2
    assert run.err.startswith(
        f"<3>hostcheck: error: config {config}, line 2: monitor.keep: unknown key"
    )
    plain = cli("monitor", "--fixture", "stock-128g")
    assert plain.err.startswith("hostcheck: error: config")


def test_unreadable_previous_report_is_a_warning_not_a_crash(cli, tmp_path: Path) -> None:
    states = tmp_path / "state"
    states.mkdir()
    (states / "report-20260101T000000.000000Z.json").write_text('{"schema_version": "1.1", "find')
    run = cli(
        "monitor", "--fixture", "stock-128g", "--state-dir", str(states), "--log-format", "journal"
    )
    assert run.code == 1
    assert journal_lines(run.out)[0][0] == 4
    assert "the previous report is unreadable" in run.out


def test_unwritable_state_directory_is_a_clear_error(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(blocker / "state"))
    assert run.code == 2
    assert f"hostcheck: error: state directory {blocker}/state: Not a directory" in run.err


def test_unwritable_metrics_file_still_logs_the_changes(cli, tmp_path: Path) -> None:
    run = cli(
        "monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"),
        "--metrics-file", str(tmp_path / "missing-dir" / "hostcheck.prom"),
    )  # fmt: skip
    assert run.code == 2
    assert "info: first run" in run.out and "NOT READY" in run.out
    assert (
        f"hostcheck: error: metrics file {tmp_path}/missing-dir/hostcheck.prom: No such file"
        in run.err
    )
    assert len(list((tmp_path / "state").glob("report-*.json"))) == 1


def _tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(root)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
            path.lstat().st_mode,
        )
        for path in sorted(root.rglob("*"))
    }


def test_monitor_never_changes_the_host_it_checks(cli, fixture_copy, tmp_path: Path) -> None:
    root = fixture_copy("rocm5590-mes-hang")
    before = _tree_digest(root)
    for _ in range(2):
        assert monitor(cli, root, tmp_path / "state").code == 1
    assert _tree_digest(root) == before


def test_metrics_parse_with_prometheus_and_carry_every_rule(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = tmp_path / "textfile" / "hostcheck.prom"
    metrics.parent.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[monitor]\nmetrics_file = "{metrics}"\n\n[[waiver]]\nrule = "memory.gtt"\n'
        'reason = "32B only"\nowner = "ops"\nexpires = 2099-12-31\n'
    )
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path / "state"))
    assert run.code == 1
    assert metrics.stat().st_mode & 0o777 == 0o644
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    status = {}
    for sample in families["hostcheck_rule_status"].samples:
        if sample.value == 1:
            assert sample.labels["rule"] not in status, "one current status per rule"
            status[sample.labels["rule"]] = sample.labels
    # every rule but the functional ones, which are in a report only when the probe ran
    rules = [rule for rule in load_catalog()[0] if not rule.id.startswith("functional.")]
    assert set(status) == {rule.id for rule in rules}
    assert status["memory.gtt"] == {
        "rule": "memory.gtt", "area": "memory", "rule_severity": "high", "status": "waived"
    }  # fmt: skip
    assert status["devices.kfd"]["status"] == "fail"
    assert status["perf.iommu"]["status"] == "warn"
    assert len(families["hostcheck_rule_status"].samples) == len(rules) * len(Status)
    blocking = {
        s.labels["rule"] for s in families["hostcheck_rule_blocking"].samples if s.value == 1
    }
    assert blocking == {"devices.kfd", "devices.render"}
    (ready,) = families["hostcheck_ready"].samples
    assert ready.value == 0 and ready.labels == {}
    (scan,) = families["hostcheck_scan_info"].samples
    assert scan.value == 1 and scan.labels == {"profile": "70b-q8", "fail_on": "fail"}
    (info,) = families["hostcheck_build_info"].samples
    assert info.labels == {"version": "0.1.0", "schema_version": SCHEMA_VERSION} and info.value == 1
    (last,) = families["hostcheck_last_run_timestamp_seconds"].samples
    stored = json.loads((tmp_path / "state" / "latest.json").read_text())
    assert abs(last.value - os.stat(tmp_path / "state" / "latest.json").st_mtime) < 60
    assert families["hostcheck_scan_duration_seconds"].samples[0].value == pytest.approx(
        stored["duration_seconds"], abs=1e-3
    )
    (expiry,) = families["hostcheck_waiver_expiry_timestamp_seconds"].samples
    assert expiry.labels == {"rule": "memory.gtt"}
    # local midnight after 2099-12-31 (the tests' time zone is whatever the machine has)
    assert expiry.value == datetime.datetime(2100, 1, 1).timestamp()
    (expired,) = families["hostcheck_waiver_expired"].samples
    assert expired.labels == {"rule": "memory.gtt"} and expired.value == 0
    (info,) = families["hostcheck_waiver_info"].samples
    assert info.labels == {"rule": "memory.gtt", "owner": "ops", "reason": "32B only"}
    counts = {s.labels["status"]: s.value for s in families["hostcheck_findings"].samples}
    assert set(counts) == {status.value for status in Status}
    assert {k: v for k, v in counts.items() if v and k not in ("pass", "skip")} == {
        "warn": 4, "fail": 2, "waived": 1
    }  # fmt: skip
    assert counts["pass"] + counts["skip"] == ALL_RULES - 7


def test_metric_labels_are_escaped() -> None:
    from hostcheck.render.prometheus import _labels

    text = "m" + _labels(owner='a "quoted"\\ owner\nsecond line') + " 1\n"
    (family,) = text_string_to_metric_families(text)
    assert family.samples[0].labels["owner"] == 'a "quoted"\\ owner\nsecond line'


def test_readers_never_see_a_partial_report(tmp_path: Path) -> None:
    """A reader polling latest.json and the history while reports are written, renamed and
    rotated must only ever parse complete JSON documents."""
    directory = tmp_path / "state"
    # Large documents make a torn read likely if a write were not atomic.
    reports = [
        {"schema_version": "1.1", "n": n, "pad": "x" * (50_000 + n * 997)} for n in range(150)
    ]
    done = threading.Event()
    seen: list[int] = []
    torn: list[str] = []

    def reader() -> None:
        while not done.is_set():
            for path in [directory / "latest.json", *directory.glob("report-*.json")]:
                try:
                    text = path.read_text()
                except (FileNotFoundError, NotADirectoryError):
                    continue  # rotated away between listing and opening: fine
                try:
                    seen.append(json.loads(text)["n"])
                except ValueError:
                    torn.append(f"{path.name}: {len(text)} bytes")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n, report in enumerate(reports):
            state.store_report(str(directory), report, keep=4, now=1_800_000_000 + n * 0.001)
    finally:
        done.set()
        thread.join()
    assert torn == []
    assert len(seen) > 50  # the reader really raced the writer
    assert sorted(p.name for p in directory.iterdir() if p.name.startswith(".")) == []
    assert len(list(directory.glob("report-*.json"))) == 4
    assert json.loads((directory / "latest.json").read_text())["n"] == 149


def test_old_hang_lines_are_not_new_when_the_log_becomes_readable_or_changes_source(
    cli, fixture_copy, tmp_path: Path
) -> None:
    """The first run could not read the kernel log; the second can: its hang lines are not
    news (one warning, not one err line each). A run that reads the same lines through
    journalctl ("HOST kernel:" before the text) logs nothing new either."""
    root = fixture_copy("rocm5590-mes-hang")
    states = tmp_path / "state"
    log = root / ".hostcheck/dmesg.txt"
    text = log.read_text()
    log.unlink()
    first = monitor(cli, root, states)
    assert first.code == 1
    assert (
        json.loads((states / "latest.json").read_text())["monitor"]["observed"][
            "kernel_log_readable"
        ]
        is False
    )
    log.write_text(text)
    second = journal_lines(monitor(cli, root, states).out)
    assert not any("new GPU hang" in line for _, line in second)
    hang_lines = [line for _, line in second if "GPU hang line" in line]
    assert hang_lines == [
        "3 GPU hang lines in the kernel log; the previous run could not read the kernel log, "
        "so which are new is unknown (see log.gpu-hangs)"
    ]
    assert (4, hang_lines[0]) in second
    assert not any("GPU hang" in line for priority, line in second if priority == 3)
    # The same kernel log as journalctl -k -o short-monotonic prints it.
    log.write_text(re.sub(r"^(\[[ 0-9.]+\]) ", r"\1 inference-01 kernel: ", text, flags=re.M))
    third = journal_lines(monitor(cli, root, states).out)
    assert [p for p, _ in third] == [6], third
    # A genuinely new hang is still news, in either spelling.
    with log.open("a") as handle:
        handle.write("[ 5123.456789] inference-01 kernel: " + HANG.split("] ", 1)[1])
    fourth = journal_lines(monitor(cli, root, states).out)
    assert (3, "new GPU hang in the kernel log (MES timeouts): " + HANG.strip()) in fourth


def test_history_follows_the_run_order_when_the_clock_steps_back(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    stamps = [1_800_000_000.0, 1_800_003_600.0, 1_700_000_000.0, 1_700_000_000.0, 1_600_000_000.0]
    paths = []
    for n, now in enumerate(stamps):
        paths.append(state.store_report(str(directory), {"schema_version": "1.2", "n": n}, 3, now))
        # The file just written is never the one rotated away, and latest.json reads it.
        assert Path(paths[-1]).exists()
        assert json.loads((directory / "latest.json").read_text())["n"] == n
    names = sorted(p.name for p in directory.glob("report-*.json"))
    assert names == [Path(p).name for p in paths[-3:]]
    assert names[0].startswith("report-000003-20231114T221320.000000Z")
    assert names[-1].startswith("report-000005-20200913T122640.000000Z")
    # Two runs with the same time stamp (the third and fourth) are both kept, in run order.
    assert [json.loads((directory / n).read_text())["n"] for n in names] == [2, 3, 4]


def test_the_previous_report_is_the_last_run_whatever_its_time(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    report = {"schema_version": "1.2", "ready": True, "findings": []}
    state.store_report(str(directory), {**report, "n": 1}, 10, 1_800_000_000.0)
    state.store_report(str(directory), {**report, "n": 2}, 10, 1_700_000_000.0)
    previous, problem = state.load_previous(str(directory))
    assert problem is None and previous is not None and previous["n"] == 2
    # A name of the first version (no sequence number) is older than any numbered one.
    (directory / "report-20991231T000000.000000Z.json").write_text(json.dumps(report))
    previous, _ = state.load_previous(str(directory))
    assert previous is not None and previous["n"] == 2


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ({"schema_version": "1.2", "monitor": None}, "no ready true/false"),
        (
            {"schema_version": "1.2", "ready": True, "findings": [], "monitor": None},
            "monitor.observed is not an object",
        ),
        (
            {"schema_version": "1.2", "ready": True, "findings": [{"rule": "perf.iommu"}]},
            "findings is not a list of objects with a rule and a status",
        ),
        (
            {
                "schema_version": "1.2",
                "ready": False,
                "findings": [],
                "monitor": {"observed": {"gpu_hang_lines": [{"timestamp": "x", "text": "y"}]}},
            },
            "monitor.observed.gpu_hang_lines is not a list of lines",
        ),
    ],
)
def test_a_malformed_previous_report_is_a_warning_every_run_goes_on(
    cli, tmp_path: Path, stored: dict, why: str
) -> None:
    states = tmp_path / "state"
    states.mkdir()
    bad = states / "report-000007-20260101T000000.000000Z.json"
    bad.write_text(json.dumps(stored))
    run = cli(
        "monitor", "--fixture", "stock-128g", "--state-dir", str(states), "--log-format", "journal"
    )
    assert run.code == 1, run.err
    assert journal_lines(run.out)[0] == (
        4,
        f"the previous report is unreadable ({bad}: {why}); comparing from the next run on",
    )
    # The next run compares with the good report this one stored.
    again = cli(
        "monitor", "--fixture", "stock-128g", "--state-dir", str(states), "--log-format", "journal"
    )
    assert again.code == 1 and [p for p, _ in journal_lines(again.out)] == [6]


def test_internal_errors_carry_the_err_priority_for_the_journal(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> list[object]:
        raise KeyError("status")

    monkeypatch.setattr("hostcheck.monitor.drift.transitions", broken)
    run = cli(
        "monitor",
        "--fixture",
        "stock-128g",
        "--state-dir",
        str(tmp_path),
        "--log-format",
        "journal",
    )
    assert run.code == 3
    assert run.err.startswith("<3>hostcheck: error: internal error: KeyError: 'status'")
    plain = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(tmp_path))
    assert plain.code == 3 and plain.err.startswith("hostcheck: error: internal error:")


@pytest.mark.skipif(os.geteuid() != 0, reason="tests run as root (CI); setpriv drops root's rights")
def test_a_state_directory_that_cannot_be_listed_is_a_clear_error(tmp_path: Path) -> None:
    """Writable and searchable but not readable (0300): the run cannot find the previous
    report. Root reads it anyway, so the run is made as root without the capabilities that
    override file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), which 0300 then binds."""
    states = tmp_path / "state"
    states.mkdir()
    states.chmod(0o300)
    drop = "-dac_override,-dac_read_search"
    done = subprocess.run(
        [
            "setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}",
            sys.executable, "-m", "hostcheck", "monitor", "--fixture", "stock-128g",
            "--state-dir", str(states),
        ],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"hostcheck: error: state directory {states}: Permission denied; run as root or give "
        "--state-dir\n"
    )
    assert done.stdout == ""
    states.chmod(0o700)
    assert list(states.iterdir()) == []  # refused before the scan: nothing written


def test_metrics_are_written_when_the_report_cannot_be_stored(cli, tmp_path: Path) -> None:
    states = tmp_path / "state"
    (states / "latest.json").mkdir(parents=True)  # latest.json cannot be replaced
    metrics = tmp_path / "hostcheck.prom"
    run = cli(
        "monitor", "--fixture", "stock-128g", "--state-dir", str(states),
        "--metrics-file", str(metrics),
    )  # fmt: skip
    assert run.code == 2
    assert "hostcheck: error: state directory" in run.err
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    assert families["hostcheck_ready"].samples[0].value == 0


def test_monitor_reads_a_snapshot_tarball_as_scan_does(cli, tmp_path: Path) -> None:
    tarball = tmp_path / "bug.tar.gz"
    assert cli("snapshot", "--fixture", "stock-128g", "--output", str(tarball)).code == 0
    states = tmp_path / "state"
    run = cli("monitor", "--root", str(tarball), "--state-dir", str(states))
    assert run.code == 1, run.err
    assert "NOT READY" in run.out.splitlines()[-1]
    stored = json.loads((states / "latest.json").read_text())
    assert stored["host"]["root"] == str(tarball)
    assert stored["monitor"]["observed"]["mes_firmware"] == "0x00000080"
    assert cli("monitor", "--root", str(tmp_path / "nothing.tar.gz")).code == 2


def test_a_mistyped_state_dir_is_refused_not_created(cli, tmp_path: Path) -> None:
    typo = tmp_path / "var/lib/hostchek/state"
    run = cli("monitor", "--fixture", "tuned-ready", "--state-dir", str(typo))
    assert run.code == 2
    assert run.err == (
        f"hostcheck: error: --state-dir {typo}: the directory {typo.parent} does not exist "
        "(a typo?); hostcheck creates only the last component: create the parent first\n"
    )
    assert not (tmp_path / "var").exists()
    # The last component is created, as systemd's StateDirectory= would.
    assert (
        cli("monitor", "--fixture", "tuned-ready", "--state-dir", str(tmp_path / "new")).code == 0
    )
    assert (tmp_path / "new/latest.json").is_file()
