"""Finding rendering and ordering."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from mlops_gitops.findings import WARNING, Finding, json_path, sort_findings
from mlops_gitops.report.findings import render_json, render_junit, render_text


@pytest.mark.parametrize(
    "parts, expected",
    [
        ([], "$"),
        (["a", "b", 0], "$.a.b[0]"),
        (["tags", "aws:foo"], "$.tags['aws:foo']"),
        (["batch-size"], "$.batch-size"),
        (["$schema"], "$.$schema"),
        (["with space"], "$['with space']"),
    ],
)
def test_json_path(parts: list, expected: str) -> None:
    assert json_path(parts) == expected


def test_text_line_is_file_path_message_and_hint() -> None:
    f = Finding("pipeline-configs/a/mlops-config.json", "$.x", "enum", "'q' is not allowed", "use 'z'")
    assert f.text() == "pipeline-configs/a/mlops-config.json: $.x: 'q' is not allowed; use 'z'"
    w = Finding("f", "$", "unused-key", "ignored", "", WARNING)
    assert w.text() == "f: $: warning: ignored"


def test_sorting_is_by_file_then_path_with_numeric_indexes_and_drops_duplicates() -> None:
    items = [
        Finding("b", "$.a", "c", "m"),
        Finding("a", "$.x[10]", "c", "m"),
        Finding("a", "$.x[2]", "c", "m"),
        Finding("a", "$", "c", "m"),
        Finding("a", "$.x[2]", "c", "m"),
    ]
    assert [(f.file, f.path) for f in sort_findings(items)] == [
        ("a", "$"),
        ("a", "$.x[2]"),
        ("a", "$.x[10]"),
        ("b", "$.a"),
    ]


def test_json_and_junit_renderings() -> None:
    findings = [
        Finding("a.json", "$.k", "enum", "bad <value>", "fix & retry"),
        Finding("a.json", "$", "w", "meh", "", WARNING),
    ]
    doc = json.loads(render_json(findings, checked=2))
    assert doc["checked"] == 2
    assert doc["findings"][0] == {
        "file": "a.json",
        "path": "$.k",
        "code": "enum",
        "severity": "error",
        "message": "bad <value>",
        "hint": "fix & retry",
    }
    root = ET.fromstring(render_junit(findings, ["a.json", "b.json"]))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["a.json", "b.json"]
    failure = cases[0].find("failure")
    assert failure is not None and "bad <value>" in failure.text
    assert cases[1].find("failure") is None
    assert root.get("failures") == "1"
    assert render_text(findings).splitlines()[1] == "a.json: $: warning: meh"
