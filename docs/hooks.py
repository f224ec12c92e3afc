"""mkdocs hook: the reference pages that are generated, not written.

- ``rules/index.md`` and one page per rule, from ``rules/*.toml`` (the catalog as hostcheck
  loads it, so a page cannot disagree with ``hostcheck explain``);
- ``cli.md``: every subcommand's ``--help``, from the argument parser itself.

Nothing is written into ``docs/``: the pages exist only in the build. No network is needed.
Registered in ``mkdocs.yml`` (``hooks:``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mkdocs.structure.files import File, Files  # noqa: E402

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def _reference(text: str) -> str:
    from hostcheck.tui.review import reference_url

    if text.startswith(("https://", "http://")):
        return f"<{text}>"
    url = reference_url(text)
    return f"[{text}]({url})" if url else text


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(f"`{item}`" for item in value) if value else "—"
    if isinstance(value, dict):
        return "; ".join(f"`{key}` = `{val}`" for key, val in value.items())
    return f"`{value}`"


def rule_page(rule: Any) -> str:
    lines = [
        f"# `{rule.id}` — {rule.title}",
        "",
        f"**Severity** {rule.severity.value} · **applies to** {rule.applies_to} · "
        f"**check kind** `{rule.check}` · **reviewed** {rule.reviewed or 'not recorded'}",
        "",
        "See it yourself:",
        "",
        "```sh",
        rule.command,
        "```",
        "",
        "## Why",
        "",
        rule.rationale.strip(),
        "",
    ]
    if rule.remediation:
        remedy = rule.remediation
        lines += ["## Fix", "", f"{remedy.get('summary', '')} (kind: `{remedy['kind']}`)", ""]
        if remedy["kind"] != "manual":
            lines += [
                "`hostcheck fix --only " + rule.id + "` shows the change for a host; "
                "`sudo hostcheck fix --only " + rule.id + " --apply` makes it.",
                "",
            ]
    if rule.params:
        lines += ["## Parameters", "", "| parameter | value |", "|---|---|"]
        for key, value in rule.params.items():
            shown = _value(value).replace("|", "\\|")
            lines.append(f"| `{key}` | {shown} |")
        lines.append("")
    if rule.references:
        lines += ["## References", ""]
        lines += [f"- {_reference(ref)}" for ref in rule.references]
        lines.append("")
    lines += [
        f"Defined in `rules/{os.path.basename(rule.source_file)}`; "
        f"`hostcheck explain {rule.id}` prints the same.",
        "",
    ]
    return "\n".join(lines)


def rules_index(rules: list[Any]) -> str:
    lines = [
        "# Rules",
        "",
        "Every rule of the bundled catalog, generated from `rules/*.toml`. Rule ids are a "
        "public contract: `--select`, `--only`, `--exclude`, waivers and alerts use them.",
        "",
        "| rule | severity | title |",
        "|---|---|---|",
    ]
    for rule in sorted(rules, key=lambda r: (SEVERITY_ORDER.index(r.severity.value), r.id)):
        lines.append(f"| [`{rule.id}`]({rule.id}.md) | {rule.severity.value} | {rule.title} |")
    lines.append("")
    return "\n".join(lines)


def cli_page() -> str:
    os.environ["COLUMNS"] = "100"
    from hostcheck.cli.main import build_parser

    parser = build_parser()
    lines = [
        "# Command line reference",
        "",
        "Every subcommand and option, as `hostcheck COMMAND --help` prints it (generated from "
        "the argument parser).",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
        "",
    ]
    subparsers = next(
        action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction"
    )
    for name, sub in subparsers.choices.items():
        lines += [f"## `hostcheck {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    from hostcheck.checks.catalog import load_catalog

    rules, _profiles = load_catalog(str(REPO / "rules"))
    generated = {"rules/index.md": rules_index(rules), "cli.md": cli_page()}
    for rule in rules:
        generated[f"rules/{rule.id}.md"] = rule_page(rule)
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files
