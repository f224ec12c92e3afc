"""The monitor's state directory under concurrent runs and in odd shapes (issue 18 item 13)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_STORED = re.compile(r"report (\S+\.json)$")


def test_twenty_concurrent_runs_each_store_one_report_with_its_own_sequence(
    tmp_path: Path,
) -> None:
    states = tmp_path / "state"
    command = [
        sys.executable, "-m", "hostcheck", "monitor", "--fixture", "stock-128g",
        "--state-dir", str(states), "--log-format", "plain",
    ]  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text("[monitor]\nkeep_reports = 30\n")
    env = {**os.environ, "HOSTCHECK_CONFIG": str(config)}
    runs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env
        )
        for _ in range(20)
    ]
    results = [(run.wait(timeout=240), *run.communicate()) for run in runs]
    stored = []
    for code, out, err in results:
        assert code == 1, err  # stock-128g is not ready; never 2 ("not stored"), never 3
        assert err == ""
        stored.append(Path(_STORED.search(out.splitlines()[-1])[1]).name)
    sequences = sorted(int(name.split("-")[1]) for name in stored)
    assert sequences == list(range(1, 21))  # no number twice, none skipped
    on_disk = sorted(p.name for p in states.glob("report-*.json"))
    assert on_disk == sorted(stored)
    assert os.readlink(states / "latest.json") == max(stored)
    # Every run but the first compared with the one stored just before it.
    firsts = [out for _, out, _ in results if "first run: no earlier report" in out]
    assert len(firsts) == 1
    latest = json.loads((states / "latest.json").read_text())
    assert latest["ready"] is False


def test_a_state_dir_that_is_a_file_says_so(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a directory\n")
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(blocker))
    assert run.code == 2
    assert run.err == (
        f"hostcheck: error: state directory {blocker}: not a directory (a file is in the way); "
        "give another --state-dir\n"
    )
    assert "run as root" not in run.err
    assert blocker.read_text() == "not a directory\n"


def test_a_state_dir_below_a_file_does_not_suggest_root(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(blocker / "state"))
    assert run.code == 2
    assert "Not a directory" in run.err and "run as root" not in run.err


def test_a_planted_lock_link_is_refused_and_not_followed(cli, tmp_path: Path) -> None:
    states = tmp_path / "state"
    states.mkdir()
    outside = tmp_path / "outside"
    (states / ".lock").symlink_to(outside)
    run = cli("monitor", "--fixture", "stock-128g", "--state-dir", str(states))
    assert run.code == 2
    assert f"{states}/.lock is a symbolic link; not following it" in run.err
    assert not outside.exists()


def test_a_report_removed_during_rotation_is_no_error(tmp_path: Path) -> None:
    """ENOENT while dropping old reports (another tool removed one) is what rotation wanted."""
    from hostcheck.monitor import state

    states = tmp_path / "state"
    state.prepare(str(states))
    real_unlink = os.unlink
    removed: list[str] = []

    def racing_unlink(path, *args, **kwargs):  # the file vanishes just before we remove it
        if str(path).endswith(".json") and "report-" in str(path):
            real_unlink(path)
            removed.append(str(path))
        return real_unlink(path, *args, **kwargs)

    for number in range(3):
        state.store_report(str(states), {"n": number}, 2, 1_800_000_000.0 + number)
    os.unlink = racing_unlink  # type: ignore[assignment]
    try:
        path = state.store_report(str(states), {"n": 3}, 2, 1_800_000_010.0)
    finally:
        os.unlink = real_unlink  # type: ignore[assignment]
    assert removed and Path(path).exists()
    assert len(list(states.glob("report-*.json"))) == 2
