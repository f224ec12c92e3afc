"""The December 2026 catalog review, rule by rule: each corrected fact on a copy of a fixture
host with one thing changed, asserting the verdict and the words a user reads."""

from __future__ import annotations

import json
import re

import pytest

from hostcheck.checks.catalog import load_catalog
from tests.conftest import FIXTURES

FEDORA_43 = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=43\n'
ARCH = 'NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n'
TUNED_ARGS = "ttm.pages_limit=29884416 ttm.page_pool_size=29884416 amd_iommu=off"


def _kernel(release: str, os_release: str = FEDORA_43) -> dict[str, str | None]:
    """A tuned-ready copy running another kernel of another distribution."""
    return {
        "proc/sys/kernel/osrelease": release + "\n",
        "proc/version_signature": None,
        "etc/os-release": os_release,
        "proc/cmdline": f"BOOT_IMAGE=/boot/vmlinuz-{release} root=UUID=x ro {TUNED_ARGS}\n",
    }


# --- one table of KFD kernel floors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "fixed"),
    [
        ("6.18.2-200.fc43.x86_64", False),  # had the superseded d15deafab5d7 only
        ("6.18.3-200.fc43.x86_64", False),
        ("6.18.4-200.fc43.x86_64", True),
        ("6.17.10-300.fc43.x86_64", False),  # no 6.17.y stable carries the pair
        ("6.12.63-1.fc43.x86_64", False),
        ("6.12.64-1.fc43.x86_64", True),  # both commits in the 6.12.64 changelog
        ("6.19.0-0.rc1.fc44.x86_64", False),
        ("6.19.0-0.rc2.fc44.x86_64", True),
        ("7.0.4-100.fc43.x86_64", True),
    ],
)
def test_cwsr_and_rocm_floor_agree_on_every_kernel(scan, release: str, fixed: bool) -> None:
    """amdgpu.cwsr's kernel half reads kernel.rocm-floor's table: they cannot disagree."""
    run = scan(
        "tuned-ready", _kernel(release), "--select", "amdgpu.cwsr", "--select", "kernel.rocm-floor"
    )
    floor = run.finding("kernel.rocm-floor")
    cwsr = run.finding("amdgpu.cwsr")
    assert floor["status"] == ("pass" if fixed else "fail"), floor["message"]
    # CWSR is enabled and ROCm 7.2.1 carries the ROCr half: the kernel decides.
    assert cwsr["status"] == ("pass" if fixed else "fail"), cwsr["message"]
    note = next(e["note"] for e in cwsr["evidence"] if e["label"] == "kernel")
    assert note == ("has the CWSR fix" if fixed else "lacks the CWSR fix")


KFD_PROPERTIES = "sys/class/kfd/kfd/topology/nodes/1/properties"
RHEL_10 = 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nVERSION_ID="10.1"\n'


@pytest.mark.parametrize("exported", [False, True])
def test_a_kfd_that_exports_cwsr_size_carries_the_fix_whatever_its_release(
    scan, exported: bool
) -> None:
    """A rebased distribution kernel (RHEL 10's 6.12.0-211) tells nothing by its release; the
    export commit adds cwsr_size to the KFD node's properties, so its presence decides."""
    edits = _kernel("6.12.0-211.el10.x86_64", RHEL_10)
    if exported:
        props = (FIXTURES / "tuned-ready" / KFD_PROPERTIES).read_text()
        edits[KFD_PROPERTIES] = props + "cwsr_size 7430144\nctl_stack_size 12288\n"
    run = scan("tuned-ready", edits, "--select", "amdgpu.cwsr", "--select", "kernel.rocm-floor")
    floor, cwsr = run.finding("kernel.rocm-floor"), run.finding("amdgpu.cwsr")
    assert floor["status"] == cwsr["status"] == ("pass" if exported else "fail")
    if exported:
        assert "its KFD exports cwsr_size" in floor["message"]
        labels = [e["label"] for e in cwsr["evidence"]]
        assert "KFD cwsr_size" in labels
    else:
        assert "lacks the KFD queue and memory fixes" in floor["message"]


def test_the_floor_table_lives_in_one_rule() -> None:
    rules = {rule.id: rule for rule in load_catalog()[0]}
    table = rules["kernel.rocm-floor"].params
    assert rules["amdgpu.cwsr"].params["kernel"] == table
    assert rules["rocm.kernel-compat"].params["kernel"] == table


# --- rocm.kernel-compat: the current table, newer releases, scope ---------------------------


@pytest.mark.parametrize(
    ("rocm", "release", "os_release", "status", "note"),
    [
        ("7.13.0", "6.18.9-200.fc43.x86_64", FEDORA_43, "pass", "table: ok"),
        ("7.14.1", "6.18.9-200.fc43.x86_64", FEDORA_43, "pass", "table: ok"),
        ("7.2.4", "6.18.9-200.fc43.x86_64", FEDORA_43, "pass", "table: ok"),
        ("7.15.0", "6.18.9-200.fc43.x86_64", FEDORA_43, "pass", "newer than the table"),
        ("7.10.0", "6.18.9-200.fc43.x86_64", FEDORA_43, "fail", "table: broken"),
        ("10.0.0", "6.18.9-200.fc43.x86_64", FEDORA_43, "warn", "table: caution"),
        ("11.1.0", "6.18.9-200.fc43.x86_64", FEDORA_43, "warn", "newer than the table"),
        ("7.5.0", "6.18.9-200.fc43.x86_64", FEDORA_43, "warn", "not in the table"),
        ("7.2.0", "6.18.2-1-arch1", ARCH, "fail", "table: broken"),
    ],
)
def test_rocm_table_of_december_2026(
    scan, rocm: str, release: str, os_release: str, status: str, note: str
) -> None:
    edits = _kernel(release, os_release) | {"opt/rocm/.info/version": rocm + "-1\n"}
    finding = scan("tuned-ready", edits, "--select", "rocm.kernel-compat").finding(
        "rocm.kernel-compat"
    )
    assert finding["status"] == status, finding["message"]
    assert any(note in (e.get("note") or "") for e in finding["evidence"]), finding["evidence"]
    assert "not in the table" not in finding["message"] or note == "not in the table"


def test_rocm_10_on_an_ubuntu_kernel_of_its_matrix_passes(scan) -> None:
    edits = {"opt/rocm/.info/version": "10.0.0-1\n"}
    finding = scan("tuned-ready", edits, "--select", "rocm.kernel-compat").finding(
        "rocm.kernel-compat"
    )
    assert finding["status"] == "pass"


def test_distribution_rocm_is_not_judged_by_amds_binary_table() -> None:
    from hostcheck.checks.kinds._util import RocmVersion
    from hostcheck.checks.kinds.software import _distribution_rocm, _table_row

    fedora = RocmVersion("6.4.4", (6, 4, 4), "rpm: rocm-core-6.4.4-1.fc43", "distribution")
    amd = RocmVersion("6.4.4", (6, 4, 4), "/opt/rocm/.info/version", "amd")
    assert _distribution_rocm(fedora) and not _distribution_rocm(amd)
    table = [
        {"from": "7.14.0", "below": "7.15.0"},
        {"from": "7.2.1", "below": "7.3.0"},
    ]
    assert _table_row(table, RocmVersion("7.20.0", (7, 20, 0), "x")) == (table[0], True)
    assert _table_row(table, RocmVersion("7.5.0", (7, 5, 0), "x")) == (None, False)


def test_rocm_below_72_fails_with_the_reason(scan) -> None:
    edits = {"opt/rocm/.info/version": "7.1.1-1\n"}
    finding = scan("tuned-ready", edits, "--select", "rocm.version").finding("rocm.version")
    assert finding["status"] == "fail"
    assert "older than 7.2.0" in finding["message"]


# --- env.hsa-override ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "status"), [("11.5.1", "pass"), ("11.0.0", "warn")])
def test_hsa_override_of_gfx1151_itself_passes(scan, value: str, status: str) -> None:
    environ = f"PATH=/usr/bin\0HSA_OVERRIDE_GFX_VERSION={value}\0TORCH_BLAS_PREFER_HIPBLASLT=1\0"
    run = scan("tuned-ready", {"proc/3100/environ": environ}, "--select", "env.hsa-override")
    finding = run.finding("env.hsa-override")
    assert finding["status"] == status
    if status == "warn":
        assert "gfx1100" in finding["message"]


DROPIN = "etc/systemd/system/ollama.service.d/override.conf"


@pytest.mark.parametrize(
    ("path", "line", "status"),
    [
        (DROPIN, '[Service]\nEnvironment="HSA_OVERRIDE_GFX_VERSION=11.0.0"\n', "warn"),
        (
            DROPIN,
            "[Service]\nEnvironment=OLLAMA_HOST=0.0.0.0 HSA_OVERRIDE_GFX_VERSION=11.5.1\n",
            "pass",
        ),
        (DROPIN, '[Service]\n# Environment="HSA_OVERRIDE_GFX_VERSION=11.0.0"\n', "pass"),
        (
            "etc/systemd/system/comfyui.service",
            "[Service]\nEnvironment='HSA_OVERRIDE_GFX_VERSION=11.0.3'\nExecStart=/opt/c/run\n",
            "warn",
        ),
        (
            "etc/containers/systemd/ollama.container",
            "[Container]\nAddDevice=/dev/kfd\nEnvironment=HSA_OVERRIDE_GFX_VERSION=11.0.0\n",
            "warn",
        ),
    ],
)
def test_hsa_override_set_by_a_unit_drop_in_or_quadlet(
    scan, path: str, line: str, status: str
) -> None:
    """`systemctl edit ollama` puts the override in a drop-in (ollama#6520): it is what the
    service gets at its next start, running or not."""
    finding = scan("tuned-ready", {path: line}, "--select", "env.hsa-override").finding(
        "env.hsa-override"
    )
    assert finding["status"] == status
    if status == "warn":
        assert f"/{path} (HSA_OVERRIDE_GFX_VERSION=" in finding["message"]
        assert "next starts" in finding["message"]


UNIT = "etc/systemd/system/ollama.service"
SET_1100 = (
    '[Service]\nEnvironment="HSA_OVERRIDE_GFX_VERSION=11.0.0"\nExecStart=/usr/bin/ollama serve\n'
)


@pytest.mark.parametrize(
    ("edits", "status"),
    [
        # systemd.unit(5): drop-ins apply after the unit; the later assignment wins
        (
            {UNIT: SET_1100, DROPIN: "[Service]\nEnvironment=HSA_OVERRIDE_GFX_VERSION=11.5.1\n"},
            "pass",
        ),
        # systemd.exec(5): UnsetEnvironment= removes it from the final environment
        (
            {UNIT: SET_1100, DROPIN: "[Service]\nUnsetEnvironment=HSA_OVERRIDE_GFX_VERSION\n"},
            "pass",
        ),
        (
            {
                UNIT: SET_1100,
                DROPIN: "[Service]\nUnsetEnvironment=HSA_OVERRIDE_GFX_VERSION=11.0.0\n",
            },
            "pass",
        ),
        # ... but only the assignment it names
        (
            {
                UNIT: SET_1100,
                DROPIN: "[Service]\nUnsetEnvironment=HSA_OVERRIDE_GFX_VERSION=10.3.0\n",
            },
            "warn",
        ),
        # systemd.exec(5): an empty Environment= resets the list, in the unit or a drop-in
        ({UNIT: SET_1100, DROPIN: "[Service]\nEnvironment=\n"}, "pass"),
        ({UNIT: SET_1100.replace("ExecStart", "Environment=\nExecStart")}, "pass"),
        # a reset before the assignment does not undo it
        (
            {
                UNIT: SET_1100,
                DROPIN: "[Service]\nEnvironment=\nEnvironment=HSA_OVERRIDE_GFX_VERSION=11.0.3\n",
            },
            "warn",
        ),
        # an empty unit file is masked (systemd.unit(5)): its drop-ins are never used
        ({UNIT: "", DROPIN: SET_1100}, "pass"),
        # a quadlet's Environment= continued on the next line (read whole, joined as podman does)
        (
            {
                "etc/containers/systemd/ollama.container": "[Container]\nAddDevice=/dev/kfd\n"
                "Environment=OLLAMA_HOST=0.0.0.0 \\\n  HSA_OVERRIDE_GFX_VERSION=11.0.0\n"
            },
            "warn",
        ),
        # and reset by an empty Environment= (podman's parser: an empty value clears the list)
        (
            {
                "etc/containers/systemd/ollama.container": "[Container]\nAddDevice=/dev/kfd\n"
                "Environment=HSA_OVERRIDE_GFX_VERSION=11.0.0\nEnvironment=\n"
            },
            "pass",
        ),
    ],
)
def test_hsa_override_as_systemd_computes_it(scan, edits: dict[str, str], status: str) -> None:
    """A unit's value can be replaced, unset or reset by a later line or a drop-in, and a
    masked unit never starts: only what the service would really get is flagged."""
    finding = scan("tuned-ready", edits, "--select", "env.hsa-override").finding("env.hsa-override")
    assert finding["status"] == status, finding["message"]


def test_hsa_override_of_a_masked_unit_is_not_flagged(scan, fixture_copy, cli) -> None:
    """`systemctl mask ollama` links the unit to /dev/null; a drop-in left behind is unused."""
    root = fixture_copy("tuned-ready")
    (root / DROPIN).parent.mkdir(parents=True)
    (root / DROPIN).write_text(SET_1100)
    (root / UNIT).symlink_to("/dev/null")
    finding = cli(
        "scan", "--root", str(root), "--select", "env.hsa-override", "--format", "json"
    ).finding("env.hsa-override")
    assert finding["status"] == "pass"


def test_hsa_override_in_a_running_ollama_is_flagged(scan) -> None:
    edits = {
        "proc/4200/cmdline": "/usr/local/bin/ollama\0serve\0",
        "proc/4200/environ": "PATH=/usr/bin\0HSA_OVERRIDE_GFX_VERSION=11.0.0\0",
    }
    finding = scan("tuned-ready", edits, "--select", "env.hsa-override").finding("env.hsa-override")
    assert finding["status"] == "warn"
    assert "ollama pid 4200 (HSA_OVERRIDE_GFX_VERSION=11.0.0)" in finding["message"]


# --- llamacpp.mmap ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "status", "fragment"),
    [
        (["--load-mode", "none"], "", "pass", "No llama.cpp process loads with mmap"),
        (["-lm", "dio"], "", "pass", "No llama.cpp process loads with mmap"),
        ([], "LLAMA_ARG_LOAD_MODE=none\0", "pass", "No llama.cpp process loads with mmap"),
        (["--load-mode", "mmap"], "", "warn", "loads /models/m.gguf with mmap"),
        (["--no-mmap"], "", "pass", "No llama.cpp process loads with mmap"),
        ([], "", "warn", "does not say how it loads"),
        (["--load-mode", "auto"], "", "warn", "does not say how it loads"),
        (["--load-mode", "bogus"], "", "warn", "does not say how it loads"),
    ],
)
def test_llamacpp_load_mode(
    scan, argv: list[str], environ: str, status: str, fragment: str
) -> None:
    cmdline = "\0".join(["/opt/llama.cpp/bin/llama-server", "-m", "/models/m.gguf", *argv]) + "\0"
    edits = {
        "proc/3100/cmdline": cmdline,
        "proc/3100/environ": "PATH=/usr/bin\0" + environ,
    }
    finding = scan("tuned-ready", edits, "--select", "llamacpp.mmap").finding("llamacpp.mmap")
    assert finding["status"] == status
    assert fragment in finding["message"]


def test_llamacpp_mmap_on_vulkan_is_skipped_not_warned(scan) -> None:
    """The mmap stall is HIP's: a Vulkan llama.cpp that maps its model is not told about ROCm."""
    cmdline = "\0".join(
        ["/opt/llama.cpp/bin/llama-server", "-m", "/models/m.gguf", "--load-mode", "mmap"]
    )
    finding = scan("vulkan-llamacpp", {"proc/1880/cmdline": cmdline + "\0"}).finding(
        "llamacpp.mmap"
    )
    assert finding["status"] == "skip"
    assert "Inference runs on Vulkan here" in finding["message"]


# --- vllm.env --------------------------------------------------------------------------------


def test_vllm_forcing_rocm_attn_warns(scan) -> None:
    cmdline = "vllm\0serve\0Qwen/Qwen3-32B-AWQ\0--attention-backend\0ROCM_ATTN\0"
    finding = scan("tuned-ready", {"proc/3100/cmdline": cmdline}, "--select", "vllm.env").finding(
        "vllm.env"
    )
    assert finding["status"] == "warn"
    assert "7x slower" in finding["message"]


def test_vllm_with_a_modern_environment_passes(scan) -> None:
    """The tuned-ready vLLM: no obsolete variables, an AWQ model; no recommendation to add any."""
    finding = scan("tuned-ready", {}, "--select", "vllm.env").finding("vllm.env")
    assert finding["status"] == "pass"
    assert "notes: " in finding["message"] and "XNACK is MI-only" in finding["message"]


def test_vllm_aiter_is_a_warning_not_a_failure(scan) -> None:
    environ = "PATH=/usr/bin\0VLLM_ROCM_USE_AITER=1\0"
    finding = scan("tuned-ready", {"proc/3100/environ": environ}, "--select", "vllm.env").finding(
        "vllm.env"
    )
    assert finding["status"] == "warn"
    assert "ignores it there" in finding["message"]


# --- kernel.version with amdgpu-dkms ---------------------------------------------------------


def test_dkms_driver_version_carries_the_memory_fix_on_an_old_kernel(scan) -> None:
    """ROCm#6143: Debian 6.12 with amdgpu-dkms 6.16.x has the 6.15 memory-visibility fix."""
    edits = {
        "proc/sys/kernel/osrelease": "6.12.74+deb13-amd64\n",
        "etc/os-release": 'ID=debian\nVERSION_ID="13"\n',
        "sys/module/amdgpu/version": "6.16.13\n",
    }
    run = scan("dkms-amdttm", edits, "--select", "kernel.version", "--select", "driver.no-dkms")
    version = run.finding("kernel.version")
    assert version["status"] == "pass"
    assert "amdgpu-dkms 6.16.13" in version["message"]
    assert run.finding("driver.no-dkms")["status"] == "fail"


def test_old_kernel_advice_names_the_rocm_floor_not_6169(scan) -> None:
    finding = scan(
        "tuned-ready", _kernel("6.14.5-300.fc42.x86_64"), "--select", "kernel.version"
    ).finding("kernel.version")
    assert finding["status"] == "fail"
    assert "Install kernel 6.18.4 or newer" in finding["message"]


# --- driver.no-dkms --------------------------------------------------------------------------


def _dpkg_with(package: str, version: str) -> str:
    status = (FIXTURES / "tuned-ready" / "var/lib/dpkg/status").read_text()
    return status + (
        f"\nPackage: {package}\nStatus: install ok installed\nArchitecture: all\n"
        f"Version: {version}\n"
    )


@pytest.mark.parametrize("keep", ["amdkcl", "amdgpu "])
def test_out_of_tree_driver_from_a_driver_container_is_dkms(scan, keep: str) -> None:
    """A driver container (KMM, AMD's GPU Operator) loads AMD's out-of-tree amdgpu without
    /lib/modules/RELEASE/updates/dkms; its amdkcl module still gives it away."""
    modules = (FIXTURES / "dkms-amdttm" / "proc/modules").read_text().splitlines(keepends=True)
    edits: dict[str, str | None] = {
        "proc/modules": "".join(
            line for line in modules if line.startswith(keep) or not line.startswith("amd")
        ),
        "lib/modules/6.14.0-1018-oem/updates/dkms/amdgpu.ko.zst": None,
    }
    finding = scan("dkms-amdttm", edits, "--select", "driver.no-dkms").finding("driver.no-dkms")
    # Without amdkcl only the installed package is left: installed, not built (a warning).
    assert finding["status"] == ("fail" if keep == "amdkcl" else "warn"), finding["message"]


def test_dkms_installed_but_not_built_for_the_running_kernel_warns(scan) -> None:
    edits = {"var/lib/dpkg/status": _dpkg_with("amdgpu-dkms", "1:6.16.13.30300000-2278356.24.04")}
    finding = scan("tuned-ready", edits, "--select", "driver.no-dkms").finding("driver.no-dkms")
    assert finding["status"] == "warn"
    assert "not built for the running kernel" in finding["message"]


def test_secure_boot_rejecting_a_module_with_dkms_installed_fails(scan, fixture_copy) -> None:
    dmesg = (FIXTURES / "tuned-ready" / ".hostcheck/dmesg.txt").read_text()
    edits = {
        "var/lib/dpkg/status": _dpkg_with("amdgpu-dkms", "1:6.16.13.30300000-2278356.24.04"),
        ".hostcheck/dmesg.txt": dmesg
        + "[    5.123456] Loading of module with unavailable key is rejected\n",
    }
    finding = scan("tuned-ready", edits, "--select", "driver.no-dkms").finding("driver.no-dkms")
    assert finding["status"] == "fail"
    assert "Secure Boot" in finding["message"]


# --- kernel.known-bad ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "status"), [("7.0.0-28-generic", "fail"), ("7.0.0-14-generic", "pass")]
)
def test_ubuntu_7_0_0_28_is_known_bad(scan, release: str, status: str) -> None:
    edits = {
        "proc/sys/kernel/osrelease": release + "\n",
        "proc/version_signature": f"Ubuntu {release.rsplit('-', 1)[0]}.28~24.04.1-generic 7.0.0\n",
    }
    finding = scan("tuned-ready", edits, "--select", "kernel.known-bad").finding("kernel.known-bad")
    assert finding["status"] == status


# --- firmware.mes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mes", "status", "fragment"),
    [
        ("0x0000007c", "warn", "older than 0x80"),
        ("0x00000086", "pass", "not known bad"),
        ("0x00000080", "pass", "known good"),
    ],
)
def test_mes_versions(scan, mes: str, status: str, fragment: str) -> None:
    edits = {"sys/class/drm/card1/device/fw_version/mes_fw_version": mes + "\n"}
    finding = scan("tuned-ready", edits, "--select", "firmware.mes").finding("firmware.mes")
    assert finding["status"] == status
    assert fragment in finding["message"]


def test_fedora_judges_amd_gpu_firmware_which_owns_the_mes_blob(scan) -> None:
    """linux-firmware-20251125 is installed, but the blob comes from amd-gpu-firmware pinned
    at 20251111 (AMD's advice in ROCm#5724): nothing to warn about."""
    blob = "lib/firmware/amdgpu/gc_11_5_1_mes_2.bin.xz"
    edits = {
        "sys/class/drm/card1/device/fw_version/mes_fw_version": "0x00000080\n",
        ".hostcheck/dmesg.txt": "",
        blob: "blob",
        ".hostcheck/commands/rpm-qf-mes-firmware.txt": "amd-gpu-firmware-20251111-1.fc43.noarch\n",
        ".hostcheck/commands/rpm-amd-gpu-firmware.txt": "amd-gpu-firmware-20251111-1.fc43.noarch\n",
    }
    finding = scan("mes-0x83", edits, "--select", "firmware.mes").finding("firmware.mes")
    assert finding["status"] == "pass", finding["message"]
    values = [str(e["value"]) for e in finding["evidence"]]
    assert "/lib/firmware/amdgpu/gc_11_5_1_mes_2.bin.xz" in values
    assert "amd-gpu-firmware-20251111-1.fc43.noarch" in values
    # The same host when amd-gpu-firmware itself is the broken release: warned about.
    edits[".hostcheck/commands/rpm-qf-mes-firmware.txt"] = (
        "amd-gpu-firmware-20251125-1.fc43.noarch\n"
    )
    edits[".hostcheck/commands/rpm-amd-gpu-firmware.txt"] = (
        "amd-gpu-firmware-20251125-1.fc43.noarch\n"
    )
    finding = scan("mes-0x83", edits, "--select", "firmware.mes").finding("firmware.mes")
    assert finding["status"] == "warn"
    assert "amd-gpu-firmware amd-gpu-firmware-20251125" in finding["message"]


def test_debian_dpkg_file_list_names_the_owner(scan) -> None:
    edits = {
        "lib/firmware/amdgpu/gc_11_5_1_mes_2.bin": "blob",
        "var/lib/dpkg/info/firmware-amd-graphics.list": "/lib/firmware/amdgpu/gc_11_5_1_mes_2.bin\n",
        "var/lib/dpkg/status": _dpkg_with("firmware-amd-graphics", "20251125-1"),
    }
    finding = scan("tuned-ready", edits, "--select", "firmware.mes").finding("firmware.mes")
    assert finding["status"] == "warn"
    assert "firmware-amd-graphics 20251125-1 ships the broken MES 0x83" in finding["message"]


# --- perf.iommu and kernel.params ------------------------------------------------------------


def test_iommu_off_on_a_laptop_with_an_npu_warns_and_offers_iommu_pt(scan) -> None:
    modules = (FIXTURES / "tuned-ready" / "proc/modules").read_text()
    edits = {
        "sys/class/dmi/id/chassis_type": "10\n",
        "proc/modules": modules + "amdxdna 147456 0 - Live 0x0000000000000000\n",
    }
    finding = scan("tuned-ready", edits, "--select", "perf.iommu").finding("perf.iommu")
    assert finding["status"] == "warn"
    assert "disables the XDNA NPU" in finding["message"] and "s0i3" in finding["message"]
    assert finding["remediation"]["kernel_args"] == {"add": ["iommu=pt"], "remove": ["amd_iommu"]}


def test_iommu_on_for_a_laptop_passes(scan) -> None:
    cmdline = "BOOT_IMAGE=/boot/vmlinuz-6.17.0-19-generic root=UUID=x ro iommu=pt\n"
    edits = {"sys/class/dmi/id/chassis_type": "10\n", "proc/cmdline": cmdline}
    finding = scan("tuned-ready", edits, "--select", "perf.iommu").finding("perf.iommu")
    assert finding["status"] == "pass"
    assert "stays on, as it should here" in finding["message"]


@pytest.mark.parametrize(("value", "status"), [("pt", "fail"), ("on", "fail"), ("off", "pass")])
def test_amd_iommu_values(scan, value: str, status: str) -> None:
    cmdline = f"BOOT_IMAGE=/boot/vmlinuz-6.17.0-19-generic root=UUID=x ro amd_iommu={value}\n"
    finding = scan("tuned-ready", {"proc/cmdline": cmdline}, "--select", "kernel.params").finding(
        "kernel.params"
    )
    assert finding["status"] == status, finding["message"]
    if status == "fail":
        assert "AMD-Vi: Unknown option" in finding["message"]
        assert finding["remediation"]["kernel_args"]["remove"] == ["amd_iommu"]


# --- log.gpu-hangs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (
            "amdgpu 0000:c5:00.0: amdgpu:  Faulty UTCL2 client ID: CPF (0x4)",
            "amdgpu-dkms conflict",
        ),
        ("amdgpu 0000:c5:00.0: amdgpu: SMU: No response msg_reg: 19 resp_reg: 0", "SMU/PMFW"),
    ],
)
def test_new_hang_signatures(scan, line: str, fragment: str) -> None:
    dmesg = (FIXTURES / "tuned-ready" / ".hostcheck/dmesg.txt").read_text()
    edits = {".hostcheck/dmesg.txt": dmesg + f"[ 812.000001] {line}\n"}
    finding = scan("tuned-ready", edits, "--select", "log.gpu-hangs").finding("log.gpu-hangs")
    assert finding["status"] == "warn"
    assert fragment in finding["message"]


# --- references are public URLs; no internal documents in what users read ------------------


INTERNAL = re.compile(r"research/|strix-halo-facts|DESIGN\.md|the seed|seed report|facts §")


def test_every_reference_is_a_public_url_and_no_text_cites_internal_files(cli) -> None:
    rules, profiles = load_catalog()
    for rule in rules:
        assert rule.references, rule.id
        for ref in rule.references:
            assert ref.startswith("https://"), (rule.id, ref)
        assert not INTERNAL.search(rule.rationale), rule.id
        text = cli("explain", rule.id).out
        assert not INTERNAL.search(text), rule.id
        assert rule.reviewed and rule.reviewed in text
    for profile in profiles.values():
        assert not INTERNAL.search(profile.reasoning + profile.title), profile.name
    for name in ("tuned-ready", "stock-128g", "rocm5590-mes-hang", "mes-0x83"):
        report = cli("scan", "--fixture", name, "--format", "json").json()
        for finding in report["findings"]:
            assert all(ref.startswith("https://") for ref in finding["references"]), finding["rule"]
            assert not INTERNAL.search(finding["message"]), finding["rule"]


# --- the catalog's age, and operator drop-ins ------------------------------------------------


def test_rules_and_report_show_the_review_dates(cli) -> None:
    listing = cli("rules").out.splitlines()
    assert all(re.search(r" 20[0-9]{2}-[0-9]{2}-[0-9]{2}  ", line) for line in listing)
    report = cli("scan", "--fixture", "tuned-ready", "--format", "json").json()
    rules, _ = load_catalog()
    assert report["catalog"] == {"reviewed": max(r.reviewed for r in rules), "dropins": []}


KNOWN_BAD_ROW = """
[[row]]
rule = "kernel.known-bad"
table = "kernels"
release = "6.17.0-19-"
distro = "ubuntu"
why = "our fleet saw resets."
advice = "Use 6.17.0-20."
reference = "https://example.com/ticket/1"
"""

ROW_7_15 = """\
# ROCm 7.15 came out after the catalog; the site has tested it.
[[row]]
rule = "rocm.kernel-compat"
table = "table"
from = "7.16.0"
below = "7.17.0"
ubuntu = "ok"
fixed = "ok"
older = "broken"
"""


def test_a_dropin_row_changes_a_fixtures_verdict(cli, tmp_path) -> None:
    """ROCm 7.16 on a kernel without the KFD fixes: 'caution' by the newer-than-the-table
    policy; an operator's row saying 'broken' makes it a failure, and the report names it."""
    root = tmp_path / "host"
    import shutil

    shutil.copytree(FIXTURES / "typo-kargs", root, symlinks=True)
    (root / "opt/rocm/.info/version").write_text("7.16.0-1\n")
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    config.write_text("")
    args = ["scan", "--root", str(root), "--format", "json", "--select", "rocm.kernel-compat"]
    before = cli(*args, "--config", str(config)).json()
    assert before["findings"][0]["status"] == "warn"
    assert before["catalog"]["dropins"] == []
    dropin = config.parent / "rules.d" / "site.toml"
    dropin.parent.mkdir()
    dropin.write_text(ROW_7_15)
    after = cli(*args, "--config", str(config)).json()
    assert after["findings"][0]["status"] == "fail"
    assert "ROCm 7.16.0 does not work" in after["findings"][0]["message"]
    assert after["catalog"]["dropins"] == [str(dropin)]
    # explain shows the table with the row
    assert "'from': '7.16.0'" in cli("explain", "rocm.kernel-compat", "--config", str(config)).out


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (ROW_7_15.replace('older = "broken"', 'older = "maybe"'), 9, "'maybe' is not one of"),
        (ROW_7_15.replace('from = "7.16.0"', 'from = "seven"'), 5, "not a version"),
        (ROW_7_15.replace('table = "table"', 'table = "rows"'), 4, "has no table 'rows'"),
        (ROW_7_15.replace('rule = "rocm.kernel-compat"', 'rule = "rocm.nope"'), 3, "not a rule"),
        (ROW_7_15.replace('older = "broken"\n', ""), 2, "missing older"),
        (
            ROW_7_15 + KNOWN_BAD_ROW.replace('release = "6.17.0-19-"', "release = 7"),
            14,
            "must be a str",
        ),
        ("[[row]\n", 1, "not valid TOML"),
    ],
)
def test_a_broken_dropin_is_exit_2_with_file_and_line(
    cli, tmp_path, text: str, line: int, fragment: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    (tmp_path / "rules.d").mkdir()
    dropin = tmp_path / "rules.d" / "bad.toml"
    dropin.write_text(text)
    for args in (["scan", "--fixture", "tuned-ready"], ["rules"], ["explain", "memory.gtt"]):
        run = cli(*args, "--config", str(config))
        assert run.code == 2, (args, run.err)
        assert str(dropin) in run.err and fragment in run.err, run.err
        if "TOML" not in fragment:
            assert f"line {line}" in run.err, run.err
        assert "Traceback" not in run.err


def test_a_dropin_adds_a_known_bad_kernel(cli, tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / "kernels.toml").write_text(KNOWN_BAD_ROW)
    run = cli(
        "scan", "--fixture", "tuned-ready", "--format", "json", "--select", "kernel.known-bad",
        "--config", str(config),
    )  # fmt: skip
    finding = run.json()["findings"][0]
    assert finding["status"] == "fail"
    assert "our fleet saw resets" in finding["message"]


# --- memory.rocm-visible: KFD's ceiling instead of a 90 % ratio -----------------------------


@pytest.mark.parametrize(("pool_gib", "status"), [(114, "pass"), (113.2, "pass"), (110, "fail")])
def test_rocm_pool_is_judged_against_kfds_ceiling(scan, pool_gib: float, status: str) -> None:
    """114 GiB of TTM on a 122.7 GiB host: KFD's ceiling (RAM - RAM/64 - 1.5 GiB = 119.3 GiB) is
    above it, so the pool must reach 114 GiB less 1 GiB of rounding; 110 GiB (96 %) used to pass
    the old 90 % ratio although 4 GiB were missing."""
    path = "sys/class/kfd/kfd/topology/nodes/1/mem_banks/0/properties"
    text = (FIXTURES / "tuned-ready" / path).read_text()
    size = int(pool_gib * 1024**3)
    edited = re.sub(r"size_in_bytes \d+", f"size_in_bytes {size}", text)
    finding = scan("tuned-ready", {path: edited}, "--select", "memory.rocm-visible").finding(
        "memory.rocm-visible"
    )
    assert finding["status"] == status, finding["message"]
    ceiling = next(e for e in finding["evidence"] if e["label"] == "KFD ceiling")
    assert ceiling["value"] == "119.3 GiB"


# --- gpu.present: the GPU target decides, not only the PCI id --------------------------------


def test_a_gfx1151_gpu_with_another_pci_id_is_found(scan) -> None:
    """Gorgon Halo keeps gfx1151 (KFD 110501); its PCI id is not documented."""
    uevent = (FIXTURES / "tuned-ready" / "sys/class/drm/card1/device/uevent").read_text()
    edits = {"sys/class/drm/card1/device/uevent": uevent.replace("1002:1586", "1002:15a0")}
    run = scan("tuned-ready", edits, "--select", "gpu.present", "--select", "memory.gtt")
    finding = run.finding("gpu.present")
    assert finding["status"] == "pass"
    assert "PCI 1002:15a0: a gfx1151 part" in finding["message"]
    assert run.finding("memory.gtt")["status"] == "pass"


def test_an_amd_gpu_of_another_target_is_not_strix_halo(scan) -> None:
    uevent = (FIXTURES / "tuned-ready" / "sys/class/drm/card1/device/uevent").read_text()
    props = "sys/class/kfd/kfd/topology/nodes/1/properties"
    text = (FIXTURES / "tuned-ready" / props).read_text()
    edits = {
        "sys/class/drm/card1/device/uevent": uevent.replace("1002:1586", "1002:1114"),
        props: text.replace("gfx_target_version 110501", "gfx_target_version 110502"),
    }
    finding = scan("tuned-ready", edits, "--select", "gpu.present").finding("gpu.present")
    assert finding["status"] == "fail"
    assert "1002:1114" in finding["message"]


@pytest.mark.parametrize(("mib", "status"), [(512, "pass"), (2048, "pass"), (4096, "warn")])
def test_carveout_up_to_2_gib_passes(scan, mib: int, status: str) -> None:
    edits = {"sys/class/drm/card1/device/mem_info_vram_total": f"{mib * 1024 * 1024}\n"}
    finding = scan("tuned-ready", edits, "--select", "memory.carveout").finding("memory.carveout")
    assert finding["status"] == status


# --- torch.gfx1151: TheRock's multi-arch device packages -------------------------------------


@pytest.mark.parametrize(
    ("packs", "status"),
    [
        (["amd-torch-device-gfx1151", "rocm-sdk-device-gfx1151"], "pass"),
        (["amd-torch-device-gfx11", "rocm-sdk-device-gfx115x"], "pass"),  # family packages
        (["amd-torch-device-gfx1100", "rocm-sdk-device-gfx1100"], "fail"),
        (["amd-torch-device-gfx1151", "rocm-sdk-device-gfx1201"], "fail"),
        (None, "pass"),  # a recording from before the question was asked
    ],
)
def test_multi_arch_wheels_need_the_gfx1151_device_packages(
    scan, packs: list[str] | None, status: str
) -> None:
    """TheRock's multi-arch index puts each target's code in its own distribution
    ([device-gfx1151] extra); device packages for other targets only leave gfx1151 without it."""
    path = ".hostcheck/commands/python-env.txt"
    line = (FIXTURES / "tuned-ready" / path).read_text().strip()
    data = json.loads(line.split(" ", 1)[1])
    data["torch"] = "2.13.0+rocm7.14.0"
    if packs is not None:
        data["device_packs"] = packs
    edits = {path: "HOSTCHECK-PYTHON-ENV " + json.dumps(data) + "\n"}
    finding = scan(
        "tuned-ready", edits, "--python", "/opt/vllm/bin/python3", "--select", "torch.gfx1151"
    ).finding("torch.gfx1151")
    assert finding["status"] == status, finding["message"]
    if status == "fail":
        assert "[device-gfx1151]" in finding["message"]


# --- log.gpu-hangs: ROCm runtime errors in the services' journal ------------------------------

HSA_JOURNAL = ".hostcheck/commands/journal-hsa-errors.txt"


@pytest.mark.parametrize(
    ("journal", "status", "fragment"),
    [
        (
            "2026-12-07T03:10:11+0000 halo ollama[2211]: Memory access fault by GPU node-1 "
            "(Agent handle: 0x1b376c50) on address 0x7f762a667000. Reason: Page not present or "
            "supervisor privilege.\n",
            "warn",
            "1 ROCm runtime error line(s)",
        ),
        (
            "2026-12-07T03:12:40+0000 halo python3[3100]: Memory critical error by agent "
            "node-0 (Agent handle: 0x55d0) on address 0x7f00. Reason: Memory in use.\n",
            "warn",
            "never reach the kernel log",
        ),
        ("", "pass", "and no ROCm runtime error in the journal"),
    ],
)
def test_rocm_runtime_errors_in_the_journal(scan, journal: str, status: str, fragment: str) -> None:
    """ROCr aborts a process with these lines on its stderr (ROCm#5824, #6182): a service's
    journal has them, the kernel log does not."""
    finding = scan("tuned-ready", {HSA_JOURNAL: journal}, "--select", "log.gpu-hangs").finding(
        "log.gpu-hangs"
    )
    assert finding["status"] == status
    assert fragment in finding["message"]


# --- memory.ttm-module ------------------------------------------------------------------------


@pytest.mark.parametrize("conf", ["etc/modprobe.d/ttm.conf", "etc/modprobe.d/gpu.conf"])
def test_dkms_host_with_amd_ttms_file_is_told_the_tool_does_not_reach_amdttm(
    scan, conf: str
) -> None:
    """amd-ttm writes /etc/modprobe.d/ttm.conf for ttm whatever the driver (amd-debug-tools'
    ttm.py); the dkms fixture has that file."""
    text = (FIXTURES / "dkms-amdttm" / "etc/modprobe.d/ttm.conf").read_text()
    edits: dict[str, str | None] = {"etc/modprobe.d/ttm.conf": None, conf: text}
    finding = scan("dkms-amdttm", edits, "--select", "memory.ttm-module").finding(
        "memory.ttm-module"
    )
    assert finding["status"] == "warn"
    assert ("`amd-ttm --set` writes" in finding["message"]) == conf.endswith("/ttm.conf")


# --- containers.gpu-access and log.previous-boot ---------------------------------------------


QUADLET = "etc/containers/systemd/users/1000/vllm.container"


def test_rootless_quadlet_without_keep_groups_warns(scan) -> None:
    text = (FIXTURES / "fedora43-podman-ready" / QUADLET).read_text()
    edits = {QUADLET: text.replace("GroupAdd=keep-groups\n", "")}
    finding = scan("fedora43-podman-ready", edits, "--select", "containers.gpu-access").finding(
        "containers.gpu-access"
    )
    assert finding["status"] == "warn"
    assert "without GroupAdd=keep-groups" in finding["message"]


def test_selinux_boolean_off_for_a_rootless_gpu_container_warns(scan) -> None:
    edits = {"sys/fs/selinux/booleans/container_use_dri_devices": "0 0\n"}
    finding = scan("fedora43-podman-ready", edits, "--select", "containers.gpu-access").finding(
        "containers.gpu-access"
    )
    assert finding["status"] == "warn"
    assert "setsebool -P container_use_dri_devices=on" in finding["message"]


def test_no_container_unit_means_not_applicable(scan) -> None:
    finding = scan("tuned-ready", {}, "--select", "containers.gpu-access").finding(
        "containers.gpu-access"
    )
    assert finding["status"] == "skip"


@pytest.mark.parametrize(
    ("edits", "fragment"),
    [
        ({"sys/fs/pstore/dmesg-efi-176502126301001": "Panic#1 Part1\n"}, "crash record"),
        (
            {
                ".hostcheck/dmesg.txt": (
                    FIXTURES / "tuned-ready" / ".hostcheck/dmesg.txt"
                ).read_text()
                + "[    4.101010] EXT4-fs (dm-0): orphan cleanup on readonly fs\n"
            },
            "did not shut down cleanly",
        ),
    ],
)
def test_previous_boot_traces(scan, edits: dict[str, str], fragment: str) -> None:
    finding = scan("tuned-ready", edits, "--select", "log.previous-boot").finding(
        "log.previous-boot"
    )
    assert finding["status"] == "warn"
    assert fragment in finding["message"]


def test_previous_boot_without_a_journal_says_so(scan) -> None:
    finding = scan("tuned-ready", {}, "--select", "log.previous-boot").finding("log.previous-boot")
    assert finding["status"] == "pass"
    assert "journal is not available" in finding["message"]


# --- limits.nofile ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "soft", "status"),
    [
        ("PYTORCH_HIP_ALLOC_CONF=expandable_segments:True\0", "1048576", "pass"),
        ("PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True\0", "1024", "warn"),
        ("PYTORCH_HIP_ALLOC_CONF=garbage_collection_threshold:0.8\0", "1024", "skip"),
    ],
)
def test_hip_vmm_needs_open_files(scan, environ: str, soft: str, status: str) -> None:
    limits = (FIXTURES / "tuned-ready" / "proc/3100/limits").read_text()
    edits = {
        "proc/3100/environ": "PATH=/usr/bin\0" + environ,
        "proc/3100/limits": limits.replace("1048576          1048576", f"{soft} 1048576"),
    }
    finding = scan("tuned-ready", edits, "--select", "limits.nofile").finding("limits.nofile")
    assert finding["status"] == status, finding["message"]
    if status == "warn":
        assert "LimitNOFILE" in finding["message"] and "rocm-systems#10604" in finding["message"]


def test_a_snapshot_keeps_only_the_audit_logs_avc_lines_and_replays_the_same(cli, tmp_path) -> None:
    out = tmp_path / "snap"
    name = "fedora43-rootless-podman"
    assert cli("snapshot", "--fixture", name, "--no-redact", "-o", str(out)).code == 0
    kept = (out / "var/log/audit/audit.log").read_text()
    assert "SERVICE_START" not in kept and kept.count("avc:") == 2
    # the previous boot's journal and the new sysfs reads are recorded too
    assert (out / ".hostcheck/commands/journal-previous-boot.txt").exists()
    assert (out / "sys/fs/selinux/booleans/container_use_devices").exists()
    replay = cli("scan", "--root", str(out), "--format", "json").json()
    original = cli("scan", "--fixture", name, "--format", "json").json()
    statuses = {f["rule"]: f["status"] for f in replay["findings"]}
    assert statuses == {f["rule"]: f["status"] for f in original["findings"]}
    assert statuses["containers.gpu-access"] == "fail"
    assert statuses["log.previous-boot"] == "warn"


def test_a_snapshot_keeps_only_the_units_lines_that_set_the_override(
    cli, fixture_copy, tmp_path
) -> None:
    root = fixture_copy("tuned-ready")
    dropin = root / "etc/systemd/system/ollama.service.d/override.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text(
        '[Service]\nEnvironment="OLLAMA_API_KEY=secret"\n'
        'Environment="HSA_OVERRIDE_GFX_VERSION=11.0.0"\n'
    )
    out = tmp_path / "snap"
    assert cli("snapshot", "--root", str(root), "--no-redact", "-o", str(out)).code == 0
    kept = (out / "etc/systemd/system/ollama.service.d/override.conf").read_text()
    assert kept == '[Service]\nEnvironment="HSA_OVERRIDE_GFX_VERSION=11.0.0"\n'
    replay = cli("scan", "--root", str(out), "--select", "env.hsa-override", "--format", "json")
    assert replay.finding("env.hsa-override")["status"] == "warn"


@pytest.mark.parametrize(
    "line",
    [
        # what sudo logs for this rule's own command, run as the rationale suggests (the
        # pattern before this review, and the current one)
        "2026-12-07T04:00:00+0000 halo sudo[5120]: alice : TTY=pts/0 ; PWD=/home/alice ; "
        "USER=root ; COMMAND=/usr/bin/journalctl -b -g 'Memory access fault by GPU node|Memory "
        "critical error by agent node|HW Exception by GPU node'",
        "2026-12-07T04:00:00+0000 halo sudo[5120]: alice : TTY=pts/0 ; PWD=/home/alice ; "
        "USER=root ; COMMAND=/usr/bin/journalctl -b -g '(Memory access fault by GPU|Memory "
        "critical error by agent|HW Exception by GPU) node-[0-9]+'",
        "2026-12-07T04:01:00+0000 halo sudo[5121]: alice : TTY=pts/0 ; PWD=/srv ; USER=root ; "
        "COMMAND=/usr/bin/grep -r Memory access fault by GPU node-1 /var/log/ollama",
    ],
)
def test_a_logged_search_for_runtime_errors_is_not_one(scan, line: str) -> None:
    """sudo logs the command line it ran: searching for ROCr's words must not make them."""
    finding = scan("tuned-ready", {HSA_JOURNAL: line + "\n"}, "--select", "log.gpu-hangs").finding(
        "log.gpu-hangs"
    )
    assert finding["status"] == "pass", finding["message"]


def test_an_unreadable_journal_is_not_reported_as_free_of_runtime_errors(scan) -> None:
    meta = json.dumps({"returncode": 1, "stderr": "No journal files were found.\n"})
    edits = {HSA_JOURNAL: "-- No entries --\n", HSA_JOURNAL.replace(".txt", ".json"): meta}
    finding = scan("tuned-ready", edits, "--select", "log.gpu-hangs").finding("log.gpu-hangs")
    assert finding["status"] == "pass"
    assert "journal" not in finding["message"]
