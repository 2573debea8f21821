"""Status: per pipeline and stage, is AWS in sync with git, and is it healthy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

from mlops_gitops.aws.cloudformation import CloudFormationGateway, StackSnapshot
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.core.render import StackSpec
from mlops_gitops.ops.rollout import endpoint_name
from mlops_gitops.repo import Repo


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
    stack without its SageMakerEndpointName output)."""
    from mlops_gitops.ops.deploy import Deployer

    snaps = gateways.cfn.snapshots()
    stage_plan = Deployer(repo, env, gateways).plan(gateways.stage, specs, snaps)
    return status_of(stage_plan.items, snaps, gateways.cfn, gateways.sagemaker)


def status_of(
    items: list[PlanItem], snaps: dict[str, StackSnapshot], cfn: CloudFormationGateway, sm: SageMakerGateway
) -> list[PipelineStatus]:
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
        health, detail = _health(item, snap, cfn, sm)
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


def last_drift(snap: StackSnapshot) -> str:
    """``IN_SYNC (checked 2026-03-01 06:00 UTC)``: the stack's DriftInformation as listed.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackDriftInformation.html"""
    status = snap.drift_status or "NOT_CHECKED"
    checked = snap.drift_checked
    if checked is None:
        return status
    checked = checked.astimezone(timezone.utc) if checked.tzinfo else checked
    return f"{status} (checked {checked:%Y-%m-%d %H:%M} UTC)"


def _health(
    item: PlanItem, snap: StackSnapshot, cfn: CloudFormationGateway, sm: SageMakerGateway
) -> tuple[str, str]:
    if snap.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return "unhealthy", f"stack {snap.status}" + (f": {snap.status_reason}" if snap.status_reason else "")
    ptype = snap.tags.get("mlops:pipeline-type", "")
    if ptype.startswith("byom_realtime"):
        # the output the listing carries first (realtime_inference.yaml: !GetAtt Endpoint.EndpointName,
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-endpoint.html);
        # the physical id (a ListStackResources call) only for a stack deployed without it
        name = snap.outputs.get("SageMakerEndpointName") or endpoint_name(cfn, snap.name)
        state = sm.endpoint_status(name) if name else None
        if state is None:
            return "unknown", "endpoint not found"
        model = snap.parameters.get("ModelPackageArn", "").split("model-package/")[-1]
        failed = sm.endpoint_failure(name) if state == "InService" else None  # e.g. a rolled-back rollout
        return ("healthy" if state == "InService" else "unhealthy"), f"endpoint {name} {state}" + (
            f", model package {model}" if model else ""
        ) + (f"; its last update failed: {failed}" if failed else "")
    if ptype.startswith("byom_batch"):
        job = sm.last_transform_job(snap.parameters.get("NamePrefix", snap.name))
        if job is None:
            return "healthy", "no transform job has run yet"
        healthy = job.status in ("Completed", "InProgress", "Stopping")
        return ("healthy" if healthy else "unhealthy"), f"last job {job.name} {job.status}" + (
            f": {job.failure_reason}" if job.failure_reason else ""
        )
    if ptype.endswith("_monitor"):
        short = {
            "byom_data_quality_monitor": "dq",
            "byom_model_quality_monitor": "mq",
            "byom_model_bias_monitor": "mb",
            "byom_model_explainability_monitor": "me",
        }[ptype]
        name = f"{snap.parameters.get('NamePrefix', snap.name)}-{short}"
        schedule = sm.schedule_status(name)
        if schedule is None:
            return "unknown", f"schedule {name} could not be read"
        healthy = schedule.status == "Scheduled" and not schedule.failure_reason.startswith(
            ("Failed", "CompletedWithViolations")
        )
        last = f", last execution {schedule.failure_reason}" if schedule.failure_reason else ""
        return ("healthy" if healthy else "unhealthy"), f"schedule {name} {schedule.status}{last}"
    return "healthy", "stack complete"
