"""The messages a pipeline's owners get on its notify topic (issue 19): short, plain text, each
naming what happened, where (pipeline, stage, stack, commit) and the next step. Pure formatting;
ops/notify.py publishes them. Golden copies are in tests/golden/notify/."""

from __future__ import annotations

from dataclasses import dataclass

_SUBJECT = "[mlops] {pipeline}: {what}"
CONFIG = "pipeline-configs/{pipeline}/mlops-config.json"
DRIFT_SHOWN = 5  # drifted resources named in a message; the rest are counted


@dataclass(frozen=True)
class Message:
    subject: str
    body: str

    def text(self) -> str:
        return f"Subject: {self.subject}\n\n{self.body}"


@dataclass(frozen=True)
class Where:
    pipeline: str
    stage: str
    stack: str
    region: str
    commit: str  # full or short sha; shown short

    def lines(self) -> list[str]:
        return [
            f"Pipeline: {self.pipeline}",
            f"Stage: {self.stage}",
            f"Stack: {self.stack} ({self.region})",
            f"Commit: {self.commit[:12] or 'unknown'}",
        ]


def _message(where: Where, what: str, first: str, details: list[str], next_step: str) -> Message:
    body = "\n".join(
        [first, "", *details, *([""] if details else []), *where.lines(), "", f"Next step: {next_step}"]
    )
    return Message(_SUBJECT.format(pipeline=where.pipeline, what=what), body + "\n")


def deploy_failed(where: Where, failure: str) -> Message:
    """``failure``: deploy's reason, led by the first failed resource and its status reason."""
    return _message(
        where,
        f"deploy to {where.stage} failed",
        f"The deploy of {where.pipeline} to {where.stage} failed; CloudFormation rolled the stack back.",
        [f"What failed: {_one_line(failure)}"],
        f"fix the cause in {CONFIG.format(pipeline=where.pipeline)} (or in the model or image it names) "
        "and push; the next deploy retries. The stack's events in the CloudFormation console have the details.",
    )


def rolled_back(where: Where, explanation: str) -> Message:
    """``explanation``: ops/rollout.explain_rollback's sentence (alarm, endpoint's reason, state)."""
    return _message(
        where,
        f"{where.stage} update rolled back",
        f"SageMaker rolled back the endpoint update of {where.pipeline} in {where.stage}; the endpoint "
        "keeps serving the previous model.",
        [f"Why: {_one_line(explanation)}"],
        "look at the alarm's metric for the new model (CloudWatch), fix the model or the config and "
        "push again, or pin the previous model version in the config.",
    )


def drift_summary(pipeline: str, stage: str, count: str) -> str:
    """The drift message's first sentence; ``count`` is text, as the stack's rule fills it in."""
    return f"{count} resource(s) of {pipeline} in {stage} differ from what git deploys"


def drift_next_step(pipeline: str, stage: str) -> str:
    return (
        f"run mlopsctl drift --stage {stage} to see each difference, then undo the manual change; "
        f"if the change is wanted, put it in {CONFIG.format(pipeline=pipeline)} and push."
    )


def drifted(where: Where, resources: list[str]) -> Message:
    """``resources``: one line per drifted resource, e.g. "Endpoint (AWS::SageMaker::Endpoint): MODIFIED".

    The drift build runs with read-only roles (DESIGN §9; tests/repo/test_notify_policies.py asserts
    it publishes nothing), so it never sends this. What owners get is the short form each pipeline
    stack's own EventBridge rule ``<NamePrefix>-drifted`` sends when CloudFormation reports the stack
    DRIFTED: drift_summary and drift_next_step, the same words (tests/repo/test_notify_rules.py)."""
    shown = [f"- {_one_line(r)}" for r in resources[:DRIFT_SHOWN]]
    if len(resources) > DRIFT_SHOWN:
        shown.append(f"- and {len(resources) - DRIFT_SHOWN} more")
    return _message(
        where,
        f"{where.stage} drifted from git",
        drift_summary(where.pipeline, where.stage, str(len(resources))) + ":",
        shown,
        drift_next_step(where.pipeline, where.stage),
    )


def approval_waiting(where: Where, next_stage: str, pipeline_name: str) -> Message:
    """After a deploy changed ``where.pipeline`` in ``where.stage``, whose next stage needs approval."""
    return _message(
        where,
        f"{next_stage} waits for approval",
        f"{where.pipeline} was deployed to {where.stage}. Its next stage, {next_stage}, needs a person's approval "
        "before it is deployed.",
        [],
        f"check {where.pipeline} in {where.stage}, then approve (or reject) the action Approve-{next_stage} "
        f"of the CodePipeline {pipeline_name}.",
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
