"""The live host this suite runs on (no Strix Halo GPU), import discipline, and the --python
probe against real interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from hostcheck.host.core import Host
from hostcheck.probes.software import probe_python
from hostcheck.readings import Reason, Unavailable, Value
from tests.conftest import run_subprocess


def _has_strix_halo() -> bool:
    """Whether the machine running the tests has the GPU (then these tests do not apply)."""
    import glob

    for uevent in glob.glob("/sys/class/drm/card*/device/uevent"):
        try:
            with open(uevent) as handle:
                if "PCI_ID=1002:1586" in handle.read():
                    return True
        except OSError:
            continue
    return False


on_strix_halo = pytest.mark.skipif(_has_strix_halo(), reason="this machine has a Strix Halo GPU")


@on_strix_halo
def test_scan_of_this_machine_says_no_strix_halo_and_exits_1() -> None:
    run = run_subprocess("scan", "--format", "json")
    assert run.code == 1, run.err
    report = json.loads(run.out)
    gpu = next(f for f in report["findings"] if f["rule"] == "gpu.present")
    assert gpu["status"] == "fail"
    assert "No Strix Halo GPU (PCI 1002:1586, gfx1151) was found" in gpu["message"]
    assert {f["status"] for f in report["findings"] if f["rule"] != "gpu.present"} == {"skip"}


@on_strix_halo
def test_table_on_this_machine_says_not_ready_plainly() -> None:
    run = run_subprocess("scan")
    assert run.code == 1
    assert "NOT READY" in run.out and "No Strix Halo GPU" in run.out


def test_json_path_imports_neither_rich_nor_textual() -> None:
    code = textwrap.dedent(
        """
        import sys, io, contextlib
        from hostcheck.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()):
            main(["scan", "--fixture", "stock-128g", "--format", "json"])
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("rich", "textual")))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "[]", done.stderr


def test_core_never_imports_textual() -> None:
    code = (
        "import sys, hostcheck.cli.main, hostcheck.checks.engine, hostcheck.probes, hostcheck.render.table; "
        "print('textual' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


FAKE_TORCH = """
print("torch banner that a real build might print")
__version__ = "{version}"
class version:
    hip = {hip!r}
class _Props:
    name = "AMD Radeon 8060S Graphics"
    gcnArchName = "gfx1151"
    total_memory = 122406567936
class cuda:
    @staticmethod
    def get_arch_list():
        return {arch!r}
    @staticmethod
    def is_available():
        return {available!r}
    @staticmethod
    def get_device_properties(index):
        return _Props()
"""


def _env_with_fake_torch(tmp_path: Path, **torch: object) -> str:
    """A real virtual environment whose site-packages holds a stand-in for torch's API."""
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(FAKE_TORCH.format(**torch))
    return str(env / "bin" / "python")


def test_python_probe_reads_a_rocm_torch(tmp_path: Path) -> None:
    python = _env_with_fake_torch(
        tmp_path,
        version="2.9.1+rocm7.2.1",
        hip="7.2.26015",
        arch=["gfx1100", "gfx1151"],
        available=True,
    )
    result = probe_python(Host("/"), python)
    assert isinstance(result, Value), result
    env = result.value
    assert (env.torch, env.hip, env.arch_list) == (
        "2.9.1+rocm7.2.1",
        "7.2.26015",
        ["gfx1100", "gfx1151"],
    )
    assert env.total_memory == 122406567936 and env.gcn_arch == "gfx1151"


def test_python_probe_of_a_cpu_build_and_of_no_torch(tmp_path: Path) -> None:
    python = _env_with_fake_torch(tmp_path, version="2.9.1+cpu", hip=None, arch=[], available=False)
    env = probe_python(Host("/"), python)
    assert isinstance(env, Value) and env.value.hip is None and env.value.total_memory is None
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    env = probe_python(Host("/"), str(bare / "bin" / "python"))
    assert isinstance(env, Value) and env.value.torch is None
    assert env.value.error and "ModuleNotFoundError" in env.value.error


def test_python_probe_of_a_missing_interpreter() -> None:
    result = probe_python(Host("/"), "/nonexistent/bin/python")
    assert isinstance(result, Unavailable) and result.reason is Reason.MISSING


def test_live_process_probe_finds_an_inference_process_and_reads_only_its_environment() -> None:
    """A real process named llama-server on this machine, found through psutil's pid list."""
    from hostcheck.probes.software import probe_processes

    child = subprocess.Popen(
        ["bash", "-c", "exec -a llama-server sleep 30"],
        env={"PATH": "/usr/bin:/bin", "HSA_OVERRIDE_GFX_VERSION": "11.0.0"},
    )
    try:
        import time

        deadline = time.monotonic() + 5
        found = []
        while time.monotonic() < deadline and not found:
            result = probe_processes(Host("/"))
            assert isinstance(result, Value)
            found = [p for p in result.value if p.pid == child.pid]
        assert found, "the llama-server process was not found"
        proc = found[0]
        assert proc.kind == "llama.cpp" and proc.argv == ("llama-server", "30")
        assert isinstance(proc.environ, Value)
        assert proc.environ.value["HSA_OVERRIDE_GFX_VERSION"] == "11.0.0"
        # nothing but inference processes is reported (this test runner is not one)
        assert all(p.kind in ("vllm", "llama.cpp") for p in result.value)
    finally:
        child.kill()
        child.wait()
