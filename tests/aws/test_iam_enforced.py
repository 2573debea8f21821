"""Issue 13 under real policy evaluation: the orchestrator and the stage stack bootstrapped into moto,
then moto's IAM enforcement switched on (POST /moto-api/reset-auth: the server-mode form of
INITIAL_NO_AUTH_ACTION_COUNT, https://docs.getmoto.org/en/latest/docs/iam.html) and every request
authorised against the policies of the role whose credentials it carries.

What moto's evaluator can and cannot judge (moto 5.2, moto/iam/access_control.py):
- it evaluates Allow/Deny, Action/NotAction wildcards, and the resource ARN for S3 (bucket/key), IAM
  calls naming a role, and sts:AssumeRole;
- every other call is matched against resource "*", so a grant scoped to stack/mlops-*/* would never
  apply: this test gives CloudFormation, SSM and SNS requests their real ARN (``_real_resource_arns``),
  as IAM does;
- it ignores Condition blocks (an Allow under a condition allows, a Deny under one denies), implies
  no iam:PassRole check when a role is handed to a service, judges trust policies by string
  comparison, and ignores bucket policies and permissions boundaries.
So the condition-based steps (CreateRole without the boundary, PassRole to an unlisted service,
change-set names, bucket policies) are judged by tests/repo/test_iam_policies.py; here they are
attempted, and what moto says is not taken as proof either way.
Roles are assumed while enforcement is still off: moto compares a trust policy's principal with the
caller's ARN as strings and cannot evaluate aws:SourceAccount (trusts: tests/repo).
moto's CloudFormation also stores the inline policies of the roles it creates as dicts, which its
own evaluator can't read (HTTP 500, KeyError 'policy_document'): ``_inline_policies_as_json`` stores
them as the JSON text IAM keeps before enforcement is switched on."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.aws.conftest import REGION, assumed, client_as
from tests.conftest import git_repo, repo_copy, run_cli

ACCOUNT = "123456789012"
STACK = "mlops-churn-realtime-dev"


def _real_resource_arns(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.sns.responses import SNSResponse
    from moto.ssm.responses import SimpleSystemManagerResponse

    def stack(self) -> str:
        name = self._get_param("StackName")
        if not name:
            return "*"
        if name.startswith("arn:"):
            return name
        return f"arn:aws:cloudformation:{self.region}:{self.current_account}:stack/{name}/moto"

    def parameter(self) -> str:
        name = self._get_param("Name")
        if not name:
            return "*"
        return f"arn:aws:ssm:{self.region}:{self.current_account}:parameter/{name.lstrip('/')}"

    def topic(self) -> str:  # SNS Publish is authorised on the topic's ARN (deploy tells owners)
        return self._get_param("TopicArn") or "*"

    monkeypatch.setattr(CloudFormationResponse, "_determine_resource", stack, raising=False)
    monkeypatch.setattr(SimpleSystemManagerResponse, "_determine_resource", parameter, raising=False)
    monkeypatch.setattr(SNSResponse, "_determine_resource", topic, raising=False)


def _auth(endpoint: str, count: str) -> None:
    req = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # moto reads the raw body
    )
    urllib.request.urlopen(req, timeout=10).close()


@pytest.fixture
def enforced(moto_endpoint: str, aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Switches enforcement on when called; always off again after the test."""
    _real_resource_arns(monkeypatch)
    try:
        yield lambda: _auth(moto_endpoint, "0")
    finally:
        _auth(moto_endpoint, "inf")


def _inline_policies_as_json() -> None:
    """moto's CloudFormation stores a role's inline policies as dicts, which its own evaluator can't
    read (HTTP 500, KeyError 'policy_document'), and its PutRolePolicy validator refuses documents IAM
    accepts: store each one, unchanged, as the JSON text IAM keeps (the server runs in this process)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT]["aws"]
    for role in backend.roles.values():
        for name, doc in list(role.policies.items()):
            if not isinstance(doc, str):
                role.policies[name] = json.dumps(doc)
    for policy in backend.managed_policies.values():
        for version in policy.versions:
            if not isinstance(version.document, str):
                version.document = json.dumps(version.document)


def denied(call, *args, **kwargs) -> bool:
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return code in ("AccessDenied", "AccessDeniedException")
    return False


def cli(creds: dict[str, str], monkeypatch: pytest.MonkeyPatch, *argv: str):
    with monkeypatch.context() as m:
        for key, value in creds.items():
            m.setenv(key, value)
        return run_cli(*argv)


def test_the_escalation_chain_cannot_be_walked_under_iam_enforcement(
    tmp_path: Path, moto_endpoint: str, aws, enforced, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = git_repo(
        repo_copy(tmp_path / "repo", ("churn-realtime", "customer-lake"))
    )  # a zip, a large template
    common = ("--repo-root", str(root))
    boot = run_cli(*common, "bootstrap", "--endpoint-url", moto_endpoint)
    assert boot.code == 0, boot.out + boot.err
    roles = {
        r: assumed(aws, ACCOUNT, r)
        for r in (
            "mlops-pr-check-build",
            "mlops-drift-build",
            "mlops-deploy-build-dev",
            f"mlops-cfn-exec-{REGION}",
        )
    }
    _inline_policies_as_json()
    enforced()
    with pytest.raises(ClientError, match="InvalidAccessKeyId|AccessDenied"):
        aws("s3").list_buckets()  # enforcement is on: the bootstrap's keys are no IAM identity

    # ---- the deploy role deploys (change sets, uploads it verifies, the execution role)
    deploy = cli(
        roles["mlops-deploy-build-dev"],
        monkeypatch,
        *common,
        "deploy",
        "--stage",
        "dev",
        "--commit",
        "1" * 40,
        "--endpoint-url",
        moto_endpoint,
    )
    assert deploy.code == 0, deploy.out + deploy.err
    assert "AccessDenied" not in deploy.out + deploy.err
    # the owners are told (ops/notify) with the build's own rights: its stage's notify topics
    assert f"{STACK}: told its owners: [mlops] churn-realtime: staging waits for approval" in deploy.err

    # ---- pr-check: plan (with previews) and status read; drift reads (moto has no drift API: exit 3)
    pr = roles["mlops-pr-check-build"]
    for argv in (
        ("plan", "--stage", "dev"),
        ("status", "--stage", "dev"),
        ("pr-check", "--destination-commit", "HEAD", "--dry-run"),
    ):
        result = cli(pr, monkeypatch, *common, *argv, "--endpoint-url", moto_endpoint)
        assert result.code == 0 and "AccessDenied" not in result.out + result.err, result.out + result.err
    drift = cli(
        roles["mlops-drift-build"],
        monkeypatch,
        *common,
        "drift",
        "--stage",
        "dev",
        "--endpoint-url",
        moto_endpoint,
    )
    assert "AccessDenied" not in drift.out + drift.err

    # ---- and every write of the review builds is refused
    deploy_bucket = f"mlops-deploy-{ACCOUNT}-{REGION}"
    for role in ("mlops-pr-check-build", "mlops-drift-build"):
        s3, cfn, iam = (client_as(roles[role], moto_endpoint, s) for s in ("s3", "cloudformation", "iam"))
        assert denied(
            s3.put_object,
            Bucket=f"mlops-pipeline-{ACCOUNT}-{REGION}",
            Key="mlops-pipeline/Source/x.zip",
            Body=b"x",
        ), role
        assert denied(
            s3.put_object, Bucket=deploy_bucket, Key="templates/" + "0" * 64 + ".yaml", Body=b"x"
        ), role
        assert denied(
            s3.put_object, Bucket=deploy_bucket, Key="lambda/inference_api-0123456789abcdef.zip", Body=b"x"
        ), role
        assert denied(cfn.execute_change_set, StackName=STACK, ChangeSetName="mlops-anything"), role
        assert denied(cfn.create_stack, StackName="mlops-evil-dev", TemplateBody="{}"), role
        assert denied(cfn.update_stack, StackName=STACK, TemplateBody="{}"), role
        assert denied(cfn.delete_stack, StackName=STACK), role
        assert denied(
            iam.put_role_policy, RoleName="mlops-deploy-build-dev", PolicyName="x", PolicyDocument="{}"
        ), role
    pr_s3 = client_as(pr, moto_endpoint, "s3")
    pr_s3.put_object(Bucket=deploy_bucket, Key="review/check-1/t.yaml", Body=b"x")  # its one place

    # ---- the execution role: each step of the chain
    exec_iam = client_as(roles[f"mlops-cfn-exec-{REGION}"], moto_endpoint, "iam")
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    for bootstrap_role in (
        "mlops-deploy-build-dev",
        "mlops-pr-check-build",
        "mlops-pipeline",
        f"mlops-cfn-exec-{REGION}",
    ):
        assert denied(
            exec_iam.put_role_policy, RoleName=bootstrap_role, PolicyName="grow", PolicyDocument=policy
        )
        assert denied(
            exec_iam.attach_role_policy,
            RoleName=bootstrap_role,
            PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
        )
        assert denied(exec_iam.update_assume_role_policy, RoleName=bootstrap_role, PolicyDocument=policy)
    # CreateRole without the boundary: moto refuses it, but only because it matches a role that does
    # not exist yet against "*" - it would refuse it with the boundary too. The boundary condition and
    # iam:PassedToService (PassRole to an unlisted service) are judged in tests/repo/test_iam_policies.py
    # (test_3_roles_are_created_and_changed_only_with_the_boundary, test_3_roles_are_passed_only_...).
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    assert denied(exec_iam.create_role, RoleName="mlops-churn-dev-Escape", AssumeRolePolicyDocument=trust)
    assert denied(exec_iam.delete_role_permissions_boundary, RoleName="mlops-deploy-build-dev")
