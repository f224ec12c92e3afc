"""Reports as their consumers read them: JSON against the shipped schema, JUnit through
xml.etree, Markdown and the terminal table as a person reads them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources

import jsonschema
import pytest

from hostcheck.render.json import SCHEMA_VERSION
from tests.conftest import ALL_RULES, FIXTURE_NAMES, expected

SCHEMA = json.loads(resources.files("hostcheck").joinpath("schemas/report.schema.json").read_text())
# One validator for every report: jsonschema.validate() checks the schema itself against the
# 2020-12 metaschema on each call (~0.1 s); that check is its own test below.
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_shipped_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_json_report_validates_against_the_shipped_schema(cli, name: str) -> None:
    report = cli("scan", "--fixture", name, "--format", "json", *expected(name)["args"]).json()
    VALIDATOR.validate(report)
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["summary"] == {
        s: sum(1 for f in report["findings"] if f["status"] == s)
        for s in SCHEMA["$defs"]["finding"]["properties"]["status"]["enum"]
    }


def test_a_schema_1_0_report_still_validates_against_the_current_schema(cli) -> None:
    """1.1 and 1.2 only added fields and statuses: what a 1.0 producer wrote stays valid."""
    report = cli("scan", "--fixture", "stock-128g", "--format", "json").json()
    report["schema_version"] = "1.0"
    del report["generated"]
    del report["summary"]["waived"]
    del report["summary"]["fixed-pending-reboot"]
    VALIDATOR.validate(report)
    report["findings"][0]["waiver"] = {"reason": "x"}  # a waiver must be complete
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(report)


def test_schema_rejects_a_report_that_breaks_the_contract(cli) -> None:
    report = cli("scan", "--fixture", "stock-128g", "--format", "json").json()
    report["findings"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(report)


def test_json_findings_are_grouped_by_area_failing_first(cli) -> None:
    findings = cli("scan", "--fixture", "stock-128g", "--format", "json").json()["findings"]
    assert findings[0]["status"] == "fail"
    areas = [f["area"] for f in findings]
    # each area appears as one contiguous block
    assert areas == sorted(
        areas, key=lambda a: [x for i, x in enumerate(areas) if x not in areas[:i]].index(a)
    )


def test_junit_parses_and_maps_statuses(cli) -> None:
    run = cli("scan", "--fixture", "rocm5590-mes-hang", "--format", "junit")
    assert run.code == 1
    root = ET.fromstring(run.out)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert len(cases) == ALL_RULES
    failure = cases["amdgpu.cwsr"].find("failure")
    assert failure is not None and "ROCm#5590" in failure.get("message", "")
    assert "amdgpu.cwsr_enable=0" in (failure.text or "")
    assert cases["torch.gfx1151"].find("skipped") is not None
    assert "[warn]" in (cases["log.gpu-hangs"].findtext("system-out") or "")
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "hostcheck.amdgpu")
    assert suite.get("failures") == "1" and suite.get("tests") == "1"


def test_markdown_has_verdict_table_and_details(cli) -> None:
    text = cli("scan", "--fixture", "mes-0x83", "--format", "markdown").out
    assert text.startswith("# hostcheck: fedora-strix is NOT READY")
    assert "| ✗ FAIL | `firmware.mes` | MES firmware 0x00000083 is known bad" in text
    assert (
        "- MES firmware: `0x00000083` from `/sys/class/drm/card1/device/fw_version/mes_fw_version`"
        in text
    )
    assert (
        "- references: https://github.com/ROCm/legacy-rocm-build/issues/5724, "
        "https://github.com/ROCm/legacy-rocm-build/issues/5991, "
        "https://github.com/ROCm/legacy-rocm-build/issues/6165" in text
    )


def test_table_reads_without_colour(cli) -> None:
    run = cli("scan", "--fixture", "stock-128g")
    assert "\x1b[" not in run.out  # not a terminal: no escape codes
    assert "hostcheck 0.1.0 — framework-desktop: NOT READY" in run.out
    assert "✗ FAIL" in run.out and "▲ WARN" in run.out
    assert "Raise the TTM limit to 114 GiB" in run.out
    assert "– skip torch.gfx1151: No Python environment given" in run.out
    colour = cli("scan", "--fixture", "stock-128g", "--color", "always")
    assert "\x1b[" in colour.out


def test_table_verbose_shows_evidence_with_sources(cli) -> None:
    out = cli("scan", "--fixture", "stock-128g", "--verbose", "--select", "memory.gtt").out
    assert "GTT size: 61.3 GiB (65867350016 bytes)" in out
    assert "/sys/class/drm/card1/device/mem_info_gtt_total" in out
    assert "fix: Set ttm.pages_limit=29884416 and ttm.page_pool_size=29884416" in out


def test_control_characters_from_the_host_cannot_break_reports(cli, fixture_copy) -> None:
    """An ESC in a process's argv must not reach the terminal raw nor break the XML."""
    root = fixture_copy("stock-128g")
    argv = "/opt/llama.cpp/bin/llama-server\0-m\0/models/\x1b[2Jevil.gguf\0"
    (root / "proc/2211/cmdline").write_text(argv)
    junit = cli("scan", "--root", str(root), "--format", "junit")
    ET.fromstring(junit.out)  # well-formed
    assert "\\x1b[2Jevil" in junit.out
    table = cli("scan", "--root", str(root), "--verbose", "--color", "never")
    assert "\x1b" not in table.out and "\\x1b[2Jevil" in table.out
    markdown = cli("scan", "--root", str(root), "--format", "markdown")
    assert "\x1b" not in markdown.out


def test_scan_reports_carry_their_generation_time(cli) -> None:
    """Schema 1.3: every scan says when it ran, in UTC (`hostcheck fleet` keeps a node's newest
    report by it)."""
    import datetime

    for name in ("stock-128g", "tuned-ready"):
        report = cli("scan", "--fixture", name, "--format", "json").json()
        assert report["schema_version"] == SCHEMA_VERSION
        when = datetime.datetime.fromisoformat(report["generated"])
        assert report["generated"].endswith("Z") and when.utcoffset() == datetime.timedelta(0)
        age = datetime.datetime.now(datetime.UTC) - when
        assert datetime.timedelta(0) <= age < datetime.timedelta(hours=1)


def test_generated_validates_only_as_a_utc_time(cli) -> None:
    report = cli("scan", "--fixture", "stock-128g", "--format", "json").json()
    checker = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    checker.validate(report)
    for bad in ("2026-01-31T12:00:00+02:00", "yesterday"):
        with pytest.raises(jsonschema.ValidationError):
            checker.validate({**report, "generated": bad})


def test_piped_table_is_plain_text_with_the_same_columns(cli) -> None:
    """Not a terminal: no box drawing and no rich (a faster start); the terminal's table
    (rich, forced here with --color always) has the same rows and words."""
    plain = cli("scan", "--fixture", "rocm5590-mes-hang", "--verbose").out
    assert not set("┏┃━│─┼└┘") & set(plain)
    lines = plain.splitlines()
    # after the verdict, the kernel/GPU line and what kind of node was judged
    assert lines[3].split() == ["status", "rule", "finding"] or lines[4].split() == [
        "status",
        "rule",
        "finding",
    ]
    fail = next(line for line in lines if line.startswith("✗ FAIL    amdgpu.cwsr "))
    assert "CWSR is enabled but the kernel half is missing" in fail
    assert "  cwsr_enable (live): 1" in plain
    rich = cli("scan", "--fixture", "rocm5590-mes-hang", "--verbose", "--color", "always").out
    assert "┏" in rich
    for word in ("✗ FAIL", "amdgpu.cwsr", "kernel.rocm-floor", "exit status 1"):
        assert plain.count(word) == rich.count(word) > 0, word


def test_piped_table_does_not_import_rich() -> None:
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib\n"
        "from hostcheck.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['scan', '--fixture', 'stock-128g'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'shutil', 'tempfile'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "[]", done.stderr


def test_renderer_takes_a_format_or_its_name() -> None:
    from hostcheck.render import FORMATS, Format, renderer

    assert tuple(Format) == FORMATS
    for fmt in Format:
        assert renderer(fmt) is renderer(fmt.value)
    with pytest.raises(ValueError, match="not a valid Format"):
        renderer("formats")  # a module of the package, not a format


def test_the_format_enum_is_made_only_when_asked_for() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hostcheck.render import renderer\n"
        "renderer('json')\n"
        "print('hostcheck.render.formats' in sys.modules)\n"
        "from hostcheck.render import Format\n"
        "print(Format.JSON.value, 'hostcheck.render.formats' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["False", "json", "True"], done.stderr
