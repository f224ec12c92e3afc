"""The functional probe (scan --functional): the probe script against a stand-in PyTorch at its
boundary (tests/data/fake_torch), installed in a real virtual environment as a serving
interpreter would have it. What a user sees is asserted: the functional.* findings, the exit
status, that the bound holds and that nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hostcheck.checks import engine
from hostcheck.checks.catalog import default_profile, load_catalog
from hostcheck.checks.kinds import Context
from hostcheck.facts import InferenceProcess
from hostcheck.host.core import Host
from hostcheck.probes import collect
from hostcheck.probes.functional import FunctionalOptions, lines_after, log_mark, probe_functional
from hostcheck.readings import Reason, Unavailable, Value
from tests.conftest import FIXTURES, REPO

FAKE_TORCH = REPO / "tests" / "data" / "fake_torch" / "torch"
# Small sizes keep each run well under a second with the stand-in's modelled speeds.
SMALL = ("--copy-mib", "32", "--bandwidth-mib", "64", "--matmul-n", "2048", "--repeat", "1")
NO_PROCESSES: Value[list[InferenceProcess]] = Value([], "test")


def _make_env(root: Path, with_torch: bool) -> Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120
    )
    python = root / "bin" / "python"
    if with_torch:
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        shutil.copytree(FAKE_TORCH, Path(purelib) / "torch")
    return python


@pytest.fixture(scope="module")
def serving_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtual environment whose `torch` is the stand-in: the interpreter that serves."""
    return str(_make_env(tmp_path_factory.mktemp("serving"), with_torch=True))


@pytest.fixture(autouse=True)
def clean_fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in reads its behaviour from the environment: start each test from none."""
    for name in list(os.environ):
        if name.startswith("FAKE_TORCH_"):
            monkeypatch.delenv(name)


def _run(python: str, target: float = 4, bound: float = 60, step: float = 30) -> Any:
    options = FunctionalOptions(
        python=python, target_gib=target, bound_s=bound, step_s=step, extra_args=SMALL
    )
    return probe_functional(Host("/"), options, NO_PROCESSES)


def _findings(functional: Any) -> dict[str, Any]:
    """The functional.* findings for a run, on a fixture host's other facts."""
    rules, profiles = load_catalog(None)
    facts = collect(Host(FIXTURES / "tuned-ready"))._replace(functional=functional)
    context = Context(profile=default_profile(profiles))
    return {
        rule.id: engine.evaluate(rule, facts, context)
        for rule in rules
        if rule.id.startswith("functional.")
    }


def _status(findings: dict[str, Any]) -> dict[str, str]:
    return {rule: finding.status.value for rule, finding in findings.items()}


def _gone(pid: int) -> bool:
    """The process has exited (gone, or a zombie waiting for its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def test_a_healthy_stack_passes_with_measured_figures(serving_python: str) -> None:
    run = _run(serving_python, target=6)
    assert isinstance(run, Value)
    findings = _findings(run)
    assert _status(findings) == {
        "functional.run": "pass",
        "functional.allocation": "pass",
        "functional.copy": "pass",
        "functional.memory-bandwidth": "pass",
        "functional.compute": "pass",
    }
    assert "Allocated and touched 6.0 GiB" in findings["functional.allocation"].message
    assert "Fake Radeon 8060S" in findings["functional.run"].message
    # the stand-in models 200 GB/s and 20 TFLOP/s: the figures are measured, not invented
    bandwidth = findings["functional.memory-bandwidth"].evidence[0].value
    assert 100 < float(str(bandwidth).split()[0]) < 260
    matmul = findings["functional.compute"].evidence[0].value
    assert 5 < float(str(matmul).split()[0]) < 25


def test_allocation_failing_at_n_gib_is_reported_where_it_failed(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TORCH_OOM_AT_GIB", "3")
    findings = _findings(_run(serving_python, target=8))
    allocation = findings["functional.allocation"]
    assert allocation.status.value == "fail"
    assert allocation.message.startswith("Allocation failed at 3.0 GiB of 8.0 GiB")
    assert "OutOfMemoryError" in allocation.message
    # the allocation is given back: the copies and kernels still run
    assert findings["functional.compute"].status.value == "pass"


def test_allocation_stops_at_the_headroom_of_shared_memory(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TORCH_TOTAL_GIB", "100000")  # the GPU says: plenty
    monkeypatch.setenv("FAKE_TORCH_INTEGRATED", "1")  # but it shares system memory
    findings = _findings(_run(serving_python, target=99999))
    allocation = findings["functional.allocation"]
    assert allocation.status.value == "fail"
    assert "MemAvailable less the headroom" in allocation.message


def test_a_copy_stall_gives_a_stall_finding_within_the_bound(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ROCm#5952's signature: 32 MiB taking 10 s. The step bound ends it long before."""
    monkeypatch.setenv("FAKE_TORCH_COPY_S_PER_MIB", str(10 / 32))
    began = time.monotonic()
    run = _run(serving_python, bound=40, step=2)
    took = time.monotonic() - began
    assert took < 10, f"took {took:.1f} s"
    findings = _findings(run)
    copy = findings["functional.copy"]
    assert copy.status.value == "fail"
    assert "stall" in copy.message and "ROCm#5952" in copy.message
    assert "host to device: never finished" in copy.message
    assert findings["functional.run"].status.value == "fail"
    assert "step h2d" in findings["functional.run"].message
    assert findings["functional.allocation"].status.value == "pass"  # done before the copy


def test_a_slow_copy_measured_below_the_stall_line_fails(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TORCH_COPY_S_PER_MIB", "0.02")  # 32 MiB in 0.64 s: 0.05 GB/s
    findings = _findings(_run(serving_python))
    copy = findings["functional.copy"]
    assert copy.status.value == "fail", copy.message
    assert "host to device 0.05" in copy.message
    assert findings["functional.run"].status.value == "pass"


def test_a_hang_is_killed_at_the_bound_with_nothing_left_running(
    serving_python: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The probe hangs in the matmul, deaf to its own watchdog (as a process stuck in the
    kernel), after starting a helper process: at the bound both are gone."""
    helper = tmp_path / "helper.pid"
    monkeypatch.setenv("FAKE_TORCH_HANG", "matmul")
    monkeypatch.setenv("FAKE_TORCH_HANG_DEAF", "1")
    monkeypatch.setenv("FAKE_TORCH_HANG_CHILD", str(helper))
    began = time.monotonic()
    run = _run(serving_python, bound=6, step=100)
    took = time.monotonic() - began
    assert 6 <= took < 12, f"took {took:.1f} s"
    assert isinstance(run, Value)
    assert run.value.timed_out == 6
    assert run.value.in_flight == "matmul"
    findings = _findings(run)
    hang = findings["functional.run"]
    assert hang.status.value == "fail"
    assert hang.message.startswith("The GPU probe hung in step matmul: killed with its process")
    assert "6 s bound" in hang.message
    assert findings["functional.compute"].status.value == "fail"
    assert findings["functional.copy"].status.value == "pass"  # the steps before it stand
    probe_pid = run.value.pid
    assert probe_pid is not None
    helper_pid = int(helper.read_text())
    deadline = time.monotonic() + 5
    while not (_gone(probe_pid) and _gone(helper_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(probe_pid), "the probe survived its bound"
    assert _gone(helper_pid), "a process the probe started survived the bound"


def test_a_step_that_hangs_is_ended_by_the_probe_watchdog(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TORCH_HANG", "synchronize")
    began = time.monotonic()
    run = _run(serving_python, bound=60, step=2)
    assert time.monotonic() - began < 10
    findings = _findings(run)
    message = findings["functional.run"].message
    assert findings["functional.run"].status.value == "fail"
    assert "its own step watchdog" in message and "in step allocate" in message
    assert findings["functional.allocation"].status.value == "fail"
    # the copies never started: not checked, and not blamed for the allocation's hang
    assert findings["functional.copy"].status.value == "error"
    assert "ended before this step" in findings["functional.copy"].message


def test_an_allocation_that_stalls_says_how_far_it_got(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TORCH_HANG_AT_GIB", "3")
    findings = _findings(_run(serving_python, target=6, step=2))
    allocation = findings["functional.allocation"]
    assert allocation.status.value == "fail"
    assert allocation.message.startswith("The allocation step never finished after 3.0 GiB of 6")


def test_a_crash_names_the_signal_and_the_step(
    serving_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TORCH_CRASH", "allocate")
    findings = _findings(_run(serving_python))
    message = findings["functional.run"].message
    assert message.startswith("The GPU probe died with SIGSEGV in step allocate")


def test_an_interpreter_without_torch_fails_the_run(tmp_path: Path) -> None:
    python = _make_env(tmp_path / "bare", with_torch=False)
    findings = _findings(_run(str(python)))
    run = findings["functional.run"]
    assert run.status.value == "fail"
    assert "cannot use a GPU" in run.message and "No module named 'torch'" in run.message
    # the other rules have nothing to judge: could not be checked, not "failed"
    for rule in ("allocation", "copy", "memory-bandwidth", "compute"):
        assert findings[f"functional.{rule}"].status.value == "error", rule


def test_refuses_while_an_inference_process_uses_the_gpu(serving_python: str) -> None:
    vllm = InferenceProcess("vllm", 4242, ("vllm", "serve"), Value({}, "x"), "/proc/4242/cmdline")
    busy = Value([vllm], "/proc/*/cmdline")
    options = FunctionalOptions(python=serving_python, target_gib=2, extra_args=SMALL)
    refused = probe_functional(Host("/"), options, busy)
    assert isinstance(refused, Unavailable) and refused.reason is Reason.NOT_RUN
    findings = _findings(refused)
    assert {f.status.value for f in findings.values()} == {"error"}
    assert "vllm (pid 4242) is using the GPU" in findings["functional.run"].message
    assert "--force" in findings["functional.run"].message
    forced = probe_functional(Host("/"), options._replace(force=True), busy)
    assert isinstance(forced, Value)


def test_scan_functional_end_to_end_and_snapshot_replay(
    cli, serving_python: str, tmp_path: Path
) -> None:
    """`hostcheck scan --functional` on this machine, then a snapshot taken with
    --functional replays the same functional findings without running anything."""
    args = ("--functional", "--python", serving_python, "--functional-target-gib", "2")
    done = cli("scan", *args, "--format", "json", "--functional-timeout", "60")
    assert done.code in (0, 1), done.err
    live = {f["rule"]: f for f in json.loads(done.out)["findings"]}
    assert live["functional.run"]["status"] == "pass", live["functional.run"]
    assert live["functional.allocation"]["message"].startswith("Allocated and touched 2.0 GiB")

    snap = tmp_path / "snap"
    taken = cli("snapshot", "--output", str(snap), *args, "--no-redact")
    assert taken.code == 0, taken.err
    assert (snap / ".hostcheck" / "commands" / "functional.txt").is_file()
    replay = cli("scan", "--root", str(snap), "--format", "json")
    replayed = {f["rule"]: f for f in json.loads(replay.out)["findings"]}
    for rule in ("functional.run", "functional.allocation", "functional.compute"):
        assert replayed[rule]["status"] == live[rule]["status"]
    assert replayed["functional.allocation"]["message"].startswith("Allocated and touched 2.0")


def test_a_recorded_hang_replays_as_a_hang(tmp_path: Path) -> None:
    root = tmp_path / "host"
    shutil.copytree(FIXTURES / "tuned-ready", root, symlinks=True)
    commands = root / ".hostcheck" / "commands"
    commands.mkdir(exist_ok=True)
    mark = log_mark((root / ".hostcheck" / "dmesg.txt").read_text())
    start = {"log_mark": mark, "options": {"target_gib": 92}}
    (commands / "functional.txt").write_text(
        f"HOSTCHECK-FUNCTIONAL-START {json.dumps(start)}\n"
        'HOSTCHECK-FUNCTIONAL-BEGIN {"step": "init"}\n'
    )
    (commands / "functional.json").write_text('{"returncode": -9, "timed_out": 300}')
    with (root / ".hostcheck" / "dmesg.txt").open("a") as log:
        log.write(
            f"[{mark + 5:.6f}] amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=MISC\n"
        )
    findings = _findings(collect(Host(root)).functional)
    run = findings["functional.run"]
    assert run.status.value == "fail"
    assert "hung in step init" in run.message and "300 s bound" in run.message
    lines = next(e for e in run.evidence if e.label == "kernel log lines during the run")
    assert lines.value == 1 and "MES failed to respond" in str(lines.note)


def test_the_kernel_log_lines_of_the_run_are_those_after_the_mark() -> None:
    log = "[    1.000000] early\n[   10.500000] before\n[   12.000000] during one\n  continued\n"
    assert log_mark(log) == 12.0
    assert lines_after(log, 10.5) == ["[   12.000000] during one", "  continued"]
    assert lines_after(log, 12.0) == []
    assert log_mark("") == 0.0


def test_functional_rules_are_left_out_unless_run_or_recorded(cli) -> None:
    done = cli("scan", "--fixture", "tuned-ready", "--format", "json")
    assert not [f for f in json.loads(done.out)["findings"] if f["rule"].startswith("functional")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--functional",), "--functional needs --python PATH"),
        (("--force",), "--force goes with --functional"),
        (("--functional", "--python", "x", "--fixture", "stock-128g"), "on this host only"),
        (("--functional", "--python", "x", "--functional-timeout", "5"), "at least 30 seconds"),
    ],
)
def test_usage_errors_are_one_line(cli, args: tuple[str, ...], message: str) -> None:
    done = cli("scan", *args)
    assert done.code == 2
    assert message in done.err and "Traceback" not in done.err


def test_the_script_runs_by_hand_and_never_imports_hostcheck(tmp_path: Path) -> None:
    """`python probe_script.py …` and `python - < probe_script.py` (as in a container) print
    the same marker lines; the script does not need hostcheck on the path."""
    script = REPO / "hostcheck" / "probes" / "probe_script.py"
    env = {**os.environ, "PYTHONPATH": str(FAKE_TORCH.parent)}
    by_path = subprocess.run(
        [sys.executable, str(script), "--target-gib", "1", *SMALL],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    by_stdin = subprocess.run(
        [sys.executable, "-", "--target-gib", "1", *SMALL],
        stdin=script.open(), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    for done in (by_path, by_stdin):
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.splitlines()[-1].split(" ", 1)[1])
        assert result["ok"] and [s["step"] for s in result["steps"]] == [
            "init", "allocate", "h2d", "h2d_pinned", "d2h", "device_bandwidth", "matmul",
            "attention", "free",
        ]  # fmt: skip
    assert "hostcheck" not in {
        line.split()[1].split(".")[0]
        for line in script.read_text().splitlines()
        if line.startswith(("import ", "from "))
    }


def test_figures_reach_the_json_report_node_labels_metrics_and_fleet(
    cli, serving_python: str, tmp_path: Path
) -> None:
    """A snapshot taken with --functional: its replay carries the measured figures into the
    report's `functional` object (schema-valid), the NFD labels, the metrics and `fleet`."""
    from importlib import resources

    import jsonschema
    from prometheus_client.parser import text_string_to_metric_families

    from hostcheck.checks.session import Source, scan
    from hostcheck.render.prometheus import render as metrics

    snap = tmp_path / "snap"
    taken = cli(
        "snapshot", "--output", str(snap), "--functional", "--python", serving_python,
        "--functional-target-gib", "3", "--no-redact",
    )  # fmt: skip
    assert taken.code == 0, taken.err
    done = cli("scan", "--root", str(snap), "--format", "json")
    report = json.loads(done.out)
    schema = json.loads(
        resources.files("hostcheck").joinpath("schemas/report.schema.json").read_text()
    )
    jsonschema.validate(report, schema)
    assert report["schema_version"] == "1.4"
    measured = report["functional"]
    assert measured["completed"] is True and measured["allocated_gib"] == 3.0
    assert 100 < measured["memory_bandwidth_gbps"] < 260

    labels = tmp_path / "labels"
    nfd = cli("nfd", "--root", str(snap), "--output", str(labels))
    assert nfd.code in (0, 1), nfd.err
    text = labels.read_text()
    assert "hostcheck.feature.node.kubernetes.io/functional-allocated-gib=3\n" in text
    assert "hostcheck.feature.node.kubernetes.io/functional-completed=true\n" in text

    families = {
        f.name: f
        for f in text_string_to_metric_families(metrics(scan(Source(root=str(snap))).report))
    }
    (allocated,) = families["hostcheck_functional_allocated_bytes"].samples
    assert allocated.value == 3 * (1 << 30)
    directions = {
        s.labels["direction"]
        for s in families["hostcheck_functional_copy_bytes_per_second"].samples
    }
    assert directions == {"h2d", "h2d_pinned", "d2h"}

    reports = tmp_path / "reports" / "pool"
    reports.mkdir(parents=True)
    (reports / "node.json").write_text(done.out)
    fleet = cli("fleet", str(tmp_path / "reports"))
    assert "functional probe: 3 GiB allocated ×1" in fleet.out
    assert "functional.allocation" in fleet.out


def test_functional_job_validates_and_its_command_runs_the_probe(
    cli, serving_python: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hostcheck functional-job`: a ConfigMap with the script and a Job that runs it, valid
    for the Kubernetes API (offline schemas); the Job's exact command line, run here against
    the ConfigMap's script in a serving interpreter, completes (0) or fails (1) as the Job."""
    import kubernetes_validate
    import yaml

    from hostcheck.cluster.functional_job import MOUNT
    from hostcheck.probes.functional import script_text

    out = tmp_path / "job.yaml"
    done = cli(
        "functional-job", "--image", "docker.io/rocm/vllm:rocm7.2", "--node", "GPU-Node.1",
        "--target-gib", "2", "--budget", "60", "-o", str(out),
    )  # fmt: skip
    assert done.code == 0, done.err
    config_map, job = [d for d in yaml.safe_load_all(out.read_text()) if d]
    for version in ("1.27", kubernetes_validate.latest_version()):
        for doc in (config_map, job):
            kubernetes_validate.validate(doc, version, strict=True)
    assert config_map["data"]["probe_script.py"] == script_text()
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeName"] == "GPU-Node.1"
    assert job["metadata"]["name"] == "hostcheck-functional-gpu-node-1"
    assert pod["volumes"][0]["configMap"]["name"] == config_map["metadata"]["name"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"amd.com/gpu": 1}
    assert job["spec"]["activeDeadlineSeconds"] == 60 + 600

    # the pod, as far as it can be had here: the mounted ConfigMap and the container's argv
    mount = tmp_path / "mount"
    mount.mkdir()
    (mount / "probe_script.py").write_text(config_map["data"]["probe_script.py"])
    argv = [serving_python] + [a.replace(MOUNT, str(mount)) for a in container["args"]]
    ran = subprocess.run(argv + list(SMALL), capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert '"ok": true' in ran.stdout.splitlines()[-1]
    monkeypatch.setenv("FAKE_TORCH_OOM_AT_GIB", "1")
    failed = subprocess.run(argv + list(SMALL), capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1  # --strict: the Job fails when a step did not pass


def test_functional_job_allocates_the_profile_memory_by_default(cli, tmp_path: Path) -> None:
    """Without --target-gib the Job allocates the (default or named) profile's memory; an
    unknown profile is a usage error naming the ones there are."""
    import yaml

    from hostcheck.checks.catalog import default_profile, load_catalog

    profiles = load_catalog()[1]
    for extra, profile in (((), default_profile(profiles)), (("--profile", "32b-q4"), None)):
        out = tmp_path / "job.yaml"
        done = cli("functional-job", "--image", "img", "--node", "n1", *extra, "-o", str(out))
        assert done.code == 0, done.err
        _config_map, job = [d for d in yaml.safe_load_all(out.read_text()) if d]
        argv = job["spec"]["template"]["spec"]["containers"][0]["args"]
        wanted = (profile or profiles["32b-q4"]).required_gib
        assert argv[argv.index("--target-gib") + 1] == f"{wanted:g}", argv
    unknown = cli("functional-job", "--image", "img", "--node", "n1", "--profile", "nope")
    assert unknown.code == 2
    assert unknown.err.startswith("hostcheck: error: unknown profile 'nope'; available: ")
