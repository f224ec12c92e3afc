"""Every bundled fixture host gives the verdicts written in its .hostcheck/expected.json.

expected.json holds, per fixture: the extra arguments of the scan, the exit status, the status
of the rules it lists (every rule it does not list must pass or not apply), and message /
evidence / remediation / reference fragments that must appear. `python tools/regen.py`
rewrites the statuses and shows the diff.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json

import pytest

from hostcheck.cli.main import main
from tests.conftest import ALL_RULES, FIXTURE_NAMES, RULE_IDS, expected


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_verdicts(cli, name: str) -> None:
    want = expected(name)
    run = cli("scan", "--fixture", name, "--format", "json", *want["args"])
    assert run.code == want["exit"], run.err
    report = run.json()
    got = {f["rule"]: f["status"] for f in report["findings"]}
    assert len(got) == ALL_RULES
    assert {rule: got.get(rule) for rule in want["status"]} == want["status"]
    # A rule the file does not list passes or does not apply: a new rule needs no edit here
    # unless it warns or fails on this host (tools/regen.py adds it then).
    unlisted = {rule: status for rule, status in got.items() if rule not in want["status"]}
    assert {r: s for r, s in unlisted.items() if s not in ("pass", "skip")} == {}
    assert report["ready"] is (want["exit"] == 0)
    for rule, fragment in want.get("message", {}).items():
        assert fragment in run.finding(rule)["message"], rule
    for rule, fragments in want.get("evidence", {}).items():
        text = " | ".join(
            f"{e['label']}={e['value']} [{e['source']}] {e.get('note') or ''}"
            for e in run.finding(rule)["evidence"]
        )
        for fragment in fragments:
            assert fragment in text, f"{rule}: {fragment!r} not in {text!r}"
    for rule, args in want.get("remediation", {}).items():
        remediation = run.finding(rule)["remediation"]
        assert remediation is not None, rule
        blob = " ".join(remediation["kernel_args"]["add"]) + " " + remediation["summary"]
        for arg in args:
            assert arg in blob, f"{rule}: {arg!r} not in {blob!r}"
    for rule, reference in want.get("references", {}).items():
        assert reference in run.finding(rule)["references"]


@functools.cache
def _statuses(name: str) -> dict[str, str]:
    """The statuses a bundled fixture's scan gives (with its expected.json's arguments)."""
    out = io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.suppress(SystemExit),
    ):
        main(["scan", "--fixture", name, "--format", "json", *expected(name)["args"]])
    return {f["rule"]: f["status"] for f in json.loads(out.getvalue())["findings"]}


def test_every_rule_passes_somewhere_and_not_elsewhere() -> None:
    """Each rule of the catalog has a fixture where it passes and one where it does not."""
    passes: set[str] = set()
    other: set[str] = set()
    for name in FIXTURE_NAMES:
        for rule, status in _statuses(name).items():
            if status == "pass":
                passes.add(rule)
            elif status in ("warn", "fail"):
                other.add(rule)
    assert set(RULE_IDS) - passes == set()
    assert set(RULE_IDS) - other == set()


def test_stock_host_fix_values_come_from_its_ram(cli) -> None:
    """The TTM limit offered is MemTotal - 8 GiB in whole GiB, as 4 KiB pages."""
    run = cli("scan", "--fixture", "stock-128g", "--format", "json", "--select", "memory.gtt")
    remediation = run.finding("memory.gtt")["remediation"]
    # MemTotal 128647168 kB = 122.69 GiB -> 114 GiB -> 114 * 262144 pages
    assert remediation["kernel_args"]["add"] == [
        "ttm.pages_limit=29884416",
        "ttm.page_pool_size=29884416",
    ]
    assert remediation["reboot_required"] is True
    assert remediation["kind"] == "kernel-args"


def test_profile_changes_the_memory_verdict(cli) -> None:
    """The stock host (61.3 GiB addressable) fails the 8-bit 70B and BF16 32B profiles, passes the 4-bit ones."""
    for profile, status in (
        ("70b-q8", "fail"),
        ("32b-bf16", "fail"),
        ("70b-q4", "pass"),
        ("32b-q4", "pass"),
    ):
        run = cli(
            "scan",
            "--fixture",
            "stock-128g",
            "--format",
            "json",
            "--profile",
            profile,
            "--select",
            "memory.gtt",
        )
        assert run.finding("memory.gtt")["status"] == status, profile


def test_fail_on_warn_makes_warnings_block(cli) -> None:
    run = cli("scan", "--fixture", "mes-0x83", "--format", "json", "--select", "log.gpu-hangs")
    assert run.code == 0 and run.finding("log.gpu-hangs")["status"] == "warn"
    run = cli(
        "scan",
        "--fixture",
        "mes-0x83",
        "--format",
        "json",
        "--select",
        "log.gpu-hangs",
        "--fail-on",
        "warn",
    )
    assert run.code == 1 and run.json()["ready"] is False


def test_env_file_is_checked_like_a_vllm_process(cli, tmp_path) -> None:
    env = tmp_path / "vllm.env"
    env.write_text(
        "# vLLM unit environment\nVLLM_ROCM_USE_AITER=1\nHSA_OVERRIDE_GFX_VERSION=11.0.0\n"
    )
    run = cli(
        "scan",
        "--fixture",
        "tuned-ready",
        "--format",
        "json",
        "--env-file",
        str(env),
        "--select",
        "vllm.env",
        "--select",
        "env.hsa-override",
    )
    assert run.finding("env.hsa-override")["status"] == "warn"
    vllm = run.finding("vllm.env")
    assert vllm["status"] == "warn"  # severity info: problems warn
    assert "AITER does not support gfx1151" in vllm["message"]
    assert any(e["source"] == str(env) for e in vllm["evidence"])
