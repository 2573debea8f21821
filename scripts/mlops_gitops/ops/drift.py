"""Drift: does what runs in AWS still match what our stacks deployed?

Two sources, because neither alone is enough:

* CloudFormation drift detection compares each resource with the properties its template wrote.
  It is blind to resource types it does not support (they are simply missing from its results),
  so every resource without a verdict is reported as "not checked" rather than passed over.
* Live SageMaker and EventBridge state the templates do not pin: the endpoint config an endpoint
  actually serves (``update_endpoint`` swaps it without CloudFormation noticing), whether it is
  InService, whether a monitoring schedule was stopped, whether a rule was disabled.

A check that cannot run (access denied, a stand-in without the API) becomes a "not checked"
item with its reason: the report never crashes and never stays silent about a gap. Sleep and
clock are injected, as in CloudFormationGateway, so tests drive the polling without waiting.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_gitops.aws.cloudformation import CloudFormationGateway, ProgressTicker, StackSnapshot
from mlops_gitops.aws.errors import AWS_ERRORS
from mlops_gitops.aws.errors import reason as _why
from mlops_gitops.aws.events import EventsGateway
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.aws.stack_states import IN_PROGRESS, NEVER_CREATED
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.core.plan import plan_stage
from mlops_gitops.errors import AwsError
from mlops_gitops.ops.deploy import deployed
from mlops_gitops.ops.status import last_drift
from mlops_gitops.report.drift import shorten

KINDS = ("modified", "deleted", "live-drift", "not-checked", "in-sync")
DRIFT_KINDS = frozenset({"modified", "deleted", "live-drift"})
STACK_TYPE = "AWS::CloudFormation::Stack"
DONE = ("DETECTION_COMPLETE", "DETECTION_FAILED")
UNCHECKED = ("NOT_CHECKED", "UNKNOWN", "UNSUPPORTED")
LAST_KNOWN = "last-known"  # detection: not run (--no-detect); the listing's DriftInformation says
# Issue 17: DetectStackDrift has no bulk form. Starts run this many at a time (the CLI's; the
# adaptive client paces them to CloudFormation's rate, aws.clients), and each poll interval reads
# at most POLL_BUDGET detection statuses, oldest first, so calls per interval stay bounded
# whatever the number of stacks.
START_WORKERS = 8
POLL_BUDGET = 50


class DriftUnavailable(AwsError):
    """CloudFormation refused drift detection on every stack: the report would check nothing."""


@dataclass(frozen=True)
class PropertyDifference:
    path: str
    expected: str
    actual: str
    difference_type: str  # ADD | REMOVE | NOT_EQUAL

    def describe(self, limit: int | None = None) -> str:
        return (
            f"{self.path}: expected {shorten(self.expected, limit)}, "
            f"actual {shorten(self.actual, limit)} ({self.difference_type})"
        )


@dataclass(frozen=True)
class DriftItem:
    """One finding. ``logical_id`` is "" for a finding about the whole stack."""

    stack: str
    stage: str
    pipeline_id: str
    logical_id: str
    resource_type: str
    kind: str  # one of KINDS
    detail: str
    differences: tuple[PropertyDifference, ...] = ()


@dataclass
class StackDrift:
    stack: str
    stage: str
    pipeline_id: str
    stack_status: str
    detection: str  # DETECTION_COMPLETE | DETECTION_FAILED | not-run | timed-out | error | last-known
    items: list[DriftItem] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return any(i.kind in DRIFT_KINDS for i in self.items)

    @property
    def state(self) -> str:
        """drifted | not-checked (detection never gave results) | in-sync (no drift found)."""
        if self.drifted:
            return "drifted"
        return "in-sync" if self.detection in (*DONE, LAST_KNOWN) else "not-checked"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "stage": self.stage,
            "pipeline_id": self.pipeline_id,
            "stack_status": self.stack_status,
            "detection": self.detection,
            "state": self.state,
            "items": [asdict(i) for i in self.items],
        }


@dataclass
class _Detection:
    """Where one stack's drift detection stands."""

    detection_id: str | None = None
    status: str = "not-run"
    reason: str = ""
    stack_drift: str = ""  # what the finished detection (or, last-known, the listing) says


@dataclass(frozen=True)
class _Resource:
    logical_id: str
    resource_type: str
    physical_id: str
    drift: str = ""  # the last detection's verdict, as ListStackResources lists it


def _verdict_record(res: _Resource) -> dict[str, Any]:
    """A drift record made of a listed verdict (no properties: the stack is in sync)."""
    return {
        "LogicalResourceId": res.logical_id,
        "ResourceType": res.resource_type,
        "PhysicalResourceId": res.physical_id,
        "StackResourceDriftStatus": res.drift,
        "Listed": True,
    }


def _last_known(snap: StackSnapshot) -> _Detection:
    """--no-detect: what the listing's DriftInformation says of the stack."""
    if snap.drift_status in ("DRIFTED", "IN_SYNC"):
        return _Detection(status=LAST_KNOWN, stack_drift=snap.drift_status)
    return _Detection(
        reason=_not_detectable(snap.status) or f"not detected (--no-detect); last known: {last_drift(snap)}"
    )


def our_stacks(snaps: dict[str, StackSnapshot], stage: str, stack_prefix: str) -> list[StackSnapshot]:
    """Every stack of ours in the stage, by name. plan_stage without specs returns each of them
    as a would-be delete: that way drift uses the one ownership test plan and status use (tag
    mlops:managed-by, tag mlops:stage, name <stack_prefix>-...), not a copy that could drift."""
    items = plan_stage(stage, [], {n: deployed(s) for n, s in snaps.items()}, stack_prefix)
    return [snaps[name] for name in sorted(i.stack_name for i in items)]  # not plan's delete order


@dataclass
class DriftDetector:
    cfn: CloudFormationGateway
    sagemaker: SageMakerGateway
    events: EventsGateway
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    poll_seconds: float = 5.0
    timeout_seconds: float = 900.0
    detect: bool = True  # False: each stack's last known drift, from the listing (--no-detect)
    start_workers: int = 1  # detections started at once (check_stage: START_WORKERS)
    poll_budget: int = POLL_BUDGET

    def check_stage(self, stage: str, stack_prefix: str) -> list[StackDrift]:
        """The drift report of every stack of ours in the stage. Listing the stacks failing
        raises (the caller's exit 3); every later failure is reported per stack or resource."""
        stacks = our_stacks(self.cfn.snapshots(), stage, stack_prefix)
        if not self.detect:
            return [self._report(snap, stage, _last_known(snap)) for snap in stacks]
        detections = self._start(stacks)
        self._wait(detections)
        return [self._report(snap, stage, detections[snap.name]) for snap in stacks]

    # ------------------------------------------------------------------ CloudFormation detection

    def _start(self, stacks: list[StackSnapshot]) -> dict[str, _Detection]:
        """Start detection on every stack before waiting on any: CloudFormation runs them side
        by side, so a stage takes as long as its slowest stack, not the sum of all."""
        out: dict[str, _Detection] = {}
        for snap in stacks:  # in the stacks' order: the order they are polled in
            out[snap.name] = _Detection(reason=_not_detectable(snap.status))
        todo = [snap.name for snap in stacks if not out[snap.name].reason]

        def start(name: str) -> Exception | None:
            try:
                out[name].detection_id = self.cfn.start_drift_detection(name)
            except AWS_ERRORS as exc:
                out[name].status, out[name].reason = "error", f"detect_stack_drift failed: {_why(exc)}"
                return exc
            out[name].status = "DETECTION_IN_PROGRESS"
            return None

        if self.start_workers > 1 and len(todo) > 1:
            with ThreadPoolExecutor(self.start_workers) as pool:
                started = list(pool.map(start, todo))
        else:
            started = [start(name) for name in todo]
        errors = [exc for exc in started if exc is not None]
        if errors and all(d.status == "error" for d in out.values() if d.status != "not-run"):
            raise DriftUnavailable(
                f"drift detection could not start on any stack ({len(errors)} tried): {_why(errors[0])}"
            )
        return out

    def _wait(self, detections: dict[str, _Detection]) -> None:
        """Poll the running detections until none is in progress or the time is up: each
        interval at most ``poll_budget`` status reads, the longest unread first. The timeout
        counts from when the budget has read every detection once (a stage of more stacks than
        the budget takes that many intervals to read), so no stack times out unread."""
        ticker = ProgressTicker(self.clock)
        queue = deque(d for d in detections.values() if d.status == "DETECTION_IN_PROGRESS")
        passes = -(-len(queue) // self.poll_budget)  # intervals one read of each takes
        deadline = self.clock() + self.timeout_seconds + max(passes - 1, 0) * self.poll_seconds
        while True:
            for _ in range(min(self.poll_budget, len(queue))):
                det = queue.popleft()
                self._poll(det)
                if det.status == "DETECTION_IN_PROGRESS":
                    queue.append(det)
            if not any(d.status == "DETECTION_IN_PROGRESS" for d in detections.values()):
                return
            if self.clock() >= deadline:
                for det in detections.values():
                    if det.status == "DETECTION_IN_PROGRESS":
                        det.status = "timed-out"
                        det.reason = f"drift detection still running after {self.timeout_seconds:.0f} s"
                return
            running = sum(1 for d in detections.values() if d.status == "DETECTION_IN_PROGRESS")
            ticker.tick(f"drift detection of {running} stack{'s' * (running != 1)}", "DETECTION_IN_PROGRESS")
            self.sleep(self.poll_seconds)

    def _poll(self, det: _Detection) -> None:
        try:
            result = self.cfn.drift_detection(det.detection_id)
            det.status, det.reason, det.stack_drift = result.status, result.reason, result.stack_drift
        except AWS_ERRORS as exc:
            det.status, det.reason = "error", f"describe_stack_drift_detection_status failed: {_why(exc)}"
            return

    def _resource_drifts(self, stack: str) -> dict[str, dict[str, Any]]:
        return self.cfn.resource_drifts(stack)

    def _resources(self, stack: str) -> list[_Resource]:
        """Every resource of the stack: the denominator that makes unsupported types visible;
        each with the last detection's verdict (used when the stack is in sync)."""
        return [
            _Resource(r.logical_id, r.resource_type, r.physical_id, r.drift)
            for r in self.cfn.resource_verdicts(stack)
        ]

    # ------------------------------------------------------------------ one stack's report

    def _report(self, snap: StackSnapshot, stage: str, det: _Detection) -> StackDrift:
        report = StackDrift(
            snap.name, stage, snap.tags.get("mlops:pipeline-id", "?"), snap.status, det.status
        )

        def item(logical_id: str, resource_type: str, kind: str, detail: str, diffs=()) -> None:
            report.items.append(
                DriftItem(
                    snap.name,
                    stage,
                    report.pipeline_id,
                    logical_id,
                    resource_type,
                    kind,
                    detail,
                    tuple(diffs),
                )
            )

        if _not_detectable(snap.status):  # resources in flux or absent: nothing to compare yet
            item("", STACK_TYPE, "not-checked", det.reason)
            return report
        if not self.detect and det.stack_drift != "DRIFTED":  # the listing said it all: no call
            if det.status == LAST_KNOWN:
                item("", STACK_TYPE, "in-sync", f"{last_drift(snap)}; not detected again (--no-detect)")
            else:
                item("", STACK_TYPE, "not-checked", det.reason)
            return report
        drifts: dict[str, dict[str, Any]] | None = None
        resources: list[_Resource] | None = None
        if det.status == "DETECTION_COMPLETE" and det.stack_drift == "IN_SYNC":
            # nothing drifted: each resource's verdict is in the listing of its resources
            resources = self._listed_resources(snap.name, item)
            drifts = {r.logical_id: _verdict_record(r) for r in resources if r.drift}
        elif det.status in (*DONE, LAST_KNOWN):
            try:
                drifts = self._resource_drifts(snap.name)
            except AWS_ERRORS as exc:
                report.detection = "error"
                det.reason = f"describe_stack_resource_drifts failed: {_why(exc)}"
        if drifts is None:
            known = f"; last known: {last_drift(snap)}" if snap.drift_status else ""
            item("", STACK_TYPE, "not-checked", det.reason + known)
        if resources is None:
            resources = self._listed_resources(snap.name, item)
        if drifts is not None:
            if det.status == "DETECTION_FAILED":
                checked = sum(1 for r in drifts.values() if r["StackResourceDriftStatus"] not in UNCHECKED)
                item(
                    "",
                    STACK_TYPE,
                    "not-checked",
                    f"drift detection failed: {det.reason or 'no reason given'}; "
                    f"{checked} of {len(resources) or len(drifts)} resources were checked (below)",
                )
            self._cfn_items(resources, drifts, det.status, item)
        self._live_items(snap, resources, drifts or {}, item)
        if report.state == "in-sync":
            unchecked = sum(1 for i in report.items if i.kind == "not-checked" and i.logical_id)
            in_sync = sum(1 for r in (drifts or {}).values() if r["StackResourceDriftStatus"] == "IN_SYNC")
            detail = f"{in_sync} resource{'s' * (in_sync != 1)} in sync"
            item("", STACK_TYPE, "in-sync", detail + (f", {unchecked} not checked" if unchecked else ""))
        return report

    def _listed_resources(self, stack: str, item: Callable[..., None]) -> list[_Resource]:
        try:
            return self._resources(stack)
        except AWS_ERRORS as exc:
            item("", STACK_TYPE, "not-checked", f"list_stack_resources failed: {_why(exc)}")
            return []

    def _cfn_items(
        self,
        resources: list[_Resource],
        drifts: dict[str, dict[str, Any]],
        detection: str,
        item: Callable[..., None],
    ) -> None:
        """MODIFIED and DELETED resources, and every resource without a verdict."""
        listed = {r.logical_id for r in resources}
        extra = [
            _Resource(lid, r["ResourceType"], r.get("PhysicalResourceId", ""))
            for lid, r in sorted(drifts.items())
            if lid not in listed
        ]
        for res in sorted(resources, key=lambda r: r.logical_id) + extra:
            record = drifts.get(res.logical_id)
            status = record["StackResourceDriftStatus"] if record else None
            if status == "MODIFIED":
                diffs = [
                    PropertyDifference(
                        d["PropertyPath"], d["ExpectedValue"], d["ActualValue"], d["DifferenceType"]
                    )
                    for d in record.get("PropertyDifferences", [])
                ]
                detail = "; ".join(d.describe() for d in diffs) or record.get(
                    "DriftStatusReason", "properties differ from the template"
                )
                item(res.logical_id, res.resource_type, "modified", detail, diffs)
            elif status == "DELETED":
                item(res.logical_id, res.resource_type, "deleted", "deleted outside CloudFormation")
            elif status is None:
                why = (
                    "no drift result: drift detection failed before reaching it"
                    if detection == "DETECTION_FAILED"
                    else "no drift result: CloudFormation does not support drift detection for this type"
                )
                item(res.logical_id, res.resource_type, "not-checked", why)
            elif status in UNCHECKED:
                reason = record.get("DriftStatusReason", "")
                detail = f"CloudFormation says {status}" + (f": {reason}" if reason else "")
                item(res.logical_id, res.resource_type, "not-checked", detail)

    # ------------------------------------------------------------------ live state

    def _live_items(
        self,
        snap: StackSnapshot,
        resources: list[_Resource],
        drifts: dict[str, dict[str, Any]],
        item: Callable[..., None],
    ) -> None:
        by_id = {r.logical_id: r for r in resources}
        ptype = snap.tags.get("mlops:pipeline-type", "")
        if ptype.startswith("byom_realtime"):
            self._endpoint(snap, by_id, drifts, item)
        if ptype.startswith("byom_") and ptype.endswith("_monitor"):
            self._schedule(by_id, drifts, item)
        for res in resources:
            if res.resource_type == "AWS::Events::Rule":
                self._rule(res, drifts.get(res.logical_id), item)

    def _endpoint(
        self,
        snap: StackSnapshot,
        by_id: dict[str, _Resource],
        drifts: dict[str, dict[str, Any]],
        item: Callable[..., None],
    ) -> None:
        """The endpoint must serve the stack's own endpoint config, and be InService."""
        kind = "AWS::SageMaker::Endpoint"
        record = drifts.get("Endpoint") or {}
        if record.get("StackResourceDriftStatus") == "DELETED":
            return  # already reported as deleted
        endpoint = _name(by_id.get("Endpoint")) or snap.outputs.get("SageMakerEndpointName", "")
        if not endpoint:
            item("Endpoint", kind, "not-checked", "the stack has no Endpoint resource to look up")
            return
        try:
            raw = self.sagemaker.describe_endpoint(endpoint)
        except Exception as exc:  # noqa: BLE001 - AccessDenied, a stand-in's 500, NotImplemented alike
            item("Endpoint", kind, "not-checked", f"describe_endpoint {endpoint} failed: {_why(exc)}")
            return
        ours = _name(by_id.get("EndpointConfig")) or snap.outputs.get("SageMakerEndpointConfigName", "")
        live = raw.get("EndpointConfigName", "")
        cfn_saw_it = any(
            d.get("PropertyPath") == "/EndpointConfigName" for d in record.get("PropertyDifferences", [])
        )
        if not ours:
            item(
                "Endpoint",
                kind,
                "not-checked",
                "the stack has no EndpointConfig to compare the endpoint's with",
            )
        elif live.lower() != ours.lower() and not cfn_saw_it:  # ARNs lower-case SageMaker names
            item(
                "Endpoint",
                kind,
                "live-drift",
                f"endpoint {endpoint} serves endpoint config {live!r}, not the stack's {ours!r} "
                "(swapped outside CloudFormation)",
            )
        status = raw.get("EndpointStatus", "")
        if status != "InService":
            reason = raw.get("FailureReason", "")
            detail = f"endpoint {endpoint} is {status}, not InService" + (f": {reason}" if reason else "")
            item("Endpoint", kind, "live-drift", detail)

    def _schedule(
        self, by_id: dict[str, _Resource], drifts: dict[str, dict[str, Any]], item: Callable[..., None]
    ) -> None:
        """The template runs the schedule; Stopped means someone (or something) stopped it."""
        kind = "AWS::SageMaker::MonitoringSchedule"
        if (drifts.get("MonitoringSchedule") or {}).get("StackResourceDriftStatus") == "DELETED":
            return
        name = _name(by_id.get("MonitoringSchedule"))
        if not name:
            item(
                "MonitoringSchedule",
                kind,
                "not-checked",
                "the stack has no MonitoringSchedule resource to look up",
            )
            return
        try:
            raw = self.sagemaker.describe_monitoring_schedule(name)
        except Exception as exc:  # noqa: BLE001 - moto answers HTTP 500 for this API
            item(
                "MonitoringSchedule",
                kind,
                "not-checked",
                f"describe_monitoring_schedule {name} failed: {_why(exc)}",
            )
            return
        if raw.get("MonitoringScheduleStatus") == "Stopped":
            item(
                "MonitoringSchedule",
                kind,
                "live-drift",
                f"monitoring schedule {name} is Stopped; the template runs it "
                "(stopped by hand, or its baseline job has not finished)",
            )

    def _rule(self, res: _Resource, record: dict[str, Any] | None, item: Callable[..., None]) -> None:
        """A DISABLED rule is drift unless CloudFormation already said so (MODIFIED: no double
        report) or the template itself asked for DISABLED."""
        status = (record or {}).get("StackResourceDriftStatus")
        if status in ("MODIFIED", "DELETED") or not res.physical_id:
            return
        if status == "IN_SYNC" and (record or {}).get("Listed"):
            return  # the detection that just ended compared its State (every template sets it)
        expected = _json((record or {}).get("ExpectedProperties"))
        if str(expected.get("State", "")).upper() == "DISABLED":
            return
        name, bus = _rule_name(res.physical_id)
        try:
            raw = self.events.describe_rule(name, bus)
        except Exception as exc:  # noqa: BLE001 - AccessDenied, a stand-in's 500, NotImplemented alike
            item(
                res.logical_id, res.resource_type, "not-checked", f"describe_rule {name} failed: {_why(exc)}"
            )
            return
        if raw.get("State") == "DISABLED":
            item(
                res.logical_id,
                res.resource_type,
                "live-drift",
                f"rule {name} is DISABLED; the template enables it",
            )


# ------------------------------------------------------------------ helpers


def _not_detectable(status: str) -> str:
    """Why drift cannot be detected on a stack in this status, or ''."""
    if status in NEVER_CREATED:
        return f"stack is {status}: its first create never finished, so there is nothing to compare"
    if status in IN_PROGRESS:
        return f"stack is {status}: drift is detected once it settles"
    return ""


def _name(res: _Resource | None) -> str:
    """The SageMaker name in a physical id (CloudFormation's Ref of these types is an ARN)."""
    physical = res.physical_id if res else ""
    return physical.rsplit("/", 1)[-1] if physical.startswith("arn:") else physical


def _rule_name(physical: str) -> tuple[str, str | None]:
    """(rule name, event bus or None): a rule on a custom bus has the physical id 'bus|name'."""
    if physical.startswith("arn:"):
        parts = physical.split(":rule/", 1)[-1].split("/")
        return parts[-1], (parts[0] if len(parts) > 1 else None)
    if "|" in physical:
        bus, name = physical.split("|", 1)
        return name, bus
    return physical, None


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------ reports


def check_stage(gateways: StageGateways, stack_prefix: str, detect: bool = True) -> list[StackDrift]:
    """The drift reports of one stage's stacks, read through its gateways."""
    assert gateways.events is not None
    return DriftDetector(
        gateways.cfn,
        gateways.sagemaker,
        gateways.events,
        detect=detect,
        start_workers=START_WORKERS,
    ).check_stage(gateways.stage, stack_prefix)
