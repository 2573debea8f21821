"""Folder names a repository can hold (control characters, a terminal's escape sequences, line
breaks, bytes that are not UTF-8) are echoed in validate's findings: every format stays what it
says it is (one line per finding, JSON, well-formed XML) and can be written as UTF-8."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import repo_copy, run_cli

NAMES = [b"bell\x07\x1b[31m", b"not-utf8\xff", b"new\nline", b"pipe|`tick`<script>"]


@pytest.fixture(scope="module")
def hostile_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = repo_copy(tmp_path_factory.mktemp("hostile") / "repo", ["churn-realtime"], templates=False)
    for name in NAMES:
        folder = os.path.join(os.fsencode(root), b"pipeline-configs", name)
        os.makedirs(folder)
        with open(os.path.join(folder, b"mlops-config.json"), "w", encoding="utf-8") as f:
            json.dump({"pipeline_type": "nope"}, f)
    return root


def validate(root: Path, fmt: str) -> str:
    result = run_cli("--repo-root", str(root), "validate", "--format", fmt)
    assert result.code == 1, result.err
    assert "internal error" not in result.err
    result.out.encode("utf-8")  # strict: what stdout in a UTF-8 locale must be able to write
    return result.out


def test_text_is_one_line_per_finding(hostile_repo: Path) -> None:
    findings = json.loads(validate(hostile_repo, "json"))["findings"]
    text = validate(hostile_repo, "text")
    assert len(text.splitlines()) == len(findings) >= len(NAMES)
    assert "\x1b" not in text and "\x07" not in text


def test_json_and_junit_parse(hostile_repo: Path) -> None:
    findings = json.loads(validate(hostile_repo, "json"))["findings"]
    files = {f["file"] for f in findings}
    assert len(files) >= len(NAMES), files
    root = ET.fromstring(validate(hostile_repo, "junit"))
    cases = [case.get("name") for case in root.iter("testcase")]
    assert int(root.get("failures") or 0) >= len(NAMES) and len(cases) == len(set(cases))
