"""JUnit XML for ``edgekd gate --junit``: one test case per gated artifact × budget (and its file check).

CI systems (GitHub, GitLab, Jenkins) show JUnit results natively, so a broken
budget appears next to the failing unit tests, with the figure, the budget and
the artifact in the failure message. A budget that could not be checked (no
RAM figure, an estimated latency the target does not accept) is a *skipped*
case, never a pass. One ``<testsuite>`` per target.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from edgekd.report.gate import GateResult


def build_junit(result: GateResult) -> ET.ElementTree:
    """The gate result as a JUnit ``<testsuites>`` tree."""
    root = ET.Element("testsuites", name="edgekd gate", tests=str(len(result.checks)),
                      failures=str(len(result.violations)), errors="0", skipped=str(len(result.skipped)))
    for target, tb in result.targets.items():
        checks = [c for c in result.checks if c.target == target]
        suite = ET.SubElement(root, "testsuite", name=f"edgekd gate {target}", tests=str(len(checks)),
                              failures=str(sum(c.status == "fail" for c in checks)), errors="0",
                              skipped=str(sum(c.status == "skip" for c in checks)), time="0")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="report", value=result.report_path)
        for key, value in tb.budgets.model_dump(exclude_none=True, exclude_defaults=True).items():
            ET.SubElement(props, "property", name=f"budget.{key}", value=str(value))
        ET.SubElement(props, "property", name="budget.sources", value="; ".join(tb.sources))
        for c in checks:
            case = ET.SubElement(suite, "testcase", classname=f"edgekd.gate.{target}.{c.artifact}",
                                 name=c.budget, time="0")
            if c.status == "fail":
                failure = ET.SubElement(case, "failure", type="BudgetExceeded",
                                        message=f"{c.artifact} [{target}]: {c.message}")
                value = "unknown" if c.value is None else f"{c.value:g} {c.unit}"
                failure.text = (f"artifact: {c.artifact}\ntarget: {target}\nbudget: {c.budget} = {c.limit:g} {c.unit}\n"
                                f"value: {value}\n{c.message}\n")
            elif c.status == "skip":
                ET.SubElement(case, "skipped", message=c.detail)
            else:
                ET.SubElement(case, "system-out").text = c.message
    ET.indent(root)
    return ET.ElementTree(root)


def junit_bytes(result: GateResult) -> bytes:
    """The JUnit file's bytes (UTF-8, with an XML declaration)."""
    return ET.tostring(build_junit(result).getroot(), encoding="utf-8", xml_declaration=True) + b"\n"
