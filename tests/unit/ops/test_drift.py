"""mlopsctl drift against botocore's Stubber on real boto3 clients.

moto has no drift APIs (detect_stack_drift and friends are not implemented) and does not model
monitoring schedules, so every AWS answer here is scripted with Stubber, in the order the
detector must make the calls: the stub fails a test that calls out of order (e.g. polls before
every detection is started) or makes a call nobody scripted. Sleep and clock are fakes: no test
waits."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlops_gitops.aws.clients import AwsContext
from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.events import EventsGateway
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.cli import main
from mlops_gitops.ops.drift import DriftDetector, StackDrift
from mlops_gitops.report.drift import drift_json, drift_text, exit_code
from tests.conftest import TmpRepo

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
ACCOUNT = "111122223333"
ENDPOINT_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-dev"
# SageMaker ARNs lower-case names: the live EndpointConfigName keeps its case
CONFIG_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-config/endpointconfig-abc123"
SCHEDULE_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:monitoring-schedule/churn-monitor-dev-dq"


@pytest.fixture(autouse=True)
def _dummy_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------ scripted AWS


def stack(name: str, ptype: str = "byom_batch_builtin", status: str = "UPDATE_COMPLETE", **tags: str):
    pipeline_id, stage = name.split("-", 1)[1].rsplit("-", 1)
    all_tags = {
        "mlops:managed-by": "mlops-gitops",
        "mlops:stage": stage,
        "mlops:pipeline-id": pipeline_id,
        "mlops:pipeline-type": ptype,
        **tags,
    }
    return {
        "StackName": name,
        "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/1",
        "StackStatus": status,
        "CreationTime": NOW,
        "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()],
    }


def resource(logical_id: str, rtype: str, physical: str = "") -> dict[str, Any]:
    out = {
        "LogicalResourceId": logical_id,
        "ResourceType": rtype,
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": "UPDATE_COMPLETE",
    }
    return out | ({"PhysicalResourceId": physical} if physical else {})


def record(
    stack_name: str, logical_id: str, rtype: str, status: str, diffs=(), expected: dict | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack_name}/1",
        "LogicalResourceId": logical_id,
        "ResourceType": rtype,
        "StackResourceDriftStatus": status,
        "Timestamp": NOW,
    }
    if diffs:
        out["PropertyDifferences"] = [
            {"PropertyPath": p, "ExpectedValue": e, "ActualValue": a, "DifferenceType": t}
            for p, e, a, t in diffs
        ]
    if expected is not None:
        out["ExpectedProperties"] = json.dumps(expected)
    return out


class Aws:
    """Real boto3 clients with Stubbers, a fake clock and a sleep that only records."""

    def __init__(self) -> None:
        self.cfn = boto3.client("cloudformation", region_name="us-east-1")
        self.sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        self.events = boto3.client("events", region_name="us-east-1")
        self.stubs = {c: Stubber(c) for c in (self.cfn, self.sagemaker, self.events)}
        for stub in self.stubs.values():
            stub.activate()
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def detector(self, timeout: float = 60.0) -> DriftDetector:
        return DriftDetector(
            CloudFormationGateway(self.cfn, sleep=self.sleep, clock=lambda: self.now),
            SageMakerGateway(self.sagemaker),
            EventsGateway(self.events),
            sleep=self.sleep,
            clock=lambda: self.now,
            poll_seconds=5.0,
            timeout_seconds=timeout,
        )

    def check(self, stage: str = "dev", timeout: float = 60.0) -> list[StackDrift]:
        reports = self.detector(timeout).check_stage(stage, "mlops")
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()  # every scripted call was made
        return reports

    # -- CloudFormation
    def stacks(self, *stacks: dict[str, Any]) -> None:
        self.stubs[self.cfn].add_response("describe_stacks", {"Stacks": list(stacks)}, {})

    def detect(self, name: str) -> None:
        self.stubs[self.cfn].add_response(
            "detect_stack_drift", {"StackDriftDetectionId": f"det-{name}"}, {"StackName": name}
        )

    def status(self, name: str, detection: str = "DETECTION_COMPLETE", reason: str = "") -> None:
        response = {
            "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/1",
            "StackDriftDetectionId": f"det-{name}",
            "DetectionStatus": detection,
            "Timestamp": NOW,
        } | ({"DetectionStatusReason": reason} if reason else {})
        self.stubs[self.cfn].add_response(
            "describe_stack_drift_detection_status", response, {"StackDriftDetectionId": f"det-{name}"}
        )

    def drifts(self, name: str, records: list[dict[str, Any]], token: str | None = None, after=None) -> None:
        params = {"StackName": name} | ({"NextToken": after} if after else {})
        response = {"StackResourceDrifts": records} | ({"NextToken": token} if token else {})
        self.stubs[self.cfn].add_response("describe_stack_resource_drifts", response, params)

    def resources(self, name: str, items: list[dict[str, Any]], token: str | None = None, after=None) -> None:
        params = {"StackName": name} | ({"NextToken": after} if after else {})
        response = {"StackResourceSummaries": items} | ({"NextToken": token} if token else {})
        self.stubs[self.cfn].add_response("list_stack_resources", response, params)

    def checked(self, name: str, resources: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        """A detection that completes on the first poll, with these results."""
        self.status(name)
        self.drifts(name, records)
        self.resources(name, resources)

    # -- SageMaker and EventBridge
    def endpoint(self, config: str = "EndpointConfig-ABC123", status: str = "InService") -> None:
        response = {
            "EndpointName": "churn-dev",
            "EndpointArn": ENDPOINT_ARN,
            "EndpointConfigName": config,
            "EndpointStatus": status,
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
        }
        self.stubs[self.sagemaker].add_response("describe_endpoint", response, {"EndpointName": "churn-dev"})

    def schedule(self, status: str) -> None:
        response = {
            "MonitoringScheduleArn": SCHEDULE_ARN,
            "MonitoringScheduleName": "churn-monitor-dev-dq",
            "MonitoringScheduleStatus": status,
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
            "MonitoringScheduleConfig": {},
        }
        self.stubs[self.sagemaker].add_response(
            "describe_monitoring_schedule", response, {"MonitoringScheduleName": "churn-monitor-dev-dq"}
        )

    def rule(self, name: str, state: str) -> None:
        self.stubs[self.events].add_response("describe_rule", {"Name": name, "State": state}, {"Name": name})


@pytest.fixture
def aws() -> Aws:
    return Aws()


BATCH = "mlops-churn-batch-dev"
REALTIME = "mlops-churn-dev"
MONITOR = "mlops-churn-monitor-dev"
BUCKET = resource("Bucket", "AWS::S3::Bucket", "churn-bucket")
MACHINE = resource("StateMachine", "AWS::StepFunctions::StateMachine", "arn:aws:states:::sm")


def realtime_resources() -> list[dict[str, Any]]:
    return [
        resource("EndpointConfig", "AWS::SageMaker::EndpointConfig", CONFIG_ARN),
        resource("Endpoint", "AWS::SageMaker::Endpoint", ENDPOINT_ARN),
    ]


def realtime_records(*endpoint_diffs) -> list[dict[str, Any]]:
    return [
        record(REALTIME, "EndpointConfig", "AWS::SageMaker::EndpointConfig", "IN_SYNC"),
        record(
            REALTIME,
            "Endpoint",
            "AWS::SageMaker::Endpoint",
            "MODIFIED" if endpoint_diffs else "IN_SYNC",
            endpoint_diffs,
        ),
    ]


def kinds(reports: list[StackDrift]) -> list[tuple[str, str, str]]:
    return [(i.stack, i.logical_id, i.kind) for r in reports for i in r.items]


# ------------------------------------------------------------------ CloudFormation drift


def test_in_sync_stacks_exit_0_and_other_stacks_are_left_alone(aws: Aws) -> None:
    aws.stacks(
        stack(BATCH),
        stack("mlops-churn-batch-prod"),  # another stage
        {**stack("mlops-other-dev"), "Tags": []},  # not ours: no mlops:managed-by tag
        stack("other-churn-dev"),  # another prefix
    )
    aws.detect(BATCH)
    aws.checked(BATCH, [BUCKET], [record(BATCH, "Bucket", "AWS::S3::Bucket", "IN_SYNC")])
    reports = aws.check()
    assert [r.stack for r in reports] == [BATCH]
    assert kinds(reports) == [(BATCH, "", "in-sync")]
    assert reports[0].items[0].detail == "1 resource in sync"
    assert exit_code(reports) == 0
    assert (
        drift_text(reports).splitlines()[-1] == "drift: 0 stacks drifted, 0 resources not checked, 1 in sync"
    )


def test_modified_resource_names_stack_logical_id_path_expected_and_actual(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    diffs = [("/VersioningConfiguration/Status", '"Enabled"', '"Suspended"', "NOT_EQUAL")]
    aws.checked(BATCH, [BUCKET], [record(BATCH, "Bucket", "AWS::S3::Bucket", "MODIFIED", diffs)])
    reports = aws.check()
    assert exit_code(reports) == 1
    (item,) = reports[0].items
    assert (item.logical_id, item.kind) == ("Bucket", "modified")
    assert item.differences[0].path == "/VersioningConfiguration/Status"
    line = drift_text(reports).splitlines()[1]
    for part in (BATCH, "Bucket", "/VersioningConfiguration/Status", '"Enabled"', '"Suspended"', "modified"):
        assert part in line
    assert 'expected "Enabled", actual "Suspended" (NOT_EQUAL)' in line
    assert (
        drift_text(reports).splitlines()[-1] == "drift: 1 stack drifted, 0 resources not checked, 0 in sync"
    )


def test_deleted_resource_is_drift(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    aws.checked(BATCH, [BUCKET], [record(BATCH, "Bucket", "AWS::S3::Bucket", "DELETED")])
    reports = aws.check()
    assert kinds(reports) == [(BATCH, "Bucket", "deleted")]
    assert reports[0].state == "drifted"
    assert exit_code(reports) == 1


def test_resource_missing_from_drift_results_is_reported_not_checked(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    aws.checked(
        BATCH,
        [BUCKET, MACHINE, resource("Alarm", "AWS::CloudWatch::Alarm", "churn-alarm")],
        [
            record(BATCH, "Bucket", "AWS::S3::Bucket", "IN_SYNC"),
            record(BATCH, "Alarm", "AWS::CloudWatch::Alarm", "NOT_CHECKED"),
        ],
    )
    reports = aws.check()
    by_id = {i.logical_id: i for i in reports[0].items}
    assert by_id["StateMachine"].kind == "not-checked"
    assert "does not support drift detection" in by_id["StateMachine"].detail
    assert by_id["Alarm"].kind == "not-checked"
    assert "NOT_CHECKED" in by_id["Alarm"].detail
    assert by_id[""].detail == "1 resource in sync, 2 not checked"
    assert exit_code(reports) == 0  # gaps are listed, not failures
    assert (
        drift_text(reports).splitlines()[-1] == "drift: 0 stacks drifted, 2 resources not checked, 1 in sync"
    )


def test_paginated_drift_results_and_resources_are_read_to_the_end(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    aws.status(BATCH)
    aws.drifts(BATCH, [record(BATCH, "Bucket", "AWS::S3::Bucket", "IN_SYNC")], token="t1")
    aws.drifts(BATCH, [record(BATCH, "StateMachine", MACHINE["ResourceType"], "DELETED")], after="t1")
    aws.resources(BATCH, [BUCKET], token="r1")
    aws.resources(BATCH, [MACHINE], after="r1")
    reports = aws.check()
    assert kinds(reports) == [(BATCH, "StateMachine", "deleted")]


def test_detections_are_all_started_before_polling_which_sleeps_only_through_the_fake(aws: Aws) -> None:
    second = "mlops-scoring-batch-dev"
    aws.stacks(stack(BATCH), stack(second))
    aws.detect(BATCH)  # Stubber enforces this order: both started, then polled
    aws.detect(second)
    aws.status(BATCH, "DETECTION_IN_PROGRESS")
    aws.status(second, "DETECTION_IN_PROGRESS")
    aws.status(BATCH, "DETECTION_IN_PROGRESS")
    aws.status(second)  # done: not polled again
    aws.status(BATCH)
    for name in (BATCH, second):
        aws.drifts(name, [record(name, "Bucket", "AWS::S3::Bucket", "IN_SYNC")])
        aws.resources(name, [BUCKET])
    reports = aws.check()
    assert aws.slept == [5.0, 5.0]
    assert [r.state for r in reports] == ["in-sync", "in-sync"]


def test_detection_still_running_at_the_deadline_is_reported_not_checked(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    for _ in range(3):
        aws.status(BATCH, "DETECTION_IN_PROGRESS")
    aws.resources(BATCH, [BUCKET])
    reports = aws.check(timeout=10.0)
    assert aws.slept == [5.0, 5.0]
    assert reports[0].state == "not-checked"
    assert reports[0].items[0].detail == "drift detection still running after 10 s"
    assert exit_code(reports) == 0
    assert drift_text(reports).splitlines()[-1].endswith(", 0 in sync, 1 stack not checked")


def test_detection_failed_reports_the_reason_and_what_was_checked(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    aws.status(BATCH, "DETECTION_FAILED", "Failed to detect drift on resource [StateMachine]")
    diffs = [("/Tags/0/Value", '"team-a"', '"team-b"', "NOT_EQUAL")]
    aws.drifts(BATCH, [record(BATCH, "Bucket", "AWS::S3::Bucket", "MODIFIED", diffs)])
    aws.resources(BATCH, [BUCKET, MACHINE])
    reports = aws.check()
    items = {i.logical_id: i for i in reports[0].items}
    assert items[""].kind == "not-checked"
    assert items[""].detail == (
        "drift detection failed: Failed to detect drift on resource [StateMachine]; "
        "1 of 2 resources were checked (below)"
    )
    assert items["Bucket"].kind == "modified"
    assert items["StateMachine"].kind == "not-checked"
    assert "detection failed before reaching it" in items["StateMachine"].detail
    assert exit_code(reports) == 1


def test_stack_in_progress_is_not_checked_and_not_detected(aws: Aws) -> None:
    aws.stacks(stack(BATCH, status="UPDATE_IN_PROGRESS"))
    reports = aws.check()  # Stubber: no detect_stack_drift was scripted, so none may be made
    assert kinds(reports) == [(BATCH, "", "not-checked")]
    assert "UPDATE_IN_PROGRESS" in reports[0].items[0].detail


def test_detection_refused_on_every_stack_is_an_aws_failure(aws: Aws) -> None:
    from mlops_gitops.ops.drift import DriftUnavailable

    aws.stacks(stack(BATCH))
    aws.stubs[aws.cfn].add_client_error(
        "detect_stack_drift", "AccessDenied", "not authorized to perform: cloudformation:DetectStackDrift"
    )
    with pytest.raises(DriftUnavailable, match="AccessDenied: not authorized") as exc:
        aws.check()
    assert exc.value.exit_code == 3


# ------------------------------------------------------------------ live state


def test_realtime_stack_in_sync_when_the_endpoint_serves_its_own_config(aws: Aws) -> None:
    aws.stacks(stack(REALTIME, "byom_realtime_builtin"))
    aws.detect(REALTIME)
    aws.checked(REALTIME, realtime_resources(), realtime_records())
    aws.endpoint("EndpointConfig-ABC123")  # same name as the lower-cased ARN: no drift
    reports = aws.check()
    assert kinds(reports) == [(REALTIME, "", "in-sync")]


def test_endpoint_config_swapped_outside_cloudformation_is_live_drift(aws: Aws) -> None:
    aws.stacks(stack(REALTIME, "byom_realtime_builtin"))
    aws.detect(REALTIME)
    aws.checked(REALTIME, realtime_resources(), realtime_records())
    aws.endpoint("hotfix-config")
    reports = aws.check()
    assert kinds(reports) == [(REALTIME, "Endpoint", "live-drift")]
    assert "serves endpoint config 'hotfix-config', not the stack's 'endpointconfig-abc123'" in (
        reports[0].items[0].detail
    )
    assert exit_code(reports) == 1


def test_swap_cloudformation_already_reported_is_not_reported_twice(aws: Aws) -> None:
    aws.stacks(stack(REALTIME, "byom_realtime_builtin"))
    aws.detect(REALTIME)
    diffs = [("/EndpointConfigName", '"EndpointConfig-ABC123"', '"hotfix-config"', "NOT_EQUAL")]
    aws.checked(REALTIME, realtime_resources(), realtime_records(*diffs))
    aws.endpoint("hotfix-config")
    reports = aws.check()
    assert kinds(reports) == [(REALTIME, "Endpoint", "modified")]


def test_endpoint_not_in_service_is_reported(aws: Aws) -> None:
    aws.stacks(stack(REALTIME, "byom_realtime_builtin"))
    aws.detect(REALTIME)
    aws.checked(REALTIME, realtime_resources(), realtime_records())
    aws.endpoint(status="Failed")
    reports = aws.check()
    assert kinds(reports) == [(REALTIME, "Endpoint", "live-drift")]
    assert reports[0].items[0].detail == "endpoint churn-dev is Failed, not InService"


def test_stopped_monitoring_schedule_is_live_drift(aws: Aws) -> None:
    aws.stacks(stack(MONITOR, "byom_data_quality_monitor"))
    aws.detect(MONITOR)
    schedule = resource("MonitoringSchedule", "AWS::SageMaker::MonitoringSchedule", SCHEDULE_ARN)
    aws.checked(
        MONITOR, [schedule], [record(MONITOR, "MonitoringSchedule", schedule["ResourceType"], "IN_SYNC")]
    )
    aws.schedule("Stopped")
    reports = aws.check()
    assert kinds(reports) == [(MONITOR, "MonitoringSchedule", "live-drift")]
    assert "churn-monitor-dev-dq is Stopped" in reports[0].items[0].detail
    assert exit_code(reports) == 1


def test_scheduled_monitoring_schedule_is_in_sync(aws: Aws) -> None:
    aws.stacks(stack(MONITOR, "byom_data_quality_monitor"))
    aws.detect(MONITOR)
    schedule = resource("MonitoringSchedule", "AWS::SageMaker::MonitoringSchedule", SCHEDULE_ARN)
    aws.checked(
        MONITOR, [schedule], [record(MONITOR, "MonitoringSchedule", schedule["ResourceType"], "IN_SYNC")]
    )
    aws.schedule("Scheduled")
    assert kinds(aws.check()) == [(MONITOR, "", "in-sync")]


def test_live_checks_that_fail_are_not_checked_with_their_reason(aws: Aws) -> None:
    aws.stacks(stack(REALTIME, "byom_realtime_builtin"), stack(MONITOR, "byom_data_quality_monitor"))
    aws.detect(REALTIME)
    aws.detect(MONITOR)
    schedule = resource("MonitoringSchedule", "AWS::SageMaker::MonitoringSchedule", SCHEDULE_ARN)
    aws.status(REALTIME)
    aws.status(MONITOR)
    aws.drifts(REALTIME, realtime_records())
    aws.resources(REALTIME, realtime_resources())
    aws.stubs[aws.sagemaker].add_client_error(
        "describe_endpoint", "AccessDeniedException", "no sagemaker:DescribeEndpoint", http_status_code=400
    )
    aws.drifts(MONITOR, [record(MONITOR, "MonitoringSchedule", schedule["ResourceType"], "IN_SYNC")])
    aws.resources(MONITOR, [schedule])
    aws.stubs[aws.sagemaker].add_client_error(
        "describe_monitoring_schedule", "InternalFailure", "not yet implemented", http_status_code=500
    )
    reports = aws.check()
    details = {i.logical_id: (i.kind, i.detail) for r in reports for i in r.items if i.logical_id}
    assert details == {
        "Endpoint": (
            "not-checked",
            "describe_endpoint churn-dev failed: AccessDeniedException: no sagemaker:DescribeEndpoint",
        ),
        "MonitoringSchedule": (
            "not-checked",
            "describe_monitoring_schedule churn-monitor-dev-dq failed: InternalFailure: not yet implemented",
        ),
    }
    assert exit_code(reports) == 0


def test_disabled_rule_is_live_drift_unless_cloudformation_said_so_or_the_template_asks(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    rtype = "AWS::Events::Rule"
    rules = [
        resource("Disabled", rtype, "churn-disabled"),
        resource("Modified", rtype, "churn-modified"),
        resource("Wanted", rtype, "churn-wanted"),
        resource("OnBus", rtype, "churn-bus|churn-on-bus"),
    ]
    diffs = [("/State", '"ENABLED"', '"DISABLED"', "NOT_EQUAL")]
    aws.checked(
        BATCH,
        rules,
        [
            record(BATCH, "Disabled", rtype, "IN_SYNC", expected={"State": "ENABLED"}),
            record(BATCH, "Modified", rtype, "MODIFIED", diffs),
            record(BATCH, "Wanted", rtype, "IN_SYNC", expected={"State": "DISABLED"}),
            record(BATCH, "OnBus", rtype, "IN_SYNC", expected={"State": "ENABLED"}),
        ],
    )
    aws.rule("churn-disabled", "DISABLED")  # only these two are looked up
    aws.stubs[aws.events].add_response(
        "describe_rule",
        {"Name": "churn-on-bus", "State": "ENABLED"},
        {"Name": "churn-on-bus", "EventBusName": "churn-bus"},
    )
    reports = aws.check()
    assert kinds(reports) == [(BATCH, "Modified", "modified"), (BATCH, "Disabled", "live-drift")]
    assert reports[0].items[1].detail == "rule churn-disabled is DISABLED; the template enables it"


# ------------------------------------------------------------------ report shapes


def test_json_report_shape(aws: Aws) -> None:
    aws.stacks(stack(REALTIME, "byom_realtime_builtin"), stack(BATCH))
    aws.detect(BATCH)  # stacks are taken by name
    aws.detect(REALTIME)
    aws.status(BATCH)
    aws.status(REALTIME)
    aws.drifts(BATCH, [record(BATCH, "Bucket", "AWS::S3::Bucket", "IN_SYNC")])
    aws.resources(BATCH, [BUCKET])
    aws.drifts(REALTIME, realtime_records())
    aws.resources(REALTIME, realtime_resources())
    aws.endpoint("hotfix-config")
    doc = json.loads(drift_json(aws.check()))
    assert set(doc) == {"stacks", "drifted"}
    assert doc["drifted"] is True
    batch, realtime = doc["stacks"]
    assert (batch["stack"], batch["state"], realtime["stack"], realtime["state"]) == (
        BATCH,
        "in-sync",
        REALTIME,
        "drifted",
    )
    assert realtime["pipeline_id"] == "churn" and realtime["stage"] == "dev"
    (item,) = realtime["items"]
    assert set(item) == {
        "stack",
        "stage",
        "pipeline_id",
        "logical_id",
        "resource_type",
        "kind",
        "detail",
        "differences",
    }
    assert (item["logical_id"], item["resource_type"], item["kind"]) == (
        "Endpoint",
        "AWS::SageMaker::Endpoint",
        "live-drift",
    )


def test_modified_json_carries_every_property_difference(aws: Aws) -> None:
    aws.stacks(stack(BATCH))
    aws.detect(BATCH)
    diffs = [("/A", "1", "2", "NOT_EQUAL"), ("/B", '"x"', "null", "REMOVE")]
    aws.checked(BATCH, [BUCKET], [record(BATCH, "Bucket", "AWS::S3::Bucket", "MODIFIED", diffs)])
    reports = aws.check()
    (item,) = json.loads(drift_json(reports))["stacks"][0]["items"]
    assert item["differences"] == [
        {"path": "/A", "expected": "1", "actual": "2", "difference_type": "NOT_EQUAL"},
        {"path": "/B", "expected": '"x"', "actual": "null", "difference_type": "REMOVE"},
    ]
    text = drift_text(reports).splitlines()
    assert text[0].split() == ["STAGE", "STACK", "RESOURCE", "TYPE", "KIND", "DETAIL"]
    assert [line.split("modified  ", 1)[1] for line in text[1:3]] == [
        "/A: expected 1, actual 2 (NOT_EQUAL)",
        '/B: expected "x", actual null (REMOVE)',
    ]
    assert all(
        line.split()[:5] == ["dev", BATCH, "Bucket", "AWS::S3::Bucket", "modified"] for line in text[1:3]
    )


# ------------------------------------------------------------------ through the CLI


@pytest.fixture
def repo(tmp_repo: TmpRepo) -> TmpRepo:
    return tmp_repo


def run(repo: TmpRepo, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--repo-root", str(repo.root), "drift", *args], environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_aws(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The CLI's AwsContext hands out the stubbed clients (the dev stage is in our own account)."""
    clients = {"cloudformation": aws.cfn, "sagemaker": aws.sagemaker, "events": aws.events}
    monkeypatch.setattr(AwsContext, "client", lambda self, service, region=None: clients[service])
    return aws


def test_cli_unknown_stage_is_a_usage_error_without_aws(
    repo: TmpRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_aws(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a usage error must not reach AWS")

    monkeypatch.setattr(AwsContext, "client", no_aws)
    code, out, err = run(repo, "--stage", "prdo")
    assert code == 2
    assert out == ""
    assert err == "mlopsctl: no stage 'prdo' in environments.json; did you mean 'prod'?\n"
    code, _, err = run(repo, "--format", "yaml")
    assert code == 2 and "invalid choice: 'yaml'" in err


def test_cli_exit_codes_and_output(repo: TmpRepo, cli_aws: Aws) -> None:
    cli_aws.stacks(stack(BATCH))
    cli_aws.detect(BATCH)
    diffs = [("/VersioningConfiguration/Status", '"Enabled"', '"Suspended"', "NOT_EQUAL")]
    cli_aws.checked(BATCH, [BUCKET], [record(BATCH, "Bucket", "AWS::S3::Bucket", "MODIFIED", diffs)])
    code, out, err = run(repo, "--stage", "dev")
    assert (code, err) == (1, "")
    assert out.splitlines()[1].split()[:6] == [
        "dev",
        BATCH,
        "Bucket",
        "AWS::S3::Bucket",
        "modified",
        "/VersioningConfiguration/Status:",
    ]
    assert out.endswith("drift: 1 stack drifted, 0 resources not checked, 0 in sync\n")

    cli_aws.stacks(stack(BATCH))
    cli_aws.detect(BATCH)
    cli_aws.checked(BATCH, [BUCKET], [record(BATCH, "Bucket", "AWS::S3::Bucket", "IN_SYNC")])
    code, out, _ = run(repo, "--stage", "dev", "--format", "json")
    assert code == 0
    assert json.loads(out)["drifted"] is False


def test_cli_stacks_that_cannot_be_listed_exit_3_without_a_traceback(repo: TmpRepo, cli_aws: Aws) -> None:
    cli_aws.stubs[cli_aws.cfn].add_client_error(
        "describe_stacks", "AccessDenied", "no cloudformation:DescribeStacks"
    )
    code, out, err = run(repo, "--stage", "dev")
    assert code == 3
    assert out == "drift: no deployed stacks of ours to check\n"
    assert "AccessDenied" in err and "Traceback" not in err
