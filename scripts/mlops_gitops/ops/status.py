"""Status: per pipeline and stage, is AWS in sync with git, and is it healthy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from mlops_gitops.aws.cloudformation import CloudFormationGateway, StackSnapshot
from mlops_gitops.aws.sagemaker import EndpointSummary, JobState, SageMakerGateway
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.core.render import StackSpec
from mlops_gitops.ops.rollout import endpoint_name
from mlops_gitops.repo import Repo

HEALTHY_STACK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")  # the stack statuses whose resources are read


@dataclass(frozen=True)
class PipelineStatus:
    pipeline_id: str
    stage: str
    stack: str
    sync: str  # in-sync | out-of-sync | not-deployed | orphan | pending (waiting on a deploy)
    stack_status: str
    health: str  # healthy | unhealthy | unknown | - ; with detail
    detail: str = ""
    # the stack's last known drift, from the listing (no detection is run): DRIFTED | IN_SYNC |
    # UNKNOWN | NOT_CHECKED, with the time the last detection started; "-" if not deployed
    drift: str = "-"


def stage_status(
    repo: Repo, env: Environments, gateways: StageGateways, specs: list[StackSpec]
) -> list[PipelineStatus]:
    """Every pipeline of one stage: its plan against what is deployed, and the health of each stack.
    CloudFormation is read in bulk: one listing of the stacks (a DescribeStacks per page, with
    outputs, tags, parameters and drift information) serves both the plan and every row; a
    stack costs a call of its own only where the listing lacks what health needs (a real-time
    stack without its SageMakerEndpointName output). SageMaker is read in bulk too: read_live."""
    from mlops_gitops.ops.deploy import Deployer

    snaps = gateways.cfn.snapshots()
    stage_plan = Deployer(repo, env, gateways).plan(gateways.stage, specs, snaps)
    return status_of(stage_plan.items, snaps, gateways.cfn, gateways.sagemaker)


def status_of(
    items: list[PlanItem], snaps: dict[str, StackSnapshot], cfn: CloudFormationGateway, sm: SageMakerGateway
) -> list[PipelineStatus]:
    live = read_live([snaps[i.stack_name] for i in items if i.stack_name in snaps], cfn, sm)
    out = []
    for item in items:
        snap = snaps.get(item.stack_name)
        sync = {"unchanged": "in-sync", "delete": "orphan", "create": "not-deployed"}.get(
            item.action, "out-of-sync"
        )
        if snap is None:
            out.append(
                PipelineStatus(
                    item.pipeline_id or "?", item.stage, item.stack_name, sync, "-", "-", "not deployed"
                )
            )
            continue
        health, detail = _health(snap, live, sm)
        out.append(
            PipelineStatus(
                item.pipeline_id or "?",
                item.stage,
                item.stack_name,
                sync,
                snap.status,
                health,
                detail,
                last_drift(snap),
            )
        )
    return out


@dataclass
class LiveState:
    """What SageMaker says of a stage's healthy-looking stacks, read per kind in bulk (issue 17):
    one ListEndpoints listing for the real-time endpoints, ListMonitoringSchedules plus one
    ListMonitoringExecutions listing for the monitors, one ListTransformJobs listing for the batch
    pipelines (aws/sagemaker.py says how each stops and falls back). A kind without stacks costs
    no call."""

    endpoint_of: dict[str, str] = field(default_factory=dict)  # stack -> endpoint name
    schedule_of: dict[str, str] = field(default_factory=dict)  # stack -> monitoring schedule name
    prefix_of: dict[str, str] = field(default_factory=dict)  # stack -> transform job name prefix
    endpoints: dict[str, EndpointSummary] = field(default_factory=dict)
    schedules: dict[str, JobState] = field(default_factory=dict)
    jobs: dict[str, JobState | None] = field(default_factory=dict)


_MONITORS = {
    "byom_data_quality_monitor": "dq",
    "byom_model_quality_monitor": "mq",
    "byom_model_bias_monitor": "mb",
    "byom_model_explainability_monitor": "me",
}


def read_live(snaps: list[StackSnapshot], cfn: CloudFormationGateway, sm: SageMakerGateway) -> LiveState:
    live = LiveState()
    for snap in snaps:
        if snap.status not in HEALTHY_STACK:
            continue
        ptype = snap.tags.get("mlops:pipeline-type", "")
        if ptype.startswith("byom_realtime"):
            # the output the listing carries first (realtime_inference.yaml: !GetAtt Endpoint.EndpointName,
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-endpoint.html);
            # the physical id (a ListStackResources call) only for a stack deployed without it
            name = snap.outputs.get("SageMakerEndpointName") or endpoint_name(cfn, snap.name)
            if name:
                live.endpoint_of[snap.name] = name
        elif ptype.startswith("byom_batch"):
            live.prefix_of[snap.name] = snap.parameters.get("NamePrefix", snap.name)
        elif ptype in _MONITORS:
            live.schedule_of[snap.name] = f"{snap.parameters.get('NamePrefix', snap.name)}-{_MONITORS[ptype]}"
    if live.endpoint_of:
        live.endpoints = sm.endpoint_summaries(live.endpoint_of.values())
    if live.schedule_of:
        live.schedules = sm.schedule_states(live.schedule_of.values())
    if live.prefix_of:
        live.jobs = sm.last_transform_jobs(live.prefix_of.values())
    return live


def last_drift(snap: StackSnapshot) -> str:
    """``IN_SYNC (checked 2026-03-01 06:00 UTC)``: the stack's DriftInformation as listed.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackDriftInformation.html"""
    status = snap.drift_status or "NOT_CHECKED"
    checked = snap.drift_checked
    if checked is None:
        return status
    checked = checked.astimezone(timezone.utc) if checked.tzinfo else checked
    return f"{status} (checked {checked:%Y-%m-%d %H:%M} UTC)"


def _health(snap: StackSnapshot, live: LiveState, sm: SageMakerGateway) -> tuple[str, str]:
    if snap.status not in HEALTHY_STACK:
        return "unhealthy", f"stack {snap.status}" + (f": {snap.status_reason}" if snap.status_reason else "")
    ptype = snap.tags.get("mlops:pipeline-type", "")
    if ptype.startswith("byom_realtime"):
        name = live.endpoint_of.get(snap.name, "")
        summary = live.endpoints.get(name)
        if summary is None:
            return "unknown", "endpoint not found"
        state = summary.status
        model = snap.parameters.get("ModelPackageArn", "").split("model-package/")[-1]
        # e.g. a rolled-back rollout; DescribeEndpoint only where the listing cannot rule it out
        failed = (
            sm.endpoint_failure(name) if state == "InService" and may_have_failed(summary, snap) else None
        )
        return ("healthy" if state == "InService" else "unhealthy"), f"endpoint {name} {state}" + (
            f", model package {model}" if model else ""
        ) + (f"; its last update failed: {failed}" if failed else "")
    if ptype.startswith("byom_batch"):
        job = live.jobs.get(live.prefix_of[snap.name])
        if job is None:
            return "healthy", "no transform job has run yet"
        healthy = job.status in ("Completed", "InProgress", "Stopping")
        return ("healthy" if healthy else "unhealthy"), f"last job {job.name} {job.status}" + (
            f": {job.failure_reason}" if job.failure_reason else ""
        )
    if ptype in _MONITORS:
        name = live.schedule_of[snap.name]
        schedule = live.schedules.get(name)
        if schedule is None:
            return "unknown", f"schedule {name} could not be read"
        healthy = schedule.status == "Scheduled" and not schedule.failure_reason.startswith(
            ("Failed", "CompletedWithViolations")
        )
        last = f", last execution {schedule.failure_reason}" if schedule.failure_reason else ""
        return ("healthy" if healthy else "unhealthy"), f"schedule {name} {schedule.status}{last}"
    return "healthy", "stack complete"


def may_have_failed(summary: EndpointSummary, snap: StackSnapshot) -> bool:
    """Whether an InService endpoint's last update may have failed, which only DescribeEndpoint's
    FailureReason says ("if the status is InService but update operation fails";
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html); its
    listing has no reason (API_EndpointSummary.html). The stack is complete here, so an endpoint
    changed since the stack's last operation began was changed by it, and that change succeeded:
    no call. One last changed before (the stack's last update left it alone, e.g. after a rolled-back
    rollout), or without the times to tell, is described. What a row may miss: a failed update made
    outside CloudFormation after the stack's last operation began (mlopsctl drift reads each endpoint)."""
    changed, began = _utc(summary.modified), _utc(snap.updated)
    return changed is None or began is None or changed < began


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
