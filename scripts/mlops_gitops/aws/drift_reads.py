"""Drift reads that keep `mlopsctl drift` O(1) CloudFormation calls per stack (issue 17).

DetectStackDrift has no bulk form: one start and at least one status read per stack. What a
detection found is in its status answer (StackDriftStatus, DriftedStackResourceCount), and each
resource's verdict is in ListStackResources (DriftInformation, a StackResourceDriftInformationSummary),
the call drift makes for every stack anyway; so DescribeStackResourceDrifts, which pages through
the expected and actual properties, is read only for a stack that drifted (or whose detection
did not say).
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResourceDriftInformationSummary.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DetectionResult:
    status: str  # DETECTION_IN_PROGRESS | DETECTION_COMPLETE | DETECTION_FAILED
    reason: str
    stack_drift: str  # DRIFTED | IN_SYNC | UNKNOWN | NOT_CHECKED once done; "" if not given


@dataclass(frozen=True)
class ResourceVerdict:
    logical_id: str
    resource_type: str
    physical_id: str
    drift: str  # the last detection's StackResourceDriftStatus; "" if the answer has none


def detection_result(client: Any, detection_id: str) -> DetectionResult:
    raw = client.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    return DetectionResult(
        raw["DetectionStatus"], raw.get("DetectionStatusReason", ""), raw.get("StackDriftStatus", "")
    )


def resource_verdicts(client: Any, stack: str) -> list[ResourceVerdict]:
    """Every resource of the stack with its last drift verdict, all pages."""
    out: list[ResourceVerdict] = []
    kwargs: dict[str, Any] = {"StackName": stack}
    while True:
        page = client.list_stack_resources(**kwargs)
        out += [
            ResourceVerdict(
                r["LogicalResourceId"],
                r["ResourceType"],
                r.get("PhysicalResourceId", ""),
                (r.get("DriftInformation") or {}).get("StackResourceDriftStatus", ""),
            )
            for r in page.get("StackResourceSummaries", [])
        ]
        if not page.get("NextToken"):
            return out
        kwargs["NextToken"] = page["NextToken"]
