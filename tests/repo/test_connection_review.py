"""Issue 19 part 2 at template level: a repository reached through a connection (GitHub, GitLab,
Bitbucket) gets the pull-request check and the drift build of the CodeCommit path, with the same
trust boundaries (docs/security-model.md "Trust boundaries", DESIGN §9). Evaluated as
CloudFormation would for connection parameters (cfn_eval), IAM with tests/repo/iam_eval.py.

The trigger is a CodeBuild webhook on the pr-check project
(https://docs.aws.amazon.com/codebuild/latest/userguide/github-webhook.html), not a CodePipeline V2
pull-request trigger, which would run the whole pipeline, deploys included, on the pull request's
code (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from mlops_gitops.config.environments import Environments
from mlops_gitops.ops.bootstrap import orchestrator_parameters
from tests.repo.iam_eval import allowed
from tests.repo.test_iam_policies import (
    ARTIFACTS,
    ORCH,
    ORCH_DEPLOY_BUCKET,
    orchestrator,
    role_statements,
    stack_arn,
)

pytestmark = pytest.mark.repo

CONNECTION = f"arn:aws:codeconnections:us-east-1:{ORCH}:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
OTHER_CONNECTION = f"arn:aws:codeconnections:us-east-1:{ORCH}:connection/ffffffff-aaaa-bbbb-cccc-0123456789ab"


def connected(provider: str = "GitHub", branch: str = "release", **more: str):
    return orchestrator(
        SourceProvider="CodeStarSourceConnection",
        ConnectionArn=CONNECTION,
        FullRepositoryId="org/ml-configs",
        ConnectionProvider=provider,
        BranchName=branch,
        **more,
    )


def pr_check(provider: str = "GitHub") -> dict:
    body, ev = connected(provider)
    assert ev.present("ConnectionPrCheckProject") and not ev.present("PrCheckProject")
    return ev.resource("ConnectionPrCheckProject")["Properties"]


# https://docs.aws.amazon.com/codebuild/latest/userguide/github-webhook.html,
# https://docs.aws.amazon.com/codebuild/latest/userguide/gitlab-webhook.html,
# https://docs.aws.amazon.com/codebuild/latest/userguide/bitbucket-webhook.html (no PULL_REQUEST_REOPENED)
EVENTS = {
    "GitHub": {"PULL_REQUEST_CREATED", "PULL_REQUEST_UPDATED", "PULL_REQUEST_REOPENED"},
    "GitLab": {"PULL_REQUEST_CREATED", "PULL_REQUEST_UPDATED", "PULL_REQUEST_REOPENED"},
    "Bitbucket": {"PULL_REQUEST_CREATED", "PULL_REQUEST_UPDATED"},
}


@pytest.mark.parametrize("provider", sorted(EVENTS))
def test_connection_pr_check_is_a_codebuild_webhook_on_pull_requests_into_the_deployed_branch(
    provider,
) -> None:
    project = pr_check(provider)
    assert project["Name"] == "mlops-pr-check"
    triggers = project["Triggers"]
    assert triggers["Webhook"] is True and triggers["BuildType"] == "BUILD"
    (group,) = triggers["FilterGroups"]
    filters = {f["Type"]: f["Pattern"] for f in group}
    assert set(filters) == {"EVENT", "BASE_REF"}
    # no PUSH, no PULL_REQUEST_MERGED: nothing but a review of an open pull request
    assert {e.strip() for e in filters["EVENT"].split(",")} == EVENTS[provider]
    base = re.compile(filters["BASE_REF"])
    assert base.search("refs/heads/release")
    for other in ("refs/heads/mine", "refs/heads/release-candidate", "refs/heads/x/release"):
        assert not base.search(other), other
    # the pipeline itself is never started by a pull request (no V2 pull-request trigger)
    _, ev = connected()
    assert "PullRequest" not in json.dumps(ev.resource("Pipeline")["Properties"].get("Triggers", []))
    assert not ev.present("PullRequestRule")  # CodeCommit's events only


@pytest.mark.parametrize(
    ("provider", "kind", "url"),
    [
        ("GitHub", "GITHUB", "https://github.com/org/ml-configs.git"),
        ("GitLab", "GITLAB", "https://gitlab.com/org/ml-configs.git"),
        ("Bitbucket", "BITBUCKET", "https://bitbucket.org/org/ml-configs.git"),
    ],
)
def test_connection_pr_check_clones_through_the_connection_and_reports_the_commit_status(
    provider, kind, url
) -> None:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codebuild-project-sourceauth.html
    # https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html (reportBuildStatus)
    source = pr_check(provider)["Source"]
    assert source["Type"] == kind and source["Location"] == url
    assert source["Auth"] == {"Type": "CODECONNECTIONS", "Resource": CONNECTION}
    assert source["ReportBuildStatus"] is True
    assert source["GitCloneDepth"] == 0


def test_connection_pr_check_keeps_the_inline_buildspec_and_takes_mlopsctl_from_the_deployed_branch() -> None:
    project = pr_check()
    spec = yaml.safe_load(project["Source"]["BuildSpec"])  # inline: a mapping, not a path in the checkout
    assert isinstance(spec, dict) and spec["version"] == 0.2
    (install,) = spec["phases"]["install"]["commands"]
    steps = [s.strip() for s in install.split(" && ")]
    # the base branch again, exactly (the webhook's BASE_REF is a regular expression)
    assert steps[0] == 'test "$CODEBUILD_WEBHOOK_BASE_REF" = "refs/heads/$MLOPS_BRANCH"'
    assert steps[1] == 'git fetch --no-tags origin "refs/heads/$MLOPS_BRANCH"'
    assert steps[2] == "git worktree add --detach /tmp/mlops-trusted FETCH_HEAD"
    assert steps[3].startswith("python -I -m pip install") and steps[3].endswith("/tmp/mlops-trusted")
    assert "HEAD_REF" not in install and "RESOLVED_SOURCE_VERSION" not in install
    (build,) = spec["phases"]["build"]["commands"]
    assert build.startswith("mlopsctl pr-check ")
    assert '--destination-commit "$(git -C /tmp/mlops-trusted rev-parse HEAD)"' in build
    assert "--pull-request-id" not in build  # CodeCommit's API: not this repository's
    # the comment's provider, repository and token secret come from the project, not the checkout
    for option in (
        '--provider-pull-request "${CODEBUILD_WEBHOOK_TRIGGER#pr/}"',
        '--provider "$MLOPS_PROVIDER"',
        '--provider-repository "$MLOPS_REPOSITORY_ID"',
        '--provider-token-secret "$MLOPS_TOKEN_SECRET"',
    ):
        assert option in build, option
    assert "--provider-api-url" not in build  # the token goes to the provider's own API only
    env = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert env == {
        "MLOPS_BRANCH": "release",
        "MLOPS_PROVIDER": "GitHub",
        "MLOPS_REPOSITORY_ID": "org/ml-configs",
        "MLOPS_TOKEN_SECRET": "",
    }


def test_the_pr_check_role_may_read_the_provider_token_secret_and_no_other() -> None:
    # https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html
    secret = f"arn:aws:secretsmanager:us-east-1:{ORCH}:secret:mlops/github-token"
    for template in (connected(), connected(ProviderTokenSecret="")):
        sts = role_statements(template, "PrCheckBuildRole", ORCH)
        assert not allowed(sts, "secretsmanager:GetSecretValue", f"{secret}-AbCdEf")
    body, ev = with_token = connected(ProviderTokenSecret="mlops/github-token")
    sts = role_statements(with_token, "PrCheckBuildRole", ORCH)
    assert allowed(sts, "secretsmanager:GetSecretValue", f"{secret}-AbCdEf")
    for other in (
        f"{secret}-admin-AbCdEf",
        f"{secret}x-AbCdEf",
        f"arn:aws:secretsmanager:us-east-1:{ORCH}:secret:db-AbCdEf",
    ):
        assert not allowed(sts, "secretsmanager:GetSecretValue", other), other
    for action in (
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecret",
        "secretsmanager:DeleteSecret",
    ):
        assert not allowed(sts, action, f"{secret}-AbCdEf"), action
    for role in ("DriftBuildRole", "ValidateBuildRole", "Stage1DeployBuildRole"):
        assert not allowed(
            role_statements(with_token, role, ORCH), "secretsmanager:GetSecretValue", f"{secret}-AbCdEf"
        )
    env = {
        v["Name"]: v["Value"]
        for v in ev.resource("ConnectionPrCheckProject")["Properties"]["Environment"]["EnvironmentVariables"]
    }
    assert env["MLOPS_TOKEN_SECRET"] == "mlops/github-token"
    # a CodeCommit source reads no token
    _, plain = orchestrator(ProviderTokenSecret="mlops/github-token")
    assert not plain.present("ProviderTokenPolicy")


def test_connection_pr_check_runs_with_the_read_only_pr_check_role() -> None:
    project = pr_check()
    assert project["ServiceRole"] == "<PrCheckBuildRole.Arn>"
    sts = role_statements(connected(), "PrCheckBuildRole", ORCH)
    # the connection: this one only (https://docs.aws.amazon.com/codebuild/latest/userguide/connections-github-app.html)
    for action in ("codeconnections:UseConnection", "codeconnections:GetConnectionToken"):
        assert allowed(sts, action, CONNECTION)
        assert not allowed(sts, action, OTHER_CONNECTION)
    for action in ("codeconnections:CreateConnection", "codeconnections:UpdateConnectionInstallation"):
        assert not allowed(sts, action, CONNECTION)
    # no write credentials: nothing deploy reads, no stack, no role to pass but the preview's
    for arn in (f"{ARTIFACTS}/mlops-pipeline/Source/abc.zip", f"{ORCH_DEPLOY_BUCKET}/templates/x.yaml"):
        for action in ("s3:PutObject", "s3:DeleteObject"):
            assert not allowed(sts, action, arn), (action, arn)
    stack = stack_arn(ORCH, "mlops-churn-dev")
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
    ):
        assert not allowed(sts, action, stack), action
    ctx = {"iam:PassedToService": "cloudformation.amazonaws.com"}
    assert not allowed(sts, "iam:PassRole", f"arn:aws:iam::{ORCH}:role/mlops-cfn-exec-us-east-1", ctx)
    assert not allowed(
        sts, "codepipeline:StartPipelineExecution", f"arn:aws:codepipeline:us-east-1:{ORCH}:mlops-pipeline"
    )
    assert not allowed(
        sts, "codebuild:StartBuild", f"arn:aws:codebuild:us-east-1:{ORCH}:project/mlops-deploy-prod"
    )
    assert not allowed(
        sts, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ORCH}:secret:x"
    )


def test_drift_runs_on_schedule_for_a_connection_from_the_deployed_branch() -> None:
    body, ev = connected("GitLab")
    assert ev.present("ConnectionDriftProject") and not ev.present("DriftProject")
    drift = ev.resource("ConnectionDriftProject")["Properties"]
    assert drift["Name"] == "mlops-drift" and drift["ServiceRole"] == "<DriftBuildRole.Arn>"
    assert drift["Source"]["Type"] == "GITLAB"
    assert drift["Source"]["Auth"] == {"Type": "CODECONNECTIONS", "Resource": CONNECTION}
    assert drift["Source"]["BuildSpec"] == "buildspecs/drift.yml"
    assert drift["SourceVersion"] == "refs/heads/release"  # trusted code: the deployed branch
    assert "Triggers" not in drift  # the schedule starts it, never a repository event
    assert ev.present("DriftRule")
    rule = ev.resource("DriftRule")["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    (target,) = rule["Targets"]
    assert target["Arn"].endswith(":project/mlops-drift")
    sts = role_statements((body, ev), "DriftBuildRole", ORCH)
    assert allowed(sts, "codeconnections:UseConnection", CONNECTION)
    # CodeCommit source: unchanged
    _, plain = orchestrator()
    assert plain.present("DriftProject") and plain.present("DriftRule")
    assert not plain.present("ConnectionDriftProject") and not plain.present("ConnectionPrCheckProject")
    assert not plain.present("ReviewConnectionPolicy")


@pytest.mark.parametrize(
    ("given", "parameter"), [(None, "GitHub"), ("gitlab", "GitLab"), ("bitbucket", "Bitbucket")]
)
def test_environments_provider_becomes_the_connection_provider_parameter(given, parameter) -> None:
    orch = {"source": "connection", "connection_arn": CONNECTION, "full_repository_id": "org/ml-configs"}
    if given:
        orch["provider"] = given
    env = Environments.from_data({"stages": [{"name": "dev"}], "orchestrator": orch})
    assert orchestrator_parameters(env)["ConnectionProvider"] == parameter


def test_environments_provider_token_secret_becomes_the_parameter_for_connections_only() -> None:
    orch = {"source": "connection", "connection_arn": CONNECTION, "full_repository_id": "org/ml-configs"}
    env = Environments.from_data(
        {"stages": [{"name": "dev"}], "orchestrator": {**orch, "provider_token_secret": "mlops/gh"}}
    )
    assert orchestrator_parameters(env)["ProviderTokenSecret"] == "mlops/gh"
    plain = Environments.from_data(
        {"stages": [{"name": "dev"}], "orchestrator": {"provider_token_secret": "x"}}
    )
    assert orchestrator_parameters(plain)["ProviderTokenSecret"] == ""
