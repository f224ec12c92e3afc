"""MachineConfigs from fix plans: valid against the MachineConfig CRD and the Ignition schema
(copied from ../shared/schemas into tests/data/schemas, so a clone is
self-contained), byte-for-byte golden files per fixture, never an empty one.

The kernel arguments and drop-ins are computed here from each fixture's scan report the way
the fix plan gathers them (every fail/warn finding's remediation), so the goldens follow the
rules: a rule change that changes a fix shows up as a reviewed diff of tests/data/machineconfig/.
Regenerate with HOSTCHECK_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hostcheck.machineconfig import (
    MachineConfigError,
    machineconfig,
    machineconfig_notes,
    to_yaml,
)
from tests.conftest import FIXTURE_NAMES, REPO

# CI clones the repository with shared/ beside it (as the worktrees are laid out here).
SCHEMAS = REPO / "tests" / "data" / "schemas"  # copies of ../shared/schemas
GOLDEN = REPO / "tests" / "data" / "machineconfig"
MODPROBE = "/etc/modprobe.d/zz-hostcheck.conf"
SYSCTL = "/etc/sysctl.d/zz-hostcheck.conf"


def _crd_schema() -> dict[str, Any]:
    assert SCHEMAS.is_dir(), f"{SCHEMAS} is missing"
    crd = yaml.safe_load((SCHEMAS / "machineconfig.crd.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _ignition_schema(version: str) -> dict[str, Any]:
    major_minor = ".".join(version.split(".")[:2])
    path = SCHEMAS / f"ignition-v{major_minor}.json"
    assert path.exists(), f"no Ignition schema for {version} in {SCHEMAS}"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def assert_valid_machineconfig(obj: dict[str, Any]) -> None:
    """The schemas README's definition: the object validates against the CRD's
    openAPIV3Schema and spec.config against the Ignition schema of the version it names."""
    jsonschema.validate(obj, _crd_schema())
    config = obj["spec"]["config"]
    ignition = _ignition_schema(config["ignition"]["version"])
    jsonschema.Draft4Validator.check_schema(ignition)
    jsonschema.Draft4Validator(ignition).validate(config)


def _check_golden(path: Path, text: str) -> None:
    if os.environ.get("HOSTCHECK_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with HOSTCHECK_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs from the golden file"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_machineconfig_of_each_fixture_matches_golden_and_validates(cli, name: str) -> None:
    """The real planner's output: `hostcheck fix --fixture NAME --emit machineconfig`."""
    run = cli("fix", "--fixture", name, "--emit", "machineconfig")
    if run.code != 0:
        # Nothing a MachineConfig can carry (a ready host, or only manual fixes): say so.
        assert run.code == 2 and run.out == ""
        _check_golden(GOLDEN / f"{name}.error.txt", run.err)
        return
    _check_golden(GOLDEN / f"{name}.yaml", run.out)
    _check_golden(GOLDEN / f"{name}.notes.txt", run.err)
    obj = yaml.safe_load(run.out)
    assert_valid_machineconfig(obj)
    assert obj["metadata"]["name"] == "99-worker-hostcheck"
    assert obj["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "worker"
    report = cli("scan", "--fixture", name, "--format", "json").json()
    # Every kernel argument a failing finding asks for is in the MachineConfig.
    wanted = {
        arg
        for f in report["findings"]
        if f["remediation"] and f["status"] in ("fail", "warn")
        for arg in f["remediation"]["kernel_args"]["add"]
    }
    assert wanted <= set(obj["spec"].get("kernelArguments", []))
    for entry in obj["spec"]["config"].get("storage", {}).get("files", []):
        assert entry["mode"] == 0o644
        assert _data_url_bytes(entry["contents"]["source"]).startswith(b"# hostcheck-managed")


def test_goldens_cover_the_expected_kinds_of_plan() -> None:
    """The fixtures exercise kernel arguments, removals, a sysctl drop-in and the empty case."""
    stock = yaml.safe_load((GOLDEN / "stock-128g.yaml").read_text())
    assert stock["spec"]["kernelArguments"] == [
        "ttm.pages_limit=29884416",
        "ttm.page_pool_size=29884416",
        "amd_iommu=off",
    ]
    dkms = yaml.safe_load((GOLDEN / "dkms-amdttm.yaml").read_text())
    (drop_in,) = dkms["spec"]["config"]["storage"]["files"]
    assert drop_in["path"] == SYSCTL and drop_in["mode"] == 0o644
    content = _data_url_bytes(drop_in["contents"]["source"])
    assert content.startswith(b"# hostcheck-managed")
    assert content.endswith(b"\nkernel.numa_balancing = 0\n")
    notes = (GOLDEN / "typo-kargs.notes.txt").read_text()
    assert "kernel arguments to remove: aamdgpu.cwsr_enable, amdgpu.gttsize." in notes
    assert (GOLDEN / "tuned-ready.error.txt").exists()
    assert "not writing an empty one" in (GOLDEN / "mes-0x83.error.txt").read_text()


def _data_url_bytes(url: str) -> bytes:
    prefix = "data:text/plain;charset=utf-8;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :], validate=True)


def test_modprobe_drop_in_and_custom_name() -> None:
    content = b"options amdgpu cwsr_enable=0\n"
    obj = machineconfig(
        role="gpu-worker",
        name="99-gpu-worker-strix-halo",
        kernel_args_add=[],
        kernel_args_remove=[],
        files=[(MODPROBE, content, 0o644)],
    )
    assert_valid_machineconfig(obj)
    assert "kernelArguments" not in obj["spec"]
    assert obj["metadata"]["name"] == "99-gpu-worker-strix-halo"
    (entry,) = obj["spec"]["config"]["storage"]["files"]
    assert entry == {
        "path": MODPROBE,
        "mode": 420,
        "overwrite": True,
        "contents": {
            "source": "data:text/plain;charset=utf-8;base64," + base64.b64encode(content).decode()
        },
    }


def test_duplicate_kernel_arguments_appear_once() -> None:
    obj = machineconfig(
        role="worker",
        name=None,
        kernel_args_add=["amd_iommu=off", "ttm.pages_limit=1", "amd_iommu=off"],
        kernel_args_remove=[],
        files=[],
    )
    assert obj["spec"]["kernelArguments"] == ["amd_iommu=off", "ttm.pages_limit=1"]
    assert "storage" not in obj["spec"]["config"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "no kernel arguments and no files; not writing an empty one"),
        (
            {"kernel_args_remove": ["amdgpu.gttsize"]},
            "only removals of kernel arguments (amdgpu.gttsize), which a MachineConfig cannot",
        ),
        ({"name": "99_Worker"}, "name '99_Worker' is not a valid Kubernetes resource name"),
        ({"name": "x" * 254}, "is not a valid Kubernetes resource name"),
        ({"role": "worker pool"}, "role 'worker pool' is not a valid label value"),
        ({"kernel_args_add": ["a=b c"]}, "kernel argument 'a=b c' is empty or contains white"),
        ({"files": [("etc/x.conf", b"", 0o644)]}, "'etc/x.conf' is not an absolute path"),
        ({"files": [(SYSCTL, b"", 0o644)] * 2}, f"file {SYSCTL} is given twice"),
        ({"files": [(SYSCTL, b"", 0o17777)]}, "mode 17777 is not a file mode"),
    ],
)
def test_invalid_or_empty_requests_raise(kwargs: dict[str, Any], message: str) -> None:
    request: dict[str, Any] = {
        "role": "worker",
        "name": None,
        "kernel_args_add": [],
        "kernel_args_remove": [],
        "files": [],
    }
    with pytest.raises(MachineConfigError) as raised:
        machineconfig(**{**request, **kwargs})
    assert message in str(raised.value)


def test_notes_say_how_to_batch_and_what_cannot_be_removed() -> None:
    plain = machineconfig_notes(role="worker", name=None, kernel_args_remove=[])
    assert 'oc patch mcp/worker --type merge -p \'{"spec":{"paused":true}}\'' in plain
    assert "oc apply -f 99-worker-hostcheck.yaml" in plain
    assert "to remove" not in plain
    removals = machineconfig_notes(role="infra", name="99-x", kernel_args_remove=["iommu"])
    assert "kernel arguments to remove: iommu." in removals
    assert "rpm-ostree kargs --delete-if-present=ARG" in removals
    assert "mcp/infra" in removals


def test_yaml_emitter_quotes_anything_yaml_could_misread() -> None:
    tricky = {
        "a": ["yes", "no", "0644", "# not a comment", "", "null", "x: y", "- z", "é\n"],
        "b": {"nested": [{"k": 1, "l": True}], "empty": [], "none": {}},
        "c d": 0,
    }
    text = to_yaml(tricky)
    assert yaml.safe_load(text) == tricky
    assert text.startswith('a:\n  - "yes"\n  - "no"\n  - "0644"\n')
    with pytest.raises(TypeError):
        to_yaml({"x": 1.5})


def test_schemas_reject_what_they_should() -> None:
    """The validation above can fail: a wrong field type and a bad Ignition mode are caught."""
    good = machineconfig(
        role="worker", name=None, kernel_args_add=["a=1"], kernel_args_remove=[], files=[]
    )
    bad_crd = {**good, "spec": {**good["spec"], "kernelArguments": "a=1"}}
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_machineconfig(bad_crd)
    bad_ignition = json.loads(json.dumps(good))
    bad_ignition["spec"]["config"]["storage"] = {"files": [{"path": "/x", "mode": "0644"}]}
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_machineconfig(bad_ignition)


def test_fix_emits_a_valid_machineconfig_from_the_plan() -> None:
    """`hostcheck fix --emit machineconfig`: the plan for the RHCOS boot path, as YAML."""
    from tests.conftest import run_subprocess

    run = run_subprocess("fix", "--fixture", "dkms-amdttm", "--emit", "machineconfig")
    assert run.code == 0, run.err
    obj = yaml.safe_load(run.out)
    assert_valid_machineconfig(obj)
    assert obj["metadata"]["name"] == "99-worker-hostcheck"
    assert obj["spec"]["kernelArguments"] == [
        "amdgpu.cwsr_enable=0",
        "amdttm.pages_limit=29884416",
        "amdttm.page_pool_size=29884416",
    ]
    files = obj["spec"]["config"]["storage"]["files"]
    assert [f["path"] for f in files] == ["/etc/sysctl.d/zz-hostcheck.conf"]
    assert "pause the pool" in run.err


def test_fix_never_emits_an_empty_machineconfig() -> None:
    from tests.conftest import run_subprocess

    run = run_subprocess("fix", "--fixture", "tuned-ready", "--emit", "machineconfig")
    assert run.code == 2
    assert run.out == ""
    assert "empty" in run.err
