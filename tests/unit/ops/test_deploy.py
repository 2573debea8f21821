"""Deploy paths that moto can't produce (it has no rollback states, no in-progress stacks, no
FAILED change sets with reasons), against the scripted fake in tests/fakes.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fake_gateways import FakeRegistry
from tests.fakes import NO_CHANGES, FakeCloudFormation, FakeStack, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
DEV_SPECS, _, _ = render_stage(REPO, "dev", "c0ffee")
SPEC = next(s for s in DEV_SPECS if s.pipeline_id == "churn-realtime")
OTHER = next(s for s in DEV_SPECS if s.pipeline_id == "churn-batch")


def deployer(fake: FakeCloudFormation, registry: FakeRegistry | None = None, **kwargs) -> Deployer:
    gateway = CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60)
    return Deployer(
        REPO,
        ENV,
        fake_stage(gateway, registry),
        artifact_bucket="artifacts",
        max_parallel=kwargs.pop("max_parallel", 1),
        **kwargs,
    )


def run(fake: FakeCloudFormation, specs, stage: str = "dev", **kwargs):
    d = deployer(fake, **kwargs)
    return {o.item.stack_name: o for o in d.apply(d.plan(stage, specs), prune=kwargs.get("prune", False))}


def deployed_as(spec, status: str, tags: dict | None = None) -> FakeStack:
    return FakeStack(
        spec.stack_name,
        status,
        tags=dict(spec.tags if tags is None else tags),
        parameters=dict(spec.parameters),
    )


def test_a_stack_that_never_finished_its_first_create_is_deleted_and_created_again() -> None:
    fake = FakeCloudFormation()
    fake.add(FakeStack(SPEC.stack_name, "ROLLBACK_COMPLETE"))
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert (outcome.item.action, outcome.result) == ("recreate", "created")
    assert fake.calls.index("delete_stack") < fake.calls.index("create_change_set")
    assert fake.stacks[SPEC.stack_name].status == "CREATE_COMPLETE"


def test_a_leftover_review_in_progress_shell_is_replaced() -> None:
    # the empty shell a run killed after create_change_set leaves behind (one run per stage at a time)
    fake = FakeCloudFormation()
    fake.add(FakeStack(SPEC.stack_name, "REVIEW_IN_PROGRESS"))
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert (outcome.item.action, outcome.result) == ("recreate", "created")
    assert fake.calls.index("delete_stack") < fake.calls.index("create_change_set")


def test_a_failed_delete_is_retried_before_creating_again() -> None:
    fake = FakeCloudFormation()
    fake.add(FakeStack(SPEC.stack_name, "DELETE_FAILED"))
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert (outcome.item.action, outcome.result) == ("recreate", "created")
    assert fake.calls.index("delete_stack") < fake.calls.index("create_change_set")


def test_a_rollback_that_cannot_be_continued_stops_with_its_reason() -> None:
    from datetime import datetime, timezone

    fake = FakeCloudFormation()
    stack = fake.add(
        deployed_as(SPEC, "UPDATE_ROLLBACK_FAILED", tags={**SPEC.tags, "mlops:spec-hash": "old"})
    )
    stack.events.append(
        {
            "EventId": "old",
            "Timestamp": datetime(2025, 1, 1, tzinfo=timezone.utc),
            "LogicalResourceId": "Old",
            "ResourceType": "AWS::X",
            "ResourceStatus": "UPDATE_FAILED",
            "ResourceStatusReason": "OLD REASON from last year",
        }
    )

    def still_failed(StackName: str) -> dict:
        fake.calls.append("continue_update_rollback")
        stack.events.append(
            {
                "EventId": "new",
                "Timestamp": datetime.now(timezone.utc),
                "LogicalResourceId": "Endpoint",
                "ResourceType": "AWS::SageMaker::Endpoint",
                "ResourceStatus": "UPDATE_FAILED",
                "ResourceStatusReason": "NEW REASON",
            }
        )
        return {}

    fake.continue_update_rollback = still_failed
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert outcome.result == "failed"
    assert "continuing the rollback ended UPDATE_ROLLBACK_FAILED" in outcome.detail
    assert "NEW REASON" in outcome.detail and "OLD REASON" not in outcome.detail, (
        "only this run's failures count"
    )
    assert "create_change_set" not in fake.calls


def test_a_stack_whose_folder_still_exists_is_kept_not_deleted() -> None:
    fake = FakeCloudFormation()
    tags = {"mlops:managed-by": "mlops-gitops", "mlops:stage": "prod", "mlops:pipeline-id": "churn-training"}
    fake.add(
        FakeStack("mlops-churn-training-prod", "UPDATE_COMPLETE", tags=tags)
    )  # churn-training only deploys to dev now
    d = deployer(fake)
    plan = d.plan("prod", [])
    assert [(i.action, i.stack_name) for i in plan.items] == [("keep", "mlops-churn-training-prod")]
    [outcome] = d.apply(plan, prune=True, allow_protected=True)
    assert outcome.result == "kept" and "mlops-churn-training-prod" in fake.stacks


def test_update_rollback_failed_is_continued_before_the_update() -> None:
    fake = FakeCloudFormation()
    fake.add(deployed_as(SPEC, "UPDATE_ROLLBACK_FAILED", tags={**SPEC.tags, "mlops:spec-hash": "old"}))
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert outcome.result == "updated"
    assert fake.calls.index("continue_update_rollback") < fake.calls.index("create_change_set")


def test_a_stack_in_progress_is_waited_for_and_left_alone_when_it_lands_on_our_spec() -> None:
    fake = FakeCloudFormation()
    stack = fake.add(deployed_as(SPEC, "UPDATE_IN_PROGRESS"))
    stack.upcoming = [
        "UPDATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]  # a concurrent run finishing
    d = deployer(fake)
    plan = d.plan("dev", [SPEC])
    assert plan.items[0].action == "wait"
    [outcome] = d.apply(plan)
    assert outcome.result == "unchanged" and "earlier run" in outcome.detail
    assert "create_change_set" not in fake.calls


def test_waiting_is_bounded() -> None:
    fake = FakeCloudFormation()
    stack = fake.add(deployed_as(SPEC, "UPDATE_IN_PROGRESS"))
    stack.upcoming = ["UPDATE_IN_PROGRESS"] * 1000
    ticks = iter(range(10_000))
    gateway = CloudFormationGateway(
        fake, sleep=lambda s: None, clock=lambda: float(next(ticks)), poll_seconds=0, timeout_seconds=5
    )
    d = Deployer(REPO, ENV, fake_stage(gateway), artifact_bucket="artifacts", max_parallel=1)
    [outcome] = d.apply(d.plan("dev", [SPEC]))
    assert outcome.result == "failed"
    assert "still UPDATE_IN_PROGRESS" in outcome.detail and "next run" in outcome.detail


@pytest.mark.parametrize("reason", [NO_CHANGES, "No updates are to be performed."])
def test_both_forms_of_no_changes_are_no_ops(reason: str) -> None:
    fake = FakeCloudFormation()
    fake.add(deployed_as(SPEC, "UPDATE_COMPLETE", tags={**SPEC.tags, "mlops:spec-hash": "old"}))
    fake.change_set_outcome[SPEC.stack_name] = ("FAILED", reason)
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert outcome.result == "unchanged"
    assert "execute_change_set" not in fake.calls and "delete_change_set" in fake.calls


def test_a_failed_change_set_reports_its_reason_and_removes_the_empty_stack_it_created() -> None:
    fake = FakeCloudFormation()
    fake.change_set_outcome[SPEC.stack_name] = (
        "FAILED",
        "Parameter 'InstanceType' must be one of AllowedValues",
    )
    outcome = run(fake, [SPEC])[SPEC.stack_name]
    assert outcome.result == "failed"
    assert "Parameter 'InstanceType' must be one of AllowedValues" in outcome.detail
    assert SPEC.stack_name not in fake.stacks, "the REVIEW_IN_PROGRESS shell is deleted"


def test_a_failed_update_quotes_the_first_failed_resource_and_does_not_stop_the_others() -> None:
    fake = FakeCloudFormation()
    fake.add(deployed_as(SPEC, "UPDATE_COMPLETE", tags={**SPEC.tags, "mlops:spec-hash": "old"}))
    fake.execute_outcome[SPEC.stack_name] = (
        "fail",
        "ResourceLimitExceeded: account-level service limit 'ml.m5.xlarge for endpoint usage' is 0",
    )
    outcomes = run(fake, [SPEC, OTHER])
    failed = outcomes[SPEC.stack_name]
    assert failed.result == "failed"
    assert "ended UPDATE_ROLLBACK_COMPLETE" in failed.detail
    assert "Endpoint (AWS::SageMaker::Endpoint): ResourceLimitExceeded" in failed.detail
    assert outcomes[OTHER.stack_name].result == "created"


def test_unchanged_stacks_cost_one_listing_and_nothing_else() -> None:
    fake = FakeCloudFormation()
    specs = [s for s in DEV_SPECS if not s.deferred]  # (dev's latest-approved look-ups are SageMaker calls)
    for spec in specs:
        fake.add(deployed_as(spec, "UPDATE_COMPLETE"))
    outcomes = run(fake, specs)
    assert {o.result for o in outcomes.values()} == {"unchanged"}
    assert fake.calls == ["describe_stacks"]


def test_orphans_are_deleted_only_with_prune_and_protected_ones_only_with_allow_protected() -> None:
    fake = FakeCloudFormation()
    orphan_tags = {
        "mlops:managed-by": "mlops-gitops",
        "mlops:stage": "prod",
        "mlops:pipeline-id": "gone",
        "mlops:repository": "mlops-gitops",
    }
    fake.add(FakeStack("mlops-gone-prod", "UPDATE_COMPLETE", tags=orphan_tags, protected=True))
    fake.add(FakeStack("someone-elses-stack", "UPDATE_COMPLETE"))
    d = deployer(fake)
    plan = d.plan("prod", [])
    assert [(i.action, i.stack_name, i.protected) for i in plan.items] == [
        ("delete", "mlops-gone-prod", True)
    ]
    assert d.apply(plan)[0].result == "skipped"
    assert d.apply(plan, prune=True)[0].result == "skipped"
    assert "mlops-gone-prod" in fake.stacks
    outcome = d.apply(plan, prune=True, allow_protected=True)[0]
    assert outcome.result == "deleted"
    assert "mlops-gone-prod" not in fake.stacks and "someone-elses-stack" in fake.stacks
    assert fake.calls.index("update_termination_protection") < fake.calls.index("delete_stack")


def test_protected_stages_get_termination_protection() -> None:
    fake = FakeCloudFormation()
    prod_specs, _, _ = render_stage(REPO, "prod", "c0ffee")
    spec = next(s for s in prod_specs if s.pipeline_id == "churn-realtime")
    assert spec.termination_protection
    assert run(fake, [spec], stage="prod")[spec.stack_name].result == "created"
    assert fake.stacks[spec.stack_name].protected


def test_staging_refuses_a_model_version_that_is_not_approved() -> None:
    specs, _, _ = render_stage(REPO, "staging", "c0ffee")
    spec = next(s for s in specs if s.pipeline_id == "fraud-ab")
    arn = spec.parameters["ModelPackageArn"]
    fake = FakeCloudFormation()
    outcome = run(fake, [spec], stage="staging", registry=FakeRegistry({arn: "PendingManualApproval"}))[
        spec.stack_name
    ]
    assert outcome.result == "blocked"
    assert "is PendingManualApproval, not Approved" in outcome.detail
    assert "create_change_set" not in fake.calls
    approved = run(FakeCloudFormation(), [spec], stage="staging", registry=FakeRegistry({arn: "Approved"}))[
        spec.stack_name
    ]
    assert approved.result == "created"


def test_dev_follows_the_latest_approved_version_and_redeploys_when_it_changes() -> None:
    spec = next(s for s in DEV_SPECS if s.pipeline_id == "fraud-ab")
    assert spec.deferred
    v1 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/1"
    v2 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/2"
    fake = FakeCloudFormation()
    assert (
        run(fake, [spec], registry=FakeRegistry(latest={"fraud-scorer": v1}))[spec.stack_name].result
        == "created"
    )
    assert fake.stacks[spec.stack_name].parameters["ModelPackageArn"] == v1
    assert (
        run(fake, [spec], registry=FakeRegistry(latest={"fraud-scorer": v1}))[spec.stack_name].result
        == "unchanged"
    )
    assert (
        run(fake, [spec], registry=FakeRegistry(latest={"fraud-scorer": v2}))[spec.stack_name].result
        == "updated"
    )
    assert fake.stacks[spec.stack_name].parameters["ModelPackageArn"] == v2


def test_no_approved_version_blocks_the_pipeline_and_never_makes_its_stack_an_orphan() -> None:
    spec = next(s for s in DEV_SPECS if s.pipeline_id == "fraud-ab")
    fake = FakeCloudFormation()
    fake.add(deployed_as(spec, "UPDATE_COMPLETE"))
    d = deployer(fake)
    plan = d.plan("dev", [spec])
    assert [(i.action, i.stack_name) for i in plan.items] == [("blocked", spec.stack_name)]
    assert [f.code for f in plan.findings] == ["model-registry"]
    assert "has no Approved version" in plan.findings[0].message
    [outcome] = d.apply(plan, prune=True, allow_protected=True)
    assert outcome.result == "blocked" and spec.stack_name in fake.stacks


def test_lambda_zips_are_uploaded_once_and_content_addressed() -> None:
    fake = FakeCloudFormation()
    d = deployer(fake, max_parallel=2)
    puts = []
    s3 = d.gateways.artifacts.client
    original = s3.put_object
    s3.put_object = lambda **kw: (puts.append(kw["Key"]), original(**kw))[1]
    d.apply(d.plan("dev", [SPEC, replace(SPEC, stack_name="mlops-twin-dev", pipeline_id="twin")]))
    # (a template over 51,200 bytes goes up too, content-addressed under templates/: not a zip)
    zips = [key for key in puts if key.startswith("lambda/")]
    assert zips == [SPEC.artifacts[0].key], "one upload for two stacks using the same zip"
    assert s3.objects[("artifacts", SPEC.artifacts[0].key)].startswith(b"PK")


def test_large_templates_go_through_a_regional_s3_url() -> None:
    from mlops_gitops.ops.deploy import template_url

    assert (
        template_url("b", "templates/x.yaml", "eu-west-1")
        == "https://b.s3.eu-west-1.amazonaws.com/templates/x.yaml"
    )
    assert template_url("b", "t.yaml", "cn-north-1") == "https://b.s3.cn-north-1.amazonaws.com.cn/t.yaml"


def test_registry_errors_are_not_taken_for_no_approved_version() -> None:
    from botocore.exceptions import ClientError

    spec = next(s for s in DEV_SPECS if s.pipeline_id == "fraud-ab")

    class Denied(FakeRegistry):
        def latest_approved(self, group: str):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListModelPackages"
            )

    with pytest.raises(ClientError):
        deployer(FakeCloudFormation(), registry=Denied()).plan("dev", [spec])


def test_plan_previews_updates_with_a_change_set_and_warns_about_replacements() -> None:
    fake = FakeCloudFormation()
    fake.add(deployed_as(SPEC, "UPDATE_COMPLETE", tags={**SPEC.tags, "mlops:spec-hash": "old"}))
    d = deployer(fake)
    plan = d.plan("dev", [SPEC])
    d.preview(plan)
    [item] = plan.items
    assert item.resource_changes == [("Modify", "Model", "AWS::SageMaker::Model", "True")]
    assert item.replacements == ["Model (AWS::SageMaker::Model)"]
    assert "REPLACES Model (AWS::SageMaker::Model)" in item.change_summary()
    assert "execute_change_set" not in fake.calls and fake.change_sets == {}, (
        "previewed, never executed, cleaned up"
    )
    from mlops_gitops.report.plan import plan_markdown, plan_text

    assert "changes: 1 Modify; REPLACES Model" in plan_text(plan.items)
    assert "⚠️" in plan_markdown(plan.items)


def test_termination_protection_follows_the_config_both_ways() -> None:
    prod_specs, _, _ = render_stage(REPO, "prod", "c0ffee")
    spec = replace(
        next(s for s in prod_specs if s.pipeline_id == "churn-realtime"), termination_protection=False
    )
    fake = FakeCloudFormation()
    stack = fake.add(deployed_as(spec, "UPDATE_COMPLETE", tags={**spec.tags, "mlops:spec-hash": "old"}))
    stack.protected = True  # e.g. the config now says "protect": {"prod": false}
    outcome = run(fake, [spec], stage="prod")[spec.stack_name]
    assert outcome.result == "updated" and "termination protection off" in outcome.detail
    assert fake.stacks[spec.stack_name].protected is False
    # and when CloudFormation finds nothing else to change, protection is still brought in line
    stack.protected, stack.tags = True, {**spec.tags, "mlops:spec-hash": "old"}
    fake.change_set_outcome[spec.stack_name] = ("FAILED", NO_CHANGES)
    outcome = run(fake, [spec], stage="prod")[spec.stack_name]
    assert outcome.result == "unchanged" and fake.stacks[spec.stack_name].protected is False


def test_status_reports_monitor_schedules() -> None:
    from mlops_gitops.aws.cloudformation import StackSnapshot
    from mlops_gitops.aws.sagemaker import JobState
    from mlops_gitops.core.plan import PlanItem
    from mlops_gitops.ops.status import status_of

    snap = StackSnapshot(
        "mlops-m-prod",
        "id",
        "UPDATE_COMPLETE",
        {"mlops:pipeline-type": "byom_model_quality_monitor"},
        {"NamePrefix": "mlops-m-prod"},
        {},
        False,
    )

    class Schedules(FakeRegistry):
        def __init__(self, state):
            super().__init__()
            self.state = state

        def schedule_status(self, name):
            return self.state(name)

    item = PlanItem("prod", "mlops-m-prod", "unchanged", "m")
    gateway = CloudFormationGateway(FakeCloudFormation())
    ok = status_of(
        [item], {snap.name: snap}, gateway, Schedules(lambda n: JobState(n, "Scheduled", "Completed"))
    )
    assert (ok[0].health, ok[0].detail) == (
        "healthy",
        "schedule mlops-m-prod-mq Scheduled, last execution Completed",
    )
    stopped = status_of([item], {snap.name: snap}, gateway, Schedules(lambda n: JobState(n, "Stopped", "")))
    assert stopped[0].health == "unhealthy"
    unknown = status_of([item], {snap.name: snap}, gateway, Schedules(lambda n: None))
    assert unknown[0].health == "unknown"


def test_a_stand_in_without_termination_protection_is_said_in_one_plain_line() -> None:
    """moto answers UpdateTerminationProtection with an HTML 500 page; every local prod deploy
    printed it as an alarming warning (issue 16). It is one plain note now, and a real AWS refusal
    still a WARNING with its one-line reason."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    prod_specs, _, _ = render_stage(REPO, "prod", "c0ffee")
    spec = next(s for s in prod_specs if s.pipeline_id == "churn-realtime")
    assert spec.termination_protection
    html = "Unable to parse response (syntax error), invalid XML received:\nb'<!doctype html>\\n<title>500 Internal Server Error</title>'"
    for error, expected in (
        (ResponseParserError(html), "termination protection not set: not available on this endpoint"),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "UpdateTerminationProtection"),
            "WARNING: termination protection not set (AccessDenied: no)",
        ),
    ):
        fake = FakeCloudFormation()

        def refuse(StackName: str, EnableTerminationProtection: bool, error=error) -> dict:
            raise error

        fake.update_termination_protection = refuse
        outcome = run(fake, [spec], stage="prod")[spec.stack_name]
        assert outcome.result == "created" and expected in outcome.detail, outcome.detail
        assert "<" not in outcome.detail and "\n" not in outcome.detail


def test_a_missing_bootstrap_parameter_says_to_run_bootstrap() -> None:
    """Pipeline templates read /mlops/notify-key-arn and /mlops/permissions-boundary-arn as
    AWS::SSM::Parameter::Value<String>; in an account not bootstrapped with this version
    CreateChangeSet refuses the stack. The outcome says what to do."""
    from botocore.exceptions import ClientError

    fake = FakeCloudFormation()
    error = {
        "Error": {
            "Code": "ValidationError",
            "Message": "Unable to fetch parameters [/mlops/notify-key-arn] from parameter store for this account.",
        }
    }

    def refuse(**kwargs):
        raise ClientError(error, "CreateChangeSet")

    fake.create_change_set = refuse
    d = deployer(fake)
    [outcome] = d.apply(d.plan("dev", [SPEC]))
    assert outcome.result == "failed"
    assert "Unable to fetch parameters [/mlops/notify-key-arn]" in outcome.detail
    assert "lacks the SSM parameter /mlops/notify-key-arn that mlopsctl bootstrap makes" in outcome.detail
    assert "run `mlopsctl bootstrap`" in outcome.detail


def test_other_failures_get_no_bootstrap_hint() -> None:
    from mlops_gitops.aws.errors import bootstrap_hint

    assert bootstrap_hint("mlops-a-dev: ended ROLLBACK_COMPLETE: Endpoint: quota exceeded") == (
        "mlops-a-dev: ended ROLLBACK_COMPLETE: Endpoint: quota exceeded"
    )
    assert bootstrap_hint("bucket s3://x/mlops/y denied") == "bucket s3://x/mlops/y denied"
