"""MachineConfigs from fix plans: valid against the MachineConfig CRD and the Ignition schema
(copied from ../shared/schemas into tests/data/schemas, so a clone is
self-contained), byte-for-byte golden files per fixture, never an empty one.

The MachineConfig is the pool's desired state: the fix plan of the node scanned plus the
hostcheck-managed settings the node already carries, under one stable name, so two nodes of a
pool in different states give the same object. The goldens follow the rules: a rule change that
changes a fix shows up as a reviewed diff of tests/data/machineconfig/. Regenerate with
HOSTCHECK_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hostcheck.fix.machineconfig import (
    MachineConfigError,
    Managed,
    desired_state,
    machineconfig,
    machineconfig_notes,
    to_yaml,
)
from tests.conftest import FIXTURE_NAMES, FIXTURES, PICTURED_RULES, REPO

# CI clones the repository with shared/ beside it (as the worktrees are laid out here).
SCHEMAS = REPO / "tests" / "data" / "schemas"  # copies of ../shared/schemas
GOLDEN = REPO / "tests" / "data" / "machineconfig"
MODPROBE = "/etc/modprobe.d/zz-hostcheck.conf"
SYSCTL = "/etc/sysctl.d/zz-hostcheck.conf"
DEFAULT_NAME = re.compile(r"99-worker-hostcheck")


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
def test_machineconfig_of_each_fixture_matches_golden_and_validates(
    cli, pictured_rules: str, name: str
) -> None:
    """The real planner's output: `hostcheck fix --fixture NAME --emit machineconfig`, for the
    pictured rules (a rule added to the catalog does not change the goldens)."""
    run = cli("fix", "--fixture", name, "--emit", "machineconfig", "--rules", pictured_rules)
    if run.code != 0:
        # Nothing a MachineConfig can carry (a ready host, or only manual fixes): say so.
        assert run.code == 2 and run.out == ""
        _check_golden(GOLDEN / f"{name}.error.txt", run.err)
        return
    _check_golden(GOLDEN / f"{name}.yaml", run.out)
    _check_golden(GOLDEN / f"{name}.notes.txt", run.err)
    obj = yaml.safe_load(run.out)
    assert_valid_machineconfig(obj)
    name_ = obj["metadata"]["name"]
    assert DEFAULT_NAME.fullmatch(name_)
    assert obj["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "worker"
    report = cli(
        "scan", "--fixture", name, "--format", "json", *(f"--select={r}" for r in PICTURED_RULES)
    ).json()
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
        assert entry["path"].endswith(f"/zz-{name_}.conf")
        content = _data_url_bytes(entry["contents"]["source"])
        assert content.startswith(
            f"# hostcheck-managed: managed by MachineConfig {name_};".encode()
        )
        assert b"--undo" not in content  # no `hostcheck fix` on an RHCOS node


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
    assert drop_in["path"] == f"/etc/sysctl.d/zz-{dkms['metadata']['name']}.conf"
    assert drop_in["mode"] == 0o644
    content = _data_url_bytes(drop_in["contents"]["source"])
    assert content.startswith(b"# hostcheck-managed")
    assert content.endswith(b"\nkernel.numa_balancing = 0\n")
    notes = (GOLDEN / "typo-kargs.notes.txt").read_text()
    assert "kernel arguments to remove: aamdgpu.cwsr_enable, amdgpu.gttsize." in notes
    # a ready node still carries hostcheck's settings: its desired state is not empty
    assert (GOLDEN / "tuned-ready.yaml").exists()
    assert "not writing an empty one" in (GOLDEN / "no-amd-gpu.error.txt").read_text()


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
    plain = machineconfig_notes(
        role="worker", name="99-worker-hostcheck-0a1b2c3d", kernel_args_remove=[]
    )
    assert 'oc patch mcp/worker --type merge -p \'{"spec":{"paused":true}}\'' in plain
    assert "oc apply -f 99-worker-hostcheck-0a1b2c3d.yaml" in plain
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
    name = obj["metadata"]["name"]
    assert DEFAULT_NAME.fullmatch(name)
    assert obj["spec"]["kernelArguments"] == [
        "amdgpu.cwsr_enable=0",
        "amdttm.pages_limit=29884416",
        "amdttm.page_pool_size=29884416",
        "amd_iommu=off",  # on the node's command line already: part of the desired state
    ]
    files = obj["spec"]["config"]["storage"]["files"]
    assert [f["path"] for f in files] == [f"/etc/sysctl.d/zz-{name}.conf"]
    assert "pause the pool" in run.err


def test_fix_never_emits_an_empty_machineconfig() -> None:
    from tests.conftest import run_subprocess

    run = run_subprocess("fix", "--fixture", "no-amd-gpu", "--emit", "machineconfig")
    assert run.code == 2
    assert run.out == ""
    assert "empty" in run.err


# -- one MachineConfig per pool: the desired state ------------------------------------------
def _emit(cli, *args: str, emit: str = "machineconfig") -> tuple[dict[str, Any], str]:
    run = cli("fix", "--emit", emit, *args)
    assert run.code == 0, run.err
    obj: dict[str, Any] = yaml.safe_load(run.out)
    if emit == "machineconfig":
        assert_valid_machineconfig(obj)
    return obj, run.err


def _rebooted_into(tmp_path: Path, fixture: str, obj: dict[str, Any]) -> Path:
    """A copy of the fixture as the node is after the MCO rolled ``obj`` out and rebooted it:
    the kernel arguments on /proc/cmdline and in effect (the TTM limit, the GTT size it gives),
    the MachineConfig's files written."""
    root = tmp_path / "rebooted"
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    kargs = obj["spec"]["kernelArguments"]
    cmdline = root / "proc/cmdline"
    cmdline.write_text(cmdline.read_text().rstrip("\n") + " " + " ".join(kargs) + "\n")
    for arg in kargs:
        key, _, value = arg.partition("=")
        module, _, param = key.partition(".")
        parameter = root / "sys/module" / module / "parameters" / param
        if parameter.exists():
            parameter.write_text(value + "\n")
            if param == "pages_limit":
                (root / "sys/class/drm/card1/device/mem_info_gtt_total").write_text(
                    f"{int(value) * 4096}\n"
                )
    for entry in obj["spec"]["config"].get("storage", {}).get("files", []):
        path = root / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_data_url_bytes(entry["contents"]["source"]))
    return root


def test_two_nodes_of_a_pool_in_different_states_give_the_same_machineconfig(
    cli, tmp_path: Path
) -> None:
    """The node not fixed yet and the node already rebooted into the MachineConfig: the second
    one's plan no longer asks for what it carries, but the desired state still holds it, so
    applying the second node's MachineConfig changes nothing on the pool."""
    fresh, _ = _emit(cli, "--fixture", "stock-128g")
    assert fresh["metadata"]["name"] == "99-worker-hostcheck"
    rebooted = _rebooted_into(tmp_path, "stock-128g", fresh)
    before = {f["rule"]: f["status"] for f in cli("scan", "--fixture", "stock-128g",
                                                   "--format", "json").json()["findings"]}  # fmt: skip
    after = {f["rule"]: f["status"] for f in cli("scan", "--root", str(rebooted),
                                                  "--format", "json").json()["findings"]}  # fmt: skip
    # the two nodes differ: the rebooted one passes what the fresh one fails or warns about …
    assert (before["memory.gtt"], after["memory.gtt"]) == ("fail", "pass")
    assert (before["perf.iommu"], after["perf.iommu"]) == ("warn", "pass")
    # … and its own plan no longer asks for amd_iommu=off
    plan = cli("fix", "--root", str(rebooted))
    assert "amd_iommu=off" not in plan.out
    again, notes = _emit(cli, "--root", str(rebooted))
    assert again == fresh
    assert to_yaml(again) == to_yaml(fresh)
    assert "to remove" not in notes
    # Butane of either node is the same too, and says the same as the MachineConfig
    butane_fresh, _ = _emit(cli, "--fixture", "stock-128g", emit="butane")
    butane_rebooted, _ = _emit(cli, "--root", str(rebooted), emit="butane")
    assert butane_fresh == butane_rebooted
    assert butane_fresh["variant"] == "openshift"
    assert butane_fresh["metadata"] == fresh["metadata"]
    assert butane_fresh["openshift"]["kernel_arguments"] == fresh["spec"]["kernelArguments"]
    files = fresh["spec"]["config"]["storage"]["files"]
    assert [
        (f["path"], f["mode"], f["contents"]["inline"].encode())
        for f in butane_fresh["storage"]["files"]
    ] == [(f["path"], f["mode"], _data_url_bytes(f["contents"]["source"])) for f in files]


MANAGED = Managed(
    ("amdgpu.cwsr_enable", "ttm.pages_limit", "ttm.page_pool_size", "amd_iommu"),
    {"kernel.numa_balancing": "0"},
)


def _desired(**changes: Any) -> Any:
    request: dict[str, Any] = {
        "plan_kernel_args": [],
        "plan_kernel_args_remove": [],
        "plan_modprobe": {},
        "plan_sysctl": {},
        "running_kernel_args": [],
        "staged_kernel_args": [],
        "staged_modprobe": {},
        "running_sysctl": {},
    }
    return desired_state(MANAGED, **{**request, **changes})


def test_desired_state_carries_what_the_node_has_and_the_plan_wins() -> None:
    state = _desired(
        plan_kernel_args=["ttm.pages_limit=2", "ttm.page_pool_size=2"],
        running_kernel_args=["ro", "amd_iommu=off", "ttm.pages_limit=1", "quiet"],
        running_sysctl={"kernel.numa_balancing": "0"},
    )
    # catalog order; the plan's value wins over the node's; unmanaged arguments stay out
    assert state.kernel_args == ("ttm.pages_limit=2", "ttm.page_pool_size=2", "amd_iommu=off")
    assert state.sysctl == {"kernel.numa_balancing": "0"}
    wrong = _desired(running_sysctl={"kernel.numa_balancing": "1"})
    assert wrong.sysctl == {}  # not in effect with the target value: the plan decides
    # a parameter the plan moves to modprobe.d is not carried on the command line
    moved = _desired(
        plan_modprobe={("ttm", "pages_limit"): "2"}, running_kernel_args=["ttm.pages_limit=1"]
    )
    assert moved.kernel_args == () and moved.modprobe == {("ttm", "pages_limit"): "2"}
    # an argument the plan removes is not carried
    removed = _desired(
        plan_kernel_args_remove=["amdgpu.cwsr_enable"],
        running_kernel_args=["amdgpu.cwsr_enable=0"],
    )
    assert removed.kernel_args == () and removed.kernel_args_remove == ("amdgpu.cwsr_enable",)


def test_notes_name_only_removals_the_node_carries(cli) -> None:
    state = _desired(
        plan_kernel_args_remove=["iommu", "amdgpu.gttsize"],
        running_kernel_args=["iommu=pt"],
    )
    assert state.kernel_args_remove == ("iommu",)  # amdgpu.gttsize is not on this node
    staged = _desired(
        plan_kernel_args_remove=["amdgpu.gttsize"], staged_kernel_args=["amdgpu.gttsize=1"]
    )
    assert staged.kernel_args_remove == ("amdgpu.gttsize",)


def test_tuned_object_carries_the_sysctls(cli) -> None:
    obj, _ = _emit(cli, "--fixture", "dkms-amdttm", emit="tuned")
    assert obj["apiVersion"] == "tuned.openshift.io/v1" and obj["kind"] == "Tuned"
    assert obj["metadata"]["namespace"] == "openshift-cluster-node-tuning-operator"
    (profile,) = obj["spec"]["profile"]
    data = profile["data"].splitlines()
    assert "kernel.numa_balancing=0" in data[data.index("[sysctl]") :]
    (recommend,) = obj["spec"]["recommend"]
    assert recommend["profile"] == profile["name"]
    assert recommend["machineConfigLabels"] == {"machineconfiguration.openshift.io/role": "worker"}
    empty = cli("fix", "--fixture", "no-amd-gpu", "--emit", "tuned")
    assert empty.code == 2 and "not writing an empty Tuned profile" in empty.err


def test_notes_say_how_to_list_and_prune_hostcheck_machineconfigs(cli) -> None:
    obj, notes = _emit(cli, "--fixture", "stock-128g")
    name = obj["metadata"]["name"]
    assert f"oc apply -f {name}.yaml" in notes
    assert "complete desired state of what hostcheck manages on the worker pool" in notes
    assert (
        "oc get machineconfig -l app.kubernetes.io/managed-by=hostcheck,"
        "machineconfiguration.openshift.io/role=worker" in notes
    )
    assert "oc delete machineconfig NAME" in notes
    _obj, named = _emit(cli, "--fixture", "stock-128g", "--name", "99-worker-strix")
    assert "`oc apply` replaces any MachineConfig called 99-worker-strix" in named


def test_notes_warn_that_ram_sized_limits_apply_to_the_whole_pool(cli) -> None:
    _obj, notes = _emit(cli, "--fixture", "stock-128g")
    assert (
        "Sized from the RAM of the node scanned (MemTotal 122.7 GiB): ttm.pages_limit, "
        "ttm.page_pool_size.\nThe MachineConfig gives them to every node of the worker pool"
    ) in notes
    assert "make the MachineConfig on the node with the\nleast RAM" in notes
    _obj, modprobe = _emit(cli, "--fixture", "stock-128g", "--module-options", "modprobe")
    assert "(MemTotal 122.7 GiB): ttm.page_pool_size, ttm.pages_limit." in modprobe
    _obj, iommu_only = _emit(cli, "--fixture", "stock-128g", "--only", "perf.iommu")
    assert "Sized from the RAM" not in iommu_only


def test_plain_fix_drop_ins_still_say_how_to_undo(cli, fixture_copy) -> None:
    """The MachineConfig's comment is for the MachineConfig only: `hostcheck fix` on a host
    writes drop-ins that `hostcheck fix --undo` removes, and says so."""
    root = fixture_copy("dkms-amdttm")
    run = cli("fix", "--root", str(root))
    assert run.code == 0, run.err
    assert (
        "+# hostcheck-managed: written by `hostcheck fix`; remove it with `hostcheck fix --undo`."
        in run.out
    )
    assert "MachineConfig" not in run.out
