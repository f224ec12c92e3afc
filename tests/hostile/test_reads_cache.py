"""What RootFiles remembers between lookups (resolved directories, directories found missing)
must never turn a path it may not search into a missing one: "permission denied" tells the
operator to run as root, "missing" that something is not installed."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from hostcheck.host.files import RootFiles
from hostcheck.readings import Unavailable

NOBODY = 65534
QUERIES = [
    "/etc/os-release",  # in a directory nobody may search
    "/etc/none",  # missing there: nobody cannot tell, so it is a permission error too
    "/etc/sub/file",
    "/etc/sub/none/deeper",  # below a directory lstat() was refused for
    "/link/file",  # through a link into the closed directory
    "/link/none/deeper",
    "/open/file",  # a readable one
    "/open/none",  # a missing one
    "/open/none/deeper",  # below it (the cached missing directory)
]


def _answers_as_nobody(root: Path) -> list[list[object]]:
    """Each query asked twice through one RootFiles, in a child process running as nobody."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            files = RootFiles(str(root))
            rows = []
            for path in QUERIES + QUERIES:
                text = files.read_text(path)
                listed = files.listdir(path)
                rows.append(
                    [
                        path,
                        text.reason.value if isinstance(text, Unavailable) else text.value,
                        listed.reason.value if isinstance(listed, Unavailable) else listed.value,
                        files.exists(path),
                    ]
                )
            os.write(write_end, json.dumps(rows).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    rows: list[list[object]] = json.loads(data)
    return rows


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_a_directory_nobody_may_search_is_a_permission_error_never_a_cached_missing() -> None:
    base = Path(tempfile.mkdtemp(prefix="hostcheck-perm-"))  # pytest's tmp_path is root's only
    try:
        os.chmod(base, 0o755)
        root = base / "root"
        (root / "etc/sub").mkdir(parents=True)
        (root / "etc/os-release").write_text("ID=x\n")
        (root / "etc/sub/file").write_text("x\n")
        (root / "open").mkdir()
        (root / "open/file").write_text("readable\n")
        (root / "link").symlink_to("/etc/sub")
        os.chmod(root, 0o755)
        os.chmod(root / "etc", 0o700)  # root's only
        rows = _answers_as_nobody(root)
    finally:
        shutil.rmtree(base)
    assert rows[: len(QUERIES)] == rows[len(QUERIES) :]  # asked again: the same answers
    by_path = {row[0]: row[1:] for row in rows}
    for path in QUERIES[:6]:
        assert by_path[path] == ["permission", "permission", False], path
    assert by_path["/open/file"] == ["readable\n", "missing", True]  # listing a file: ENOTDIR
    assert by_path["/open/none"] == ["missing", "missing", False]
    assert by_path["/open/none/deeper"] == ["missing", "missing", False]
