"""boto3 clients, made in one place: region, endpoint (moto or a VPC endpoint), profile, retries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Adaptive: standard retries (throttling, 5xx, timeouts) plus client-side rate limiting, so a run
# over hundreds of stacks slows down instead of failing when CloudFormation says "Rate exceeded".
RETRIES = {"mode": "adaptive", "max_attempts": 10}


@dataclass
class AwsContext:
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    max_attempts: int = RETRIES["max_attempts"]
    _session: Any = field(default=None, repr=False)
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_args(
        cls, region: str | None, endpoint_url: str | None, profile: str | None, environ: Mapping[str, str]
    ) -> AwsContext:
        return cls(
            region=region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            endpoint_url=endpoint_url or environ.get("AWS_ENDPOINT_URL"),
            profile=profile or environ.get("AWS_PROFILE"),
        )

    def session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(profile_name=self.profile)
        return self._session

    def client(
        self, service: str, region: str | None = None, credentials: Mapping[str, str] | None = None
    ) -> Any:
        """A client per (service, region); ``credentials`` (assumed-role keys) bypass the cache."""
        from botocore.config import Config

        region = region or self.region
        key = (service, region)
        if credentials is None and key in self._clients:
            return self._clients[key]
        config = Config(
            retries={"mode": RETRIES["mode"], "max_attempts": self.max_attempts}, max_pool_connections=32
        )
        kwargs: dict[str, Any] = {"region_name": region, "config": config}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if credentials:
            kwargs.update(credentials)
        made = self.session().client(service, **kwargs)
        if credentials is None:
            self._clients[key] = made
        return made
