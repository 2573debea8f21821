"""`mlopsctl history`: who approved (issue 19, part 5). moto's CodeCommit has no pull-request calls
and its CodePipeline has no ListActionExecutions (moto/codecommit/responses.py,
moto/codepipeline/responses.py), so every answer is scripted with botocore's Stubber on real
clients, in the shapes of the API references:
https://docs.aws.amazon.com/codecommit/latest/APIReference/API_GetPullRequest.html,
https://docs.aws.amazon.com/codecommit/latest/APIReference/API_GetPullRequestApprovalStates.html,
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListPipelineExecutions.html,
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListActionExecutions.html."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import boto3
import pytest
from botocore.stub import Stubber

from mlops_gitops.aws.codecommit import CodeCommitGateway
from mlops_gitops.aws.codepipeline import CodePipelineGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.ops.history import History, Live, add_approvals, config_history
from mlops_gitops.repo import Repo
from mlops_gitops.report.history import history_json, history_markdown, history_text
from tests.unit.ops.test_history import repo  # noqa: F401  (the fixture)

PERSON = "arn:aws:iam::111122223333:user/alice"
BUILD = "arn:aws:sts::111122223333:assumed-role/mlops-pr-check-build/AWSCodeBuild-1234"
APPROVER = "arn:aws:sts::111122223333:assumed-role/ReleaseManagers/carol"
WHEN = dt.datetime(2026, 11, 30, 9, 15, tzinfo=dt.timezone.utc)


def _client(service: str):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _pr(pr_id: str, *, merged: bool, merge_commit: str = "", base: str = "", source: str = "0" * 40) -> dict:
    target = {
        "repositoryName": "mlops-gitops",
        "sourceReference": f"refs/heads/change-{pr_id}",
        "destinationReference": "refs/heads/main",
        "sourceCommit": source,
        "destinationCommit": "1" * 40,
        "mergeMetadata": {"isMerged": merged},
    }
    if base:
        target["mergeBase"] = base
    if merged:
        target["mergeMetadata"].update(mergedBy=PERSON, mergeCommitId=merge_commit or "f" * 40)
    return {
        "pullRequest": {
            "pullRequestId": pr_id,
            "title": f"change {pr_id}",
            "pullRequestStatus": "CLOSED",
            "revisionId": f"rev-{pr_id}",
            "pullRequestTargets": [target],
        }
    }


def _root_commit(root) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "rev-list", "--max-parents=0", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _execution(execution_id: str, commit: str) -> dict:
    return {
        "pipelineExecutionId": execution_id,
        "status": "Succeeded",
        "startTime": WHEN,
        "sourceRevisions": [{"actionName": "Source", "revisionId": commit}],
    }


def _action(execution_id: str, stage: str, status: str, by: str = "", summary: str = "") -> dict:
    detail = {
        "pipelineExecutionId": execution_id,
        "stageName": stage,
        "actionName": "Approve",
        "status": status,
        "lastUpdateTime": WHEN,
        "input": {
            "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
        },
    }
    if by:
        detail["updatedBy"] = by
    if summary:
        detail["output"] = {"executionResult": {"externalExecutionSummary": summary}}
    return detail


CALLS: set[str] = set()


def _record(model, **_) -> None:
    CALLS.add(f"{model.service_model.signing_name}:{model.name}")


def _history_read_policy() -> set[str]:
    """The actions of the policy operators attach to run history (IAM actions named as the APIs:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodecommit.html,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodepipeline.html)."""
    from mlops_gitops.core.templates import _parse
    from tests.conftest import REPO_ROOT

    body = _parse((REPO_ROOT / "cloudformation" / "orchestrator.yaml").read_text())
    statements = body["Resources"]["HistoryReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    return {a for st in statements for a in st["Action"]}


def test_pull_requests_and_pipeline_approvals_name_who_approved(repo) -> None:  # noqa: F811
    root, (first, second) = repo
    env = Validator(Repo(root)).environments()
    changes = config_history(Repo(root), "fraud-ab", env)
    live = [
        Live("dev", "mlops-fraud-ab-dev", "UPDATE_COMPLETE", second),
        Live("staging", "mlops-fraud-ab-staging", "UPDATE_COMPLETE", second),
        Live("prod", "mlops-fraud-ab-prod", "UPDATE_COMPLETE", first),
    ]
    history = History("fraud-ab", changes, live)
    cc, cp = _client("codecommit"), _client("codepipeline")
    for client in (cc, cp):
        client.meta.events.register("before-parameter-build", _record)
    with Stubber(cc) as ccs, Stubber(cp) as cps:
        ccs.add_response(
            "list_pull_requests",
            {"pullRequestIds": ["3", "2", "1"]},
            {"repositoryName": "mlops-gitops", "pullRequestStatus": "CLOSED"},
        )
        ccs.add_response("get_pull_request", _pr("3", merged=False), {"pullRequestId": "3"})
        # squash or fast-forward: the change is the merge commit itself
        ccs.add_response(
            "get_pull_request", _pr("2", merged=True, merge_commit=second), {"pullRequestId": "2"}
        )
        # three-way merge: the change lies between the merge base and the source commit
        ccs.add_response(
            "get_pull_request",
            _pr("1", merged=True, base=_root_commit(root), source=first),
            {"pullRequestId": "1"},
        )
        ccs.add_response(
            "get_pull_request_approval_states",
            {
                "approvals": [
                    {"userArn": PERSON, "approvalState": "APPROVE"},
                    {"userArn": BUILD, "approvalState": "APPROVE"},
                ]
            },
            {"pullRequestId": "2", "revisionId": "rev-2"},
        )
        ccs.add_response(
            "get_pull_request_approval_states",
            {
                "approvals": [
                    {"userArn": BUILD, "approvalState": "APPROVE"},
                    {"userArn": PERSON, "approvalState": "REVOKE"},
                ]
            },
            {"pullRequestId": "1", "revisionId": "rev-1"},
        )
        cps.add_response(
            "list_pipeline_executions",
            {
                "pipelineExecutionSummaries": [
                    _execution("e-3", second),
                    _execution("e-2", second),
                    _execution("e-1", first),
                ]
            },
            {"pipelineName": "mlops-pipeline", "maxResults": 100},
        )
        # the newest run of the live commit was rejected before staging; the one before was approved
        cps.add_response(
            "list_action_executions",
            {
                "actionExecutionDetails": [
                    _action("e-3", "Approve-staging", "Failed", APPROVER, "metrics regressed")
                ]
            },
            {"pipelineName": "mlops-pipeline", "filter": {"pipelineExecutionId": "e-3"}},
        )
        cps.add_response(
            "list_action_executions",
            {
                "actionExecutionDetails": [
                    _action("e-2", "Approve-staging", "Succeeded", APPROVER, "ok | ship")
                ]
            },
            {"pipelineName": "mlops-pipeline", "filter": {"pipelineExecutionId": "e-2"}},
        )
        cps.add_response(
            "list_action_executions",
            {
                "actionExecutionDetails": [
                    _action("e-1", "Approve-staging", "Succeeded", APPROVER),
                    _action("e-1", "Approve-prod", "Succeeded", PERSON, "CAB-42"),
                ]
            },
            {"pipelineName": "mlops-pipeline", "filter": {"pipelineExecutionId": "e-1"}},
        )
        add_approvals(history, Repo(root), env, CodeCommitGateway(cc), CodePipelineGateway(cp))
        ccs.assert_no_pending_responses()
        cps.assert_no_pending_responses()

    assert history.approvals_note == ""
    assert CALLS == _history_read_policy(), "orchestrator.yaml's HistoryReadPolicy grants what history calls"
    pr2, pr1 = history.pull_requests[second], history.pull_requests[first]
    assert (pr2.pull_request_id, pr2.people, pr2.check, pr2.merged_by) == ("2", [PERSON], [BUILD], PERSON)
    assert (pr1.pull_request_id, pr1.people, pr1.check) == ("1", [], [BUILD]), "a revoked approval is none"
    assert changes[-1].commit not in history.pull_requests, "the first commit came without a pull request"
    assert history.approvals["dev"].status == "no approval step"
    staging, prod = history.approvals["staging"], history.approvals["prod"]
    assert (staging.status, staging.by, staging.summary, staging.execution_id) == (
        "approved",
        APPROVER,
        "ok | ship",
        "e-2",
    )
    assert (prod.status, prod.by, prod.at, prod.summary) == ("approved", PERSON, WHEN.isoformat(), "CAB-42")

    text = history_text(history)
    assert (
        f"{second[:12]}: pull request 2 'change 2', merged by {PERSON}: approved by {PERSON}; check: the pr-check build"
        in text
    )
    assert (
        f"{first[:12]}: pull request 1 'change 1', merged by {PERSON}: approved by no person; check: the pr-check build"
        in text
    )
    assert (
        f"prod pipeline approval: approved by {PERSON} at {WHEN.isoformat()}, comment 'CAB-42' (execution e-1)"
        in text
    )
    data = json.loads(history_json(history))
    assert data["approvals_known"] is True and data["approvals"]["staging"]["by"] == APPROVER
    assert data["pull_requests"][second]["check"] == [BUILD]
    markdown = history_markdown(history)
    assert "#### Approvals" in markdown and "ok \\| ship" in markdown


def test_what_aws_cannot_answer_is_named_unknown_and_the_rest_stands(repo) -> None:  # noqa: F811
    root, (first, second) = repo
    env = Validator(Repo(root)).environments()
    history = History(
        "fraud-ab", config_history(Repo(root), "fraud-ab", env), [Live("prod", "s", "UPDATE_COMPLETE", first)]
    )
    cc, cp = _client("codecommit"), _client("codepipeline")
    with Stubber(cc) as ccs, Stubber(cp) as cps:
        ccs.add_client_error("list_pull_requests", "AccessDeniedException", "not allowed")
        cps.add_client_error("list_pipeline_executions", "PipelineNotFoundException", "no pipeline")
        add_approvals(history, Repo(root), env, CodeCommitGateway(cc), CodePipelineGateway(cp))
    assert history.approvals_note == (
        "pull requests unknown (AccessDeniedException: not allowed); "
        "pipeline approvals unknown (PipelineNotFoundException: no pipeline)"
    )
    text = history_text(history)
    assert "approvals: pull requests unknown (AccessDeniedException" in text
    assert "no merged pull request found" not in text, "unknown is not 'none'"
    assert json.loads(history_json(history))["approvals_known"] is False
    assert json.loads(history_json(history))["pull_requests"] is None


def test_a_stand_in_without_the_apis_is_named_as_such(repo) -> None:  # noqa: F811
    """moto answers the pull-request calls HTTP 500 "has not been implemented"."""
    root, (first, _) = repo
    env = Validator(Repo(root)).environments()
    history = History(
        "fraud-ab", config_history(Repo(root), "fraud-ab", env), [Live("prod", "s", "UPDATE_COMPLETE", first)]
    )
    cc, cp = _client("codecommit"), _client("codepipeline")
    with Stubber(cc) as ccs, Stubber(cp) as cps:
        ccs.add_client_error(
            "list_pull_requests", "500", "The list_pull_requests action has not been implemented", 500
        )
        cps.add_client_error("list_pipeline_executions", "500", "<!doctype html><title>500</title>", 500)
        add_approvals(history, Repo(root), env, CodeCommitGateway(cc), CodePipelineGateway(cp))
    assert history.approvals_note == (
        "pull requests unknown (the endpoint does not implement CodeCommit pull requests); "
        "pipeline approvals unknown (the endpoint does not implement CodePipeline action executions)"
    )


def test_offline_history_says_approvals_are_unknown(repo) -> None:  # noqa: F811
    from tests.conftest import run_cli

    root, _ = repo
    result = run_cli("--repo-root", str(root), "history", "fraud-ab", "--offline")
    assert result.code == 0, result.err
    assert "approvals: unknown (offline" in result.out
    as_json = run_cli("--repo-root", str(root), "history", "fraud-ab", "--offline", "--format", "json")
    assert json.loads(as_json.out)["approvals_known"] is False


@pytest.mark.parametrize(
    "arn, check",
    [
        (BUILD, True),
        ("arn:aws-us-gov:sts::111122223333:assumed-role/mlops-pr-check-build/AWSCodeBuild-9", True),
        ("arn:aws:sts::111122223333:assumed-role/mlops-pr-check-build-evil/x", False),
        ("arn:aws:iam::111122223333:role/mlops-pr-check-build", False),
        (PERSON, False),
    ],
)
def test_only_the_pr_check_builds_sessions_count_as_the_check(arn: str, check: bool) -> None:
    from mlops_gitops.config.environments import Environments
    from mlops_gitops.ops.approval_rules import is_check_build

    env = Environments.from_data({"stack_prefix": "mlops", "stages": [{"name": "dev"}]})
    assert is_check_build(arn, env) is check
