"""The table of check kinds: name in rule data -> Python function."""

from __future__ import annotations

from collections.abc import Callable

from hostcheck.checks._util import CheckFunc

CHECK_KINDS: dict[str, CheckFunc] = {}


def check_kind(name: str) -> Callable[[CheckFunc], CheckFunc]:
    def register(func: CheckFunc) -> CheckFunc:
        if name in CHECK_KINDS:
            raise RuntimeError(f"check kind {name} registered twice")
        CHECK_KINDS[name] = func
        return func

    return register
