"""The rollout of a real-time endpoint: what the parameter builder gives for each policy, and the
endpoint's DeploymentConfig that CloudFormation would make of it.

moto's CloudFormation creates the endpoint but ignores DeploymentConfig (it runs no blue/green
update, shifts no traffic and watches no alarm), so real rollbacks can't be exercised here: these
tests evaluate the template offline (cfn_eval) and assert the shape SageMaker would receive.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import parameter_problem
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import build_params, valid_config

TEMPLATE = "realtime_inference.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
DECLARED = BODY["Parameters"]
ENV = Validator(Repo(REPO_ROOT)).environments()
NO_ROLLOUT: dict[str, str] = {}

CANARY_DEFAULT = {
    "RolloutPolicy": "CANARY",
    "RolloutSizeType": "CAPACITY_PERCENT",
    "RolloutSizeValue": "10",
    "RolloutWaitSeconds": "600",
    "RolloutBakeSeconds": "0",
    "RolloutMaxExecutionSeconds": "0",
    "RolloutAlarm1": "",
    "RolloutAlarm2": "",
    "RolloutAlarm3": "",
}


def _rollout_params(tmp_repo: TmpRepo, rollout: Any, stage: str, **fields: Any) -> dict[str, str]:
    config = example("churn-realtime")
    config.update({"instance_count": 4, "rollout": rollout, **fields})
    del config["autoscaling"]
    if rollout is None:
        del config["rollout"]
    cfg = valid_config(tmp_repo, "p", config, ENV)
    params, ctx = build_params(TEMPLATE, cfg, stage, ENV)
    assert ctx.findings == []
    rollout_params = {k: v for k, v in params.items() if k.startswith("Rollout")}
    for name, value in rollout_params.items():  # the template's constraints (ModelRevision comes from render)
        assert parameter_problem(DECLARED[name], value) is None, (name, value)
    return rollout_params


CASES = [
    pytest.param(None, "prod", NO_ROLLOUT, id="absent-no-deployment-config-in-any-stage"),
    pytest.param({}, "dev", NO_ROLLOUT, id="empty-in-dev-is-all-at-once-which-adds-nothing"),
    pytest.param({}, "staging", CANARY_DEFAULT, id="empty-with-approval-is-the-default-canary"),
    pytest.param({}, "prod", CANARY_DEFAULT, id="empty-in-prod-is-the-default-canary"),
    pytest.param({"policy": "all_at_once"}, "prod", NO_ROLLOUT, id="all-at-once-without-extras"),
    pytest.param(
        {"policy": "all_at_once", "alarms": ["a"], "bake_seconds": 120},
        "dev",
        {**CANARY_DEFAULT, "RolloutPolicy": "ALL_AT_ONCE", "RolloutBakeSeconds": "120", "RolloutAlarm1": "a"},
        id="all-at-once-with-alarms-and-bake",
    ),
    pytest.param(
        {
            "policy": "canary",
            "canary_size": {"type": "INSTANCE_COUNT", "value": 2},
            "wait_seconds": 300,
            "bake_seconds": 900,
            "max_execution_seconds": 3600,
            "alarms": ["a", "b", "c"],
        },
        "dev",
        {
            "RolloutPolicy": "CANARY",
            "RolloutSizeType": "INSTANCE_COUNT",
            "RolloutSizeValue": "2",
            "RolloutWaitSeconds": "300",
            "RolloutBakeSeconds": "900",
            "RolloutMaxExecutionSeconds": "3600",
            "RolloutAlarm1": "a",
            "RolloutAlarm2": "b",
            "RolloutAlarm3": "c",
        },
        id="canary-every-key",
    ),
    pytest.param(
        {"policy": "linear"},
        "prod",
        {**CANARY_DEFAULT, "RolloutPolicy": "LINEAR", "RolloutSizeValue": "20"},
        id="linear-default-step",
    ),
    pytest.param(
        {"policy": "linear", "linear_step": {"type": "CAPACITY_PERCENT", "value": 25}, "wait_seconds": 0},
        "prod",
        {**CANARY_DEFAULT, "RolloutPolicy": "LINEAR", "RolloutSizeValue": "25", "RolloutWaitSeconds": "0"},
        id="linear-step-and-wait",
    ),
    pytest.param(
        {"dev": {}, "staging": {"policy": "all_at_once"}, "prod": {"policy": "canary"}},
        "prod",
        CANARY_DEFAULT,
        id="per-stage",
    ),
]


@pytest.mark.parametrize("rollout, stage, expected", CASES)
def test_rollout_parameters_per_policy(tmp_repo: TmpRepo, rollout: Any, stage: str, expected: dict) -> None:
    assert _rollout_params(tmp_repo, rollout, stage) == expected


def deployment_config(params: dict[str, str]) -> Any:
    """The endpoint's DeploymentConfig as CloudFormation would evaluate it (None when left out)."""
    given = {"NamePrefix": "mlops-p-prod", "ImageUri": "", "ModelArtifactUrl": "", "ModelRevision": "0" * 8}
    given.update({"DataCaptureUri": "s3://capture/p", "Variant2Name": "", "Variant3Name": ""})
    given.update(
        {"Variant2ModelArtifactUrl": "", "Variant3ModelArtifactUrl": "", "ShadowModelArtifactUrl": ""}
    )
    given.update({"InstanceType": "ml.m5.large", "PermissionsBoundaryArn": "", "ArtifactBucket": "b"})
    given.update({"InferenceLambdaKey": "k", **params})
    values = parameter_values(BODY, {k: v for k, v in given.items() if k in DECLARED})

    def resource(name: str, attr: str | None) -> Any:
        if attr is None and name in ("Invocation5xxAlarm", "LatencyAlarm"):
            return evaluate(BODY["Resources"][name]["Properties"]["AlarmName"])  # Ref of an alarm: its name
        return f"<{name}.{attr}>"

    evaluate = Evaluator(BODY, values, resources=resource)
    props = evaluate.resource("Endpoint")["Properties"]
    return props.get("DeploymentConfig")


OWN_ALARMS = [{"AlarmName": "mlops-p-prod-invocation-5xx"}, {"AlarmName": "mlops-p-prod-model-latency"}]

SHAPES = [
    pytest.param(NO_ROLLOUT, None, id="no-rollout"),
    pytest.param(
        CANARY_DEFAULT,
        {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": "600",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": "10"},
                },
                "TerminationWaitInSeconds": "0",
            },
            "AutoRollbackConfiguration": {"Alarms": OWN_ALARMS},
        },
        id="canary",
    ),
    pytest.param(
        {
            **CANARY_DEFAULT,
            "RolloutPolicy": "LINEAR",
            "RolloutSizeType": "INSTANCE_COUNT",
            "RolloutSizeValue": "1",
        }
        | {"RolloutMaxExecutionSeconds": "7200", "RolloutAlarm1": "a", "RolloutAlarm2": "b"},
        {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "LINEAR",
                    "WaitIntervalInSeconds": "600",
                    "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": "1"},
                },
                "TerminationWaitInSeconds": "0",
                "MaximumExecutionTimeoutInSeconds": "7200",
            },
            "AutoRollbackConfiguration": {"Alarms": [*OWN_ALARMS, {"AlarmName": "a"}, {"AlarmName": "b"}]},
        },
        id="linear-with-timeout-and-two-alarms",
    ),
    pytest.param(
        {**CANARY_DEFAULT, "RolloutPolicy": "ALL_AT_ONCE", "RolloutBakeSeconds": "300", "RolloutAlarm1": "a"}
        | {"RolloutAlarm2": "b", "RolloutAlarm3": "c"},
        {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": "600"},
                "TerminationWaitInSeconds": "300",
            },
            "AutoRollbackConfiguration": {
                "Alarms": [*OWN_ALARMS, {"AlarmName": "a"}, {"AlarmName": "b"}, {"AlarmName": "c"}]
            },
        },
        id="all-at-once-with-bake-and-three-alarms",
    ),
]


@pytest.mark.parametrize("params, expected", SHAPES)
def test_deployment_config_shape(params: dict[str, str], expected: Any) -> None:
    assert deployment_config(params) == expected


def test_the_alarms_name_the_endpoint_without_depending_on_it() -> None:
    """The endpoint's rollback config refers to the alarms, so the alarms can't refer to the endpoint
    resource (a cycle); they name it the way the endpoint is named."""
    for name in ("Invocation5xxAlarm", "LatencyAlarm"):
        dims = BODY["Resources"][name]["Properties"]["Dimensions"]
        assert dims[0]["Value"] == BODY["Resources"]["Endpoint"]["Properties"]["EndpointName"]
