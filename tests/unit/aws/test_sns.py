"""The SNS gateway deploy tells owners through: the Publish request it makes (botocore's Stubber
checks it against the service model) and an AWS error returned as a problem, never raised
(https://docs.aws.amazon.com/sns/latest/api/API_Publish.html: Subject is printable ASCII without
line breaks, at most 100 characters)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from mlops_gitops.aws.sns import NotifyGateway, safe_subject

TOPIC = "arn:aws:sns:us-east-1:111122223333:mlops-fraud-ab-prod-notify"


def _client():
    return boto3.client(
        "sns", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_publish_sends_subject_and_message_to_the_topic() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "m-1"},
            {"TopicArn": TOPIC, "Subject": "[mlops] fraud-ab: deploy to prod failed", "Message": "body"},
        )
        published = NotifyGateway(client).publish(TOPIC, "[mlops] fraud-ab: deploy to prod failed", "body")
        stub.assert_no_pending_responses()
    assert (published.message_id, published.problem) == ("m-1", "")


def test_a_refused_publish_is_returned_as_a_problem() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("publish", "AuthorizationError", "not authorized to perform SNS:Publish")
        published = NotifyGateway(client).publish(TOPIC, "s", "m")
    assert published.message_id is None
    assert published.problem == "AuthorizationError: not authorized to perform SNS:Publish"


def test_the_subject_is_one_printable_ascii_line_of_at_most_100_characters() -> None:
    assert safe_subject("a\nb\tc") == "a b c"
    assert safe_subject("model ✓ ready") == "model ? ready"
    long = safe_subject("x" * 150)
    assert len(long) == 100 and long.endswith("~")
