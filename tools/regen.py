"""Regenerate what the catalog decides for every bundled fixture, and show the diff.

    python tools/regen.py            # show what would change (exit 1 if anything would)
    python tools/regen.py --write    # write it: expected.json verdicts and the golden files

What it regenerates:
- each fixture's ``.hostcheck/expected.json``: the exit status and every rule's status (the
  hand-written message/evidence/remediation/reference fragments are kept; a fragment that no
  longer appears is listed so a person can fix or drop it);
- the MachineConfig golden files under ``tests/data/machineconfig/`` (``hostcheck fix
  --fixture NAME --emit machineconfig``);
- the golden reports and CLI texts under ``tests/data/golden/`` (every format of every
  fixture, every --help, the messages of common mistakes: tests/render/test_golden.py);
- with ``--tui`` as well, the TUI's SVG snapshots (``tests/tui/__snapshots__``; the snapshot tests
  run with ``--snapshot-update``: slow, and only needed when a rule shows in those screens).
Review the printed diff before committing: every verdict change needs a CHANGELOG line.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hostcheck.cli.main import main  # noqa: E402

FIXTURES = REPO / "fixtures"
GOLDEN = REPO / "tests" / "data" / "machineconfig"


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _missing_fragments(want: dict, report: dict) -> list[str]:
    by_rule = {f["rule"]: f for f in report["findings"]}
    missing = []
    for rule, fragment in want.get("message", {}).items():
        if fragment not in by_rule.get(rule, {}).get("message", ""):
            missing.append(f"message {rule}: {fragment!r}")
    for rule, reference in want.get("references", {}).items():
        if reference not in by_rule.get(rule, {}).get("references", []):
            missing.append(f"reference {rule}: {reference!r}")
    return missing


def expected_json(name: str) -> tuple[str, str, list[str]]:
    """(old text, new text, fragments that no longer match) of a fixture's expected.json."""
    path = FIXTURES / name / ".hostcheck" / "expected.json"
    old = path.read_text()
    want = json.loads(old)
    code, out, err = _run("scan", "--fixture", name, "--format", "json", *want["args"])
    if code not in (0, 1):
        raise SystemExit(f"{name}: scan exited {code}: {err.strip()}")
    report = json.loads(out)
    new = dict(want)
    new["exit"] = code
    got = {f["rule"]: f["status"] for f in report["findings"]}
    # Keep the file's order (small diffs). A rule the file does not list is added only when
    # it warns, fails or errors: unlisted rules must pass or not apply (tests/checks/test_fixtures.py),
    # so a new rule that passes everywhere touches no expected.json.
    order = [rule for rule in want["status"] if rule in got] + [
        r for r in got if r not in want["status"] and got[r] not in ("pass", "skip")
    ]
    new["status"] = {rule: got[rule] for rule in order}
    return (
        old,
        json.dumps(new, indent=2, ensure_ascii=False) + "\n",
        _missing_fragments(want, report),
    )


def golden(name: str) -> dict[Path, str]:
    import tempfile

    from tests.conftest import PICTURED_RULES, copy_rules  # the goldens' fixed set of rules

    with tempfile.TemporaryDirectory() as scratch:
        rules = copy_rules(PICTURED_RULES, Path(scratch))
        code, out, err = _run("fix", "--fixture", name, "--emit", "machineconfig", "--rules", rules)
    if code != 0:
        return {GOLDEN / f"{name}.error.txt": err}
    return {GOLDEN / f"{name}.yaml": out, GOLDEN / f"{name}.notes.txt": err}


def _git(*args: str) -> list[str]:
    """The output lines of a git command run in the checkout."""
    import subprocess

    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.splitlines()


def _tui_snapshots(write: bool) -> int:
    """Run the TUI snapshot tests (updating them with --write); the changed SVGs."""
    import subprocess

    args = [sys.executable, "-m", "pytest", "-q", "tests/tui", "-k", "snapshot"]
    subprocess.run([*args, *(["--snapshot-update"] if write else [])], cwd=REPO, check=False)
    changed = [line for line in _git("status", "--porcelain", "tests/tui/__snapshots__") if line]
    for line in changed:
        print(f"TUI snapshot changed: {line[3:]}")
    return len(changed)


def _report_goldens(write: bool) -> int:
    """The golden reports and CLI texts (tests/data/golden/, tests/render/test_golden.py): the
    test says which changed; with --write they are regenerated and their diff printed."""
    import os
    import subprocess

    env = {**os.environ, **({"HOSTCHECK_REGEN_GOLDEN": "1"} if write else {})}
    args = [sys.executable, "-m", "pytest", "-q", "tests/render/test_golden.py"]
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if write:
        diff = _git("diff", "--", "tests/data/golden")
        sys.stdout.writelines(f"{line}\n" for line in diff)
        return len({line[6:] for line in diff if line.startswith("+++ b/")})
    changed = sorted(set(re.findall(r"AssertionError: (\S+) changed", done.stdout)))
    for name in changed:
        print(f"golden file would change: tests/data/golden/{name} (see --write's diff)")
    if done.returncode not in (0, 1):
        print(done.stdout[-2000:] + done.stderr[-2000:], file=sys.stderr)
    return len(changed)


def main_(argv: list[str]) -> int:
    write = "--write" in argv
    names = sorted(
        p.name for p in FIXTURES.iterdir() if (p / ".hostcheck" / "expected.json").is_file()
    )
    changed = 0
    for name in names:
        old, new, missing = expected_json(name)
        files = {FIXTURES / name / ".hostcheck" / "expected.json": (old, new)}
        for path, text in golden(name).items():
            files[path] = (path.read_text() if path.exists() else "", text)
        for path, (before, after) in files.items():
            if before == after:
                continue
            changed += 1
            rel = path.relative_to(REPO)
            sys.stdout.writelines(
                difflib.unified_diff(
                    before.splitlines(True), after.splitlines(True), f"a/{rel}", f"b/{rel}"
                )
            )
            if write:
                path.write_text(after)
        for line in missing:
            print(f"{name}: fragment no longer found, fix by hand: {line}")
    changed += _report_goldens(write)
    if "--tui" in argv:
        changed += _tui_snapshots(write)
    print(f"{changed} file(s) {'written' if write else 'would change'}", file=sys.stderr)
    return 1 if changed and not write else 0


if __name__ == "__main__":
    raise SystemExit(main_(sys.argv[1:]))
