"""The rules' version helpers read versions by str methods, not regexes (a scan compiles no
pattern for them): each returns what the pattern it replaced returned. The patterns are kept
here and generated strings must get the same answer from both."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hostcheck.checks.kinds._util import floor_rc, prerelease_date, release_tuple

ALPHABET = "0123456789²١v.-+arcdevx \n\t\u2003"


def _strings(tokens: list[str]) -> st.SearchStrategy[str]:
    built = st.lists(st.sampled_from(tokens), max_size=8).map("".join)
    return st.one_of(st.text(ALPHABET, max_size=16), built)


VERSION_TOKENS = [
    "7", "10", "0", ".", ".", "v", " ", "\u2003", "a", "rc", "dev", "20251015", "20260218", "2025101",
    "-", "-rc", "6", "+rocm", "²", "١٢", "\n", "x",
]  # fmt: skip


def _release(text: str) -> tuple[int, ...] | str:
    try:
        return release_tuple(text)
    except ValueError as exc:
        return str(exc)


@settings(max_examples=1000)
@given(_strings(VERSION_TOKENS))
@example("7.10.0a20251015")
@example(" v6.4.1-103")
@example("٧.١٠")
@example("7.²")
@example("7..1")
@example("v")
@example("\u2003v7.")
def test_release_numbers_are_the_pattern(text: str) -> None:
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    expected = (
        tuple(int(part) for part in match[1].split(".")) if match else f"not a version: {text!r}"
    )
    assert _release(text) == expected


@settings(max_examples=1000)
@given(_strings(VERSION_TOKENS))
@example("7.12.0a20260218")
@example("7.12.0rc20260218")
@example("7.12.0.dev20260218")
@example("da20260218")
@example("a2026021x rc20260218")
@example("a20251015 rc20260218")
@example("a٢٠٢٦٠٢١٨")
def test_nightly_dates_are_the_pattern(text: str) -> None:
    match = re.search(r"(?:a|rc|dev)([0-9]{8})", text)
    assert prerelease_date(text) == (match[1] if match else None)


@settings(max_examples=1000)
@given(_strings(VERSION_TOKENS))
@example("6.18.0-rc6")
@example("6.18.0-rc6\n")
@example("6.18.0-rc6\n\n")
@example("6.18.0-rc6-rc7")
@example("6.18.0-rc٦")
@example("6.18.0-rc")
def test_floor_release_candidates_are_the_pattern(text: str) -> None:
    match = re.search(r"-rc([0-9]+)$", text)
    assert floor_rc(text) == (int(match[1]) if match else None)
