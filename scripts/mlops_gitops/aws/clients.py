"""boto3 clients, made in one place: region, endpoint (moto or a VPC endpoint), profile, retries,
and the account a stage lives in (assuming that account's deploy role when it is not ours)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops.errors import UsageError

# Adaptive: standard retries (throttling, 5xx, timeouts) plus client-side rate limiting, so a run
# over hundreds of stacks slows down instead of failing when CloudFormation says "Rate exceeded".
RETRIES = {"mode": "adaptive", "max_attempts": 10}
# Seconds to connect and to wait for an answer, so an endpoint that never answers ends in an AWS
# error (exit 3) instead of a hang; MLOPS_AWS_CONNECT_TIMEOUT and MLOPS_AWS_READ_TIMEOUT override
# them. Connection failures and timeouts are retried errors.NO_ANSWER_ATTEMPTS times in all.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise UsageError(f"{name} must be a number of seconds between 0 and 3600, not {raw!r}")
    return value


@dataclass
class AwsContext:
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    max_attempts: int = RETRIES["max_attempts"]
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    _session: Any = field(default=None, repr=False)
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict, repr=False)
    _credentials: dict[str, str] | None = field(default=None, repr=False)  # assumed-role keys
    _account: str | None = field(default=None, repr=False)

    @property
    def is_local(self) -> bool:
        """The endpoint is a stand-in on this machine (moto, the local mode): it answers at once and
        has no API rate to respect, so waits poll it often."""
        from urllib.parse import urlparse

        host = urlparse(self.endpoint_url or "").hostname or ""
        return host in ("localhost", "::1") or host.startswith("127.")

    @classmethod
    def from_args(
        cls,
        region: str | None,
        endpoint_url: str | None,
        profile: str | None,
        environ: Mapping[str, str],
        attempts: int | None = None,
    ) -> AwsContext:
        """``attempts``: the retry budget when $AWS_MAX_ATTEMPTS sets none (default: RETRIES)."""
        context = cls(
            region=region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            endpoint_url=endpoint_url or environ.get("AWS_ENDPOINT_URL"),
            profile=profile or environ.get("AWS_PROFILE"),
            connect_timeout=_seconds(environ, "MLOPS_AWS_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
            read_timeout=_seconds(environ, "MLOPS_AWS_READ_TIMEOUT", READ_TIMEOUT),
        )
        if (environ.get("AWS_MAX_ATTEMPTS") or "").isdigit():  # e.g. the local AWS: fail fast on its 500s
            context.max_attempts = max(1, int(environ["AWS_MAX_ATTEMPTS"]))
        elif attempts is not None:
            context.max_attempts = attempts
        if not profile and environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
            # Keys in the environment given (not necessarily os.environ): use them, as boto3 would.
            context._credentials = {
                "aws_access_key_id": environ["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": environ["AWS_SECRET_ACCESS_KEY"],
                **(
                    {"aws_session_token": environ["AWS_SESSION_TOKEN"]}
                    if environ.get("AWS_SESSION_TOKEN")
                    else {}
                ),
            }
        return context

    def session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(profile_name=self.profile)
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """One client per (service, region), made with this context's credentials, timeouts and
        retries; its failures are one-line AWS errors (errors.guard_client)."""
        from botocore.config import Config

        from mlops_gitops.aws.errors import guard_client

        region = region or self.region
        key = (service, region)
        if key not in self._clients:
            config = Config(
                retries={"mode": RETRIES["mode"], "max_attempts": self.max_attempts},
                max_pool_connections=32,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
            kwargs: dict[str, Any] = {"region_name": region, "config": config, **(self._credentials or {})}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            client = self.session().client(service, **kwargs)
            guard_client(client, (self.connect_timeout, self.read_timeout), self.max_attempts)
            self._clients[key] = client
        return self._clients[key]

    def caller_account(self) -> str:
        if self._account is None:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    def for_account(self, account_id: str | None, role_name: str, session_name: str) -> AwsContext:
        """This context, or one acting in ``account_id`` through its deploy role when that account
        is not the one of our credentials (multi-account stages)."""
        if not account_id or account_id == self.caller_account():
            return self
        from mlops_gitops.awsdata import partition_of_region

        partition = partition_of_region(self.region or "us-east-1") or "aws"
        arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
        sts = self.client("sts")

        def assume() -> dict[str, str]:
            creds = sts.assume_role(RoleArn=arn, RoleSessionName=session_name[:64])["Credentials"]
            expiry = creds["Expiration"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiry.isoformat() if hasattr(expiry, "isoformat") else str(expiry),
            }

        # Refreshed before they expire: from a CodeBuild role this is role chaining, which AWS caps
        # at one hour, and a deploy waiting on endpoints can take longer.
        import boto3
        from botocore.credentials import RefreshableCredentials
        from botocore.session import get_session

        botocore_session = get_session()
        botocore_session._credentials = RefreshableCredentials.create_from_metadata(
            assume(), assume, "sts-assume-role"
        )
        return AwsContext(
            self.region,
            self.endpoint_url,
            None,
            self.max_attempts,
            self.connect_timeout,
            self.read_timeout,
            _session=boto3.session.Session(botocore_session=botocore_session),
            _account=account_id,
        )
