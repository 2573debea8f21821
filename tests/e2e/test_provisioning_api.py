"""Issue 19 part 3, done when: the provisioning handler, called as API Gateway would call it (a REST
API proxy event), against the local AWS (a moto server on 127.0.0.1, started and stopped here by
`mlopsctl local up`/`down`), ends as a commit that the local pipeline then deploys.

CodeCommit's commit APIs are the one part moto (5.2) lacks: the repository is a bare git repository
behind tests/git_codecommit.py (botocore's CodeCommit model checks each call, the template's role
authorizes it). CloudFormation is moto's, through boto3, for the handler, the pipeline and status.
The default path is the one exercised: a branch and a pull request, merged by fast-forward as a
reviewer's MergePullRequestByFastForward would, then the pipeline runs the deployed branch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops_gitops.lambdas import provisioning_api as api
from mlops_gitops.ops.provision import NOT_YET
from tests.conftest import REPO_ROOT
from tests.e2e.test_local_run import local_client, mlopsctl, pipeline_repo, stacks
from tests.provisioning_support import api_event, codecommit, environment, show, tip

BODY = json.loads((REPO_ROOT / "tests" / "fixtures" / "mwo" / "byom_batch_builtin.json").read_text())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return pipeline_repo(tmp_path / "repo", ("fraud-batch",), "batch_inference.yaml", "one batch pipeline")


def test_an_mwo_api_call_ends_as_a_commit_that_the_local_pipeline_deploys(
    repo: Path, local_aws: dict, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"  # the CodeCommit repository
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(remote)], check=True, capture_output=True)
    git = codecommit(remote)
    clients = {"codecommit": git, "cloudformation": local_client(local_aws, "cloudformation")}

    def call(path: str, body: dict) -> tuple[int, object]:
        answer = api.handler(api_event(path, body), None, clients=clients.__getitem__, environ=environment())
        text = answer["body"]
        return answer["statusCode"], (json.loads(text) if text.startswith("{") else text)

    status, done = call("/provisionpipeline", BODY)
    assert status == 200, done
    assert done["pipeline_id"] == "churn-batch" and done["pull_request_id"] == "1"
    assert show(remote, done["branch"], "pipeline-configs/churn-batch/mlops-config.json")
    assert call("/pipelinestatus", {"pipeline_id": "churn-batch"})[1] == NOT_YET

    # The reviewer merges the pull request (fast-forward): the branch's commit is now main's.
    subprocess.run(
        ["git", "--git-dir", str(remote), "update-ref", "refs/heads/main", done["commit_id"], tip(remote)],
        check=True,
    )
    code, out, err = mlopsctl(repo, "local", "run", "--git-dir", str(remote), "--commit", "main")
    assert code == 0, out[-3000:] + err
    assert f"commit {done['commit_id'][:12]}" in out
    live = stacks(local_aws)
    assert live["mlops-churn-batch-dev"]["StackStatus"] == "CREATE_COMPLETE"
    tags = {t["Key"]: t["Value"] for t in live["mlops-churn-batch-dev"]["Tags"]}
    assert tags["mlops:pipeline-id"] == "churn-batch"

    status, state = call("/pipelinestatus", {"pipeline_id": "churn-batch"})
    assert status == 200 and state["inGit"] is True
    dev = next(s for s in state["stageStates"] if s["stageName"] == "dev")
    assert dev["stackName"] == "mlops-churn-batch-dev" and dev["latestExecution"] == {"status": "Succeeded"}

    status, again = call("/provisionpipeline", BODY)
    assert status == 200 and again["message"] == "Pipeline churn-batch is already provisioned, no changes."
