"""A verb's waits on AWS end by one deadline (issue 14, item 5: no hang): --timeout MINUTES, else
120 for deploy and 15 for reads. What is still in progress is said; the next run resumes it."""

from __future__ import annotations

import argparse

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway, StackError
from mlops_gitops.cli.options import deadline_of
from mlops_gitops.errors import UsageError
from tests.conftest import run_cli
from tests.fakes import FakeCloudFormation, FakeStack


def test_a_stack_still_in_progress_at_the_commands_deadline_is_said_not_waited_for() -> None:
    fake = FakeCloudFormation()
    stack = fake.add(FakeStack("mlops-x-dev", "UPDATE_IN_PROGRESS"))
    stack.upcoming = ["UPDATE_IN_PROGRESS"] * 100_000
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    gateway = CloudFormationGateway(
        fake, sleep=sleep, clock=lambda: now[0], poll_seconds=5, timeout_seconds=3600, deadline=60.0
    )
    with pytest.raises(StackError, match="still UPDATE_IN_PROGRESS when the command's time ran out"):
        gateway.wait_stable("mlops-x-dev")
    assert 60.0 <= now[0] <= 70.0, "it gave up at the command's deadline, not the wait's own hour"


def test_without_a_command_deadline_the_wait_keeps_its_own_timeout() -> None:
    fake = FakeCloudFormation()
    stack = fake.add(FakeStack("mlops-x-dev", "UPDATE_IN_PROGRESS"))
    stack.upcoming = ["UPDATE_IN_PROGRESS"] * 100_000
    now = [0.0]
    gateway = CloudFormationGateway(
        fake,
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        clock=lambda: now[0],
        poll_seconds=5,
        timeout_seconds=30,
    )
    with pytest.raises(StackError, match="after 30 s"):
        gateway.wait_stable("mlops-x-dev")


def test_the_deadline_comes_from_timeout_or_the_verbs_default() -> None:
    assert (
        0
        < deadline_of(argparse.Namespace(timeout=2.0), 120) - deadline_of(argparse.Namespace(), 0.0001)
        <= 121
    )
    with pytest.raises(UsageError, match="above 0"):
        deadline_of(argparse.Namespace(timeout=0.0), 120)


def test_a_timeout_of_zero_is_a_usage_error_before_any_aws_call(tmp_repo) -> None:
    result = run_cli(
        "--repo-root", str(tmp_repo.root), "status", "--timeout", "0", "--endpoint-url", "http://127.0.0.1:9"
    )
    assert result.code == 2 and "--timeout 0" in result.err
