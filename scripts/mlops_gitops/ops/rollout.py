"""What happened when SageMaker undid an endpoint update (issue 18: deploy reports the rollout).

With a rollout policy the endpoint's DeploymentConfig carries AutoRollbackConfiguration: if one of
its alarms goes into ALARM while traffic shifts or bakes, SageMaker shifts all traffic back to the
old fleet and the update fails, so CloudFormation rolls the stack back
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html). The
endpoint stays InService on the previous model; DescribeEndpoint's FailureReason says why the
update failed "if the status is InService but update operation fails"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html), and the
alarm history names the alarm and when it fired. Deploy adds both to the failure it reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The rollback alarms realtime_inference.yaml always gives a rollout (Invocation5xxAlarm,
# LatencyAlarm: ${NamePrefix}-invocation-5xx, ${NamePrefix}-model-latency), then the user's.
OWN_ALARMS = ("invocation-5xx", "model-latency")
USER_ALARMS = ("RolloutAlarm1", "RolloutAlarm2", "RolloutAlarm3")
LOGICAL_ENDPOINT = "Endpoint"


def endpoint_name(cfn: Any, stack: str) -> str:
    """The name of the real-time stack's endpoint: the tail of its physical id (an ARN), or ''."""
    return (cfn.physical_id(stack, LOGICAL_ENDPOINT) or "").rsplit("/", 1)[-1]


def rollback_alarms(parameters: dict[str, str]) -> list[str]:
    """The alarms that roll back an update of a stack with these parameters ([] without a rollout)."""
    if not parameters.get("RolloutPolicy"):
        return []
    prefix = parameters.get("NamePrefix", "")
    return [f"{prefix}-{suffix}" for suffix in OWN_ALARMS] + [
        parameters[p] for p in USER_ALARMS if parameters.get(p)
    ]


def explain_rollback(gateways: Any, stack: str, parameters: dict[str, str], since: datetime) -> str | None:
    """Why SageMaker rolled the endpoint of ``stack`` back, if it did (None when the stack has no
    rollout, or nothing says so). Reads only; a read that fails leaves the failure as it was."""
    alarms = rollback_alarms(parameters)
    if not alarms:
        return None
    from mlops_gitops.aws.errors import AWS_ERRORS

    try:
        endpoint = endpoint_name(gateways.cfn, stack)
        described = gateways.sagemaker.describe_endpoint(endpoint) if endpoint else {}
        fired = gateways.alarms.went_into_alarm(alarms, since) if gateways.alarms else []
    except AWS_ERRORS:
        return None
    status, reason = described.get("EndpointStatus"), described.get("FailureReason")
    if not fired and not reason:
        return None
    parts = []
    if fired:
        first = fired[0]
        parts.append(
            f"SageMaker rolled the update back: alarm {first.name} went into ALARM at "
            f"{first.at:%Y-%m-%d %H:%M:%S %Z}".rstrip()
            + (f" ({first.reason})" if first.reason else "")
        )
        others = sorted({f.name for f in fired[1:]} - {first.name})
        if others:
            parts.append(f"then {', '.join(others)}")
    if reason:
        parts.append(f"the endpoint says: {reason}")
    if status:
        parts.append(
            f"endpoint {endpoint} is {status}" + (" on the previous model" if status == "InService" else "")
        )
    return "; ".join(parts)
