"""Template lint results are cached by content: an unchanged template is not linted again (cfn-lint
takes 1-2 s per template), and any change to it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.core import lint
from mlops_gitops.repo import Repo

TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Description: one topic
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: {name}
"""


def test_an_unchanged_template_is_served_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pipeline-configs").mkdir()
    path = tmp_path / "cloudformation" / "t.yaml"
    path.parent.mkdir()
    path.write_text(TEMPLATE.format(name="a") + "  Unused:\n    Type: AWS::Foo::Bar\n")
    repo = Repo(tmp_path)
    first, checked = lint.lint_templates(repo, [path])
    assert checked == ["cloudformation/t.yaml"]
    assert [f.code for f in first] == ["E3006"], "the unknown type is found"

    calls = []
    real = lint._lint_one
    monkeypatch.setattr(lint, "_lint_one", lambda job: calls.append(job[0]) or real(job))
    again, _ = lint.lint_templates(repo, [path])
    assert again == first and calls == [], "same content: no cfn-lint run, same findings"

    path.write_text(TEMPLATE.format(name="b"))
    changed, _ = lint.lint_templates(repo, [path])
    assert calls == ["cloudformation/t.yaml"] and changed == []


def test_a_corrupt_cache_entry_is_linted_again(tmp_path: Path) -> None:
    (tmp_path / "pipeline-configs").mkdir()
    path = tmp_path / "cloudformation" / "t.yaml"
    path.parent.mkdir()
    path.write_text(TEMPLATE.format(name="c") + "  Unused:\n    Type: AWS::Foo::Bar\n")
    repo = Repo(tmp_path)
    lint.lint_templates(repo, [path])
    cached = lint._cache_file(lint._cache_key(path.read_text(), lint.DEFAULT_REGIONS))
    cached.write_text("{not json")
    findings, _ = lint.lint_templates(repo, [path])
    assert [f.code for f in findings] == ["E3006"]
