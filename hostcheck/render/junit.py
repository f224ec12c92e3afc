"""JUnit XML: one testsuite per area, one testcase per rule. The failures and errors are
exactly the findings that make the host not ready under the report's --fail-on (a warning
under --fail-on warn is a <failure>; an error of a low-severity rule under --fail-on fail is
not): a CI gate that counts them agrees with the exit status. Blocking errors -> <error>,
other blocking findings -> <failure>, skip and waived -> <skipped>; everything else passes with
its status and message in <system-out>. A host without a Strix Halo GPU is not ready even when
no finding blocks (gpu.present left out by --select): a testcase "readiness" fails then.
An expired waiver's note leads the details of the failure it no longer waives. The
<testsuites> element carries the scan's time; each <testsuite> its timestamp and hostname."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hostcheck.model import Report, Status
from hostcheck.render import printable


def render(report: Report) -> str:
    suites = ET.Element(
        "testsuites",
        name=printable(f"hostcheck {report.hostname}"),
        time=f"{report.duration_seconds:.3f}",
    )
    # When the scan ran (RFC 3339, UTC) and on which host, on every suite as JUnit has them.
    suite_attrs = {"hostname": printable(report.hostname)}
    if report.generated:
        suite_attrs["timestamp"] = report.generated
    by_area: dict[str, ET.Element] = {}
    for finding in report.sorted_findings():
        area = finding.rule.area
        suite = by_area.get(area)
        if suite is None:
            suite = ET.SubElement(suites, "testsuite", {"name": f"hostcheck.{area}", **suite_attrs})
            by_area[area] = suite
        case = ET.SubElement(suite, "testcase", classname=f"hostcheck.{area}", name=finding.rule.id)
        details = printable(
            "\n".join(
                ([finding.waiver.note()] if finding.waiver else [])
                + [finding.message, ""]
                + [
                    f"{item.label}: {item.value if item.value is not None else '-'} [{item.source}]"
                    + (f" ({item.note})" if item.note else "")
                    for item in finding.evidence
                ]
                + ([f"fix: {finding.remediation.summary}"] if finding.remediation else [])
                + [f"references: {', '.join(finding.rule.references)}"]
            )
        )
        message = printable(finding.message)
        # What blocks readiness under the report's --fail-on, and nothing else, fails here: a
        # fix pending a reboot where the problem did, a warning under --fail-on warn.
        blocks = finding.blocks(report.fail_on)
        if blocks and finding.status is Status.ERROR:
            ET.SubElement(case, "error", message=message).text = details
        elif blocks:
            ET.SubElement(
                case,
                "failure",
                message=message,
                type=finding.rule.severity.value,
            ).text = details
        elif finding.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=message)
        elif finding.status is Status.WAIVED and finding.waiver is not None:
            ET.SubElement(case, "skipped", message=printable(finding.waiver.note())).text = details
        else:
            ET.SubElement(case, "system-out").text = f"[{finding.status.value}] {details}"
    if report.gpu is None and not any(f.blocks(report.fail_on) for f in report.findings):
        suite = by_area.get("gpu") or ET.SubElement(
            suites, "testsuite", {"name": "hostcheck.gpu", **suite_attrs}
        )
        by_area["gpu"] = suite
        case = ET.SubElement(suite, "testcase", classname="hostcheck.gpu", name="readiness")
        ET.SubElement(case, "failure", message="no Strix Halo GPU found: not ready")
    for suite in by_area.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
