"""Prune deletes only what is provably gone and ours (issue 14, item 1), and a pipeline re-added
after a prune says which retained resource is in its way and how to resolve it (item 2). Against
the scripted fake in tests/fakes.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage, repository_identity
from mlops_gitops.ops.deploy import Deployer, deletions_note, present_entries, retained_conflict
from mlops_gitops.repo import Repo
from tests.conftest import repo_copy
from tests.fakes import FakeCloudFormation, FakeStack, fake_stage

OURS = "mlops-gitops"


def orphan(pipeline_id: str, stage: str = "dev", repository: str | None = OURS) -> FakeStack:
    tags = {
        "mlops:managed-by": "mlops-gitops",
        "mlops:stage": stage,
        "mlops:pipeline-id": pipeline_id,
        "mlops:commit": "a" * 40,
    }
    if repository is not None:
        tags["mlops:repository"] = repository
    return FakeStack(f"mlops-{pipeline_id}-{stage}", "UPDATE_COMPLETE", tags=tags)


def deployer(root: Path, fake: FakeCloudFormation) -> Deployer:
    repo = Repo(root)
    gateway = CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60)
    return Deployer(
        repo, Validator(repo).environments(), fake_stage(gateway), artifact_bucket="b", max_parallel=1
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return repo_copy(tmp_path / "repo", ["churn-batch"])


def plan_of(root: Path, fake: FakeCloudFormation) -> dict[str, tuple[str, str]]:
    plan = deployer(root, fake).plan("dev", [])
    return {i.stack_name: (i.action, "; ".join(i.reasons)) for i in plan.items}


def test_a_pipeline_folder_that_exists_is_never_pruned_whatever_its_contents(root: Path) -> None:
    configs = root / "pipeline-configs"
    (configs / "misnamed").mkdir()
    (configs / "misnamed" / "mlops_config.json").write_text("{}")
    (configs / "empty").mkdir()
    (configs / "dangling").symlink_to(root / "nowhere")
    (configs / "loop").symlink_to(configs / "loop")
    (configs / "linked").mkdir()
    (configs / "linked" / "mlops-config.json").symlink_to(root / "nowhere.json")
    fake = FakeCloudFormation()
    for pid in ("misnamed", "empty", "dangling", "loop", "linked", "gone"):
        fake.add(orphan(pid))
    d = deployer(root, fake)
    plan = d.plan("dev", [])
    actions = {i.stack_name: i.action for i in plan.items}
    assert actions == {
        "mlops-misnamed-dev": "keep",
        "mlops-empty-dev": "keep",
        "mlops-dangling-dev": "keep",
        "mlops-loop-dev": "keep",
        "mlops-linked-dev": "keep",
        "mlops-gone-dev": "delete",
    }
    outcomes = {o.item.stack_name: o.result for o in d.apply(plan, prune=True, allow_protected=True)}
    assert outcomes["mlops-gone-dev"] == "deleted"
    assert set(fake.stacks) == {f"mlops-{p}-dev" for p in ("misnamed", "empty", "dangling", "loop", "linked")}


def test_present_entries_are_every_name_under_pipeline_configs_but_environments_and_schemas(
    root: Path,
) -> None:
    configs = root / "pipeline-configs"
    (configs / "stray-file").write_text("")
    os.symlink("missing", configs / "dangling")
    assert present_entries(Repo(root)) == {"churn-batch", "stray-file", "dangling"}


def test_stacks_without_the_repository_tag_are_kept_with_a_reason(root: Path) -> None:
    fake = FakeCloudFormation()
    fake.add(orphan("gone", repository=None))
    [(action, reason)] = plan_of(root, fake).values()
    assert action == "keep"
    assert reason == (
        "no mlops:repository tag: deployed before ownership was recorded; delete by hand or redeploy it"
    )


def test_another_repositorys_stacks_are_never_planned_or_pruned(root: Path) -> None:
    fake = FakeCloudFormation()
    fake.add(orphan("theirs", repository="someone-else"))
    d = deployer(root, fake)
    plan = d.plan("dev", [])
    assert plan.items == []
    d.apply(plan, prune=True, allow_protected=True)
    assert "mlops-theirs-dev" in fake.stacks and "delete_stack" not in fake.calls


def test_a_spec_whose_stack_belongs_to_another_repository_is_kept_not_updated(root: Path) -> None:
    specs, errors, _ = render_stage(Repo(root), "dev", "c0ffee")
    assert not errors
    [spec] = specs
    fake = FakeCloudFormation()
    fake.add(FakeStack(spec.stack_name, "UPDATE_COMPLETE", tags={**spec.tags, "mlops:repository": "other"}))
    d = deployer(root, fake)
    plan = d.plan("dev", specs)
    [item] = plan.items
    assert item.action == "keep" and "belongs to repository 'other'" in item.reasons[0]
    d.apply(plan)
    assert "create_change_set" not in fake.calls


def test_the_rendered_stack_carries_the_repository_that_owns_it(root: Path) -> None:
    specs, _, _ = render_stage(Repo(root), "dev", "c0ffee")
    assert specs[0].tags["mlops:repository"] == "mlops-gitops"


@pytest.mark.parametrize(
    ("orchestrator", "identity"),
    [
        ({}, "mlops-gitops"),
        ({"repository_name": "ml-team"}, "ml-team"),
        ({"source": "connection", "full_repository_id": "acme/ml", "repository_name": "x"}, "acme/ml"),
    ],
)
def test_the_repository_identity_is_the_repository_name_or_the_connections_full_id(
    orchestrator: dict, identity: str
) -> None:
    assert repository_identity(orchestrator) == identity


def test_a_delete_says_why_and_the_summary_counts_it(root: Path) -> None:
    fake = FakeCloudFormation()
    fake.add(orphan("gone"))
    d = deployer(root, fake)
    plan = d.plan("dev", [])
    [item] = plan.items
    assert item.action == "delete"
    assert item.reasons[0].startswith(
        "no folder pipeline-configs/gone/ (last deployed from commit aaaaaaaaaaaa)"
    )
    [outcome] = d.apply(plan, prune=True)
    assert outcome.result == "deleted" and "no folder pipeline-configs/gone/" in outcome.detail
    note = deletions_note([outcome])
    assert (
        note.startswith("deploy: deleted 1 stack(s) whose pipeline folder is gone")
        and "mlops-gone-dev" in note
    )


def test_recreating_a_pruned_pipeline_whose_retained_resource_exists_says_which_and_how_to_resolve(
    root: Path,
) -> None:
    specs, _, _ = render_stage(Repo(root), "dev", "c0ffee")
    [spec] = specs
    fake = FakeCloudFormation()
    fake.execute_outcome[spec.stack_name] = (
        "fail",
        "Resource of type 'AWS::ECR::Repository' with identifier 'churn-images' already exists.",
        "Repository",
        "AWS::ECR::Repository",
    )
    d = deployer(root, fake)
    [outcome] = d.apply(d.plan("dev", specs))
    assert outcome.result == "failed"
    assert "AWS::ECR::Repository 'churn-images' (Repository) already exists" in outcome.detail
    assert "aws ecr delete-repository --repository-name churn-images --force" in outcome.detail
    assert "--change-set-type IMPORT" in outcome.detail
    assert '"ResourceIdentifier":{"RepositoryName":"churn-images"}' in outcome.detail


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            "LakeBucket (AWS::S3::Bucket): mlops-lake-dev-123456789012 already exists",
            "aws s3 rb s3://mlops-lake-dev-123456789012",
        ),
        (
            "ModelPackageGroup (AWS::SageMaker::ModelPackageGroup): Resource of type "
            "'AWS::SageMaker::ModelPackageGroup' with identifier 'churn' already exists.",
            "--model-package-group-name churn",
        ),
        ("Endpoint (AWS::SageMaker::Endpoint): capacity error", None),
        ("", None),
    ],
)
def test_retained_conflicts_are_recognised_from_the_failed_resource(
    reason: str, expected: str | None
) -> None:
    hint = retained_conflict(reason, "mlops-x-dev")
    assert (hint is None) if expected is None else (expected in hint)


def orchestrator_job(**parameters):
    from mlops_gitops.ops.bootstrap import StackJob

    params = {"StackPrefix": "mlops", "SourceProvider": "CodeCommit", "RepositoryName": "mine", **parameters}
    return StackJob("orchestrator", "mlops-orchestrator", "123456789012", "us-east-1", Path("x"), params)


@pytest.mark.parametrize(
    ("tags", "parameters"),
    [
        ({"mlops:repository": "theirs"}, {}),  # tagged by this version
        ({}, {"SourceProvider": "CodeCommit", "RepositoryName": "theirs"}),  # bootstrapped before the tag
        (
            {},
            {
                "SourceProvider": "CodeStarSourceConnection",
                "RepositoryName": "x",
                "FullRepositoryId": "theirs",
            },
        ),
    ],
)
def test_bootstrap_refuses_an_orchestrator_of_another_repository_tagged_or_not(tags, parameters) -> None:
    from mlops_gitops.ops.bootstrap import BootstrapError, check_owner

    with pytest.raises(
        BootstrapError, match="already owned by repository 'theirs'.*this repository is 'mine'"
    ):
        check_owner(orchestrator_job(), tags, parameters)


def test_bootstrap_accepts_its_own_orchestrator() -> None:
    from mlops_gitops.ops.bootstrap import check_owner

    check_owner(orchestrator_job(), {"mlops:repository": "mine"}, {})
    check_owner(orchestrator_job(), {}, {"RepositoryName": "mine", "SourceProvider": "CodeCommit"})


def test_another_repositorys_stack_is_kept_not_blocked_by_the_registry_gate(tmp_path: Path) -> None:
    root = repo_copy(tmp_path / "repo", ["fraud-ab"])
    specs, errors, _ = render_stage(Repo(root), "staging", "c0ffee")
    assert not errors
    [spec] = specs
    assert spec.parameters.get("ModelPackageArn"), "a pinned version the gate would look up"
    fake = FakeCloudFormation()
    fake.add(FakeStack(spec.stack_name, "UPDATE_COMPLETE", tags={**spec.tags, "mlops:repository": "other"}))
    plan = deployer(root, fake).plan("staging", specs)
    assert [i.action for i in plan.items] == ["keep"] and plan.findings == []
