"""Inputs of megabytes cost seconds, not minutes (issue 18, items 6-8): a 4 MiB GRUB file of
``X=1;``, a 4 MiB word on the kernel command line, 2,000 waivers. Each runs in a fresh
interpreter with a time bound, so a regression fails instead of hanging the suite."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import run_subprocess

BOUND_S = 60  # each took minutes before; seconds now, even on a loaded machine


def _verdicts(done) -> dict[str, str]:
    return {f["rule"]: f["status"] for f in done.json()["findings"]}


def _scan(root: Path, *extra: str):
    started = time.monotonic()
    done = run_subprocess("scan", "--root", str(root), "--format", "json", *extra, timeout=BOUND_S)
    return done, time.monotonic() - started


def test_grub_file_of_four_mebibytes_of_statements(fixture_copy) -> None:
    plain = fixture_copy("stock-128g")
    root = fixture_copy("stock-128g")
    grub = root / "etc/default/grub"
    original = grub.read_text()
    filler = "X=1;" * ((4 * 1024 * 1024 - len(original) - 16) // 4)
    grub.write_text(filler + "\n" + original)
    assert grub.stat().st_size <= 4 * 1024 * 1024
    done, _ = _scan(root)
    assert done.code in (0, 1), done.err
    # the same verdicts as the untouched copy: the file was read to its end
    assert _verdicts(done) == _verdicts(_scan(plain)[0])


def test_grub_file_of_200000_lines(fixture_copy) -> None:
    from hostcheck.parse import grub

    text = "X=1\n" * 200_000 + 'GRUB_CMDLINE_LINUX="amd_iommu=off"\n'
    started = time.monotonic()
    assert grub.evaluate([("/etc/default/grub", text)])["GRUB_CMDLINE_LINUX"] == "amd_iommu=off"
    assert time.monotonic() - started < 20


def test_four_mebibyte_word_on_the_command_line(fixture_copy) -> None:
    root = fixture_copy("stock-128g")
    (root / ".hostcheck/dmesg.txt").unlink()  # the guess is offered when the log cannot confirm
    cmdline = root / "proc/cmdline"
    word = "x" * (3 * 1024 * 1024)
    cmdline.write_text(cmdline.read_text().strip() + f" amdgpu.{word}=1 {'y' * 900_000}=2\n")
    done, _ = _scan(root)
    assert done.code in (0, 1), done.err
    finding = done.finding("kernel.params")
    assert "amdgpu has no parameter" in finding["message"]
    assert len(finding["message"]) < 2000  # quoted, cut, with the length said
    assert "characters)" in finding["message"]
    for item in finding["evidence"]:
        assert len(item["value"]) < 5000


def test_two_thousand_waivers_are_refused_quickly(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "".join(
            f'[[waiver]]\nrule = "perf.nosuch{i}"\nreason = "r"\nowner = "o"\n'
            "expires = 2099-01-01\n\n"
            for i in range(2000)
        )
    )
    started = time.monotonic()
    done = run_subprocess(
        "scan", "--fixture", "stock-128g", "--config", str(config), timeout=BOUND_S
    )
    assert time.monotonic() - started < 20
    assert done.code == 2
    assert "perf.nosuch0" in done.err
    assert f"{config}:1:" in done.err  # the line of the waiver is still named
