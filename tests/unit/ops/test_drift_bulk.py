"""mlopsctl drift at scale (issue 17), counted on the scripted fake (tests/fakes.py).

DetectStackDrift has no bulk form, so a detected stage costs the listing's pages plus a constant
per stack (start, status, the resource listing); the pages of expected and actual properties
(DescribeStackResourceDrifts) only for stacks that drifted; status reads per poll interval are
bounded; --no-detect reads each stack's last known drift from the listing alone.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackDriftInformation.html"""

from __future__ import annotations

import io
import math
import threading
from collections import Counter
from datetime import datetime, timezone

import pytest

from mlops_gitops.aws.clients import AwsContext
from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.cli import main
from mlops_gitops.ops.drift import DriftDetector
from tests.conftest import TmpRepo
from tests.fakes import PAGE_SIZE, Clock, FakeCloudFormation, FakeStack

CHECKED = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)


def stage(count: int, drifted: int = 0) -> FakeCloudFormation:
    """``count`` batch stacks of ours in dev, each with one bucket; the first ``drifted`` have it modified."""
    fake = FakeCloudFormation()
    for i in range(count):
        tags = {
            "mlops:managed-by": "mlops-gitops",
            "mlops:stage": "dev",
            "mlops:pipeline-id": f"p{i:04d}",
            "mlops:pipeline-type": "byom_batch_builtin",
        }
        stack = fake.add(FakeStack(f"mlops-p{i:04d}-dev", "UPDATE_COMPLETE", tags))
        stack.resources = [("Bucket", "AWS::S3::Bucket", f"bucket-{i}")]
        stack.drift_found = {"Bucket": "MODIFIED" if i < drifted else "IN_SYNC"}
    return fake


def detector(fake: FakeCloudFormation, clock: Clock | None = None, **kwargs) -> DriftDetector:
    clock = clock or Clock()
    cfn = CloudFormationGateway(fake, sleep=clock.sleep, clock=clock)
    # batch stacks without rules: no SageMaker or EventBridge call is made
    return DriftDetector(cfn, object(), object(), sleep=clock.sleep, clock=clock, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [3, 250])
def test_a_detected_stage_costs_the_pages_plus_a_constant_per_stack_and_property_pages_only_where_drifted(
    count: int,
) -> None:
    fake = stage(count, drifted=2)
    reports = detector(fake).check_stage("dev", "mlops")
    assert Counter(r.state for r in reports) == {"drifted": 2, "in-sync": count - 2}
    in_sync = next(r for r in reports if r.state == "in-sync")
    assert [i.detail for i in in_sync.items] == ["1 resource in sync"]
    assert Counter(fake.calls) == {
        "describe_stacks": math.ceil(count / PAGE_SIZE),
        "detect_stack_drift": count,
        "describe_stack_drift_detection_status": count,
        "list_stack_resources": count,
        "describe_stack_resource_drifts": 2,  # the drifted stacks only
    }


def test_an_in_sync_stacks_unchecked_resources_are_still_listed_from_the_resource_listing() -> None:
    fake = stage(1)
    fake.stacks["mlops-p0000-dev"].resources.append(("Table", "AWS::Glue::Table", "t"))  # no verdict
    reports = detector(fake).check_stage("dev", "mlops")
    assert [(i.logical_id, i.kind) for i in reports[0].items] == [("Table", "not-checked"), ("", "in-sync")]
    assert reports[0].items[-1].detail == "1 resource in sync, 1 not checked"
    assert "describe_stack_resource_drifts" not in fake.calls


def test_status_reads_per_poll_interval_are_bounded_whatever_the_number_of_stacks() -> None:
    fake = stage(250)
    fake.detection_rounds = 3  # each detection answers IN_PROGRESS to its first 3 status reads
    clock = Clock()
    fake.clock = clock
    reports = detector(fake, clock, poll_budget=40, timeout_seconds=3600).check_stage("dev", "mlops")
    assert {r.state for r in reports} == {"in-sync"}
    per_interval = Counter(
        t for t, call in fake.call_times if call == "describe_stack_drift_detection_status"
    )
    assert max(per_interval.values()) == 40
    assert sum(per_interval.values()) == 250 * 4  # every status read is needed: none is repeated early


def test_a_stage_larger_than_the_poll_budget_is_read_to_the_end_before_its_timeout_counts() -> None:
    fake = stage(250)  # 7 intervals of 40 reads: longer than the 10 s timeout
    reports = detector(fake, poll_budget=40, timeout_seconds=10).check_stage("dev", "mlops")
    assert {r.state for r in reports} == {"in-sync"}


def test_detections_start_several_at_a_time() -> None:
    fake = stage(4)
    both = threading.Barrier(2, timeout=10)  # broken (an error) unless two starts are in flight at once
    original = fake.detect_stack_drift

    def start(StackName: str) -> dict:
        if StackName in ("mlops-p0000-dev", "mlops-p0001-dev"):
            both.wait()
        return original(StackName)

    fake.detect_stack_drift = start  # type: ignore[method-assign]
    reports = detector(fake, start_workers=4).check_stage("dev", "mlops")
    assert [r.state for r in reports] == ["in-sync"] * 4
    assert [r.stack for r in reports] == [f"mlops-p{i:04d}-dev" for i in range(4)]  # the stacks' order


def test_a_detection_that_does_not_finish_shows_the_last_known_drift_from_the_listing() -> None:
    fake = stage(1)
    fake.stacks["mlops-p0000-dev"].drift = "DRIFTED"
    fake.stacks["mlops-p0000-dev"].drift_checked = CHECKED
    fake.detection_rounds = 99
    reports = detector(fake, timeout_seconds=10).check_stage("dev", "mlops")
    assert reports[0].state == "not-checked"
    assert reports[0].items[0].detail == (
        "drift detection still running after 10 s; last known: DRIFTED (checked 2026-03-01 06:00 UTC)"
    )


def test_no_detect_reads_the_listing_alone_and_details_only_for_stacks_that_drifted() -> None:
    fake = stage(150, drifted=2)
    for i, stack in enumerate(fake.stacks.values()):
        if i < 100:  # a detection ran on these
            stack.drift, stack.drift_checked = ("DRIFTED" if i < 2 else "IN_SYNC"), CHECKED
    reports = detector(fake, detect=False).check_stage("dev", "mlops")
    assert Counter(r.state for r in reports) == {"drifted": 2, "in-sync": 98, "not-checked": 50}
    assert Counter(fake.calls) == {
        "describe_stacks": 2,
        "describe_stack_resource_drifts": 2,
        "list_stack_resources": 2,
    }
    by_state = {r.state: r for r in reports}
    assert by_state["in-sync"].items[0].detail == (
        "IN_SYNC (checked 2026-03-01 06:00 UTC); not detected again (--no-detect)"
    )
    assert by_state["in-sync"].detection == "last-known"
    assert by_state["not-checked"].items[0].detail == "not detected (--no-detect); last known: NOT_CHECKED"
    assert [i.kind for i in by_state["drifted"].items] == ["modified"]


def test_cli_no_detect(tmp_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fake = stage(2, drifted=1)
    fake.stacks["mlops-p0000-dev"].drift = "DRIFTED"
    monkeypatch.setattr(AwsContext, "client", lambda self, service, region=None: fake)
    out, err = io.StringIO(), io.StringIO()
    argv = ["--repo-root", str(tmp_repo.root), "drift", "--stage", "dev", "--no-detect"]
    code = main(argv, environ={}, stdout=out, stderr=err)
    assert (code, err.getvalue()) == (1, "")
    assert out.getvalue().endswith(
        "drift: 1 stack drifted, 0 resources not checked, 0 in sync, 1 stack not checked "
        "(1 as last detected, not detected again)\n"
    )
    assert "detect_stack_drift" not in fake.calls
