"""CodeConnections (CodeStar connections): whether the connection a source uses is usable yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ConnectionGateway:
    client: Any  # boto3 codeconnections or codestar-connections client, the ARN's own service

    @classmethod
    def for_arn(cls, aws: Any, arn: str, region: str | None = None) -> ConnectionGateway:
        service = "codestar-connections" if ":codestar-connections:" in arn else "codeconnections"
        return cls(aws.client(service, region))

    def status(self, arn: str) -> str:
        """PENDING, AVAILABLE or ERROR
        (https://docs.aws.amazon.com/codeconnections/latest/APIReference/API_GetConnection.html)."""
        return str(self.client.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"])
