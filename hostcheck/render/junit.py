"""JUnit XML: one testsuite per area, one testcase per rule; fail -> <failure>,
error -> <error>, skip and waived -> <skipped>; warn passes with the message in <system-out>.
An expired waiver's note leads the details of the failure it no longer waives."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hostcheck.model import Report, Status
from hostcheck.render import printable


def render(report: Report) -> str:
    suites = ET.Element("testsuites", name=printable(f"hostcheck {report.hostname}"))
    by_area: dict[str, ET.Element] = {}
    for finding in report.sorted_findings():
        area = finding.rule.area
        suite = by_area.get(area)
        if suite is None:
            suite = ET.SubElement(suites, "testsuite", name=f"hostcheck.{area}")
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
        # A fix pending a reboot still fails a gate where the problem did: it is not in effect.
        if finding.status is Status.FAIL or (
            finding.status is Status.PENDING and finding.blocks(Status.FAIL)
        ):
            ET.SubElement(
                case, "failure", message=message, type=finding.rule.severity.value
            ).text = details
        elif finding.status is Status.ERROR:
            ET.SubElement(case, "error", message=message).text = details
        elif finding.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=message)
        elif finding.status is Status.WAIVED and finding.waiver is not None:
            ET.SubElement(case, "skipped", message=printable(finding.waiver.note())).text = details
        else:
            ET.SubElement(case, "system-out").text = f"[{finding.status.value}] {details}"
    for suite in by_area.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
