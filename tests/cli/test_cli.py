"""Exit codes and messages of the command line (DESIGN.md contract): 0 ready, 1 not ready,
2 usage or input error, 3 internal error — and never a traceback for a user's mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_NAMES, run_subprocess


def test_ready_host_exits_0_and_not_ready_exits_1(cli) -> None:
    assert cli("scan", "--fixture", "tuned-ready", "--python", "/opt/vllm/bin/python3").code == 0
    assert cli("scan", "--fixture", "stock-128g").code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "--fixture", "nope"], "no bundled fixture 'nope'; available: dkms-amdttm"),
        (["scan", "--root", "/does/not/exist"], "--root /does/not/exist: no such directory"),
        (["scan", "--select", "kernel.nope"], "unknown rule id(s): kernel.nope"),
        (["scan", "--profile", "405b"], "unknown profile '405b'; available: 70b-q8"),
        (
            ["scan", "--timeout", "0"],
            "argument --timeout: expected a number of seconds above 0 and at most 86400",
        ),
        (["scan", "--host-mount"], "--host-mount needs --root DIR"),
        (["explain", "nope.rule"], "unknown rule id 'nope.rule'"),
        (["scan", "--format", "yaml"], "invalid choice: 'yaml'"),
        (
            ["scan", "--env-file", "/does/not/exist.env"],
            "--env-file /does/not/exist.env: No such file",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(cli, args: list[str], message: str) -> None:
    run = cli(*args)
    assert run.code == 2
    assert message in run.err
    assert "Traceback" not in run.err
    assert run.out == ""


def test_root_that_is_a_file_is_an_input_error(cli, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    run = cli("scan", "--root", str(target))
    assert run.code == 2 and f"--root {target}: not a directory" in run.err


def test_bad_env_file_line_names_file_and_line(cli, tmp_path: Path) -> None:
    env = tmp_path / "bad.env"
    env.write_text("GOOD=1\nthis is not an assignment\n")
    run = cli("scan", "--fixture", "tuned-ready", "--env-file", str(env))
    assert run.code == 2
    assert f"--env-file {env}, line 2: expected KEY=VALUE" in run.err


def _rule_dir(tmp_path: Path, name: str, text: str) -> Path:
    """A rule directory holding the bundled profiles and one rule file."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "profiles.toml").write_text(
        (Path(__file__).parents[2] / "rules" / "profiles.toml").read_text()
    )
    (rules / name).write_text(text)
    return rules


def test_invalid_rule_file_is_an_input_error_naming_file_and_key(cli, tmp_path: Path) -> None:
    rules = _rule_dir(
        tmp_path,
        "kernel.version.toml",
        'id = "kernel.version"\ntitle = "x"\nseverity = "urgent"\n',
    )
    run = cli("scan", "--fixture", "stock-128g", "--rules", str(rules))
    assert run.code == 2
    assert "kernel.version.toml: severity 'urgent' is not one of critical, high" in run.err
    (rules / "kernel.version.toml").write_text("id = [broken")
    run = cli("rules", "--rules", str(rules))
    assert run.code == 2 and "kernel.version.toml: not valid TOML" in run.err


def test_rule_with_unknown_check_kind_is_refused(cli, tmp_path: Path) -> None:
    rules = _rule_dir(
        tmp_path,
        "site.local.toml",
        'id = "site.local"\ntitle = "t"\nseverity = "low"\nreferences = []\nrationale = "r"\n'
        'command = "true"\n[check]\nkind = "shell"\nrun = "rm -rf /"\n',
    )
    run = cli("rules", "--rules", str(rules))
    assert run.code == 2 and "[check] kind 'shell' is not a known check kind" in run.err


def test_output_file_is_written_and_stdout_stays_empty(cli, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = cli("scan", "--fixture", "stock-128g", "--format", "json", "--output", str(out))
    assert run.code == 1 and run.out == ""
    assert json.loads(out.read_text())["ready"] is False


def test_output_to_unwritable_place_is_an_input_error(cli) -> None:
    run = cli("scan", "--fixture", "stock-128g", "--output", "/does/not/exist/report.json")
    assert run.code == 2 and "--output /does/not/exist/report.json" in run.err


def test_internal_error_exits_3_without_traceback(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug anywhere below the CLI (injected into the engine) is exit 3 and one line."""
    import hostcheck.checks.engine

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(hostcheck.checks.engine, "run", broken)
    run = cli("scan", "--fixture", "stock-128g")
    assert run.code == 3
    assert "internal error: RuntimeError: injected fault" in run.err
    assert "Traceback" not in run.err


def test_rules_lists_every_rule_and_explain_prints_its_documentation(cli) -> None:
    from hostcheck.checks.catalog import load_catalog

    listing = cli("rules").out.splitlines()
    every = sorted(rule.id for rule in load_catalog()[0])  # functional.* included
    assert len(listing) == len(every) and listing[0].startswith(every[0])
    text = cli("explain", "memory.gtt").out
    assert "memory.gtt — The GPU can address enough memory for the profile" in text
    assert "headroom_gib = 8" in text
    assert "see it yourself: cat /sys/class/drm/card*/device/mem_info_gtt_total" in text
    profiles = cli("rules", "--profiles").out
    assert "70b-q8     needs    92 GiB" in profiles and "(default)" in profiles


def test_fixtures_command_lists_the_bundled_hosts(cli) -> None:
    out = cli("fixtures").out
    assert "stock-128g" in out and "no-amd-gpu" in out
    assert len(out.splitlines()) == len(FIXTURE_NAMES)


def test_help_answers_the_exit_codes() -> None:
    run = run_subprocess("scan", "--help")
    assert run.code == 0
    assert "0 ready; 1 not ready" in run.out and "--host-mount" in run.out


def test_host_mount_reads_the_running_kernels_log_not_a_recording(cli) -> None:
    """In a container with the host's / at --root, the kernel log is the running kernel's."""
    from tests.conftest import FIXTURES

    run = cli(
        "scan",
        "--root",
        str(FIXTURES / "tuned-ready"),
        "--host-mount",
        "--format",
        "json",
        "--select",
        "log.gpu-hangs",
    )
    log = run.finding("log.gpu-hangs")
    sources = {e["source"] for e in log["evidence"]}
    assert "/.hostcheck/dmesg.txt" not in sources
    assert sources & {
        "dmesg",
        "dmesg / journalctl -k",
        "journalctl -k -b -o short-monotonic --no-pager",
    }


def test_select_cannot_make_a_host_without_strix_halo_ready(cli) -> None:
    run = cli("scan", "--fixture", "no-amd-gpu", "--format", "json", "--select", "memory.gtt")
    assert run.code == 1 and run.json()["ready"] is False


def test_host_text_is_never_read_as_table_markup(cli, fixture_copy) -> None:
    root = fixture_copy("tuned-ready")
    (root / "opt/rocm/.info/version").write_text("7.2.1[/]\n")
    (root / "proc/sys/kernel/hostname").write_text("host[bold]x\n")
    run = cli("scan", "--root", str(root))
    assert run.code in (0, 1) and "Traceback" not in run.err
    assert "host[bold]x" in run.out


def test_a_closed_pipe_keeps_the_verdict_in_the_exit_status() -> None:
    import subprocess
    import sys

    reader = subprocess.Popen(
        [sys.executable, "-m", "hostcheck", "scan", "--fixture", "stock-128g", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert reader.stdout is not None
    reader.stdout.close()  # the reader is gone before the report is written (`| true`)
    reader.wait(timeout=60)
    assert reader.returncode == 1
    assert b"Traceback" not in reader.stderr.read()


def test_output_file_gets_the_umask_mode(cli, tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "report.json"
        cli("scan", "--fixture", "stock-128g", "--format", "json", "--output", str(out))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_output_into_a_fifo_writes_into_it_and_keeps_the_node(cli, tmp_path: Path) -> None:
    """`-o /dev/null` or a FIFO is written into: replacing it (as the atomic rename would)
    turned /dev/null into a regular file once. A FIFO stands in for the device here."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    run = cli("scan", "--fixture", "stock-128g", "--format", "json", "--output", str(fifo))
    reader.join(timeout=30)
    assert run.code == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["host"]["hostname"] == "framework-desktop"


def test_output_through_a_symlink_replaces_the_file_and_keeps_the_link(cli, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    assert cli("scan", "--fixture", "stock-128g", "--format", "json", "-o", str(link)).code == 1
    assert link.is_symlink()
    assert json.loads(target.read_text())["schema_version"].startswith("1.")


def test_top_level_help_lists_every_subcommand_with_its_summary() -> None:
    """Only the subcommand being run is built in full; the others keep their one-line help."""
    run = run_subprocess("--help")
    assert run.code == 0
    for name in (
        "scan",
        "monitor",
        "rules",
        "explain",
        "fixtures",
        "fix",
        "tui",
        "nfd",
        "fleet",
        "snapshot",
    ):
        assert f"\n    {name} " in run.out, name
    assert "preview, apply and undo fixes" in run.out
    assert run_subprocess("fix", "--help").out.count("--module-options") >= 1


# --- first use (issue #13) -------------------------------------------------------------------


def test_select_on_a_host_without_the_gpu_says_why_and_how_many_rules(cli) -> None:
    run = cli("scan", "--fixture", "no-amd-gpu", "--select", "amdgpu.cwsr")
    assert run.code == 1
    assert "--select: checked 1 of the catalog's" in run.out
    assert "Not ready: no Strix Halo GPU (PCI 1002:1586, gfx1151) was found" in run.out


def test_an_empty_root_is_not_a_host_root(cli, tmp_path: Path) -> None:
    run = cli("scan", "--root", str(tmp_path))
    assert run.code == 2 and run.out == ""
    assert run.err == (
        f"hostcheck: error: --root {tmp_path}: this is not a host root (none of /proc, /sys, "
        "/etc is in it); give the directory that holds a host's / (a fixture copy, an unpacked "
        "snapshot, the host mounted in a container)\n"
    )


def test_the_scans_last_line_points_to_fix_and_tui(cli) -> None:
    stock = cli("scan", "--fixture", "stock-128g")
    assert " ".join(stock.out.split()).endswith(
        "Next: `hostcheck fix` (with this scan's options) shows the changes for memory.gtt, "
        "perf.iommu; `hostcheck tui` reviews and applies them interactively."
    ), stock.out
    ready = cli("scan", "--fixture", "tuned-ready")
    assert ready.code == 0 and "hostcheck fix" not in ready.out


def test_mistyped_rule_ids_get_a_suggestion(cli) -> None:
    for args in (
        ["scan", "--fixture", "stock-128g", "--select", "memory.gt"],
        ["explain", "amdgpu.cswr"],
        ["fix", "--fixture", "stock-128g", "--only", "memory.gt"],
        ["fix", "--fixture", "stock-128g", "--exclude", "perf.iomu"],
    ):
        run = cli(*args)
        assert run.code == 2, args
        assert "did you mean" in run.err and run.err.count("\n") == 1, run.err
    assert (
        "did you mean 'memory.gtt'?"
        in cli("scan", "--fixture", "stock-128g", "--select", "memory.gt").err
    )
    assert "did you mean 'amdgpu.cwsr'?" in cli("explain", "amdgpu.cswr").err


@pytest.mark.parametrize("name", ["stock-128g", "tuned-ready", "rocm5590-mes-hang", "typo-kargs"])
def test_messages_stand_alone_without_internal_jargon(cli, name: str, tmp_path: Path) -> None:
    """Findings' messages and fixes are read by users who have no design notes or research
    files: "the seed report" or "facts §6" means nothing to them."""
    empty = tmp_path / "vllm.env"
    empty.write_text("")
    run = cli("scan", "--fixture", name, "--format", "json", "--env-file", str(empty))
    for finding in run.json()["findings"]:
        texts = [finding["message"], (finding["remediation"] or {}).get("summary", "")]
        for text in texts:
            for jargon in ("seed", "facts §", "DESIGN.md", "research/"):
                assert jargon not in text, (finding["rule"], text)


def test_the_program_gives_the_same_bytes_and_status_as_main_in_process(cli) -> None:
    """The program (`python -m hostcheck`, the console script) ends without the interpreter's
    teardown once its output is flushed: what it printed and its exit status are exactly what
    main() gives in the same process, for reports, a fix preview and an error."""
    import re

    def masked(text: str) -> str:  # the run's time and duration
        return re.sub(r'"(generated|duration_seconds)": [^,\n]*', "", text)

    for args in (
        ("scan", "--fixture", "stock-128g", "--format", "json"),
        ("scan", "--fixture", "tuned-ready", "--format", "markdown"),
        ("fix", "--fixture", "stock-128g"),
        ("explain", "no.such-rule"),
    ):
        program, here = run_subprocess(*args), cli(*args)
        assert (program.code, program.err) == (here.code, here.err), args
        assert masked(program.out) == masked(here.out), args
        assert program.out or program.err, args


def test_a_json_scan_imports_only_what_it_uses() -> None:
    """A scan loads the scan command's module and no other command's, and none of the
    modules that cost start-up time for nothing here: argparse (a plain command line is read
    without it), the TOML parser (no drop-in rules), signal (no functional probe), tempfile,
    shutil, importlib.resources, rich, textual."""
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib\n"
        "from hostcheck.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['scan', '--fixture', 'stock-128g', '--format', 'json'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('hostcheck.cli.')))\n"
        "print(sorted(({m.split('.')[0] for m in sys.modules} | set(sys.modules)) & "
        "{'argparse', 'gettext', 'locale', 'tomllib', 'signal', 'tempfile', 'shutil', 'rich',"
        " 'textual', 'importlib.resources'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    cli_modules, costly = done.stdout.splitlines()
    assert cli_modules == str(
        [
            "hostcheck.cli.common",
            "hostcheck.cli.config",
            "hostcheck.cli.main",
            "hostcheck.cli.options",
            "hostcheck.cli.scan",
        ]
    ), done.stderr
    assert costly == "[]"
