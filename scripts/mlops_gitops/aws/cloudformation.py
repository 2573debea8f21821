"""CloudFormation gateway: stacks as StackSnapshot records, the change-set lifecycle, waits that
stream events and end with the first failure's reason. Sleep and clock are injected so tests can
drive every path (rollback states, stacks in progress, FAILED change sets) without waiting."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops_gitops.aws.drift_reads import DetectionResult, ResourceVerdict, detection_result, resource_verdicts
from mlops_gitops.aws.stack_states import IN_PROGRESS, NEVER_CREATED
from mlops_gitops.aws.stack_watch import StackWatcher, throttled

NO_CHANGES = ("The submitted information didn't contain changes", "No updates are to be performed")
# Progress of a wait, at INFO: the CLI prints this logger's lines to stderr as they are.
progress_log = logging.getLogger("mlops_gitops.progress")
PROGRESS_SECONDS = 30.0  # a waiting verb says what it waits for at least this often


def elapsed_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds // 60:.0f} min"


@dataclass
class ProgressTicker:
    """Says what a wait is waiting for, every ``every`` seconds of ``clock`` (time.monotonic, or a
    test's): ``waiting for mlops-x-dev: UPDATE_IN_PROGRESS (2 min)``."""

    clock: Callable[[], float]
    report: Callable[[str], None] = progress_log.info
    every: float = PROGRESS_SECONDS
    started: float = field(default=-1.0)
    last: float = field(default=-1.0)

    def __post_init__(self) -> None:
        self.started = self.last = self.clock()

    def tick(self, what: str, status: str) -> None:
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.report(f"waiting for {what}: {status} ({elapsed_text(now - self.started)})")


class StackError(Exception):
    """A stack operation failed; ``reason`` is the first failed resource's status reason."""

    def __init__(self, stack: str, message: str, reason: str = "") -> None:
        super().__init__(f"{stack}: {message}" + (f": {reason}" if reason else ""))
        self.stack, self.reason = stack, reason


@dataclass(frozen=True)
class StackSnapshot:
    name: str
    stack_id: str
    status: str
    tags: dict[str, str]
    parameters: dict[str, str]
    outputs: dict[str, str]
    termination_protection: bool
    status_reason: str = ""
    # The stack's last known drift, as every DescribeStacks page carries it (no call of its own):
    # StackDriftStatus (DRIFTED | IN_SYNC | UNKNOWN | NOT_CHECKED; "" if absent) and
    # LastCheckTimestamp, when a detection was last *initiated* on it.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackDriftInformation.html
    drift_status: str = ""
    drift_checked: datetime | None = None
    # When the stack's last operation began: LastUpdatedTime, else CreationTime (status compares it
    # with an endpoint's LastModifiedTime). https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    updated: datetime | None = None

    @property
    def spec_hash(self) -> str | None:
        return self.tags.get("mlops:spec-hash")

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> StackSnapshot:
        return cls(
            name=raw["StackName"],
            stack_id=raw.get("StackId", ""),
            status=raw["StackStatus"],
            tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in raw.get("Parameters", [])},
            outputs={o["OutputKey"]: o.get("OutputValue", "") for o in raw.get("Outputs", [])},
            termination_protection=bool(raw.get("EnableTerminationProtection", False)),
            status_reason=raw.get("StackStatusReason", ""),
            drift_status=(raw.get("DriftInformation") or {}).get("StackDriftStatus", ""),
            drift_checked=(raw.get("DriftInformation") or {}).get("LastCheckTimestamp"),
            updated=raw.get("LastUpdatedTime") or raw.get("CreationTime"),
        )


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True | False | Conditional | "" (not a Modify)


@dataclass(frozen=True)
class ChangeSet:
    name: str
    stack: str
    status: str
    reason: str
    changes: tuple[ResourceChange, ...]

    @property
    def empty(self) -> bool:
        return self.status == "FAILED" and self.reason.startswith(NO_CHANGES)


@dataclass(frozen=True)
class Applied:
    """What one change set did: created, updated or unchanged (CloudFormation found nothing)."""

    result: str
    changes: tuple[ResourceChange, ...] = ()
    snapshot: StackSnapshot | None = None

    @property
    def replaced(self) -> list[str]:
        return [c.logical_id for c in self.changes if c.replacement in ("True", "Conditional")]


@dataclass(frozen=True)
class StackEvent:
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str


@dataclass
class CloudFormationGateway:
    client: Any
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_seconds: float = 5.0
    timeout_seconds: float = 3600.0
    # The whole command's deadline, on ``clock`` (None: each wait has only its own timeout): a
    # verb's waits together never outlast it (issue 14: no hang).
    deadline: float | None = None
    progress: Callable[[str], None] = progress_log.info  # where waits say what they wait for
    _seen_events: dict[str, set[str]] = field(default_factory=dict)
    watcher: StackWatcher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # one per gateway, so one per stage's deploy: every thread's waits share its rounds
        self.watcher = StackWatcher(self.client, self.sleep, self.clock, self.poll_seconds)

    # ------------------------------------------------------------------ reading

    def snapshots(self) -> dict[str, StackSnapshot]:
        """Every live stack of the account and region, in as few calls as the API allows: one
        DescribeStacks per page (the API reference bounds a page by size, 1 MB, not by a count;
        about 100 stacks a page is what AWS answers), each stack with its Outputs, Tags,
        Parameters and DriftInformation. This is what makes a no-op deploy, status and drift's
        listing O(pages) in AWS calls, not O(stacks).
        https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html"""
        out: dict[str, StackSnapshot] = {}
        token = None
        while True:
            page = self._patient(
                lambda token=token: self.client.describe_stacks(**({"NextToken": token} if token else {}))
            )
            for raw in page.get("Stacks", []):
                if raw["StackStatus"] != "DELETE_COMPLETE":
                    out[raw["StackName"]] = StackSnapshot.from_api(raw)
            token = page.get("NextToken")
            if not token:
                return out

    def current(self, name: str) -> StackSnapshot | None:
        """The stack as the watcher's next round sees it: during a deploy, the reads of every
        thread share that round (no call per stack when many are in flight)."""
        deadline, why = self._deadline()
        with self.watcher.watching(name) as need:
            while True:
                sight = self.watcher.sight(name, need)
                if sight.fresh:
                    return StackSnapshot.from_api(sight.raw) if sight.raw is not None else None
                if self.clock() > deadline:
                    raise StackError(name, f"CloudFormation throttled every description of the stack {why}")
                need = sight.number + 1

    def snapshot(self, name: str) -> StackSnapshot | None:
        try:
            stacks = self._patient(lambda: self.client.describe_stacks(StackName=name))["Stacks"]
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
        return StackSnapshot.from_api(live[0]) if live else None

    def events(self, name: str) -> list[StackEvent]:
        """New events of the stack since the last call, oldest first. Read only when the stack's
        status changed, so more pages than the newest (events come newest first) are read while
        a page holds nothing seen yet: a long operation's events are not lost."""
        seen = self._seen_events.setdefault(name, set())
        raw: list[dict[str, Any]] = []
        token = None
        try:
            while True:
                page = self._patient(
                    lambda token=token: self.client.describe_stack_events(
                        StackName=name, **({"NextToken": token} if token else {})
                    )
                )
                raw += page.get("StackEvents", [])
                token = page.get("NextToken")
                if not token or not seen or any(e.get("EventId") in seen for e in raw):
                    break
        except ClientError as exc:
            if _is_missing(exc):
                return []
            raise
        fresh = [e for e in raw if e.get("EventId") not in seen]
        seen.update(e.get("EventId") for e in fresh)
        return [
            StackEvent(
                e["Timestamp"],
                e.get("LogicalResourceId", ""),
                e.get("ResourceType", ""),
                e.get("ResourceStatus", ""),
                e.get("ResourceStatusReason", ""),
            )
            for e in reversed(fresh)
        ]

    def _events_page(self, name: str) -> list[dict[str, Any]]:
        return self._patient(lambda: self.client.describe_stack_events(StackName=name)).get("StackEvents", [])

    def _patient(self, read: Callable[[], Any]) -> Any:
        """A read, asked again each poll interval while CloudFormation throttles it even after the
        client's own retries (adaptive mode, aws.clients), until the wait's deadline: a busy API
        slows a deploy down, it fails no stack. Reads only: they are safe to repeat."""
        deadline, _ = self._deadline()
        while True:
            try:
                return read()
            except ClientError as exc:
                if not throttled(exc) or self.clock() > deadline:
                    raise
            self.sleep(self.poll_seconds)

    def mark(self, name: str) -> datetime | None:
        """Before an operation: take the stack's existing events as seen (they are history, not
        news) and return the newest one's time, so failures are read from this operation only."""
        try:
            raw = self._events_page(name)
        except ClientError:
            return None
        self._seen_events.setdefault(name, set()).update(e.get("EventId") for e in raw)
        return max((e["Timestamp"] for e in raw), default=None)

    def first_failure(self, name: str, since: datetime | None = None) -> str:
        """The reason of the first FAILED resource event (what a person needs), or ''."""
        try:
            raw = self._events_page(name)
        except ClientError:
            return ""
        failed = [
            e for e in reversed(raw)
            if e.get("ResourceStatus", "").endswith("_FAILED") and (since is None or e["Timestamp"] > since)
        ]  # fmt: skip
        for event in failed:
            reason = event.get("ResourceStatusReason", "")
            if reason and "Resource creation cancelled" not in reason and "resource(s) failed" not in reason:
                return f"{event.get('LogicalResourceId', '')} ({event.get('ResourceType', '')}): {reason}"
        return failed[0].get("ResourceStatusReason", "") if failed else ""

    def physical_id(self, stack: str, logical_id: str) -> str | None:
        """The physical id of one resource of the stack, or None (list, not describe: moto's
        describe_stack_resource answers HTTP 500 for some stacks)."""
        kwargs = {"StackName": stack}
        while True:
            try:
                page = self.client.list_stack_resources(**kwargs)
            except ClientError:
                return None
            for item in page.get("StackResourceSummaries", []):
                if item.get("LogicalResourceId") == logical_id:
                    return item.get("PhysicalResourceId") or None
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]

    # ------------------------------------------------------------------ change sets

    def create_change_set(
        self,
        stack: str,
        name: str,
        change_set_type: str,
        template: dict[str, str],
        parameters: dict[str, str],
        tags: dict[str, str],
        role_arn: str | None = None,
    ) -> None:
        self.client.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType=change_set_type,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            **({"RoleARN": role_arn} if role_arn else {}),
            **template,  # TemplateBody or TemplateURL
        )

    def _deadline(self) -> tuple[float, str]:
        """(when this wait gives up, how to say why)."""
        own = self.clock() + self.timeout_seconds
        if self.deadline is not None and self.deadline < own:
            return self.deadline, "when the command's time ran out (--timeout)"
        return own, f"after {self.timeout_seconds:.0f} s"

    def wait_change_set(self, stack: str, name: str) -> ChangeSet:
        deadline, why = self._deadline()
        ticker = ProgressTicker(self.clock, self.progress)
        while True:
            raw = self._patient(lambda: self.client.describe_change_set(StackName=stack, ChangeSetName=name))
            if raw["Status"] in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE"):
                changes = list(raw.get("Changes", []))
                token = raw.get("NextToken")
                while token:
                    more = self._patient(
                        lambda token=token: self.client.describe_change_set(
                            StackName=stack, ChangeSetName=name, NextToken=token
                        )
                    )
                    changes += more.get("Changes", [])
                    token = more.get("NextToken")
                return ChangeSet(
                    name, stack, raw["Status"], raw.get("StatusReason", ""), tuple(_changes(changes))
                )
            if self.clock() > deadline:
                raise StackError(stack, f"change set {name} still {raw['Status']} {why}")
            ticker.tick(f"{stack} (change set {name})", raw["Status"])
            self.sleep(self.poll_seconds)

    def delete_change_set(self, stack: str, name: str) -> None:
        try:
            self.client.delete_change_set(StackName=stack, ChangeSetName=name)
        except ClientError:
            pass  # best effort: an empty change set left behind is harmless

    def execute_change_set(self, stack: str, name: str) -> None:
        self.client.execute_change_set(StackName=stack, ChangeSetName=name)

    def apply(
        self,
        stack: str,
        name: str,
        creating: bool,
        template: dict[str, str],
        parameters: dict[str, str],
        tags: dict[str, str],
        on_event: Callable[[StackEvent], None] | None = None,
        role_arn: str | None = None,
        watch: Callable[[tuple[ResourceChange, ...]], Callable[[StackSnapshot], None] | None] | None = None,
    ) -> Applied:
        """One change set, start to end: create, read, execute (unless CloudFormation found
        nothing to change), wait. Failures raise StackError with the first failed resource's
        reason; a failed first create leaves no empty shell behind. ``watch``, given the change
        set's changes, may return a callback that sees the stack on each round of the wait (deploy
        follows an endpoint's traffic shift with it: ops.rollout)."""
        try:
            self.create_change_set(
                stack, name, "CREATE" if creating else "UPDATE", template, parameters, tags, role_arn
            )
        except ClientError as exc:
            # AWS makes a FAILED change set of an update without changes; the local AWS (moto)
            # refuses the call instead, with UpdateStack's "No updates are to be performed."
            if creating or not exc.response.get("Error", {}).get("Message", "").startswith(NO_CHANGES):
                raise
            return Applied("unchanged")
        cs = self.wait_change_set(stack, name)
        if cs.empty:
            self.delete_change_set(stack, name)
            return Applied("unchanged")
        if cs.status != "CREATE_COMPLETE":
            self.delete_change_set(stack, name)
            if creating:
                self.delete_stack(stack)  # the REVIEW_IN_PROGRESS shell holds nothing
            raise StackError(stack, "the change set failed", cs.reason)
        since = self.mark(stack)
        self.execute_change_set(stack, name)
        snap = self.wait_stable(stack, on_event, watch(cs.changes) if watch is not None else None)
        ok = "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE"
        if snap is None or snap.status != ok:
            status = snap.status if snap else "DELETE_COMPLETE"
            raise StackError(stack, f"ended {status}", self.first_failure(stack, since))
        return Applied("created" if creating else "updated", cs.changes, snap)

    def settle(
        self, name: str, snap: StackSnapshot | None, on_event: Callable[[StackEvent], None] | None = None
    ) -> StackSnapshot | None:
        """The stack once no operation runs on it: one in progress is waited for (REVIEW_IN_PROGRESS
        rests until a change set runs, so it is not)."""
        if snap is not None and snap.status in IN_PROGRESS and snap.status != "REVIEW_IN_PROGRESS":
            return self.wait_stable(name, on_event)
        return snap

    def recover(
        self, name: str, snap: StackSnapshot | None, on_event: Callable[[StackEvent], None] | None = None
    ) -> StackSnapshot | None:
        """Bring a stack stuck by an earlier run to where a change set can start: a stack that
        never finished its first create (or failed to delete) is deleted - None is returned, the
        caller creates it anew - and UPDATE_ROLLBACK_FAILED is continued."""
        if snap is not None and (snap.status in NEVER_CREATED or snap.status == "DELETE_FAILED"):
            since = self.mark(name)
            self.delete_stack(name)
            after = self.wait_stable(name, on_event)
            if after is not None and after.status != "DELETE_COMPLETE":
                raise StackError(
                    name,
                    f"could not delete the stuck stack ({after.status})",
                    self.first_failure(name, since),
                )
            return None
        if snap is not None and snap.status == "UPDATE_ROLLBACK_FAILED":
            since = self.mark(name)
            self.continue_update_rollback(name)
            after = self.wait_stable(name, on_event)
            if after is None or after.status != "UPDATE_ROLLBACK_COMPLETE":
                raise StackError(
                    name,
                    f"continuing the rollback ended {after.status if after else 'DELETE_COMPLETE'}",
                    (self.first_failure(name, since) or "")
                    + " (resources that can't roll back can be skipped: aws cloudformation continue-update-rollback --resources-to-skip ...)",
                )
            return after
        return snap

    # ------------------------------------------------------------------ stack operations

    # ------------------------------------------------------------------ drift detection

    def start_drift_detection(self, stack: str) -> str:
        """Start CloudFormation drift detection on a stack; its detection id."""
        return self.client.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]

    def drift_detection(self, detection_id: str) -> DetectionResult:
        """Where a running or finished detection stands, and what it found (aws.drift_reads)."""
        return detection_result(self.client, detection_id)

    def resource_verdicts(self, stack: str) -> list[ResourceVerdict]:
        """Every resource of the stack with the last detection's verdict on it (aws.drift_reads)."""
        return resource_verdicts(self.client, stack)

    def resource_drifts(self, stack: str) -> dict[str, dict[str, Any]]:
        """Every drift record of the stack's last detection by logical id, unfiltered: IN_SYNC and
        NOT_CHECKED records are needed too (what was checked; a rule's expected State)."""
        out: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"StackName": stack}
        while True:
            page = self.client.describe_stack_resource_drifts(**kwargs)
            for record in page.get("StackResourceDrifts", []):
                out[record["LogicalResourceId"]] = record
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    def resources(self, stack: str) -> list[tuple[str, str, str]]:
        """(logical id, resource type, physical id) of every resource of the stack."""
        out: list[tuple[str, str, str]] = []
        kwargs: dict[str, Any] = {"StackName": stack}
        while True:
            page = self.client.list_stack_resources(**kwargs)
            out += [
                (r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId", ""))
                for r in page.get("StackResourceSummaries", [])
            ]
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    # ------------------------------------------------------------------ adoption (ops.adopt)

    def template_body(self, stack: str) -> Any:
        """The stack's template as submitted (a dict for JSON, text for YAML)."""
        return self.client.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]

    def run_change_set(self, stack: str, name: str, done: str, **request: Any) -> StackSnapshot:
        """Create a change set of any type (``request``: CreateChangeSet's own arguments), wait
        for it, execute it and wait until the stack is ``done``; StackError otherwise, with the
        first failed resource's reason. A failed change set is deleted, never executed."""
        self.client.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            **request,
        )
        cs = self.wait_change_set(stack, name)
        if cs.status != "CREATE_COMPLETE":
            self.delete_change_set(stack, name)
            raise StackError(stack, "the change set failed", cs.reason)
        since = self.mark(stack)
        self.execute_change_set(stack, name)
        snap = self.wait_stable(stack)
        if snap is None or snap.status != done:
            status = snap.status if snap else "DELETE_COMPLETE"
            raise StackError(stack, f"ended {status}", self.first_failure(stack, since))
        return snap

    def delete_and_wait(self, stack: str) -> None:
        since = self.mark(stack)
        self.delete_stack(stack)
        after = self.wait_stable(stack)
        if after is not None and after.status != "DELETE_COMPLETE":
            raise StackError(stack, f"delete ended {after.status}", self.first_failure(stack, since))

    def delete_stack(self, name: str) -> None:
        self.client.delete_stack(StackName=name)

    def continue_update_rollback(self, name: str) -> None:
        self.client.continue_update_rollback(StackName=name)

    def set_termination_protection(self, name: str, enabled: bool) -> None:
        self.client.update_termination_protection(StackName=name, EnableTerminationProtection=enabled)

    def wait_stable(
        self,
        name: str,
        on_event: Callable[[StackEvent], None] | None = None,
        on_round: Callable[[StackSnapshot], None] | None = None,
    ) -> StackSnapshot | None:
        """Poll until the stack leaves every *_IN_PROGRESS state (or is gone), through the shared
        watcher (one round of DescribeStacks per interval for every stack waited on); read its
        events when its status or LastUpdatedTime changed, and say what it waits for at least
        every PROGRESS_SECONDS. ``on_round`` sees the stack on every fresh round while it is in
        progress."""
        deadline, why = self._deadline()
        ticker = ProgressTicker(self.clock, self.progress)
        marker: Any = None  # events are read when the status changes (the first sight sets it)
        status = "in progress"
        with self.watcher.watching(name) as need:
            while True:
                sight = self.watcher.sight(name, need)
                need = sight.number + 1
                if sight.fresh:
                    snap = StackSnapshot.from_api(sight.raw) if sight.raw is not None else None
                    # REVIEW_IN_PROGRESS rests until a change set runs: nothing to wait for
                    done = (
                        snap is None or snap.status not in IN_PROGRESS or snap.status == "REVIEW_IN_PROGRESS"
                    )
                    if on_event is not None and (done or (marker is not None and sight.marker != marker)):
                        for event in self.events(name):
                            on_event(event)
                    marker = sight.marker
                    if done:
                        return snap
                    status = snap.status
                    if on_round is not None:
                        on_round(snap)
                if self.clock() > deadline:
                    raise StackError(
                        name,
                        f"still {status} {why}; the next run will wait for it again",
                    )
                ticker.tick(name, status)


def _changes(raw: list[dict[str, Any]]) -> Iterator[ResourceChange]:
    for item in raw:
        rc = item.get("ResourceChange") or {}
        yield ResourceChange(
            rc.get("Action", ""),
            rc.get("LogicalResourceId", ""),
            rc.get("ResourceType", ""),
            rc.get("Replacement", ""),
        )


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", "")
