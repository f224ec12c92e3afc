"""The table of check kinds: name in rule data -> Python function."""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hostcheck.checks.kinds._util import CheckFunc

CHECK_KINDS: dict[str, CheckFunc] = {}
# The parameters each kind needs from a rule's [check] table, checked when rules load.
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {}
# The {fields} each kind fills into its rule's remediation templates.
FIX_FIELDS: dict[str, tuple[str, ...]] = {}


def check_kind(
    name: str, requires: tuple[str, ...] = (), provides: tuple[str, ...] = ()
) -> Callable[[CheckFunc], CheckFunc]:
    def register(func: CheckFunc) -> CheckFunc:
        if name in CHECK_KINDS:
            raise RuntimeError(f"check kind {name} registered twice")
        CHECK_KINDS[name] = func
        REQUIRED_PARAMS[name] = requires
        FIX_FIELDS[name] = provides
        return func

    return register
