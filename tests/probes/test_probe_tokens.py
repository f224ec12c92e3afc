"""The probes' token tests are str methods, not regexes (a scan compiles no pattern for
them): each accepts exactly what the pattern it replaced accepted. The patterns are kept here
and generated strings (random ones over the characters that matter, and ones built of the
tokens that make a match) must get the same answer from both."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hostcheck.probes import stack
from hostcheck.probes.boot import decimal_runs
from hostcheck.probes.gpu import pci_address
from hostcheck.probes.stack import maps_library
from hostcheck.probes.units import HSA_ERROR_PATTERN, _hsa_error

ALPHABET = "0123456789²١aAfFgx:.-/_ \n"


def _strings(tokens: list[str], alphabet: str = ALPHABET) -> st.SearchStrategy[str]:
    built = st.lists(st.sampled_from(tokens), max_size=8).map("".join)
    return st.one_of(st.text(alphabet, max_size=16), built)


_PCI = r"[0-9a-fA-F]{4}:([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])"


@settings(max_examples=500)
@given(_strings(["0000", "c5", "00", "0", "7", "8", ":", ".", "fF", "g", "١", "\n", "0000:"]))
@example("0000:c5:00.0")
@example("0000:C5:1f.7")
@example("0000:c5:00.8")
@example("0000:c5:00.0\n")
@example("0000:c5:0١.0")
def test_pci_addresses_are_the_pattern(slot: str) -> None:
    match = re.fullmatch(_PCI, slot)
    expected = tuple(int(part, 16) for part in match.groups()) if match else None
    assert pci_address(slot) == expected


@settings(max_examples=500)
@given(
    _strings(
        [
            "Memory access fault by GPU",
            "Memory critical error by agent",
            "HW Exception by GPU",
            " node-",
            "node-",
            "1",
            "١",
            " ",
            "x",
            "COMMAND=",
        ]
    )
)
@example("Memory access fault by GPU node-1 (Agent handle: 0x55)")
@example("HW Exception by GPU node-x HW Exception by GPU node-2")
@example("HW Exception by GPU node-١")
def test_runtime_errors_are_found_as_the_pattern_finds_them(line: str) -> None:
    assert _hsa_error(line) == bool(re.search(HSA_ERROR_PATTERN, line))


_MAP_LIBRARY = (
    r"/(libamdhip64\.so[0-9.]*|libhsa-runtime64\.so[0-9.]*|libggml-(?:hip|vulkan)[^/]*\.so[^/]*"
    r"|libtorch_hip\.so|libvulkan_radeon\.so)$"
)
LIBRARY_TOKENS = [
    "/",
    "/opt/rocm/lib/",
    "libamdhip64.so",
    "libhsa-runtime64.so",
    "libggml-hip",
    "libggml-vulkan",
    "libggml-",
    "libtorch_hip.so",
    "libvulkan_radeon.so",
    ".so",
    ".6",
    "7.2",
    "١",
    ".x",
    " (deleted)",
    "\n",
    "\n",
    "x",
]


@settings(max_examples=1000)
@given(_strings(LIBRARY_TOKENS))
@example("7f00-7f10 r-xp 00000000 08:02 12 /opt/rocm/lib/libamdhip64.so.7.2.70200")
@example("/usr/lib/libggml-vulkan.so\n")
@example("/usr/lib/libggml-hip\n.so")
@example("/usr/lib/libtorch_hip.so\n")
@example("/usr/lib/libtorch_hip.so\n\n")
@example("/usr/lib/libamdhip64.so.6 (deleted)")
@example("/libggml-hip.so/x")
def test_library_lines_are_the_pattern(line: str) -> None:
    assert maps_library(line) == bool(re.search(_MAP_LIBRARY, line))


@settings(max_examples=500)
@given(_strings(["6", "18", "١٢", "²", ".", "-", "fc43", "x", "200", ""]))
@example("6.18.6-200.fc43.x86_64.conf")
@example("a²1١")
def test_bls_version_parts_are_the_pattern(name: str) -> None:
    assert decimal_runs(name) == [part for part in re.split(r"(\d+)", name) if part]


@given(_strings(["libamdhip64-", "libamdhip64", "7", "10", "-", "dev", "١", "\n", "x"]))
@example("libamdhip64-7")
@example("libamdhip64-")
@example("libamdhip64-7\n")
def test_archive_hip_packages_are_the_pattern(name: str) -> None:
    assert stack._archive_hip(name) == bool(re.fullmatch(r"libamdhip64-[0-9]+", name))


@pytest.mark.parametrize(("runtime", "literal", "pattern"), stack._CGROUP)
def test_a_cgroup_a_pattern_matches_holds_its_literal(
    runtime: str, literal: str, pattern: str
) -> None:
    """parse_cgroup searches a pattern only in a path that holds its literal."""

    @settings(max_examples=200)
    @given(st.from_regex(pattern))
    def check(path: str) -> None:
        assert literal in path, (runtime, path)

    check()
