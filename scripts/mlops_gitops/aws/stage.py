"""One stage's AWS, decided in one place: which account (ours, or the stage's through a role of
target-account.yaml), which role (the deploy role to apply changes, else the read-only review
role), which region, and the gateways made from that."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from mlops_gitops.aws.clients import AwsContext
from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.cloudwatch import AlarmHistory
from mlops_gitops.aws.events import EventsGateway
from mlops_gitops.aws.lease import LeaseStore
from mlops_gitops.aws.s3 import ArtifactStore
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.aws.sns import NotifyGateway
from mlops_gitops.aws.ssm import ParameterStore

DEFAULT_REGION = "us-east-1"
# How often waits read a stand-in on this machine (AwsContext.is_local); AWS itself: the gateway's 5 s.
LOCAL_POLL_SECONDS = 0.2


class _Stage(Protocol):
    account_id: str | None


class StageDirectory(Protocol):
    """What this module needs of environments.json (config.environments.Environments)."""

    deploy_role_name: str
    review_role_name: str

    def stage(self, name: str) -> _Stage | None: ...

    def region_of(self, name: str) -> str | None: ...


def stage_region(aws: AwsContext, env: StageDirectory, stage: str, override: str | None = None) -> str | None:
    """The region a stage lives in: ``override`` (--region), else environments.json's, else the
    context's; None when nothing names one (render then says so)."""
    return override or env.region_of(stage) or aws.region


def few_retries(aws: AwsContext, attempts: int = 2) -> AwsContext:
    """A context whose clients give up soon: for calls a stand-in endpoint may not implement (it
    answers HTTP 500, which the normal adaptive retries would retry for a long time)."""
    return dataclasses.replace(aws, max_attempts=attempts, _clients={})


# The gateway each attribute holds, and the service its client is made for.
_GATEWAYS: dict[str, tuple[type, str]] = {
    "cfn": (CloudFormationGateway, "cloudformation"),
    "sagemaker": (SageMakerGateway, "sagemaker"),
    "artifacts": (ArtifactStore, "s3"),
    "parameters": (ParameterStore, "ssm"),
    "events": (EventsGateway, "events"),
    "lease": (LeaseStore, "s3"),
    "alarms": (AlarmHistory, "cloudwatch"),
    "notify": (NotifyGateway, "sns"),
}


class StageGateways:
    """Everything a workflow needs to act in one stage: cfn, sagemaker, artifacts (S3),
    parameters (SSM) and events gateways, each made on first use from the stage's AWS context (so
    a verb pays only for the clients it uses). Tests pass fakes for the ones they need instead;
    one that is neither given nor makeable is None."""

    def __init__(
        self,
        stage: str,
        region: str,
        *,
        context: AwsContext | None = None,
        deadline: float | None = None,
        **gateways: Any,
    ) -> None:
        unknown = set(gateways) - set(_GATEWAYS)
        if unknown:
            raise TypeError(f"unknown gateways: {sorted(unknown)}")
        self.stage, self.region, self.context, self.deadline = stage, region, context, deadline
        self._gateways: dict[str, Any] = dict(gateways)

    @property
    def _local(self) -> bool:
        return bool(self.context and self.context.is_local)

    def _get(self, name: str) -> Any:
        if name not in self._gateways:
            kind, service = _GATEWAYS[name]
            extra = (
                {"poll_seconds": LOCAL_POLL_SECONDS} if kind is CloudFormationGateway and self._local else {}
            )
            made = kind(self.context.client(service, self.region), **extra) if self.context else None
            if isinstance(made, CloudFormationGateway):
                made.deadline = self.deadline
            self._gateways[name] = made
        return self._gateways[name]

    @property
    def cfn(self) -> CloudFormationGateway:
        return self._get("cfn")

    @property
    def sagemaker(self) -> SageMakerGateway:
        return self._get("sagemaker")

    @property
    def artifacts(self) -> ArtifactStore | None:
        return self._get("artifacts")

    @property
    def parameters(self) -> ParameterStore | None:
        return self._get("parameters")

    @property
    def events(self) -> EventsGateway | None:
        return self._get("events")

    @property
    def lease(self) -> LeaseStore | None:
        return self._get("lease")

    @property
    def alarms(self) -> AlarmHistory | None:
        return self._get("alarms")

    @property
    def notify(self) -> NotifyGateway | None:
        return self._get("notify")

    @classmethod
    def for_stage(
        cls,
        aws: AwsContext,
        env: StageDirectory,
        stage: str,
        *,
        region: str | None = None,
        deploying: bool = False,
        deadline: float | None = None,
    ) -> StageGateways:
        """The stage's gateways. ``region`` (from --region) wins over environments.json's, then the
        context's. ``deploying`` picks the deploy role in other accounts; everything else (plan
        previews, status, drift, pr-check: builds that may run a pull request's files) gets the
        read-only review role."""
        region = stage_region(aws, env, stage, region) or DEFAULT_REGION
        st = env.stage(stage)
        role = env.deploy_role_name if deploying else env.review_role_name
        context = aws.for_account(st.account_id if st else None, role, f"mlopsctl-{stage}")
        return cls(stage, region, context=context, deadline=deadline)
