"""Deploy says plainly when SageMaker rolled an endpoint update back and which alarm fired
(issue 18). With a rollout, a tripped rollback alarm makes SageMaker shift traffic back and fail the
update (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html);
CloudFormation then rolls the stack back. moto has no guardrails: the scripted fake fails the update,
a fake alarm history says which alarm fired, and the fake endpoint keeps serving with a FailureReason
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html)."""

from __future__ import annotations

from datetime import datetime, timezone

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.cloudwatch import AlarmFired
from mlops_gitops.aws.s3 import ArtifactStore
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops import rollout
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.ops.status import stage_status
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fake_gateways import FakeRegistry, FakeS3
from tests.fakes import FakeCloudFormation, FakeStack

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
SPECS, _, _ = render_stage(REPO, "prod", "c0ffee")
SPEC = next(s for s in SPECS if s.pipeline_id == "churn-realtime")  # a canary with rollback alarms in prod
ENDPOINT = "mlops-churn-realtime-prod"
FIRED_AT = datetime(2026, 12, 3, 10, 0, 5, tzinfo=timezone.utc)
SAGEMAKER_SAYS = "Deployment failed because alarm(s) were triggered during the bake period."


class FakeAlarms:
    def __init__(self, fired: list[AlarmFired]) -> None:
        self.fired, self.asked = fired, []

    def went_into_alarm(self, names: list[str], since: datetime) -> list[AlarmFired]:
        self.asked.append((names, since))
        return [f for f in self.fired if f.name in names]


def setup(fired: list[AlarmFired], parameters: dict[str, str] | None = None):
    fake = FakeCloudFormation()
    params = {**(parameters or SPEC.parameters), "DataCaptureSamplingPercentage": "5"}  # the deployed value
    fake.add(
        FakeStack(
            SPEC.stack_name,
            "UPDATE_COMPLETE",
            tags={**SPEC.tags, "mlops:spec-hash": "0" * 16},
            parameters=params,
            resources=[
                (
                    "Endpoint",
                    "AWS::SageMaker::Endpoint",
                    f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{ENDPOINT}",
                )
            ],
        )
    )
    fake.execute_outcome[SPEC.stack_name] = ("fail", f"Resource handler returned message: {SAGEMAKER_SAYS}")
    registry, alarms = FakeRegistry(), FakeAlarms(fired)
    registry.failures[ENDPOINT] = SAGEMAKER_SAYS
    gateways = StageGateways(
        "prod",
        "us-east-1",
        cfn=CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60),
        sagemaker=registry,
        artifacts=ArtifactStore(FakeS3()),
        alarms=alarms,
    )
    return fake, gateways, alarms


def deploy(gateways: StageGateways, spec=SPEC):
    deployer = Deployer(REPO, ENV, gateways, artifact_bucket="artifacts", max_parallel=1)
    return deployer.apply(deployer.plan("prod", [spec]))


def test_a_rolled_back_rollout_names_the_alarm_and_fails_the_deploy() -> None:
    fired = AlarmFired(f"{ENDPOINT}-invocation-5xx", FIRED_AT, "Threshold Crossed: 3 datapoints > 1.0")
    _, gateways, alarms = setup([fired])
    (outcome,) = deploy(gateways)
    assert outcome.failed and outcome.result == "failed"
    assert (
        f"SageMaker rolled the update back: alarm {ENDPOINT}-invocation-5xx went into ALARM at "
        "2026-12-03 10:00:05 UTC (Threshold Crossed: 3 datapoints > 1.0)" in outcome.detail
    )
    assert f"the endpoint says: {SAGEMAKER_SAYS}" in outcome.detail
    assert f"endpoint {ENDPOINT} is InService on the previous model" in outcome.detail
    ((names, _since),) = alarms.asked
    # the template's own two alarms, then the one the config names (churn-prediction-drift)
    assert names == [f"{ENDPOINT}-invocation-5xx", f"{ENDPOINT}-model-latency", "churn-prediction-drift"]


def test_status_says_the_last_update_failed_while_the_endpoint_serves() -> None:
    fake, gateways, _ = setup([])
    fake.stacks[SPEC.stack_name].parameters = dict(SPEC.parameters)
    fake.stacks[SPEC.stack_name].tags = dict(SPEC.tags)
    (row,) = stage_status(REPO, ENV, gateways, [SPEC])
    assert row.health == "healthy"
    assert f"its last update failed: {SAGEMAKER_SAYS}" in row.detail


def test_without_a_rollout_a_failure_is_reported_as_before() -> None:
    parameters = {**SPEC.parameters, "RolloutPolicy": ""}
    spec = type(SPEC)(**{**SPEC.__dict__, "parameters": parameters})
    _, gateways, alarms = setup([AlarmFired("x", FIRED_AT, "")], parameters)
    (outcome,) = deploy(gateways, spec)
    assert outcome.failed
    assert "rolled the update back" not in outcome.detail and alarms.asked == []
    assert SAGEMAKER_SAYS in outcome.detail  # the failed resource's own reason, as always


def test_rollback_alarms_follow_the_template() -> None:
    assert rollout.rollback_alarms({"RolloutPolicy": "", "NamePrefix": "p"}) == []
    assert rollout.rollback_alarms({"RolloutPolicy": "LINEAR", "NamePrefix": "p", "RolloutAlarm1": "a"}) == [
        "p-invocation-5xx",
        "p-model-latency",
        "a",
    ]
    template = (REPO_ROOT / "cloudformation" / "pipelines" / "realtime_inference.yaml").read_text()
    for suffix in rollout.OWN_ALARMS:
        assert f"AlarmName: !Sub ${{NamePrefix}}-{suffix}" in template
