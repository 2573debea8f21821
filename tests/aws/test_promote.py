"""promote, plan and pr-check end to end on a local git repository with a moto server: a newer
Approved version is promoted to prod on a branch whose only change is the pinned version, and the
plan of that branch shows prod, the old and new versions and their metrics (read from the Model
Registry's ModelMetrics reports in S3). moto has no CodeCommit content, so promote works locally."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.aws.conftest import orchestrator_basics
from tests.conftest import git_repo, repo_copy, run_cli

ACCOUNT = "123456789012"  # moto's
GROUP = "scorer"
REPORTS = "mlops-eval-reports"


def arn(version: int) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{GROUP}/{version}"


CONFIG = (
    "{\n"
    '  "pipeline_type": "byom_realtime_custom",\n'
    '  "description": "Scores things from a registry package.",\n'
    '  "model_name": "scorer",\n'
    f'  "model_package_name": {{"dev": "{GROUP}", "staging": "{arn(1)}", "prod": "{arn(1)}"}},\n'
    '  "inference_instance": {"dev": "ml.t2.medium", "staging": "ml.m5.large", "prod": "ml.m5.xlarge"},\n'
    '  "instance_count": {"dev": 1, "staging": 1, "prod": 2},\n'
    '  "data_capture_location": "s3://mlops-capture/scorer"\n'
    "}\n"
)


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=repo, check=True, capture_output=True, text=True).stdout


def register(aws, version_metrics: list[tuple[float, str]]) -> None:
    """Versions 1..n of the group, each with an evaluation report in S3 (as the training pipeline
    registers them) and the given approval."""
    sm, s3 = aws("sagemaker"), aws("s3")
    s3.create_bucket(Bucket=REPORTS)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    for n, (value, approval) in enumerate(version_metrics, start=1):
        key = f"scorer/run-{n}/evaluation/evaluation.json"
        s3.put_object(Bucket=REPORTS, Key=key, Body=json.dumps({"metrics": {"mAP": {"value": value}}}))
        sm.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus=approval,
            InferenceSpecification={
                "Containers": [{"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/scorer:1.{n}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{REPORTS}/{key}"}
                }
            },
            CustomerMetadataProperties={"metric": "mAP", "threshold": "0.7"},
        )


@pytest.fixture
def repo(tmp_path: Path, aws) -> Path:
    root = repo_copy(tmp_path / "repo", ())
    (root / "pipeline-configs" / "scorer").mkdir()
    (root / "pipeline-configs" / "scorer" / "mlops-config.json").write_text(CONFIG)
    git_repo(root, "scorer pinned to v1")
    orchestrator_basics(aws, "mlops-artifacts-test", upload_lambdas=False)
    register(aws, [(0.71, "Approved"), (0.74, "Approved"), (0.8, "PendingManualApproval")])
    return root


def mlopsctl(repo: Path, endpoint: str, *argv: str):
    extra = ["--commit", "1" * 40] if argv[0] == "deploy" else []
    return run_cli("--repo-root", str(repo), *argv, "--endpoint-url", endpoint, *extra)


def test_promote_to_prod_then_plan_and_pr_check_show_versions_and_metrics(
    repo: Path, moto_endpoint: str, aws
) -> None:
    deployed = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "prod")
    assert deployed.code == 0, deployed.out + deployed.err

    promoted = mlopsctl(
        repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(2)
    )
    assert promoted.code == 0, promoted.out + promoted.err
    branch = "promote/scorer-prod-scorer-v2"
    assert f"created branch {branch}" in promoted.out
    assert "scorer v1 → v2 (Approved)" in promoted.out
    assert "metric: mAP 0.71 → 0.74 (+0.03)" in promoted.out
    assert f"git push <remote> {branch}" in promoted.out

    # The checkout is untouched; the branch is one commit on main whose only change is the pin.
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-list", "--count", f"main..{branch}").strip() == "1"
    diff = git(repo, "diff", "--unified=0", "main", branch)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        f'-  "model_package_name": {{"dev": "{GROUP}", "staging": "{arn(1)}", "prod": "{arn(1)}"}},',
        f'+  "model_package_name": {{"dev": "{GROUP}", "staging": "{arn(1)}", "prod": "{arn(2)}"}},',
    ]
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert message.startswith("Promote scorer to prod: scorer v1 → v2\n")
    assert "Metrics (deployed → promoted): mAP 0.71 → 0.74 (+0.03)" in message
    assert f"--model-package-arn {arn(1)}" in message  # how to roll back

    git(repo, "switch", "-q", branch)
    plan = mlopsctl(repo, moto_endpoint, "plan", "--stage", "prod", "--base", "main", "--format", "markdown")
    assert plan.code == 0, plan.err
    assert "### Stage `prod`" in plan.out and "| update | `mlops-scorer-prod` | scorer |" in plan.out
    assert "#### Models in `prod`" in plan.out
    # the "done when": stage, old and new versions, and their metrics
    assert "| scorer | primary | `scorer` v1 → **v2** | Approved | mAP 0.71 → 0.74 (+0.03) |" in plan.out

    review = mlopsctl(repo, moto_endpoint, "pr-check", "--base", "main", "--no-preview")
    assert review.code == 0, review.out + review.err
    row = [line for line in review.out.splitlines() if line.startswith("| scorer | primary |")][-1]
    assert row == (
        "| scorer | primary | `scorer` v1 → **v2** | Approved | mAP 0.71 → 0.74 (+0.03) "
        "| 2 × ml.m5.xlarge | n/a |"
    )
    assert "### Stage `prod`" in review.out and "### Stage `dev`" in review.out
    assert "changes **prod**: it needs a person's approval" in review.out
    assert "No price: prices are not looked up through http://127.0.0.1" in review.out

    # moto has no CodeCommit pull requests: the check says so and still judges the change.
    posted = mlopsctl(
        repo, moto_endpoint, "pr-check", "--base", "main", "--no-preview", "--pull-request-id", "1"
    )
    assert posted.code == 0, posted.out + posted.err
    assert (
        "pr-check: pull request 1: comment not posted: the endpoint does not implement CodeCommit pull "
        "requests; approval not set: the endpoint does not implement CodeCommit pull requests"
    ) in posted.err


def test_latest_approved_skips_a_pending_version_and_an_unapproved_one_is_refused(
    repo: Path, moto_endpoint: str, aws
) -> None:
    refused = mlopsctl(
        repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(3)
    )
    assert refused.code == 1
    assert f"{arn(3)} is PendingManualApproval; 'prod' deploys only Approved versions" in refused.err
    assert git(repo, "branch", "--list", "promote/*") == ""

    missing = mlopsctl(
        repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(9)
    )
    assert missing.code == 1 and "is not in the Model Registry" in missing.err

    latest = mlopsctl(repo, moto_endpoint, "promote", "scorer", "--to", "staging", "--latest-approved")
    assert latest.code == 0, latest.out + latest.err
    assert "scorer v1 → v2" in latest.out  # v3 is newer but pending
    again = mlopsctl(repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(1))
    assert again.code == 0 and "already pins" in again.out


def test_rollback_is_promoting_the_older_version(repo: Path, moto_endpoint: str, aws) -> None:
    forward = mlopsctl(
        repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(2)
    )
    assert forward.code == 0, forward.err
    git(repo, "merge", "-q", "--ff-only", "promote/scorer-prod-scorer-v2")
    back = mlopsctl(repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(1))
    assert back.code == 0, back.out + back.err
    assert "scorer v2 → v1" in back.out and "mAP 0.74 → 0.71 (−0.03)" in back.out
    assert json.loads(
        git(repo, "show", "promote/scorer-prod-scorer-v1:pipeline-configs/scorer/mlops-config.json")
    )["model_package_name"] == {"dev": GROUP, "staging": arn(1), "prod": arn(1)}


def test_bootstrap_on_moto_reports_the_approval_rule_template_skipped(
    tmp_path: Path, moto_endpoint: str, aws
) -> None:
    """moto answers CodeCommit approval rule templates with HTTP 500: bootstrap still succeeds and
    says the step was skipped (the real path is covered with Stubber in tests/unit/ops/test_review.py)."""
    root = repo_copy(tmp_path / "repo", ())
    done = run_cli("--repo-root", str(root), "bootstrap", "--endpoint-url", moto_endpoint)
    assert done.code == 0, done.out + done.err
    assert (
        "approval rule template mlops-check-approval: skipped (the endpoint does not implement CodeCommit "
        "approval rule templates)\n" in done.out
    )


def test_pr_check_does_not_approve_what_runs_with_the_deploy_role(repo: Path, moto_endpoint: str) -> None:
    """Security review finding 3: a pull request that changed a buildspec, the packaging or
    environments.json got "no pipeline changes" and the check's approval. Anything outside
    pipeline-configs/<id>/ is now a finding: the check revokes, a maintainer reviews."""
    git(repo, "switch", "-q", "-c", "sneaky")
    (repo / "buildspecs").mkdir()
    (repo / "buildspecs" / "deploy.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [id]\n")
    env = json.loads((repo / "pipeline-configs" / "environments.json").read_text())
    env["stages"][-1]["protected"] = False
    (repo / "pipeline-configs" / "environments.json").write_text(json.dumps(env, indent=2) + "\n")
    (repo / "NOTES.md").write_text("prose nothing runs\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tidy")
    review = mlopsctl(repo, moto_endpoint, "pr-check", "--base", "main", "--no-preview")
    assert review.code == 1, review.out + review.err
    flagged = sorted(
        line.split(":")[0]
        for line in review.err.splitlines()
        if "approves changes to pipeline configs only" in line
    )
    assert flagged == ["buildspecs/deploy.yml", "pipeline-configs/environments.json"], review.err
    # a change inside a pipeline folder alone stays the check's to approve
    git(repo, "switch", "-q", "main")
    git(repo, "switch", "-q", "-c", "fine")
    (repo / "pipeline-configs" / "scorer" / "mlops-config.json").write_text(
        CONFIG.replace("Scores things", "Scores")
    )
    git(repo, "commit", "-qam", "reword")
    clean = mlopsctl(repo, moto_endpoint, "pr-check", "--base", "main", "--no-preview")
    assert clean.code == 0 and "maintainer" not in clean.out + clean.err, clean.out + clean.err


SHADOW_CONFIG = CONFIG.replace(
    '  "data_capture_location"',
    '  "shadow_variant": {"dev": null, "staging": null, "prod": '
    f'{{"name": "challenger", "model_package_name": "{arn(2)}", "inference_instance": "ml.m5.large", '
    '"sampling_percent": 50}},\n  "data_capture_location"',
)


def test_promote_from_shadow_end_to_end_makes_a_valid_config_whose_pull_request_shows_the_shadow_going(
    repo: Path, moto_endpoint: str, aws
) -> None:
    """The CLI with the real validator (no patches): prod's shadow (v2 on ml.m5.large) becomes prod's
    model in one commit on a branch; the result validates, and pr-check's model section of that
    branch says the shadow is removed and prod now serves v2."""
    config = repo / "pipeline-configs" / "scorer" / "mlops-config.json"
    config.write_text(SHADOW_CONFIG)
    git(repo, "commit", "-qam", "a shadow in prod")
    assert run_cli("--repo-root", str(repo), "validate").code == 0
    deployed = mlopsctl(repo, moto_endpoint, "deploy", "--stage", "prod")
    assert deployed.code == 0, deployed.out + deployed.err

    promoted = mlopsctl(repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--from-shadow")
    assert promoted.code == 0, promoted.out + promoted.err
    branch = git(repo, "branch", "--format=%(refname:short)").split()
    (made,) = [b for b in branch if b != git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()]
    after = json.loads(git(repo, "show", f"{made}:pipeline-configs/scorer/mlops-config.json"))
    assert after["model_package_name"]["prod"] == arn(2)
    assert after["shadow_variant"] == {"dev": None, "staging": None, "prod": None}
    assert after["inference_instance"]["prod"] == "ml.m5.large"
    assert git(repo, "diff", "--name-only", f"HEAD..{made}").split() == [
        "pipeline-configs/scorer/mlops-config.json"
    ]

    git(repo, "checkout", "-q", made)
    checked = run_cli("--repo-root", str(repo), "validate")
    assert checked.code == 0, checked.out + checked.err
    review = mlopsctl(repo, moto_endpoint, "pr-check", "--base", "main", "--no-preview")
    assert review.code == 0, review.out + review.err
    assert "prod: shadow removed: scorer v2" in review.out, review.out
    assert "`scorer` v1 → **v2**" in review.out

    # from the promoted branch there is no shadow left in prod to promote
    again = mlopsctl(
        repo, moto_endpoint, "promote", "scorer", "--to", "prod", "--from-shadow", "--base", made
    )
    assert again.code == 1 and "shadow" in (again.out + again.err), again.out + again.err
