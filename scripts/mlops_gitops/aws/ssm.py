"""Parameter Store: where bootstrap publishes what deploy, pr-check and promote read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_gitops.aws.errors import is_missing


@dataclass
class ParameterStore:
    client: Any  # boto3 SSM client

    @classmethod
    def from_context(cls, aws: Any, region: str | None = None) -> ParameterStore:
        return cls(aws.client("ssm", region))

    def get(self, name: str) -> str | None:
        """The parameter's value, or None when it does not exist. Other failures propagate."""
        try:
            return self.client.get_parameter(Name=name)["Parameter"]["Value"]
        except Exception as exc:
            if is_missing(exc, "ParameterNotFound"):
                return None
            raise
