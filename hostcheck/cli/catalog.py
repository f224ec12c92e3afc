"""`hostcheck rules`, `explain` and `fixtures`: what the catalog and the bundled hosts hold."""

from __future__ import annotations

import os
from typing import Any

from hostcheck.cli import common
from hostcheck.cli.common import UsageError
from hostcheck.cli.options import Options


def add_parser(commands: Any, name: str, help_text: str) -> None:
    if name == "rules":
        rules = commands.add_parser(name, help=help_text)
        common.add_config_option(rules)
        rules.add_argument(
            "--rules", metavar="DIR", help="a rule directory instead of the bundled one"
        )
        rules.add_argument(
            "--profiles", action="store_true", help="list the workload profiles instead"
        )
    elif name == "explain":
        explain = commands.add_parser(name, help=help_text)
        explain.add_argument("rule", metavar="RULE", help="a rule id, e.g. amdgpu.cwsr")
        explain.add_argument(
            "--rules", metavar="DIR", help="a rule directory instead of the bundled one"
        )
        common.add_config_option(explain)
    else:
        commands.add_parser(name, help=help_text)


def run(args: Options) -> int:
    handler = {"rules": cmd_rules, "explain": cmd_explain}.get(args.command, cmd_fixtures)
    return handler(args)


def cmd_rules(args: Options) -> int:
    common.apply_config(args)
    rules, profiles = common.load_catalog(args)
    if args.profiles:
        for profile in profiles.values():
            mark = " (default)" if profile.default else ""
            print(f"{profile.name:<10} needs {profile.required_gib:>5g} GiB  {profile.title}{mark}")
        return 0
    for rule in rules:
        print(f"{rule.id:<28} {rule.severity.value:<8} {rule.reviewed}  {rule.title}")
    return 0


def cmd_explain(args: Options) -> int:
    common.apply_config(args)
    rules, _ = common.load_catalog(args)
    rule = next((r for r in rules if r.id == args.rule), None)
    if rule is None:
        from hostcheck.checks.catalog import unknown_ids

        raise UsageError(
            f"unknown rule id {unknown_ids([args.rule], (r.id for r in rules), quote=True)} "
            "(see `hostcheck rules`)"
        )
    print(f"{rule.id} — {rule.title}")
    print(f"severity: {rule.severity.value}   applies to: {rule.applies_to}   check: {rule.check}")
    if rule.needs:
        print(
            "judged where ROCm serves: skipped where inference runs on Vulkan"
            + (
                ", and on a container node with no ROCm running or declared (docs/stack.md)"
                if rule.needs == "rocm-version"
                else " (docs/stack.md)"
            )
        )
    print(f"reviewed: {rule.reviewed} (facts checked against the sources on that date)")
    print("references:")
    for ref in rule.references:
        print(f"  {ref}")
    print(f"see it yourself: {rule.command}")
    print()
    print(rule.rationale)
    if rule.params:
        print("\nparameters (from the rule file):")
        for key, value in rule.params.items():
            print(f"  {key} = {value!r}")
    if rule.remediation:
        print(f"\nremediation ({rule.remediation['kind']}): {rule.remediation['summary']}")
    print(f"\ndefined in {rule.source_file}")
    return 0


def cmd_fixtures(args: Options) -> int:
    from hostcheck.checks.catalog import data_dir
    from hostcheck.checks.session import fixture_names

    for name in fixture_names():
        with open(
            os.path.join(data_dir("fixtures"), name, ".hostcheck", "about.txt"), encoding="utf-8"
        ) as handle:
            summary = handle.readline().strip()
        print(f"{name:<22} {summary}")
    return 0
