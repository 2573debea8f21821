"""A fanned-out deploy at template level (issue 17): environments.json stages[].shards (else
deploy.shards) reaches the orchestrator through bootstrap's Stage<k>DeployShards; with N > 1 each deploy project is a CodeBuild batch
(BuildBatchConfig, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-codebuild-project-projectbuildbatchconfig.html)
running buildspecs/deploy-shards-<N>.yml, the pipeline's deploy actions are BatchEnabled
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html), and
the batch's service role may start, stop and retry the deploy projects' builds and nothing else
(https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html#batch_security_role)."""

from __future__ import annotations

import pytest
import yaml

from mlops_gitops.config.environments import Environments
from mlops_gitops.ops.bootstrap import orchestrator_parameters
from mlops_gitops.ops.shards import MAX_SHARDS, SUMMARY_BUILDSPEC, batch_buildspec
from tests.conftest import REPO_ROOT
from tests.repo.iam_eval import allowed
from tests.repo.test_iam_policies import ORCH, orchestrator, role_statements
from tests.repo.test_orchestrator_template import evaluate, projects, stages

pytestmark = pytest.mark.repo

DEPLOYS = ["mlops-deploy-dev", "mlops-deploy-staging", "mlops-deploy-prod"]


def project_arn(name: str, account: str = ORCH) -> str:
    return f"arn:aws:codebuild:us-east-1:{account}:project/{name}"


def deploy_actions(ev) -> list[dict]:
    return [a for s in stages(ev) if s["Name"].startswith("Deploy-") for a in s["Actions"]]


def test_bootstrap_passes_each_stages_shards() -> None:
    env = Environments.from_data(
        {"stages": [{"name": "dev", "shards": 4}, {"name": "prod"}], "deploy": {"shards": 3}}
    )
    params = orchestrator_parameters(env)
    assert [params[f"Stage{k}DeployShards"] for k in (1, 2, 3)] == ["4", "3", "1"]
    plain = orchestrator_parameters(Environments.from_data({"stages": [{"name": "dev"}]}))
    assert plain["Stage1DeployShards"] == "1"


def all_stages(count: int) -> dict[str, str]:
    return {f"Stage{k}DeployShards": str(count) for k in (1, 2, 3)}


def test_only_the_stages_that_fan_out_are_batches() -> None:
    ev = evaluate(Stage1DeployShards="2")
    found = projects(ev)
    assert "BuildBatchConfig" in found["mlops-deploy-dev"]
    assert "BuildBatchConfig" not in found["mlops-deploy-staging"]
    assert "BuildBatchConfig" not in found["mlops-deploy-prod"]
    assert [a["Configuration"].get("BatchEnabled") for a in deploy_actions(ev)] == ["true", None, None]
    statements = role_statements(orchestrator(Stage1DeployShards="2"), "DeployBatchRole", ORCH)
    assert allowed(statements, "codebuild:StartBuild", project_arn("mlops-deploy-dev"))
    assert not allowed(statements, "codebuild:StartBuild", project_arn("mlops-deploy-prod"))


def test_one_shard_is_one_build_as_before() -> None:
    ev = evaluate()
    for name in DEPLOYS:
        assert "BuildBatchConfig" not in projects(ev)[name]
        assert projects(ev)[name]["Source"]["BuildSpec"] == "buildspecs/deploy.yml"
    assert all("BatchEnabled" not in a["Configuration"] for a in deploy_actions(ev))
    assert not ev.present("DeployBatchRole")


@pytest.mark.parametrize("count", range(2, MAX_SHARDS + 1))
def test_n_shards_make_each_deploy_a_batch_of_n_shards_and_a_final_step(count: int) -> None:
    ev = evaluate(**all_stages(count))
    for name in DEPLOYS:
        project = projects(ev)[name]
        path = project["Source"]["BuildSpec"]
        assert path == f"buildspecs/deploy-shards-{count}.yml"
        text = (REPO_ROOT / path).read_text()
        assert text == batch_buildspec(count), (
            f"{path} is stale: regenerate it with ops.shards.batch_buildspec"
        )
        config = project["BuildBatchConfig"]
        assert config["ServiceRole"] == "<DeployBatchRole.Arn>"
        assert config["Restrictions"]["MaximumBuildsAllowed"] == count + 1
        assert config["Restrictions"]["ComputeTypesAllowed"] == [project["Environment"]["ComputeType"]]
    assert [a["Configuration"]["BatchEnabled"] for a in deploy_actions(ev)] == ["true"] * 3


@pytest.mark.parametrize("count", range(2, MAX_SHARDS + 1))
def test_the_batch_graph_runs_every_shard_then_the_summary(count: int) -> None:
    graph = yaml.safe_load(batch_buildspec(count))["batch"]["build-graph"]
    shards = [t for t in graph if t["identifier"] != "summary"]
    [summary] = [t for t in graph if t["identifier"] == "summary"]
    assert [t["env"]["variables"]["MLOPS_SHARD"] for t in shards] == [
        f"{i}/{count}" for i in range(1, count + 1)
    ]
    assert summary["depend-on"] == [t["identifier"] for t in shards]
    assert summary["env"]["variables"]["MLOPS_SHARDS"] == str(count)
    assert summary["buildspec"] == SUMMARY_BUILDSPEC and (REPO_ROOT / SUMMARY_BUILDSPEC).is_file()
    assert not any(t.get("ignore-failure") for t in graph), "a shard that can't record fails the batch"


def test_the_batch_role_runs_the_deploy_projects_builds_and_nothing_else() -> None:
    template = orchestrator(**all_stages(4))
    statements = role_statements(template, "DeployBatchRole", ORCH)
    for name in DEPLOYS:
        for action in ("codebuild:StartBuild", "codebuild:StopBuild", "codebuild:RetryBuild"):
            assert allowed(statements, action, project_arn(name)), (action, name)
    for other in ("mlops-validate", "mlops-pr-check", "mlops-drift", "other-deploy-dev"):
        assert not allowed(statements, "codebuild:StartBuild", project_arn(other))
    for action, resource in [
        ("codebuild:StartBuildBatch", project_arn(DEPLOYS[0])),
        ("codebuild:UpdateProject", project_arn(DEPLOYS[0])),
        ("iam:PassRole", f"arn:aws:iam::{ORCH}:role/mlops-deploy-build-dev"),
        ("cloudformation:CreateChangeSet", f"arn:aws:cloudformation:us-east-1:{ORCH}:stack/mlops-a-dev/1"),
        ("s3:PutObject", f"arn:aws:s3:::mlops-deploy-{ORCH}-us-east-1/locks/dev.json"),
        ("sts:AssumeRole", f"arn:aws:iam::{ORCH}:role/mlops-deploy"),
    ]:
        assert not allowed(statements, action, resource), action
    trust = template[1].resource("DeployBatchRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [t["Principal"] for t in trust] == [{"Service": "codebuild.amazonaws.com"}]
    assert all(t["Condition"]["StringEquals"]["aws:SourceAccount"] for t in trust)


def test_the_build_roles_cannot_start_builds_themselves() -> None:
    """The batch role, not the build's, starts a batch's builds: a build can't start more."""
    template = orchestrator(**all_stages(4))
    for role in ("Stage1DeployBuildRole", "Stage2DeployBuildRole", "Stage3DeployBuildRole"):
        statements = role_statements(template, role, ORCH)
        for action in ("codebuild:StartBuild", "codebuild:StartBuildBatch", "codebuild:RetryBuild"):
            assert not allowed(statements, action, project_arn(DEPLOYS[0])), (role, action)


def test_the_pipeline_starts_and_reads_the_deploy_batches_only_when_fanned_out() -> None:
    fanned = role_statements(orchestrator(**all_stages(2)), "PipelineRole", ORCH)
    single = role_statements(orchestrator(), "PipelineRole", ORCH)
    for name in DEPLOYS:
        for action in ("codebuild:StartBuildBatch", "codebuild:BatchGetBuildBatches"):
            assert allowed(fanned, action, project_arn(name))
            assert not allowed(single, action, project_arn(name))
    assert not allowed(fanned, "codebuild:StartBuildBatch", project_arn("mlops-validate"))


def test_each_stage_writes_its_own_shard_records_only() -> None:
    statements = role_statements(orchestrator(**all_stages(2)), "Stage1DeployBuildRole", ORCH)
    bucket = f"arn:aws:s3:::mlops-deploy-{ORCH}-us-east-1"
    assert allowed(statements, "s3:PutObject", f"{bucket}/shards/dev/b-1/1-of-2.json")
    assert allowed(statements, "s3:GetObject", f"{bucket}/shards/dev/b-1/2-of-2.json")
    assert not allowed(statements, "s3:PutObject", f"{bucket}/shards/prod/b-1/1-of-2.json")
    assert not allowed(statements, "s3:DeleteObject", f"{bucket}/shards/dev/b-1/1-of-2.json")


def test_only_the_deploy_projects_batches_may_act_as_the_batch_role() -> None:
    """The batch role may start prod's deploy build; a CodeBuild project a pipeline stack makes
    (mlops-x-dev-...) must not be able to run as it (an attacker's review: dev's template could
    otherwise reach prod without approval). CodeBuild names the project or batch as aws:SourceArn:
    https://docs.aws.amazon.com/codebuild/latest/userguide/cross-service-confused-deputy-prevention.html"""
    template = orchestrator(**all_stages(2))
    trust = template[1].resource("DeployBatchRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    account = trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"]  # the evaluated account
    role = f"arn:aws:iam::{account}:role/mlops-deploy-batch"

    def may_assume(source_arn: str) -> bool:
        ctx = {"aws:SourceAccount": account, "aws:SourceArn": source_arn}
        # a trust policy has no Resource: it is the role's own
        return allowed([{**t, "Resource": role} for t in trust], "sts:AssumeRole", role, ctx)

    assert may_assume(project_arn("mlops-deploy-prod", account))
    assert may_assume(f"arn:aws:codebuild:us-east-1:{account}:build-batch/mlops-deploy-dev:1b2c")
    assert not may_assume(project_arn("mlops-x-dev-evil", account))
    assert not may_assume(project_arn("mlops-deploy-prod", account="999999999999"))
