"""Fakes of the other gateways a deploy reads through (SageMaker's endpoints and Model Registry,
the artifact bucket), for tests/fakes.py's fake CloudFormation and `fake_stage`."""

from __future__ import annotations

from typing import Any

from tests.fakes import FakeCloudFormation, client_error


class FakeEndpoints:
    """SageMaker's real-time endpoints for adoption tests, as the SageMaker gateway reads them.
    ``timeline[name]``: the statuses an endpoint reports on its next describe calls. Every
    CloudFormation call of ``watch``ed fakes records each endpoint's state in ``states`` (None:
    absent), so a test can assert the endpoint was never gone."""

    def __init__(self) -> None:
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.timeline: dict[str, list[str]] = {}
        self.states: list[tuple[str, str, str | None]] = []  # (call, endpoint, status or None)
        self.deleted: list[str] = []
        self.script: dict[str, list[dict[str, Any]]] = {}  # endpoint -> DescribeEndpoint responses
        self.described: list[str] = []  # endpoint_deployment calls

    def add(self, name: str, config: str, status: str = "InService") -> None:
        self.endpoints[name] = {
            "EndpointName": name,
            "EndpointArn": f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{name}",
            "EndpointConfigName": config,
            "EndpointStatus": status,
        }

    def watch(self, cfn: FakeCloudFormation, *names: str) -> None:
        def observe(call: str) -> None:
            for name in names:
                ep = self.endpoints.get(name)
                self.states.append((call, name, ep["EndpointStatus"] if ep else None))

        cfn.observers.append(observe)
        cfn.on_resource_deleted.append(self._deleted)

    def _deleted(self, rtype: str, physical: str) -> None:
        if rtype == "AWS::SageMaker::Endpoint":
            name = physical.rsplit("/", 1)[-1]
            self.endpoints.pop(name, None)
            self.deleted.append(name)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        if name not in self.endpoints:
            raise client_error("ValidationException", f"Could not find endpoint {name}", "DescribeEndpoint")
        if self.timeline.get(name):
            self.endpoints[name]["EndpointStatus"] = self.timeline[name].pop(0)
        return dict(self.endpoints[name])

    def endpoint_status(self, name: str) -> str | None:
        return self.endpoints.get(name, {}).get("EndpointStatus")

    def endpoint_deployment(self, name: str):
        """As SageMakerGateway.endpoint_deployment: ``script[name]`` holds the DescribeEndpoint
        responses of the next calls (the last one repeats), else the endpoint as added."""
        from mlops_gitops.aws.sagemaker import endpoint_deployment

        self.described.append(name)
        script = self.script.get(name)
        if script:
            return endpoint_deployment(script.pop(0) if len(script) > 1 else script[0])
        return endpoint_deployment(self.describe_endpoint(name)) if name in self.endpoints else None


class FakeRegistry:
    """Model Registry stand-in for the SageMaker gateway: {arn: status}, {group: latest approved}."""

    def __init__(self, statuses: dict[str, str] | None = None, latest: dict[str, str] | None = None) -> None:
        self.statuses = statuses or {}
        self.latest = latest or {}
        self.failures: dict[str, str] = {}  # endpoint -> DescribeEndpoint's FailureReason (a failed update)

    def latest_approved(self, group: str) -> str | None:
        return self.latest.get(group)

    def approval_status(self, arn: str) -> str:
        return self.statuses.get(arn, "unreadable (ValidationException)")

    def endpoint_status(self, name: str) -> str | None:
        return "InService"

    def endpoint_failure(self, name: str) -> str | None:
        return self.failures.get(name)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        return {
            "EndpointName": name,
            "EndpointStatus": "InService",
            **({"FailureReason": self.failures[name]} if name in self.failures else {}),
        }

    def endpoint_deployment(self, name: str):
        from mlops_gitops.aws.sagemaker import endpoint_deployment

        return endpoint_deployment(self.describe_endpoint(name))

    def last_transform_job(self, name_prefix: str):
        return None

    def schedule_status(self, name: str):
        return None

    # the gateway's bulk reads (issue 17), answered through the reads above: no listing times
    def endpoint_summaries(self, names):
        from mlops_gitops.aws.sagemaker import EndpointSummary

        return {n: EndpointSummary(n, status) for n in names if (status := self.endpoint_status(n))}

    def schedule_states(self, names):
        return {n: state for n in names if (state := self.schedule_status(n)) is not None}

    def last_transform_jobs(self, prefixes):
        return {p: self.last_transform_job(p) for p in prefixes}


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def head_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # ChecksumMode
        if (Bucket, Key) not in self.objects:
            raise client_error("404", "Not Found", "HeadObject")
        return {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:  # checksums
        self.objects[(Bucket, Key)] = Body
        return {}
