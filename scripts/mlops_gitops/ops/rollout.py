"""What happened when SageMaker undid an endpoint update (issue 18: deploy reports the rollout).

With a rollout policy the endpoint's DeploymentConfig carries AutoRollbackConfiguration: if one of
its alarms goes into ALARM while traffic shifts or bakes, SageMaker shifts all traffic back to the
old fleet and the update fails, so CloudFormation rolls the stack back
(https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html). The
endpoint stays InService on the previous model; DescribeEndpoint's FailureReason says why the
update failed "if the status is InService but update operation fails"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html), and the
alarm history names the alarm and when it fired. Deploy adds both to the failure it reports.

While the update runs, deploy follows the traffic shift (``traffic_watch``): on each round of the
stack wait it reads DescribeEndpoint - only for a stack whose change set touches its endpoint, and
only while the stack updates or rolls back - and prints a line when the stage it sees changes. The
stage comes from the PendingDeploymentSummary (the new fleet: its variants' CurrentWeight,
DesiredWeight, instance counts and VariantStatus Creating / ActivatingTraffic / Baking) and the
LastDeploymentConfig (canary or linear, the wait between steps):
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PendingProductionVariantSummary.html
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops_gitops.report.markdown import one_line

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


# ------------------------------------------------------------------ following a traffic shift

# A change to any of these updates the endpoint: a new Model or EndpointConfig is a new
# configuration the Endpoint is updated to (a blue/green deployment).
ENDPOINT_TYPES = frozenset(
    {"AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Model"}
)
# The stack states in which the endpoint may be shifting traffic (an update, or its undoing).
WATCHED = frozenset(
    {"UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"}
)
POLICY_WORDS = {"CANARY": "canary", "LINEAR": "linear", "ALL_AT_ONCE": "all at once"}


def traffic_share(deployment: Any) -> float | None:
    """Percent of the endpoint's traffic on the new fleet: the new fleet's CurrentWeight over the
    sum of both fleets' (None when the weights are not reported)."""
    new = [f.current_weight for f in deployment.pending]
    if not new or any(w is None for w in new):
        return None
    total = sum(new) + sum(f.current_weight or 0 for f in deployment.serving)
    return 100 * sum(new) / total if total > 0 else None


def stage_text(deployment: Any) -> str | None:
    """The stage of the update in progress, in words (None when no update is in progress)."""
    if not deployment.pending_config:
        return None
    policy = POLICY_WORDS.get(deployment.routing, "")
    step = f" of {deployment.step}" if deployment.step and deployment.routing != "ALL_AT_ONCE" else ""
    prefix = f"{policy}{step} — " if policy else ""
    statuses = {f.status for f in deployment.pending}
    share = traffic_share(deployment)
    if "Creating" in statuses or (not share and not statuses & {"ActivatingTraffic", "Baking"}):
        current = sum(f.current_instances or 0 for f in deployment.pending)
        desired = sum(f.desired_instances or 0 for f in deployment.pending)
        counts = f" ({current} of {desired} instances up)" if desired else ""
        return f"{prefix}starting the new fleet{counts}"
    if share is not None and share >= 99.95:
        text = "all traffic shifted to the new fleet"
        return text + (", baking before the old fleet goes" if "Baking" in statuses else "")
    text = (
        f"{share:.0f}% of traffic on the new fleet"
        if share is not None
        else "traffic moving to the new fleet"
    )
    if "Baking" in statuses:
        wait = deployment.wait_seconds
        return f"{prefix}{text}, baking{f' {wait} s' if wait else ''} (a rollback alarm undoes it)"
    return f"{prefix}shifting traffic: {text}"


def ended_text(deployment: Any, deployed_config: str) -> str:
    """How the update the watch saw ended, once no update is in progress."""
    failure = f" ({deployment.failure})" if deployment.failure else ""
    if deployment.status == "InService" and deployment.config == deployed_config:
        return "update done: all traffic on the new fleet"
    if deployment.status == "InService":
        return f"rolled back: all traffic on the old fleet{failure}"
    return f"endpoint is {deployment.status}{failure}"


@dataclass
class TrafficWatch:
    """Follows one stack's endpoint through an update: called on each round of the stack wait."""

    gateways: Any
    stack: str
    write: Callable[[str], None]
    endpoint: str | None = None
    last: str | None = None
    deploying: str = ""  # the configuration seen being deployed
    finished: bool = False

    def __call__(self, snapshot: Any) -> None:
        if self.finished or snapshot.status not in WATCHED:
            return
        from mlops_gitops.aws.errors import AWS_ERRORS

        try:
            if self.endpoint is None:
                self.endpoint = endpoint_name(self.gateways.cfn, self.stack)
            deployment = self.gateways.sagemaker.endpoint_deployment(self.endpoint) if self.endpoint else None
        except AWS_ERRORS:
            return  # a read that fails shows nothing: the stack's own events still tell the outcome
        if deployment is None:
            return
        text = stage_text(deployment)
        if text is None and self.deploying:
            text, self.finished = ended_text(deployment, self.deploying), True
        self.deploying = deployment.pending_config or self.deploying
        if text is not None and text != self.last:
            self.last = text
            # one line, whatever SageMaker's reason holds
            self.write(one_line(f"{self.stack}  endpoint {self.endpoint}: {text}") + "\n")


def traffic_watch(
    gateways: Any, stack: str, write: Callable[[str], None]
) -> Callable[[Sequence[Any]], TrafficWatch | None]:
    """For CloudFormationGateway.apply: a TrafficWatch when the change set touches the endpoint."""

    def watch(changes: Sequence[Any]) -> TrafficWatch | None:
        if not any(c.resource_type in ENDPOINT_TYPES for c in changes):
            return None
        return TrafficWatch(gateways, stack, write)

    return watch
