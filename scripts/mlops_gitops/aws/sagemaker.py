"""SageMaker gateway: Model Registry look-ups and the live state status and drift report on."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class JobState:
    name: str
    status: str
    failure_reason: str = ""


@dataclass(frozen=True)
class EndpointSummary:
    """One endpoint as ListEndpoints lists it: no FailureReason (that is DescribeEndpoint's).
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_EndpointSummary.html"""

    name: str
    status: str
    modified: datetime | None = None  # LastModifiedTime; None where a fallback read does not say


PAGE = (
    100  # MaxResults of ListEndpoints, ListMonitoringSchedules/Executions and ListTransformJobs: at most 100
)


@dataclass
class SageMakerGateway:
    client: Any

    def latest_approved(self, group: str) -> str | None:
        """ARN of the newest Approved version of a model package group, or None when it has none.
        Errors (access denied, no such group...) propagate: they are not "no approved version"."""
        page = self.client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
        items = page.get("ModelPackageSummaryList", [])
        return items[0]["ModelPackageArn"] if items else None

    def approval_status(self, arn: str) -> str:
        try:
            return self.client.describe_model_package(ModelPackageName=arn).get(
                "ModelApprovalStatus", "unknown"
            )
        except ClientError as exc:
            return f"unreadable ({exc.response.get('Error', {}).get('Code', 'error')})"

    def model_package(self, arn: str) -> ModelPackage | None:
        """A registry version's approval, metrics sources and metadata; None when it does not exist."""
        return describe_package(self.client, arn)

    def approved_versions(self, group: str, limit: int = 50) -> list[str]:
        return approved_versions(self.client, group, limit)

    def endpoint_status(self, name: str) -> str | None:
        try:
            return self.client.describe_endpoint(EndpointName=name)["EndpointStatus"]
        except ClientError:
            return None

    def endpoint_failure(self, name: str) -> str | None:
        """Why the endpoint's last update failed, while it still serves ("if the status is InService
        but update operation fails": DescribeEndpoint FailureReason); None if nothing failed."""
        try:
            return self.client.describe_endpoint(EndpointName=name).get("FailureReason") or None
        except ClientError:
            return None

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        """The endpoint as SageMaker describes it (drift compares its config and status)."""
        return self.client.describe_endpoint(EndpointName=name)

    def endpoint_deployment(self, name: str) -> EndpointDeployment | None:
        """The endpoint's deployment as one DescribeEndpoint reads it; None when it does not exist."""
        try:
            return endpoint_deployment(self.client.describe_endpoint(EndpointName=name))
        except ClientError as exc:
            if _missing(exc) or "could not find" in exc.response.get("Error", {}).get("Message", "").lower():
                return None
            raise

    def describe_monitoring_schedule(self, name: str) -> dict[str, Any]:
        return self.client.describe_monitoring_schedule(MonitoringScheduleName=name)

    def last_transform_job(self, name_prefix: str) -> JobState | None:
        try:
            jobs = self.client.list_transform_jobs(
                NameContains=name_prefix, SortBy="CreationTime", SortOrder="Descending", MaxResults=PAGE
            )
        except ClientError:
            return None
        # NameContains matches anywhere in the name: only `<prefix>-...` is this pipeline's job
        items = [
            j for j in jobs.get("TransformJobSummaries", []) if _job_of(j["TransformJobName"], name_prefix)
        ]
        if not items:
            return None
        job = items[0]
        return JobState(job["TransformJobName"], job["TransformJobStatus"], job.get("FailureReason", ""))

    # -------------------------------------------------------------- status in bulk (issue 17)

    def endpoint_summaries(self, names: Iterable[str]) -> dict[str, EndpointSummary]:
        """The endpoints among ``names`` that exist, from ListEndpoints pages (100 each), read until
        every name is found or the listing ends; a name missing from the result has no endpoint.
        Where the listing is refused, each endpoint is described on its own, as before.
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListEndpoints.html"""
        wanted = set(names)
        try:
            found = {
                e["EndpointName"]: EndpointSummary(
                    e["EndpointName"], e["EndpointStatus"], e.get("LastModifiedTime")
                )
                for e in _pages(self.client.list_endpoints, "Endpoints", lambda e: e["EndpointName"], wanted)
            }
        except ClientError:
            return {
                n: EndpointSummary(n, status) for n in sorted(wanted) if (status := self.endpoint_status(n))
            }
        return found

    def schedule_states(self, names: Iterable[str]) -> dict[str, JobState]:
        """What schedule_status says of each schedule among ``names`` that exists, read in bulk:
        ListMonitoringSchedules pages for the status (its summary has no last execution), then one
        ListMonitoringExecutions listing, newest created first, for each schedule's newest
        execution. That listing stops when every schedule has its execution or is newer than the
        oldest execution read (it has not run since), or after ceil(schedules / 100) + 2 pages;
        a schedule still open then is described on its own. Where a listing is refused (moto has
        neither), every schedule is described on its own, as before.
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringSchedules.html
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringExecutions.html"""
        wanted = set(names)
        try:
            listed = {
                s["MonitoringScheduleName"]: s
                for s in _pages(
                    self.client.list_monitoring_schedules,
                    "MonitoringScheduleSummaries",
                    lambda s: s["MonitoringScheduleName"],
                    wanted,
                )
            }
            last, open_ = self._last_executions(listed) if listed else ({}, set())
        except Exception:  # noqa: BLE001 - includes moto's HTTP 500 for these unimplemented APIs
            return {n: state for n in sorted(wanted) if (state := self.schedule_status(n)) is not None}
        out = {}
        for name, summary in listed.items():
            if name in open_:
                if (state := self.schedule_status(name)) is not None:
                    out[name] = state
                continue
            execution = last.get(name) or {}
            out[name] = JobState(
                name,
                summary.get("MonitoringScheduleStatus", "unknown"),
                execution.get("MonitoringExecutionStatus", "")
                + (f": {execution['FailureReason']}" if execution.get("FailureReason") else ""),
            )
        return out

    def _last_executions(
        self, schedules: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """The newest execution of each schedule (absent: it has none) and the schedules left open
        when the page bound was reached."""
        created = {name: _utc(s.get("CreationTime")) for name, s in schedules.items()}
        open_, last = set(schedules), {}
        kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": PAGE}
        for _ in range(math.ceil(len(schedules) / PAGE) + 2):
            page = self.client.list_monitoring_executions(**kwargs)
            items = page.get("MonitoringExecutionSummaries", [])
            for ex in items:
                name, when = ex.get("MonitoringScheduleName", ""), _utc(ex.get("CreationTime"))
                # an execution older than the schedule is a deleted namesake's
                if name in open_ and not (when and created[name] and when < created[name]):
                    last[name] = ex
                    open_.discard(name)
            oldest = _utc(items[-1].get("CreationTime")) if items else None
            if not page.get("NextToken"):
                return last, set()  # the listing ended: the schedules still open never ran
            # a schedule created after the oldest execution read has run since only if listed already
            open_ = {n for n in open_ if not (oldest and created[n] and created[n] > oldest)}
            if not open_:
                return last, set()
            kwargs["NextToken"] = page["NextToken"]
        return last, open_

    def last_transform_jobs(self, prefixes: Iterable[str]) -> dict[str, JobState | None]:
        """What last_transform_job says of each prefix, read in bulk: one ListTransformJobs listing,
        newest created first (100 a page), gives each prefix the newest job named `<prefix>-...`;
        it stops when every prefix has its job, when the listing ends (the prefixes left have no
        job), or after ceil(prefixes / 100) + 2 pages, when each prefix still open is asked on its
        own (NameContains, one call each, as before).
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTransformJobs.html"""
        open_ = sorted(set(prefixes))
        out: dict[str, JobState | None] = {}
        kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": PAGE}
        try:
            for _ in range(math.ceil(len(open_) / PAGE) + 2):
                if not open_:
                    break
                page = self.client.list_transform_jobs(**kwargs)
                for job in page.get("TransformJobSummaries", []):
                    name = job["TransformJobName"]
                    for prefix in [p for p in open_ if _job_of(name, p)]:
                        out[prefix] = JobState(name, job["TransformJobStatus"], job.get("FailureReason", ""))
                        open_.remove(prefix)
                if not page.get("NextToken"):
                    return {**out, **dict.fromkeys(open_)}
                kwargs["NextToken"] = page["NextToken"]
        except ClientError:
            pass
        return {**out, **{p: self.last_transform_job(p) for p in open_}}

    def schedule_status(self, name: str) -> JobState | None:
        """A monitoring schedule's status and its last execution, or None when unknown."""
        try:
            raw = self.client.describe_monitoring_schedule(MonitoringScheduleName=name)
        except Exception:  # noqa: BLE001 - includes moto's HTTP 500 for this unimplemented API
            return None
        last = raw.get("LastMonitoringExecutionSummary") or {}
        return JobState(
            name,
            raw.get("MonitoringScheduleStatus", "unknown"),
            last.get("MonitoringExecutionStatus", "")
            + (f": {last['FailureReason']}" if last.get("FailureReason") else ""),
        )


def _pages(call: Any, key: str, name_of: Any, wanted: set[str]) -> list[dict[str, Any]]:
    """The items named in ``wanted`` of a paginated SageMaker listing, read page by page (100
    each) until every one is found or the listing ends."""
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"MaxResults": PAGE}
    while len(found) < len(wanted):
        page = call(**kwargs)
        found.update({name_of(i): i for i in page.get(key, []) if name_of(i) in wanted})
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return list(found.values())


def _utc(when: Any) -> datetime | None:
    if not isinstance(when, datetime):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# ------------------------------------------------------------------ model registry records


@dataclass(frozen=True)
class ModelPackage:
    """What a review shows of one registry version: where it is, its approval, its metrics' sources."""

    arn: str
    group: str
    version: int | None
    approval: str  # Approved | PendingManualApproval | Rejected
    status: str  # ModelPackageStatus (Completed, Failed...)
    description: str = ""
    metrics_uris: tuple[str, ...] = ()  # ModelMetrics statistics/report S3 URIs, model quality first
    metadata: tuple[tuple[str, str], ...] = ()  # CustomerMetadataProperties, sorted
    created: str = ""  # ISO date


_METRIC_SOURCES = (  # ModelMetrics members whose S3 objects hold metric values, most telling first
    ("ModelQuality", "Statistics"),
    ("ModelDataQuality", "Statistics"),
    ("Bias", "Report"),
    ("Explainability", "Report"),
)


def _model_package(raw: dict[str, Any]) -> ModelPackage:
    metrics = raw.get("ModelMetrics") or {}
    uris = tuple(
        uri
        for member, part in _METRIC_SOURCES
        if (uri := ((metrics.get(member) or {}).get(part) or {}).get("S3Uri"))
    )
    created = raw.get("CreationTime")
    return ModelPackage(
        arn=raw["ModelPackageArn"],
        group=raw.get("ModelPackageGroupName", ""),
        version=raw.get("ModelPackageVersion"),
        approval=raw.get("ModelApprovalStatus", "unknown"),
        status=raw.get("ModelPackageStatus", "unknown"),
        description=raw.get("ModelPackageDescription", ""),
        metrics_uris=uris,
        metadata=tuple(sorted((raw.get("CustomerMetadataProperties") or {}).items())),
        created=created.date().isoformat() if hasattr(created, "date") else str(created or ""),
    )


def _missing(exc: ClientError) -> bool:
    """SageMaker says "not found" for an unknown package as a ValidationException (or, for some
    callers, ResourceNotFound)."""
    error = exc.response.get("Error", {})
    return error.get("Code") in ("ResourceNotFound", "ValidationException") and (
        "not found" in error.get("Message", "").lower() or error.get("Code") == "ResourceNotFound"
    )


def describe_package(client: Any, arn: str) -> ModelPackage | None:
    """One registry version, or None when it does not exist. Other errors propagate."""
    try:
        return _model_package(client.describe_model_package(ModelPackageName=arn))
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def approved_versions(client: Any, group: str, limit: int = 50) -> list[str]:
    """ARNs of a group's Approved versions, newest first (at most ``limit``)."""
    arns: list[str] = []
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": min(limit, 100),
    }
    while len(arns) < limit:
        page = client.list_model_packages(**kwargs)
        arns += [p["ModelPackageArn"] for p in page.get("ModelPackageSummaryList", [])]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return arns[:limit]


# ------------------------------------------------------------------ an endpoint's blue/green update


@dataclass(frozen=True)
class Fleet:
    """One variant of a fleet, as DescribeEndpoint's ProductionVariants (the fleet serving now) or
    PendingDeploymentSummary.ProductionVariants (the new fleet of an update in progress) give it.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PendingProductionVariantSummary.html"""

    variant: str
    current_weight: float | None
    desired_weight: float | None
    current_instances: int | None
    desired_instances: int | None
    status: str = ""  # the newest VariantStatus: Creating|Updating|Deleting|ActivatingTraffic|Baking
    status_message: str = ""


@dataclass(frozen=True)
class EndpointDeployment:
    """What DescribeEndpoint says of an endpoint and of the update in progress, if any: the
    PendingDeploymentSummary is "only returned when the endpoint is creating or updating with a new
    endpoint configuration", and LastDeploymentConfig is the DeploymentConfig (traffic routing,
    waits) of the most recent update.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html"""

    name: str
    status: str  # EndpointStatus: Updating, InService, Failed, UpdateRollbackFailed...
    config: str  # the endpoint configuration serving now
    failure: str = ""
    serving: tuple[Fleet, ...] = ()
    pending_config: str = ""  # the configuration being deployed ("" when no update runs)
    pending: tuple[Fleet, ...] = ()
    routing: str = ""  # ALL_AT_ONCE | CANARY | LINEAR ("" without a blue/green policy)
    step: str = ""  # the canary size or linear step, e.g. "10%" or "1 instance(s)"
    wait_seconds: int | None = None  # the bake between traffic steps


def _fleet(raw: dict[str, Any]) -> Fleet:
    statuses = raw.get("VariantStatus") or []
    newest = max(statuses, key=lambda s: str(s.get("StartTime", ""))) if statuses else {}
    return Fleet(
        raw.get("VariantName", ""),
        raw.get("CurrentWeight"),
        raw.get("DesiredWeight"),
        raw.get("CurrentInstanceCount"),
        raw.get("DesiredInstanceCount"),
        newest.get("Status", ""),
        newest.get("StatusMessage", ""),
    )


def _size(capacity: dict[str, Any] | None) -> str:
    if not capacity:
        return ""
    value = capacity.get("Value")
    return f"{value}%" if capacity.get("Type") == "CAPACITY_PERCENT" else f"{value} instance(s)"


def endpoint_deployment(raw: dict[str, Any]) -> EndpointDeployment:
    """An EndpointDeployment of a DescribeEndpoint response."""
    pending = raw.get("PendingDeploymentSummary") or {}
    policy = ((raw.get("LastDeploymentConfig") or {}).get("BlueGreenUpdatePolicy") or {}).get(
        "TrafficRoutingConfiguration"
    ) or {}
    return EndpointDeployment(
        name=raw.get("EndpointName", ""),
        status=raw.get("EndpointStatus", ""),
        config=raw.get("EndpointConfigName", ""),
        failure=raw.get("FailureReason", "") or "",
        serving=tuple(_fleet(v) for v in raw.get("ProductionVariants") or []),
        pending_config=pending.get("EndpointConfigName", "") if pending else "",
        pending=tuple(_fleet(v) for v in pending.get("ProductionVariants") or []),
        routing=policy.get("Type", ""),
        step=_size(policy.get("CanarySize") or policy.get("LinearStepSize")),
        wait_seconds=policy.get("WaitIntervalInSeconds"),
    )


def _job_of(job_name: str, prefix: str) -> bool:
    """A job this stack started: named `<NamePrefix>-...` (batch_inference.yaml), not one whose name
    merely contains the prefix (`x-<prefix>-...`, or another pipeline's `<prefix>x-...`)."""
    return job_name.startswith(prefix + "-")
