"""Tell a pipeline's owners what deploy did (issue 19): a failure with its first failed resource
and reason, a rollback with SageMaker's explanation, and "the next stage waits for approval" after
a change reached a stage whose successor needs approval. Messages (report/notify.py) go to the
pipeline's own notify topic, a resource of its stack; the e-mails in ``notify`` subscribe to it.

Best-effort by design: a topic that is not there (a first create that rolled back) or a publish
that fails becomes a warning line, never a failed deploy."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops.aws.errors import AWS_ERRORS, reason
from mlops_gitops.config.environments import Environments
from mlops_gitops.repo import Repo
from mlops_gitops.report import notify as messages

log = logging.getLogger(__name__)
TOPIC_LOGICAL_ID = "NotifyTopic"  # every pipeline template's notify topic (tests/repo/test_notify_topic.py)
EMAIL_PARAMETER = "NotifyEmail"  # NotifyEmail1..N


@dataclass
class Notifier:
    """What one deploy run tells the owners; ``gateways`` is the stage's StageGateways."""

    repo: Repo
    env: Environments
    gateways: Any
    rollbacks: dict[str, str] = field(default_factory=dict)  # stack -> rollout.explain_rollback text

    def after_apply(self, outcomes: Iterable[Any]) -> list[str]:
        """Publish a message per outcome that calls for one; the lines deploy prints about it."""
        lines: list[str] = []
        for outcome in outcomes:
            spec = outcome.item.spec
            if spec is None:
                continue
            message = self._message_for(outcome, spec)
            if outcome.result == "created" and _emails(spec.parameters):
                lines.append(
                    f"{spec.pipeline_id}: AWS sent a subscription confirmation to "
                    f"{', '.join(_emails(spec.parameters))}; notifications arrive once its owner confirms it"
                )
            if message is not None:
                lines += self._publish(spec.stack_name, message)
        return lines

    def _message_for(self, outcome: Any, spec: Any) -> messages.Message | None:
        where = messages.Where(
            spec.pipeline_id, spec.stage, spec.stack_name, spec.region, spec.tags.get("mlops:commit", "")
        )
        if outcome.result == "failed":
            rollback = self.rollbacks.get(spec.stack_name)
            if rollback:
                return messages.rolled_back(where, rollback)
            return messages.deploy_failed(where, outcome.detail.removeprefix(f"{spec.stack_name}: "))
        if outcome.result in ("created", "updated"):
            following = self.next_approval_stage(spec.pipeline_stages, spec.stage)
            if following:
                return messages.approval_waiting(where, following, f"{self.env.stack_prefix}-pipeline")
        return None

    def next_approval_stage(self, stages: Sequence[str], stage: str) -> str | None:
        """The pipeline's stage after ``stage`` among its ``stages`` (as render read its config:
        StackSpec.pipeline_stages), if it needs approval (environments.json)."""
        stages = list(stages)
        if stage not in stages or stages.index(stage) + 1 >= len(stages):
            return None
        following = stages[stages.index(stage) + 1]
        found = self.env.stage(following)
        return following if found is not None and found.approval else None

    def _publish(self, stack: str, message: messages.Message) -> list[str]:
        gateway = self.gateways.notify
        try:
            topic = self.gateways.cfn.physical_id(stack, TOPIC_LOGICAL_ID) if gateway is not None else None
        except AWS_ERRORS as exc:
            return [f"WARNING: {stack}: owners not told ({message.subject}): {reason(exc)}"]
        if gateway is None or not topic:
            return [f"WARNING: {stack}: owners not told ({message.subject}): the stack has no notify topic"]
        published = gateway.publish(topic, message.subject, message.body)
        if published.message_id is None:
            log.debug("publish to %s failed: %s", topic, published.problem)
            return [f"WARNING: {stack}: owners not told ({message.subject}): {published.problem}"]
        return [f"{stack}: told its owners: {message.subject}"]


def _emails(parameters: dict[str, str]) -> list[str]:
    return [v for k, v in sorted(parameters.items()) if k.startswith(EMAIL_PARAMETER) and v]
