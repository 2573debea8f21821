"""A scripted fake of the SageMaker client for what status reads (issue 17's benchmark): endpoints,
monitoring schedules and their executions, transform jobs. The List* calls page as SageMaker does
(MaxResults at most 100, NextToken), sort as asked, and every call is counted in ``calls``.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListEndpoints.html"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fakes import client_error

CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # tests/fakes.py FakeStack's CreationTime
MONITOR_SHORT = {
    "byom_data_quality_monitor": "dq",
    "byom_model_quality_monitor": "mq",
    "byom_model_bias_monitor": "mb",
    "byom_model_explainability_monitor": "me",
}


class FakeSageMaker:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.executions: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []

    @classmethod
    def serving(cls, stacks: list[dict[str, Any]]) -> FakeSageMaker:
        """What a stage's stacks made, all healthy, each kind with a run an hour apart: an
        InService endpoint changed after its stack was created, a Scheduled monitor whose last
        execution completed, a batch pipeline whose last job completed."""
        fake = cls()
        for n, stack in enumerate(stacks):
            ptype = stack["tags"].get("mlops:pipeline-type", "")
            prefix = stack["parameters"].get("NamePrefix", stack["name"])
            when = CREATED + timedelta(days=30, seconds=-n)
            if ptype.startswith("byom_realtime"):
                fake.endpoints[f"{stack['name']}-endpoint"] = {
                    "EndpointStatus": "InService",
                    "LastModifiedTime": when,
                }
            elif ptype.startswith("byom_batch"):
                fake.jobs.append(
                    {
                        "TransformJobName": f"{prefix}-1a2b3c4d",
                        "TransformJobStatus": "Completed",
                        "CreationTime": when,
                    }
                )
            elif ptype in MONITOR_SHORT:
                name = f"{prefix}-{MONITOR_SHORT[ptype]}"
                fake.schedules[name] = {"MonitoringScheduleStatus": "Scheduled", "CreationTime": CREATED}
                fake.executions.append(
                    {
                        "MonitoringScheduleName": name,
                        "MonitoringExecutionStatus": "Completed",
                        "CreationTime": when,
                    }
                )
        return fake

    # ------------------------------------------------------------------ reads one by one
    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        self.calls.append("DescribeEndpoint")
        if EndpointName not in self.endpoints:
            raise client_error(
                "ValidationException", f"Could not find endpoint {EndpointName}", "DescribeEndpoint"
            )
        return {"EndpointName": EndpointName, **self.endpoints[EndpointName]}

    def describe_monitoring_schedule(self, MonitoringScheduleName: str) -> dict[str, Any]:
        self.calls.append("DescribeMonitoringSchedule")
        if MonitoringScheduleName not in self.schedules:
            raise client_error("ResourceNotFound", "not found", "DescribeMonitoringSchedule")
        mine = [e for e in self.executions if e["MonitoringScheduleName"] == MonitoringScheduleName]
        last = max(mine, key=lambda e: e["CreationTime"]) if mine else None
        return {
            "MonitoringScheduleName": MonitoringScheduleName,
            **self.schedules[MonitoringScheduleName],
            **({"LastMonitoringExecutionSummary": last} if last else {}),
        }

    # ------------------------------------------------------------------ listings, paged
    def list_endpoints(self, MaxResults: int = 10, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        self.calls.append("ListEndpoints")
        items = [{"EndpointName": n, "CreationTime": CREATED, **e} for n, e in sorted(self.endpoints.items())]
        return _page(items, "Endpoints", MaxResults, NextToken)

    def list_monitoring_schedules(
        self, MaxResults: int = 10, NextToken: str | None = None, **_: Any
    ) -> dict[str, Any]:
        self.calls.append("ListMonitoringSchedules")
        items = [{"MonitoringScheduleName": n, **s} for n, s in sorted(self.schedules.items())]
        return _page(items, "MonitoringScheduleSummaries", MaxResults, NextToken)

    def list_monitoring_executions(
        self, MaxResults: int = 10, NextToken: str | None = None, SortOrder: str = "Descending", **_: Any
    ) -> dict[str, Any]:
        self.calls.append("ListMonitoringExecutions")
        items = sorted(self.executions, key=lambda e: e["CreationTime"], reverse=SortOrder == "Descending")
        return _page(items, "MonitoringExecutionSummaries", MaxResults, NextToken)

    def list_transform_jobs(
        self,
        MaxResults: int = 10,
        NextToken: str | None = None,
        NameContains: str = "",
        SortOrder: str = "Descending",
        **_: Any,
    ) -> dict[str, Any]:
        self.calls.append("ListTransformJobs")
        items = sorted(
            (j for j in self.jobs if NameContains in j["TransformJobName"]),
            key=lambda j: j["CreationTime"],
            reverse=SortOrder == "Descending",
        )
        return _page(items, "TransformJobSummaries", MaxResults, NextToken)


def _page(items: list[dict[str, Any]], key: str, size: int, token: str | None) -> dict[str, Any]:
    if size > 100:
        raise client_error("ValidationException", "MaxResults must be at most 100", "List")
    start = int(token or 0)
    return {key: items[start : start + size]} | (
        {"NextToken": str(start + size)} if start + size < len(items) else {}
    )
