"""The journal read for ROCm runtime errors on a live host: bounded, newest lines kept."""

from __future__ import annotations

import os
from pathlib import Path

from hostcheck.host.core import Host
from hostcheck.probes.units import MAX_HSA_LINES, hsa_errors, start_hsa_errors
from hostcheck.readings import Value

LINE = (
    "2026-12-07T03:10:11+0000 halo ollama[2211]: Memory access fault by GPU node-1 (Agent "
    "handle: 0x1b376c50) on address 0x7f762a667000. Reason: Page not present or supervisor "
    "privilege. {n}"
)


def test_a_crash_looping_service_does_not_fill_memory(tmp_path: Path, monkeypatch) -> None:
    """A service restarting for days logs the error thousands of times: the probe keeps the
    newest lines, in bounded memory, and says so by the newest one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = 200_000  # ~40 MB of journal output
    script = bin_dir / "journalctl"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import sys\n"
        f"line = {LINE!r}\n"
        f"sys.stdout.write(''.join(line.format(n=i) + '\\n' for i in range({count})))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    started = start_hsa_errors(Host("/"))
    done = started.result()
    assert isinstance(done, Value)
    assert len(done.value.stdout) <= 256 * 1024
    lines = hsa_errors(started)
    assert isinstance(lines, Value)
    assert len(lines.value) == MAX_HSA_LINES
    assert lines.value[-1].endswith(f" {count - 1}")
