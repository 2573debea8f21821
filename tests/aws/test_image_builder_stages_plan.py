"""Issue 20: an image builder builds once per account and region; in the default single-account
environments.json its stack is dev's, and plan/deploy/prune of staging neither create a second stack
(the ECR repository exists once per account and region:
https://docs.aws.amazon.com/AmazonECR/latest/userguide/Repositories.html) nor consider deleting dev's:
prune looks only at stacks tagged with its own stage. moto stands in for CloudFormation."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import repo_copy, run_cli


def _ours_in_dev(aws) -> None:
    """A stack as deploy leaves dev's image builder: tagged with its pipeline, stage and repository."""
    template = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    tags = {
        "mlops:managed-by": "mlops-gitops",
        "mlops:stage": "dev",
        "mlops:pipeline-id": "fraud-image",
        "mlops:pipeline-type": "byom_image_builder",
        "mlops:repository": "mlops-gitops",
    }
    aws("cloudformation").create_stack(
        StackName="mlops-fraud-image-dev",
        TemplateBody=json.dumps(template),
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


def test_staging_plans_no_image_builder_stack_says_which_stage_builds_it_and_leaves_devs_alone(
    aws, moto_endpoint: str, tmp_path: Path
) -> None:
    repo = repo_copy(tmp_path / "repo", ("fraud-image",))
    _ours_in_dev(aws)
    result = run_cli("--repo-root", str(repo), "plan", "--stage", "staging", "--endpoint-url", moto_endpoint)
    assert result.code == 0, result.out + result.err
    assert "fraud-image" not in result.out and "plan: nothing to deploy" in result.out
    assert (
        "note: 'fraud-image' has no stack in stage 'staging': its image is built by stage 'dev'" in result.err
    )
    # dev's stack is not staging's to prune, whatever --prune says (stacks are per stage)
    pruned = run_cli(
        "--repo-root",
        str(repo),
        "plan",
        "--stage",
        "prod",
        "--format",
        "json",
        "--endpoint-url",
        moto_endpoint,
    )
    assert pruned.code == 0, pruned.err
    assert "mlops-fraud-image-dev" not in pruned.out
    dev = run_cli("--repo-root", str(repo), "plan", "--stage", "dev", "--endpoint-url", moto_endpoint)
    assert dev.code == 0 and "mlops-fraud-image-dev" in dev.out, dev.out + dev.err
