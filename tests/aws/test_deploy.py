"""plan / deploy / status end to end against a moto server: create, no-op, update of one stack,
delete with --prune, parallel runs, a run killed half-way that the next run converges, and
throttling absorbed by botocore's adaptive retries."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aws.conftest import in_account as in_account_of
from tests.aws.conftest import orchestrator_basics, stage_account_parameters
from tests.conftest import REPO_ROOT, repo_copy, run_cli
from tests.fakes import count_api_calls

ARTIFACTS = "mlops-artifacts-test"
PIPELINES = ["churn-realtime", "churn-batch", "fraud-batch"]


@pytest.fixture
def repo(tmp_path: Path, aws) -> Path:
    """A repository with three example pipelines and the orchestrator's artifact bucket in moto."""
    root = repo_copy(tmp_path / "repo", PIPELINES)
    orchestrator_basics(aws, ARTIFACTS, upload_lambdas=False)  # deploy uploads the zips itself
    return root


def mlopsctl(repo: Path, endpoint: str, *argv: str):
    return (
        run_cli("--repo-root", str(repo), *argv, "--endpoint-url", endpoint, "--commit", "1" * 40)
        if argv[0] == "deploy"
        else run_cli("--repo-root", str(repo), *argv, "--endpoint-url", endpoint)
    )


def results(out: str) -> dict[str, str]:
    rows = [line.split() for line in out.splitlines()[1:] if line and not line.startswith("deploy:")]
    return {row[2]: row[3] for row in rows}


def test_create_then_nothing_then_one_update_then_prune(repo: Path, moto_endpoint: str, aws) -> None:
    first = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert first.code == 0, first.err
    assert results(first.out) == {f"mlops-{p}-dev": "created" for p in PIPELINES}
    stacks = {s["StackName"]: s for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert set(stacks) == {f"mlops-{p}-dev" for p in PIPELINES}
    tags = {t["Key"]: t["Value"] for t in stacks["mlops-churn-realtime-dev"]["Tags"]}
    assert tags["mlops:commit"] == "1" * 40 and tags["mlops:managed-by"] == "mlops-gitops"
    keys = [o["Key"] for o in aws("s3").list_objects_v2(Bucket=ARTIFACTS)["Contents"]]
    zips = [key for key in keys if key.startswith("lambda/")]
    assert len(zips) == 1 and zips[0].startswith("lambda/inference-api-")
    # the real-time template is over 51,200 bytes: it goes up content-addressed (TemplateURL)
    assert all(key.startswith(("lambda/", "templates/")) for key in keys)

    status = mlopsctl(repo, moto_endpoint, "status", "--stage", "dev", "--format", "json")
    rows = {r["stack"]: r for r in status.json["pipelines"]}
    assert {r["sync"] for r in rows.values()} == {"in-sync"}
    assert (
        rows["mlops-churn-realtime-dev"]["health"] == "healthy"
        and "InService" in rows["mlops-churn-realtime-dev"]["detail"]
    )
    assert rows["mlops-churn-batch-dev"]["detail"] == "no transform job has run yet"

    second = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert second.code == 0
    assert set(results(second.out).values()) == {"unchanged"}
    assert "deploy: 3 unchanged" in second.out

    config = repo / "pipeline-configs" / "churn-realtime" / "mlops-config.json"
    data = json.loads(config.read_text())
    data["inference_instance"]["dev"] = "ml.m5.large"
    config.write_text(json.dumps(data))
    plan = mlopsctl(repo, moto_endpoint, "plan", "--stage", "dev", "--format", "json")
    assert plan.code == 0, plan.err
    actions = {i["stack_name"]: i["action"] for i in plan.json["items"]}
    assert actions == {
        "mlops-churn-realtime-dev": "update",
        "mlops-churn-batch-dev": "unchanged",
        "mlops-fraud-batch-dev": "unchanged",
    }
    [item] = [i for i in plan.json["items"] if i["action"] == "update"]
    assert item["parameter_changes"] == [{"key": "InstanceType", "old": "ml.t2.medium", "new": "ml.m5.large"}]
    assert item["resource_changes"] is not None, "a change-set preview was made (moto reports few details)"
    third = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert results(third.out) == {
        "mlops-churn-realtime-dev": "updated",
        "mlops-churn-batch-dev": "unchanged",
        "mlops-fraud-batch-dev": "unchanged",
    }
    # where dev autoscales churn-realtime, its instance type changes in two steps (tests/unit/ops/test_two_step.py)
    two_step = "two-step update, step 1/2: deregistering autoscaling" in third.err
    assert two_step == isinstance(data.get("autoscaling", {}).get("dev"), dict)
    # (moto keeps a stack's old tags after an UPDATE change set, where AWS applies the new ones, so
    # in moto an updated stack keeps planning as "update"; tests/unit/ops/test_deploy.py covers
    # the tag semantics of AWS with a fake.)

    shutil.rmtree(repo / "pipeline-configs" / "fraud-batch")
    plan = mlopsctl(repo, moto_endpoint, "plan", "--stage", "dev")
    assert "delete    mlops-fraud-batch-dev" in plan.out
    kept = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert results(kept.out)["mlops-fraud-batch-dev"] == "skipped"
    pruned = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev", "--prune")
    assert pruned.code == 0, pruned.err
    assert results(pruned.out)["mlops-fraud-batch-dev"] == "deleted"
    names = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert names == {"mlops-churn-realtime-dev", "mlops-churn-batch-dev"}


def test_no_op_deploy_costs_a_constant_number_of_cloudformation_calls(
    repo: Path, moto_endpoint: str, aws, monkeypatch
) -> None:
    assert mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev").code == 0
    with count_api_calls("cloudformation") as calls:
        assert mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev").code == 0
    assert calls == ["DescribeStacks"]


def test_parallel_and_serial_runs_end_the_same(repo: Path, moto_endpoint: str, aws) -> None:
    serial = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "staging", "--max-parallel", "1")
    parallel = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "prod", "--max-parallel", "3")
    assert serial.code == parallel.code == 0, serial.err + parallel.err
    assert set(results(serial.out).values()) == set(results(parallel.out).values()) == {"created"}
    assert all(
        s["EnableTerminationProtection"] is False
        for s in aws("cloudformation").describe_stacks()["Stacks"]
        if "staging" in s["StackName"]
    )


def test_invalid_configs_stop_before_any_aws_call(repo: Path, moto_endpoint: str, aws) -> None:
    (repo / "pipeline-configs" / "churn-batch" / "mlops-config.json").write_text(
        '{"pipeline_type": "byom_batch_builtin",}'
    )
    result = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert result.code == 1
    assert "invalid JSON at line 1" in result.err and "nothing was planned or deployed" in result.err
    assert aws("cloudformation").describe_stacks()["Stacks"] == []


KILL_AFTER = """
import os, signal, sys
from mlops_gitops.aws import cloudformation as cfn
original = getattr(cfn.CloudFormationGateway, {method!r})
def die(self, *args, **kwargs):
    original(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # the CodeBuild container vanishes here
setattr(cfn.CloudFormationGateway, {method!r}, die)
from mlops_gitops.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("method", ["create_change_set", "execute_change_set"])
def test_a_deploy_killed_half_way_converges_on_the_next_run(
    repo: Path, moto_endpoint: str, aws, method: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts"), "AWS_ENDPOINT_URL": moto_endpoint}
    argv = ["--repo-root", str(repo), "deploy", "--stage", "dev", "--max-parallel", "1", "--commit", "2" * 40]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER.format(method=method), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    left = {s["StackName"]: s["StackStatus"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert len(left) == 1  # exactly one stack was touched before the kill
    again = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert again.code == 0, again.out + again.err
    done = results(again.out)
    assert set(done) == {f"mlops-{p}-dev" for p in PIPELINES}
    [touched] = left
    expected = (
        "unchanged" if method == "execute_change_set" else "created"
    )  # a REVIEW_IN_PROGRESS shell is replaced
    assert done[touched] == expected
    final = {s["StackName"]: s["StackStatus"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert set(final.values()) == {"CREATE_COMPLETE"}
    assert set(results(mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev").out).values()) == {
        "unchanged"
    }


def test_throttling_is_absorbed_by_adaptive_retries(repo: Path, moto_endpoint: str, aws, monkeypatch) -> None:
    """CloudFormation answers 'Rate exceeded' under load; the clients retry (adaptive mode) instead of
    failing the run. Simulated below botocore's retry layer, so the real retry code runs."""
    import time

    from botocore.awsrequest import AWSResponse

    throttled = {"left": 3}

    def throttle(request, **kwargs):
        body = request.body or b""
        if throttled["left"] and "Action=DescribeStacks" in (
            body.decode() if isinstance(body, bytes) else body
        ):
            throttled["left"] -= 1
            body = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
            return AWSResponse(request.url, 400, {}, _Raw(body))
        return None

    import boto3

    original_client = boto3.session.Session.client

    def client_with_throttling(self, *args, **kwargs):
        made = original_client(self, *args, **kwargs)
        made.meta.events.register("before-send.cloudformation.*", throttle)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client_with_throttling)
    from mlops_gitops.aws.clients import AwsContext

    retries = (
        AwsContext(region="us-east-1", endpoint_url=moto_endpoint)
        .client("cloudformation")
        .meta.config.retries
    )
    assert retries["mode"] == "adaptive" and retries["total_max_attempts"] >= 5
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # backoff without waiting
    result = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert result.code == 0, result.err
    assert throttled["left"] == 0
    assert set(results(result.out).values()) == {"created"}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs):
        yield self._body

    def read(self, *args) -> bytes:
        return self._body


def _git(repo: Path, *argv: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *argv],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_plan_base_shows_only_what_the_change_touches_and_no_false_deletes(
    repo: Path, moto_endpoint: str, aws
) -> None:
    assert mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev").code == 0
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    config = repo / "pipeline-configs" / "churn-batch" / "mlops-config.json"
    data = json.loads(config.read_text())
    data["inference_instance"] = "ml.m5.xlarge"
    config.write_text(json.dumps(data))
    plan = mlopsctl(repo, moto_endpoint, "plan", "--stage", "dev", "--base", "HEAD", "--format", "json")
    assert plan.code == 0, plan.err
    assert [(i["stack_name"], i["action"]) for i in plan.json["items"]] == [
        ("mlops-churn-batch-dev", "update")
    ]
    offline = run_cli(
        "--repo-root", str(repo), "plan", "--stage", "dev", "--offline", "--base", "HEAD", "--format", "json"
    )
    assert offline.code == 0, offline.err
    actions = {i["stack_name"]: i["action"] for i in offline.json["items"]}
    assert actions == {
        "mlops-churn-batch-dev": "update",
        "mlops-churn-realtime-dev": "unchanged",
        "mlops-fraud-batch-dev": "unchanged",
    }
    markdown = mlopsctl(
        repo, moto_endpoint, "plan", "--stage", "dev", "--base", "HEAD", "--format", "markdown"
    )
    assert "| update | `mlops-churn-batch-dev` | churn-batch |" in markdown.out
    assert "`InstanceType`: `ml.m5.large` → `ml.m5.xlarge`" in markdown.out


def test_each_stage_deploys_into_its_own_account(repo: Path, moto_endpoint: str, aws) -> None:
    """Stages with their own account_id are deployed through that account's deploy role (moto's
    assume_role gives each account its own state): stacks land there and nowhere else."""
    envs = json.loads((repo / "pipeline-configs" / "environments.json").read_text())
    envs["stages"][0]["account_id"] = "111111111111"  # dev
    envs["stages"][1]["account_id"] = "222222222222"  # staging
    (repo / "pipeline-configs" / "environments.json").write_text(json.dumps(envs))

    def in_account(account: str, service: str):
        return in_account_of(aws, moto_endpoint, account, service)

    for account in ("111111111111", "222222222222"):  # what target-account.yaml provides per account
        in_account(account, "s3").create_bucket(Bucket=f"art-{account}")
        stage_account_parameters(in_account(account, "ssm"))
        in_account(account, "ssm").put_parameter(
            Name="/mlops/artifact-bucket", Value=f"art-{account}", Type="String"
        )
    result = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert result.code == 0, result.out + result.err
    dev = {s["StackName"] for s in in_account("111111111111", "cloudformation").describe_stacks()["Stacks"]}
    assert dev == {f"mlops-{p}-dev" for p in PIPELINES}
    assert in_account("222222222222", "cloudformation").describe_stacks()["Stacks"] == []
    assert aws("cloudformation").describe_stacks()["Stacks"] == [], "nothing in the pipeline account itself"
    status = mlopsctl(repo, moto_endpoint, "status", "--stage", "dev", "--format", "json")
    assert {r["sync"] for r in status.json["pipelines"]} == {"in-sync"}


def test_a_misnamed_config_never_prunes_its_stack(repo: Path, moto_endpoint: str, aws) -> None:
    first = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert first.code == 0, first.err
    folder = repo / "pipeline-configs" / "fraud-batch"
    (folder / "mlops-config.json").rename(folder / "mlops_config.json")
    pruned = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev", "--prune")
    # validate names the folder (the repository-boundary rule) and the deploy stops before any
    # change; the plan's own rule (a folder that exists is never pruned) is the second guard,
    # tested with the scripted fake in tests/unit/ops/test_deploy.py
    assert pruned.code == 1, pruned.out + pruned.err
    assert "mlops_config.json" in pruned.err and "nothing was planned or deployed" in pruned.err
    names = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert "mlops-fraud-batch-dev" in names
    assert "deleted" not in pruned.out


def test_prune_deletes_a_gone_pipeline_and_the_summary_says_why(repo: Path, moto_endpoint: str, aws) -> None:
    assert mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev").code == 0
    shutil.rmtree(repo / "pipeline-configs" / "fraud-batch")
    plan = mlopsctl(repo, moto_endpoint, "plan", "--stage", "dev", "--format", "json")
    [item] = [i for i in plan.json["items"] if i["action"] == "delete"]
    assert item["reasons"][0].startswith(
        "no folder pipeline-configs/fraud-batch/ (last deployed from commit 111111111111)"
    )
    pruned = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev", "--prune")
    assert pruned.code == 0, pruned.err
    assert "deploy: deleted 1 stack(s) whose pipeline folder is gone from pipeline-configs/" in pruned.out


def lease_of(aws, stage: str = "dev") -> dict | None:
    try:
        body = aws("s3").get_object(Bucket=ARTIFACTS, Key=f"locks/{stage}.json")["Body"].read()
    except aws("s3").exceptions.NoSuchKey:
        return None
    return json.loads(body)


def hold_lease(aws, stage: str = "dev", **changes) -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    record = {
        "holder": "arn:aws:codebuild:us-east-1:123456789012:build/mlops-deploy:other",
        "pid": 4242,
        "commit": "f" * 40,
        "started_at": (now - timedelta(minutes=5)).isoformat(),
        "expires_at": (now + timedelta(hours=2)).isoformat(),
        "token": "theirs",
        **changes,
    }
    aws("s3").put_object(Bucket=ARTIFACTS, Key=f"locks/{stage}.json", Body=json.dumps(record).encode())


def test_a_second_deploy_of_a_held_stage_exits_3_without_touching_anything(
    repo: Path, moto_endpoint: str, aws
) -> None:
    hold_lease(aws)
    with count_api_calls("cloudformation") as calls:
        busy = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev", "--prune")
    assert busy.code == 3
    assert (
        "stage 'dev' is being deployed by arn:aws:codebuild:us-east-1:123456789012:build/mlops-deploy:other"
        in busy.err
    )
    assert "commit ffffffffffff" in busy.err and "since " in busy.err
    assert calls == [], "not even a describe: nothing was touched"
    assert aws("cloudformation").describe_stacks()["Stacks"] == []
    assert lease_of(aws)["token"] == "theirs", "the other run's lease is left alone"


def test_the_lease_is_taken_for_the_run_and_released_at_the_end(
    repo: Path, moto_endpoint: str, aws, monkeypatch
) -> None:
    from mlops_gitops.aws.lease import LeaseStore

    seen = []
    original = LeaseStore.release

    def release(self, bucket, key, token):
        seen.append(lease_of(aws))
        return original(self, bucket, key, token)

    monkeypatch.setattr(LeaseStore, "release", release)
    done = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert done.code == 0, done.err
    [held] = seen
    assert held["commit"] == "1" * 40 and held["pid"] > 0 and "@" in held["holder"]
    assert held["expires_at"] > held["started_at"]
    assert lease_of(aws) is None, "released"


def test_an_expired_lease_is_taken_over_with_a_note(repo: Path, moto_endpoint: str, aws) -> None:
    from datetime import datetime, timedelta, timezone

    hold_lease(aws, expires_at=(datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat())
    done = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert done.code == 0, done.err
    assert "note: took over the expired deploy lease of stage 'dev' held by arn:aws:codebuild" in done.err
    assert lease_of(aws) is None


def test_each_stage_has_its_own_lease(repo: Path, moto_endpoint: str, aws) -> None:
    hold_lease(aws, stage="staging")
    done = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "dev")
    assert done.code == 0, done.err
    assert lease_of(aws, "staging")["token"] == "theirs"


def test_two_runs_taking_over_one_expired_lease_cannot_both_win(aws) -> None:
    from datetime import datetime, timedelta, timezone

    from mlops_gitops.aws.lease import LeaseRecord, LeaseStore

    aws("s3").create_bucket(Bucket="locks-test")
    now = datetime.now(timezone.utc)
    old = LeaseRecord("dead@host", 1, "0" * 40, now - timedelta(hours=3), now - timedelta(hours=1), "old")
    aws("s3").put_object(Bucket="locks-test", Key="locks/dev.json", Body=old.to_json())
    store = LeaseStore(aws("s3"))
    stale = store._read("locks-test", "locks/dev.json")  # what both runs read before either wrote
    first = LeaseRecord("a@host", 2, "1" * 40, now, now + timedelta(hours=2), "a")
    second = LeaseRecord("b@host", 3, "2" * 40, now, now + timedelta(hours=2), "b")
    assert store.take("locks-test", "locks/dev.json", first).took_over == old
    store._read = lambda bucket, key: stale  # type: ignore[method-assign]
    lost = store.take("locks-test", "locks/dev.json", second)
    assert not lost.ours, "the put conditional on the stale ETag is refused"
    del store._read
    assert not store.release("locks-test", "locks/dev.json", "b")
    assert store.release("locks-test", "locks/dev.json", "a")


def test_a_long_run_keeps_its_lease_renewed(aws) -> None:
    import time

    from mlops_gitops.aws.lease import LeaseStore
    from mlops_gitops.ops.lease import stage_lease

    aws("s3").create_bucket(Bucket="locks-test")
    notes: list[str] = []
    with stage_lease(LeaseStore(aws("s3")), "locks-test", "dev", "1" * 40, {}, notes.append, seconds=0.8):
        first = json.loads(aws("s3").get_object(Bucket="locks-test", Key="locks/dev.json")["Body"].read())
        time.sleep(0.6)
        later = json.loads(aws("s3").get_object(Bucket="locks-test", Key="locks/dev.json")["Body"].read())
    assert later["expires_at"] > first["expires_at"] and later["token"] == first["token"]
    assert notes == []
    assert "Contents" not in aws("s3").list_objects_v2(Bucket="locks-test"), "released"
