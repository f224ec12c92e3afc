"""The JSON report: the public contract of DESIGN.md, validated by schemas/report.schema.json."""

from __future__ import annotations

import json

from hostcheck.model import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# 1.1: status fixed-pending-reboot.
# 1.2: status "waived", summary.waived, a finding's optional "waiver" object (config file
# waivers), the optional top-level "waivers" list (every waiver of the config file, expired
# or not, whatever its rule's status) and the optional "monitor" object of reports that
# `hostcheck monitor` stores. 1.3: the optional top-level "generated" (RFC 3339 UTC): when
# the scan ran. 1.4: the optional top-level "stack" object: where the inference stack lives
# (components with where and how found), the backend and the kind of node judged; and the
# optional top-level "catalog" object: the rule catalog's review date and the operator drop-in
# files that added rows to its tables;
# and the optional top-level "functional" (what scan --functional measured).
SCHEMA_VERSION = "1.4"


def to_dict(report: Report) -> dict[str, Any]:
    generated = {"generated": report.generated} if report.generated is not None else {}
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "hostcheck", "version": report.tool_version},
        **generated,
        "host": {
            "hostname": report.hostname,
            "kernel_release": report.kernel_release,
            "root": report.root,
            "gpu": report.gpu,
            "rocm": report.rocm,
            "container": report.container,
        },
        "profile": {"name": report.profile, "title": report.profile_title},
        "fail_on": report.fail_on.value,
        "ready": report.ready,
        "summary": report.summary,
        "duration_seconds": round(report.duration_seconds, 4),
        "findings": [finding.to_json() for finding in report.sorted_findings()],
    }
    if report.stack is not None:
        data["stack"] = report.stack
    if report.catalog is not None:
        data["catalog"] = {
            "reviewed": report.catalog["reviewed"],
            "dropins": list(report.catalog["dropins"]),
        }
    if report.waivers:
        data["waivers"] = [state.to_json() for state in report.waivers]
    if report.functional is not None:
        data["functional"] = report.functional.to_json()
    return data


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
