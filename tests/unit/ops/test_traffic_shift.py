"""Deploy streams the stage of an endpoint's blue/green traffic shift (issue 18).

While a stack whose change set touches its endpoint updates, each round of the stack wait reads
DescribeEndpoint and prints a line when the stage changes: the new fleet starting, the share of
traffic on it, baking, all traffic shifted, done or rolled back. The fields are DescribeEndpoint's
PendingDeploymentSummary (PendingProductionVariantSummary: CurrentWeight, DesiredWeight,
CurrentInstanceCount, DesiredInstanceCount, VariantStatus) and LastDeploymentConfig
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PendingProductionVariantSummary.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html).
moto runs no blue/green update: the scripted fakes play one, the response shapes checked against
botocore's service model with Stubber."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.stub import Stubber

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.s3 import ArtifactStore
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops import rollout
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fake_gateways import FakeEndpoints, FakeS3
from tests.fakes import FakeCloudFormation, FakeStack

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
SPECS, _, _ = render_stage(REPO, "prod", "c0ffee")
SPEC = next(s for s in SPECS if s.pipeline_id == "churn-realtime")  # a canary in prod
ENDPOINT = "mlops-churn-realtime-prod"
T0 = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)
CANARY = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "WaitIntervalInSeconds": 600,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        }
    }
}


def variant(weight: float, count: int, desired_weight: float | None = None, **status: Any) -> dict[str, Any]:
    v: dict[str, Any] = {
        "VariantName": "AllTraffic",
        "CurrentWeight": weight,
        "DesiredWeight": weight if desired_weight is None else desired_weight,
        "CurrentInstanceCount": count,
        "DesiredInstanceCount": 2,
    }
    if status:
        v["VariantStatus"] = [{"Status": status["status"], "StartTime": status.get("at", T0)}]
    return v


def described(
    status: str = "InService",
    config: str = "old-config",
    pending: list[dict[str, Any]] | None = None,
    serving_weight: float = 1.0,
    failure: str = "",
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": T0,
        "LastModifiedTime": T0,
        "ProductionVariants": [variant(serving_weight, 2)],
        "LastDeploymentConfig": CANARY,
    }
    if pending is not None:
        raw["PendingDeploymentSummary"] = {"EndpointConfigName": "new-config", "ProductionVariants": pending}
    if failure:
        raw["FailureReason"] = failure
    return raw


STARTING = described("Updating", pending=[variant(0.0, 0, 1.0, status="Creating")])
STARTED = described("Updating", pending=[variant(0.0, 1, 1.0, status="Creating")])
CANARY_BAKING = described("Updating", pending=[variant(0.1, 2, 1.0, status="Baking")], serving_weight=0.9)
ALL_SHIFTED = described("Updating", pending=[variant(1.0, 2, status="Baking")], serving_weight=0.0)
DONE = described("InService", config="new-config")
ROLLED_BACK = described(
    "InService", failure="Deployment failed because alarm(s) were triggered during the bake period."
)


def setup(script: list[dict[str, Any]], rounds: int, changes: list[tuple[str, str, str]] | None = None):
    fake = FakeCloudFormation()
    fake.add(
        FakeStack(
            SPEC.stack_name,
            "UPDATE_COMPLETE",
            tags={**SPEC.tags, "mlops:spec-hash": "0" * 16},
            parameters=dict(SPEC.parameters),
            resources=[
                (
                    "Endpoint",
                    "AWS::SageMaker::Endpoint",
                    f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{ENDPOINT}",
                )
            ],
        )
    )
    fake.execute_outcome[SPEC.stack_name] = ("rounds", rounds)
    if changes is not None:
        fake.change_set_changes[SPEC.stack_name] = changes
    endpoints = FakeEndpoints()
    endpoints.add(ENDPOINT, "old-config")
    endpoints.script[ENDPOINT] = list(script)
    gateways = StageGateways(
        "prod",
        "us-east-1",
        cfn=CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60),
        sagemaker=endpoints,
        artifacts=ArtifactStore(FakeS3()),
    )
    return fake, endpoints, gateways


def deploy(gateways: StageGateways) -> tuple[list[Any], list[str]]:
    lines: list[str] = []
    deployer = Deployer(
        REPO, ENV, gateways, artifact_bucket="artifacts", max_parallel=1, on_progress=lines.append
    )
    outcomes = deployer.apply(deployer.plan("prod", [SPEC]))
    return outcomes, [line for line in lines if "endpoint " in line]


def test_deploy_prints_each_stage_of_a_canary_once() -> None:
    # each state is seen on two rounds in a row: the second sight prints nothing
    script = [described(), STARTING, STARTING, STARTED, CANARY_BAKING, CANARY_BAKING, ALL_SHIFTED, DONE, DONE]
    fake, endpoints, gateways = setup(script, rounds=len(script))
    outcomes, lines = deploy(gateways)
    assert outcomes[0].result == "updated"
    prefix = f"{SPEC.stack_name}  endpoint {ENDPOINT}: "
    assert lines == [
        prefix + "canary of 10% — starting the new fleet (0 of 2 instances up)\n",
        prefix + "canary of 10% — starting the new fleet (1 of 2 instances up)\n",
        prefix
        + "canary of 10% — 10% of traffic on the new fleet, baking 600 s (a rollback alarm undoes it)\n",
        prefix + "all traffic shifted to the new fleet, baking before the old fleet goes\n",
        prefix + "update done: all traffic on the new fleet\n",
    ]
    # once the update is seen done, the endpoint is not described again
    assert endpoints.described.count(ENDPOINT) == len(script) - 1
    # the endpoint's name is read once per update, not once per round
    assert fake.calls.count("list_stack_resources") == 1


def test_an_unchanged_state_prints_nothing() -> None:
    # the stack updates for five rounds while its endpoint has not started to move
    _, endpoints, gateways = setup([described()], rounds=5)
    outcomes, lines = deploy(gateways)
    assert outcomes[0].result == "updated"
    assert lines == []
    assert endpoints.described  # it looked, every round, and saw nothing worth a line


def test_a_rollback_seen_during_the_update_is_said() -> None:
    _, _, gateways = setup([CANARY_BAKING, ROLLED_BACK], rounds=3)
    _, lines = deploy(gateways)
    assert lines[-1] == (
        f"{SPEC.stack_name}  endpoint {ENDPOINT}: rolled back: all traffic on the old fleet "
        "(Deployment failed because alarm(s) were triggered during the bake period.)\n"
    )


def test_a_change_set_that_leaves_the_endpoint_alone_costs_no_describe() -> None:
    changes = [("Modify", "InvocationAlarmTopic", "AWS::SNS::Topic")]
    _, endpoints, gateways = setup([STARTING], rounds=4, changes=changes)
    outcomes, lines = deploy(gateways)
    assert outcomes[0].result == "updated"
    assert lines == [] and endpoints.described == []


def test_a_linear_step_and_an_all_at_once_shift_in_words() -> None:
    linear = described(
        "Updating", pending=[variant(0.25, 2, 1.0, status="ActivatingTraffic")], serving_weight=0.75
    )
    linear["LastDeploymentConfig"] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 300,
                "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            }
        }
    }
    from mlops_gitops.aws.sagemaker import endpoint_deployment

    assert rollout.stage_text(endpoint_deployment(linear)) == (
        "linear of 1 instance(s) — shifting traffic: 25% of traffic on the new fleet"
    )
    plain = described("Updating", pending=[variant(0.0, 2, 1.0, status="Creating")])
    del plain["LastDeploymentConfig"]
    assert rollout.stage_text(endpoint_deployment(plain)) == "starting the new fleet (2 of 2 instances up)"
    assert rollout.stage_text(endpoint_deployment(described())) is None


def test_the_gateway_reads_what_describe_endpoint_returns() -> None:
    """Stubber checks the scripted response against botocore's model of DescribeEndpoint."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", CANARY_BAKING, {"EndpointName": ENDPOINT})
        stub.add_client_error(
            "describe_endpoint", "ValidationException", f"Could not find endpoint {ENDPOINT}."
        )
        gateway = SageMakerGateway(client)
        seen = gateway.endpoint_deployment(ENDPOINT)
        assert gateway.endpoint_deployment(ENDPOINT) is None
    assert seen is not None
    assert (seen.status, seen.config, seen.pending_config) == ("Updating", "old-config", "new-config")
    assert seen.pending[0].status == "Baking" and seen.pending[0].current_weight == 0.1
    assert (seen.routing, seen.step, seen.wait_seconds) == ("CANARY", "10%", 600)
    assert rollout.traffic_share(seen) == 10.0


def test_sagemakers_reason_stays_on_one_line() -> None:
    forged = described("InService", failure="alarm fired\nmlops-x-prod  endpoint y: update done")
    _, _, gateways = setup([CANARY_BAKING, forged], rounds=3)
    _, lines = deploy(gateways)
    assert lines[-1].endswith("(alarm fired mlops-x-prod  endpoint y: update done)\n")
    assert all(line.count("\n") == 1 for line in lines)
