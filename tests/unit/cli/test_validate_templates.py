"""`mlopsctl validate --templates` lints the templates in the background while it checks the configs
(core/lint.start_lint): the lint server's start overlaps the config checks, and the report (its
order, the exit code, a lint failure) is what it was when the two ran one after the other."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError
from pathlib import Path

import pytest
import yaml

from mlops_gitops.config import validate as config_validate
from mlops_gitops.core import lint
from tests.conftest import TmpRepo, run_cli

LEAKY = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "leaky",
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "all",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                        },
                    }
                ],
            },
        }
    },
}


def _repo(tmp_path: Path) -> TmpRepo:
    """A broken config (pipeline-configs/bad) and a template our rules reject (cloudformation/a)."""
    repo = TmpRepo(tmp_path / "repo")
    repo.write("bad", {"pipelineId": "bad"})
    template = repo.root / "cloudformation" / "a" / "leaky.yaml"
    template.parent.mkdir(parents=True)
    template.write_text(yaml.safe_dump(LEAKY), encoding="utf-8")
    return repo


def test_the_templates_are_linted_while_the_configs_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path)
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    linting = threading.Event()
    real_jobs, real_validate = lint.lint_jobs, config_validate.validate

    def jobs(*args, **kwargs):
        linting.set()
        return real_jobs(*args, **kwargs)

    def validate(*args, **kwargs):
        # The lint has started before the config checks: it does not wait for them.
        assert linting.wait(timeout=30), "the templates were not being linted during the config checks"
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(lint, "lint_jobs", jobs)
    monkeypatch.setattr(config_validate, "validate", validate)
    result = run_cli("--repo-root", str(repo.root), "validate", "--templates")
    assert result.code == 1
    assert any(line.startswith("cloudformation/a/leaky.yaml: ") for line in result.out.splitlines())


def test_the_report_order_and_exit_code_are_those_of_the_checks_run_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_gitops.findings import sort_findings
    from mlops_gitops.repo import Repo
    from mlops_gitops.report.findings import render_text

    repo = _repo(tmp_path)
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    report, _ = config_validate.validate(Repo(repo.root), [])
    templates, checked = lint.lint_templates(Repo(repo.root))
    assert report.errors and any(f.is_error for f in templates), "both kinds of check find errors"
    expected = render_text(sort_findings([*report.findings, *templates]))

    result = run_cli("--repo-root", str(repo.root), "validate", "--templates")
    assert (result.code, result.out) == (1, expected)
    assert f"{len(report.checked) + len(checked)} files checked" in result.err
    assert result.out.index("cloudformation/a/leaky.yaml") < result.out.index("pipeline-configs/bad")


def test_a_lint_that_fails_still_fails_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error inside the background lint is raised by validate, not lost with its thread."""
    repo = TmpRepo(tmp_path / "repo")
    (repo.root / "cloudformation").mkdir()
    (repo.root / "cloudformation" / "t.yaml").write_text("Resources: {}\n", encoding="utf-8")
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path / "cache"))

    def broken(*args, **kwargs):
        raise RuntimeError("lint worker died")

    monkeypatch.setattr(lint, "lint_jobs", broken)
    with pytest.raises(RuntimeError, match="lint worker died"):
        lint.start_lint(lint.Repo(repo.root)).result()
    result = run_cli("--repo-root", str(repo.root), "validate", "--templates")
    assert result.code == 4, result.err


def test_a_path_that_isnt_there_starts_no_lint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path that isn't there is a usage error at once: no lint server is booted for it."""
    repo = _repo(tmp_path)
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path / "cache"))

    started: list[str] = []
    monkeypatch.setattr(
        lint, "start_lint", lambda *a, **k: started.append("lint") or lint.PendingLint([], [], {}, ())
    )
    result = run_cli("--repo-root", str(repo.root), "validate", "--templates", str(repo.root / "nope"))
    assert result.code == 2 and "no such file or folder" in result.err
    assert started == []


@pytest.mark.parametrize("when", ["checking the configs", "waiting for the lint"])
def test_an_interrupted_validate_gives_the_lint_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """Ctrl-C while the configs are checked or while the lint is awaited: the lint's pool is shut
    down (its workers stopped) instead of the process linting on until every template is done."""
    import mlops_gitops.config.validate as config_validate

    repo = _repo(tmp_path)
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    given_up = threading.Event()

    class Pool:
        _processes: dict = {}

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            if cancel_futures:
                given_up.set()

    def jobs(jobs, workers, started=None):
        started(Pool())
        assert given_up.wait(timeout=30)
        raise CancelledError

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lint, "lint_jobs", jobs)
    if when == "checking the configs":
        monkeypatch.setattr(config_validate, "validate", interrupted)
    else:
        monkeypatch.setattr(lint.PendingLint, "result", interrupted)
    result = run_cli("--repo-root", str(repo.root), "validate", "--templates")
    assert result.code == 130, (result.code, result.err)
    assert given_up.wait(timeout=30), "the lint was not given up"
