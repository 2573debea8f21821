"""ConnectionGateway through botocore's Stubber (GetConnection,
https://docs.aws.amazon.com/codeconnections/latest/APIReference/API_GetConnection.html)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from mlops_gitops.aws.connections import ConnectionGateway

ARN = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d"


class Context:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def client(self, service: str, region=None):
        self.asked.append(service)
        return boto3.client(
            service, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        )


@pytest.mark.parametrize("status", ["PENDING", "AVAILABLE", "ERROR"])
def test_status_is_the_connections_own(status) -> None:
    gateway = ConnectionGateway.for_arn(Context(), ARN)
    with Stubber(gateway.client) as stub:
        stub.add_response(
            "get_connection",
            {"Connection": {"ConnectionArn": ARN, "ConnectionStatus": status}},
            {"ConnectionArn": ARN},
        )
        assert gateway.status(ARN) == status


def test_the_arns_service_picks_the_client() -> None:
    ctx = Context()
    ConnectionGateway.for_arn(ctx, ARN)
    ConnectionGateway.for_arn(ctx, ARN.replace("codeconnections", "codestar-connections"))
    assert ctx.asked == ["codeconnections", "codestar-connections"]
