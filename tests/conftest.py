"""Shared helpers: run the CLI as a user would, on copies of the bundled fixture hosts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hostcheck.checks.catalog import load_catalog
from hostcheck.checks.session import FUNCTIONAL_PREFIX
from hostcheck.cli.main import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir() if (p / ".hostcheck").is_dir())
# The rule catalog, as the product loads it: counts and ids come from here, never hard-coded.
# The functional.* rules report only when `scan --functional` ran (or a run was recorded):
# a plain scan, which every fixture's expected.json describes, leaves them out.
RULE_IDS = sorted(
    rule.id for rule in load_catalog()[0] if not rule.id.startswith(FUNCTIONAL_PREFIX)
)
ALL_RULES = len(RULE_IDS)
# The rules the pictures (TUI snapshots, MachineConfig goldens) are made with: a fixed set, so
# that a rule added to the catalog leaves them unchanged (they test rendering and emitting;
# the catalog's verdicts are tested through every fixture's expected.json).
PICTURED_RULES = (
    "gpu.present", "kernel.version", "kernel.rocm-floor", "kernel.params", "memory.gtt",
    "memory.rocm-visible", "memory.carveout", "memory.gttsize-deprecated", "memory.ttm-module",
    "amdgpu.cwsr", "firmware.mes", "log.gpu-hangs", "devices.kfd", "devices.render",
    "rocm.version", "rocm.kernel-compat", "torch.gfx1151", "env.hsa-override",
    "perf.hipblaslt", "llamacpp.mmap", "perf.iommu", "sysctl.numa-balancing", "vllm.env",
)  # fmt: skip


# The rules the golden files (tests/data/golden/) are made with: the catalog when they were
# recorded. Their tests scan with a copy of these rule files (`golden_rules`), so a rule added
# to the catalog leaves every golden file as it is (a new rule touches its own files and the
# fixtures' expected.json, nothing else), while a change to one of these rules shows as a
# reviewed diff of the golden files.
GOLDEN_RULES = (
    "amdgpu.cwsr", "containers.gpu-access", "devices.kfd", "devices.render", "driver.no-dkms",
    "env.hsa-override", "firmware.mes", "functional.allocation", "functional.compute",
    "functional.copy", "functional.memory-bandwidth", "functional.run", "gpu.present",
    "kernel.known-bad", "kernel.params", "kernel.rocm-floor", "kernel.version", "limits.nofile",
    "llamacpp.mmap", "log.gpu-hangs", "log.previous-boot", "memory.carveout", "memory.gtt",
    "memory.gttsize-deprecated", "memory.rocm-visible", "memory.ttm-module", "perf.hipblaslt",
    "perf.iommu", "rocm.kernel-compat", "rocm.version", "sysctl.numa-balancing",
    "torch.gfx1151", "vllm.env",
)  # fmt: skip


def copy_rules(rules: tuple[str, ...], directory: Path) -> str:
    """A rule directory holding today's files of ``rules`` and the profiles."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in [*(f"{rule}.toml" for rule in rules), "profiles.toml"]:
        shutil.copyfile(REPO / "rules" / name, directory / name)
    return str(directory)


@pytest.fixture(scope="session")
def golden_rules(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The rules of the golden files (GOLDEN_RULES), as a rule directory."""
    return copy_rules(GOLDEN_RULES, tmp_path_factory.mktemp("golden-rules"))


@pytest.fixture(scope="session")
def pictured_rules(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The rules of the pictures (PICTURED_RULES), as a rule directory: a MachineConfig is the
    pool's whole desired state, so every rule of the catalog adds what the node carries."""
    return copy_rules(PICTURED_RULES, tmp_path_factory.mktemp("pictured-rules"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)

    def finding(self, rule: str) -> dict[str, Any]:
        return next(f for f in self.json()["findings"] if f["rule"] == rule)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `hostcheck ARGS…` in this process; returns exit code and output."""

    def run(*args: str) -> Run:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse and _fatal exit this way
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def run_subprocess(*args: str, **kwargs: Any) -> Run:
    """Run `python -m hostcheck ARGS…` in a fresh interpreter (import-level checks, timeouts)."""
    done = subprocess.run(
        [sys.executable, "-m", "hostcheck", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        **kwargs,
    )
    return Run(done.returncode, done.stdout, done.stderr)


# Tools some tests run, by the Debian package that has them: a fresh Debian 12 with only
# python3-venv lacks these, and the tests that need them skip, naming the package (pytest -m
# system selects them). .ci/run installs them and sets HOSTCHECK_REQUIRE_SYSTEM_TOOLS=1, which
# turns such a skip into a failure.
SYSTEM_TOOLS = {
    "update-grub": "grub2-common",
    "umockdev-run": "umockdev",
    "systemd-analyze": "systemd",
    "kernel-install": "systemd",
    "tmux": "tmux",
}


def system_tool(name: str) -> str:
    """The path of ``name``; skips the test (fails it under HOSTCHECK_REQUIRE_SYSTEM_TOOLS or
    CI) when it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    package = SYSTEM_TOOLS[name]
    message = (
        f"{name} not found: install the Debian package {package} "
        f"(apt-get install {package}) to run this test"
    )
    if os.environ.get("HOSTCHECK_REQUIRE_SYSTEM_TOOLS") or os.environ.get("CI"):
        pytest.fail(
            f"{message} (HOSTCHECK_REQUIRE_SYSTEM_TOOLS or CI is set: an error, not a skip)"
        )
    pytest.skip(message)


def expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name / ".hostcheck" / "expected.json").read_text())


# Markers by place, so that `-m "not system and not tui and not slow"` is a fast inner loop
# (README, docs/development.md). `tui`: every test under tests/tui/ drives the Textual app.
# `slow` (about 0.2 s or more each here, or a module of such tests): tests that start fresh
# interpreters or real tools, wait out real time limits, hunt hostile input, or repeat a heavy
# round trip for every fixture; and every hypothesis property search. A place is a folder, a
# module, or a module and the names of some of its tests (a prefix, parameters included).
TESTS = REPO / "tests"
MARKED: dict[Path | tuple[Path, str], str] = {
    TESTS / "tui": "tui",
    TESTS / "hostile": "slow",  # planted links, FIFOs, huge files, kills: mostly subprocesses
    TESTS / "fix" / "test_fix.py": "slow",  # nearly every test runs `hostcheck fix` in a process
    TESTS / "probes" / "test_functional.py": "slow",  # real venvs, a hang killed at its bound
    TESTS / "cluster" / "test_deploy.py": "slow",  # kubectl, a wheel build, the DaemonSet's argv
    TESTS / "host" / "test_faults.py": "slow",  # hung reads ended by their timeouts
    TESTS / "host" / "test_speed.py": "slow",  # commands that take real seconds
    TESTS / "host" / "test_live.py": "slow",  # this machine scanned by fresh interpreters
    (TESTS / "monitor" / "test_systemd.py", "test_the_wheel_ships_the_units"): "slow",  # pip wheel
    (TESTS / "monitor" / "test_monitor.py", "test_readers_never_see_a_partial_report"): "slow",
    (TESTS / "snapshot" / "test_snapshot.py", "test_a_hung_read_is_recorded"): "slow",  # a timeout
    (TESTS / "snapshot" / "test_snapshot.py", "test_a_terminated_"): "slow",  # signals a process
    (TESTS / "snapshot" / "test_snapshot.py", "test_round_trip_of_every_fixture_redacted"): "slow",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gone = [str(p) for p in (p[0] if isinstance(p, tuple) else p for p in MARKED) if not p.exists()]
    if gone:  # a moved or renamed test file would silently leave its tier
        raise pytest.UsageError(f"tests/conftest.py MARKED names missing paths: {gone}")
    for item in items:
        for place, mark in MARKED.items():
            path, name = place if isinstance(place, tuple) else (place, "")
            if item.path.is_relative_to(path) and item.name.startswith(name):
                item.add_marker(mark)
        if hasattr(getattr(item, "obj", None), "hypothesis"):  # @given: a property search
            item.add_marker("slow")


@pytest.fixture(scope="session")
def state_directories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(autouse=True)
def isolated_tool_state(state_directories: Path, monkeypatch: pytest.MonkeyPatch):
    """The machine running the tests must not change their verdicts, nor they its state: an
    /etc/hostcheck/config.toml there is not read (the empty /dev/null is, which any user the
    tests switch to can read), and a monitor run that forgets --state-dir writes into a
    temporary directory of its own, never /var/lib/hostcheck. (One mkdtemp under a session
    directory: tmp_path_factory.mktemp per test lists every earlier test's directory, which
    cost seconds over the suite.)"""
    monkeypatch.setenv("HOSTCHECK_CONFIG", os.devnull)
    monkeypatch.setenv("STATE_DIRECTORY", tempfile.mkdtemp(dir=state_directories))
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)


@pytest.fixture
def fixture_copy(tmp_path: Path):
    """A private copy of a bundled fixture tree, safe to damage."""

    copies: list[Path] = []

    def copy(name: str) -> Path:
        target = tmp_path / f"{name}-{len(copies)}"
        shutil.copytree(FIXTURES / name, target, symlinks=True)
        copies.append(target)
        return target

    return copy


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI no test may be skipped: a skip there means a missing install step."""

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not os.environ.get("CI") or reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        names = ", ".join(report.nodeid for report in skipped[:5])
        reporter.write_line(
            f"CI: {len(skipped)} test(s) skipped ({names}); failing the run", red=True
        )
        session.exitstatus = 1


@pytest.fixture
def scan(cli, fixture_copy):
    """scan(fixture, {path: new text or None to delete}, *args) -> the CLI run (JSON) of a
    scan of an edited fixture copy; an edited /proc/cmdline is also made the boot
    configuration, unless the edits change that configuration themselves."""

    def run(name: str, edits: dict[str, str | None], *args: str) -> Any:
        root: Path = fixture_copy(name)
        for rel, text in edits.items():
            path = root / rel
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        if "proc/cmdline" in edits and not any(
            rel.startswith(("etc/default", "boot/")) for rel in edits
        ):
            boot_as_configured(root, edits["proc/cmdline"] or "")
        return cli("scan", "--root", str(root), "--format", "json", *args)

    return run


def boot_as_configured(root: Path, cmdline: str) -> None:
    """Make a fixture copy's boot configuration agree with an edited /proc/cmdline, so the
    host looks booted from its own configuration (nothing staged for the next boot)."""
    args = [a for a in cmdline.split() if not a.startswith(("BOOT_IMAGE=", "vt.handoff="))]
    grub = root / "etc/default/grub"
    if grub.exists():
        line = " ".join(a for a in args if not a.startswith("root=") and a != "ro")
        text = "".join(
            f'GRUB_CMDLINE_LINUX="{line}"\n'
            if raw.startswith("GRUB_CMDLINE_LINUX=")
            else 'GRUB_CMDLINE_LINUX_DEFAULT=""\n'
            if raw.startswith("GRUB_CMDLINE_LINUX_DEFAULT=")
            else raw
            for raw in grub.read_text().splitlines(keepends=True)
        )
        grub.write_text(text)
        for dropin in (root / "etc/default/grub.d").glob("*.cfg"):
            dropin.unlink()
    for entry in (root / "boot/loader/entries").glob("*.conf"):
        entry.write_text(
            "".join(
                f"options {' '.join(args)}\n" if raw.startswith("options ") else raw
                for raw in entry.read_text().splitlines(keepends=True)
            )
        )
