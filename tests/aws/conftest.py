"""A moto server on 127.0.0.1 (real HTTP, as boto3 sees AWS), started and stopped by these tests."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
# moto answers HTTP 500 for what it doesn't implement: fail at once instead of retrying for 8 s.
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
BOUNDARY_PARAMETER = "/mlops/permissions-boundary-arn"
BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/mlops-boundary-us-east-1"
NOTIFY_KEY_PARAMETER = "/mlops/notify-key-arn"
NOTIFY_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
BOOTSTRAPPING_MODULES = {"test_bootstrap", "test_iam_covers_calls", "test_iam_enforced"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """A clean moto state and a factory of clients pointed at it."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()

    def client(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=moto_endpoint, config=NO_RETRY)

    # What target-account.yaml publishes and every pipeline template reads: the roles' boundary and
    # the account's notify key (tests that bootstrap get them from the target-account stack itself).
    if not _bootstraps(request):
        stage_account_parameters(client("ssm"))
    return client


def stage_account_parameters(ssm) -> None:
    """The SSM parameters target-account.yaml publishes that pipeline templates read as
    AWS::SSM::Parameter::Value<String> (CloudFormation fails a stack whose parameter is missing)."""
    ssm.put_parameter(Name=BOUNDARY_PARAMETER, Value=BOUNDARY_ARN, Type="String")
    ssm.put_parameter(Name=NOTIFY_KEY_PARAMETER, Value=NOTIFY_KEY_ARN, Type="String")


def _bootstraps(request: pytest.FixtureRequest) -> bool:
    module = request.module.__name__.rsplit(".", 1)[-1]
    return "bootstrap" in request.node.name or module in BOOTSTRAPPING_MODULES


def orchestrator_basics(aws, bucket: str, upload_lambdas: bool = True) -> None:
    """What the orchestrator provides to pipeline stacks: the artifact bucket, the SSM parameter
    naming it, and (as deploy would upload them) the content-addressed Lambda zips."""
    from mlops_gitops import lambdas

    aws("ssm").put_parameter(Name="/mlops/artifact-bucket", Value=bucket, Type="String")
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    for name in lambdas.FUNCTIONS if upload_lambdas else ():
        z = lambdas.package(name)
        s3.put_object(Bucket=bucket, Key=z.key, Body=z.data)


def assumed(aws, account: str, role: str) -> dict[str, str]:
    """Keys of ``role`` in ``account``, as the AWS_* environment variables name them."""
    creds = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="test")[
        "Credentials"
    ]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def client_as(creds: dict[str, str], moto_endpoint: str, service: str):
    """A client of ``service`` acting with ``creds`` (from ``assumed``)."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=moto_endpoint,
        config=NO_RETRY,
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
    )


def in_account(aws, moto_endpoint: str, account: str, service: str, role: str = "mlops-deploy"):
    """A client acting in ``account`` (moto gives each assumed account its own state)."""
    return client_as(assumed(aws, account, role), moto_endpoint, service)


def inline_policy(iam, role_name: str) -> dict:
    """The role's inline policies as one document (its own, and those AWS::IAM::Policy resources
    attach). moto stores a CloudFormation inline policy as the Python repr of the template's dict
    (AWS returns JSON), so both are read."""
    import ast
    import json

    statements = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                document = ast.literal_eval(document)
        # moto also keeps an Fn::If -> AWS::NoValue statement as None, where AWS drops it
        statements += [s for s in document["Statement"] if s is not None]
    return {"Version": "2012-10-17", "Statement": statements}


def create_pipeline_stack(aws, template: str, stack_name: str, params: dict, **extra) -> dict:
    """One pipeline stack made directly from rendered parameters, with create_stack (moto gives a
    stack made by a change set no Outputs); returns the described stack."""
    from mlops_gitops.core.templates import PIPELINES_DIR
    from tests.conftest import REPO_ROOT

    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=(REPO_ROOT / PIPELINES_DIR / template).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
        **extra,
    )
    return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
