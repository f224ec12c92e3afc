"""hostcheck tui: driven with Textual's pilot at 80×24 (and wider), asserting what a person sees:
rows and statuses, the detail of a finding, filter and search, the plan, apply on a fixture
copy and the rescan after it, undo byte for byte, export, help. Snapshot tests at the end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ALL_RULES, FIXTURES, PICTURED_RULES, REPO, expected, run_subprocess

pytest.importorskip("textual")

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from hostcheck.checks.session import Source, change_refusal, scan
from hostcheck.tui.app import HostcheckApp
from hostcheck.tui.screens import (
    ConfirmScreen,
    ExportScreen,
    HelpScreen,
    MessageScreen,
    PlanScreen,
    ReviewScreen,
)

SIZE = (80, 24)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every worker (scan, plan, apply, the rescan an apply starts) is done and the
    screen has caught up with their results."""
    app = pilot.app
    for _ in range(20):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return
    raise AssertionError("workers did not settle")


def drive(
    source: Source,
    steps: Callable[[Pilot[Any], HostcheckApp], Awaitable[None]],
    size=SIZE,
    notifications: bool = False,
    start_filter: str | None = "all",
) -> HostcheckApp:
    """Most tests look at every finding, so they start on the "all" filter; the filter the
    review opens on by itself is tested with start_filter=None."""
    app = HostcheckApp(source, start_filter)

    async def main() -> None:
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await settle(pilot)
            await steps(pilot, app)

    asyncio.run(main())
    return app


def text_of(app: HostcheckApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def screen_lines(app: HostcheckApp) -> list[str]:
    """The screen as the terminal gets it (every layer composited), one string per row."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return ["".join(segment.text for segment in strip) for strip in update.strips]


async def until(pilot: Pilot[Any], done: Callable[[], bool], what: str) -> None:
    for _ in range(1500):  # up to ~30 s: a loaded CI machine is slow, a pass is quick
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


def review(app: HostcheckApp) -> ReviewScreen:
    assert isinstance(app.screen, ReviewScreen), app.screen
    return app.screen


def table_rows(app: HostcheckApp) -> list[tuple[str, str, str]]:
    """(rule id, status word, fix mark) per listed row, as shown."""
    table = review(app).query_one("#findings", DataTable)
    rows = []
    for index in range(table.row_count):
        key = table.coordinate_to_cell_key((index, 0)).row_key.value
        mark, status, *_ = (str(cell) for cell in table.get_row_at(index))
        rows.append((str(key), status, mark))
    return rows


async def select(pilot: Pilot[Any], app: HostcheckApp, rule: str) -> None:
    """Move the cursor to a rule with the keyboard, as a person would."""
    screen = review(app)
    for _ in range(len(screen.rows) + 1):
        current = screen.current()
        if current is not None and current.rule.id == rule:
            return
        await pilot.press("down")
    raise AssertionError(f"{rule} is not listed")


# --- the core stays free of textual ------------------------------------------------------


def test_core_does_not_import_textual() -> None:
    # Every hostcheck module outside hostcheck.tui (found by walking the package, so a new
    # module is covered too), then a scan and the CLI.
    code = (
        "import importlib, pkgutil, sys\n"
        "import hostcheck\n"
        "names = [m.name for m in pkgutil.walk_packages(hostcheck.__path__, 'hostcheck.')\n"
        "         if not m.name.startswith('hostcheck.tui') and m.name != 'hostcheck.__main__']\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "import hostcheck.cli.main\n"
        "from hostcheck.checks.session import Source, scan\n"
        "report = scan(Source(fixture='stock-128g')).report\n"
        "assert report.findings, 'the scan found nothing'\n"
        "code = hostcheck.cli.main.main(['scan', '--fixture', 'stock-128g', '--format', 'json',"
        " '--output', sys.argv[1]])\n"
        "assert code == 1, code\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(len(names), len(report.findings), loaded)\n"
    )
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"hc-core-{os.getpid()}.json"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, cwd=REPO
    )
    out.unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr
    modules, count, loaded = done.stdout.split(" ", 2)
    assert int(modules) >= 40  # the walk found the package, not an empty list
    assert int(count) == ALL_RULES
    assert loaded.strip() == "[]"


def test_without_textual_a_one_line_error_and_exit_2() -> None:
    # Textual made unimportable, as in an install without the [tui] extra.
    code = (
        "import sys; sys.modules['textual'] = None\n"
        "from hostcheck.cli.main import main\n"
        "sys.exit(main(['tui', '--fixture', 'stock-128g']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr == (
        "hostcheck: error: the TUI needs Textual, which this installation lacks: "
        "pip install 'strixhalo-hostcheck' (it depends on textual)\n"
    )
    assert done.stdout == ""


def test_bad_source_is_refused_before_the_app_starts() -> None:
    run = run_subprocess("tui", "--fixture", "no-such-host")
    assert run.code == 2
    assert run.err.startswith("hostcheck: error: no bundled fixture 'no-such-host'; available:")
    assert "Traceback" not in run.err
    run = run_subprocess("tui", "--fixture", "stock-128g", "--profile", "huge")
    assert run.code == 2
    assert "unknown profile 'huge'" in run.err


def test_change_refusal_follows_hostcheck_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert change_refusal(Source(fixture="stock-128g")) == (
        "fixture trees are read-only; copy one (hostcheck fixtures lists them) and use --root"
    )
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert change_refusal(Source()) == "changing this host needs root: run it with sudo"
    assert change_refusal(Source(root="/")) == "changing this host needs root: run it with sudo"
    # The bundled tree given by its path is as read-only as --fixture (it was written into).
    assert "is the bundled fixture stock-128g, which is read-only" in (
        change_refusal(Source(root=str(FIXTURES / "stock-128g"))) or ""
    )
    assert change_refusal(Source(root=str(tmp_path))) is None
    unpacked = Source(root=str(FIXTURES / "stock-128g"), shown_root="bug.tar.gz")
    assert change_refusal(unpacked) == (
        "bug.tar.gz is unpacked to a temporary copy that is deleted on exit; "
        "unpack it yourself and use --root DIR"
    )
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert change_refusal(Source()) is None


def test_fix_cli_refuses_with_the_same_words(cli) -> None:
    run = cli("fix", "--fixture", "stock-128g", "--apply", "--yes")
    assert run.code == 2
    assert run.err == f"hostcheck: error: {change_refusal(Source(fixture='stock-128g'))}\n"


# --- the review ---------------------------------------------------------------------------


def test_rows_and_statuses_of_a_fixture_failing_first_at_80x24() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        rows = table_rows(app)
        want = expected("stock-128g")["status"]
        words = {
            "pass": "✓ pass",
            "fail": "✗ FAIL",
            "warn": "▲ WARN",
            "skip": "– skip",
            "error": "! ERROR",
        }
        shown = {rule: status for rule, status, _ in rows}
        assert {rule: shown.get(rule) for rule in want} == {
            rule: words[status] for rule, status in want.items()
        }
        # rules the fixture does not list pass or do not apply (tests/checks/test_fixtures.py)
        assert {s for r, s in shown.items() if r not in want} <= {"✓ pass", "– skip"}
        # Failing first: the areas with a failing finding lead, failing rows first in them.
        assert [rule for rule, *_ in rows[:3]] == ["devices.kfd", "devices.render", "memory.gtt"]
        # Only what `hostcheck fix` can change gets a mark box.
        assert {rule for rule, _, mark in rows if mark == "[ ]"} == {"memory.gtt", "perf.iommu"}
        summary = text_of(app, "#summary")
        assert summary.startswith("NOT READY framework-desktop")
        passing = sum(1 for _, status, _ in rows if status == "✓ pass")
        assert "✗ 3 fail" in summary and "▲ 4 warn" in summary and f"✓ {passing} pass" in summary
        assert "GPU gfx1151 at 0000:c5:00.0 (card1)" in summary
        assert "kernel 6.17.0-19-generic" in summary and "ROCm 7.2.1" in summary
        assert "profile 70b-q8" in summary and "fixture stock-128g" in summary
        # Nothing scrolls sideways at 80 columns.
        table = review(app).query_one("#findings", DataTable)
        assert table.virtual_size.width <= table.size.width
        assert app.screen.size == (80, 24)

    drive(Source(fixture="stock-128g"), steps)


def test_detail_pane_of_a_chosen_finding() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await select(pilot, app, "memory.gtt")
        detail = text_of(app, "#detail")
        assert detail.startswith("memory.gtt — ")
        assert "✗ FAIL  severity high" in detail
        assert "The GPU can address only 61.3 GiB; profile 70b-q8 needs 92 GiB." in detail
        assert "65867350016 bytes" in detail  # an evidence value …
        assert "from /sys/class/drm/card1/device/mem_info_gtt_total" in detail  # … and where
        assert "See it yourself: " in detail
        assert "kernel arguments to add: ttm.pages_limit=29884416 ttm.page_pool_size=29884416" in (
            detail
        )
        assert "needs a reboot" in detail
        assert "Not marked: space marks it for the plan (p)." in detail
        # References are links (the URL is in the text's style, clickable).
        content = review(app).query_one("#detail", Static).visual
        links = {span.style.link for span in content.spans if hasattr(span.style, "link")}
        assert "https://github.com/ROCm/legacy-rocm-build/issues/5562" in links
        # Clicking one shows and copies the URL (no browser started on the host).
        await pilot.app.run_action(
            "app.open_reference('https://github.com/ROCm/legacy-rocm-build/issues/5562')"
        )
        assert app.clipboard == "https://github.com/ROCm/legacy-rocm-build/issues/5562"
        await pilot.press("space")
        assert "✔ marked: part of the plan (p). Space unmarks." in text_of(app, "#detail")
        assert app.marked == {"memory.gtt"}
        marks = {rule: mark for rule, _, mark in table_rows(app) if mark}
        assert marks == {"memory.gtt": "[x]", "perf.iommu": "[ ]"}
        assert "1 marked" in text_of(app, "#filter-label")

    drive(Source(fixture="stock-128g"), steps)


def test_a_waiver_from_the_config_file_shows_as_waived(tmp_path: Path) -> None:
    from hostcheck.cli.config import load_config

    config = tmp_path / "config.toml"
    config.write_text(
        '[[waiver]]\nrule = "perf.iommu"\nreason = "VFIO passthrough on this box"\n'
        'owner = "ops"\nexpires = 2099-12-31\n'
    )
    source = Source(fixture="stock-128g", waivers=load_config(str(config)).waivers)

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        statuses = {rule: status for rule, status, _ in table_rows(app)}
        assert statuses["perf.iommu"] == "○ waived"
        assert "○ 1 waived" in text_of(app, "#summary")
        await select(pilot, app, "perf.iommu")
        assert "waived until 2099-12-31 by ops: VFIO passthrough on this box" in text_of(
            app, "#detail"
        )
        await pilot.press("space")  # a waived rule is not fixed
        assert app.marked == set()
        await pilot.press("f")
        assert "perf.iommu" not in {rule for rule, *_ in table_rows(app)}

    drive(source, steps)


def test_a_manual_fix_cannot_be_marked() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await select(pilot, app, "devices.kfd")
        await pilot.press("space")
        assert app.marked == set()
        assert "hostcheck does not make this change: it is a manual step." in text_of(
            app, "#detail"
        )

    drive(Source(fixture="stock-128g"), steps)


def test_filter_cycles_problems_failing_all() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        assert len(table_rows(app)) == ALL_RULES
        await pilot.press("f")
        problems = table_rows(app)
        assert {status for _, status, _ in problems} == {"✗ FAIL", "▲ WARN"}
        assert len(problems) == 7
        assert "filter: problems (f) · 7 shown" in text_of(app, "#filter-label")
        await pilot.press("f")
        assert [rule for rule, *_ in table_rows(app)] == [
            "devices.kfd",
            "devices.render",
            "memory.gtt",
        ]
        await pilot.press("f")
        assert len(table_rows(app)) == ALL_RULES

    drive(Source(fixture="stock-128g"), steps)


def test_the_review_opens_on_what_needs_attention() -> None:
    """Not all findings with half of them passes: the problems, and a key (f) for the rest
    (made with the pictured rules, so a rule added to the catalog leaves the counts)."""

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        rows = table_rows(app)
        assert {status for _, status, _ in rows} == {"✗ FAIL", "▲ WARN"} and len(rows) == 7
        assert "filter: problems (f) · 7 shown" in text_of(app, "#filter-label")
        await pilot.press("f", "f")
        assert len(table_rows(app)) == len(PICTURED_RULES)

    drive(Source(fixture="stock-128g", select=PICTURED_RULES), steps, start_filter=None)


def test_a_ready_host_opens_on_all_its_findings() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        assert len(table_rows(app)) == ALL_RULES
        assert "filter: all (f)" in text_of(app, "#filter-label")

    drive(Source(fixture="tuned-ready"), steps, start_filter=None)


def test_m_marks_all_and_a_only_applies() -> None:
    """`a` meant "mark all" on the findings and "apply" on the plan."""

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("a")
        assert app.marked == set() and isinstance(app.screen, ReviewScreen)
        await pilot.press("m")
        assert app.marked == {"memory.gtt", "perf.iommu"}
        await pilot.press("m")
        assert app.marked == set()

    drive(Source(fixture="stock-128g"), steps)


def test_ctrl_c_quits() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0  # exited, normally

    drive(Source(fixture="stock-128g"), steps)


def test_ctrl_c_quits_from_the_search_box() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("slash", *"gtt")
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0  # exited, normally

    drive(Source(fixture="stock-128g"), steps)


def test_without_a_terminal_it_refuses_at_once() -> None:
    """It used to start and spin at 100 % CPU with no terminal (issue #18)."""
    done = subprocess.run(
        [sys.executable, "-m", "hostcheck", "tui", "--fixture", "stock-128g"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "hostcheck: error: hostcheck tui needs a terminal (standard input and output are not "
        "one); in scripts use `hostcheck scan` and `hostcheck fix`\n"
    )
    assert done.stdout == ""


def test_search_matches_ids_messages_and_evidence() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("slash", *"iommu")
        assert [rule for rule, *_ in table_rows(app)] == ["perf.iommu"]
        assert text_of(app, "#detail").startswith("perf.iommu — ")
        await pilot.press("enter")  # back to the list, the search stays
        assert "search 'iommu'" in text_of(app, "#filter-label")
        await pilot.press("escape")  # clears it
        assert len(table_rows(app)) == ALL_RULES
        await pilot.press("slash", *"65867350016")  # an evidence value only
        assert [rule for rule, *_ in table_rows(app)] == ["memory.gtt", "memory.rocm-visible"]
        await pilot.press("enter", "escape", "slash", *"no such thing", "enter")
        assert table_rows(app) == []
        assert text_of(app, "#detail") == "No finding matches."
        # Typed text is never read as markup.
        await pilot.press("escape", "slash", *"[/b]x[", "enter")
        assert "search '[/b]x['" in text_of(app, "#filter-label")

    drive(Source(fixture="stock-128g"), steps)


def test_mouse_click_on_a_row_shows_its_detail() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        rows = review(app).rows
        index = next(i for i, f in enumerate(rows) if f.rule.id == "memory.gtt")
        # Row 0 of the table is the header; click the rule column of the row.
        await pilot.click("#findings", offset=(30, index + 1))
        await pilot.pause()
        assert text_of(app, "#detail").startswith("memory.gtt — ")

    drive(Source(fixture="stock-128g"), steps)


# --- plan, apply, undo ----------------------------------------------------------------------


def test_plan_screen_after_marking_fixes() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await select(pilot, app, "memory.gtt")
        await pilot.press("space")
        await select(pilot, app, "perf.iommu")
        await pilot.press("space", "p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        assert screen.plan.rules == ("memory.gtt", "perf.iommu")
        title = text_of(app, "#plan-title")
        assert title == (
            "Plan for fixture stock-128g: fixes memory.gtt, perf.iommu (boot loader: grub)"
        )
        assert text_of(app, "#plan-overview").startswith(
            "1 file(s) · 1 command(s), pending · reboot needed"
        )
        diffs = "\n".join(str(w.render()) for w in screen.query(".diff").results(Static))
        assert "+++ b/etc/default/grub.d/99-hostcheck.cfg" in diffs
        assert "ttm.pages_limit=29884416" in diffs and "amd_iommu=off" in diffs
        assert "update-grub" in text_of(app, "#plan-commands")
        assert "Pending steps" in "\n".join(
            str(w.render()) for w in screen.query(".section").results(Static)
        )
        assert text_of(app, "#plan-reboot").startswith("A reboot is needed")
        # The bundled fixture is read-only: the plan says so, and apply refuses.
        assert "Cannot apply here: fixture trees are read-only" in text_of(app, "#plan-refusal")
        await pilot.press("a")
        assert isinstance(app.screen, MessageScreen)
        assert "fixture trees are read-only" in text_of(app, "#message-body")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, ReviewScreen)

    drive(Source(fixture="stock-128g"), steps)


def test_plan_without_marks_covers_every_fixable_finding() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert app.screen.plan.rules == ("memory.gtt", "perf.iommu")

    drive(Source(fixture="stock-128g"), steps)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_apply_on_a_copy_rescans_then_undo_restores_byte_for_byte(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    before = _tree(root)
    dropin = root / "etc/default/grub.d/99-hostcheck.cfg"

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("m", "p")  # mark every fixable finding, then the plan
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert not app.screen.query("#plan-refusal")
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        body = text_of(app, "#confirm-body")
        assert "write /etc/default/grub.d/99-hostcheck.cfg" in body
        assert "list as pending (not run): update-grub" in body
        await pilot.press("n")  # no: nothing is written
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert not dropin.exists()
        await pilot.press("a")
        await pilot.click("#yes")  # with the mouse this time
        await settle(pilot)
        # Back on the findings, rescanned, with the outcome on top.
        assert isinstance(app.screen, MessageScreen)
        outcome = text_of(app, "#message-body")
        assert outcome.startswith("Applied as transaction ")
        # Under --root, the path inside the root (not the host path it stands for).
        assert f"wrote {os.path.realpath(root)}/etc/default/grub.d/99-hostcheck.cfg" in outcome
        assert "pending (run on the host itself): update-grub" in outcome  # as the CLI says
        assert "fixed-pending-reboot" in outcome
        await pilot.press("escape")
        statuses = {rule: status for rule, status, _ in table_rows(app)}
        assert statuses["memory.gtt"] == "↻ PENDING"
        assert statuses["perf.iommu"] == "↻ PENDING"
        assert statuses["devices.kfd"] == "✗ FAIL"
        assert "↻ 2 pending" in text_of(app, "#summary")
        assert dropin.exists() and b"ttm.pages_limit=29884416" in dropin.read_bytes()
        assert app.marked == set()

        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "restore" not in text_of(app, "#confirm-body")  # the drop-in was new
        assert "remove /etc/default/grub.d/99-hostcheck.cfg" in text_of(app, "#confirm-body")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert text_of(app, "#message-body").startswith("Undid transaction ")
        await pilot.press("escape")
        statuses = {rule: status for rule, status, _ in table_rows(app)}
        assert statuses["memory.gtt"] == "✗ FAIL"
        assert statuses["perf.iommu"] == "▲ WARN"

    drive(Source(root=str(root)), steps)
    after = _tree(root)
    journal = {path for path in after if path.startswith("var/lib/hostcheck/")}
    assert journal, "the transaction was journaled"
    assert {p: b for p, b in after.items() if p not in journal} == before
    assert not dropin.exists()


def test_undo_with_nothing_to_undo_says_so(fixture_copy) -> None:
    root = fixture_copy("tuned-ready")

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert text_of(app, "#message-body") == "No transaction to undo on this host."

    drive(Source(root=str(root)), steps)


def test_rescan_key_picks_up_a_change_on_disk(fixture_copy) -> None:
    root = fixture_copy("stock-128g")

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        assert "llm is not in group render" in text_of(app, "#detail")
        group = root / "etc/group"
        group.write_text(group.read_text().replace("render:x:992:", "render:x:992:llm"))
        await pilot.press("r")
        await settle(pilot)
        statuses = {rule: status for rule, status, _ in table_rows(app)}
        assert statuses["devices.kfd"] == "✓ pass"

    drive(Source(root=str(root)), steps)


# --- export and help -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_export_writes_the_report_atomically(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{'json' if fmt == 'json' else 'md'}"

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        if fmt == "markdown":
            await pilot.click("#markdown")
            assert app.screen.query_one("#export-path").value == "hostcheck-report.md"
        app.screen.query_one("#export-path").value = str(target)
        if fmt == "markdown":
            await pilot.click("#save")  # the mouse …
        else:
            await pilot.press("enter")  # … or Enter in the file name
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)

    app = drive(Source(fixture="stock-128g"), steps)
    assert app.report is not None
    text = target.read_text()
    if fmt == "json":
        data = json.loads(text)
        cli = json.loads(run_subprocess("scan", "--fixture", "stock-128g", "--format", "json").out)
        for volatile in ("duration_seconds", "generated"):  # when, and how long
            data.pop(volatile), cli.pop(volatile)
        assert data == cli
    else:
        from hostcheck.render.markdown import render

        assert text == render(app.report)
        assert text.startswith("# hostcheck: framework-desktop is NOT READY")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_export_format_follows_a_typed_extension(tmp_path: Path) -> None:
    target = tmp_path / "report.md"

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("e")
        await pilot.press("ctrl+u", *str(target), "enter")
        await pilot.pause()

    drive(Source(fixture="stock-128g"), steps)
    assert target.read_text().startswith("# hostcheck: framework-desktop is NOT READY")


def test_export_to_a_missing_directory_shows_the_error(tmp_path: Path) -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("e")
        app.screen.query_one("#export-path").value = str(tmp_path / "nope" / "r.json")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen)
        assert text_of(app, "#message-body").endswith("r.json: No such file or directory")

    drive(Source(fixture="stock-128g"), steps)


def test_help_lists_every_binding_of_every_screen() -> None:
    import importlib
    import inspect
    import pkgutil

    from textual.screen import Screen

    import hostcheck.tui.screens as screens

    # Every screen class the TUI defines (one a module), found independently of the help's
    # own list, with all the keys live on it: its own and those inherited from Textual.
    modules = [
        importlib.import_module(f"{screens.__name__}.{info.name}")
        for info in pkgutil.iter_modules(screens.__path__)
    ]
    owners: list[Any] = [HostcheckApp] + [
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Screen) and cls.__module__ == module.__name__
    ]
    assert len(owners) >= 7

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        lines = text_of(app, "#help-body").splitlines()
        count = 0
        for owner in owners:
            title = owner.HELP_TITLE
            assert title in lines, f"{owner.__name__} has no section in the help"
            start = lines.index(title) + 1
            section = lines[start : lines.index("", start)]
            keys = [line.split()[0] for line in section]
            for key, bindings in owner._merge_bindings().key_to_bindings.items():
                shown = app.get_key_display(bindings[-1])
                assert shown in keys, f"{owner.__name__}: {key} is missing from the help"
                count += 1
        assert "^q" in " ".join(lines)  # inherited from textual's App
        assert count >= 30
        # The Close button fits on an 80x24 screen.
        assert any("Close" in line for line in screen_lines(app)[:23])
        await pilot.press("escape")
        assert isinstance(app.screen, ReviewScreen)

    drive(Source(fixture="stock-128g"), steps)


def test_wide_terminal_puts_list_and_detail_side_by_side() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        table = review(app).query_one("#findings")
        detail = review(app).query_one("#detail-box")
        assert table.region.y == detail.region.y  # side by side
        assert detail.region.x >= table.region.right
        assert len(table_rows(app)) == ALL_RULES

    drive(Source(fixture="stock-128g"), steps, size=(160, 40))


def test_narrow_terminal_stacks_list_over_detail() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        table = review(app).query_one("#findings")
        detail = review(app).query_one("#detail-box")
        assert detail.region.y >= table.region.bottom
        assert table.region.height >= 5 and detail.region.height >= 5

    drive(Source(fixture="stock-128g"), steps)


def test_session_scan_agrees_with_the_cli() -> None:
    report = scan(Source(fixture="stock-128g")).report
    got = {f.rule.id: f.status.value for f in report.findings}
    want = expected("stock-128g")["status"]
    assert {rule: got.get(rule) for rule in want} == want
    assert {s for r, s in got.items() if r not in want} <= {"pass", "skip"}


# --- review findings: host text, races, busy state, failures, layout -----------------------

ESCAPES = "\x1b]0;OWNED\x07\x1b[2J"


def _poison(root: Path) -> None:
    """A process whose argv and environment carry terminal escape sequences."""
    cmdline = root / "proc/2211/cmdline"
    cmdline.write_bytes(cmdline.read_bytes().replace(b"Q4_K_M.gguf", f"Q4{ESCAPES}.gguf".encode()))
    environ = root / "proc/2211/environ"
    environ.write_bytes(environ.read_bytes().replace(b"=11.0.0", f"=11.0.0{ESCAPES}".encode()))


def test_host_text_with_escape_sequences_reaches_the_screen_escaped(fixture_copy) -> None:
    from hostcheck.fix.plan import Command, FileChange, Plan

    root = fixture_copy("stock-128g")
    _poison(root)
    visible = "\\x1b]0;OWNED\\x07\\x1b[2J"

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        table = review(app).query_one("#findings", DataTable)
        cells = [str(cell) for index in range(table.row_count) for cell in table.get_row_at(index)]
        assert not any("\x1b" in cell or "\x07" in cell for cell in cells)
        for rule in ("env.hsa-override", "llamacpp.mmap"):
            await select(pilot, app, rule)
            shown = "\n".join(screen_lines(app))
            assert "\x1b" not in shown and "\x07" not in shown
            assert "\\x1b]0;OWNED" in text_of(app, "#detail")
        assert visible in text_of(app, "#detail")
        # The plan: a diff, a command and a note with host text in them.
        plan = Plan(
            rules=("memory.gtt",),
            loader="grub",
            kernel_args_add=(),
            kernel_args_remove=(),
            modprobe=(),
            sysctl={},
            files=(
                FileChange(
                    f"/etc/x{ESCAPES}", f"A={ESCAPES}\n".encode(), b"A=1\n", f"why{ESCAPES}"
                ),
            ),
            commands=(Command(("echo", ESCAPES), f"because{ESCAPES}"),),
            reboot_required=False,
            notes=(f"note{ESCAPES}",),
        )
        app._show_plan(plan, f"interrupted{ESCAPES}")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)
        shown = "\n".join(screen_lines(app))
        assert "\x1b" not in shown and "\x07" not in shown
        assert f"-A={visible}" in shown and f"echo '{visible}'" in shown
        assert f"note: note{visible}" in shown and f"warning: interrupted{visible}" in shown

    drive(Source(root=str(root)), steps)


def test_a_stale_scan_never_overwrites_a_newer_one(fixture_copy, monkeypatch) -> None:
    import threading

    import hostcheck.tui.app as tui_app

    root = fixture_copy("stock-128g")
    real_scan = tui_app.scan
    release = threading.Event()
    finished = threading.Event()
    first: list[threading.Thread] = []

    def slow_first_scan(source: Source) -> Any:
        result = real_scan(source)  # the host as it is now …
        if not first:
            first.append(threading.current_thread())
            release.wait(30)  # … returned only after a newer scan is shown
            finished.set()
        return result

    monkeypatch.setattr(tui_app, "scan", slow_first_scan)
    app = HostcheckApp(Source(root=str(root)), start_filter="all")

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: bool(first), "the first scan read the host")
            group = root / "etc/group"
            group.write_text(group.read_text().replace("render:x:992:", "render:x:992:llm"))
            await pilot.press("r")
            await until(pilot, lambda: app.report is not None, "the rescan was shown")
            assert {r: s for r, s, _ in table_rows(app)}["devices.kfd"] == "✓ pass"
            release.set()
            # Not Thread.join: a worker thread may be a pooled one that the join would run on.
            await asyncio.to_thread(finished.wait, 30)
            await app.workers.wait_for_complete()
            await pilot.pause()
            # The first scan finished last, with the old statuses: dropped.
            assert {r: s for r, s, _ in table_rows(app)}["devices.kfd"] == "✓ pass"
            assert "✗ 1 fail" in text_of(app, "#summary")

    asyncio.run(main())


def test_during_an_apply_a_is_refused_and_every_screen_above_the_review_goes(
    fixture_copy, monkeypatch
) -> None:
    import threading

    import hostcheck.fix.transaction as fixer

    root = fixture_copy("stock-128g")
    real_apply = fixer.apply
    release = threading.Event()
    calls: list[int] = []

    def slow_apply(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        release.wait(30)
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(fixer, "apply", slow_apply)

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("a", "y")
        await until(pilot, lambda: bool(calls), "the apply started")
        assert isinstance(app.screen, PlanScreen)
        assert text_of(app, "#plan-status") == "Applying the changes…"
        assert "Applying the changes…" in "\n".join(screen_lines(app))
        await pilot.press("a")  # a second apply: not offered while the first runs
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        release.set()
        await settle(pilot)
        # The outcome, straight over the rescanned findings: no help, no stale plan under it.
        assert isinstance(app.screen, MessageScreen)
        assert text_of(app, "#message-body").startswith("Applied as transaction ")
        assert [type(s) for s in app.screen_stack[1:]] == [ReviewScreen, MessageScreen]
        assert len(calls) == 1
        await pilot.press("escape")
        assert {r: s for r, s, _ in table_rows(app)}["memory.gtt"] == "↻ PENDING"

    drive(Source(root=str(root)), steps)


def test_keys_typed_fast_after_slash_go_to_the_search() -> None:
    from textual import events

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        # One read from the terminal: the keys arrive before the search box has the focus.
        keys = [("slash", "/"), *((c, c) for c in "iommu"), ("q", "q")]
        for key, character in keys:
            app.post_message(events.Key(key, character))
        await settle(pilot)
        assert app.is_running  # q was typed, not a quit
        assert isinstance(app.screen, ReviewScreen)  # u was typed, not an undo
        assert review(app).query_one("#search").value == "iommuq"
        await pilot.press("backspace")
        assert [rule for rule, *_ in table_rows(app)] == ["perf.iommu"]
        assert "Enter: to the list · Esc: clear the search" in text_of(app, "#filter-label")

    drive(Source(fixture="stock-128g"), steps)


def test_a_failed_rescan_clears_the_list_and_refuses_plan_and_apply(fixture_copy) -> None:
    import shutil

    root = fixture_copy("stock-128g")

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        assert table_rows(app)
        shutil.rmtree(root)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert text_of(app, "#message-body").startswith("The scan failed: ")
        await pilot.press("escape")
        assert table_rows(app) == []
        assert text_of(app, "#summary").startswith("Scan failed")
        for key in ("p", "u", "e"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, ReviewScreen), key
        toasts = " ".join(str(t.render()) for t in app.screen.query("Toast"))
        assert "The last scan failed" in toasts and "still running" not in toasts

    drive(Source(root=str(root)), steps, notifications=True)
    assert not root.exists()  # nothing recreated the deleted tree


def test_a_first_scan_that_fails_is_not_called_still_running(tmp_path: Path) -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        assert isinstance(app.screen, MessageScreen)
        await pilot.press("escape", "p", "e")
        await pilot.pause()
        toasts = " ".join(str(t.render()) for t in app.screen.query("Toast"))
        assert "The last scan failed" in toasts and "still running" not in toasts

    drive(Source(root=str(tmp_path / "gone")), steps, notifications=True)


def test_summary_shows_verdict_and_target_with_a_long_root_and_hostname(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    deep = root.parent / ("d" * 60) / ("e" * 60) / "the-box-under-test"
    deep.parent.mkdir(parents=True)
    root.rename(deep)
    (deep / "proc/sys/kernel/hostname").write_text("h" * 150 + "\n")

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        summary = review(app).query_one("#summary")
        lines = screen_lines(app)[summary.region.y : summary.region.bottom]
        shown = "\n".join(lines)
        assert lines[0].startswith(" NOT READY hhhh") and "✗ 3 fail" in lines[0]
        assert "…" in lines[0]  # the host name, cut
        assert "the-box-under-test" in shown and "the tree at " in shown
        assert summary.region.height <= 4

    drive(Source(root=str(deep)), steps)


def test_an_unreadable_journal_shows_a_message_not_a_traceback(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    journal = root / "var/lib/hostcheck/fix"
    journal.mkdir(parents=True)
    (journal / "20260101T000000.000000Z-0000.json").write_text("[]\n")  # not a record

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert text_of(app, "#message-body")  # what went wrong, in words
        assert "Cannot undo" in "\n".join(screen_lines(app))
        await pilot.press("escape", "p")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)  # the plan, with the journal's problem
        assert text_of(app, "#plan-warning").startswith("warning: cannot read the fix journal")

    drive(Source(root=str(root)), steps)


def test_dialogs_show_their_buttons_and_keys_at_80x24(fixture_copy) -> None:
    root = fixture_copy("stock-128g")

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        shown = "\n".join(screen_lines(app))
        assert "Keys: y yes · n no · esc cancel" in shown
        assert "Apply" in shown and " No " in shown
        await pilot.press("n", "escape", "question_mark")
        shown = "\n".join(screen_lines(app))
        assert "Keys: esc close" in shown and "Close" in shown
        close = app.screen.query_one("#close")
        assert close.region.bottom <= 24 and close.region.height == 3

    drive(Source(root=str(root)), steps)


def test_long_diff_lines_keep_their_sign() -> None:
    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        diff = screen.query(".diff").first(Static)
        lines = screen_lines(app)[diff.region.y : min(diff.region.bottom, 23)]
        body = [line[diff.region.x : diff.region.right] for line in lines]
        assert body and all(line[:1] in "+-@ " and line.strip() for line in body), body
        # A line longer than the screen is one row, cut at the edge, not wrapped.
        assert any(line.startswith("+# hostcheck-add: ttm.pages_limit") for line in body)
        assert diff.virtual_region.width > 80

    drive(Source(fixture="stock-128g"), steps)


def _interrupt_last_transaction(root: Path) -> str:
    from hostcheck.fix import transaction
    from hostcheck.fix.plan import PlanOptions, build

    done = scan(Source(root=str(root)))
    plan = build(done.report, done.facts, done.host, PlanOptions())
    tx = transaction.apply(done.host, plan, log=lambda _line: None)
    path = root / "var/lib/hostcheck/fix" / f"{tx.id}.json"
    data = json.loads(path.read_text())
    data["state"] = "started"
    data["steps"][-1]["done"] = False
    path.write_text(json.dumps(data))
    return tx.id


def test_plan_warns_of_an_interrupted_transaction(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    tx_id = _interrupt_last_transaction(root)

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)
        warning = text_of(app, "#plan-warning")
        assert warning.startswith(f"warning: transaction {tx_id} was interrupted while applying")
        assert "hostcheck fix --resume" in warning
        assert "warning: transaction" in "\n".join(screen_lines(app)[:4])

    drive(Source(root=str(root)), steps)


def test_undo_of_edited_files_names_the_force_command(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    dropin = root / "etc/default/grub.d/99-hostcheck.cfg"

    async def steps(pilot: Pilot[Any], app: HostcheckApp) -> None:
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("a", "y")
        await settle(pilot)
        await pilot.press("escape")
        dropin.write_text(dropin.read_text() + "# my own edit\n")
        await pilot.press("u")
        await settle(pilot)
        tx_id = app.screen.body.split()[1]  # "Transaction ID (…) fixed …"
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        body = text_of(app, "#message-body")
        assert "changed since hostcheck wrote them" in body
        assert f"run: hostcheck fix --root {root} --undo {tx_id} --force" in body

    drive(Source(root=str(root)), steps)
    assert dropin.read_text().endswith("# my own edit\n")  # the edit was kept


# --- snapshots (80×24) ------------------------------------------------------------------------
# The screens show no duration, no temporary path and no time of day; fixtures are named, not
# located; the search cursor does not blink. So a snapshot changes only when the screen does.


async def _ready(pilot: Pilot[Any]) -> None:
    await settle(pilot)


def _then(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run


# The screens are pictured with a fixed set of rules, so a rule added to the catalog does not
# change these pictures (the rendering is what they test; the catalog has its own tests).
SNAPSHOT = Source(fixture="stock-128g", select=PICTURED_RULES)


def test_snapshot_findings(snap_compare) -> None:
    assert snap_compare(HostcheckApp(SNAPSHOT), run_before=_ready)


def test_snapshot_detail_of_a_failing_rule(snap_compare) -> None:
    app = HostcheckApp(SNAPSHOT)
    assert snap_compare(app, run_before=_then("down", "down", "space"))


def test_snapshot_plan(snap_compare) -> None:
    app = HostcheckApp(SNAPSHOT)
    assert snap_compare(app, run_before=_then("m", "p"))


def test_snapshot_help(snap_compare) -> None:
    app = HostcheckApp(SNAPSHOT)
    assert snap_compare(app, run_before=_then("question_mark"))


# --- in a real terminal -----------------------------------------------------------------------


@pytest.mark.system
def test_starts_in_a_real_terminal_and_ctrl_c_quits(tmp_path: Path) -> None:
    """`hostcheck tui --fixture stock-128g` in tmux: the review shows the problems, Ctrl-C
    ends it with status 0 (the pilot tests above never open a terminal)."""
    import time

    from tests.conftest import system_tool

    tmux = system_tool("tmux")
    socket = str(tmp_path / "tmux.sock")
    status = tmp_path / "status"
    command = (
        f"cd {REPO} && {sys.executable} -m hostcheck tui --fixture stock-128g; echo $? > {status}"
    )
    env = {**os.environ, "TERM": "xterm-256color", "HOSTCHECK_CONFIG": os.devnull}
    base = [tmux, "-S", socket, "-f", os.devnull]
    subprocess.run(
        [*base, "new-session", "-d", "-x", "100", "-y", "30", command],
        check=True,
        env=env,
        timeout=30,
    )
    try:

        def screen() -> str:
            done = subprocess.run(
                [*base, "capture-pane", "-p"], capture_output=True, text=True, timeout=30
            )
            return done.stdout

        deadline = time.monotonic() + 60
        while "filter: problems (f) · 7 shown" not in screen():
            assert time.monotonic() < deadline, screen()
            time.sleep(0.2)
        subprocess.run([*base, "send-keys", "C-c"], check=True, timeout=30)
        deadline = time.monotonic() + 30
        while not status.exists():
            assert time.monotonic() < deadline, screen()
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, timeout=30)
