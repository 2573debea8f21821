"""Waits in bulk (issue 17): every stack a run waits on is watched through one DescribeStacks round
per poll interval, so CloudFormation calls per interval do not grow with the stacks in flight;
events are read only when a stack's status changed; throttled reads are asked again, never a
failed stack. The clock is the test's (advanced by the waits' own sleep): no sleeping.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from tests.fakes import Clock, FakeCloudFormation, FakeStack

POLL = 5.0
ACCOUNT = 250  # stacks in the account: 3 pages of DescribeStacks


def account(in_flight: int, clock: Clock, **fake_kwargs) -> FakeCloudFormation:
    """ACCOUNT stacks, the first ``in_flight`` of them updating for 3 to 7 more descriptions, each
    with one event of its own not seen yet."""
    fake = FakeCloudFormation(clock=clock, **fake_kwargs)
    for i in range(ACCOUNT):
        busy = i < in_flight
        stack = fake.add(
            FakeStack(
                f"mlops-p{i:03d}-dev",
                "UPDATE_IN_PROGRESS" if busy else "UPDATE_COMPLETE",
                upcoming=["UPDATE_IN_PROGRESS"] * (3 + i % 5) + ["UPDATE_COMPLETE"] if busy else [],
            )
        )
        stack.events.append(
            {
                "EventId": f"ev-{i}",
                "Timestamp": datetime(2026, 1, 1, tzinfo=timezone.utc),
                "LogicalResourceId": "Endpoint",
                "ResourceType": "AWS::SageMaker::Endpoint",
                "ResourceStatus": "UPDATE_COMPLETE",
                "ResourceStatusReason": "",
            }
        )
    return fake


def wait_all(fake: FakeCloudFormation, clock: Clock, in_flight: int):
    """Every stack waited for by a thread of its own, as deploy's threads do. The test's sleep
    holds the rounds until every wait has begun (threads start one by one; a real sleep gives
    them that time)."""
    everyone = threading.Event()

    def sleep(seconds: float) -> None:
        everyone.wait()
        clock.sleep(seconds)

    gateway = CloudFormationGateway(fake, sleep=sleep, clock=clock, poll_seconds=POLL, timeout_seconds=10**6)
    original, begun, lock = gateway.watcher.watching, [0], threading.Lock()

    @contextmanager
    def watching(name: str):
        with original(name) as need:
            with lock:
                begun[0] += 1
                if begun[0] == in_flight:
                    everyone.set()
            yield need

    gateway.watcher.watching = watching
    seen: list[tuple[str, str]] = []
    names = [f"mlops-p{i:03d}-dev" for i in range(in_flight)]

    def one(name: str):
        return gateway.wait_stable(name, lambda event, name=name: seen.append((name, event.logical_id)))

    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        snaps = list(pool.map(one, names))
    return names, snaps, seen


def per_interval(fake: FakeCloudFormation, call: str) -> Counter[int]:
    return Counter(int(t // POLL) for t, name in fake.call_times if name == call)


@pytest.mark.parametrize("in_flight", [10, 200])
def test_describe_calls_per_poll_interval_do_not_grow_with_the_stacks_in_flight(in_flight: int) -> None:
    clock = Clock()
    fake = account(in_flight, clock)
    names, snaps, _ = wait_all(fake, clock, in_flight)
    assert [s.status for s in snaps] == ["UPDATE_COMPLETE"] * in_flight
    # one round per interval: at most the 3 pages of the account's listing, for 10 or 200 stacks
    assert max(per_interval(fake, "describe_stacks").values()) <= 3
    # 1 round before the others began, then at most 8 (the longest wait): not in_flight x rounds
    assert fake.calls.count("describe_stacks") <= 1 + 3 * 8


def test_events_are_read_only_for_stacks_whose_status_changed() -> None:
    clock = Clock()
    fake = account(200, clock)
    names, _, seen = wait_all(fake, clock, 200)
    # every stack's event streamed once, with one DescribeStackEvents per stack (its one change),
    # not one per stack per interval
    assert sorted(seen) == sorted((name, "Endpoint") for name in names)
    assert fake.calls.count("describe_stack_events") == 200


def test_throttled_reads_are_asked_again_and_fail_no_stack() -> None:
    clock = Clock()
    fake = account(100, clock, reads_per_second=4)
    names, snaps, seen = wait_all(fake, clock, 100)
    assert fake.throttled > 0, "the fake's rate limit was reached"
    assert [s.status for s in snaps] == ["UPDATE_COMPLETE"] * 100
    assert sorted(seen) == sorted((name, "Endpoint") for name in names)


def test_a_waiter_takes_no_listing_read_before_it_asked() -> None:
    """A round that started before a wait began could show the stack before its change set ran."""
    clock = Clock()
    fake = FakeCloudFormation(clock=clock)
    fake.add(FakeStack("a", "UPDATE_IN_PROGRESS", upcoming=["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]))
    fake.add(FakeStack("b", "UPDATE_COMPLETE"))
    gateway = CloudFormationGateway(fake, sleep=clock.sleep, clock=clock, poll_seconds=POLL)
    with gateway.watcher.watching("a") as need:
        first = gateway.watcher.sight("a", need)
        fake.stacks["b"].status, fake.stacks["b"].upcoming = "UPDATE_IN_PROGRESS", ["UPDATE_COMPLETE"]
        snap = gateway.wait_stable("b")  # round `first` saw b UPDATE_COMPLETE: not taken
    assert first.raw["StackStatus"] == "UPDATE_IN_PROGRESS"
    assert snap.status == "UPDATE_COMPLETE" and fake.stacks["b"].upcoming == []


def test_a_stack_missing_from_the_listing_is_gone() -> None:
    clock = Clock()
    fake = FakeCloudFormation(clock=clock)
    for name in ("a", "b", "c"):
        fake.add(FakeStack(name, "DELETE_IN_PROGRESS"))
    gateway = CloudFormationGateway(fake, sleep=clock.sleep, clock=clock, poll_seconds=POLL)
    with gateway.watcher.watching("a"), gateway.watcher.watching("b"):
        del fake.stacks["c"]
        assert gateway.wait_stable("c") is None  # 3 watched > 1 page: read from the listing
    assert "describe_stacks" in fake.calls


def test_events_read_at_a_status_change_span_every_page_since_the_last_read() -> None:
    """Events are read at status changes only, so a long update's events can fill more than the
    newest page (DescribeStackEvents returns newest first, paginated): none is lost.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html"""
    clock = Clock()
    fake = FakeCloudFormation(clock=clock)
    stack = fake.add(FakeStack("s", "UPDATE_COMPLETE"))

    def event(i: int) -> dict:
        at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        return {"EventId": f"e{i}", "Timestamp": at, "LogicalResourceId": f"R{i}", "ResourceType": "T"}

    stack.events += [event(i) for i in range(5)]
    gateway = CloudFormationGateway(fake, sleep=clock.sleep, clock=clock, poll_seconds=POLL)
    gateway.mark("s")
    stack.events += [event(i) for i in range(5, 255)]  # 250 new events: 3 pages
    stack.status, stack.upcoming = "UPDATE_IN_PROGRESS", ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    seen: list[str] = []
    gateway.wait_stable("s", lambda e: seen.append(e.logical_id))
    assert seen == [f"R{i}" for i in range(5, 255)]
