"""SageMaker gateway: Model Registry look-ups and the live state status and drift report on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class JobState:
    name: str
    status: str
    failure_reason: str = ""


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

    def describe_monitoring_schedule(self, name: str) -> dict[str, Any]:
        return self.client.describe_monitoring_schedule(MonitoringScheduleName=name)

    def last_transform_job(self, name_prefix: str) -> JobState | None:
        try:
            jobs = self.client.list_transform_jobs(
                NameContains=name_prefix, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
            )
        except ClientError:
            return None
        items = jobs.get("TransformJobSummaries", [])
        if not items:
            return None
        job = items[0]
        return JobState(job["TransformJobName"], job["TransformJobStatus"], job.get("FailureReason", ""))

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
