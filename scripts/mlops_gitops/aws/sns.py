"""SNS, as deploy and drift tell a pipeline's owners what happened (issue 19).

The pipeline's notify topic is a resource of its own stack (``NotifyTopic``, named
``<name prefix>-notify``), so its ARN is the resource's physical id. Publishing is best-effort:
the caller turns a failure into a warning, never into a failed deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_gitops.aws.errors import AWS_ERRORS, reason

# Subject: ASCII printable, no newlines, at most 100 characters; message: at most 256 KB.
# https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
SUBJECT_MAX = 100
MESSAGE_MAX = 256 * 1024


@dataclass(frozen=True)
class Published:
    topic_arn: str
    message_id: str | None  # None: not published
    problem: str = ""  # why not, one line


def safe_subject(subject: str) -> str:
    """``subject`` as SNS takes it: printable ASCII on one line, cut to 100 characters."""
    text = "".join(c if " " <= c <= "~" else "?" for c in " ".join(subject.split()))
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "~"


@dataclass
class NotifyGateway:
    client: Any  # boto3 SNS client

    def publish(self, topic_arn: str, subject: str, message: str) -> Published:
        """Publish one message; an AWS error is returned as ``problem``, never raised."""
        body = message.encode("utf-8")[:MESSAGE_MAX].decode("utf-8", "ignore")
        try:
            answer = self.client.publish(TopicArn=topic_arn, Subject=safe_subject(subject), Message=body)
        except AWS_ERRORS as exc:
            return Published(topic_arn, None, reason(exc))
        return Published(topic_arn, answer.get("MessageId"))
