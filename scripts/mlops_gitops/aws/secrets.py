"""Secrets Manager: the git provider's token the pull-request check comments with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops_gitops.aws.errors import is_missing


@dataclass
class SecretStore:
    client: Any  # boto3 Secrets Manager client

    @classmethod
    def from_context(cls, aws: Any, region: str | None = None) -> SecretStore:
        return cls(aws.client("secretsmanager", region))

    def token(self, name: str) -> str | None:
        """The secret's string - the token itself, or the "token" key of a JSON object - or None
        when the secret does not exist or holds no string. Other failures propagate.
        https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html"""
        try:
            value = self.client.get_secret_value(SecretId=name).get("SecretString")
        except Exception as exc:
            if is_missing(exc, "ResourceNotFoundException"):
                return None
            raise
        if value and value.lstrip().startswith("{"):
            try:
                value = json.loads(value).get("token")
            except (ValueError, AttributeError):
                return None
        return value.strip() if isinstance(value, str) and value.strip() else None
