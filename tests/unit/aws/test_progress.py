"""A verb waiting on AWS says what it waits for at least every 30 s (on stderr), so a long deploy
or drift run is never silent. The clock is the test's: no sleeping, no timing."""

from __future__ import annotations

import argparse
import io
import logging

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway, ProgressTicker, elapsed_text
from mlops_gitops.cli import main
from mlops_gitops.cli import status as status_verb
from tests.fakes import FakeCloudFormation, FakeStack


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_stack_wait_reports_every_30_seconds_with_status_and_time() -> None:
    fake, clock, lines = FakeCloudFormation(), Clock(), []
    fake.add(FakeStack("mlops-x-dev", "UPDATE_IN_PROGRESS", upcoming=["UPDATE_IN_PROGRESS"] * 30))
    gateway = CloudFormationGateway(
        fake, sleep=clock.sleep, clock=clock, poll_seconds=5.0, progress=lines.append
    )
    fake.stacks["mlops-x-dev"].upcoming.append("UPDATE_COMPLETE")
    snap = gateway.wait_stable("mlops-x-dev")
    assert snap is not None and snap.status == "UPDATE_COMPLETE"
    assert lines == [
        "waiting for mlops-x-dev: UPDATE_IN_PROGRESS (30 s)",
        "waiting for mlops-x-dev: UPDATE_IN_PROGRESS (1 min)",
        "waiting for mlops-x-dev: UPDATE_IN_PROGRESS (1 min)",
        "waiting for mlops-x-dev: UPDATE_IN_PROGRESS (2 min)",
    ]  # 30 polls 5 s apart: at 30, 60, 90 and 120 s


def test_a_short_wait_says_nothing_and_a_bounded_wait_still_ends() -> None:
    fake, clock, lines = FakeCloudFormation(), Clock(), []
    fake.add(FakeStack("s", "CREATE_IN_PROGRESS", upcoming=["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]))
    gateway = CloudFormationGateway(fake, sleep=clock.sleep, clock=clock, progress=lines.append)
    assert gateway.wait_stable("s").status == "CREATE_COMPLETE" and lines == []


@pytest.mark.parametrize(
    "seconds, text", [(0, "0 s"), (30, "30 s"), (59.6, "60 s"), (60, "1 min"), (150, "2 min")]
)
def test_elapsed_time_reads_as_seconds_then_minutes(seconds: float, text: str) -> None:
    assert elapsed_text(seconds) == text


def test_progress_lines_reach_the_runs_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI prints the progress logger's lines to stderr as they are, at the default log
    level, and only for the run that is going on."""

    def waiting_verb(args: argparse.Namespace, environ, out, err) -> int:
        clock = Clock()
        ticker = ProgressTicker(clock)  # the default report: the progress logger
        for _ in range(7):
            clock.sleep(10)
            ticker.tick("mlops-x-dev", "UPDATE_IN_PROGRESS")
        return 0

    monkeypatch.setattr(status_verb, "run_status", waiting_verb)
    err = io.StringIO()
    assert main(["status"], environ={}, stdout=io.StringIO(), stderr=err) == 0
    assert err.getvalue() == (
        "waiting for mlops-x-dev: UPDATE_IN_PROGRESS (30 s)\nwaiting for mlops-x-dev: UPDATE_IN_PROGRESS (1 min)\n"
    )
    assert not logging.getLogger("mlops_gitops.progress").handlers, "the run's handler is removed"


class SlowDetection:
    """drift_detection of a CloudFormation whose detections run for ``polls`` polls."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    def drift_detection(self, detection_id: str):
        from mlops_gitops.aws.drift_reads import DetectionResult

        self.polls -= 1
        return DetectionResult("DETECTION_IN_PROGRESS" if self.polls > 0 else "DETECTION_COMPLETE", "", "")


def test_a_drift_wait_reports_how_many_detections_run(caplog: pytest.LogCaptureFixture) -> None:
    from mlops_gitops.ops.drift import DriftDetector, _Detection

    clock = Clock()
    detector = DriftDetector(SlowDetection(2 * 14), None, None, sleep=clock.sleep, clock=clock)
    detections = {n: _Detection(n, "DETECTION_IN_PROGRESS") for n in ("a", "b")}
    with caplog.at_level(logging.INFO, logger="mlops_gitops.progress"):
        detector._wait(detections)
    assert [r.getMessage() for r in caplog.records] == [
        "waiting for drift detection of 2 stacks: DETECTION_IN_PROGRESS (30 s)",
        "waiting for drift detection of 2 stacks: DETECTION_IN_PROGRESS (1 min)",
    ]
