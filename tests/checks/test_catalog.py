"""Meta-tests over the rule catalog: every rule is complete, documented and decided by a real
check kind; the compiled catalog.json is fresh; a stale one is never trusted."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from hostcheck.checks.catalog import CACHE_NAME, _digest, _sources, data_dir, load_catalog
from hostcheck.checks.kinds import CHECK_KINDS
from hostcheck.checks.rulefile import CatalogError
from hostcheck.model import Severity

RULES, PROFILES = load_catalog()
MINIMUM_CATALOG = {
    "gpu.present", "kernel.version", "kernel.rocm-floor", "kernel.params", "memory.gtt",
    "memory.rocm-visible", "memory.carveout", "memory.gttsize-deprecated", "memory.ttm-module",
    "amdgpu.cwsr", "firmware.mes", "log.gpu-hangs", "devices.kfd", "devices.render",
    "rocm.version", "rocm.kernel-compat", "torch.gfx1151", "env.hsa-override", "perf.hipblaslt",
    "llamacpp.mmap", "perf.iommu", "sysctl.numa-balancing", "vllm.env",
    # functional readiness (scan --functional): in a report only when the probe ran
    "functional.run", "functional.allocation", "functional.copy", "functional.memory-bandwidth",
    "functional.compute",
}  # fmt: skip


def test_catalog_keeps_every_public_rule_id() -> None:
    """Rule ids are a public contract: none may disappear (new rules are added freely)."""
    assert {rule.id for rule in RULES} >= MINIMUM_CATALOG


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_documented_and_sourced(rule) -> None:
    assert rule.title and not rule.title.endswith(".")
    assert len(rule.rationale) > 200, "the rationale says what goes wrong and why, with sources"
    assert rule.references, "every rule cites where its facts come from"
    assert rule.command.strip()
    assert isinstance(rule.severity, Severity)
    if rule.remediation and rule.remediation["kind"] == "kernel-args":
        assert (
            rule.remediation.get("add_kernel_args")
            or rule.remediation.get("remove_kernel_args")
            or rule.id in ("kernel.params", "memory.ttm-module")
        )


def test_every_check_kind_is_used_by_a_rule() -> None:
    assert {rule.check for rule in RULES} == set(CHECK_KINDS)


def test_profiles_default_to_the_70b_class_with_reasoning() -> None:
    default = [p for p in PROFILES.values() if p.default]
    assert [p.name for p in default] == ["70b-q8"]
    assert {"32b-q4", "32b-bf16", "70b-q4", "70b-q8"} <= set(PROFILES)
    for profile in PROFILES.values():
        assert "GiB" in profile.reasoning and profile.required_gib > 0


def test_catalog_json_is_built_on_first_use_and_used_while_fresh(
    tmp_path: Path, monkeypatch
) -> None:
    """Nobody commits catalog.json: the first load writes it, later loads use it."""
    import hostcheck.checks.catalog as catalog

    rules = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), rules, ignore=shutil.ignore_patterns(CACHE_NAME))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, _ = load_catalog(str(rules))
    cached = json.loads((rules / CACHE_NAME).read_text())
    assert cached["digest"] == _digest(_sources(str(rules)))

    def no_parsing(*args: object) -> None:
        raise AssertionError("the TOML files were parsed although the cache is fresh")

    monkeypatch.setattr(catalog, "_parse_sources", no_parsing)
    again, _ = load_catalog(str(rules))
    assert [r.id for r in again] == [r.id for r in first]


def test_catalog_json_goes_to_the_user_cache_when_the_rules_are_read_only(
    tmp_path: Path, monkeypatch
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), rules, ignore=shutil.ignore_patterns(CACHE_NAME))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import hostcheck.checks.catalog as catalog

    real = catalog._write_cache
    monkeypatch.setattr(
        catalog,
        "_write_cache",
        lambda path, data: False if path.startswith(str(rules)) else real(path, data),
    )
    load_catalog(str(rules))
    assert not (rules / CACHE_NAME).exists()
    assert len(list((tmp_path / "cache" / "hostcheck").glob("catalog-*.json"))) == 1


def test_stale_catalog_json_is_ignored(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), rules)
    path = rules / "perf.iommu.toml"
    path.write_text(path.read_text().replace('severity = "info"', 'severity = "low"'))
    loaded, _ = load_catalog(str(rules))
    assert next(r for r in loaded if r.id == "perf.iommu").severity is Severity.LOW


def _bundled_copy(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the bundled rules, installed a minute ago, that load_catalog() without a
    directory takes for the bundled catalog."""
    import hostcheck.checks.catalog as catalog

    rules = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), rules, ignore=shutil.ignore_patterns(CACHE_NAME))
    installed = time.time_ns() - 60 * 10**9
    for path in rules.iterdir():
        os.utime(path, ns=(installed, installed))
    monkeypatch.setattr(catalog, "data_dir", lambda name: str(rules))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return rules


def test_the_bundled_catalog_is_validated_once_then_built_from_its_compiled_copy(
    tmp_path: Path, monkeypatch
) -> None:
    import hostcheck.checks.catalog as catalog

    rules = _bundled_copy(tmp_path, monkeypatch)
    first = load_catalog()
    assert json.loads((rules / CACHE_NAME).read_text())["validated"]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rule files read or validated although the compiled copy is fresh")

    monkeypatch.setattr(catalog, "_sources", refuse)
    monkeypatch.setattr(catalog, "parse_rule", refuse)
    assert load_catalog() == first


def test_an_edited_bundled_rule_is_picked_up(tmp_path: Path, monkeypatch) -> None:
    rules = _bundled_copy(tmp_path, monkeypatch)
    load_catalog()
    path = rules / "perf.iommu.toml"
    path.write_text(path.read_text().replace('severity = "info"', 'severity = "low"'))
    loaded, _ = load_catalog()
    assert next(r for r in loaded if r.id == "perf.iommu").severity is Severity.LOW


def test_a_bundled_rule_edited_within_the_timestamp_granularity_is_picked_up(
    tmp_path: Path, monkeypatch
) -> None:
    """A second edit of the same size that leaves the file's time as it was (the same tick of
    a coarse clock) is found by content while the time is too close to when the copy was made."""
    rules = _bundled_copy(tmp_path, monkeypatch)
    path = rules / "perf.iommu.toml"
    edited = time.time_ns()
    os.utime(path, ns=(edited, edited))
    load_catalog()
    path.write_text(path.read_text().replace('severity = "info"', 'severity = "high"'))
    os.utime(path, ns=(edited, edited))
    loaded, _ = load_catalog()
    assert next(r for r in loaded if r.id == "perf.iommu").severity is Severity.HIGH


def test_a_compiled_copy_validated_by_other_code_is_validated_again(
    tmp_path: Path, monkeypatch
) -> None:
    from hostcheck.checks.kinds import REQUIRED_PARAMS

    _bundled_copy(tmp_path, monkeypatch)
    load_catalog()
    monkeypatch.setitem(REQUIRED_PARAMS, "device-access", (*REQUIRED_PARAMS["device-access"], "x"))
    with pytest.raises(CatalogError, match=r"\[check\] kind device-access needs x"):
        load_catalog()


def test_rules_given_as_a_directory_are_validated_whatever_the_compiled_copy_says(
    tmp_path: Path, monkeypatch
) -> None:
    rules = _bundled_copy(tmp_path, monkeypatch)
    load_catalog()  # the bundled catalog: the copy holds validated rules
    cache = json.loads((rules / CACHE_NAME).read_text())
    del cache["files"]["devices.kfd.toml"]["check"]["node"]
    (rules / CACHE_NAME).write_text(json.dumps(cache))
    with pytest.raises(CatalogError, match=r"\[check\] kind device-access needs node"):
        load_catalog(str(rules))


def test_compile_catalog_writes_the_copy_a_scan_trusts(tmp_path: Path, monkeypatch) -> None:
    import hostcheck.checks.catalog as catalog

    rules = _bundled_copy(tmp_path, monkeypatch)
    assert catalog.compile_catalog() == str(rules / CACHE_NAME)
    monkeypatch.setattr(catalog, "parse_rule", lambda *args: pytest.fail("validated again"))
    assert {rule.id for rule in load_catalog()[0]} >= MINIMUM_CATALOG


def test_duplicate_ids_and_misnamed_files_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), rules)
    (rules / CACHE_NAME).unlink(missing_ok=True)
    shutil.copy(rules / "perf.iommu.toml", rules / "perf.iommu2.toml")
    with pytest.raises(
        CatalogError, match=r"perf\.iommu2\.toml: file name must be perf\.iommu\.toml"
    ):
        load_catalog(str(rules))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("devices.kfd.toml", 'node = "kfd"', ""), "[check] kind device-access needs node"),
        (("memory.gtt.toml", "({gib} GiB)", "({gib GiB)"), "[remediation] summary"),
        (("memory.gtt.toml", "({gib} GiB)", "(${USER})"), "{USER} is not filled by this check"),
        (("profiles.toml", None, "profile = 3\n"), "[profile] must be a table"),
    ],
)
def test_rule_data_mistakes_are_refused_when_rules_load(tmp_path: Path, edit, message: str) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(data_dir("rules"), rules)
    name, old, new = edit
    path = rules / name
    if old is None:
        path.write_text(new)
    else:
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(CatalogError) as caught:
        load_catalog(str(rules))
    assert message in str(caught.value)
