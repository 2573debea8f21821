"""mlopsctl status reads SageMaker in bulk (issue 17): per kind of pipeline, one paginated listing
serves every healthy stack of the stage, so the SageMaker calls are the listing's pages, not a
call (or two) per pipeline. The real gateway runs over a botocore Stubber, which checks every
request against SageMaker's service model and fails on any call not scripted.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListEndpoints.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringSchedules.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringExecutions.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTransformJobs.html"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from mlops_gitops.aws.cloudformation import CloudFormationGateway, StackSnapshot
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.ops.status import stage_status, status_of
from tests.fakes import FakeCloudFormation, fake_stage
from tests.unit.ops.test_status import ENV, REPO, clones, deployed

STACKS_CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # tests/fakes.py FakeStack's CreationTime
LATER = STACKS_CREATED + timedelta(days=30)
MODEL = "churn-prediction/3"


def stubbed() -> tuple[SageMakerGateway, Stubber]:
    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return SageMakerGateway(client), Stubber(client)


def pages(stub: Stubber, op: str, key: str, items: list[dict], more: bool = False, **params) -> int:
    """Script ``op`` to list ``items`` in pages of 100 (SageMaker's MaxResults at most), as the
    gateway asks for them; the number of pages. ``more``: the listing goes on after ``items`` (its
    last page scripted here still has a NextToken), where the gateway is expected to stop."""
    chunks = [items[i : i + 100] for i in range(0, len(items), 100)] or [[]]
    for n, chunk in enumerate(chunks):
        stub.add_response(
            op,
            {key: chunk, **({"NextToken": f"t{n + 1}"} if more or n + 1 < len(chunks) else {})},
            {**params, "MaxResults": 100, **({"NextToken": f"t{n}"} if n else {})},
        )
    return len(chunks)


def endpoint(name: str, status: str = "InService", modified: datetime = LATER) -> dict:
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{name}",
        "CreationTime": STACKS_CREATED,
        "LastModifiedTime": modified,
        "EndpointStatus": status,
    }


def snap(name: str, ptype: str, updated: datetime | None = None, **params: str) -> StackSnapshot:
    return StackSnapshot(
        name,
        "id",
        "UPDATE_COMPLETE",
        {"mlops:pipeline-type": ptype},
        {"NamePrefix": name, **params},
        {"SageMakerEndpointName": f"{name}-endpoint"} if ptype.startswith("byom_realtime") else {},
        False,
        updated=updated or STACKS_CREATED,
    )


def rows_of(snaps: list[StackSnapshot], sm: SageMakerGateway):
    items = [PlanItem("dev", s.name, "unchanged", s.name) for s in snaps]
    return status_of(items, {s.name: s for s in snaps}, CloudFormationGateway(FakeCloudFormation()), sm)


@pytest.mark.parametrize("count", [3, 250])
def test_status_of_n_real_time_pipelines_costs_the_endpoint_listings_pages_not_a_describe_each(
    count: int,
) -> None:
    specs = clones(count)
    fake = FakeCloudFormation()
    deployed(fake, specs)
    sm, stub = stubbed()
    others = [endpoint(f"not-ours-{i}") for i in range(7)]  # the account's other endpoints are listed too
    listed = others + [endpoint(f"{s.pipeline_id}-endpoint") for s in specs]
    with stub:
        expected_pages = pages(stub, "list_endpoints", "Endpoints", listed)
        rows = stage_status(REPO, ENV, fake_stage(CloudFormationGateway(fake), registry=sm), specs)
        stub.assert_no_pending_responses()  # every page read, and nothing else: no DescribeEndpoint
    assert expected_pages == math.ceil((count + 7) / 100)
    assert {r.health for r in rows} == {"healthy"} and len(rows) == count
    assert rows[-1].detail == f"endpoint {specs[-1].pipeline_id}-endpoint InService"  # dev: latest approved


def test_the_listing_stops_at_the_page_that_holds_the_last_endpoint_wanted() -> None:
    sm, stub = stubbed()
    ours = [snap(f"mlops-r{i}-dev", "byom_realtime_builtin") for i in range(2)]
    listed = [endpoint(f"{s.name}-endpoint") for s in ours] + [endpoint(f"other-{i}") for i in range(300)]
    with stub:
        # one page, then no more asked although the listing goes on
        stub.add_response(
            "list_endpoints", {"Endpoints": listed[:100], "NextToken": "t1"}, {"MaxResults": 100}
        )
        rows = rows_of(ours, sm)
    assert [r.health for r in rows] == ["healthy", "healthy"]


def test_an_endpoint_missing_from_the_listing_says_endpoint_not_found_as_before() -> None:
    sm, stub = stubbed()
    ours = [snap("mlops-a-dev", "byom_realtime_builtin"), snap("mlops-gone-dev", "byom_realtime_builtin")]
    with stub:
        pages(stub, "list_endpoints", "Endpoints", [endpoint("mlops-a-dev-endpoint")])
        rows = rows_of(ours, sm)
    assert [(r.health, r.detail) for r in rows] == [
        ("healthy", "endpoint mlops-a-dev-endpoint InService"),
        ("unknown", "endpoint not found"),
    ]


def test_an_endpoint_not_in_service_is_unhealthy_from_the_listing_alone() -> None:
    sm, stub = stubbed()
    with stub:
        pages(stub, "list_endpoints", "Endpoints", [endpoint("mlops-a-dev-endpoint", "Failed")])
        (row,) = rows_of([snap("mlops-a-dev", "byom_realtime_builtin")], sm)
    assert (row.health, row.detail) == ("unhealthy", "endpoint mlops-a-dev-endpoint Failed")


def test_an_endpoint_the_stacks_last_update_left_alone_is_described_for_a_failed_update() -> None:
    """DescribeEndpoint's FailureReason is the only place a failed update of a serving endpoint
    shows; the listing has no reason. An endpoint changed before its stack's last update began
    (e.g. a rolled-back rollout, then a deploy that did not touch the endpoint) is described; one
    changed since (by that update, which completed) is not."""
    says = "Deployment failed because alarm(s) were triggered during the bake period."
    sm, stub = stubbed()
    left_alone = snap("mlops-a-dev", "byom_realtime_builtin", updated=LATER + timedelta(days=1))
    touched = snap("mlops-b-dev", "byom_realtime_builtin", updated=LATER - timedelta(hours=1))
    with stub:
        pages(
            stub,
            "list_endpoints",
            "Endpoints",
            [endpoint("mlops-a-dev-endpoint"), endpoint("mlops-b-dev-endpoint")],
        )
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "mlops-a-dev-endpoint",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/mlops-a-dev-endpoint",
                "EndpointStatus": "InService",
                "FailureReason": says,
                "CreationTime": STACKS_CREATED,
                "LastModifiedTime": LATER,
            },
            {"EndpointName": "mlops-a-dev-endpoint"},
        )
        rows = rows_of([left_alone, touched], sm)
        stub.assert_no_pending_responses()
    assert [(r.health, r.detail) for r in rows] == [
        ("healthy", f"endpoint mlops-a-dev-endpoint InService; its last update failed: {says}"),
        ("healthy", "endpoint mlops-b-dev-endpoint InService"),
    ]


def schedule(name: str, status: str = "Scheduled", created: datetime = STACKS_CREATED) -> dict:
    return {
        "MonitoringScheduleName": name,
        "MonitoringScheduleArn": f"arn:aws:sagemaker:us-east-1:111122223333:monitoring-schedule/{name}",
        "CreationTime": created,
        "LastModifiedTime": created,
        "MonitoringScheduleStatus": status,
    }


def execution(name: str, status: str = "Completed", created: datetime = LATER, reason: str = "") -> dict:
    return {
        "MonitoringScheduleName": name,
        "ScheduledTime": created,
        "CreationTime": created,
        "LastModifiedTime": created,
        "MonitoringExecutionStatus": status,
        **({"FailureReason": reason} if reason else {}),
    }


NEWEST_FIRST = {"SortBy": "CreationTime", "SortOrder": "Descending"}


@pytest.mark.parametrize("count", [3, 250])
def test_status_of_n_monitors_costs_the_schedule_and_execution_listings_pages(count: int) -> None:
    ours = [snap(f"mlops-m{i:03d}-dev", "byom_model_quality_monitor") for i in range(count)]
    names = [f"{s.name}-mq" for s in ours]
    sm, stub = stubbed()
    with stub:
        n = pages(
            stub, "list_monitoring_schedules", "MonitoringScheduleSummaries", [schedule(x) for x in names]
        )
        # every schedule ran once in the last hour, the newest first
        runs = [execution(x, created=LATER - timedelta(seconds=i)) for i, x in enumerate(names)]
        n += pages(stub, "list_monitoring_executions", "MonitoringExecutionSummaries", runs, **NEWEST_FIRST)
        rows = rows_of(ours, sm)
        stub.assert_no_pending_responses()
    assert n == 2 * math.ceil(count / 100)
    assert {(r.health, r.detail) for r in rows} == {
        ("healthy", f"schedule {x} Scheduled, last execution Completed") for x in names
    }


def test_monitor_rows_say_what_the_schedule_read_said() -> None:
    """The rows tests/unit/ops/test_deploy.py's test_status_reports_monitor_schedules expects of
    DescribeMonitoringSchedule, from the listings: a failed last execution with its reason, a
    stopped schedule, a schedule that never ran (created after the oldest execution listed), and
    a schedule that does not exist."""
    sm, stub = stubbed()
    ours = [snap(f"mlops-{x}-dev", "byom_data_quality_monitor") for x in ("a", "b", "c", "gone")]
    with stub:
        pages(
            stub,
            "list_monitoring_schedules",
            "MonitoringScheduleSummaries",
            [
                schedule("mlops-a-dev-dq"),
                schedule("mlops-b-dev-dq", "Stopped"),
                schedule("mlops-c-dev-dq", created=LATER + timedelta(minutes=5)),
            ],
        )
        stub.add_response(
            "list_monitoring_executions",
            {
                "MonitoringExecutionSummaries": [
                    execution("mlops-a-dev-dq", "Failed", LATER, "OOM"),
                    execution("mlops-a-dev-dq", "Completed", LATER - timedelta(hours=1)),
                    execution("mlops-b-dev-dq", "Completed", LATER - timedelta(hours=2)),
                ],
                "NextToken": "t1",  # more executions exist, older than mlops-c-dev-dq: not read
            },
            {**NEWEST_FIRST, "MaxResults": 100},
        )
        rows = rows_of(ours, sm)
        stub.assert_no_pending_responses()
    assert [(r.health, r.detail) for r in rows] == [
        ("unhealthy", "schedule mlops-a-dev-dq Scheduled, last execution Failed: OOM"),
        ("unhealthy", "schedule mlops-b-dev-dq Stopped, last execution Completed"),
        ("healthy", "schedule mlops-c-dev-dq Scheduled"),
        ("unknown", "schedule mlops-gone-dev-dq could not be read"),
    ]


def job(name: str, status: str = "Completed", created: datetime = LATER, reason: str = "") -> dict:
    return {
        "TransformJobName": name,
        "TransformJobArn": f"arn:aws:sagemaker:us-east-1:111122223333:transform-job/{name}",
        "CreationTime": created,
        "TransformJobStatus": status,
        **({"FailureReason": reason} if reason else {}),
    }


@pytest.mark.parametrize("count", [3, 250])
def test_status_of_n_batch_pipelines_costs_the_job_listings_pages_not_a_listing_each(count: int) -> None:
    ours = [snap(f"mlops-b{i:03d}-dev", "byom_batch_builtin") for i in range(count)]
    sm, stub = stubbed()
    # the newest job of each pipeline, then older ones of the same pipelines
    newest = [job(f"{s.name}-1a2b3c4d", created=LATER - timedelta(seconds=i)) for i, s in enumerate(ours)]
    older = [job(f"{s.name}-00000000", "Failed", STACKS_CREATED) for s in ours[:50]]
    with stub:
        wanted = math.ceil(count / 100)  # the pages that hold every pipeline's newest job
        listed = (newest + older)[: wanted * 100]
        pages(stub, "list_transform_jobs", "TransformJobSummaries", listed, more=True, **NEWEST_FIRST)
        rows = rows_of(ours, sm)
        stub.assert_no_pending_responses()
    assert {r.health for r in rows} == {"healthy"}
    assert rows[0].detail == f"last job {ours[0].name}-1a2b3c4d Completed"


def test_a_batch_pipeline_without_a_job_says_so_when_the_listing_ends() -> None:
    sm, stub = stubbed()
    ours = [snap("mlops-a-dev", "byom_batch_builtin"), snap("mlops-new-dev", "byom_batch_builtin")]
    with stub:
        pages(
            stub,
            "list_transform_jobs",
            "TransformJobSummaries",
            [job("mlops-a-dev-9f", "Failed", reason="bad input")],
            **NEWEST_FIRST,
        )
        rows = rows_of(ours, sm)
        stub.assert_no_pending_responses()
    assert [(r.health, r.detail) for r in rows] == [
        ("unhealthy", "last job mlops-a-dev-9f Failed: bad input"),
        ("healthy", "no transform job has run yet"),
    ]


def test_a_stage_without_a_kind_of_pipeline_makes_no_call_for_it() -> None:
    sm, stub = stubbed()
    with stub:
        rows = rows_of([snap("mlops-t-dev", "model_training")], sm)
    assert (rows[0].health, rows[0].detail) == ("healthy", "stack complete")
