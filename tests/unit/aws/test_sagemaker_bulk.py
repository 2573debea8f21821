"""The SageMaker gateway's bulk reads for status (issue 17): how each listing stops, and where it
falls back to the one-by-one read it replaces. Stubber checks each request against SageMaker's
service model and fails on any call not scripted.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListMonitoringExecutions.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTransformJobs.html"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mlops_gitops.aws.cloudformation import StackSnapshot
from mlops_gitops.aws.sagemaker import EndpointSummary, JobState
from tests.unit.ops.test_status_bulk import LATER, NEWEST_FIRST, execution, job, pages, schedule, stubbed

MONITOR_SCHEDULE = "arn:aws:sagemaker:us-east-1:111122223333:monitoring-schedule/"


def test_a_refused_endpoint_listing_falls_back_to_describing_each_endpoint() -> None:
    sm, stub = stubbed()
    with stub:
        stub.add_client_error("list_endpoints", "AccessDeniedException", "not authorized", 400)
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "e1",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/e1",
                "EndpointStatus": "Updating",
                "CreationTime": LATER,
                "LastModifiedTime": LATER,
            },
            {"EndpointName": "e1"},
        )
        assert sm.endpoint_summaries(["e1"]) == {"e1": EndpointSummary("e1", "Updating")}
        stub.assert_no_pending_responses()


def test_without_endpoints_to_read_nothing_is_listed() -> None:
    sm, stub = stubbed()
    with stub:
        assert sm.endpoint_summaries([]) == {}


def test_monitor_listings_moto_lacks_fall_back_to_describing_each_schedule() -> None:
    sm, stub = stubbed()
    with stub:
        stub.add_client_error("list_monitoring_schedules", "InternalFailure", "not implemented", 500)
        stub.add_response(
            "describe_monitoring_schedule",
            {
                "MonitoringScheduleArn": MONITOR_SCHEDULE + "s1",
                "MonitoringScheduleName": "s1",
                "MonitoringScheduleStatus": "Scheduled",
                "CreationTime": LATER,
                "LastModifiedTime": LATER,
                "MonitoringScheduleConfig": {},
                "LastMonitoringExecutionSummary": {
                    "MonitoringScheduleName": "s1",
                    "ScheduledTime": LATER,
                    "CreationTime": LATER,
                    "LastModifiedTime": LATER,
                    "MonitoringExecutionStatus": "CompletedWithViolations",
                },
            },
            {"MonitoringScheduleName": "s1"},
        )
        assert sm.schedule_states(["s1"]) == {"s1": JobState("s1", "Scheduled", "CompletedWithViolations")}
        stub.assert_no_pending_responses()


def test_the_execution_listing_stops_at_its_bound_and_describes_the_schedules_still_open() -> None:
    """One schedule runs every minute, the other daily: after ceil(2 / 100) + 2 = 3 pages of the
    busy one's executions, the daily one is described on its own."""
    sm, stub = stubbed()
    busy = [execution("busy", created=LATER - timedelta(minutes=i)) for i in range(300)]
    with stub:
        stub.add_response(
            "list_monitoring_schedules",
            {"MonitoringScheduleSummaries": [schedule("busy"), schedule("daily")]},
            {"MaxResults": 100},
        )
        pages(
            stub,
            "list_monitoring_executions",
            "MonitoringExecutionSummaries",
            busy,
            more=True,
            **NEWEST_FIRST,
        )
        stub.add_response(
            "describe_monitoring_schedule",
            {
                "MonitoringScheduleArn": MONITOR_SCHEDULE + "daily",
                "MonitoringScheduleName": "daily",
                "MonitoringScheduleStatus": "Scheduled",
                "CreationTime": LATER,
                "LastModifiedTime": LATER,
                "MonitoringScheduleConfig": {},
            },
            {"MonitoringScheduleName": "daily"},
        )
        states = sm.schedule_states(["busy", "daily"])
        stub.assert_no_pending_responses()
    assert states == {
        "busy": JobState("busy", "Scheduled", "Completed"),
        "daily": JobState("daily", "Scheduled", ""),
    }


def test_an_execution_older_than_its_schedule_is_a_deleted_namesakes() -> None:
    sm, stub = stubbed()
    with stub:
        stub.add_response(
            "list_monitoring_schedules",
            {"MonitoringScheduleSummaries": [schedule("s1", created=LATER)]},
            {"MaxResults": 100},
        )
        stub.add_response(
            "list_monitoring_executions",
            {"MonitoringExecutionSummaries": [execution("s1", "Failed", LATER - timedelta(days=1))]},
            {**NEWEST_FIRST, "MaxResults": 100},
        )
        assert sm.schedule_states(["s1"]) == {"s1": JobState("s1", "Scheduled", "")}


def test_the_job_listing_stops_at_its_bound_and_asks_each_prefix_still_open_on_its_own() -> None:
    sm, stub = stubbed()
    busy = [job(f"hourly-{i:04d}", created=LATER - timedelta(hours=i)) for i in range(300)]
    with stub:
        # ceil(2 / 100) + 2 pages
        pages(stub, "list_transform_jobs", "TransformJobSummaries", busy, more=True, **NEWEST_FIRST)
        stub.add_response(
            "list_transform_jobs",
            {"TransformJobSummaries": [job("monthly-7", "Failed", LATER - timedelta(days=20), "OOM")]},
            {"NameContains": "monthly", **NEWEST_FIRST, "MaxResults": 100},
        )
        jobs = sm.last_transform_jobs(["hourly", "monthly"])
        stub.assert_no_pending_responses()
    assert jobs == {
        "hourly": JobState("hourly-0000", "Completed"),
        "monthly": JobState("monthly-7", "Failed", "OOM"),
    }


def test_a_job_whose_name_only_contains_the_prefix_is_another_pipelines() -> None:
    """`mlops-fraud-batch-devx-...` and `x-mlops-fraud-batch-dev-...` contain the prefix
    `mlops-fraud-batch-dev` but are not its jobs (`<NamePrefix>-...`, batch_inference.yaml): neither
    the listing nor the per-prefix NameContains read may report them as its last job."""
    sm, stub = stubbed()
    others = [
        job("mlops-fraud-batch-devx-1", "Failed", LATER, "forged"),
        job("x-mlops-fraud-batch-dev-2", "Failed", LATER - timedelta(hours=1), "forged"),
    ]
    mine = job("mlops-fraud-batch-dev-3", "Completed", LATER - timedelta(hours=2))
    with stub:
        stub.add_response(
            "list_transform_jobs",
            {"TransformJobSummaries": [*others, mine]},
            {**NEWEST_FIRST, "MaxResults": 100},
        )
        assert sm.last_transform_jobs(["mlops-fraud-batch-dev"]) == {
            "mlops-fraud-batch-dev": JobState("mlops-fraud-batch-dev-3", "Completed")
        }
        stub.add_response(
            "list_transform_jobs",
            {"TransformJobSummaries": others},
            {"NameContains": "mlops-fraud-batch-dev", **NEWEST_FIRST, "MaxResults": 100},
        )
        assert sm.last_transform_job("mlops-fraud-batch-dev") is None
        stub.assert_no_pending_responses()


def test_a_stack_snapshot_knows_when_its_last_operation_began() -> None:
    created, updated = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 2, 1, tzinfo=timezone.utc)
    raw = {"StackName": "s", "StackStatus": "UPDATE_COMPLETE", "CreationTime": created}
    assert StackSnapshot.from_api(raw).updated == created
    assert StackSnapshot.from_api({**raw, "LastUpdatedTime": updated}).updated == updated
