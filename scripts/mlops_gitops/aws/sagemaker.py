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

    def endpoint_status(self, name: str) -> str | None:
        try:
            return self.client.describe_endpoint(EndpointName=name)["EndpointStatus"]
        except ClientError:
            return None

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
