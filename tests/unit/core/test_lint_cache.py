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


def _repo_with(tmp_path: Path, text: str) -> tuple[Repo, Path]:
    (tmp_path / "pipeline-configs").mkdir(exist_ok=True)
    path = tmp_path / "cloudformation" / "t.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return Repo(tmp_path), path


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = lint._lint_one
    monkeypatch.setattr(lint, "_lint_one", lambda job: calls.append(job[0]) or real(job))
    return calls


def test_another_cfn_lint_version_misses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, path = _repo_with(tmp_path, TEMPLATE.format(name="v") + "  Unused:\n    Type: AWS::Foo::Bar\n")
    lint.lint_templates(repo, [path])
    calls = _counting(monkeypatch)
    import importlib.metadata

    real_version = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata,
        "version",
        lambda name: "999.0.0" if name == "cfn-lint" else real_version(name),
    )
    lint._settings.cache_clear()
    try:
        findings, _ = lint.lint_templates(repo, [path])
    finally:
        lint._settings.cache_clear()
    assert calls == ["cloudformation/t.yaml"], "a new cfn-lint may find other things: lint again"
    assert [f.code for f in findings] == ["E3006"]


def test_a_corrupt_cache_entry_is_ignored_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, path = _repo_with(tmp_path, TEMPLATE.format(name="n") + "  Unused:\n    Type: AWS::Foo::Bar\n")
    lint.lint_templates(repo, [path])
    cached = lint._cache_file(lint._cache_key(path.read_text(), lint.DEFAULT_REGIONS))
    for corrupt in ("{not json", '[{"file": "x", "unexpected": 1}]', '{"a": 1}'):
        cached.write_text(corrupt)
        notes: list[str] = []
        findings, _ = lint.lint_templates(repo, [path], notes=notes)
        assert [f.code for f in findings] == ["E3006"], corrupt
        assert len(notes) == 1 and "cloudformation/t.yaml" in notes[0], corrupt
        assert "linted again" in notes[0]
    notes = []
    lint.lint_templates(repo, [path], notes=notes)
    assert notes == [], "the entry written by the last lint is good again"


def test_an_unwritable_cache_directory_still_lints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(blocker / "cache"))
    repo, path = _repo_with(tmp_path, TEMPLATE.format(name="w") + "  Unused:\n    Type: AWS::Foo::Bar\n")
    calls = _counting(monkeypatch)
    notes: list[str] = []
    for _ in range(2):
        findings, checked = lint.lint_templates(repo, [path], notes=notes)
        assert checked == ["cloudformation/t.yaml"]
        assert [f.code for f in findings] == ["E3006"]
    assert calls == ["cloudformation/t.yaml"] * 2, "nothing cached, so linted each time"
    assert notes == [], "no cache to read is not a corrupt one"


def test_parallel_lint_gives_the_serial_findings_in_the_same_order() -> None:
    """Templates linted by worker processes (largest first) come back in the jobs' order, with
    exactly the findings one process finds: two templates with findings and two clean ones."""
    repo = Repo(Path(__file__).resolve().parents[3])
    paths = [repo.root / "cloudformation" / "bootstrap-assets.yaml"]
    jobs = [(repo.display(p), p.read_text(encoding="utf-8"), lint.DEFAULT_REGIONS) for p in paths]
    jobs += [("clean.yaml", TEMPLATE.format(name="c"), lint.DEFAULT_REGIONS)]
    jobs += [
        (
            "bad-a.yaml",
            TEMPLATE.format(name="a") + "  Unused:\n    Type: AWS::Foo::Bar\n",
            lint.DEFAULT_REGIONS,
        ),
        (
            "bad-b.yaml",
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties: {Nope: 1}\n",
            lint.DEFAULT_REGIONS,
        ),
    ]
    serial = lint.lint_jobs(jobs, workers=1)
    parallel = lint.lint_jobs(jobs, workers=2)
    assert parallel == serial
    assert [f.file for found in parallel for f in found][-1] == "bad-b.yaml"
    assert parallel[0] == parallel[1] == [] and {f.code for f in parallel[2]} == {"E3006"}
    assert parallel[3] != []
