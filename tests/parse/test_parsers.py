"""The pure parsers of hostcheck.parse, against real host text and generated input.

Example tests copy their input verbatim from research/strix-halo-facts.md (§2, §5, §9); where a
test needs text the facts do not quote (a whole dpkg stanza, an os-release file), the comment
says where its shape comes from. Verbatim lines longer than the line limit stay whole
(``noqa: E501``): a real log line is the input and should read as it was pasted.

Property tests (hypothesis) check that every parser either returns its documented data or
raises ParseError, and that well-formed generated input round-trips.

Tests named after a kernel or tool behaviour (a quoted "--", "=" in the first position, the
kernel's narrower isspace(), Ubuntu mainline builds, MES opcode names with digits …) pin bugs
this suite found; each was fixed in the parser.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from hostcheck.parse import kernellog
from hostcheck.parse.kernel import (
    KernelArg,
    KernelRelease,
    ModprobeOption,
    normalise_param,
    parse_cmdline,
    parse_kernel_release,
    parse_modprobe_conf,
    parse_version_signature,
)
from hostcheck.parse.kernellog import KernelLogEvent, LogLine, classify_kernel_log, parse_kernel_log
from hostcheck.parse.rocm import RocmAgent, RocmInfo, parse_rocminfo
from hostcheck.parse.text import (
    MAX_MEMINFO_KB,
    ParseError,
    parse_dpkg_status,
    parse_kfd_properties,
    parse_meminfo,
    parse_os_release,
    parse_sysfs_int,
    parse_uevent,
)

# Every property test: at most 200 examples, no per-example deadline (CI machines vary).
PROPERTY = settings(max_examples=200, deadline=None)

RC_NONE = 1_000_000  # what sort_key() puts in place of "no rc"


_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_ALNUM = string.ascii_letters + string.digits


def _word(first: str, rest: str, max_rest: int, min_rest: int = 0) -> st.SearchStrategy[str]:
    """One character of ``first`` then up to ``max_rest`` of ``rest`` (cheaper than from_regex)."""
    return st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(first),
        st.text(rest, min_size=min_rest, max_size=max_rest),
    )


def _fragments(lines: Sequence[str]) -> st.SearchStrategy[str]:
    """Text made of real lines, slices of them and junk, joined in different ways.

    Closer to what a parser meets on a broken host than st.text(): right keywords, wrong shape.
    """
    sliced = st.tuples(st.sampled_from(lines), st.integers(0, 160), st.integers(0, 160)).map(
        lambda t: t[0][min(t[1], t[2]) : max(t[1], t[2])]
    )
    piece = st.one_of(st.sampled_from(lines), sliced, st.text(max_size=20))
    return st.tuples(st.lists(piece, max_size=25), st.sampled_from(["\n", "\n\n", "", " "])).map(
        lambda t: t[1].join(t[0])
    )


def _returns_or_parse_error(parse: Callable[[str], Any], text: str) -> Any:
    """The parser's result, or None when it raised ParseError; anything else propagates."""
    try:
        return parse(text)
    except ParseError:
        return None


# ============================================================================================
# parse_sysfs_int
# ============================================================================================

# facts §9.1 (sysfs files end with a newline)
SYSFS_EXAMPLES = [
    ("103079215104\n", 103079215104),  # mem_info_vram_total, 96 GB carve-out (ROCm#5444)
    ("16636528640\n", 16636528640),  # mem_info_vram_total (ROCm/hip#3892)
    ("3052026\n", 3052026),  # /sys/module/ttm/parameters/pages_limit (rocm-systems#351)
    ("0x00000080\n", 0x80),  # fw_version/mes_fw_version: sysfs_emit("0x%08x\n")
    ("0x0000006f\n", 0x6F),  # fw_version/mes_kiq_fw_version
    ("0x00000083\n", 0x83),  # the bad MES firmware (ROCm#5724)
    ("0\n", 0),
]


@pytest.mark.parametrize(("text", "value"), SYSFS_EXAMPLES)
def test_sysfs_int_examples(text: str, value: int) -> None:
    assert parse_sysfs_int(text) == value


@pytest.mark.parametrize("text", ["", "\n", "   ", "-1\n", "0x", "0xZZ", "12 34", "N/A", "1.5"])
def test_sysfs_int_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_sysfs_int(text)


@PROPERTY
@given(st.integers(min_value=0, max_value=2**64), st.sampled_from(["", "\n", " \n", "\t"]))
def test_sysfs_int_decimal_round_trip(value: int, tail: str) -> None:
    assert parse_sysfs_int(f"{value}{tail}") == value


@PROPERTY
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_sysfs_int_hex_round_trip(value: int) -> None:
    assert parse_sysfs_int("0x%08x\n" % value) == value  # noqa: UP031 - the kernel's format
    assert parse_sysfs_int(f"{value:#X}") == value


@PROPERTY
@given(st.integers(min_value=1, max_value=2**64))
def test_sysfs_int_negative_is_parse_error(value: int) -> None:
    with pytest.raises(ParseError):
        parse_sysfs_int(f"-{value}\n")


@PROPERTY
@given(st.one_of(st.text(), _fragments(["0x00000080", "536870912", "0x", "-", " ", "\n"])))
def test_sysfs_int_arbitrary_text(text: str) -> None:
    value = _returns_or_parse_error(parse_sysfs_int, text)
    assert value is None or (isinstance(value, int) and value >= 0)


@pytest.mark.parametrize("text", ["1_000\n", "+5\n", "0x_80\n", "\u0661\u0662\n"])
def test_sysfs_int_accepts_only_kernel_syntax(text: str) -> None:
    with pytest.raises(ParseError):
        parse_sysfs_int(text)


# ============================================================================================
# parse_kernel_release, KernelRelease
# ============================================================================================

# (uname -r, upstream, rc, abi, flavour, distro): facts §9.3 (and the "other uname -r values seen")
RELEASE_EXAMPLES = [
    ("6.14.0-1016-oem", (6, 14, 0), None, 1016, "oem", "ubuntu"),
    ("6.17.0-1009-oem", (6, 17, 0), None, 1009, "oem", "ubuntu"),
    ("7.0.0-28-generic", (7, 0, 0), None, 28, "generic", "ubuntu"),
    ("6.19.0-6-generic", (6, 19, 0), None, 6, "generic", "ubuntu"),
    ("6.17.0-5-generic", (6, 17, 0), None, 5, "generic", "ubuntu"),
    ("6.17.0-7-generic", (6, 17, 0), None, 7, "generic", "ubuntu"),
    ("6.14.0-29-generic", (6, 14, 0), None, 29, "generic", "ubuntu"),
    ("6.18.0-65.fc44.x86_64", (6, 18, 0), None, None, None, "fedora"),
    ("6.15.6-200.fc42.x86_64", (6, 15, 6), None, None, None, "fedora"),
    ("6.19.8-200.fc43.x86_64", (6, 19, 8), None, None, None, "fedora"),
    ("6.18.12+deb13-amd64", (6, 18, 12), None, None, None, "debian"),
    ("6.12.48+deb13-amd64", (6, 12, 48), None, None, None, "debian"),
    ("6.16.3+deb13-amd64", (6, 16, 3), None, None, None, "debian"),
    # not from the facts: upstream and distro rc styles, Arch
    ("6.18.0-rc6", (6, 18, 0), 6, None, None, None),
    ("6.18-rc6", (6, 18, 0), 6, None, None, None),
    ("6.18.0-0.rc6.50.fc44.x86_64", (6, 18, 0), 6, None, None, "fedora"),
    ("6.17.13-arch1-1", (6, 17, 13), None, None, None, "arch"),
]


@pytest.mark.parametrize(("raw", "upstream", "rc", "abi", "flavour", "distro"), RELEASE_EXAMPLES)
def test_kernel_release_examples(
    raw: str,
    upstream: tuple[int, int, int],
    rc: int | None,
    abi: int | None,
    flavour: str | None,
    distro: str | None,
) -> None:
    rel = parse_kernel_release(raw + "\n")  # /proc/sys/kernel/osrelease ends with a newline
    assert rel == KernelRelease(raw, upstream, rc, abi, flavour, distro)


def test_kernel_release_from_uname_a() -> None:
    # facts §9.3, ROCm#5562 comment
    uname_a = (
        "Linux chris-evo 6.14.0-1016-oem #16-Ubuntu SMP PREEMPT_DYNAMIC Tue Oct 21 09:55:24 UTC "
        "2025 x86_64 x86_64 x86_64 GNU/Linux"
    )
    rel = parse_kernel_release(uname_a.split()[2])
    assert (rel.upstream, rel.abi, rel.flavour, rel.distro) == ((6, 14, 0), 1016, "oem", "ubuntu")


@pytest.mark.parametrize(
    ("raw", "upstream"),
    [("6.18.6-200.nobara.fc43.x86_64", (6, 18, 6)), ("6.16.9-061609-generic", (6, 16, 9))],
)
def test_kernel_release_upstream_of_derived_builds(
    raw: str, upstream: tuple[int, int, int]
) -> None:
    rel = parse_kernel_release(raw)
    assert (rel.raw, rel.upstream, rel.rc) == (raw, upstream, None)


def test_kernel_release_cachyos() -> None:
    rel = parse_kernel_release("6.18.2-2-cachyos")
    assert (rel.upstream, rel.rc, rel.distro) == ((6, 18, 2), None, "cachyos")


def test_kernel_release_nobara_distro() -> None:
    assert parse_kernel_release("6.18.6-200.nobara.fc43.x86_64").distro == "nobara"


@pytest.mark.parametrize("raw", ["6.16.9-061609-generic", "6.17.0-061700-generic"])
def test_kernel_release_ubuntu_mainline_build_is_not_an_ubuntu_abi(raw: str) -> None:
    rel = parse_kernel_release(raw)
    assert not (rel.distro == "ubuntu" and rel.abi is not None)


def test_kernel_release_ubuntu_mainline_rc() -> None:
    rel = parse_kernel_release("6.18.0-061800rc5-generic")
    assert rel.rc == 5
    assert not rel.at_least((6, 18, 0), rc=6)


def test_kernel_release_dashed_ubuntu_flavour() -> None:
    rel = parse_kernel_release("6.8.0-31-generic-64k")
    assert (rel.abi, rel.flavour, rel.distro) == (31, "generic-64k", "ubuntu")


@pytest.mark.parametrize(
    "text", ["", "\n", "linux", "6", "v6.18.0", "6.18 0", "6.x.0", "6.18.0 rc"]
)
def test_kernel_release_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_kernel_release(text)


def test_kernel_release_upstream_text() -> None:
    assert parse_kernel_release("6.18.0-rc6").upstream_text == "6.18.0-rc6"
    assert parse_kernel_release("6.18.12+deb13-amd64").upstream_text == "6.18.12"
    assert parse_kernel_release("6.8").upstream_text == "6.8.0"


def test_kernel_release_at_least() -> None:
    # ROCm docs floor 6.18.4 (facts §5.3); AMD's "6.18-rc6+" (facts §2)
    assert parse_kernel_release("6.18.12+deb13-amd64").at_least((6, 18, 4))
    assert not parse_kernel_release("6.18.0-65.fc44.x86_64").at_least((6, 18, 4))
    assert parse_kernel_release("7.0.0-28-generic").at_least((6, 18, 4))
    assert parse_kernel_release("6.19.0-6-generic").at_least((6, 18))
    rc6 = parse_kernel_release("6.18.0-rc6")
    assert not rc6.at_least((6, 18))  # an rc is before its release
    assert rc6.at_least((6, 18), rc=6)
    assert rc6.at_least((6, 18), rc=5)
    assert not rc6.at_least((6, 18), rc=7)
    assert parse_kernel_release("6.18.0").at_least((6, 18), rc=6)


_UBUNTU_PLAIN_FLAVOURS = ["generic", "oem", "lowlatency", "azure", "aws", "gcp", "kvm"]
_version = st.integers(min_value=0, max_value=999)


@PROPERTY
@given(_version, _version, _version, st.integers(1, 99999), st.sampled_from(_UBUNTU_PLAIN_FLAVOURS))
def test_kernel_release_ubuntu_style(
    maj: int, mnr: int, patch: int, abi: int, flavour: str
) -> None:
    raw = f"{maj}.{mnr}.{patch}-{abi}-{flavour}"
    assert parse_kernel_release(raw) == KernelRelease(
        raw, (maj, mnr, patch), None, abi, flavour, "ubuntu"
    )


@PROPERTY
@given(
    _version,
    _version,
    _version,
    st.integers(1, 999),
    st.integers(30, 60),
    st.sampled_from(["x86_64", "aarch64"]),
)
def test_kernel_release_fedora_style(
    maj: int, mnr: int, patch: int, rel_no: int, fc: int, arch: str
) -> None:
    raw = f"{maj}.{mnr}.{patch}-{rel_no}.fc{fc}.{arch}"
    assert parse_kernel_release(raw) == KernelRelease(raw, (maj, mnr, patch), distro="fedora")


@PROPERTY
@given(_version, _version, _version, st.integers(10, 20))
def test_kernel_release_debian_style(maj: int, mnr: int, patch: int, deb: int) -> None:
    raw = f"{maj}.{mnr}.{patch}+deb{deb}-amd64"
    assert parse_kernel_release(raw) == KernelRelease(raw, (maj, mnr, patch), distro="debian")


@PROPERTY
@given(_version, _version, st.integers(1, 999))
def test_kernel_release_debian_12_style(maj: int, mnr: int, abi: int) -> None:
    rel = parse_kernel_release(f"{maj}.{mnr}.0-{abi}-amd64")  # Debian 12: 6.1.0-18-amd64
    assert (rel.upstream, rel.rc, rel.distro) == ((maj, mnr, 0), None, "debian")


@PROPERTY
@given(_version, _version, _version, st.integers(1, 99), st.sampled_from(["", "+", "-generic"]))
def test_kernel_release_rc_style(maj: int, mnr: int, patch: int, rc: int, tail: str) -> None:
    rel = parse_kernel_release(f"{maj}.{mnr}.{patch}-rc{rc}{tail}")
    assert (rel.upstream, rel.rc) == ((maj, mnr, patch), rc)


@PROPERTY
@given(st.one_of(st.text(), _fragments([r for r, *_ in RELEASE_EXAMPLES] + ["-rc", ".", "-"])))
def test_kernel_release_arbitrary_text(text: str) -> None:
    rel = _returns_or_parse_error(parse_kernel_release, text)
    if rel is not None:
        assert isinstance(rel, KernelRelease)
        assert rel.raw == text.strip()
        assert not any(ch.isspace() for ch in rel.raw)
        assert all(isinstance(part, int) and part >= 0 for part in rel.upstream)


_release_parts = st.tuples(
    st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.none() | st.integers(1, 20)
)


def _release_text(parts: tuple[int, int, int, int | None]) -> str:
    maj, mnr, patch, rc = parts
    return f"{maj}.{mnr}.{patch}" + (f"-rc{rc}" if rc is not None else "")


def _expected_key(parts: tuple[int, int, int, int | None]) -> tuple[int, int, int, int]:
    maj, mnr, patch, rc = parts
    return (maj, mnr, patch, RC_NONE if rc is None else rc)


@PROPERTY
@given(_release_parts, _release_parts)
def test_kernel_release_sort_key_orders_like_tuples(
    a: tuple[int, int, int, int | None], b: tuple[int, int, int, int | None]
) -> None:
    key_a = parse_kernel_release(_release_text(a)).sort_key()
    key_b = parse_kernel_release(_release_text(b)).sort_key()
    assert key_a == _expected_key(a)
    assert (key_a < key_b) == (_expected_key(a) < _expected_key(b))
    assert (key_a == key_b) == (_expected_key(a) == _expected_key(b))


@PROPERTY
@given(st.integers(0, 30), st.integers(1, 30), st.integers(0, 30), st.integers(1, 99))
def test_kernel_release_rc_sorts_before_its_release(maj: int, mnr: int, prev: int, rc: int) -> None:
    candidate = parse_kernel_release(f"{maj}.{mnr}.0-rc{rc}")
    final = parse_kernel_release(f"{maj}.{mnr}.0")
    previous_series = parse_kernel_release(f"{maj}.{mnr - 1}.{prev}")
    assert previous_series.sort_key() < candidate.sort_key() < final.sort_key()
    assert not candidate.at_least((maj, mnr))
    assert final.at_least((maj, mnr), rc=rc)


@PROPERTY
@given(_release_parts, st.lists(st.integers(0, 30), min_size=1, max_size=3))
def test_kernel_release_at_least_matches_sort_key(
    parts: tuple[int, int, int, int | None], floor: list[int]
) -> None:
    rel = parse_kernel_release(_release_text(parts))
    padded = (*floor, *([0] * (3 - len(floor))))
    assert rel.at_least(tuple(floor)) == (rel.sort_key() >= (*padded, RC_NONE))


# ============================================================================================
# parse_version_signature
# ============================================================================================


def test_version_signature_example() -> None:
    # Ubuntu 24.04 HWE kernel with the KFD fixes (facts §5.3 / §10: 6.17.0-19.19~24.04.2)
    text = "Ubuntu 6.17.0-19.19~24.04.2-generic 6.17.13\n"
    assert parse_version_signature(text) == ("6.17.0-19.19~24.04.2", "generic")


@pytest.mark.parametrize(
    "text", ["", "\n", "Linux version 6.18.0-65.fc44.x86_64", "Ubuntu", "Ubuntu generic 6.17.13"]
)
def test_version_signature_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_version_signature(text)


@PROPERTY
@given(
    st.tuples(_version, _version, _version),
    st.integers(1, 9999),
    st.integers(1, 9999),
    st.sampled_from(["", "~24.04.2", "~22.04.1"]),
    st.sampled_from(_UBUNTU_PLAIN_FLAVOURS),
    _version,
)
def test_version_signature_round_trip(
    upstream: tuple[int, int, int], abi: int, upload: int, backport: str, flavour: str, stable: int
) -> None:
    version = "{}.{}.{}".format(*upstream) + f"-{abi}.{upload}{backport}"
    text = f"Ubuntu {version}-{flavour} {upstream[0]}.{upstream[1]}.{stable}\n"
    assert parse_version_signature(text) == (version, flavour)


@PROPERTY
@given(st.one_of(st.text(), _fragments(["Ubuntu", "6.17.0-19.19~24.04.2-generic", "6.17.13", "-"])))
def test_version_signature_arbitrary_text(text: str) -> None:
    result = _returns_or_parse_error(parse_version_signature, text)
    if result is not None:
        version, flavour = result
        assert version and flavour
        assert text.split()[0] == "Ubuntu"


def test_version_signature_dashed_flavour() -> None:
    assert parse_version_signature("Ubuntu 6.8.0-31.31-generic-64k 6.8.1") == (
        "6.8.0-31.31",
        "generic-64k",
    )


# ============================================================================================
# parse_cmdline, KernelArg
# ============================================================================================

# facts §9.3, verbatim
CMDLINE_EXAMPLES = [
    (
        "root=UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5 ro quiet splash rd.luks.options=tpm2-device=auto",
        [
            ("root", "UUID=72998fb2-b0eb-4676-97c9-31ac53b5e2a5"),
            ("ro", None),
            ("quiet", None),
            ("splash", None),
            ("rd.luks.options", "tpm2-device=auto"),
        ],
    ),
    (
        "BOOT_IMAGE=/boot/vmlinuz-6.14.0-1016-oem root=UUID=a605e3ba-f95e-4584-a20f-6f3a25fadef7 ro ttm.pages_limit=32768000 ttm.page_pool_size=32768000 amdttm.pages_limit=32768000 amdttm.page_pool_size=32768000",  # noqa: E501
        [
            ("BOOT_IMAGE", "/boot/vmlinuz-6.14.0-1016-oem"),
            ("root", "UUID=a605e3ba-f95e-4584-a20f-6f3a25fadef7"),
            ("ro", None),
            ("ttm.pages_limit", "32768000"),
            ("ttm.page_pool_size", "32768000"),
            ("amdttm.pages_limit", "32768000"),
            ("amdttm.page_pool_size", "32768000"),
        ],
    ),
    (
        "BOOT_IMAGE=(hd0,gpt5)/vmlinuz-6.18.0-65.fc44.x86_64 root=UUID=26b0fd99-8db8-4db8-9fc6-95f6fa4e4bd0 ro rootflags=subvol=root rhgb quiet amd_iommu=off aamdgpu.cwsr_enable=0 amdgpu.gttsize=131072 ttm.pages_limit=33554432 amdttm.page_pool_size=33554432",  # noqa: E501
        [
            ("BOOT_IMAGE", "(hd0,gpt5)/vmlinuz-6.18.0-65.fc44.x86_64"),
            ("root", "UUID=26b0fd99-8db8-4db8-9fc6-95f6fa4e4bd0"),
            ("ro", None),
            ("rootflags", "subvol=root"),
            ("rhgb", None),
            ("quiet", None),
            ("amd_iommu", "off"),
            ("aamdgpu.cwsr_enable", "0"),
            ("amdgpu.gttsize", "131072"),
            ("ttm.pages_limit", "33554432"),
            ("amdttm.page_pool_size", "33554432"),
        ],
    ),
    (
        "BOOT_IMAGE=(hd0,gpt5)/vmlinuz-6.18.6-200.nobara.fc43.x86_64 root=UUID=5f2126d7-c671-43f5-8d0e-f8569fbcb951 ro rootflags=subvol=@ quiet splash ttm.pages_limit=25165824 ttm.page_pool_size=25165824 amdgpu.cwsr_enable=0",  # noqa: E501
        [
            ("BOOT_IMAGE", "(hd0,gpt5)/vmlinuz-6.18.6-200.nobara.fc43.x86_64"),
            ("root", "UUID=5f2126d7-c671-43f5-8d0e-f8569fbcb951"),
            ("ro", None),
            ("rootflags", "subvol=@"),
            ("quiet", None),
            ("splash", None),
            ("ttm.pages_limit", "25165824"),
            ("ttm.page_pool_size", "25165824"),
            ("amdgpu.cwsr_enable", "0"),
        ],
    ),
    (
        r"quiet zswap.enabled=0 nowatchdog splash rw root=UUID=something amdgpu.cwsr_enable=0 initrd=\initramfs-linux-cachyos.img",  # noqa: E501
        [
            ("quiet", None),
            ("zswap.enabled", "0"),
            ("nowatchdog", None),
            ("splash", None),
            ("rw", None),
            ("root", "UUID=something"),
            ("amdgpu.cwsr_enable", "0"),
            ("initrd", r"\initramfs-linux-cachyos.img"),
        ],
    ),
]


def _pairs(args: list[KernelArg]) -> list[tuple[str, str | None]]:
    return [(arg.key, arg.value) for arg in args]


@pytest.mark.parametrize(("line", "expected"), CMDLINE_EXAMPLES)
def test_cmdline_examples(line: str, expected: list[tuple[str, str | None]]) -> None:
    args = parse_cmdline(line + "\n")  # /proc/cmdline ends with a newline
    assert _pairs(args) == expected
    assert [arg.position for arg in args] == list(range(len(expected)))


def test_cmdline_typo_keeps_the_key_as_written() -> None:
    # facts §9.3: "aamdgpu.cwsr_enable=0" (lemonade-sdk/llamacpp-rocm#39) would be ignored
    line = CMDLINE_EXAMPLES[2][0]
    typo = next(arg for arg in parse_cmdline(line) if arg.value == "0")
    assert (typo.key, typo.name, typo.module, typo.text) == (
        "aamdgpu.cwsr_enable",
        "aamdgpu.cwsr_enable",
        "aamdgpu",
        "aamdgpu.cwsr_enable=0",
    )
    assert "amdgpu.cwsr_enable" not in {arg.name for arg in parse_cmdline(line)}


def test_kernel_arg_name_module_text() -> None:
    dashed, bare, module_less = parse_cmdline("amdgpu.cwsr-enable=0 amd_iommu=off quiet")
    assert (dashed.key, dashed.name, dashed.module) == (
        "amdgpu.cwsr-enable",
        "amdgpu.cwsr_enable",
        "amdgpu",
    )
    assert (bare.name, bare.module, bare.text) == ("amd_iommu", None, "amd_iommu=off")
    assert (module_less.value, module_less.text) == (None, "quiet")
    assert normalise_param("ttm.page-pool-size") == "ttm.page_pool_size"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('dyndbg="file a.c +p" ro', [("dyndbg", "file a.c +p"), ("ro", None)]),
        ('"dyndbg=file a.c +p" ro', [("dyndbg", "file a.c +p"), ("ro", None)]),
        ('"quoted flag"', [("quoted flag", None)]),
        # the first '=' separates, even inside quotes (next_arg sets equals before in_quote)
        ('"a b=c d"', [("a b", "c d")]),
        ('x="a=b c"', [("x", "a=b c")]),
        ("x=a=b", [("x", "a=b")]),
        ('empty="" next=', [("empty", ""), ("next", "")]),
        ('a="b"c"', [("a", 'b"c')]),  # no escaping: inner quotes stay
        ('foo="unterminated value', [("foo", "unterminated value")]),
        ("  \t spaced\t\targs  \n", [("spaced", None), ("args", None)]),
        ("ro -- amdgpu.cwsr_enable=0 init-arg", [("ro", None)]),
        ("--", []),
        ("--=1 a", [("--", "1"), ("a", None)]),  # "--" with a value is a parameter
        ("a --b c", [("a", None), ("--b", None), ("c", None)]),
        ("", []),
    ],
)
def test_cmdline_quoting_rules(line: str, expected: list[tuple[str, str | None]]) -> None:
    assert _pairs(parse_cmdline(line)) == expected


_KEY = _word(_ALNUM + "_", _ALNUM + "._-", 20)
# Values: anything but '"' (next_arg cannot escape it) and characters that end a line.
_VALUE = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='"')
    | st.sampled_from(" \t="),
    max_size=25,
)
_PAIR = st.tuples(_KEY, st.none() | _VALUE).filter(lambda kv: kv != ("--", None))


def _render_arg(key: str, value: str | None, style: int) -> str:
    """One argument as a boot loader would write it; values with spaces are always quoted."""
    if value is None:
        return key
    needs_quotes = not value or any(ch.isspace() for ch in value)
    if style == 0 and not needs_quotes:
        return f"{key}={value}"
    if style == 2:
        return f'"{key}={value}"'
    return f'{key}="{value}"'


@PROPERTY
@given(
    st.lists(st.tuples(_PAIR, st.integers(0, 2)), max_size=12),
    st.sampled_from([" ", "  ", "\t", " \t "]),
    st.sampled_from(["", "\n", " \n"]),
)
def test_cmdline_round_trip(
    pairs: list[tuple[tuple[str, str | None], int]], sep: str, tail: str
) -> None:
    line = sep.join(_render_arg(key, value, style) for (key, value), style in pairs) + tail
    args = parse_cmdline(line)
    assert _pairs(args) == [kv for kv, _ in pairs]
    assert [arg.position for arg in args] == list(range(len(pairs)))
    for arg in args:
        assert arg.text == (arg.key if arg.value is None else f"{arg.key}={arg.value}")
        assert arg.name == arg.key.replace("-", "_")


@PROPERTY
@given(st.lists(_PAIR, max_size=6), st.text(max_size=40))
def test_cmdline_lone_double_dash_stops(
    pairs: list[tuple[str, str | None]], init_args: str
) -> None:
    line = " ".join(_render_arg(key, value, 1) for key, value in pairs)
    assert _pairs(parse_cmdline(f"{line} -- {init_args}")) == pairs


# What the kernel's isspace() (lib/ctype.c _S) counts as white space, ASCII part.
_KERNEL_SPACE = " \t\n\v\f\r"


@PROPERTY
@given(st.one_of(st.text(), _fragments([line for line, _ in CMDLINE_EXAMPLES] + ['"', "=", "--"])))
def test_cmdline_arbitrary_text_never_raises(text: str) -> None:
    args = parse_cmdline(text)
    assert [arg.position for arg in args] == list(range(len(args)))
    assert all(isinstance(arg, KernelArg) and arg.key for arg in args)
    tokens = text.split()
    simple = (
        '"' not in text
        and "\0" not in text
        and all(ch in _KERNEL_SPACE for ch in text if ch.isspace())
        and not any(token.startswith("=") for token in tokens)
    )
    if simple:
        # Without quotes the rule is
        # simple: split at whitespace, stop at "--", the first "=" splits.
        expected: list[tuple[str, str | None]] = []
        for token in tokens:
            if token == "--":
                break
            key, sep, value = token.partition("=")
            expected.append((key, value if sep else None))
        assert _pairs(args) == expected


# A transliteration of lib/cmdline.c next_arg() and the "--" rule of kernel/params.c
# parse_args(), to compare parse_cmdline() with on quote-heavy input.
def _c_string(buf: list[str], start: int) -> str:
    end = start
    while end < len(buf) and buf[end] != "\0":
        end += 1
    return "".join(buf[start:end])


def _kernel_parse_args(text: str) -> tuple[list[tuple[str, str | None, bool]], bool]:
    """(param, val, starts_with_equals) as the kernel sees them; and whether a quoted "--" stopped."""
    found: list[tuple[str, str | None, bool]] = []
    i, n = 0, len(text)
    while i < n and text[i] in _KERNEL_SPACE:
        i += 1
    while i < n:
        quoted = in_quote = text[i] == '"'
        if quoted:
            i += 1
        start, length, equals = i, 0, 0  # equals == 0 means "none" in next_arg
        while start + length < n:
            ch = text[start + length]
            if ch in _KERNEL_SPACE and not in_quote:
                break
            if equals == 0 and ch == "=":
                equals = length
            if ch == '"':
                in_quote = not in_quote
            length += 1
        buf = list(text[start : start + length])
        val_at: int | None = None
        if equals:
            buf[equals] = "\0"
            val_at = equals + 1
            if val_at < length and buf[val_at] == '"':
                val_at += 1
                if buf[length - 1] == '"':
                    buf[length - 1] = "\0"
        if quoted and length > 0 and buf[length - 1] == '"':
            buf[length - 1] = "\0"
        param = _c_string(buf, 0)
        val = None if val_at is None else _c_string(buf, val_at)
        i = start + length + (1 if start + length < n else 0)
        while i < n and text[i] in _KERNEL_SPACE:
            i += 1
        if val is None and param == "--":
            return found, quoted
        found.append((param, val, text[start : start + 1] == "="))
    return found, False


@PROPERTY
@given(st.text(alphabet='ab.="- \t\n', max_size=40))
def test_cmdline_matches_kernel_next_arg(text: str) -> None:
    kernel, _ = _kernel_parse_args(text)
    # parse_cmdline drops arguments whose name is empty ('""'); the kernel ignores them too.
    expected = [(param, val) for param, val, _ in kernel if param]
    assert _pairs(parse_cmdline(text)) == expected


def test_cmdline_quoted_double_dash_stops() -> None:
    assert _pairs(parse_cmdline('"--" amdgpu.cwsr_enable=0')) == []


def test_cmdline_leading_equals_like_kernel() -> None:
    assert _pairs(parse_cmdline("=a=b c")) == [("=a", "b"), ("c", None)]


def test_cmdline_splits_only_at_kernel_whitespace() -> None:
    assert _pairs(parse_cmdline("a\x1fb c\u2003d")) == [("a\x1fb", None), ("c\u2003d", None)]


# ============================================================================================
# parse_meminfo
# ============================================================================================

# Shape of /proc/meminfo; MemTotal of the ROCm#5590 host (rocminfo CPU pool, facts §9.5).
MEMINFO = """\
MemTotal:       131009800 kB
MemFree:        117908820 kB
MemAvailable:   118957396 kB
Buffers:          123456 kB
Active(anon):     654321 kB
SwapTotal:       8388604 kB
HugePages_Total:       0
HugePages_Free:        0
Hugepagesize:       2048 kB
DirectMap1G:    99614720 kB
"""


def test_meminfo_example() -> None:
    info = parse_meminfo(MEMINFO)
    assert info["MemTotal"] == 131009800
    assert info["MemAvailable"] == 118957396
    assert info["Active(anon)"] == 654321
    assert info["HugePages_Total"] == 0
    assert len(info) == 10


@pytest.mark.parametrize("text", ["", "MemFree: 1 kB\n", "MemTotal: kB\n", "MemTotal:\n"])
def test_meminfo_without_memtotal_is_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_meminfo(text)


_MEMINFO_NAME = _word(string.ascii_letters, _ALNUM + "_()", 15)


@PROPERTY
@given(
    st.integers(1, MAX_MEMINFO_KB),
    st.dictionaries(_MEMINFO_NAME, st.integers(0, 2**50), max_size=20),
    st.booleans(),
)
def test_meminfo_round_trip(total: int, others: dict[str, int], with_unit: bool) -> None:
    values = {"MemTotal": total, **others}
    unit = " kB" if with_unit else ""
    text = "".join(f"{name + ':':<16}{value:>10}{unit}\n" for name, value in values.items())
    assert parse_meminfo(text) == values


@PROPERTY
@given(st.one_of(st.just(0), st.integers(MAX_MEMINFO_KB + 1, 2**70)))
def test_meminfo_implausible_total_is_refused(total: int) -> None:
    """MemTotal: 18446744073709551615 kB would plan ttm.pages_limit=4611686018425290752."""
    with pytest.raises(
        ParseError, match=r"^MemTotal .* (not a plausible memory size|not a number)"
    ):
        parse_meminfo(f"MemTotal:       {total} kB\nMemFree: 1 kB\n")


MEMINFO_LINES = [*MEMINFO.splitlines(), "MemTotal:", ":", "kB", "0", "-5"]


@PROPERTY
@given(_fragments(MEMINFO_LINES))
def test_meminfo_fragments(text: str) -> None:
    info = _returns_or_parse_error(parse_meminfo, text)
    if info is not None:
        assert "MemTotal" in info
        assert all(isinstance(v, int) and v >= 0 for v in info.values())


@PROPERTY
@given(st.text())
@example("MemTotal: \u00b2 kB\n")
def test_meminfo_arbitrary_text_only_parse_error(text: str) -> None:
    _returns_or_parse_error(parse_meminfo, text)


# ============================================================================================
# parse_os_release
# ============================================================================================

# Ubuntu 24.04.3 (the ROCm#5590 reporter's release); file as Ubuntu ships it.
OS_RELEASE_UBUNTU = """\
PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
"""


def test_os_release_ubuntu() -> None:
    info = parse_os_release(OS_RELEASE_UBUNTU)
    assert info["ID"] == "ubuntu"
    assert info["VERSION_ID"] == "24.04"
    assert info["PRETTY_NAME"] == "Ubuntu 24.04.3 LTS"
    assert info["VERSION"] == "24.04.3 LTS (Noble Numbat)"
    assert info["HOME_URL"] == "https://www.ubuntu.com/"
    assert len(info) == 10


def test_os_release_quoting_comments_and_junk() -> None:
    text = (
        "# Fedora 43 style, with comments and odd lines\n"
        "\n"
        "NAME='Fedora Linux'\n"
        'PRETTY_NAME="Fedora Linux 43 (Workstation Edition)"\n'
        "VERSION_ID=43\n"
        "  ID=fedora  \n"
        'QUOTED="say \\"hi\\" for \\$5 and a \\\\ backslash"\n'
        'EMPTY=""\n'
        'UNBALANCED="open\n'
        "not a key value line\n"
        "1BAD=x\n"
        "BAD-KEY=x\n"
        "VERSION_ID=44\n"  # last assignment wins, as in the shell
    )
    info = parse_os_release(text)
    assert info == {
        "NAME": "Fedora Linux",
        "PRETTY_NAME": "Fedora Linux 43 (Workstation Edition)",
        "VERSION_ID": "44",
        "ID": "fedora",
        "QUOTED": 'say "hi" for $5 and a \\ backslash',
        "EMPTY": "",
        "UNBALANCED": '"open',
    }


def test_os_release_single_quotes_are_literal() -> None:
    assert parse_os_release("X='a\\\\b'\n") == {"X": "a\\\\b"}


_OS_KEY = _word(_UPPER + "_", _UPPER + string.digits + "_", 15)
_LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30)


def _shell_double_quote(value: str) -> str:
    return '"' + re.sub(r'(["$`\\])', r"\\\1", value) + '"'


@PROPERTY
@given(
    st.dictionaries(
        _OS_KEY,
        st.one_of(
            st.tuples(st.just("double"), _LINE_TEXT),
            st.tuples(
                st.just("single"), _LINE_TEXT.filter(lambda v: "'" not in v and "\\" not in v)
            ),
            st.tuples(st.just("bare"), st.text(_ALNUM + "._-")),
        ),
        max_size=12,
    )
)
def test_os_release_round_trip(entries: dict[str, tuple[str, str]]) -> None:
    lines = []
    for key, (style, value) in entries.items():
        if style == "double":
            lines.append(f"{key}={_shell_double_quote(value)}")
        elif style == "single":
            lines.append(f"{key}='{value}'")
        else:
            lines.append(f"{key}={value}")
    text = "# generated\n" + "\n".join(lines) + "\n"
    assert parse_os_release(text) == {key: value for key, (_, value) in entries.items()}


@PROPERTY
@given(st.one_of(st.text(), _fragments([*OS_RELEASE_UBUNTU.splitlines(), '"', "'", "=", "#"])))
def test_os_release_arbitrary_text_never_raises(text: str) -> None:
    info = parse_os_release(text)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) for key in info)
    assert all(isinstance(value, str) for value in info.values())


# ============================================================================================
# parse_kfd_properties
# ============================================================================================


def test_kfd_properties_examples() -> None:
    # facts §9.1: KFD node 1 (amd-gfx list), grep-filtered
    assert parse_kfd_properties(
        "vendor_id 4098\ndevice_id 5510\nlocation_id 49664\ndomain 0\n"
    ) == {
        "vendor_id": 4098,
        "device_id": 5510,
        "location_id": 49664,
        "domain": 0,
    }
    # facts §9.1 [V-3p] and §6: a GPU node, with a line that is not "name integer"
    node = parse_kfd_properties(
        "cpu_cores_count 0\nsimd_count 80\ngfx_target_version 110501\ndrm_render_minor 128\n"
        "marketing_name AMD Radeon Graphics\nsize_in_bytes 103079215104\n"
    )
    assert node["gfx_target_version"] == 110501
    assert node["simd_count"] == 80
    assert node["size_in_bytes"] == 103079215104
    assert "marketing_name" not in node


@pytest.mark.parametrize("text", ["", "\n", "vendor_id\n", "vendor_id 0x1002\n", "a b c\n"])
def test_kfd_properties_without_numbers_is_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_kfd_properties(text)


@PROPERTY
@given(
    st.dictionaries(
        _word(_LOWER, _LOWER + string.digits + "_", 20),
        st.integers(-(2**63), 2**64),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([" ", "  ", "\t"]),
)
def test_kfd_properties_round_trip(props: dict[str, int], sep: str) -> None:
    text = "".join(f"{name}{sep}{value}\n" for name, value in props.items())
    assert parse_kfd_properties(text) == props


KFD_LINES = ["vendor_id 4098", "gfx_target_version 110501", "domain 0", "simd_count -1", " ", "x"]


@PROPERTY
@given(_fragments(KFD_LINES))
def test_kfd_properties_fragments(text: str) -> None:
    props = _returns_or_parse_error(parse_kfd_properties, text)
    if props is not None:
        assert props and all(isinstance(v, int) for v in props.values())


@pytest.mark.parametrize("text", ["size_in_bytes --5\n", "simd_count \u00b2\n"])
def test_kfd_properties_bad_number_is_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_kfd_properties(text)


@PROPERTY
@given(st.text())
@example("size_in_bytes --5\n")
def test_kfd_properties_arbitrary_text_only_parse_error(text: str) -> None:
    _returns_or_parse_error(parse_kfd_properties, text)


# ============================================================================================
# parse_uevent
# ============================================================================================


def test_uevent_example() -> None:
    # facts §9.1 [V-3p] (hal0 docs), /sys/class/drm/card1/device/uevent
    text = (
        "DRIVER=amdgpu\nPCI_CLASS=38000\nPCI_ID=1002:1586\nPCI_SUBSYS_ID=1F4C:B026\n"
        "PCI_SLOT_NAME=0000:bf:00.0\nMODALIAS=pci:v00001002d00001586sv00001F4Csd0000B026bc03sc80i00\n"
    )
    info = parse_uevent(text)
    assert info["DRIVER"] == "amdgpu"
    assert info["PCI_ID"] == "1002:1586"
    assert info["PCI_SLOT_NAME"] == "0000:bf:00.0"
    assert len(info) == 6


@PROPERTY
@given(
    st.dictionaries(
        _word(_UPPER + "_", _UPPER + string.digits + "_", 15),
        _LINE_TEXT.map(str.strip),
        max_size=12,
    )
)
def test_uevent_round_trip(entries: dict[str, str]) -> None:
    text = "".join(f"{key}={value}\n" for key, value in entries.items())
    assert parse_uevent(text) == entries


@PROPERTY
@given(st.text())
def test_uevent_arbitrary_text_never_raises(text: str) -> None:
    info = parse_uevent(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.items())
    assert all(k == k.strip() and v == v.strip() for k, v in info.items())


# ============================================================================================
# parse_modprobe_conf
# ============================================================================================

# facts §9.7, verbatim
MODPROBE_TTM = """\
# 125 GiB
options ttm pages_limit=32768000
"""
MODPROBE_AMDTTM = """\
# 125 GiB
options amdttm pages_limit=32768000
"""
GRUB_DROP_IN = """\
GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }ttm.pages_limit=32768000 ttm.page_pool_size=32768000 amdttm.pages_limit=32768000 amdttm.page_pool_size=32768000"
"""  # noqa: E501


def test_modprobe_examples() -> None:
    assert parse_modprobe_conf(MODPROBE_TTM) == [
        ModprobeOption("ttm", "pages_limit", "32768000", 2)
    ]
    assert parse_modprobe_conf(MODPROBE_AMDTTM) == [
        ModprobeOption("amdttm", "pages_limit", "32768000", 2)
    ]
    # a grub drop-in is no modprobe.d file: nothing in it is an "options" line
    assert parse_modprobe_conf(GRUB_DROP_IN) == []


def test_modprobe_forms() -> None:
    text = (
        "# amd-ttm --set 100 (ROCm docs) writes one line; people add more\n"
        "options ttm pages_limit=26214400 page_pool_size=26214400\n"
        "options amdgpu gttsize=131072 # trailing comment\n"
        "\n"
        "blacklist radeon\n"
        "softdep amdgpu pre: ttm\n"
        "options\tamd-gpu\tcwsr-enable=0\n"
        'options amdgpu ppfeaturemask="0xfff7bfff" noretry\n'
        "options amdgpu\n"
        "  options ttm dma32=1\n"
    )
    assert parse_modprobe_conf(text) == [
        ModprobeOption("ttm", "pages_limit", "26214400", 2),
        ModprobeOption("ttm", "page_pool_size", "26214400", 2),
        ModprobeOption("amdgpu", "gttsize", "131072", 3),
        # kmod skips whole-line comments only; the rest of an options line goes to the module
        # (libkmod-config.c), so a trailing comment becomes parameters the kernel ignores.
        ModprobeOption("amdgpu", "#", "", 3),
        ModprobeOption("amdgpu", "trailing", "", 3),
        ModprobeOption("amdgpu", "comment", "", 3),
        ModprobeOption("amd_gpu", "cwsr_enable", "0", 7),
        ModprobeOption("amdgpu", "ppfeaturemask", "0xfff7bfff", 8),
        ModprobeOption("amdgpu", "noretry", "", 8),
        ModprobeOption("ttm", "dma32", "1", 10),
    ]


def test_modprobe_continuation_lines_are_joined() -> None:
    options = parse_modprobe_conf("options ttm \\\n  pages_limit=1 \\\n  page_pool_size=2\n")
    assert [(o.module, o.name, o.value) for o in options] == [
        ("ttm", "pages_limit", "1"),
        ("ttm", "page_pool_size", "2"),
    ]


def test_modprobe_quoted_value_with_space() -> None:
    options = parse_modprobe_conf('options foo bar="a b"\n')
    assert [(o.module, o.name, o.value) for o in options] == [("foo", "bar", "a b")]


_MOD_NAME = _word(_LOWER, _LOWER + string.digits + "_-", 12)
_MOD_VALUE = st.text(_ALNUM + ".,:/_+-", max_size=12)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["options", "# comment", "", "blacklist radeon"]),
            _MOD_NAME,
            st.lists(st.tuples(_MOD_NAME, _MOD_VALUE, st.booleans()), min_size=1, max_size=4),
        ),
        max_size=10,
    )
)
def test_modprobe_round_trip(lines: list[tuple[str, str, list[tuple[str, str, bool]]]]) -> None:
    text_lines = []
    expected = []
    for lineno, (kind, module, items) in enumerate(lines, start=1):
        if kind != "options":
            text_lines.append(kind)
            continue
        rendered = " ".join(f'{n}="{v}"' if quote else f"{n}={v}" for n, v, quote in items)
        text_lines.append(f"options {module} {rendered}")
        expected += [
            ModprobeOption(normalise_param(module), normalise_param(n), v, lineno)
            for n, v, _ in items
        ]
    assert parse_modprobe_conf("\n".join(text_lines) + "\n") == expected


@PROPERTY
@given(st.one_of(st.text(), _fragments([*MODPROBE_TTM.splitlines(), "options", "\\", "=", '"'])))
def test_modprobe_arbitrary_text_never_raises(text: str) -> None:
    for option in parse_modprobe_conf(text):
        assert isinstance(option, ModprobeOption)
        assert option.line >= 1
        assert "-" not in option.module and "-" not in option.name


# ============================================================================================
# parse_dpkg_status
# ============================================================================================

# Package versions from facts §9.9 (ROCm#5590 `dpkg -l`), in /var/lib/dpkg/status stanza form.
DPKG_STATUS = """\
Package: amdgpu-dkms
Status: install ok installed
Priority: optional
Section: misc
Architecture: all
Version: 1:6.16.6.30200000-2238411.24.04
Depends: dkms (>= 1.95), amdgpu-dkms-firmware (= 30.20.0.0.30200000-2238411.24.04)
Description: amdgpu driver in DKMS format.
 Package: not-a-field (a continuation line)
 .
 Version: 0

Package: amdgpu-dkms-firmware
Status: install ok installed
Architecture: all
Version: 30.20.0.0.30200000-2238411.24.04
Description: firmware blobs used by amdgpu driver in DKMS format

Package: linux-firmware
Status: deinstall ok config-files
Version: 20251125.git1a2b3c4d-0ubuntu1
Conffiles:
 /etc/foo.conf 0123456789abcdef

Package: rocm-core
Status: install ok half-installed
Version: 7.1.0.70100-20~24.04

Package: no-version
Status: install ok installed
"""


def test_dpkg_status_example() -> None:
    assert parse_dpkg_status(DPKG_STATUS) == {
        "amdgpu-dkms": "1:6.16.6.30200000-2238411.24.04",
        "amdgpu-dkms-firmware": "30.20.0.0.30200000-2238411.24.04",
    }


def test_dpkg_list_output_is_not_status() -> None:
    # facts §9.9 verbatim: `dpkg -l` lines are a different format and yield no packages
    dpkg_l = (
        "ii  amdgpu-dkms                          1:6.16.6.30200000-2238411.24.04         all          amdgpu driver in DKMS format.\n"  # noqa: E501
        "ii  amdgpu-dkms-firmware                 30.20.0.0.30200000-2238411.24.04        all          firmware blobs used by amdgpu driver in DKMS format\n"  # noqa: E501
    )
    assert parse_dpkg_status(dpkg_l) == {}


_DEB_NAME = _word(_LOWER + string.digits, _LOWER + string.digits + "+.-", 20, min_rest=1)
_DEB_VERSION = st.builds(
    lambda epoch, upstream, revision: epoch + upstream + revision,
    st.sampled_from(["", "1:", "2:"]),
    _word(string.digits, _ALNUM + ".+~", 12),
    st.just("") | _word("-", _ALNUM + ".+~", 8, min_rest=1),
)
_STATUSES = [
    ("install ok installed", True),
    ("hold ok installed", True),
    ("deinstall ok installed", True),
    ("deinstall ok config-files", False),
    ("install ok half-installed", False),
    ("install ok unpacked", False),
    ("purge ok not-installed", False),
]


@PROPERTY
@given(
    st.dictionaries(
        _DEB_NAME, st.tuples(_DEB_VERSION, st.sampled_from(_STATUSES), st.booleans()), max_size=10
    )
)
def test_dpkg_status_round_trip(packages: dict[str, tuple[str, tuple[str, bool], bool]]) -> None:
    stanzas = []
    for name, (version, (status, _), decoy) in packages.items():
        stanza = f"Package: {name}\nStatus: {status}\nArchitecture: amd64\nVersion: {version}\n"
        stanza += "Description: short\n long text\n"
        if decoy:
            stanza += " Package: decoy\n Version: 0\n"
        stanzas.append(stanza)
    text = "\n".join(stanzas)
    expected = {name: v for name, (v, (_, installed), _) in packages.items() if installed}
    assert parse_dpkg_status(text) == expected


@PROPERTY
@given(st.one_of(st.text(), _fragments([*DPKG_STATUS.splitlines(), "", ":", " "])))
def test_dpkg_status_arbitrary_text_never_raises(text: str) -> None:
    result = parse_dpkg_status(text)
    assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in result.items())


# ============================================================================================
# parse_kernel_log, classify_kernel_log
# ============================================================================================

# facts §9.4 (a), (b), (c) and the 96 GB / TheRock#1054 blocks, verbatim
DMESG_9_4 = """\
[    3.635701] amdgpu 0000:c5:00.0: amdgpu: VRAM: 512M 0x0000008000000000 - 0x000000801FFFFFFF (512M used)
[    3.635703] amdgpu 0000:c5:00.0: amdgpu: GART: 512M 0x00007FFF00000000 - 0x00007FFF1FFFFFFF
[    3.636121] [drm] amdgpu: 512M of VRAM memory ready
[    3.636122] [drm] amdgpu: 128000M of GTT memory ready.
[    3.657851] [drm] amdgpu: 63973M of GTT memory ready.
[    3.368748] amdgpu 0000:c5:00.0: amdgpu: amdgpu: 512M of VRAM memory ready
[    3.368749] amdgpu 0000:c5:00.0: amdgpu: [drm] Configuring gttsize via module parameter is deprecated, please use ttm.pages_limit
[    3.368750] amdgpu 0000:c5:00.0: amdgpu: [drm] GTT size has been set as 134217728000 but TTM size has been set as 65867993088, this is unusual
[    3.368751] amdgpu 0000:c5:00.0: amdgpu: amdgpu: 128000M of GTT memory ready.
[    3.310034] amdgpu 0000:c5:00.0: amdgpu: amdgpu: 512M of VRAM memory ready
[    3.310035] amdgpu 0000:c5:00.0: amdgpu: amdgpu: 62816M of GTT memory ready.
[    1.768086] amdgpu 0000:bd:00.0:  63968M of GTT memory ready.
[    1.697079] amdgpu 0000:bd:00.0:  15860M of GTT memory ready.
[    3.539386] amdgpu 0000:c5:00.0: amdgpu: VRAM: 98304M 0x0000008000000000 - 0x00000097FFFFFFFF (98304M used)
[    3.539802] amdgpu 0000:c5:00.0: amdgpu: amdgpu: 98304M of VRAM memory ready
[    3.539803] amdgpu 0000:c5:00.0: amdgpu: [drm] Configuring gttsize via module parameter is deprecated, please use ttm.pages_limit
[    3.539803] amdgpu 0000:c5:00.0: amdgpu: [drm] GTT size has been set as 103079215104 but TTM size has been set as 16638816256, this is unusual
[    3.539804] amdgpu 0000:c5:00.0: amdgpu: amdgpu: 98304M of GTT memory ready.
[    4.972801] amdgpu 0000:c5:00.0: amdgpu: VRAM: 98304M 0x0000008000000000 - 0x00000097FFFFFFFF (98304M used)
[    4.972828] [drm] Detected VRAM RAM=98304M, BAR=98304M
[    4.973019] [drm] amdgpu: 98304M of VRAM memory ready
"""  # noqa: E501

# facts §2, ROCm#5590 issue body, verbatim (the "..." elision included)
DMESG_MES_HANG = """\
[  990.479743] amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=REMOVE_QUEUE
[  990.479760] amdgpu 0000:c5:00.0: amdgpu: failed to remove hardware queue from MES, doorbell=0x1002
[  990.479768] amdgpu 0000:c5:00.0: amdgpu: MES might be in unrecoverable state, issue a GPU reset
[  990.479779] amdgpu 0000:c5:00.0: amdgpu: Failed to evict queue 1
[  990.479799] amdgpu 0000:c5:00.0: amdgpu: GPU reset begin!. Source:  3
[  990.479898] amdgpu 0000:c5:00.0: amdgpu: Failed to evict process queues
[  990.479920] amdgpu: Failed to quiesce KFD
[  990.479967] amdgpu 0000:c5:00.0: amdgpu: Dumping IP State
[  990.486732] amdgpu 0000:c5:00.0: amdgpu: Dumping IP State Completed
[  990.520342] amdgpu 0000:c5:00.0: amdgpu: MODE2 reset
[  990.549888] amdgpu 0000:c5:00.0: amdgpu: GPU reset succeeded, trying to resume
[  990.550342] [drm] PCIE GART of 512M enabled (table at 0x000000801FB00000).
[  990.550415] amdgpu 0000:c5:00.0: amdgpu: [drm] AMDGPU device coredump file has been created
[  990.550417] amdgpu 0000:c5:00.0: amdgpu: [drm] Check your /sys/class/drm/card1/device/devcoredump/data
...
[  990.712022] amdgpu 0000:c5:00.0: amdgpu: GPU reset(1) succeeded!
[  990.712038] amdgpu 0000:c5:00.0: [drm] device wedged, but recovered through reset
"""

KNOWN_KINDS = {
    "vram-ready",
    "gtt-ready",
    "gttsize-deprecated",
    "gtt-ttm-mismatch",
    "unknown-param",
    "mes-timeout",
    "mes-unrecoverable",
    "gpu-reset",
    "gpu-reset-done",
    "page-fault",
    "page-fault-status",
    "device-wedged",
    "ring-timeout",
}


def _events(text: str) -> list[tuple[str, float | None, dict[str, str | int]]]:
    return [(e.kind, e.line.timestamp, e.data) for e in classify_kernel_log(parse_kernel_log(text))]


def test_kernel_log_lines() -> None:
    lines = parse_kernel_log(DMESG_9_4)
    assert len(lines) == len(DMESG_9_4.splitlines())
    assert lines[2] == LogLine(3.636121, "[drm] amdgpu: 512M of VRAM memory ready")
    assert lines[11] == LogLine(1.768086, "amdgpu 0000:bd:00.0:  63968M of GTT memory ready.")
    hang = parse_kernel_log(DMESG_MES_HANG)
    assert hang[14] == LogLine(None, "...")
    assert hang[-1].timestamp == 990.712038


def test_kernel_log_memory_events_three_formats() -> None:
    assert _events(DMESG_9_4) == [
        ("vram-ready", 3.636121, {"mib": 512}),  # (a) "[drm] amdgpu:"
        ("gtt-ready", 3.636122, {"mib": 128000}),
        ("gtt-ready", 3.657851, {"mib": 63973}),
        ("vram-ready", 3.368748, {"mib": 512}),  # (b) "amdgpu: amdgpu:"
        ("gttsize-deprecated", 3.368749, {}),
        ("gtt-ttm-mismatch", 3.368750, {"gtt": 134217728000, "ttm": 65867993088}),
        ("gtt-ready", 3.368751, {"mib": 128000}),
        ("vram-ready", 3.310034, {"mib": 512}),
        ("gtt-ready", 3.310035, {"mib": 62816}),
        ("gtt-ready", 1.768086, {"mib": 63968}),  # (c) no tag, double space
        ("gtt-ready", 1.697079, {"mib": 15860}),
        ("vram-ready", 3.539802, {"mib": 98304}),
        ("gttsize-deprecated", 3.539803, {}),
        ("gtt-ttm-mismatch", 3.539803, {"gtt": 103079215104, "ttm": 16638816256}),
        ("gtt-ready", 3.539804, {"mib": 98304}),
        ("vram-ready", 4.973019, {"mib": 98304}),  # TheRock#1054
    ]


def test_kernel_log_mes_hang_block() -> None:
    assert _events(DMESG_MES_HANG) == [
        ("mes-timeout", 990.479743, {"msg": "REMOVE_QUEUE"}),
        ("mes-unrecoverable", 990.479768, {}),  # "MES might be in unrecoverable state"
        ("gpu-reset", 990.479799, {}),  # "GPU reset begin!"
        ("gpu-reset-done", 990.520342, {}),  # "MODE2 reset"
        ("gpu-reset-done", 990.712022, {}),  # "GPU reset(1) succeeded!"
        ("device-wedged", 990.712038, {}),
    ]


def test_kernel_log_other_real_lines() -> None:
    # facts §9.4 (ROCm#6273, #5724, Jeff Geerling) and §2 (waltercool) / §5.2 (#5595)
    text = (
        "[104187.125952] amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=MISC (WAIT_REG_MEM)\n"
        "amdgpu 0000:c5:00.0: amdgpu: failed to reg_write_reg_wait\n"
        "amdgpu 0000:c5:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:153 vmid:8 pasid:32771)\n"
        # the facts quote the status line without its device prefix; dmesg prints one
        "amdgpu 0000:c5:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00800932\n"
        "amdgpu 0000:c5:00.0: amdgpu: Faulty UTCL2 client ID: CPF (0x4)\n"
        "[    4.232151] amdgpu 0000:c1:00.0: amdgpu: [drm] Configuring gttsize via module parameter is deprecated, please use ttm.pages_limit\n"  # noqa: E501
        "amdgpu: unknown parameter 'gtt_size' ignored\n"
        "MES failed to respond to msg=SUSPEND\n"  # no amdgpu tag: not classified
        "GCVM_L2_PROTECTION_FAULT_STATUS:0x00801031\n"
    )
    assert _events(text) == [
        ("mes-timeout", 104187.125952, {"msg": "MISC (WAIT_REG_MEM)"}),
        ("page-fault", None, {}),
        ("page-fault-status", None, {"status": "0x00800932"}),
        ("cpf-fault", None, {}),  # the amdgpu-dkms / MES 0x83 signature (ROCm#6182)
        ("gttsize-deprecated", 4.232151, {}),
        ("unknown-param", None, {"module": "amdgpu", "param": "gtt_size"}),
    ]


@pytest.mark.parametrize(
    "prefix", ["", "[    3.100000] ", "<4>[    3.100000] ", "[    3.100000] evo-x2 kernel: "]
)
def test_kernel_log_unknown_param_with_prefixes(prefix: str) -> None:
    # dmesg, dmesg -r and journalctl -k -o short-monotonic spellings of the #5595 line
    events = classify_kernel_log(
        parse_kernel_log(f"{prefix}amdgpu: unknown parameter 'gtt_size' ignored\n")
    )
    assert [(e.kind, e.data) for e in events] == [
        ("unknown-param", {"module": "amdgpu", "param": "gtt_size"})
    ]
    assert events[0].line.timestamp == (3.1 if prefix else None)


def test_kernel_log_text_is_the_same_from_dmesg_and_the_journal() -> None:
    """The monitor tells old hang lines from new ones by their text: a run that read dmesg
    and one that fell back to journalctl must see the same line."""
    line = "amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=REMOVE_QUEUE"
    dmesg = parse_kernel_log(f"[ 5123.456789] {line}\n")
    journal = parse_kernel_log(f"[ 5123.456789] inference-01 kernel: {line}\n")
    assert dmesg == journal == [LogLine(5123.456789, line)]
    # Only the tag at the start goes; text that merely contains "kernel:" stays.
    assert parse_kernel_log("[ 1.0] amdgpu: kernel: x\n")[0].text == "amdgpu: kernel: x"


def test_kernel_log_ignores_other_drivers() -> None:
    text = "[    1.0] nouveau: 512M of VRAM memory ready\n[    2.0] usb 1-1: new device\n"
    assert classify_kernel_log(parse_kernel_log(text)) == []


def test_kernel_log_mes_timeout_numeric_opcode() -> None:
    line = "amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=20"
    assert _events(line) == [("mes-timeout", None, {"msg": "20"})]


def test_kernel_log_mes_timeout_opcode_with_digit() -> None:
    line = "amdgpu 0000:c5:00.0: amdgpu: MES failed to respond to msg=SET_HW_RSRC_1"
    assert _events(line) == [("mes-timeout", None, {"msg": "SET_HW_RSRC_1"})]


_LOG_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@PROPERTY
@given(
    st.lists(st.tuples(st.integers(0, 10**12 - 1), _LOG_TEXT), max_size=15),
    st.sampled_from(["", "<6>", "  "]),
)
def test_kernel_log_round_trip(entries: list[tuple[int, str]], level: str) -> None:
    text = "".join(
        f"{level}[{us // 10**6:5d}.{us % 10**6:06d}] {message}\n" for us, message in entries
    )
    assert parse_kernel_log(text) == [LogLine(us / 10**6, message) for us, message in entries]


@PROPERTY
@given(st.lists(_LOG_TEXT.map(str.strip).filter(bool), max_size=15))
def test_kernel_log_lines_without_timestamp(messages: list[str]) -> None:
    assume(not any(m.startswith("[") or m.startswith("<") for m in messages))
    text = "\n".join(f"  {m}  " for m in messages)
    assert parse_kernel_log(text) == [LogLine(None, m) for m in messages]


_BDF = st.integers(0, 255).map(lambda bus: f"0000:{bus:02x}:00.0")
_MEMORY_STYLES = [
    "[drm] amdgpu: {mib}M of {kind} memory ready{dot}",  # (a)
    "amdgpu {bdf}: amdgpu: amdgpu: {mib}M of {kind} memory ready{dot}",  # (b)
    "amdgpu {bdf}:  {mib}M of {kind} memory ready{dot}",  # (c)
]


@PROPERTY
@given(
    st.sampled_from(_MEMORY_STYLES),
    st.integers(0, 2**32),  # MiB: up to 4 PiB of memory, far beyond any APU
    st.sampled_from(["VRAM", "GTT"]),
    _BDF,
    st.sampled_from(["", "."]),
)
def test_kernel_log_memory_ready_property(
    style: str, mib: int, kind: str, bdf: str, dot: str
) -> None:
    line = "[    3.000001] " + style.format(mib=mib, kind=kind, bdf=bdf, dot=dot)
    expected_kind = "vram-ready" if kind == "VRAM" else "gtt-ready"
    assert _events(line) == [(expected_kind, 3.000001, {"mib": mib})]


@PROPERTY
@given(st.integers(0, 2**64), st.integers(0, 2**64), _BDF)
def test_kernel_log_gtt_ttm_mismatch_property(gtt: int, ttm: int, bdf: str) -> None:
    line = (
        f"amdgpu {bdf}: amdgpu: [drm] GTT size has been set as {gtt} but TTM size has been set "
        f"as {ttm}, this is unusual"
    )
    assert _events(line) == [("gtt-ttm-mismatch", None, {"gtt": gtt, "ttm": ttm})]


@PROPERTY
@given(
    _word(_LOWER, _LOWER + string.digits + "_", 15),
    _word(_LOWER, _LOWER + string.digits + "_.-", 20),
)
def test_kernel_log_unknown_param_property(module: str, param: str) -> None:
    line = f"[   12.345678] {module}: unknown parameter '{param}' ignored"
    assert _events(line) == [("unknown-param", 12.345678, {"module": module, "param": param})]


_MES_MESSAGES = [
    "REMOVE_QUEUE",
    "SUSPEND",
    "ADD_QUEUE",
    "RESUME",
    "RESET",
    "MISC (WAIT_REG_MEM)",
    "MISC (READ_REG)",
    "QUERY_SCHEDULER_STATUS",
]


@PROPERTY
@given(
    st.sampled_from(_MES_MESSAGES),
    st.integers(0, 100),
    st.integers(0, 2**32 - 1),
    _BDF,
)
def test_kernel_log_hang_lines_property(msg: str, resets: int, status: int, bdf: str) -> None:
    prefix = f"amdgpu {bdf}: amdgpu: "
    text = "\n".join(
        [
            f"{prefix}MES failed to respond to msg={msg}",
            f"{prefix}GPU reset({resets}) succeeded!",
            f"{prefix}GCVM_L2_PROTECTION_FAULT_STATUS:0x{status:08X}",
            f"amdgpu {bdf}: [drm] device wedged, but recovered through reset",
        ]
    )
    assert _events(text) == [
        ("mes-timeout", None, {"msg": msg}),
        ("gpu-reset-done", None, {}),
        ("page-fault-status", None, {"status": f"0x{status:08X}"}),
        ("device-wedged", None, {}),
    ]


REAL_LOG_LINES = [*DMESG_9_4.splitlines(), *DMESG_MES_HANG.splitlines()]


@PROPERTY
@given(st.lists(st.sampled_from(REAL_LOG_LINES), max_size=30))
def test_kernel_log_classification_is_per_line(lines: list[str]) -> None:
    # Any mix of real lines: the events of the whole are the events of each line, in order.
    whole = classify_kernel_log(parse_kernel_log("\n".join(lines)))
    per_line = [event for line in lines for event in classify_kernel_log(parse_kernel_log(line))]
    assert whole == per_line


_GUARDED = [
    *kernellog._HANG_PATTERNS,
    *kernellog._OTHER_PATTERNS,
    ("gtt-ttm-mismatch", ("GTT size has been set as ",), kernellog._GTT_TTM_MISMATCH),
    ("unknown-param", (": unknown parameter '",), kernellog._UNKNOWN_PARAM),
    # (the memory line is found by str methods, not a pattern: test_token_parsers.py)
]


@pytest.mark.parametrize(("kind", "needles", "pattern"), _GUARDED, ids=[g[0] for g in _GUARDED])
def test_a_line_the_kernel_log_patterns_match_holds_their_literal(
    kind: str, needles: tuple[str, ...], pattern: str
) -> None:
    # classify_kernel_log searches a pattern only in lines holding one of its literals (so
    # most scans compile none of them): every text a pattern matches must hold one.
    @PROPERTY
    @given(st.from_regex(pattern))
    def check(text: str) -> None:
        assert any(needle in text for needle in needles), (kind, text)

    check()


def test_the_memory_and_journal_patterns_need_their_literal() -> None:
    # The pattern test_a_line_the_kernel_log_patterns_match_holds_their_literal leaves out
    # (the memory line is found by str methods: tests/parse/test_token_parsers.py).
    assert kernellog.JOURNAL_KERNEL_TAG.endswith(" kernel: ")
    events = classify_kernel_log(parse_kernel_log("host kernel: amdgpu: 512M of VRAM memory ready"))
    assert [(e.kind, e.data, e.line.text) for e in events] == [
        ("vram-ready", {"mib": 512}, "amdgpu: 512M of VRAM memory ready")
    ]


@PROPERTY
@given(st.one_of(st.text(), _fragments([*REAL_LOG_LINES, "[", "]", "M of ", "amdgpu", "'"])))
def test_kernel_log_arbitrary_text_never_raises(text: str) -> None:
    lines = parse_kernel_log(text)
    assert all(
        isinstance(line, LogLine) and line.text.splitlines() in ([], [line.text]) for line in lines
    )
    events = classify_kernel_log(lines)
    assert all(isinstance(e, KernelLogEvent) and e.kind in KNOWN_KINDS for e in events)
    assert all(any(e.line is line for line in lines) for e in events)


# ============================================================================================
# parse_rocminfo
# ============================================================================================

# facts §9.5 (ROCm#5590), verbatim including rocminfo's trailing-space padding and the "..."
# elisions of the paste; one string per line so that no editor strips the padding.
ROCMINFO_5590_LINES = (
    "ROCk module version 6.16.6 is loaded",
    "=====================    ",
    "HSA System Attributes    ",
    "=====================    ",
    "Runtime Version:         1.18",
    "Runtime Ext Version:     1.14",
    "...",
    "*******                  ",
    "Agent 2                  ",
    "*******                  ",
    "  Name:                    gfx1151                            ",
    "  Uuid:                    GPU-XX                             ",
    "  Marketing Name:          AMD Radeon Graphics                ",
    "  Vendor Name:             AMD                                ",
    "  Feature:                 KERNEL_DISPATCH                    ",
    "  Profile:                 BASE_PROFILE                       ",
    "  Float Round Mode:        NEAR                               ",
    "  Max Queue Number:        128(0x80)                          ",
    "  Queue Min Size:          64(0x40)                           ",
    "  Queue Max Size:          131072(0x20000)                    ",
    "  Queue Type:              MULTI                              ",
    "  Node:                    1                                  ",
    "  Device Type:             GPU                                ",
    "  Cache Info:              ",
    "    L1:                      32(0x20) KB                        ",
    "    L2:                      2048(0x800) KB                     ",
    "    L3:                      32768(0x8000) KB                   ",
    "  Chip ID:                 5510(0x1586)                       ",
    "  ASIC Revision:           0(0x0)                             ",
    "  Cacheline Size:          128(0x80)                          ",
    "  Max Clock Freq. (MHz):   2900                               ",
    "  BDFID:                   50432                              ",
    "  Internal Node ID:        1                                  ",
    "  Compute Unit:            40                                 ",
    "  SIMDs per CU:            2                                  ",
    "  Shader Engines:          2                                  ",
    "  Shader Arrs. per Eng.:   2                                  ",
    "  WatchPts on Addr. Ranges:4                                  ",
    "  Coherent Host Access:    FALSE                              ",
    "  Memory Properties:       APU",
    "  Features:                KERNEL_DISPATCH ",
    "  Fast F16 Operation:      TRUE                               ",
    "  Wavefront Size:          32(0x20)                           ",
    "  ...",
    "  Pool Info:               ",
    "    Pool 1                   ",
    "      Segment:                 GLOBAL; FLAGS: COARSE GRAINED      ",
    "      Size:                    125829120(0x7800000) KB            ",
    "      Allocatable:             TRUE                               ",
    "      Alloc Granule:           4KB                                ",
    "      Alloc Recommended Granule:2048KB                             ",
    "      Alloc Alignment:         4KB                                ",
    "      Accessible by all:       FALSE                              ",
    "    Pool 2                   ",
    "      Segment:                 GLOBAL; FLAGS: EXTENDED FINE GRAINED",
    "      Size:                    125829120(0x7800000) KB            ",
    "  ...",
    "  ISA Info:                ",
    "    ISA 1                    ",
    "      Name:                    amdgcn-amd-amdhsa--gfx1151         ",
    "    ISA 2                    ",
    "      Name:                    amdgcn-amd-amdhsa--gfx11-generic   ",
)
ROCMINFO_5590 = "\n".join(ROCMINFO_5590_LINES) + "\n"

# The CPU agent of the same paste: the facts give its name and pool size (§9.5 prose); the
# surrounding lines follow rocminfo's layout for a CPU agent.
ROCMINFO_CPU_AGENT_LINES = (
    "*******                  ",
    "Agent 1                  ",
    "*******                  ",
    "  Name:                    AMD RYZEN AI MAX+ 395 w/ Radeon 8060S",
    "  Uuid:                    CPU-XX                             ",
    "  Marketing Name:          AMD RYZEN AI MAX+ 395 w/ Radeon 8060S",
    "  Vendor Name:             CPU                                ",
    "  Device Type:             CPU                                ",
    "  Cache Info:              ",
    "    L1:                      49152(0xc000) KB                   ",
    "  Pool Info:               ",
    "    Pool 1                   ",
    "      Segment:                 GLOBAL; FLAGS: FINE GRAINED        ",
    "      Size:                    131009800(0x7cf0d08) KB            ",
    "      Allocatable:             TRUE                               ",
    "    Pool 2                   ",
    "      Segment:                 GLOBAL; FLAGS: EXTENDED FINE GRAINED",
    "      Size:                    131009800(0x7cf0d08) KB            ",
    "    Pool 3                   ",
    "      Segment:                 GLOBAL; FLAGS: COARSE GRAINED      ",
    "      Size:                    131009800(0x7cf0d08) KB            ",
    "  ISA Info:                ",
)

GFX1151 = RocmAgent("gfx1151", "GPU", "AMD Radeon Graphics", (125829120, 125829120))
RYZEN = RocmAgent(
    "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S",
    "CPU",
    "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S",
    (131009800, 131009800, 131009800),
)


def test_rocminfo_gpu_agent_excerpt() -> None:
    info = parse_rocminfo(ROCMINFO_5590)
    assert info == RocmInfo("6.16.6", (GFX1151,))
    assert info.gpu_agents() == [GFX1151]
    assert info.agents[0].pool_sizes_kib[0] == 120 * 1024 * 1024  # 120 GiB in KiB


def test_rocminfo_cpu_and_gpu_agents() -> None:
    head, agent2 = ROCMINFO_5590_LINES[:7], ROCMINFO_5590_LINES[7:]
    text = "\n".join((*head, *ROCMINFO_CPU_AGENT_LINES, *agent2, "*** Done ***")) + "\n"
    info = parse_rocminfo(text)
    assert info.agents == (RYZEN, GFX1151)
    assert info.gpu_agents() == [GFX1151]


def test_rocminfo_without_padding_and_in_kernel_driver() -> None:
    # The in-kernel driver prints "ROCk module is loaded" (no version); padding may be lost
    # when a paste is re-flowed.
    text = "\n".join(line.rstrip() for line in ROCMINFO_5590_LINES)
    text = text.replace("ROCk module version 6.16.6 is loaded", "ROCk module is loaded")
    assert parse_rocminfo(text) == RocmInfo(None, (GFX1151,))


@pytest.mark.parametrize(
    ("size_line", "kib"),
    [
        # facts §9.5 from ROCm#5444: bad pool sizes (~15.5 GiB) and the good one; the second
        # paste's hex does not match its decimal - the decimal is what counts
        ("      Size:                    16323184(0xf91270) KB            ", 16323184),
        ("      Size:                    16651264(0x3e2000) KB            ", 16651264),
        ("      Size:                    100663296(0x6000000) KB          ", 100663296),
    ],
)
def test_rocminfo_pool_size_variants(size_line: str, kib: int) -> None:
    lines = [
        size_line if "Size:    " in line and "(0x" in line else line for line in ROCMINFO_5590_LINES
    ]
    assert parse_rocminfo("\n".join(lines)).agents[0].pool_sizes_kib == (kib, kib)


@pytest.mark.parametrize(
    "marketing", ["AMD Radeon 8060S Graphics", "AMD Radeon(TM) 8060S Graphics"]
)
def test_rocminfo_other_marketing_names(marketing: str) -> None:
    text = ROCMINFO_5590.replace("AMD Radeon Graphics", marketing)
    assert parse_rocminfo(text).agents[0].marketing_name == marketing


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ROCk module version 6.16.6 is loaded\nHSA System Attributes\n",
        "hsa api call failure at: /rocminfo.cc:1306\nCall returned HSA_STATUS_ERROR_OUT_OF_RESOURCES\n",
        "Agent 1\n  Name: gfx1151\n",  # no ******* frame
    ],
)
def test_rocminfo_without_agents_is_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_rocminfo(text)


def _rocminfo_field(label: str, value: str) -> str:
    return f"  {label + ':':<25}{value:<35}"


def _render_rocminfo(rock: str | None, agents: list[RocmAgent]) -> str:
    out = [
        f"ROCk module version {rock} is loaded" if rock else "ROCk module is loaded",
        "=====================    ",
        "HSA System Attributes    ",
        "=====================    ",
        "Runtime Version:         1.18",
        "",
        "==========               ",
        "HSA Agents               ",
        "==========               ",
    ]
    for number, agent in enumerate(agents, start=1):
        out += ["*******                  ", f"Agent {number:<19}", "*******                  "]
        out += [
            _rocminfo_field("Name", agent.name),
            _rocminfo_field("Uuid", "GPU-XX"),
            _rocminfo_field("Marketing Name", agent.marketing_name),
            _rocminfo_field("Vendor Name", "AMD"),
            _rocminfo_field("Device Type", agent.device_type),
            "  Cache Info:              ",
            "    L1:                      32(0x20) KB                        ",
            "  Pool Info:               ",
        ]
        for pool, kib in enumerate(agent.pool_sizes_kib, start=1):
            out += [
                f"    Pool {pool:<20}",
                "      Segment:                 GLOBAL; FLAGS: COARSE GRAINED      ",
                f"      Size:                    {kib}({kib:#x}) KB            ",
                "      Allocatable:             TRUE                               ",
            ]
        out += [
            "  ISA Info:                ",
            "    ISA 1                    ",
            f"      Name:                    amdgcn-amd-amdhsa--{agent.name}",
        ]
    out.append("*** Done ***")
    return "\n".join(out) + "\n"


_AGENT_TEXT = (
    st.text(string.ascii_letters + string.digits + " +/()-_.", min_size=1, max_size=30)
    .map(str.strip)
    .filter(bool)
)
_AGENT = st.builds(
    RocmAgent,
    name=_AGENT_TEXT,
    device_type=st.sampled_from(["CPU", "GPU", "DSP"]),
    marketing_name=_AGENT_TEXT,
    pool_sizes_kib=st.lists(st.integers(0, 2**40), max_size=4).map(tuple),
)


@PROPERTY
@given(
    st.none() | st.tuples(_version, _version, _version).map(lambda v: "{}.{}.{}".format(*v)),
    st.lists(_AGENT, min_size=1, max_size=4),
)
def test_rocminfo_round_trip(rock: str | None, agents: list[RocmAgent]) -> None:
    info = parse_rocminfo(_render_rocminfo(rock, agents))
    assert info == RocmInfo(rock, tuple(agents))
    assert info.gpu_agents() == [agent for agent in agents if agent.device_type == "GPU"]


@PROPERTY
@given(st.one_of(st.text(), _fragments([*ROCMINFO_5590_LINES, *ROCMINFO_CPU_AGENT_LINES])))
def test_rocminfo_arbitrary_text(text: str) -> None:
    info = _returns_or_parse_error(parse_rocminfo, text)
    if info is not None:
        assert isinstance(info, RocmInfo) and info.agents
        assert all(isinstance(kib, int) for a in info.agents for kib in a.pool_sizes_kib)


# ============================================================================================
# Contract: huge digit strings (Python's int() limit of 4300 digits)
# ============================================================================================

_HUGE = "1" * 5000


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_kernel_release, f"6.18.0-{_HUGE}-generic"),
        (parse_meminfo, f"MemTotal: {_HUGE} kB\n"),
        (parse_kfd_properties, f"size_in_bytes {_HUGE}\n"),
        (
            lambda text: classify_kernel_log(parse_kernel_log(text)),
            f"[drm] amdgpu: {_HUGE}M of VRAM memory ready",
        ),
        (parse_rocminfo, ROCMINFO_5590.replace("125829120(0x7800000)", f"{_HUGE}(0x1)")),
    ],
    ids=["kernel_release", "meminfo", "kfd_properties", "kernel_log", "rocminfo"],
)
def test_huge_numbers_only_parse_error(parse: Callable[[str], Any], text: str) -> None:
    _returns_or_parse_error(parse, text)
