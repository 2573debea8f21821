"""CodePipeline gateway: the orchestrator pipeline's executions and its manual approvals, as records.

`history` asks which execution ran a commit (ListPipelineExecutions: each summary's
sourceRevisions[].revisionId is the source commit,
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListPipelineExecutions.html and
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_SourceRevision.html) and who
approved its stages (ListActionExecutions filtered by pipelineExecutionId: each detail's updatedBy,
lastUpdateTime, status and output.executionResult.externalExecutionSummary, which holds a manual
approval's comment,
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListActionExecutions.html,
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionExecutionDetail.html and
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionExecutionResult.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


@dataclass(frozen=True)
class PipelineExecution:
    execution_id: str
    status: str
    started: str  # ISO 8601
    revisions: tuple[str, ...]  # the source actions' revision ids: the commit(s) it ran


@dataclass(frozen=True)
class ActionExecution:
    execution_id: str
    stage_name: str
    action_name: str
    category: str  # the action type's category: "Approval" for a manual approval
    status: str  # InProgress | Abandoned | Succeeded (approved) | Failed (rejected)
    updated_by: str  # the ARN of who approved or rejected ("" while it waits)
    updated: str  # ISO 8601: when
    summary: str  # the approver's comment


@dataclass
class CodePipelineGateway:
    client: Any

    @classmethod
    def from_context(cls, aws: Any, region: str | None = None) -> CodePipelineGateway:
        return cls(aws.client("codepipeline", region))

    def executions(self, pipeline: str, limit: int = 100) -> list[PipelineExecution]:
        """The pipeline's newest ``limit`` executions, newest first (as the API lists them)."""
        found: list[PipelineExecution] = []
        kwargs: dict[str, Any] = {"pipelineName": pipeline, "maxResults": min(limit, 100)}
        while len(found) < limit:
            page = self.client.list_pipeline_executions(**kwargs)
            for raw in page.get("pipelineExecutionSummaries", []):
                found.append(
                    PipelineExecution(
                        execution_id=raw["pipelineExecutionId"],
                        status=raw.get("status", ""),
                        started=_iso(raw.get("startTime")),
                        revisions=tuple(
                            r["revisionId"] for r in raw.get("sourceRevisions", []) if r.get("revisionId")
                        ),
                    )
                )
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return found[:limit]

    def actions(self, pipeline: str, execution_id: str) -> list[ActionExecution]:
        """Every action run of one execution."""
        found: list[ActionExecution] = []
        kwargs: dict[str, Any] = {"pipelineName": pipeline, "filter": {"pipelineExecutionId": execution_id}}
        while True:
            page = self.client.list_action_executions(**kwargs)
            for raw in page.get("actionExecutionDetails", []):
                result = (raw.get("output") or {}).get("executionResult") or {}
                category = ((raw.get("input") or {}).get("actionTypeId") or {}).get("category", "")
                found.append(
                    ActionExecution(
                        execution_id=raw.get("pipelineExecutionId", execution_id),
                        stage_name=raw.get("stageName", ""),
                        action_name=raw.get("actionName", ""),
                        category=category,
                        status=raw.get("status", ""),
                        updated_by=raw.get("updatedBy", ""),
                        updated=_iso(raw.get("lastUpdateTime")),
                        summary=result.get("externalExecutionSummary", ""),
                    )
                )
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]
