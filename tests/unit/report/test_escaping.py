"""Text that leaves the program: markdown (pull-request comments, plan markdown, promote's pull
request) and JUnit XML (CodeBuild's test reports) stay well-formed, whatever a config, the Model
Registry or AWS put in a value."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from mlops_gitops.findings import Finding
from mlops_gitops.report import markdown as md
from mlops_gitops.report.findings import render_junit

HOSTILE = [
    "plain",
    "a`b",
    "``two``",
    "`",
    "ends with `",
    "a|b|c",
    "<script>alert(1)</script>",
    "</details><img src=x onerror=alert(1)>",
    "x\n## No findings",
    "x\r\n\r\n| forged | row |",
    "\u2028### heading",
    "- a list item",
    "1. a numbered one",
    "**bold** _it_ [link](http://x) ![img](http://x)",
    "&lt;entity&gt;",
    "back\\slash\\|pipe",
    "nul\x00 esc\x1b[31m bell\x07",
    "",
    " ",
]


def _code_content(span: str) -> str:
    """What a CommonMark renderer shows of a code span (the rules of the spec, section 6.1)."""
    m = re.fullmatch(r"(`+)(.*?)\1", span, re.S)
    assert m, span
    fence, content = m.groups()
    assert fence not in re.findall(r"`+", content), "a run of the fence's length inside ends the span"
    if content.startswith(" ") and content.endswith(" ") and content.strip(" "):
        content = content[1:-1]
    return content


@pytest.mark.parametrize("value", HOSTILE)
def test_a_code_span_holds_any_value_on_one_line(value: str) -> None:
    span = md.code(value)
    assert "\n" not in span and "\r" not in span
    assert _code_content(span) == (md.one_line(value) or " ")  # a code span can't be empty


@pytest.mark.parametrize("value", HOSTILE)
def test_in_a_table_a_code_span_escapes_every_pipe(value: str) -> None:
    span = md.code(value, table=True)
    assert re.search(r"(?<!\\)\|", span) is None
    # GFM replaces \| by | in a cell before it reads code spans
    assert _code_content(span.replace("\\|", "|")) == (md.one_line(value) or " ")


@pytest.mark.parametrize("value", HOSTILE)
def test_text_is_one_line_with_no_html_and_no_markdown_of_its_own(value: str) -> None:
    out = md.text(value)
    assert "\n" not in out and "\r" not in out and "\u2028" not in out
    assert "<" not in out and ">" not in out
    assert "&" not in out.replace("&lt;", "").replace("&gt;", "").replace("&amp;", "")
    # every markdown punctuation character is escaped: an odd number of backslashes before it
    for m in re.finditer(r"[`*_\[\]|~#]", out):
        backslashes = len(out[: m.start()]) - len(out[: m.start()].rstrip("\\"))
        assert backslashes % 2 == 1, (value, out)
    assert not re.match(r"\s*([-+*>#]|\d+[.)])(\s|$)", out), "it would start a block in a list item"


def test_control_characters_are_replaced_not_dropped() -> None:
    assert md.one_line("a\x00b\x1bc\td\ne") == "a\ufffdb\ufffdc d e"
    assert md.one_line("\u202eevil") == "\ufffdevil"  # a right-to-left override reads as another name


# ------------------------------------------------------------------ JUnit


NASTY_NAMES = [
    "pipeline-configs/a\x00b/mlops-config.json",
    "pipeline-configs/bell\x07\x1b[0m/mlops-config.json",
    "pipeline-configs/form\x0cfeed\x0b/mlops-config.json",
    "pipeline-configs/surrogate\udcff/mlops-config.json",
    'pipeline-configs/quote"&<>]]>/mlops-config.json',
    "pipeline-configs/new\nline\r\ttab/mlops-config.json",
    "pipeline-configs/\ufffe\uffff/mlops-config.json",
]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_junit_is_well_formed_xml_for_any_file_name_and_message(name: str) -> None:
    findings = [
        Finding(name, "$.a\x01", "c\x02", f"message with {name}", "hint \x1f"),
        Finding(name, "$.w", "w", "warn \x00 \udc80", "", "warning"),
    ]
    xml = render_junit(findings, [name, "pipeline-configs/ok/mlops-config.json"], suite="suite\x03")
    xml.encode("utf-8")  # no lone surrogate left: the report can be written
    root = ET.fromstring(xml)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert len(cases) == 2 and root.get("failures") == "1"
    expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "\ufffd", name)
    assert expected.replace("\r", "\n") in {k.replace("\r", "\n") for k in cases}
    failure = next(c for c in cases.values() if c.find("failure") is not None).find("failure")
    assert "message with" in (failure.text or "")


# ------------------------------------------------------------------ text for terminals and build logs


def test_table_rows_and_event_lines_stay_one_line_each() -> None:
    from datetime import datetime, timezone

    from mlops_gitops.aws.cloudformation import StackEvent
    from mlops_gitops.report.events import event_line
    from mlops_gitops.report.table import table

    reason = "Resource handler returned message: bad\nmlops-other-dev  CREATE_COMPLETE\x1b[2K"
    text = table([("STACK", "DETAIL"), ("mlops-x-dev", reason)])
    assert len(text.splitlines()) == 2 and "\x1b" not in text
    event = StackEvent(datetime(2026, 1, 1, tzinfo=timezone.utc), "Endpoint", "T", "CREATE_FAILED", reason)
    line = event_line("mlops-x-dev", event)
    assert line.count("\n") == 1 and line.endswith("\n") and "\x1b" not in line
