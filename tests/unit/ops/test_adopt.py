"""`mlopsctl migrate-mwo SOURCE --adopt STACK` (issue 20): the takeover of the real-time endpoint an
MWO stack serves, planned and applied against the scripted fake CloudFormation and a fake SageMaker
that records the endpoint's state at every CloudFormation call. The AWS rules are cited in
ops/adopt.py; here: the plan changes nothing, the apply runs retain -> retire -> import with the
endpoint InService throughout, and the refused cases change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.cli import build_parser
from mlops_gitops.ops.adopt import AdoptionRefused, import_identifier
from tests.conftest import REPO_ROOT, repo_copy, run_cli
from tests.fake_gateways import FakeEndpoints
from tests.fakes import FakeCloudFormation, FakeStack, fake_stage

MWO_STACK = "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin"
ENDPOINT = "churn-live"
ARN = f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{ENDPOINT}"
MUTATING = {"create_change_set", "execute_change_set", "delete_stack", "update_termination_protection"}


def mwo_stack(**overrides) -> FakeStack:
    """MWO's real-time blueprint as deployed (its outputs and resources: shared/reference/mwo.md
    §2.1), with no DeletionPolicy (CDK's default for these resources)."""
    resources = {
        "MLOpsSagemakerModel": "AWS::SageMaker::Model",
        "MLOpsSagemakerEndpointConfig": "AWS::SageMaker::EndpointConfig",
        "MLOpsSagemakerEndpoint": "AWS::SageMaker::Endpoint",
    }
    fields = {
        "status": "CREATE_COMPLETE",
        "tags": {"stack_name": MWO_STACK},
        "parameters": {"EndpointName": ENDPOINT, "ModelName": "churn-xgb"},
        "outputs": {
            "SageMakerEndpointName": ENDPOINT,
            "SageMakerEndpointConfigName": "mlopssagemakerendpointconfig-abc",
            "SageMakerModelName": "mlopssagemakermodel-abc",
        },
        "template": {"Resources": {k: {"Type": t, "Properties": {}} for k, t in resources.items()}},
        "resources": [
            ("MLOpsSagemakerModel", resources["MLOpsSagemakerModel"], "mlopssagemakermodel-abc"),
            ("MLOpsSagemakerEndpointConfig", resources["MLOpsSagemakerEndpointConfig"], "mlopssagemakerendpointconfig-abc"),
            ("MLOpsSagemakerEndpoint", resources["MLOpsSagemakerEndpoint"], ARN),
        ],
    } | overrides  # fmt: skip
    return FakeStack(MWO_STACK, **fields)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = repo_copy(tmp_path / "repo", ())
    source = tmp_path / "mwo.json"
    mwo = json.loads((REPO_ROOT / "tests/fixtures/mwo/byom_realtime_builtin.json").read_text())
    source.write_text(json.dumps(mwo | {"endpoint_name": ENDPOINT}))
    cfn = FakeCloudFormation()
    cfn.add(mwo_stack())
    sm = FakeEndpoints()
    sm.add(ENDPOINT, "mlopssagemakerendpointconfig-abc")
    sm.watch(cfn, ENDPOINT)
    # The verb modules bind stage_gateways when first imported: import them all before the patch, so
    # none keeps the fake after this test (drift's did, and failed a later test).
    build_parser()
    monkeypatch.setattr(
        "mlops_gitops.cli.options.stage_gateways",
        lambda *a, **k: fake_stage(CloudFormationGateway(cfn, sleep=lambda s: None), registry=sm),
    )

    def adopt(*extra: str):
        return run_cli("--repo-root", str(repo), "migrate-mwo", str(source), "--adopt", MWO_STACK, *extra)

    adopt.repo = repo
    return cfn, sm, source, adopt


def mutations(cfn: FakeCloudFormation) -> list[str]:
    return [c for c in cfn.calls if c in MUTATING]


def test_the_plan_is_shown_and_nothing_changes_without_apply(world) -> None:
    cfn, sm, _, adopt = world
    result = adopt()
    assert result.code == 0, result.out + result.err
    for line in (
        f"1. set DeletionPolicy Retain on every resource of {MWO_STACK}",
        f"2. delete stack {MWO_STACK}, its 3 resources retained",
        f"3. create stack mlops-churn-xgb-dev by importing endpoint {ENDPOINT} as Endpoint",
        "4. mlopsctl deploy --stage dev",
        "endpoint up because:",
        "nothing changed; --apply runs steps 1-3",
    ):
        assert line in result.out, result.out
    assert mutations(cfn) == []
    assert set(cfn.stacks) == {MWO_STACK}


def test_apply_retains_retires_then_imports_and_the_endpoint_is_never_absent(world) -> None:
    cfn, sm, _, adopt = world
    result = adopt("--apply")
    assert result.code == 0, result.out + result.err
    # the order: retain (an update), retire (delete), import (a new stack)
    assert mutations(cfn) == [
        "create_change_set",
        "execute_change_set",
        "delete_stack",
        "create_change_set",
        "execute_change_set",
    ]
    assert [(h["stack"], h["type"]) for h in cfn.history] == [
        (MWO_STACK, "UPDATE"),
        ("mlops-churn-xgb-dev", "IMPORT"),
    ]
    assert cfn.history[0]["parameters"] == {"EndpointName": ENDPOINT, "ModelName": "churn-xgb"}, "kept"
    # the endpoint: present and InService at every CloudFormation call, never deleted
    assert sm.states and {status for _, _, status in sm.states} == {"InService"}
    assert sm.deleted == []
    assert MWO_STACK not in cfn.stacks
    ours = cfn.stacks["mlops-churn-xgb-dev"]
    assert ours.status == "IMPORT_COMPLETE"
    assert ours.resources == [("Endpoint", "AWS::SageMaker::Endpoint", ARN)]
    endpoint = ours.template["Resources"]["Endpoint"]
    assert endpoint["DeletionPolicy"] == "Retain"
    assert endpoint["Properties"] == {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": "mlopssagemakerendpointconfig-abc",
    }
    assert ours.tags["mlops:pipeline-id"] == "churn-xgb" and "mlops:spec-hash" not in ours.tags
    assert "done: create stack mlops-churn-xgb-dev" in result.out
    assert "next: mlopsctl deploy --stage dev" in result.out


def test_after_apply_the_ordinary_deploy_updates_the_adopted_stack(world) -> None:
    """Step 4 is `mlopsctl deploy`: its planner takes the imported stack as ours, to update (same
    EndpointName, so CloudFormation modifies the endpoint in place rather than replacing it)."""
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.ops.deploy import Deployer
    from mlops_gitops.repo import Repo

    cfn, sm, _, adopt = world
    assert adopt("--apply").code == 0
    repo = Repo(adopt.repo)
    specs, errors, _ = render_stage(repo, "dev", "c0ffee", "us-east-1")
    assert not errors
    gateways = fake_stage(CloudFormationGateway(cfn, sleep=lambda s: None), registry=sm)
    plan = Deployer(repo, Validator(repo).environments(), gateways).plan("dev", specs)
    (item,) = [i for i in plan.items if i.stack_name == "mlops-churn-xgb-dev"]
    assert item.action == "update", item.reasons
    assert item.spec.parameters["EndpointName"] == ENDPOINT


def test_without_the_retain_step_the_fake_deletes_the_endpoint_with_its_stack(world) -> None:
    """What makes the order matter: MWO's resources have no DeletionPolicy, so deleting its stack
    first would delete the endpoint (the fake models DeletionPolicy)."""
    cfn, sm, _, _ = world
    cfn.delete_stack(StackName=MWO_STACK)
    assert sm.deleted == [ENDPOINT]
    assert (("delete_stack", ENDPOINT, None)) not in sm.states  # recorded before the call...
    assert sm.endpoints == {}  # ...and gone after it


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda cfn, sm, src: cfn.stacks.pop(MWO_STACK), f"stack {MWO_STACK} does not exist"),
        (
            lambda cfn, sm, src: setattr(cfn.stacks[MWO_STACK], "outputs", {}),
            "is not an MWO real-time pipeline stack",
        ),
        (
            lambda cfn, sm, src: cfn.stacks[MWO_STACK].tags.update({"mlops:managed-by": "mlops-gitops"}),
            "already one of ours",
        ),
        (
            lambda cfn, sm, src: sm.timeline.update({ENDPOINT: ["Updating"]}),
            f"endpoint {ENDPOINT} is Updating, not InService",
        ),
        (
            lambda cfn, sm, src: src.write_text(
                json.dumps(json.loads(src.read_text()) | {"endpoint_name": "other-name"})
            ),
            f'set "endpoint_name": "{ENDPOINT}"',
        ),
        (lambda cfn, sm, src: setattr(cfn.stacks[MWO_STACK], "protected", True), "termination protection"),
    ],
    ids=["no-stack", "not-mwo", "ours", "not-in-service", "config-differs", "protected"],
)
def test_refused_cases_say_why_and_change_nothing(world, setup, message: str) -> None:
    cfn, sm, source, adopt = world
    setup(cfn, sm, source)
    result = adopt("--apply")
    assert result.code == 1, result.out + result.err
    assert "refused, nothing changed" in result.err and message in result.err, result.err
    assert mutations(cfn) == []
    assert sm.deleted == []


def test_a_failed_import_stops_there_says_what_it_left_and_never_touches_the_endpoint(world) -> None:
    """The endpoint still belongs to a stack (here another one), which import refuses: the IMPORT
    change set fails, is deleted, never executed."""
    cfn, sm, _, adopt = world
    cfn.add(FakeStack("someone-else", "CREATE_COMPLETE", resources=[("Ep", "AWS::SageMaker::Endpoint", ARN)]))
    result = adopt("--apply")
    assert result.code == 3, result.out + result.err
    assert "step 3 (create stack mlops-churn-xgb-dev" in result.err
    assert f"{ARN} already exists in stack someone-else" in result.err
    assert "The endpoint was not touched; MWO's stack is gone" in result.err
    assert mutations(cfn).count("execute_change_set") == 1 and "delete_change_set" in cfn.calls
    assert {status for _, _, status in sm.states} == {"InService"} and sm.deleted == []


def test_a_failed_retain_update_leaves_mwo_stack_in_place(world) -> None:
    cfn, sm, _, adopt = world
    cfn.execute_outcome[MWO_STACK] = ("fail", "Access denied", "MLOpsSagemakerModel", "AWS::SageMaker::Model")
    result = adopt("--apply")
    assert result.code == 3
    assert "step 1 (set DeletionPolicy Retain" in result.err and "Access denied" in result.err
    assert "run the same command again" in result.err
    assert "delete_stack" not in cfn.calls and MWO_STACK in cfn.stacks
    assert sm.deleted == []


def test_apply_without_adopt_is_a_usage_error(world) -> None:
    _, _, source, _ = world
    assert run_cli("migrate-mwo", str(source), "--apply").code == 2


def test_the_import_identifier_comes_from_the_provider_schema() -> None:
    # AWS::SageMaker::Endpoint: read + list handlers, primaryIdentifier /properties/EndpointArn
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-supported-resources.html
    assert import_identifier("AWS::SageMaker::Endpoint", {"EndpointArn": ARN, "EndpointName": ENDPOINT}) == {
        "EndpointArn": ARN
    }
    with pytest.raises(AdoptionRefused, match="does not support resource import"):
        import_identifier("AWS::Nothing::Here", {})


def test_the_retain_template_adds_only_the_policies_to_mwo_template_json_or_yaml() -> None:
    from mlops_gitops.ops.adopt import retained_template

    resource = {
        "Type": "AWS::SageMaker::Model",
        "Properties": {"ExecutionRoleArn": {"Fn::GetAtt": ["R", "Arn"]}},
    }
    as_json = {
        "Parameters": {"P": {"Type": "String"}},
        "Resources": {"A": resource},
        "Outputs": {"O": {"Value": "x"}},
    }
    expected = as_json | {
        "Resources": {"A": resource | {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}}
    }
    assert json.loads(retained_template(as_json)) == expected
    assert as_json["Resources"]["A"] == resource, "the template read is not modified"
    as_yaml = (
        "Parameters: {P: {Type: String}}\n"
        "Resources:\n  A:\n    Type: AWS::SageMaker::Model\n    Properties: {ExecutionRoleArn: !GetAtt R.Arn}\n"
        "Outputs: {O: {Value: x}}\n"
    )
    assert json.loads(retained_template(as_yaml)) == expected
