"""``notify``: every entry is used, or is a finding at ``$.notify[i]`` - nothing is dropped.

E-mails become subscriptions of the pipeline's notify topic (NotifyEmail1..N of every pipeline
template); one SNS topic ARN of the user's is told as well. The entry's own form (e-mail, ARN,
webhook URL) is checked by the ``email-or-sns-arn`` keyword (config/keywords.py), and a topic in
another region than a stage by ``regional_arns`` (rules/types.py); this module checks what the
templates can take, and where a topic in another account needs its owner's help."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_gitops.config.rules.base import Context, check, pipeline_stages, pipeline_type, stages_text
from mlops_gitops.findings import WARNING, Finding

# The template slots NotifyEmail1..N of every pipeline template (core/params/base.py reads this;
# tests/repo/test_notify_topic.py checks the templates have them).
EMAIL_SLOTS = 3
# An alarm has at most 5 actions per state and a rule at most 5 targets; the templates use two: the
# pipeline's own topic and one of yours.
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
TOPIC_SLOTS = 1
# Pipeline types whose job outcome a state machine publishes to one topic: yours if given, else the
# pipeline's own: Autopilot (model_training.yaml), of whose jobs SageMaker sends no event. Batch,
# training and tuning jobs tell both: the owners from the stack's rules on SageMaker's job events,
# your topic from the state machine (tests/repo/test_notify_rules.py).
ONE_OUTCOME_TOPIC = frozenset({"model_autopilot_training"})


def _entries(config: dict[str, Any]) -> list[tuple[int, str]]:
    notify = config.get("notify")
    if not isinstance(notify, list):
        return []
    return [(i, v) for i, v in enumerate(notify) if isinstance(v, str)]


@check
def notify_fits_the_topic(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    entries = _entries(config)
    emails = [(i, v) for i, v in entries if not v.startswith("arn:") and "@" in v]
    topics = [(i, v) for i, v in entries if v.startswith("arn:")]
    for i, value in emails[EMAIL_SLOTS:]:
        yield ctx.finding(
            ["notify", i],
            "notify-too-many",
            f"{value!r} is e-mail address number {EMAIL_SLOTS + 1} or later; the pipeline's notify "
            f"topic subscribes at most {EMAIL_SLOTS}",
            "use a team mailing list address, or subscribe more people to an SNS topic of yours and list its ARN",
        )
    for i, value in topics[TOPIC_SLOTS:]:
        yield ctx.finding(
            ["notify", i],
            "notify-too-many",
            f"{value!r} is a second SNS topic; alarms and rules tell the pipeline's own topic and "
            f"at most {TOPIC_SLOTS} of yours",
            "keep one topic and subscribe the other audience (e-mail, AWS Chatbot) to it",
        )
    if emails and topics and pipeline_type(config, ctx) in ONE_OUTCOME_TOPIC:
        yield ctx.finding(
            ["notify", topics[0][0]],
            "notify-outcome-topic",
            "job outcomes are published to this topic only; the e-mails get deploy, rollback and "
            "approval messages but not each job's outcome",
            "subscribe the e-mails to this topic too, or drop the topic to send outcomes to the e-mails",
            severity=WARNING,
        )


@check
def notify_topic_in_another_account(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """A topic in another account takes messages only if its policy (and its key's) allows them:
    https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html"""
    for i, value in _entries(config):
        parts = value.split(":", 5)
        if not value.startswith("arn:") or len(parts) != 6 or parts[2] != "sns":
            continue
        account = parts[4]
        stages = [
            s
            for s in pipeline_stages(config, ctx.env)
            if (st := ctx.env.stage(s)) and st.account_id and st.account_id != account
        ]
        if stages:
            yield ctx.finding(
                ["notify", i],
                "notify-cross-account",
                f"the SNS topic is in account {account}, not the account of {stages_text(stages)}",
                "its access policy must let cloudwatch.amazonaws.com and events.amazonaws.com publish "
                "from that account (aws:SourceAccount), and a KMS key on it must let them use the key",
                severity=WARNING,
            )
