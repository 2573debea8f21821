"""A stage's gateways: waits poll a stand-in on this machine often (it answers at once, with no API
rate to respect), and AWS itself at the gateway's interval."""

from __future__ import annotations

import pytest

from mlops_gitops.aws.clients import AwsContext
from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.stage import LOCAL_POLL_SECONDS, StageGateways


@pytest.mark.parametrize(
    "endpoint, local",
    [
        ("http://127.0.0.1:5000", True),
        ("http://localhost:4566", True),
        (None, False),
        ("https://cloudformation.us-east-1.amazonaws.com", False),
        ("https://vpce-0a1b.cloudformation.us-east-1.vpce.amazonaws.com", False),
    ],
)
def test_waits_poll_a_local_endpoint_often_and_aws_at_the_gateway_interval(endpoint, local) -> None:
    context = AwsContext(region="us-east-1", endpoint_url=endpoint)
    context._clients[("cloudformation", "us-east-1")] = object()  # no client is made, none is called
    cfn = StageGateways("dev", "us-east-1", context=context).cfn
    assert context.is_local is local
    default = CloudFormationGateway(object()).poll_seconds
    assert cfn.poll_seconds == (LOCAL_POLL_SECONDS if local else default)
    assert cfn.watcher.poll_seconds == cfn.poll_seconds
