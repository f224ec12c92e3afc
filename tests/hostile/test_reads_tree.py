"""A host's files answer the same whatever order a scan asks in: RootFiles caches what it has
resolved (directories, those found missing) and reuses what lstat() said while resolving a
path, and none of that may change an answer, let a read leave the root, or make something
missing look present. Each answer is compared with a path resolved from scratch
(``resolve_under``, no cache) and asked of the file system directly."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostcheck.host.files import RootFiles
from hostcheck.host.paths import resolve_under
from hostcheck.host.reads import MAX_READ_BYTES, BoundedReads, unavailable_from_oserror
from hostcheck.host.records import node_of
from hostcheck.readings import Unavailable, Value

SECRET = "outside-the-root-5b1e"
NAMES = ("a", "b", "c")
RELATIVE = st.lists(st.sampled_from((*NAMES, "..", ".")), min_size=1, max_size=3).map("/".join)
ENTRY = st.one_of(
    st.just(("dir", "")),
    st.tuples(st.just("file"), st.sampled_from(("x", "y\n"))),
    st.tuples(st.just("link"), RELATIVE),
    st.tuples(st.just("link"), RELATIVE.map(lambda rel: "/" + rel)),  # the host's own path
    st.tuples(st.just("link"), st.just("OUTSIDE")),  # the real filesystem, outside the root
)
TREE = st.dictionaries(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(tuple), ENTRY, max_size=12
)
QUERY = st.lists(st.sampled_from((*NAMES, "..", ".", "")), min_size=0, max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)


def _build(base: Path, tree: dict[tuple[str, ...], tuple[str, str]]) -> Path:
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    for name in NAMES:
        (outside / name).write_text(SECRET)
    for parts, (kind, data) in sorted(tree.items()):
        place = root.joinpath(*parts)
        if not place.parent.is_dir() or place.parent.is_symlink() or os.path.lexists(place):
            continue  # below a file or link, or made already
        if kind == "dir":
            place.mkdir()
        elif kind == "file":
            place.write_text(data)
        else:
            os.symlink(str(outside) if data == "OUTSIDE" else data, place)
    return root


def _fresh(root: str, host_path: str) -> tuple[str, object]:
    """What each question answers for a path resolved without any cache (the reference)."""
    try:
        real = resolve_under(root, host_path, host_path)
    except OSError as exc:
        return "loop", unavailable_from_oserror(host_path, exc)
    read = BoundedReads(2.0, False).read(host_path, real, MAX_READ_BYTES)
    try:
        listed: object = sorted(os.listdir(real))
    except OSError as exc:
        listed = unavailable_from_oserror(host_path, exc).reason
    try:
        mode: object = node_of(os.lstat(real), host_path).value
    except OSError as exc:
        mode = unavailable_from_oserror(host_path, exc).reason
    return real, (
        os.path.lexists(real),
        os.path.isdir(real),
        read if isinstance(read, bytes) else read.reason,
        listed,
        mode,
    )


def _asked(files: RootFiles, host_path: str) -> object:
    text = files.read_text(host_path)
    listed = files.listdir(host_path)
    node = files.stat(host_path)
    return (
        files.exists(host_path),
        files.is_dir(host_path),
        text.value.encode() if isinstance(text, Value) else text.reason,
        listed.value if isinstance(listed, Value) else listed.reason,
        node.value if isinstance(node, Value) else node.reason,
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=TREE, queries=st.lists(QUERY, min_size=1, max_size=12))
def test_every_answer_is_that_of_a_path_resolved_afresh(
    tmp_path_factory, tree: dict[tuple[str, ...], tuple[str, str]], queries: list[str]
) -> None:
    root = str(_build(tmp_path_factory.mktemp("tree"), tree))
    files = RootFiles(root)
    for host_path in queries + queries[::-1]:  # each asked again once the others are cached
        real, expected = _fresh(root, host_path)
        if real == "loop":
            assert isinstance(files.read_text(host_path), Unavailable)
            assert not files.exists(host_path)
            continue
        assert real == root or real.startswith(root + "/")
        assert files.path(host_path) == real
        answers = _asked(files, host_path)
        assert answers == expected, host_path
        assert SECRET.encode() not in repr(answers).encode()
