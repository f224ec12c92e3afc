"""Where the inference stack lives: container nodes, distribution ROCm, Vulkan hosts, process
roots and maps, the declared workload — and what each does to the verdicts a user sees."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hostcheck.checks.catalog import load_catalog
from hostcheck.facts import InferenceProcess, SoftwareFacts
from hostcheck.host.core import Host
from hostcheck.probes.stack import (
    MAPS_LIMIT,
    _process_stack,
    parse_cgroup,
    probe_stack,
    rocm_from_library,
)
from hostcheck.readings import Reason, Unavailable, Value
from tests.conftest import boot_as_configured

# The rules that declare they need ROCm (`needs` in their rule file): a Vulkan host skips
# exactly these. Taken from the catalog, so a rule that gains `needs` is covered.
ROCM_RULES = tuple(sorted(rule.id for rule in load_catalog()[0] if rule.needs))
DOCKER_PID = "4242"
SITE = "/opt/venv/lib64/python3.13/site-packages"


# -- parsers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("libamdhip64.so.7.2.70201", ("7.2.1", True)),  # AMD: the ROCm release in the patch
        ("/opt/rocm-6.4.1/lib/libamdhip64.so.6.4.60401", ("6.4.1", True)),
        ("libamdhip64.so.6.4.43484", ("6.4", False)),  # a distribution's build number
        ("libamdhip64.so.7", None),  # the soname alone tells nothing
        ("libhsa-runtime64.so.1", None),
    ],
)
def test_rocm_version_from_the_hip_library_name(name: str, want: tuple[str, bool] | None) -> None:
    assert rocm_from_library(name) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "0::/system.slice/docker-3f2a1b9c0d4e5f60718293a4b5c6d7e8f9.scope\n",
            ("docker", "3f2a1b9c0d4e"),
        ),
        ("12:pids:/docker/0123456789abcdef0123\n", ("docker", "0123456789ab")),
        (
            "0::/machine.slice/libpod-abcdef0123456789abcd.scope/container\n",
            ("podman", "abcdef012345"),
        ),
        (
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/"
            "crio-fedcba9876543210fedc.scope\n",
            ("CRI-O", "fedcba987654"),
        ),
        (
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9.slice/"
            "cri-containerd-00112233445566778899aabb.scope\n",
            ("containerd", "001122334455"),
        ),
        ("0::/system.slice/llama-server.service\n", None),
        ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
    ],
)
def test_container_from_cgroup(text: str, want: tuple[str, str] | None) -> None:
    assert parse_cgroup(text) == want


# -- the new fixtures, as a user runs them -----------------------------------------------------


def test_openshift_worker_before_its_workload_is_ready_and_says_how_to_declare(cli) -> None:
    run = cli("scan", "--fixture", "openshift-worker-preflight")
    assert run.code == 0, run.out
    assert "READY" in run.out
    assert "judged as container node: ROCm from the images" in run.out
    assert "--workload-rocm" in run.out  # the skip line says how to declare the image's ROCm


def test_machineconfig_for_the_openshift_pool_has_no_cwsr_workaround(cli) -> None:
    """No host ROCm is no reason to disable CWSR for a whole pool."""
    # The pool's desired state: the settings hostcheck manages that the node carries, and no
    # CWSR workaround.
    run = cli("fix", "--fixture", "openshift-worker-preflight", "--emit", "machineconfig")
    assert run.code == 0, run.err
    assert "ttm.pages_limit=29884416" in run.out and "cwsr" not in run.out
    # a declared image ROCm with the fix: still no workaround
    run = cli(
        "fix", "--fixture", "openshift-worker-preflight", "--emit", "machineconfig",
        "--workload-rocm", "7.2.1",
    )  # fmt: skip
    assert run.code == 0 and "cwsr" not in run.out


def test_declared_image_rocm_without_the_fix_gets_the_cwsr_workaround(cli) -> None:
    run = cli(
        "fix", "--fixture", "openshift-worker-preflight", "--emit", "machineconfig",
        "--workload-rocm", "7.1.0", "--workload-image", "quay.io/example/vllm:rocm7.1",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert '- "amdgpu.cwsr_enable=0"' in run.out
    scan = cli(
        "scan", "--fixture", "openshift-worker-preflight", "--format", "json",
        "--workload-rocm", "7.1.0", "--workload-image", "quay.io/example/vllm:rocm7.1",
    )  # fmt: skip
    assert scan.code == 1
    cwsr = scan.finding("amdgpu.cwsr")
    assert cwsr["status"] == "fail"
    assert (
        "the ROCm half is missing: ROCm 7.1.0 (from declared in the command line" in cwsr["message"]
    )
    assert "image quay.io/example/vllm:rocm7.1" in cwsr["message"]
    assert scan.json()["stack"]["declared"]["image"] == "quay.io/example/vllm:rocm7.1"


def test_vulkan_host_skips_exactly_the_rocm_rules(cli) -> None:
    run = cli("scan", "--fixture", "vulkan-llamacpp", "--format", "json")
    assert run.code == 0
    report = run.json()
    skipped = {f["rule"] for f in report["findings"] if "runs on Vulkan" in f["message"]}
    assert skipped == set(ROCM_RULES)
    assert all(run.finding(rule)["status"] == "skip" for rule in ROCM_RULES)
    # the host's own rules still judge
    for rule in ("kernel.version", "memory.gtt", "firmware.mes", "devices.render", "log.gpu-hangs"):
        assert run.finding(rule)["status"] == "pass", rule
    assert report["stack"]["backend"] == "vulkan"


def test_vulkan_host_with_a_kernel_problem_still_fails(cli, fixture_copy) -> None:
    """Vulkan needs no ROCm, but the GTT limit is the kernel's: it still fails."""
    root = fixture_copy("vulkan-llamacpp")
    cmdline = (root / "proc/cmdline").read_text().replace(" ttm.pages_limit=29884416", "")
    (root / "proc/cmdline").write_text(cmdline)
    boot_as_configured(root, cmdline)
    (root / "sys/module/ttm/parameters/pages_limit").write_text("16065104\n")
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 1
    assert run.finding("memory.gtt")["status"] == "fail"
    assert run.finding("rocm.version")["status"] == "skip"


def test_docker_container_rocm_is_judged_and_named_in_the_evidence(cli) -> None:
    run = cli("scan", "--fixture", "docker-vllm-therock", "--format", "json")
    assert run.code == 0
    for rule in ("rocm.version", "rocm.kernel-compat", "amdgpu.cwsr"):
        assert run.finding(rule)["status"] == "pass", rule
    evidence = run.finding("rocm.version")["evidence"]
    assert any("docker 3f2a1b9c0d4e (pid 4242)" in e["source"] for e in evidence)
    components = run.json()["stack"]["components"]
    found = {(c["name"], c["version"], c["found_by"]) for c in components}
    assert ("torch", "2.10.0a0+rocm7.12.0a20260301", "/proc/PID/root") in found
    assert ("rocm-sdk", "7.12.0a20260301", "/proc/PID/root") in found
    assert ("vllm", "0.16.1", "/proc/PID/root") in found


def test_an_old_rocm_in_the_container_fails_as_it_would_on_the_host(cli, fixture_copy) -> None:
    root = fixture_copy("docker-vllm-therock")
    version = root / f"proc/{DOCKER_PID}/root{SITE}/torch/version.py"
    version.write_text(version.read_text().replace("rocm7.12.0a20260301", "rocm7.1.0"))
    for entry in (root / f"proc/{DOCKER_PID}/root{SITE}").glob("rocm_sdk_core-*"):
        entry.rename(entry.with_name("rocm_sdk_core-7.1.0.dist-info"))
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 1
    cwsr = run.finding("amdgpu.cwsr")
    assert cwsr["status"] == "fail"
    assert "ROCm 7.1.0 (from docker 3f2a1b9c0d4e (pid 4242)" in cwsr["message"]


def test_fedora_distribution_rocm_is_found_by_rpm_and_not_judged_by_amds_table(cli) -> None:
    run = cli("scan", "--fixture", "fedora43-distro-rocm", "--format", "json")
    assert run.code == 0
    assert run.finding("rocm.version")["status"] == "pass"
    compat = run.finding("rocm.kernel-compat")
    assert compat["status"] == "pass" and "distribution's own packaging" in compat["message"]
    stack = run.json()["stack"]
    assert stack["summary"] == "host: ROCm 6.4.4 from rpm: rocm-core-6.4.4-1.fc43.x86_64"
    hip = [c for c in stack["components"] if c["detail"] == "hip"]
    assert hip and hip[0]["name"] == "llama.cpp"


def test_distribution_rocm_is_found_from_the_library_without_a_package_database(
    cli, fixture_copy
) -> None:
    root = fixture_copy("fedora43-distro-rocm")
    (root / ".hostcheck/commands/rpm-rocm.txt").unlink()
    (root / ".hostcheck/commands/rpm-rocm.json").unlink()
    run = cli("scan", "--root", str(root), "--format", "json")
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "pass"  # 6.4 from the name: not called older than 6.4.4
    assert any(
        e["source"] == "host: /usr/lib64/libamdhip64.so.6.4.43484 (library name)"
        for e in rocm["evidence"]
    )


def test_arch_pacman_database_names_the_rocm(cli, fixture_copy) -> None:
    root = fixture_copy("vulkan-llamacpp")
    (root / "proc/1880").rename(root / "proc/1881-gone")  # no Vulkan process: a ROCm host
    (root / "var/lib/pacman/local/rocm-core-7.2.0-1").mkdir(parents=True)
    run = cli("scan", "--root", str(root), "--format", "json")
    stack = run.json()["stack"]
    assert stack["summary"] == "host: ROCm 7.2.0 from /var/lib/pacman/local/rocm-core-7.2.0-1"
    assert run.finding("rocm.version")["status"] == "pass"


def test_therock_venv_is_the_rocm_judged(cli) -> None:
    run = cli("scan", "--fixture", "therock-venv", "--python", "/opt/therock/.venv/bin/python3")
    assert run.code == 0
    assert "judged as host: no ROCm on the host; ROCm 7.11.0 in venv" in run.out


def test_declared_vulkan_backend_skips_rocm_rules_on_a_rocm_host(cli) -> None:
    run = cli("scan", "--fixture", "stock-128g", "--format", "json", "--backend", "vulkan")
    assert run.finding("devices.kfd")["status"] == "skip"  # fails without the declaration
    assert "declared in the command line" in run.finding("devices.kfd")["message"]
    assert run.finding("devices.render")["status"] == "fail"  # Vulkan needs the render node


def test_workload_from_the_config_file(cli, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[workload]\nrocm = "7.2.1"\nimage = "docker.io/vllm/vllm-openai-rocm:v0.19.0"\n'
    )
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli("scan", "--fixture", "openshift-worker-preflight", "--format", "json")
    assert run.code == 0
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "pass"
    assert any(f"declared in config {config}" in e["source"] for e in rocm["evidence"])
    # the command line wins over the file
    run = cli(
        "scan", "--fixture", "openshift-worker-preflight", "--format", "json",
        "--workload-rocm", "7.1.0",
    )  # fmt: skip
    assert run.finding("amdgpu.cwsr")["status"] == "fail"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[workload]\nrocm = "latest"\n', "line 2: workload.rocm: expected a ROCm version"),
        ('[workload]\nbackend = "cuda"\n', 'line 2: workload.backend: expected "rocm" or "vulkan"'),
        ('[workload]\nrocm_version = "7.2.1"\n', "line 2: workload.rocm_version: unknown key"),
        ("workload = 3\n", "workload: expected a table: [workload]"),
    ],
)
def test_bad_workload_in_the_config_is_a_one_line_usage_error(
    cli, tmp_path: Path, monkeypatch, text: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli("scan", "--fixture", "openshift-worker-preflight")
    assert run.code == 2
    assert message in run.err and len(run.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [("--workload-rocm", "seven"), ("--workload-torch", "2.9 rocm"), ("--backend", "cuda")],
)
def test_bad_workload_option_is_a_usage_error(cli, args: tuple[str, str]) -> None:
    run = cli("scan", "--fixture", "openshift-worker-preflight", *args)
    assert run.code == 2 and "Traceback" not in run.err


# -- process roots and maps: bounded, never a traceback -----------------------------------------


def _docker_host(root: Path) -> tuple[Host, list[InferenceProcess]]:
    host = Host(root)
    argv = tuple((root / f"proc/{DOCKER_PID}/cmdline").read_bytes().decode().split("\0")[:-1])
    proc = InferenceProcess("vllm", int(DOCKER_PID), argv, Value({}, "env"), "cmdline")
    return host, [proc]


def _software() -> SoftwareFacts:
    missing = Unavailable(Reason.MISSING, "-")
    return SoftwareFacts(missing, missing, missing, missing, [], missing, missing, {}, None)


def test_links_in_a_container_root_resolve_inside_it(fixture_copy) -> None:
    """The container's /opt/rocm -> /opt/rocm-7.2.1 is the container's, not the host's."""
    root = fixture_copy("docker-vllm-therock")
    inside = root / f"proc/{DOCKER_PID}/root/opt"
    (inside / "rocm-7.2.1/.info").mkdir(parents=True)
    (inside / "rocm-7.2.1/.info/version").write_text("7.2.1-81\n")
    (inside / "rocm").symlink_to("/opt/rocm-7.2.1")
    (root / "opt/rocm-7.2.1/.info").mkdir(parents=True)  # the host's, never read for it
    (root / "opt/rocm-7.2.1/.info/version").write_text("6.0.0\n")
    host, _ = _docker_host(root)
    read = host.read_in_process(int(DOCKER_PID), "/opt/rocm/.info/version")
    assert isinstance(read, Value) and read.value == "7.2.1-81\n"
    # a link aiming above the container's root stays inside it
    (inside / "escape").symlink_to("../../../../../../etc")
    assert isinstance(host.read_in_process(int(DOCKER_PID), "/escape/passwd"), Unavailable)


def test_ten_thousand_mappings_are_read_in_bounded_time(fixture_copy) -> None:
    root = fixture_copy("docker-vllm-therock")
    maps = root / f"proc/{DOCKER_PID}/maps"
    noise = "".join(
        f"7f{i:010x}-7f{i + 1:010x} r--p 00000000 103:02 {i} /usr/lib64/libnoise{i}.so\n"
        for i in range(10_000)
    )
    maps.write_text(noise + maps.read_text())
    host, procs = _docker_host(root)
    started = time.perf_counter()
    stack = probe_stack(host, _software(), Value(procs, "test"), None)
    assert time.perf_counter() - started < 5
    assert any(c.name == "torch" for c in stack.components)


def test_a_huge_map_is_not_read_and_says_why(cli, fixture_copy) -> None:
    root = fixture_copy("docker-vllm-therock")
    maps = root / f"proc/{DOCKER_PID}/maps"
    line = "7f0000000000-7f0000001000 r--p 00000000 103:02 1 /usr/lib64/libnoise.so\n"
    maps.write_text(line * (MAPS_LIMIT // len(line) + 10))
    (root / f"proc/{DOCKER_PID}/root/opt").rename(root / f"proc/{DOCKER_PID}/root/opt-moved")
    run = cli("scan", "--root", str(root), "--format", "json")
    assert "Traceback" not in run.err
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "error"  # a container node whose ROCm could not be read
    assert any("larger than" in (e.get("note") or "") for e in rocm["evidence"])


def test_unreadable_maps_and_root_are_an_error_not_a_guess(cli, fixture_copy) -> None:
    root = fixture_copy("docker-vllm-therock")
    unreadable = {
        f"/proc/{DOCKER_PID}/maps": {"reason": "permission", "source": f"/proc/{DOCKER_PID}/maps",
                                     "detail": "denied to uid 1000"},
        f"/proc/{DOCKER_PID}/root/opt/rocm/.info/version": {
            "reason": "permission", "source": f"/proc/{DOCKER_PID}/root/opt/rocm/.info/version",
            "detail": "denied to uid 1000"},
    }  # fmt: skip
    (root / ".hostcheck/unreadable.json").write_text(json.dumps(unreadable))
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 1  # an error on a high rule: not called ready on a guess
    rocm = run.finding("rocm.version")
    assert rocm["status"] == "error" and "run as root" in rocm["message"]
    assert run.finding("amdgpu.cwsr")["status"] == "skip"  # kernel half fixed; nothing else known


def test_a_maps_path_that_is_a_directory_is_an_error_not_a_traceback(cli, fixture_copy) -> None:
    root = fixture_copy("docker-vllm-therock")
    maps = root / f"proc/{DOCKER_PID}/maps"
    maps.unlink()
    maps.mkdir()
    run = cli("scan", "--root", str(root), "--format", "json")
    assert "Traceback" not in run.err and run.code in (0, 1)
    assert run.json()["stack"]["unreadable"]


class _VanishedHost:
    """A live host whose process ended between the listing and the reads."""

    live = True

    def read_text(self, path: str, **_: object) -> Unavailable:
        return Unavailable(Reason.MISSING, path)

    def read_lines(self, path: str, keep: object, **_: object) -> Unavailable:
        return Unavailable(Reason.MISSING, path)

    def read_in_process(self, pid: int, path: str, **_: object) -> Unavailable:
        return Unavailable(Reason.MISSING, f"/proc/{pid}/root{path}")

    def list_in_process(self, pid: int, path: str, pattern: str = "*") -> Unavailable:
        return Unavailable(Reason.MISSING, f"/proc/{pid}/root{path}")


def test_a_process_that_vanishes_mid_scan_is_skipped_with_the_reason() -> None:
    proc = InferenceProcess("llama.cpp", 777, ("llama-server",), Value({}, "env"), "cmdline")
    unreadable: list[Unavailable] = []
    components, backend, where = _process_stack(_VanishedHost(), proc, unreadable)  # type: ignore[arg-type]
    assert components == [] and backend is None and where == "pid 777"
    assert unreadable and "ended during the scan" in unreadable[0].detail


# -- snapshots -----------------------------------------------------------------------------------


def test_snapshot_records_only_the_library_lines_and_the_files_read_in_the_container(
    cli, fixture_copy, tmp_path: Path
) -> None:
    root = fixture_copy("docker-vllm-therock")
    maps = root / f"proc/{DOCKER_PID}/maps"
    maps.write_text(maps.read_text() + "7f00-7f01 r--p 0 0:0 1 /home/alice/secret-model.bin\n")
    out = tmp_path / "snap"
    assert cli("snapshot", "--root", str(root), "--no-redact", "-o", str(out)).code == 0
    recorded = (out / f"proc/{DOCKER_PID}/maps").read_text()
    assert "secret-model" not in recorded and "libtorch_hip.so" in recorded
    assert all(
        any(lib in line for lib in ("libamdhip64", "libhsa-runtime64", "libtorch_hip"))
        for line in recorded.splitlines()
    )
    assert (out / f"proc/{DOCKER_PID}/root{SITE}/torch/version.py").is_file()
    assert (out / f"proc/{DOCKER_PID}/root{SITE}/vllm-0.16.1.dist-info").is_dir()
    original = cli("scan", "--root", str(root), "--format", "json").json()
    replayed = cli("scan", "--root", str(out), "--format", "json").json()
    assert replayed["stack"]["components"] == original["stack"]["components"]
    assert [f["status"] for f in replayed["findings"]] == [
        f["status"] for f in original["findings"]
    ]


def test_report_json_carries_the_stack_and_validates(cli) -> None:
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("hostcheck").joinpath("schemas/report.schema.json").read_text()
    )
    validator = jsonschema.Draft202012Validator(schema)  # the schema is checked in test_render
    for name in ("openshift-worker-preflight", "docker-vllm-therock", "vulkan-llamacpp"):
        report = cli("scan", "--fixture", name, "--format", "json").json()
        validator.validate(report)
        assert report["schema_version"] == "1.4"
    broken = dict(
        report, stack={"node": "somewhere", "backend": "rocm", "summary": "", "components": []}
    )
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_metrics_name_the_kind_of_node(cli, tmp_path: Path, monkeypatch) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = tmp_path / "hostcheck.prom"
    config = tmp_path / "config.toml"
    config.write_text(f'[monitor]\nmetrics_file = "{metrics}"\n')
    monkeypatch.setenv("HOSTCHECK_CONFIG", str(config))
    run = cli(
        "monitor", "--fixture", "openshift-worker-preflight", "--state-dir", str(tmp_path / "s")
    )
    assert run.code == 0
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    (info,) = families["hostcheck_stack_info"].samples
    assert info.labels == {"node": "container-node", "backend": "unknown"} and info.value == 1


def test_tui_summary_says_where_the_stack_lives_when_it_is_not_the_hosts() -> None:
    pytest.importorskip("textual")
    from hostcheck.checks.session import Source, scan
    from hostcheck.tui.view import summary

    node = scan(Source(fixture="openshift-worker-preflight")).report
    assert "container node: ROCm from the images" in str(summary(node, "fixture", width=200))
    vulkan = scan(Source(fixture="vulkan-llamacpp")).report
    assert "Vulkan backend: ROCm not needed" in str(summary(vulkan, "fixture", width=200))
    plain = scan(Source(fixture="tuned-ready")).report
    assert "judged" not in str(summary(plain, "fixture", width=200))
    assert "host:" not in str(summary(plain, "fixture", width=200))


def test_kernel_half_missing_still_fails_on_a_container_node(cli, fixture_copy) -> None:
    """No ROCm version can work around a kernel without the CWSR fix: the workaround is
    planned for the pool even though no ROCm is known."""
    root = fixture_copy("k8s-worker-containerd")
    (root / "proc/sys/kernel/osrelease").write_text("6.17.0-5-generic\n")
    run = cli("scan", "--root", str(root), "--format", "json")
    assert run.code == 1
    cwsr = run.finding("amdgpu.cwsr")
    assert cwsr["status"] == "fail"
    assert "the kernel half is missing: kernel 6.17.0-5-generic lacks" in cwsr["message"]
    assert "No ROCm was found (the ROCm half is not judged)" in cwsr["message"]
    assert run.finding("rocm.version")["status"] == "skip"
    emitted = cli("fix", "--root", str(root), "--emit", "machineconfig")
    assert '- "amdgpu.cwsr_enable=0"' in emitted.out


def test_a_mounted_host_without_rocm_is_judged_as_a_container_node(cli, fixture_copy) -> None:
    """The scan runs in a Job (--host-mount): the node's ROCm comes with the images even
    where no runtime socket is visible in the mount."""
    root = fixture_copy("k8s-worker-containerd")
    (root / "run/containerd/containerd.sock").unlink()
    (root / "var/lib/kubelet/config.yaml").unlink()
    plain = cli("scan", "--root", str(root), "--format", "json").json()
    assert plain["stack"]["node"] == "host"
    assert next(f for f in plain["findings"] if f["rule"] == "rocm.version")["status"] == "fail"
    mounted = cli("scan", "--root", str(root), "--host-mount", "--format", "json").json()
    assert mounted["stack"]["node"] == "container-node"
    assert "--host-mount" in mounted["stack"]["why"]["node"]
    assert next(f for f in mounted["findings"] if f["rule"] == "rocm.version")["status"] == "skip"


def test_explain_says_when_a_rule_is_not_applicable(cli) -> None:
    text = cli("explain", "rocm.version").out
    assert "skipped where inference runs on Vulkan, and on a container node" in text
    assert "container node" not in cli("explain", "devices.kfd").out
    assert "judged where ROCm serves" not in cli("explain", "memory.gtt").out
