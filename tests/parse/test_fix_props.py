"""Property tests: kernel-argument set operations, and the GRUB drop-in against a real shell.

The static GRUB reader must agree with what /bin/sh makes of the same files (that is what
grub-mkconfig does with them); this is checked differentially on generated configurations.
"""

from __future__ import annotations

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from hostcheck.parse import grub, kargs

KEYS = ["ttm.pages_limit", "ttm.page-pool-size", "amdgpu.gttsize", "iommu", "quiet", "a.b_c"]
key = st.sampled_from(KEYS)
value = st.text("abc0123456789,.:=-", min_size=0, max_size=6)
arg = st.one_of(key, st.builds(lambda k, v: f"{k}={v}", key, value))
args = st.lists(arg, max_size=8)


@given(args, st.lists(arg, max_size=4), st.lists(key, max_size=3))
def test_edit_satisfies_and_is_idempotent(
    line: list[str], add: list[str], remove: list[str]
) -> None:
    remove = [k for k in remove if kargs.key_of(k) not in {kargs.key_of(a) for a in add}]
    once = kargs.edit(line, add, remove)
    assert kargs.edit(once, add, remove) == once
    assert kargs.satisfied(once, kargs.edit([], add, []), remove)
    assert kargs.missing(once, kargs.edit([], add, []), remove) == []
    # Arguments the edit does not name keep their order.
    named = {kargs.key_of(a) for a in add} | {kargs.key_of(k) for k in remove}
    assert [a for a in once if kargs.key_of(a) not in named] == [
        a for a in line if kargs.key_of(a) not in named
    ]
    # Each added key appears exactly once.
    for a in add:
        assert sum(1 for x in once if kargs.key_of(x) == kargs.key_of(a)) == 1


def test_dash_and_underscore_are_the_same_key() -> None:
    assert kargs.edit(["ttm.page-pool-size=1", "quiet"], ["ttm.page_pool_size=2"], []) == [
        "quiet",
        "ttm.page_pool_size=2",
    ]
    assert kargs.edit(["iommu=pt", "amd_iommu=on"], [], ["iommu"]) == ["amd_iommu=on"]


def test_unsafe_arguments_are_refused() -> None:
    for bad in ['a="x y"', "a=$(reboot)", "a;b", "a=`x`", ""]:
        try:
            kargs.check_safe(bad)
        except kargs.KargError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def _shell(files: list[tuple[str, str]]) -> list[str]:
    """What /bin/sh makes of the files, sourced in order as grub-mkconfig does."""
    script = "".join(f". '{path}'\n" for path, _ in files)
    script += 'printf "%s\\n%s\\n" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT"\n'
    out = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    linux, default = out.split("\n")[:2]
    return linux.split() + default.split()


def _quoted(words: list[str], style: int) -> str:
    text = " ".join(words)
    return [f'"{text}"', f"'{text}'", f'"${{GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }}{text}"'][
        style
    ]


@settings(max_examples=60, deadline=None)
@given(
    args,
    args,
    st.integers(0, 2),
    st.booleans(),
    st.lists(arg, max_size=3),
    st.lists(key, max_size=2),
)
def test_static_reader_agrees_with_sh(
    tmp_path_factory,
    linux: list[str],
    default: list[str],
    style: int,
    with_user_dropin: bool,
    add: list[str],
    remove: list[str],
) -> None:
    tmp = tmp_path_factory.mktemp("grub")
    main = tmp / "grub"
    main.write_text(
        "# comment\nGRUB_DEFAULT=0\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
        f"GRUB_CMDLINE_LINUX_DEFAULT={_quoted(default, 0)}\n"
        f"GRUB_CMDLINE_LINUX={_quoted(linux, style if style != 2 else 0)}\n"
    )
    files = [(str(main), main.read_text())]
    if with_user_dropin:
        user = tmp / "50-user.cfg"
        user.write_text(f"GRUB_CMDLINE_LINUX={_quoted(['quiet', 'x.y=1'], 2)}\n")
        files.append((str(user), user.read_text()))
    ours = tmp / "99-hostcheck.cfg"
    add = kargs.edit([], add, [])
    remove = [k for k in remove if kargs.key_of(k) not in {kargs.key_of(a) for a in add}]
    ours.write_text(grub.render_dropin(add, remove))
    files.append((str(ours), ours.read_text()))
    assert grub.staged_args(files) == _shell(files)
    assert kargs.satisfied(grub.staged_args(files), add, remove)


def test_unfollowable_configuration_is_reported_not_guessed() -> None:
    files = [("/etc/default/grub", 'GRUB_CMDLINE_LINUX="$(cat /proc/cmdline)"\n')]
    try:
        grub.staged_args(files)
    except grub.GrubEvalError as exc:
        assert "/etc/default/grub, line 1" in str(exc)
    else:
        raise AssertionError("expected GrubEvalError")
    files = [("/etc/default/grub", 'if true; then GRUB_CMDLINE_LINUX="a"; fi\n')]
    try:
        grub.staged_args(files)
    except grub.GrubEvalError as exc:
        assert "cannot follow" in str(exc)
    else:
        raise AssertionError("expected GrubEvalError")


def test_assignments_inside_blocks_and_prefixed_ones_are_not_guessed() -> None:
    for text in (
        'if false; then\n  GRUB_CMDLINE_LINUX="x=1"\nfi\n',
        'case "$x" in\n  a) GRUB_CMDLINE_LINUX_DEFAULT="y" ;;\nesac\n',
        'FOO=1 GRUB_CMDLINE_LINUX="a"\n',
    ):
        try:
            grub.staged_args([("/etc/default/grub", text)])
        except grub.GrubEvalError:
            continue
        raise AssertionError(f"guessed through {text!r}")
