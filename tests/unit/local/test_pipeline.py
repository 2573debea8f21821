"""The local pipeline runner: the definition is read from orchestrator.yaml (never written twice),
CodePipeline's structure rules hold, variables resolve, and execution follows CodePipeline: actions
in RunOrder, a failed stage ends the run, approvals pass or are asked, builds run their buildspec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_gitops.config.environments import Environments
from mlops_gitops.local.pipeline import (
    Action,
    LocalPipeline,
    PipelineDefinition,
    PipelineError,
    Project,
    Source,
    Stage,
    check_structure,
    export_commit,
    export_working_tree,
    read_definition,
    resolve_variables,
)
from mlops_gitops.ops.bootstrap import ORCHESTRATOR_TEMPLATE, orchestrator_parameters
from tests.conftest import REPO_ROOT, git_repo

ENV = Environments.from_data(
    {
        "stack_prefix": "mlops",
        "stages": [
            {"name": "dev"},
            {"name": "staging", "approval": True},
            {"name": "prod", "approval": True},
        ],
    }
)


def test_the_definition_is_the_orchestrator_templates() -> None:
    d = read_definition(
        REPO_ROOT / ORCHESTRATOR_TEMPLATE, orchestrator_parameters(ENV), "111122223333", "eu-west-1"
    )
    assert d.name == "mlops-pipeline"
    assert [s.name for s in d.stages] == [
        "Source", "Validate", "Deploy-dev", "Approve-staging", "Deploy-staging", "Approve-prod", "Deploy-prod"
    ]  # fmt: skip
    for index, stage in ((2, "dev"), (4, "staging"), (6, "prod")):  # each stage its own project
        deploy = d.stages[index].actions[0]
        assert deploy.configuration["ProjectName"] == f"mlops-deploy-{stage}"
        assert d.projects[f"mlops-deploy-{stage}"].buildspec == "buildspecs/deploy.yml"
        assert (
            "MLOPS_MAX_PARALLEL" not in d.projects[f"mlops-deploy-{stage}"].variables
        )  # environments.json decides
    approval = d.stages[3].actions[0]
    assert approval.provider == "Manual"
    assert "#{SourceVariables.CommitId}" in approval.configuration["CustomData"], "resolved at run time"


def _stage(name: str, *actions: Action) -> Stage:
    return Stage(name, actions)


SOURCE = Action("Source", "Source", "CodeCommit", {"BranchName": "main"}, (), ("Src",), "SourceVariables")


def _build(
    name: str, project: str = "p", inputs: tuple[str, ...] = ("Src",), order: int = 1, **config
) -> Action:
    return Action(name, "Build", "CodeBuild", {"ProjectName": project, **config}, inputs, (), None, order)


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([_stage("Source", SOURCE)], "at least 2 stages"),
        ([_stage("Build", _build("b")), _stage("Source", SOURCE)], "first stage may hold only source"),
        (
            [_stage("Source", SOURCE), _stage("Build", _build("b", inputs=("Nope",)))],
            "reads ['Nope'], made by no earlier",
        ),
        (
            [_stage("Source", SOURCE), _stage("Build", _build("b", project="missing"))],
            "'missing', which the template does not create",
        ),
        ([_stage("Source", SOURCE), _stage("Source", SOURCE)], "stage names repeat"),
        ([_stage("Source", SOURCE), _stage("B", _build("x"), _build("x"))], "repeats an action name"),
    ],
)
def test_structure_rules_of_codepipeline(stages, message: str) -> None:
    with pytest.raises(PipelineError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_structure(PipelineDefinition("p", tuple(stages), {"p": Project("p", "b.yml", {})}))


def test_variables_resolve_from_earlier_namespaces_only() -> None:
    variables = {"SourceVariables": {"CommitId": "abc123"}}
    assert resolve_variables("deploy #{SourceVariables.CommitId}?", variables) == "deploy abc123?"
    with pytest.raises(PipelineError, match=r"#\{Build.Out\} is not set"):
        resolve_variables("#{Build.Out}", variables)


def _source(tmp_path: Path, buildspecs: dict[str, str]) -> Source:
    src = tmp_path / "src"
    src.mkdir(parents=True)
    for name, text in buildspecs.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return Source(src, "c0ffee" * 6 + "abcd", "main", "a commit")


def _pipeline(tmp_path: Path, stages: list[Stage], projects: dict[str, Project], **kwargs) -> LocalPipeline:
    lines: list[str] = []
    pipeline = LocalPipeline(
        PipelineDefinition("p", (_stage("Source", SOURCE), *stages), projects),
        _source(tmp_path, kwargs.pop("buildspecs")),
        {"PATH": "/usr/bin:/bin"},
        "us-east-1",
        "111122223333",
        log=lines.append,
        work_dir=tmp_path,
        **kwargs,
    )
    pipeline.lines = lines  # type: ignore[attr-defined]
    return pipeline


OK = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo stage=$MLOPS_STAGE commit=$CODEBUILD_RESOLVED_SOURCE_VERSION by=$CODEBUILD_INITIATOR mode=$MODE\n"
FAIL = "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n"


def test_builds_get_project_then_action_variables_and_codebuild_variables(tmp_path: Path) -> None:
    action = _build(
        "Deploy",
        EnvironmentVariables='[{"name":"MLOPS_STAGE","value":"dev","type":"PLAINTEXT"},{"name":"MODE","value":"action"}]',
    )
    p = _pipeline(
        tmp_path,
        [_stage("Deploy-dev", action)],
        {"p": Project("p", "ok.yml", {"MODE": "project", "MLOPS_STAGE": "x"})},
        buildspecs={"ok.yml": OK},
    )
    execution = p.run()
    assert execution.status == "Succeeded"
    assert f"stage=dev commit={'c0ffee' * 6 + 'abcd'} by=codepipeline/p mode=action" in "\n".join(p.lines)


def test_a_failed_build_fails_its_stage_and_stops_the_pipeline(tmp_path: Path) -> None:
    p = _pipeline(
        tmp_path,
        [_stage("Validate", _build("V", project="bad")), _stage("Deploy", _build("D", project="ok"))],
        {"bad": Project("bad", "fail.yml", {}), "ok": Project("ok", "ok.yml", {})},
        buildspecs={"fail.yml": FAIL, "ok.yml": OK},
    )
    execution = p.run()
    assert execution.status == "Failed"
    assert execution.stage_status == {"Source": "Succeeded", "Validate": "Failed"}
    (failed,) = [a for a in execution.actions if a.status == "Failed"]
    assert "BUILD" in failed.summary and "exit" in failed.summary.lower()


def test_a_failed_build_says_why_in_the_execution_summary(tmp_path: Path) -> None:
    """The reason a deploy failed is repeated at the end (issue 16), not left ~90 lines up."""
    from mlops_gitops.cli.local import _execution_summary

    deploy_log = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - echo 'PIPELINE  STAGE  STACK  RESULT  DETAIL'\n"
        "      - echo 'fraud-ab  dev    mlops-fraud-ab-dev  blocked  model package group has no Approved version'\n"
        "      - echo 'churn     dev    mlops-churn-dev     created  3 resource change(s)'\n"
        "      - echo 'noise'\n"
        "      - exit 1\n"
    )
    p = _pipeline(
        tmp_path,
        [_stage("Deploy-dev", _build("Deploy", project="d"))],
        {"d": Project("d", "deploy.yml", {})},
        buildspecs={"deploy.yml": deploy_log},
    )
    execution = p.run()
    (failed,) = [a for a in execution.actions if a.status == "Failed"]
    assert failed.why == [
        "fraud-ab  dev    mlops-fraud-ab-dev  blocked  model package group has no Approved version"
    ]
    tail = _execution_summary(execution).rstrip().splitlines()
    assert tail[-2:] == ["    why:", "      " + failed.why[0]]


def test_a_later_run_order_waits_for_the_earlier_one(tmp_path: Path) -> None:
    p = _pipeline(
        tmp_path,
        [_stage("S", _build("second", project="ok", order=2), _build("first", project="bad", order=1))],
        {"bad": Project("bad", "fail.yml", {}), "ok": Project("ok", "ok.yml", {})},
        buildspecs={"fail.yml": FAIL, "ok.yml": OK},
    )
    execution = p.run()
    assert [a.action for a in execution.actions] == ["Source", "first"], "RunOrder 2 never starts"


def test_approvals_pass_or_are_decided_and_a_rejection_stops(tmp_path: Path) -> None:
    approval = Action("Approve", "Approval", "Manual", {"CustomData": "ship #{SourceVariables.CommitId}?"})
    asked: list[tuple[str, str, str]] = []
    p = _pipeline(
        tmp_path,
        [_stage("Approve-prod", approval), _stage("Deploy-prod", _build("D", project="ok"))],
        {"ok": Project("ok", "ok.yml", {})},
        buildspecs={"ok.yml": OK},
        approve=lambda *a: asked.append(a) or False,
    )
    execution = p.run()
    assert asked == [("Approve-prod", "Approve", f"ship {'c0ffee' * 6 + 'abcd'}?")]
    assert execution.status == "Failed" and execution.stage_status["Approve-prod"] == "Failed"
    assert "Deploy-prod" not in execution.stage_status
    auto = _pipeline(
        tmp_path / "auto",
        [_stage("Approve-prod", approval)],
        {},
        buildspecs={},
    ).run()
    assert auto.status == "Succeeded"


def test_a_buildspec_missing_from_the_source_fails_the_action(tmp_path: Path) -> None:
    p = _pipeline(tmp_path, [_stage("B", _build("b"))], {"p": Project("p", "nope.yml", {})}, buildspecs={})
    execution = p.run()
    assert execution.status == "Failed"
    assert "nope.yml is not in the source" in execution.actions[-1].summary


def _git(root: Path, *argv: str) -> str:
    return subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True, text=True).stdout


def test_sources_are_a_commit_or_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("one")
    git_repo(repo, "first")
    (repo / "a.txt").write_text("two (not committed)")
    (repo / "new.txt").write_text("untracked")
    committed = export_commit(repo, "HEAD", tmp_path / "c")
    assert (tmp_path / "c" / "a.txt").read_text() == "one" and not (tmp_path / "c" / "new.txt").exists()
    assert committed.commit == _git(repo, "rev-parse", "HEAD").strip() and committed.message == "first"
    export_working_tree(repo, tmp_path / "w")
    assert (tmp_path / "w" / "a.txt").read_text() == "two (not committed)"
    assert (tmp_path / "w" / "new.txt").exists() and not (tmp_path / "w" / ".git").exists()
    with pytest.raises(Exception, match="cannot read commit 'nope'"):
        export_commit(repo, "nope", tmp_path / "x")


def test_a_missing_git_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git (nor tar) on the PATH
    with pytest.raises(
        Exception, match="git is not installed: the local pipeline reads the source with git and tar"
    ):
        export_commit(tmp_path, "HEAD", tmp_path / "out")


BATCH = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo batch=$MLOPS_BATCH_ID\n"


def test_each_execution_has_its_id_as_the_codepipeline_variable(tmp_path: Path) -> None:
    """#{codepipeline.PipelineExecutionId} resolves, once per execution, as in CodePipeline
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html)."""
    action = _build(
        "Deploy",
        EnvironmentVariables='[{"name":"MLOPS_BATCH_ID","value":"#{codepipeline.PipelineExecutionId}"}]',
    )
    p = _pipeline(
        tmp_path,
        [_stage("Deploy-dev", action)],
        {"p": Project("p", "b.yml", {})},
        buildspecs={"b.yml": BATCH},
    )
    first, second = p.run(), p.run()
    assert first.status == second.status == "Succeeded"
    said = [line.split("batch=")[1] for line in p.lines if "batch=" in line and "echo" not in line]
    assert said == [first.execution_id, second.execution_id] and first.execution_id != second.execution_id


def test_the_orchestrators_deploy_actions_pass_the_execution_id_as_the_batch_id() -> None:
    d = read_definition(
        REPO_ROOT / ORCHESTRATOR_TEMPLATE, orchestrator_parameters(ENV), "111122223333", "eu-west-1"
    )
    import json

    for index in (2, 4, 6):
        config = d.stages[index].actions[0].configuration
        variables = {v["name"]: v for v in json.loads(config["EnvironmentVariables"])}
        assert variables["MLOPS_BATCH_ID"] == {
            "name": "MLOPS_BATCH_ID",
            "value": "#{codepipeline.PipelineExecutionId}",
            "type": "PLAINTEXT",
        }
