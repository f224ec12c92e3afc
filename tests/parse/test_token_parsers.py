"""The parsers' token tests are str methods, not regexes (a scan compiles no pattern for them):
each accepts exactly what the regex it replaced accepted, and returns the same parts. The
original patterns are kept here, and generated strings (random ones over an alphabet of the
characters that matter, and ones built of the tokens that make a match) must get the same
answer from both."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hostcheck.parse import grub, kargs, kernel, kernellog, rocm, text
from hostcheck.parse.kernel import KernelRelease, parse_kernel_release, parse_version_signature
from hostcheck.parse.text import ParseError

# digits of other scripts ("١" is a decimal digit for \d and int(), "²" a digit for
# str.isdigit() only), hex letters, the separators of the formats, whitespace of both kinds
ALPHABET = "0123456789²١٣abcfAFxXz_-.+~:\n\t \x0b\x1c\u2028é"


def _strings(tokens: list[str]) -> st.SearchStrategy[str]:
    built = st.lists(st.sampled_from(tokens), max_size=8).map("".join)
    return st.one_of(st.text(ALPHABET, max_size=14), built)


# --- parse/text.py ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(_strings(["0", "7", "12345", "9" * 10, "99999999999", "-", "x", "0x", "0X", "fF", "²"]))
@example("9" * 20)
@example("9" * 21)
@example("١٢")
def test_number_tokens_are_the_patterns(token: str) -> None:
    assert text.ascii_digits(token, 20) == bool(re.fullmatch(r"[0-9]{1,20}", token))
    assert text.ascii_digits(token, 10) == bool(re.fullmatch(r"[0-9]{1,10}", token))
    assert text.ascii_digits(token.removeprefix("-"), 20) == bool(
        re.fullmatch(r"-?[0-9]{1,20}", token)
    )
    hex_token = token[:2] in ("0x", "0X") and text.ascii_hex(token[2:], 16)
    assert hex_token == bool(re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}", token))
    digits = re.match(r"[0-9]*", token)
    assert digits is not None and text.digit_run(token) == len(digits[0])


@settings(max_examples=300)
@given(_strings(["A", "z", "_", "9", "é", "=", "$", " ", "\n", "export", "{"]), st.integers(0, 4))
@example("A_9", 0)
@example("_", 0)
@example("9A", 0)
def test_shell_names_are_the_pattern(candidate: str, start: int) -> None:
    assert text.is_identifier(candidate) == bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", candidate))
    match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(candidate, start)
    assert text.identifier_end(candidate, start) == (match.end() if match else start)


def _sysfs_int(token: str) -> int | None:
    try:
        return text.parse_sysfs_int(token)
    except ParseError:
        return None


@given(_strings(["0", "1", "00000080", "0x", "0X", "fF", "g", " ", "\n", "١", "²", "9" * 17]))
def test_sysfs_numbers_parse_as_the_patterns_say(token: str) -> None:
    stripped = token.strip(text.KERNEL_SPACE)
    if re.fullmatch(r"[0-9]{1,20}", stripped):
        expected: int | None = int(stripped)
    elif re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}", stripped):
        expected = int(stripped, 16)
    else:
        expected = None
    assert _sysfs_int(token) == expected


@given(st.text('ab\\"$`', max_size=10))
@example('a\\"b\\$c\\`d\\\\e\\f')
def test_os_release_values_unquote_as_the_shell_does(value: str) -> None:
    unquoted = text.parse_os_release(f'NAME="{value}"')["NAME"]
    assert unquoted == re.sub(r'\\(["$`\\])', r"\1", value)


# --- parse/kernel.py: the release ------------------------------------------------------------

_RELEASE = r"(?P<major>[0-9]{1,4})\.(?P<minor>[0-9]{1,4})(?:\.(?P<patch>[0-9]{1,6}))?(?P<rest>\S*)"
_UBUNTU = r"-(?P<abi>[0-9]{1,9})(?:\.(?P<upload>[0-9]{1,9}))?-(?P<flavour>[a-z][a-z0-9-]*)"
_UBUNTU_MAINLINE = r"-0[0-9]{5}(?:rc[0-9]{1,3})?(?:-[0-9]{12})?-[a-z][a-z0-9-]*"
_RC = r"(?:^|[-.0-9])rc(?P<rc>[0-9]{1,3})"
_DISTRO_HINTS = (
    (r"nobara", "nobara"),
    (r"\.fc\d+", "fedora"),
    (r"\.el\d+", "rhel"),
    (r"\+deb\d+|-amd64$", "debian"),
    (r"cachyos", "cachyos"),
    (r"-arch\d|-mainline$", "arch"),
)
_UBUNTU_FLAVOURS = frozenset(
    {"generic", "oem", "lowlatency", "generic-64k", "generic-hwe", "azure", "aws", "gcp", "kvm"}
)


def _regex_kernel_release(text: str) -> KernelRelease:
    """parse_kernel_release as it was written with regexes."""
    raw = text.strip()
    match = re.fullmatch(_RELEASE, raw)
    if not match:
        raise ParseError(f"not a kernel release: {raw[:60]!r}")
    upstream = (int(match["major"]), int(match["minor"]), int(match["patch"] or 0))
    rest = match["rest"]
    rc_match = re.search(_RC, rest)
    rc = int(rc_match["rc"]) if rc_match else None
    abi = flavour = None
    distro = None
    ubuntu = re.fullmatch(_UBUNTU, rest)
    if re.fullmatch(_UBUNTU_MAINLINE, rest):
        distro = "ubuntu-mainline"
        flavour = rest.rsplit("-", 1)[-1]
    elif ubuntu:
        abi = int(ubuntu["abi"])
        flavour = ubuntu["flavour"]
        distro = "ubuntu" if flavour in _UBUNTU_FLAVOURS else None
    for pattern, name in _DISTRO_HINTS:
        if re.search(pattern, rest):
            distro = name
            break
    return KernelRelease(raw, upstream, rc, abi, flavour, distro)


RELEASE_TOKENS = [
    "6", "17", "0", "12345", "1234567", ".", ".", "-", "-", "rc", "rc5", "rc1234", "0",
    "061609", "061800", "202509251234", "generic", "oem", "generic-64k", "fc43", ".fc43",
    ".fc", "el9", ".el", "+deb13", "+deb", "amd64", "-amd64", "nobara", "cachyos", "arch1",
    "-arch", "mainline", "-mainline", "~", "+", "1016", "19.19", "x", "A", "_", "²", "١", " ",
    "\n", "\t", "\u2028",
]  # fmt: skip


def _outcome(parse, raw: str) -> object:  # type: ignore[no-untyped-def]
    try:
        return parse(raw)
    except ParseError as exc:
        return str(exc)


@settings(max_examples=1000)
@given(_strings(RELEASE_TOKENS))
@example("6.17.0-19-generic")
@example("6.16.9-061609-generic")
@example("6.18.0-061800rc5-202511161234-generic")
@example("6.18.6-200.fc43.x86_64")
@example("6.12.48+deb13-amd64")
@example("6.17.0-rc7-nobara.fc42")
@example("6.12345.6.1234567rc12345-1.2-x\n")
@example("6.1-amd64\n")
@example("6.1.fc١")
@example("6.1.fc²")
def test_kernel_releases_parse_as_the_patterns_said(raw: str) -> None:
    assert _outcome(parse_kernel_release, raw) == _outcome(_regex_kernel_release, raw)


@settings(max_examples=500)
@given(_strings(RELEASE_TOKENS))
@example("-061609-202509251234")
@example("-061609-generic")
@example("-1.2-x")
@example("-amd64\n")
@example("-mainline\n")
@example("x.fc١")
def test_each_release_part_is_its_pattern(rest: str) -> None:
    """The parts one by one, on any string (the release passes them only some)."""
    match = re.fullmatch(_RELEASE, rest)
    numbers = match.group("major", "minor", "patch", "rest") if match else None
    assert kernel._release_numbers(rest) == numbers
    rc = re.search(_RC, rest)
    assert kernel._release_candidate(rest) == (int(rc["rc"]) if rc else None)
    ubuntu = re.fullmatch(_UBUNTU, rest)
    assert kernel._ubuntu_abi(rest) == ((int(ubuntu["abi"]), ubuntu["flavour"]) if ubuntu else None)
    assert kernel._ubuntu_mainline(rest) == bool(re.fullmatch(_UBUNTU_MAINLINE, rest))
    hint = next((name for pattern, name in _DISTRO_HINTS if re.search(pattern, rest)), None)
    assert kernel._distro_hint(rest) == hint


_SIGNATURE = r"([0-9.]+-[0-9]+\.[0-9]+(?:~[0-9A-Za-z.+]+)?)-([a-z][a-z0-9-]*)"


@settings(max_examples=500)
@given(_strings(["6.17.0", "-", "19", ".", "~", "24.04.2", "+", "generic", "64k", "A", "١", "\n"]))
@example("6.17.0-19.19~24.04.2-generic")
@example("6.17.0-19.19-generic-64k")
@example("6.17.0-19.19~-generic")
@example("6.17.0-19.19~a~b-generic")
def test_version_signatures_parse_as_the_pattern_said(version: str) -> None:
    signature = f"Ubuntu {version} 6.17.13"
    field = signature.split()[1]  # what the parser looks at
    match = re.fullmatch(_SIGNATURE, field)
    expected = (match[1], match[2]) if match else f"no version and flavour in {field!r}"
    assert _outcome(parse_version_signature, signature) == expected


def test_the_distro_hints_name_the_distributions() -> None:
    """Not vacuous: the generated strings above reach every hint."""
    assert [parse_kernel_release(raw).distro for raw in [
        "6.17.0-19-generic", "6.16.9-061609-generic", "6.18.6-200.fc43.x86_64",
        "5.14.0-570.el9.x86_64", "6.12.48+deb13-amd64", "6.17.7-201.nobara.fc42.x86_64",
        "6.17.9-2-cachyos", "6.17.9-arch1-1", "6.18.0-1-mainline", "6.14.0-1016-custom",
    ]] == [
        "ubuntu", "ubuntu-mainline", "fedora", "rhel", "debian", "nobara", "cachyos", "arch",
        "arch", None,
    ]  # fmt: skip


@pytest.mark.parametrize("raw", ["6.18.0-rc7", "6.17.0-061700rc3-generic", "6.1rc2", "6.1.2.rc3"])
def test_release_candidates_are_found(raw: str) -> None:
    assert parse_kernel_release(raw).rc == _regex_kernel_release(raw).rc is not None


# --- parse/kernellog.py ----------------------------------------------------------------------

_LOG_PREFIX = r"^\s*(?:<[0-9]{1,3}>)?\[\s*(?P<ts>[0-9]{1,12}\.[0-9]{1,9})\]\s?(?P<text>.*)$"
_MEMORY_READY = r"(?<![0-9])(?P<mib>[0-9]{1,12})M of (?P<kind>VRAM|GTT) memory ready"

LOG_TOKENS = [
    "<6>", "<", ">", "1234", "[", "]", " ", "  ", "\t", "\u2003", "\n", "\x0b", "5", "12.345678",
    "1234567890123", ".", "1234567890", "١", "amdgpu: x", "kernel: ", "M of ", "VRAM", "GTT",
    " memory ready", "512", "9" * 13, "x",
]  # fmt: skip


@settings(max_examples=1500)
@given(_strings(LOG_TOKENS))
@example("[    5.123456] amdgpu: 512M of VRAM memory ready")
@example("<6>[ 12.5]x")
@example("  <4>[1.0]\n")
@example("[1.0]\nx")
@example("[1.0] x\ny")
@example("[1.0]\n\n")
@example("[1.0] \n")
@example("[1.0]\u2003x")
@example("[123456789012.123456789] x")
@example("[1234567890123.1] x")
@example("<1234>[1.0] x")
@example("[\t\u2003 5.5]x")
def test_log_line_prefixes_are_the_pattern(raw: str) -> None:
    match = re.match(_LOG_PREFIX, raw)
    assert kernellog._log_prefix(raw) == (match.group("ts", "text") if match else None)


@settings(max_examples=1500)
@given(_strings(LOG_TOKENS))
@example("amdgpu 0000:c5:00.0: amdgpu: amdgpu: 62816M of GTT memory ready.")
@example("[drm] amdgpu: 512M of VRAM memory ready")
@example("x1234567890123M of GTT memory ready 5M of VRAM memory ready")
@example("M of GTT memory ready 7M of VRAM memory ready")
@example("١5M of GTT memory ready")
def test_memory_ready_lines_are_the_pattern(text: str) -> None:
    match = re.search(_MEMORY_READY, text)
    expected = (int(match["mib"]), match["kind"]) if match else None
    assert kernellog._memory_ready(text) == expected


@settings(max_examples=200)
@given(st.lists(_strings(LOG_TOKENS), min_size=1, max_size=6))
@example(["[    5.123456] amdgpu: 512M of VRAM memory ready", "x", "[1.0]\u2003y"])
def test_many_lines_read_as_few_do(raws: list[str]) -> None:
    """A log of more lines is matched by the compiled pattern, a short one by str methods:
    every line reads the same either way."""
    assert kernellog._LOG_PREFIX == _LOG_PREFIX  # the compiled one is the original
    short = "\n".join(raw.replace("\n", " ") for raw in raws)
    many = kernellog._LOG_PREFIX_COMPILED_FROM // len(raws) + 1
    assert kernellog.parse_kernel_log("\n".join([short] * many)) == (
        kernellog.parse_kernel_log(short) * many
    )


# --- parse/grub.py ---------------------------------------------------------------------------

_ASSIGN = r"(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)="
_LINUX_LINE = r"^\s*linux(?:efi|16)?\s+(\S+)\s*(.*)$"


@settings(max_examples=1000)
@given(
    _strings(["export", " ", "\t", "\n", "GRUB_CMDLINE_LINUX", "A", "_", "9", "=", '"x"', "é"]),
    st.integers(0, 3),
)
@example("export GRUB_X=1", 0)
@example("export \t A=", 0)
@example("exportA=1", 0)
@example("export=1", 0)
@example("export  9=1", 0)
@example("export\nA=1", 0)
def test_assignments_are_the_pattern(text: str, start: int) -> None:
    match = re.compile(_ASSIGN).match(text, start)
    assert grub._assignment(text, start) == ((match[1], match.end()) if match else None)


LINUX_TOKENS = [
    "linux", "linuxefi", "linux16", "linux1", "linuxe", " ", "\t", "\n", "\n", "\r", "\u2003",
    "/vmlinuz", "quiet", "splash", "x", "menuentry 'Linux' {", "gnulinux", "#",
]  # fmt: skip


@settings(max_examples=2000)
@given(_strings(LINUX_TOKENS))
@example("menuentry 'Ubuntu' {\n\tlinux\t/boot/vmlinuz root=UUID=x ro quiet splash\n}")
@example("\tlinuxefi /vmlinuz\n\n  quiet\n")
@example("linux\n/vmlinuz a\r\nb")
@example("xlinux /a b\nlinux16 /c d")
@example("  \n  linux /a")
@example("linux /a b\u2003 c")
@example("linuxefix /a b\nlinux /c d")
def test_linux_lines_are_the_pattern(text: str) -> None:
    match = re.search(_LINUX_LINE, text, re.MULTILINE)
    assert grub._linux_line(text) == (match[2] if match else None)


@given(_strings(["amdgpu", "-", "_", ".", "gttsize", "ttm", "x"]))
def test_grub_key_patterns_are_built_as_re_sub_built_them(key: str) -> None:
    name = re.sub(r"[-_]", "[-_]", key)
    assert grub._pattern(key) == f"{name}|{name}=*"


# --- parse/kargs.py --------------------------------------------------------------------------


@settings(max_examples=500)
@given(
    _strings(["amdgpu", ".", "-", "_", "=", "0x80", ",", ":", "/", "+", "@", "%", " ", '"', "é"])
)
@example("9amdgpu.cwsr_enable")
@example("-x")
@example("a\n")
def test_safe_arguments_are_the_patterns(token: str) -> None:
    assert kargs.safe_key(token) == bool(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z", token))
    assert kargs.safe_value(token) == bool(re.match(r"[A-Za-z0-9._,:/+@%=-]*\Z", token))


# --- parse/rocm.py ---------------------------------------------------------------------------

ROCM_TOKENS = [
    "*******", "*", "\n", "\n", " ", "  ", "\t", "Agent ", "Agent", "1", "12", "١", "x",
    "ROCk module version ", "6.16.6", " is loaded", "Size:", "131072", "(0x", "20000", "1f", ")",
    "KB", "Name:", "\u2003",
]  # fmt: skip


@settings(max_examples=2000)
@given(_strings(ROCM_TOKENS))
@example("*******\nAgent 1\n*******\n  Name: x\n*******\nAgent 2\n*******\n  Name: y\n")
@example("***  \n \n Agent ١٢ \n\n***  \n\n  x")
@example("*******\nAgent 1\n*******")
@example("*******\nAgent 1\n*******  ")
@example("*******\nAgent 1\n*******x")
@example("*\nAgent 1\n*\n*\nAgent 2\n*\n")
@example("x\n*\nAgent 1 \n*")
@example("*\nAgent 1 *")
@example("*\nAgent 1\n *")
def test_agent_headers_split_as_the_pattern_split(text: str) -> None:
    assert rocm._agent_blocks(text) == re.split(
        r"^\*+\s*\n\s*Agent \d+\s*\n\*+\s*$", text, flags=re.M
    )


@settings(max_examples=1000)
@given(_strings(ROCM_TOKENS))
@example("ROCk module version 6.16.6 is loaded")
@example("ROCk module version  is loaded ROCk module version 6.1 is loaded")
@example("ROCk module version 6.16.6\u2003is loaded")
def test_rock_versions_are_the_pattern(text: str) -> None:
    match = re.search(r"ROCk module version (\S+) is loaded", text)
    assert rocm._rock_version(text) == (match[1] if match else None)


_POOL_SIZE = r"^\s*Size:\s*(?P<kib>[0-9]{1,20})\(0x[0-9a-fA-F]+\)\s*KB\s*$"


@settings(max_examples=1000)
@given(_strings(ROCM_TOKENS))
@example("      Size:                    131072(0x20000) KB")
@example("Size: 131072(0x20000)KB \t")
@example("Size: 131072(0x)KB")
@example("Size: 131072(0x2g)KB")
@example("Size: 131072(0x20000) KB x")
@example("Size: 131072(0x20000) KB\n")
@example("Size: ١٣(0x20000) KB")
@example("Size: " + "1" * 21 + "(0x1) KB")
@example("Size: " + "1" * 20 + "(0x1) KB")
def test_pool_sizes_are_the_pattern(line: str) -> None:
    match = re.match(_POOL_SIZE, line)
    assert rocm._pool_size(line) == (int(match["kib"]) if match else None)


# --- every parser above, on white space and line breaks the alphabets lack -------------------

# \s, str.isspace(), str.split() and str.strip() agree on these; "\u200b", "\ufeff" and "\x00"
# are no white space for any of them; splitlines() also breaks at "\r", "\x1c" and "\x85".
ODD_SPACE = ["\u00a0", "\x85", "\x1c", "\x1f", "\r", "\r\n", "\x0c", "\u2029", "\u3000", "\u200b"]
ODD_SPACE += ["\ufeff", "\x00"]
TEMPLATES = [
    "6.17.0{}-19-generic",
    "{}6.17.0-19-generic{}",
    "6.18.0-rc7{}",
    "[{}  5.123456]{}amdgpu: 512M of VRAM memory ready{}",
    "<6>[5.5]{}x",
    "{}linux{}/vmlinuz{}quiet splash{}\nlinux /b c",
    "*******{}\n{}Agent 1{}\n*******{}\n  Name: x",
    "      Size:{}131072(0x20000){}KB{}",
    "ROCk module version 6.16{}6 is loaded",
    "{}v7.2{}.1",
    "export{}GRUB_CMDLINE_LINUX=x",
]


@pytest.mark.parametrize("space", ODD_SPACE, ids=ascii)
@pytest.mark.parametrize("template", TEMPLATES)
def test_odd_white_space_reads_as_the_patterns_read_it(template: str, space: str) -> None:
    from hostcheck.checks.kinds._util import release_tuple

    line = template.replace("{}", space)

    def old_release_tuple(raw: str) -> object:
        match = re.match(r"\s*v?(\d+(?:\.\d+)*)", raw)
        return tuple(int(part) for part in match[1].split(".")) if match else "not a version"

    def new_release_tuple(raw: str) -> object:
        try:
            return release_tuple(raw)
        except ValueError:
            return "not a version"

    match = re.match(_LOG_PREFIX, line)
    assert kernellog._log_prefix(line) == (match.group("ts", "text") if match else None)
    assert _outcome(parse_kernel_release, line) == _outcome(_regex_kernel_release, line)
    linux = re.search(_LINUX_LINE, line, re.MULTILINE)
    assert grub._linux_line(line) == (linux[2] if linux else None)
    assign = re.compile(_ASSIGN).match(line)
    assert grub._assignment(line, 0) == ((assign[1], assign.end()) if assign else None)
    assert rocm._agent_blocks(line) == re.split(
        r"^\*+\s*\n\s*Agent \d+\s*\n\*+\s*$", line, flags=re.M
    )
    pool = re.match(_POOL_SIZE, line)
    assert rocm._pool_size(line) == (int(pool["kib"]) if pool else None)
    rock = re.search(r"ROCk module version (\S+) is loaded", line)
    assert rocm._rock_version(line) == (rock[1] if rock else None)
    assert new_release_tuple(line) == old_release_tuple(line)
