"""One watcher for every stack a run waits on (issue 17): each poll interval, one round of
DescribeStacks answers all the waiting threads, so CloudFormation calls per interval do not grow
with the number of stacks in flight.

A round costs min(stacks watched, pages of the account's stacks): while few stacks are watched
each is described by name (one call each); once more are watched than the account's listing has
pages, the paginated listing (DescribeStacks without a name, one page per 100 stacks) is read
instead. A stack absent from the listing is gone: DescribeStacks lists live stacks only.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html

Rounds are led by whichever waiting thread finds none running; the others block until it ends.
A waiter only takes a round that started after it asked (never a listing read before its
change set was executed). A round that CloudFormation throttled even after the client's own
retries (botocore's adaptive mode, aws.clients) answers "no news": the waiters poll again at the
next interval instead of failing a stack that is fine.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

# botocore's throttling codes (botocore/retries/standard.py), CloudFormation's among them
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)


def throttled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in THROTTLING


@dataclass(frozen=True)
class Sight:
    """What one round saw of one stack: its raw description (None: gone), and whether the round
    could be read at all (False: throttled, nothing is known)."""

    number: int
    raw: dict[str, Any] | None
    fresh: bool = True

    @property
    def marker(self) -> tuple[str, str] | None:
        """Changes whenever the stack's status or LastUpdatedTime does: when to read its events."""
        if self.raw is None:
            return None
        return (self.raw.get("StackStatus", ""), str(self.raw.get("LastUpdatedTime", "")))


@dataclass
class StackWatcher:
    client: Any
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    poll_seconds: float
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _watched: Counter[str] = field(default_factory=Counter)
    _started: int = 0  # rounds started
    _done: int = 0  # the last round ended
    _leading: bool = False
    _last_start: float | None = None
    _seen: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _fresh: bool = True
    _pages: int = 1  # pages of the last listing (1 until one was read)

    @contextmanager
    def watching(self, name: str) -> Iterator[int]:
        """Watch ``name`` meanwhile; yields the first round number the caller may take."""
        with self._cond:
            self._watched[name] += 1
            first = self._started + 1
        try:
            yield first
        finally:
            with self._cond:
                self._watched[name] -= 1
                if self._watched[name] <= 0:
                    del self._watched[name]
                    self._seen.pop(name, None)

    def sight(self, name: str, need: int) -> Sight:
        """The stack as round ``need`` (or a later one) saw it, leading that round if nobody is."""
        while True:
            with self._cond:
                while self._done < need and self._leading:
                    self._cond.wait()
                if self._done >= need:
                    return Sight(self._done, self._seen.get(name), self._fresh)
                self._leading = True
            try:
                self._round()
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()

    def _round(self) -> None:
        if self._last_start is not None:
            wait = self._last_start + self.poll_seconds - self.clock()
            if wait > 0:
                self.sleep(wait)
        with self._cond:
            self._started += 1
            number = self._started
            names = set(self._watched)
            self._last_start = self.clock()
        try:
            seen = self._list(names) if len(names) > self._pages else self._each(names)
            fresh = True
        except ClientError as exc:
            if not throttled(exc):
                raise
            seen, fresh = {}, False
        with self._cond:
            if fresh:
                self._seen.update(seen)
            self._fresh, self._done = fresh, number

    def _list(self, names: set[str]) -> dict[str, dict[str, Any] | None]:
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
        token, pages = None, 0
        while True:
            page = self.client.describe_stacks(**({"NextToken": token} if token else {}))
            pages += 1
            for raw in page.get("Stacks", []):
                if raw["StackName"] in found and raw["StackStatus"] != "DELETE_COMPLETE":
                    found[raw["StackName"]] = raw
            token = page.get("NextToken")
            if not token:
                self._pages = pages
                return found

    def _each(self, names: set[str]) -> dict[str, dict[str, Any] | None]:
        found: dict[str, dict[str, Any] | None] = {}
        for name in sorted(names):
            try:
                stacks = self.client.describe_stacks(StackName=name)["Stacks"]
            except ClientError as exc:
                error = exc.response.get("Error", {})
                if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
                    found[name] = None
                    continue
                raise
            live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
            found[name] = live[0] if live else None
        return found
