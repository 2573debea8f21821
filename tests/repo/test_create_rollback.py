"""Issue 15 D: a failed first create is retryable.

When the operation that created a resource rolls back, CloudFormation deletes it unless its
DeletionPolicy is Retain; RetainExceptOnCreate keeps it on stack deletion and replacement but deletes
it when its creating operation rolls back. UpdateReplacePolicy has no RetainExceptOnCreate, so it stays
Retain (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-updatereplacepolicy.html).
A named resource kept by a rolled-back create makes the retry fail with "already exists". moto ignores
DeletionPolicy on a rollback, so the model below is what CloudFormation documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.core.templates import _parse
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.repo

TEMPLATES = [
    REPO_ROOT / "cloudformation" / "orchestrator.yaml",
    REPO_ROOT / "cloudformation" / "target-account.yaml",
    REPO_ROOT / "cloudformation" / "bootstrap-assets.yaml",
    *sorted((REPO_ROOT / "cloudformation" / "pipelines").glob("*.yaml")),
]
IDS = [p.name for p in TEMPLATES]


def kept_when_the_create_rolls_back(resources: dict) -> dict[str, list[str]]:
    """Logical id -> the name properties it is created with, for what CloudFormation keeps when the
    create that made it rolls back: DeletionPolicy Retain (a policy we cannot read, e.g. an intrinsic,
    counts as Retain). Delete, Snapshot (snapshot, then delete) and RetainExceptOnCreate delete it."""
    kept = {}
    for logical, res in resources.items():
        policy = res.get("DeletionPolicy", "Delete")
        if policy not in ("Delete", "Snapshot", "RetainExceptOnCreate"):
            names = [k for k in res.get("Properties", {}) if k.endswith("Name") or k == "Name"]
            kept[logical] = names
    return kept


def blocks_the_retry(resources: dict) -> list[str]:
    """What the next create collides with: kept resources that carry a fixed name."""
    return sorted(f"{k} ({', '.join(v)})" for k, v in kept_when_the_create_rolls_back(resources).items() if v)


def test_the_model_keeps_named_retained_resources_and_nothing_else() -> None:
    resources = {
        "Lake": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "Properties": {"BucketName": "b"}},
        "Logs": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
        "Group": {
            "Type": "AWS::SageMaker::ModelPackageGroup",
            "DeletionPolicy": "RetainExceptOnCreate",
            "Properties": {"ModelPackageGroupName": "g"},
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},
    }
    assert set(kept_when_the_create_rolls_back(resources)) == {"Lake", "Logs"}
    assert blocks_the_retry(resources) == ["Lake (BucketName)"]


@pytest.mark.parametrize("path", TEMPLATES, ids=IDS)
def test_a_failed_first_create_leaves_nothing_behind(path: Path) -> None:
    resources = _parse(path.read_text())["Resources"]
    assert kept_when_the_create_rolls_back(resources) == {}
    assert blocks_the_retry(resources) == []


@pytest.mark.parametrize("path", TEMPLATES, ids=IDS)
def test_what_is_kept_on_delete_is_retain_except_on_create_and_retain_on_replace(path: Path) -> None:
    for logical, res in _parse(path.read_text())["Resources"].items():
        if (
            res.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
            or res.get("UpdateReplacePolicy") == "Retain"
        ):
            assert (res.get("DeletionPolicy"), res.get("UpdateReplacePolicy")) == (
                "RetainExceptOnCreate",
                "Retain",
            ), f"{path.name} {logical}"
