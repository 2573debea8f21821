"""The provisioning API's function, called as API Gateway calls it (REST API proxy events), over a
git repository standing in for CodeCommit (tests/git_codecommit.py), every call held to the role
the companion template grants (tests/provisioning_support.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.config.mwo import migrate
from mlops_gitops.lambdas import provisioning_api as api
from tests.conftest import REPO_ROOT
from tests.fakes import FakeCloudFormation, FakeStack
from tests.git_codecommit import GitCodeCommit
from tests.provisioning_support import api_event, codecommit, configs_remote, environment, show, tip

MWO = REPO_ROOT / "tests" / "fixtures" / "mwo"
BODY = json.loads((MWO / "byom_batch_builtin.json").read_text())  # model_name churn-batch
CONFIG = "pipeline-configs/churn-batch/mlops-config.json"
WRITES = {"CreateCommit", "CreateBranch", "CreatePullRequest"}


@pytest.fixture(scope="module")
def template_remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return configs_remote(tmp_path_factory.mktemp("remote"))


@pytest.fixture
def remote(template_remote: Path, tmp_path: Path) -> Path:
    """A fresh copy of the module's bare repository per test (commits change it)."""
    import shutil

    return Path(shutil.copytree(template_remote, tmp_path / "remote.git"))


def call(event: dict, git, direct: str = "No", cfn=None) -> tuple[int, object]:
    clients = {"codecommit": git, "cloudformation": cfn or FakeCloudFormation()}
    answer = api.handler(event, None, clients=clients.__getitem__, environ=environment(direct))
    body = answer["body"]
    return answer["statusCode"], json.loads(body) if answer["headers"][
        "Content-Type"
    ] == "application/json" else body


def writes(git) -> list[str]:
    return [op for op, _ in git.calls if op in WRITES]


# ------------------------------------------------------------------ POST /provisionpipeline


def test_by_default_a_valid_body_becomes_a_branch_and_a_pull_request_not_a_commit_to_main(
    remote: Path,
) -> None:
    git = codecommit(remote)
    before = tip(remote)
    status, body = call(api_event("/provisionpipeline", BODY), git)
    assert status == 200, body
    assert body["pipeline_id"] == "churn-batch"
    assert body["branch"].startswith("provision/churn-batch-") and body["pull_request_id"] == "1"
    assert body["reference"].endswith("/pull-requests/1/details?region=us-east-1")
    assert tip(remote) == before, "the deployed branch is untouched"
    assert body["commit_id"] == tip(remote, body["branch"])
    assert show(remote, body["branch"], CONFIG) == migrate(BODY).text()  # as migrate-mwo writes it
    (pr,) = git.pull_requests
    assert pr["pullRequestTargets"][0]["destinationReference"] == "main"
    assert pr["pullRequestTargets"][0]["sourceReference"] == body["branch"]
    assert "user/alice" in pr["description"], "the commit and the pull request name who asked"


def test_a_body_with_findings_answers_400_with_each_finding_and_commits_nothing(remote: Path) -> None:
    git = codecommit(remote)
    bad = {**BODY, "inference_instance": "ml.m5.huge", "batch_job_output_location": 5}
    status, body = call(api_event("/provisionpipeline", bad), git)
    assert status == 400
    assert body["message"] == "A BadRequest exception occurred"
    by_path = {f["path"]: f for f in body["findings"]}
    assert {"$.inference_instance", "$.batch_job_output_location"} <= set(by_path)
    for finding in by_path.values():
        assert finding["file"] == CONFIG and finding["message"] and finding["hint"]
    assert "ml.m5.huge" in by_path["$.inference_instance"]["message"]
    assert f"{CONFIG}: $.inference_instance: " in body["detailedMessage"]
    assert writes(git) == [] and tip(remote) == tip(remote)
    assert [b for b in _branches(remote) if b.startswith("provision/")] == []


def test_the_validator_reads_the_deployed_branchs_environments_json(remote: Path) -> None:
    """A stage map naming a stage environments.json lacks is a finding, until the branch's own
    environments.json (not one the function was built with) has that stage."""
    git = codecommit(remote)
    body = {**BODY, "inference_instance": {"dev": "ml.m5.large", "qa": "ml.m5.large"}}
    status, answer = call(api_event("/provisionpipeline", body), git)
    assert status == 400
    assert any(
        f["path"].startswith("$.inference_instance") and "qa" in f["message"] for f in answer["findings"]
    )
    environments = json.loads(show(remote, "main", "pipeline-configs/environments.json"))
    environments["stages"] = [{"name": "dev"}, {"name": "qa"}]
    GitCodeCommit(remote, "mlops-gitops").create_commit(  # a maintainer's commit, not the function's
        repositoryName="mlops-gitops",
        branchName="main",
        parentCommitId=tip(remote),
        putFiles=[
            {
                "filePath": "pipeline-configs/environments.json",
                "fileContent": json.dumps(environments).encode(),
            }
        ],
    )
    status, answer = call(api_event("/provisionpipeline", body), git)
    assert status == 200, answer


def test_the_same_body_twice_is_already_provisioned_with_no_second_commit(remote: Path) -> None:
    git = codecommit(remote)
    first = call(api_event("/provisionpipeline", BODY), git)[1]
    status, again = call(api_event("/provisionpipeline", BODY), git)
    assert status == 200
    assert "already proposed" in again["message"] and "no changes" in again["message"]
    assert again["branch"] == first["branch"] and "pull_request_id" not in again
    assert writes(git) == ["CreateBranch", "CreateCommit", "CreatePullRequest"]


def test_direct_commit_is_an_explicit_opt_in_and_then_lands_on_main_once(remote: Path) -> None:
    git = codecommit(remote, direct_commit="Yes")
    status, body = call(api_event("/provisionpipeline", BODY), git, direct="Yes")
    assert status == 200, body
    assert body["commit_id"] == tip(remote) and body["branch"] == "main"
    assert "pull_request_id" not in body and git.pull_requests == []
    assert show(remote, "main", CONFIG) == migrate(BODY).text()
    status, again = call(api_event("/provisionpipeline", BODY), git, direct="Yes")
    assert status == 200 and again["message"] == "Pipeline churn-batch is already provisioned, no changes."
    assert tip(remote) == body["commit_id"], "no empty commit"
    assert writes(git) == ["CreateCommit"]


def test_direct_commit_still_proposes_when_approval_rule_templates_protect_the_repository(
    remote: Path,
) -> None:
    git = codecommit(remote, direct_commit="Yes", templates=("mlops-check-approval", "mlops-human-approval"))
    before = tip(remote)
    status, body = call(api_event("/provisionpipeline", BODY), git, direct="Yes")
    assert status == 200 and body["pull_request_id"] == "1"
    assert tip(remote) == before


def test_without_the_opt_in_the_role_itself_refuses_a_commit_to_main(remote: Path) -> None:
    """The function's settings say No and so does its role: a commit to main is AccessDenied."""
    git = codecommit(remote, direct_commit="No")
    with pytest.raises(Exception, match="AccessDenied"):
        git.create_commit(
            repositoryName="mlops-gitops",
            branchName="main",
            parentCommitId=tip(remote),
            putFiles=[{"filePath": CONFIG, "fileContent": b"{}"}],
        )
    status, body = call(api_event("/provisionpipeline", BODY), git, direct="Yes")  # settings alone: denied
    assert status == 400 and "AccessDenied" in body["detailedMessage"]
    assert body["message"] == "A boto3 ClientError occurred"


@pytest.mark.parametrize(
    "event, detail",
    [
        (api_event("/provision", BODY), api.BAD_PATH),
        (api_event("/provisionpipeline", BODY, method="GET"), api.BAD_PATH),
        ({"pipeline_type": "byom_batch_builtin"}, api.BAD_FORMAT),
        (api_event("/provisionpipeline", "{not json"), "Bad request format. The body is not JSON"),
        (api_event("/provisionpipeline", None), "Bad request format. The request has no body"),
        (api_event("/provisionpipeline", {"model_name": "x"}), "no pipeline_type"),
        (
            api_event("/provisionpipeline", {"pipeline_type": "create_model_card", "name": "c"}),
            "model-card operation",
        ),
        (api_event("/pipelinestatus", {}), "necessary parameter: pipeline_id"),
        (api_event("/pipelinestatus", {"pipeline_id": "../x"}), "necessary parameter: pipeline_id"),
    ],
)
def test_requests_mwo_refused_answer_mwos_400(remote: Path, event: dict, detail: str) -> None:
    git = codecommit(remote)
    status, body = call(event, git)
    assert status == 400
    assert body["message"] == "A BadRequest exception occurred"
    assert body["detailedMessage"].startswith(detail) or detail in body["detailedMessage"]
    assert writes(git) == []


def test_the_pipeline_id_may_be_given_in_the_query_and_must_be_one(remote: Path) -> None:
    git = codecommit(remote)
    status, body = call(api_event("/provisionpipeline", BODY, query={"id": "churn-nightly"}), git)
    assert status == 200 and body["pipeline_id"] == "churn-nightly"
    assert show(remote, body["branch"], "pipeline-configs/churn-nightly/mlops-config.json")
    status, body = call(api_event("/provisionpipeline", BODY, query={"id": "Churn_Nightly"}), git)
    assert status == 400 and "can't be a pipeline id" in body["detailedMessage"]


def test_an_unexpected_failure_answers_mwos_500_without_a_traceback(remote: Path) -> None:
    class Broken:
        def __getattr__(self, name):
            raise RuntimeError("boom")

    answer = api.handler(
        api_event("/provisionpipeline", BODY), None, clients=lambda s: Broken(), environ=environment()
    )
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"]) == {"message": "An Unexpected Server side exception occurred"}


def test_a_request_without_an_iam_identity_is_refused_whatever_the_api_says(remote: Path) -> None:
    """Defence in depth: if the method's AWS_IAM authorization were switched off, API Gateway would
    pass no identity, and nothing is committed in nobody's name."""
    git = codecommit(remote)
    event = api_event("/provisionpipeline", BODY)
    event["requestContext"]["identity"] = {"userArn": None, "caller": None}
    status, body = call(event, git)
    assert status == 403 and body["detailedMessage"] == api.NO_IDENTITY
    assert git.calls == []


# ------------------------------------------------------------------ POST /pipelinestatus


def test_status_before_any_deploy_is_mwos_not_yet_text(remote: Path) -> None:
    status, body = call(api_event("/pipelinestatus", {"pipeline_id": "fraud-batch"}), codecommit(remote))
    assert (status, body) == (200, "pipeline cloudformation stack has not provisioned the pipeline yet.")


def test_status_names_each_stages_stack_as_describe_stacks_shows_it(remote: Path) -> None:
    cfn = FakeCloudFormation()
    cfn.add(FakeStack("mlops-fraud-batch-dev", "UPDATE_COMPLETE", tags={"mlops:config-commit": "abc123"}))
    cfn.add(FakeStack("mlops-fraud-batch-staging", "UPDATE_ROLLBACK_COMPLETE"))
    status, body = call(
        api_event("/pipelinestatus", {"pipeline_id": "fraud-batch"}), codecommit(remote), cfn=cfn
    )
    assert status == 200
    assert body["pipelineName"] == "fraud-batch" and body["inGit"] is True
    states = {s["stageName"]: s for s in body["stageStates"]}
    assert list(states) == ["dev", "staging", "prod"]  # environments.json's order
    assert states["dev"]["latestExecution"] == {"status": "Succeeded"}
    assert states["dev"]["configCommit"] == "abc123"
    assert states["staging"]["latestExecution"] == {"status": "Failed"}
    assert states["prod"]["stackStatus"] == "NOT_DEPLOYED"


def _branches(bare: Path) -> list[str]:
    import subprocess

    out = subprocess.run(
        ["git", "--git-dir", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def test_direct_commit_adds_pipelines_but_a_change_to_an_existing_one_is_proposed(remote: Path) -> None:
    """With the opt-in, any caller holding execute-api:Invoke could otherwise replace another team's
    pipeline config unreviewed (an attacker's review); a change to an existing config is a pull request."""
    git = codecommit(remote, direct_commit="Yes")
    status, first = call(api_event("/provisionpipeline", BODY), git, direct="Yes")
    assert status == 200 and first["branch"] == "main"
    changed = {**BODY, "inference_instance": "ml.m5.xlarge"}
    status, body = call(api_event("/provisionpipeline", changed), git, direct="Yes")
    assert status == 200, body
    assert body["pull_request_id"] == "1" and body["branch"].startswith("provision/churn-batch-")
    assert tip(remote) == first["commit_id"], "main is unchanged"
