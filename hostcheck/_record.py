"""``NamedTuple`` for hostcheck's record classes: what ``typing.NamedTuple`` builds, cheaper.

typing.NamedTuple type-checks every field annotation when the class is created (with
``from __future__ import annotations`` it compiles each one as a ForwardRef), which costs
every run ~0.1 ms per class, ~5 ms for hostcheck's classes, to check what mypy checks
anyway. This one builds the same ``collections.namedtuple`` class (fields, defaults, methods
and docstring of the class body, ``__annotations__`` as written) without that step. mypy
sees typing.NamedTuple. A generic record (``class Value(NamedTuple, Generic[T])``) is left
to typing.

    from hostcheck._record import NamedTuple
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    # As typing's NamedTupleMeta: what a class body may not set, and what it sets anyway.
    _PROHIBITED = frozenset(
        {
            "__new__",
            "__init__",
            "__slots__",
            "__getnewargs__",
            "_fields",
            "_field_defaults",
            "_make",
            "_replace",
            "_asdict",
            "_source",
        }
    )
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    class _RecordMeta(type):
        def __new__(cls, typename: str, bases: tuple[Any, ...], ns: dict[str, Any]) -> Any:
            if len(bases) != 1 or bases[0] is not _Record:
                raise TypeError("a record class has NamedTuple as its only base")
            types = ns.get("__annotations__", {})
            default_names = []
            for field_name in types:
                if field_name in ns:
                    default_names.append(field_name)
                elif default_names:
                    raise TypeError(
                        f"Non-default namedtuple field {field_name} cannot follow default "
                        f"field{'s' if len(default_names) > 1 else ''} {', '.join(default_names)}"
                    )
            record = collections.namedtuple(
                typename,
                list(types),
                defaults=[ns[name] for name in default_names],
                module=ns["__module__"],
            )
            record.__annotations__ = dict(types)
            for key in ns:
                if key in _PROHIBITED:
                    raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
                if key not in _SPECIAL and key not in record._fields:
                    setattr(record, key, ns[key])
            return record

    _Record = type.__new__(_RecordMeta, "NamedTuple", (), {})

    def NamedTuple(typename: str, fields: Any = None, /, **kwargs: Any) -> Any:
        """The functional form, as typing's (``NamedTuple("Name", [("a", int)])``)."""
        import typing

        return typing.NamedTuple(typename, fields, **kwargs)

    NamedTuple.__mro_entries__ = lambda bases: (_Record,)  # type: ignore[attr-defined]
