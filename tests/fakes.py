"""A scripted fake of the CloudFormation client for what moto does not model: rollback states,
stacks in progress, FAILED change sets, slow stacks. Only the calls the gateway makes exist, with
AWS's response shapes; each test scripts the states it needs."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

PAGE_SIZE = 100  # stacks per DescribeStacks page (what CloudFormationGateway.snapshots assumes)
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


class Clock:
    """A test's clock: ``clock()`` reads it, ``clock.sleep(s)`` moves it on at once (no real waiting)."""

    def __init__(self) -> None:
        self.now, self._lock = 0.0, threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def client_error(code: str, message: str, op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


@dataclass
class FakeStack:
    name: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    protected: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    # statuses the stack goes through on its next describe calls (e.g. in progress, then done)
    upcoming: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    template: Any = None  # as GetTemplate returns it: a dict (JSON) or text
    resources: list[tuple[str, str, str]] = field(default_factory=list)  # logical, type, physical
    # DriftInformation as DescribeStacks lists it, and what the next drift detection finds:
    # {logical id: MODIFIED | DELETED | IN_SYNC | NOT_CHECKED} (a resource absent: not supported)
    drift: str = "NOT_CHECKED"
    drift_checked: datetime | None = None
    drift_found: dict[str, str] = field(default_factory=dict)
    updated: datetime | None = None  # LastUpdatedTime (absent: never updated)

    def describe(self) -> dict[str, Any]:
        if self.upcoming:
            self.status = self.upcoming.pop(0)
        return {
            "StackName": self.name,
            "StackId": f"arn:aws:cloudformation:us-east-1:111122223333:stack/{self.name}/1",
            "StackStatus": self.status,
            "CreationTime": datetime(2026, 1, 1, tzinfo=timezone.utc),
            "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()],
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "EnableTerminationProtection": self.protected,
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
            "DriftInformation": {"StackDriftStatus": self.drift}
            | ({"LastCheckTimestamp": self.drift_checked} if self.drift_checked else {}),
        } | ({"LastUpdatedTime": self.updated} if self.updated else {})

    def deletion_policy(self, logical_id: str) -> str:
        body = self.template if isinstance(self.template, dict) else {}
        return (body.get("Resources", {}).get(logical_id) or {}).get("DeletionPolicy", "Delete")


# SageMaker's refusal, paraphrased (the exact wording is not documented): "If the update would
# change the instance type for any model that is a target for auto scaling, the update fails."
# https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html
AUTOSCALED_UPDATE_REFUSED = "The variant AllTraffic is registered as a scalable target; deregister it before changing its instance type"


def _autoscaled_type_change(before: dict[str, str], after: dict[str, str]) -> bool:
    """The fake's own model of the rule for realtime_inference.yaml's first variant: the deployed
    stack registers its scalable targets (AutoscalingMaxCapacity not 0, AutoscalingRegistration not
    "deregistered", as its Conditions say) and the executed change set changes InstanceType."""
    registered = before.get("AutoscalingMaxCapacity", "0") != "0" and (
        before.get("AutoscalingRegistration", "registered") == "registered"
    )
    return registered and "InstanceType" in after and after["InstanceType"] != before.get("InstanceType")


class FakeCloudFormation:
    """The CloudFormation calls of CloudFormationGateway, against scripted stacks.

    ``execute_outcome[stack]`` decides how an executed change set ends: "ok" (default),
    ("fail", reason[, logical id, resource type]) -> rolled back with a failed resource event
    (of the endpoint unless named), ("rounds", n) -> in progress for its next n descriptions, or
    ("slow", seconds) -> in progress for that long (real time, for the parallelism benchmark).
    ``reads_per_second`` (on ``clock``) makes reads beyond it answer Throttling."""

    def __init__(self, reads_per_second: int | None = None, clock: Any = time.monotonic) -> None:
        self.reads_per_second, self.clock, self.throttled = reads_per_second, clock, 0
        self.reads = 0  # read calls, throttled ones included
        self.call_times: list[tuple[float, str]] = []  # (the fake's clock, call), for calls per interval
        self._second, self._in_second = -1, 0
        self.stacks: dict[str, FakeStack] = {}
        self.change_sets: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[str] = []
        self.change_set_outcome: dict[str, tuple[str, str]] = {}  # stack -> (Status, StatusReason)
        self.execute_outcome: dict[str, Any] = {}
        # stack -> the (action, logical id, resource type) its next change sets list (default: the
        # Model modified on update, added on create)
        self.change_set_changes: dict[str, list[tuple[str, str, str]]] = {}
        self.delete_fails: set[str] = set()  # stacks whose delete ends DELETE_FAILED
        self.history: list[dict[str, Any]] = []  # every change set created: stack, parameters
        self.executed: list[str] = []  # stack names, in the order their change sets were executed
        self.deleted: list[str] = []  # stack names, in the order they were deleted
        # called with (resource type, physical id) for each resource a stack delete deletes (not
        # retained), and with the operation name before every call (a fake SageMaker records state)
        self.on_resource_deleted: list[Any] = []
        self.observers: list[Any] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # drift detection: id -> [stack, status reads left IN_PROGRESS]; each detection stays in
        # progress for ``detection_rounds`` reads of its status, then completes
        self.detections: dict[str, list[Any]] = {}
        self.detection_rounds = 0

    def _call(self, name: str, read: bool = False) -> None:
        with self._lock:
            self.calls.append(name)
            self.call_times.append((self.clock(), name))
            self.reads += read
            if read and self.reads_per_second is not None:
                # CloudFormation's API rate limit, on the fake's clock: reads beyond the limit within
                # one second answer Throttling ("Rate exceeded"), as AWS does. Only reads: a real
                # client retries any throttled call itself (botocore adaptive mode, aws.clients;
                # tests/aws/test_deploy.py), which this fake, called directly, does not model.
                second = int(self.clock())
                if second != self._second:
                    self._second, self._in_second = second, 0
                self._in_second += 1
                if self._in_second > self.reads_per_second:
                    self.throttled += 1
                    raise client_error("Throttling", "Rate exceeded", name)
        for observe in self.observers:
            observe(name)

    def add(self, stack: FakeStack) -> FakeStack:
        self.stacks[stack.name] = stack
        return stack

    def _stack(self, name: str, op: str) -> FakeStack:
        if name not in self.stacks:
            raise client_error("ValidationError", f"Stack with id {name} does not exist", op)
        return self.stacks[name]

    # -- reading
    def describe_stacks(self, StackName: str | None = None, NextToken: str | None = None) -> dict[str, Any]:
        self._call("describe_stacks", read=True)
        if StackName is None:  # in pages of PAGE_SIZE, as CloudFormation lists them
            start = int(NextToken or 0)
            stacks = list(self.stacks.values())
            page = {"Stacks": [s.describe() for s in stacks[start : start + PAGE_SIZE]]}
            if start + PAGE_SIZE < len(stacks):
                page["NextToken"] = str(start + PAGE_SIZE)
            return page
        return {"Stacks": [self._stack(StackName, "DescribeStacks").describe()]}

    def describe_stack_events(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        self._call("describe_stack_events", read=True)  # newest first, in pages of PAGE_SIZE
        newest_first = list(reversed(self._stack(StackName, "DescribeStackEvents").events))
        start = int(NextToken or 0)
        page: dict[str, Any] = {"StackEvents": newest_first[start : start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(newest_first):
            page["NextToken"] = str(start + PAGE_SIZE)
        return page

    def list_stack_resources(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        self._call("list_stack_resources", read=True)
        stack = self.stacks.get(StackName)
        return {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": lid,
                    "ResourceType": rtype,
                    "PhysicalResourceId": pid,
                    # each resource's verdict of the last detection (StackResourceDriftInformationSummary)
                    "DriftInformation": {
                        "StackResourceDriftStatus": stack.drift_found.get(lid, "NOT_CHECKED")
                        if stack.drift_checked
                        else "NOT_CHECKED"
                    },
                }
                for lid, rtype, pid in (stack.resources if stack else [])
            ]
        }

    # -- drift detection (what moto does not implement)
    def detect_stack_drift(self, StackName: str) -> dict[str, Any]:
        self._call("detect_stack_drift")
        stack = self._stack(StackName, "DetectStackDrift")
        stack.drift_checked = datetime.now(timezone.utc)  # LastCheckTimestamp: when one was initiated
        detection = f"det-{next(self._ids)}"
        with self._lock:
            self.detections[detection] = [StackName, self.detection_rounds]
        return {"StackDriftDetectionId": detection}

    def describe_stack_drift_detection_status(self, StackDriftDetectionId: str) -> dict[str, Any]:
        self._call("describe_stack_drift_detection_status", read=True)
        entry = self.detections[StackDriftDetectionId]
        stack = self.stacks[entry[0]]
        out = {
            "StackId": f"arn:aws:cloudformation:us-east-1:111122223333:stack/{stack.name}/1",
            "StackDriftDetectionId": StackDriftDetectionId,
            "Timestamp": datetime.now(timezone.utc),
        }
        if entry[1] > 0:
            entry[1] -= 1
            return out | {"DetectionStatus": "DETECTION_IN_PROGRESS"}
        drifted = sum(1 for v in stack.drift_found.values() if v in ("MODIFIED", "DELETED"))
        stack.drift = "DRIFTED" if drifted else "IN_SYNC"
        return out | {
            "DetectionStatus": "DETECTION_COMPLETE",
            "StackDriftStatus": stack.drift,
            "DriftedStackResourceCount": drifted,
        }

    def describe_stack_resource_drifts(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:
        self._call("describe_stack_resource_drifts", read=True)
        stack = self._stack(StackName, "DescribeStackResourceDrifts")
        return {
            "StackResourceDrifts": [
                {
                    "StackId": f"arn:aws:cloudformation:us-east-1:111122223333:stack/{stack.name}/1",
                    "LogicalResourceId": lid,
                    "PhysicalResourceId": pid,
                    "ResourceType": rtype,
                    "StackResourceDriftStatus": stack.drift_found[lid],
                    "Timestamp": datetime.now(timezone.utc),
                }
                for lid, rtype, pid in stack.resources
                if lid in stack.drift_found
            ]
        }

    def get_template(self, StackName: str, TemplateStage: str = "Original") -> dict[str, Any]:
        self._call("get_template")
        return {"TemplateBody": self._stack(StackName, "GetTemplate").template}

    def _import_problem(self, stack: str, body: dict[str, Any], to_import: list[dict[str, Any]]) -> str:
        """AWS's IMPORT rules, as the fake models them: every imported resource has a DeletionPolicy
        and belongs to no other stack; a new stack's template holds the imported resources only.
        https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-new-stack.html"""
        resources = body.get("Resources", {})
        imported = {r["LogicalResourceId"] for r in to_import}
        if stack not in self.stacks and set(resources) != imported:
            return "As part of the import operation, you cannot modify or add resources other than those imported"
        for item in to_import:
            lid = item["LogicalResourceId"]
            if "DeletionPolicy" not in resources.get(lid, {}):
                return f"The following resources to import [{lid}] must have DeletionPolicy attribute specified in the template"
            ident = next(iter(item["ResourceIdentifier"].values()))
            owners = [s.name for s in self.stacks.values() if any(ident in r[2] for r in s.resources)]
            if owners:
                return f"Resource {ident} already exists in stack {owners[0]}"
        return ""

    # -- change sets
    def create_change_set(
        self,
        StackName: str,
        ChangeSetName: str,
        ChangeSetType: str,
        Parameters,
        Tags,
        Capabilities,
        **template,
    ) -> dict[str, Any]:
        self._call("create_change_set")
        if ChangeSetType == "IMPORT":
            body = _json_body(template.get("TemplateBody"))
            problem = self._import_problem(StackName, body, template["ResourcesToImport"])
            self.stacks.setdefault(StackName, FakeStack(StackName, "REVIEW_IN_PROGRESS"))
            self.history.append({"stack": StackName, "type": "IMPORT", "parameters": {}})
            self.change_sets[(StackName, ChangeSetName)] = {
                "Status": "FAILED" if problem else "CREATE_COMPLETE",
                "StatusReason": problem,
                "ExecutionStatus": "UNAVAILABLE" if problem else "AVAILABLE",
                "Changes": [
                    {
                        "Type": "Resource",
                        "ResourceChange": {
                            "Action": "Import",
                            "LogicalResourceId": r["LogicalResourceId"],
                            "ResourceType": r["ResourceType"],
                        },
                    }
                    for r in template["ResourcesToImport"]
                ],
                "type": "IMPORT",
                "tags": {t["Key"]: t["Value"] for t in Tags},
                "parameters": {},
                "template": body,
                "imports": template["ResourcesToImport"],
            }
            return {"Id": f"cs-{next(self._ids)}", "StackId": StackName}
        if ChangeSetType == "CREATE":
            if StackName in self.stacks and self.stacks[StackName].status != "REVIEW_IN_PROGRESS":
                raise client_error(
                    "AlreadyExistsException", f"Stack [{StackName}] already exists", "CreateChangeSet"
                )
            self.stacks[StackName] = FakeStack(StackName, "REVIEW_IN_PROGRESS")
        else:
            self._stack(StackName, "CreateChangeSet")
        status, reason = self.change_set_outcome.get(StackName, ("CREATE_COMPLETE", ""))
        changes = (
            []
            if status == "FAILED"
            else [
                {
                    "Type": "Resource",
                    "ResourceChange": {"Action": a, "LogicalResourceId": lid, "ResourceType": rtype},
                }
                for a, lid, rtype in self.change_set_changes[StackName]
            ]
            if StackName in self.change_set_changes
            else [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Modify" if ChangeSetType == "UPDATE" else "Add",
                        "LogicalResourceId": "Model",
                        "ResourceType": "AWS::SageMaker::Model",
                        "Replacement": "True" if ChangeSetType == "UPDATE" else "",
                    },
                }
            ]
        )
        previous = self.stacks[StackName].parameters
        given = {
            p["ParameterKey"]: previous.get(p["ParameterKey"], "")
            if p.get("UsePreviousValue")
            else p["ParameterValue"]
            for p in Parameters
        }
        self.history.append({"stack": StackName, "type": ChangeSetType, "parameters": given})
        self.change_sets[(StackName, ChangeSetName)] = {
            "Status": status,
            "StatusReason": reason,
            "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
            "Changes": changes,
            "type": ChangeSetType,
            "tags": {t["Key"]: t["Value"] for t in Tags},
            "parameters": given,
            "template": _json_body(template.get("TemplateBody")) if "TemplateBody" in template else None,
        }
        return {"Id": f"cs-{next(self._ids)}", "StackId": StackName}

    def describe_change_set(
        self, StackName: str, ChangeSetName: str, NextToken: str | None = None
    ) -> dict[str, Any]:
        self._call("describe_change_set", read=True)
        cs = self.change_sets[(StackName, ChangeSetName)]
        return {
            k: v for k, v in cs.items() if k in ("Status", "StatusReason", "ExecutionStatus", "Changes")
        } | {"ChangeSetName": ChangeSetName, "StackName": StackName}

    def delete_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:
        self._call("delete_change_set")
        self.change_sets.pop((StackName, ChangeSetName), None)
        return {}

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:
        self._call("execute_change_set")
        with self._lock:
            self.executed.append(StackName)
        cs = self.change_sets[(StackName, ChangeSetName)]
        stack = self.stacks[StackName]
        if cs["type"] == "IMPORT":
            stack.status, stack.tags, stack.template = "IMPORT_COMPLETE", cs["tags"], cs["template"]
            stack.resources = [
                (r["LogicalResourceId"], r["ResourceType"], next(iter(r["ResourceIdentifier"].values())))
                for r in cs["imports"]
            ]
            return {}
        if cs.get("template") is not None and self.execute_outcome.get(StackName, "ok") == "ok":
            stack.template = cs["template"]
        creating = cs["type"] == "CREATE"
        outcome = self.execute_outcome.get(StackName, "ok")
        if not creating and outcome == "ok" and _autoscaled_type_change(stack.parameters, cs["parameters"]):
            outcome = ("fail", AUTOSCALED_UPDATE_REFUSED)
        done = "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE"
        if outcome == "ok":
            stack.status, stack.tags, stack.parameters = done, cs["tags"], cs["parameters"]
        elif outcome[0] == "fail":
            reason = outcome[1]
            stack.events.append(
                {
                    "EventId": f"e{next(self._ids)}",
                    "Timestamp": datetime.now(timezone.utc),
                    "LogicalResourceId": outcome[2] if len(outcome) > 2 else "Endpoint",
                    "ResourceType": outcome[3] if len(outcome) > 3 else "AWS::SageMaker::Endpoint",
                    "ResourceStatus": "CREATE_FAILED" if creating else "UPDATE_FAILED",
                    "ResourceStatusReason": reason,
                }
            )
            stack.status = "ROLLBACK_COMPLETE" if creating else "UPDATE_ROLLBACK_COMPLETE"
        elif outcome[0] == "rounds":  # in progress for that many descriptions of the stack, then done
            stack.status = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS"
            stack.upcoming = [stack.status] * outcome[1] + [done]
            stack.tags, stack.parameters = cs["tags"], cs["parameters"]
        elif outcome[0] == "slow":
            stack.status = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS"
            tags, params = cs["tags"], cs["parameters"]

            def settle(stack=stack, tags=tags, params=params, done=done) -> None:
                stack.status, stack.tags, stack.parameters = done, tags, params

            # One timer per stack, asleep until then: a thread polling the clock per stack in flight
            # would spend the CPU a benchmark of hundreds of them measures.
            timer = threading.Timer(outcome[1], settle)
            timer.daemon = True
            timer.start()
        return {}

    # -- stack operations
    def delete_stack(self, StackName: str) -> dict[str, Any]:
        self._call("delete_stack")
        with self._lock:
            self.deleted.append(StackName)
        stack = self.stacks.get(StackName)
        if stack is not None and stack.protected:
            raise client_error(
                "ValidationError",
                f"Stack [{StackName}] cannot be deleted while TerminationProtection is enabled",
                "DeleteStack",
            )
        if StackName in self.delete_fails and stack is not None:
            stack.status = "DELETE_FAILED"
            return {}
        # DeletionPolicy Retain leaves the resource; any other is deleted with the stack
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
        for lid, rtype, pid in stack.resources if stack is not None else []:
            if stack.deletion_policy(lid) != "Retain":
                for deleted in self.on_resource_deleted:
                    deleted(rtype, pid)
        self.stacks.pop(StackName, None)
        return {}

    def continue_update_rollback(self, StackName: str) -> dict[str, Any]:
        self._call("continue_update_rollback")
        self._stack(StackName, "ContinueUpdateRollback").status = "UPDATE_ROLLBACK_COMPLETE"
        return {}

    def update_termination_protection(
        self, StackName: str, EnableTerminationProtection: bool
    ) -> dict[str, Any]:
        self._call("update_termination_protection")
        self._stack(StackName, "UpdateTerminationProtection").protected = EnableTerminationProtection
        return {"StackId": StackName}


def _json_body(body: Any) -> Any:
    """A JSON template body as a dict; YAML (what deploy sends) stays text."""
    import json

    if isinstance(body, str) and body.lstrip().startswith("{"):
        return json.loads(body)
    return body


@contextlib.contextmanager
def count_api_calls(service: str):
    """Collect the names of the API operations boto3 clients of ``service`` make meanwhile."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        if self.meta.service_model.service_name == service:
            calls.append(operation)
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


def fake_stage(
    cfn: Any, registry: Any = None, s3: Any = None, stage: str = "dev", region: str = "us-east-1", **more: Any
):
    """A StageGateways over fakes: the CloudFormation gateway given, a FakeRegistry and a FakeS3
    unless others are given, no Parameter Store (so no execution role)."""
    from mlops_gitops.aws.s3 import ArtifactStore
    from mlops_gitops.aws.stage import StageGateways
    from tests.fake_gateways import FakeRegistry, FakeS3

    return StageGateways(
        stage,
        region,
        cfn=cfn,
        sagemaker=registry if registry is not None else FakeRegistry(),
        artifacts=ArtifactStore(s3 if s3 is not None else FakeS3()),
        **more,
    )
