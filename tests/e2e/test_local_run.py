"""End to end, as `make demo` runs it: a local AWS (moto server process on 127.0.0.1, started by
`local up` and stopped by `local down` in this test), the orchestrator bootstrapped into it, and
the pipeline of orchestrator.yaml run here over a git repository with two example configs; then one
config changed (only that pipeline is updated) and one deleted (its stacks pruned, except in the
protected stage)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from mlops_gitops.cli import main
from tests.conftest import REPO_ROOT, git_repo, repo_copy

PIPELINES = ("churn-batch", "fraud-batch")


def mlopsctl(repo: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--repo-root", str(repo), *argv], environ=dict(os.environ), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def git(repo: Path, *argv: str) -> None:
    subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)


def pipeline_repo(root: Path, pipelines: tuple[str, ...], template: str, message: str) -> Path:
    """A git repository like this one, holding ``pipelines`` and only the one pipeline template they
    need (so the Validate stage lints three templates, not all of them), buildspecs included."""
    repo_copy(root, pipelines, templates=False)
    (root / "cloudformation" / "pipelines").mkdir(parents=True)
    for name in (
        "orchestrator.yaml",
        "target-account.yaml",
        "bootstrap-assets.yaml",
        "pipelines/pipeline-types.json",
        f"pipelines/{template}",
    ):
        shutil.copy(REPO_ROOT / "cloudformation" / name, root / "cloudformation" / name)
    shutil.copytree(REPO_ROOT / "buildspecs", root / "buildspecs")
    (root / ".gitignore").write_text(".mlops-local/\n")
    return git_repo(root, message)


def local_client(state: dict, service: str):
    """A boto3 client of the local AWS that `local up` described in ``state``."""
    return boto3.client(
        service,
        endpoint_url=state["endpoint"],
        region_name=state["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two batch pipelines."""
    return pipeline_repo(tmp_path / "repo", PIPELINES, "batch_inference.yaml", "two batch pipelines")


def stacks(state: dict) -> dict[str, dict]:
    cfn = local_client(state, "cloudformation")
    return {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}


def deploy_results(out: str) -> dict[str, str]:
    """stack -> result, from the deploy summaries the builds printed."""
    results = {}
    for line in out.splitlines():
        if not line.startswith("[Deploy-"):
            continue
        parts = line.split("] ", 1)[-1].split()
        if len(parts) >= 4 and parts[2].startswith("mlops-") and parts[1] in ("dev", "staging", "prod"):
            results[parts[2]] = parts[3]
    return results


def test_push_deploy_change_delete_through_the_local_pipeline(repo: Path, local_aws: dict) -> None:
    code, out, err = mlopsctl(repo, "local", "run")
    assert code == 0, out[-3000:] + err
    assert "pipeline mlops-pipeline: Succeeded" in out
    ran = re.findall(r"^<== ([\w-]+)\.\w+: (\w+)", out, re.M)
    assert ran == [
        (stage, "Succeeded")
        for stage in (
            "Source",
            "Validate",
            "Deploy-dev",
            "Approve-staging",
            "Deploy-staging",
            "Approve-prod",
            "Deploy-prod",
        )
    ]
    # 2 configs, environments.json and the 4 templates, each a test case of the JUnit report
    assert "report mlops-validate-validate: 7 tests, 0 failures" in out
    live = stacks(local_aws)
    expected = {f"mlops-{p}-{s}" for p in PIPELINES for s in ("dev", "staging", "prod")}
    assert expected <= set(live)
    status = out.split("PIPELINE", 1)[-1]  # the status table at the end
    assert re.search(r"^fraud-batch +prod +mlops-fraud-batch-prod +in-sync +CREATE_COMPLETE", status, re.M)

    config = repo / "pipeline-configs" / "fraud-batch" / "mlops-config.json"
    data = json.loads(config.read_text())
    data["inference_instance"] = "ml.m5.2xlarge"
    config.write_text(json.dumps(data, indent=2))
    git(repo, "commit", "-qam", "fraud-batch: larger instances")
    code, out, err = mlopsctl(repo, "local", "run")
    assert code == 0, out[-3000:] + err
    results = deploy_results(out)
    assert {results[f"mlops-fraud-batch-{s}"] for s in ("dev", "staging", "prod")} == {"updated"}
    assert {results[f"mlops-churn-batch-{s}"] for s in ("dev", "staging", "prod")} == {"unchanged"}

    shutil.rmtree(repo / "pipeline-configs" / "churn-batch")
    git(repo, "commit", "-qam", "churn-batch retired")
    code, out, err = mlopsctl(repo, "local", "run")
    assert code == 0, out[-3000:] + err
    live = stacks(local_aws)
    assert "mlops-churn-batch-dev" not in live and "mlops-churn-batch-staging" not in live
    assert "mlops-churn-batch-prod" in live, "prod is protected: pruned only with --allow-protected"
    assert "protected: add --allow-protected" in out
    assert {f"mlops-fraud-batch-{s}" for s in ("dev", "staging", "prod")} <= set(live)


def test_a_push_to_the_local_remote_runs_the_pipeline_and_leaves_nothing_running(repo: Path) -> None:
    code, out, err = mlopsctl(repo, "local", "init")
    assert code == 0, out + err
    assert "git push local main" in out
    hook = repo / ".mlops-local" / "remote.git" / "hooks" / "post-receive"
    assert os.access(hook, os.X_OK)
    push = subprocess.run(["git", "-C", str(repo), "push", "local", "main"], capture_output=True, text=True)
    assert push.returncode == 0, push.stderr
    # git prefixes the hook's output with "remote:"; no `local up` ran, so the run started and
    # stopped its own local AWS.
    assert "pipeline mlops-pipeline: Succeeded" in push.stderr, push.stderr[-3000:]
    assert "local AWS: stopped" in push.stderr
    (pid,) = re.findall(r"local AWS: a new moto server on http://127\.0\.0\.1:\d+ \(pid (\d+)", push.stderr)
    with pytest.raises(ProcessLookupError):  # the server the run started is gone
        os.kill(int(pid), 0)
    again = mlopsctl(repo, "local", "init")
    assert again[0] == 0, "init is idempotent"
