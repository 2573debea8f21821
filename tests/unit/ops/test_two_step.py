"""Updates SageMaker refuses while a variant is autoscaled (issue 15, item 4): changing the
instance type of (or removing) a variant registered as a scalable target fails
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html); deploy deregisters
autoscaling in a first change set, then updates. The scripted fake refuses the one-step update
(tests/fakes.py: _autoscaled_type_change); moto does not."""

from __future__ import annotations

import json

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.repo import Repo
from mlops_gitops.report.plan import plan_json, plan_text
from tests.conftest import REPO_ROOT
from tests.fakes import AUTOSCALED_UPDATE_REFUSED, FakeCloudFormation, FakeStack, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
SPECS, _, _ = render_stage(REPO, "staging", "c0ffee")
SPEC = next(s for s in SPECS if s.pipeline_id == "churn-realtime")  # autoscaled in staging
OLD_TYPE = "ml.c5.large"
WHY = f"variant AllTraffic instance type {OLD_TYPE} → {SPEC.parameters['InstanceType']} is autoscaled"


def deployed(fake: FakeCloudFormation, **changed: str) -> FakeStack:
    params = {**SPEC.parameters, "InstanceType": OLD_TYPE, **changed}
    tags = {**SPEC.tags, "mlops:spec-hash": "0" * 16}
    return fake.add(FakeStack(SPEC.stack_name, "UPDATE_COMPLETE", tags=tags, parameters=params))


def deployer(fake: FakeCloudFormation, notes: list[str] | None = None) -> Deployer:
    gateway = CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60)
    return Deployer(
        REPO,
        ENV,
        fake_stage(gateway, stage="staging"),
        artifact_bucket="artifacts",
        max_parallel=1,
        **({"on_progress": notes.append} if notes is not None else {}),
    )


def change_set_params(fake: FakeCloudFormation) -> list[dict[str, str]]:
    return [cs["parameters"] for cs in fake.history]


def test_plan_marks_an_instance_type_change_of_an_autoscaled_variant_as_a_two_step_update() -> None:
    fake = FakeCloudFormation()
    deployed(fake)
    plan = deployer(fake).plan("staging", [SPEC])
    (item,) = plan.items
    assert (item.action, item.two_step) == ("update", [WHY])
    assert f"two-step update: {WHY}" in plan_text(plan.items)
    assert json.loads(plan_json(plan.items))["items"][0]["two_step"] == [WHY]


def test_deploy_deregisters_autoscaling_first_then_updates_and_registers_it_again() -> None:
    fake = FakeCloudFormation()
    stack = deployed(fake)
    notes: list[str] = []
    d = deployer(fake, notes)
    (outcome,) = d.apply(d.plan("staging", [SPEC]))
    assert outcome.result == "updated", outcome.detail
    assert outcome.detail.startswith("two-step update: autoscaling deregistered first")
    step1, step2 = change_set_params(fake)
    # step 1: what is deployed, autoscaling deregistered; step 2: the new instance type, registered
    assert (step1["InstanceType"], step1["AutoscalingRegistration"]) == (OLD_TYPE, "deregistered")
    assert step2 == SPEC.parameters  # AutoscalingRegistration left at its default: registered
    assert fake.executed == [SPEC.stack_name, SPEC.stack_name]
    assert stack.parameters["InstanceType"] == SPEC.parameters["InstanceType"]
    assert stack.tags["mlops:spec-hash"] == SPEC.spec_hash
    assert [n.split(":", 2)[2].strip()[:24] for n in notes] == [
        "two-step update, step 1/",
        "two-step update, step 2/",
    ]


def test_a_failed_second_step_says_autoscaling_is_off_and_the_next_run_updates_in_one_step() -> None:
    fake = FakeCloudFormation()
    stack = deployed(fake)
    d = deployer(fake)
    calls = iter([None, ("fail", "Endpoint (AWS::SageMaker::Endpoint): capacity")])
    original = fake.execute_change_set

    def execute(StackName: str, ChangeSetName: str):
        outcome = next(calls, None)
        if outcome:
            fake.execute_outcome[StackName] = outcome
        return original(StackName=StackName, ChangeSetName=ChangeSetName)

    fake.execute_change_set = execute
    (outcome,) = d.apply(d.plan("staging", [SPEC]))
    assert outcome.result == "failed"
    assert (
        "step 1 had deregistered autoscaling: it stays off until a deploy of this stack succeeds"
        in outcome.detail
    )
    assert stack.parameters["AutoscalingRegistration"] == "deregistered"
    assert stack.tags["mlops:spec-hash"] == "0" * 16  # not the new hash: the next run plans an update
    fake.execute_outcome.clear()
    fake.execute_change_set = original
    d = deployer(fake)
    plan = d.plan("staging", [SPEC])
    assert plan.items[0].two_step == []  # nothing registered any more: one step
    (outcome,) = d.apply(plan)
    assert outcome.result == "updated"
    assert "AutoscalingRegistration" not in stack.parameters  # registered again (the default)


def test_model_changes_and_stacks_without_autoscaling_update_in_one_step() -> None:
    for changed in (
        {"InstanceType": SPEC.parameters["InstanceType"], "ModelArtifactUrl": "s3://b/old.tar.gz"},
        {"AutoscalingMaxCapacity": "0"},
    ):
        fake = FakeCloudFormation()
        deployed(fake, **changed)
        d = deployer(fake)
        plan = d.plan("staging", [SPEC])
        assert plan.items[0].two_step == []
        (outcome,) = d.apply(plan)
        assert outcome.result == "updated" and len(fake.executed) == 1, changed


def test_the_fake_refuses_the_one_step_update_as_sagemaker_does(monkeypatch) -> None:
    from mlops_gitops.ops import twostep

    fake = FakeCloudFormation()
    deployed(fake)
    d = deployer(fake)
    monkeypatch.setattr(twostep, "deregister_first", lambda *args: "")  # as before issue 15
    (outcome,) = d.apply(d.plan("staging", [SPEC]))
    assert outcome.result == "failed" and AUTOSCALED_UPDATE_REFUSED in outcome.detail


def test_two_step_uses_the_deployers_public_methods_only() -> None:
    """Step 1 goes through Deployer.apply_change_set, not the deployer's private helpers."""
    import ast
    import inspect

    from mlops_gitops.ops import twostep

    private = [
        node.attr
        for node in ast.walk(ast.parse(inspect.getsource(twostep)))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "deployer"
        and node.attr.startswith("_")
    ]
    assert private == []
