"""A stage's deploy fanned out over the builds of one batch (issue 17), against a moto server:
shards deploy disjoint parts with dependency groups kept whole, share the stage's lease (and only
with their own batch), prune happens once in the final step, and the final step's table and exit
status speak for the stage, naming a failed or silent shard's pipelines."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from mlops_gitops.cli import main
from tests.aws.conftest import orchestrator_basics
from tests.aws.test_deploy import hold_lease, lease_of, results
from tests.conftest import Result, repo_copy

ARTIFACTS = "mlops-artifacts-test"
# churn-data-quality monitors churn-realtime's endpoint: one dependency group
PIPELINES = ["churn-realtime", "churn-data-quality", "churn-batch", "fraud-batch"]
COMMIT = "1" * 40


@pytest.fixture
def repo(tmp_path: Path, aws) -> Path:
    root = repo_copy(tmp_path / "repo", PIPELINES)
    orchestrator_basics(aws, ARTIFACTS, upload_lambdas=False)
    return root


def deploy(repo: Path, endpoint: str, *argv: str, batch: str | None = "batch-1") -> Result:
    out, err = io.StringIO(), io.StringIO()
    environ = {"MLOPS_BATCH_ID": batch} if batch else {}
    code = main(
        [
            "--repo-root",
            str(repo),
            "deploy",
            "--stage",
            "dev",
            *argv,
            "--endpoint-url",
            endpoint,
            "--commit",
            COMMIT,
        ],
        environ=environ,
        stdout=out,
        stderr=err,
    )
    return Result(code, out.getvalue(), err.getvalue())


def record(aws, index: int, count: int, batch: str = "batch-1") -> dict:
    key = f"shards/dev/{batch}/{index}-of-{count}.json"
    return json.loads(aws("s3").get_object(Bucket=ARTIFACTS, Key=key)["Body"].read())


def test_shards_deploy_disjoint_parts_and_the_summary_reports_the_whole_stage(
    repo: Path, moto_endpoint: str, aws
) -> None:
    first = deploy(repo, moto_endpoint, "--shard", "1/2")
    assert first.code == 0, first.err
    assert lease_of(aws)["holder"] == "batch-1", "a shard leaves the batch's lease to the final step"
    second = deploy(repo, moto_endpoint, "--shard", "2/2")
    assert second.code == 0, second.err
    assert "note: joined batch batch-1's deploy lease of stage 'dev'" in second.err
    mine = [{r["pipeline_id"] for r in record(aws, i, 2)["rows"]} for i in (1, 2)]
    assert mine[0] | mine[1] == set(PIPELINES) and not mine[0] & mine[1]
    together = [m for m in mine if "churn-realtime" in m][0]
    assert "churn-data-quality" in together, "a monitor deploys in its endpoint's shard"
    stacks = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert stacks == {f"mlops-{p}-dev" for p in PIPELINES}

    summary = deploy(repo, moto_endpoint, "--summary", "2", "--prune")
    assert summary.code == 0, summary.err
    assert results(summary.out) == {f"mlops-{p}-dev": "created" for p in PIPELINES}
    assert lease_of(aws) is None, "the final step releases the batch's lease"


def test_a_shard_with_nothing_to_do_says_so_and_succeeds(repo: Path, moto_endpoint: str, aws) -> None:
    for name in PIPELINES[2:]:
        shutil.rmtree(repo / "pipeline-configs" / name)
    outs = [deploy(repo, moto_endpoint, "--shard", f"{i}/2") for i in (1, 2)]
    assert all(o.code == 0 for o in outs), [o.err for o in outs]
    idle = [o for o in outs if "nothing to do" in o.out]
    assert len(idle) == 1, "the one dependency group lands in one shard; the other is idle"
    assert "deploy: shard" in idle[0].out and "recorded at s3://" in idle[0].out
    # each build's log says which batch it belongs to, and from which variable (ops.shards.batch_line)
    assert all(o.err.startswith("deploy: batch batch-1 (from $MLOPS_BATCH_ID;") for o in outs)


def test_a_failed_shard_fails_the_stage_and_names_its_pipelines(repo: Path, moto_endpoint: str, aws) -> None:
    assert deploy(repo, moto_endpoint, "--shard", "1/2").code == 0
    theirs = [p for p in PIPELINES if p not in {r["pipeline_id"] for r in record(aws, 1, 2)["rows"]}]
    rows = [
        {"pipeline_id": p, "stack": f"mlops-{p}-dev", "result": "failed", "detail": "boom"} for p in theirs
    ]
    body = {"stage": "dev", "shard": 2, "count": 2, "batch": "batch-1", "commit": COMMIT, "rows": rows}
    aws("s3").put_object(Bucket=ARTIFACTS, Key="shards/dev/batch-1/2-of-2.json", Body=json.dumps(body))
    summary = deploy(repo, moto_endpoint, "--summary", "2")
    assert summary.code == 3
    assert f"deploy: shard 2/2 failed: {', '.join(theirs)}" in summary.out
    assert {results(summary.out)[f"mlops-{p}-dev"] for p in theirs} == {"failed"}


def test_a_shard_that_left_no_record_fails_the_stage_naming_what_it_owned(
    repo: Path, moto_endpoint: str, aws
) -> None:
    assert deploy(repo, moto_endpoint, "--shard", "1/2").code == 0
    owned = sorted(p for p in PIPELINES if p not in {r["pipeline_id"] for r in record(aws, 1, 2)["rows"]})
    summary = deploy(repo, moto_endpoint, "--summary", "2")
    assert summary.code == 3
    assert (
        "deploy: shard 2/2 left no record (it crashed, timed out or was stopped before recording)"
        in summary.out
    )
    assert f"state unknown: {', '.join(owned)}" in summary.out


def test_a_retry_under_the_same_batch_id_never_shows_the_last_attempts_record(
    repo: Path, moto_endpoint: str, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retried stage keeps its CodePipeline execution id (the batch id): a shard of the retry
    that crashes must leave no trace of the first attempt's outcome for the summary."""
    from mlops_gitops.ops.deploy import Deployer

    for i in (1, 2):
        assert deploy(repo, moto_endpoint, "--shard", f"{i}/2").code == 0
    owned = sorted(r["pipeline_id"] for r in record(aws, 2, 2)["rows"])

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as m:
        m.setattr(Deployer, "apply", crash)
        assert deploy(repo, moto_endpoint, "--shard", "2/2").code == 4
    assert record(aws, 2, 2)["state"] == "started"
    summary = deploy(repo, moto_endpoint, "--summary", "2")
    assert summary.code == 3, summary.out
    assert "deploy: shard 2/2 started but recorded no outcome" in summary.out
    assert f"state unknown: {', '.join(owned)}" in summary.out


def test_prune_happens_once_in_the_final_step(repo: Path, moto_endpoint: str, aws) -> None:
    assert deploy(repo, moto_endpoint, batch=None).code == 0
    shutil.rmtree(repo / "pipeline-configs" / "fraud-batch")
    for i in (1, 2):
        shard = deploy(repo, moto_endpoint, "--shard", f"{i}/2", "--prune")
        assert shard.code == 0 and "deleted" not in shard.out
    stacks = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert "mlops-fraud-batch-dev" in stacks, "no shard deletes"
    summary = deploy(repo, moto_endpoint, "--summary", "2", "--prune")
    assert summary.code == 0, summary.err
    assert results(summary.out)["mlops-fraud-batch-dev"] == "deleted"
    stacks = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert "mlops-fraud-batch-dev" not in stacks


def test_another_run_or_batch_still_finds_the_stage_busy(repo: Path, moto_endpoint: str, aws) -> None:
    assert deploy(repo, moto_endpoint, "--shard", "1/2").code == 0  # batch-1 holds the stage
    plain = deploy(repo, moto_endpoint, batch=None)
    assert plain.code == 3 and "stage 'dev' is being deployed by batch-1" in plain.err
    other = deploy(repo, moto_endpoint, "--shard", "2/2", batch="batch-2")
    assert other.code == 3 and "stage 'dev' is being deployed by batch-1" in other.err


def test_a_shard_of_a_batch_is_refused_while_a_plain_run_holds_the_stage(
    repo: Path, moto_endpoint: str, aws
) -> None:
    hold_lease(aws)
    shard = deploy(repo, moto_endpoint, "--shard", "1/2")
    assert shard.code == 3 and "is being deployed by arn:aws:codebuild" in shard.err
    assert lease_of(aws)["token"] == "theirs"


@pytest.mark.parametrize(
    "argv, environ_batch, message",
    [
        (("--shard", "3/2"), "b", "need 1 <= I <= N <= 8"),
        (("--shard", "two"), "b", "expected I/N"),
        (("--summary", "9"), "b", "the number of shards is 1..8"),
        (("--shard", "1/2"), None, "MLOPS_BATCH_ID"),
    ],
)
def test_bad_shard_options_are_usage_errors(
    repo: Path, moto_endpoint: str, argv, environ_batch, message
) -> None:
    done = deploy(repo, moto_endpoint, *argv, batch=environ_batch)
    assert done.code == 2 and message in done.err
