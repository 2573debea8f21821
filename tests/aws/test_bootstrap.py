"""`mlopsctl bootstrap` against a moto server: the orchestrator and the stage accounts' stacks
through change sets, a second run that changes nothing, and a deploy that then uses what bootstrap
made (deploy role, bucket, execution role) in the right account and nowhere else.

moto ignores CodeCommit, CodeBuild and CodePipeline resources, so those are checked at template
level in tests/repo/test_orchestrator_template.py; what moto models (roles, buckets, rules, SSM
parameters, the key, the topic) is checked here through the service APIs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.aws.conftest import in_account
from tests.conftest import repo_copy, run_cli
from tests.fakes import count_api_calls

REMOTE = "111111111111"
TARGET = Path("cloudformation") / "target-account.yaml"  # dev's account in the multi-account tests


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_copy(tmp_path / "repo", ("churn-batch", "fraud-batch"))


def set_environments(repo: Path, **changes) -> None:
    path = repo / "pipeline-configs" / "environments.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "dev_account":
            data["stages"][0]["account_id"] = value
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def bootstrap(repo: Path, endpoint: str, *extra: str):
    return run_cli(
        "--repo-root", str(repo), "bootstrap", "--endpoint-url", endpoint, "--format", "json", *extra
    )


def by_stack(result) -> dict[tuple[str, str], str]:
    return {(s["stack"], s["account"]): s["result"] for s in result.json["stacks"]}


def test_bootstrap_creates_then_finds_nothing_to_change(repo: Path, moto_endpoint: str, aws) -> None:
    set_environments(repo, orchestrator={"notification_email": "ml-platform@example.com"})
    first = bootstrap(repo, moto_endpoint)
    assert first.code == 0, first.out + first.err
    assert by_stack(first) == {
        ("mlops-bootstrap-assets", "123456789012"): "created",
        ("mlops-orchestrator", "123456789012"): "created",
        ("mlops-target", "123456789012"): "created",
    }
    assert (
        "git remote add codecommit https://git-codecommit.us-east-1.amazonaws.com/v1/repos/mlops-gitops"
        in (first.json["next_steps"])
    )
    assert "ml-platform@example.com" in first.json["next_steps"]

    second = bootstrap(repo, moto_endpoint)
    assert second.code == 0, second.out + second.err
    assert set(by_stack(second).values()) == {"unchanged"}

    # What moto models of the two stacks, read back through the services' own APIs.
    ssm = {p["Name"]: p["Value"] for p in aws("ssm").get_parameters_by_path(Path="/mlops")["Parameters"]}
    assert ssm["/mlops/artifact-bucket"] == "mlops-deploy-123456789012-us-east-1"
    assert ssm["/mlops/cfn-exec-role-arn"] == "arn:aws:iam::123456789012:role/mlops-cfn-exec-us-east-1"
    assert ssm["/mlops/repository-name"] == "mlops-gitops"
    assert ssm["/mlops/notify-key-arn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    rules = {r["Name"]: r for r in aws("events").list_rules(NamePrefix="mlops-")["Rules"]}
    assert set(rules) == {
        "mlops-push",
        "mlops-pull-request",
        "mlops-drift",
        "mlops-pipeline-failed",
        "mlops-build-failed",
    }
    assert rules["mlops-drift"]["ScheduleExpression"] == "cron(0 6 * * ? *)"
    roles = {r["RoleName"] for r in aws("iam").list_roles()["Roles"]}
    assert {
        "mlops-pipeline",
        "mlops-deploy-build-dev",
        "mlops-deploy-build-prod",
        "mlops-cfn-exec-us-east-1",
    } <= roles
    assert "mlops-deploy" not in roles, "single account: the builds deploy directly, no deploy role"
    # the first stage's build role is in the shared policies' Roles lists; moto ignores a role's
    # ManagedPolicyArns (how staging's and prod's get them, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html),
    # judged in tests/repo/test_iam_policies.py (test_5_a_stage_build_applies_only_its_own_stages_stacks_here)
    attached = aws("iam").list_attached_role_policies(RoleName="mlops-deploy-build-dev")["AttachedPolicies"]
    assert len(attached) >= 2, attached
    buckets = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    assert {"mlops-pipeline-123456789012-us-east-1", "mlops-deploy-123456789012-us-east-1"} <= buckets


def test_a_changed_setting_updates_only_the_orchestrator(repo: Path, moto_endpoint: str, aws) -> None:
    assert bootstrap(repo, moto_endpoint).code == 0
    set_environments(repo, orchestrator={"drift_schedule": "rate(12 hours)"})
    again = bootstrap(repo, moto_endpoint)
    assert again.code == 0, again.out + again.err
    assert by_stack(again) == {
        ("mlops-bootstrap-assets", "123456789012"): "unchanged",
        ("mlops-orchestrator", "123456789012"): "updated",
        ("mlops-target", "123456789012"): "unchanged",
    }
    rule = aws("events").describe_rule(Name="mlops-drift")
    assert rule["ScheduleExpression"] == "rate(12 hours)"


def test_two_accounts_bootstrap_then_deploy_lands_in_the_stage_account(
    repo: Path, moto_endpoint: str, aws
) -> None:
    set_environments(repo, dev_account=REMOTE)
    result = bootstrap(repo, moto_endpoint)
    assert result.code == 0, result.out + result.err
    assert by_stack(result) == {
        ("mlops-bootstrap-assets", "123456789012"): "created",
        ("mlops-orchestrator", "123456789012"): "created",
        ("mlops-bootstrap-assets", REMOTE): "created",  # each account sends its templates through its own
        ("mlops-target", REMOTE): "created",  # dev
        ("mlops-target", "123456789012"): "created",  # staging and prod
    }
    remote_iam = in_account(aws, moto_endpoint, REMOTE, "iam", role="OrganizationAccountAccessRole")
    for role, trusted in (
        ("mlops-deploy", ["arn:aws:iam::123456789012:role/mlops-deploy-build-dev"]),  # dev alone lives there
        (
            "mlops-review",
            [
                "arn:aws:iam::123456789012:role/mlops-pr-check-build",
                "arn:aws:iam::123456789012:role/mlops-drift-build",
            ],
        ),
    ):
        trust = remote_iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"] == trusted

    deployed = run_cli(
        "--repo-root",
        str(repo),
        "deploy",
        "--stage",
        "dev",
        "--endpoint-url",
        moto_endpoint,
        "--commit",
        "1" * 40,
    )
    assert deployed.code == 0, deployed.out + deployed.err
    remote_cfn = in_account(aws, moto_endpoint, REMOTE, "cloudformation")
    stacks = {s["StackName"]: s for s in remote_cfn.describe_stacks()["Stacks"]}
    pipelines = {n for n in stacks if n.endswith("-dev")}
    assert pipelines == {"mlops-churn-batch-dev", "mlops-fraud-batch-dev"}
    assert (
        stacks["mlops-churn-batch-dev"]["RoleARN"] == f"arn:aws:iam::{REMOTE}:role/mlops-cfn-exec-us-east-1"
    )
    own = {s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    assert own == {"mlops-bootstrap-assets", "mlops-orchestrator", "mlops-target"}, (
        "no pipeline stack in the orchestrator's account"
    )

    # One notify key in the stage account (its target stack's), encrypting every dev pipeline's topic
    # there: no key per pipeline stack (issue 19).
    key = in_account(aws, moto_endpoint, REMOTE, "ssm").get_parameter(Name="/mlops/notify-key-arn")
    key_arn = key["Parameter"]["Value"]
    remote_kms = in_account(aws, moto_endpoint, REMOTE, "kms")
    assert [k["KeyArn"] for k in remote_kms.list_keys()["Keys"]] == [key_arn]
    assert key_arn.startswith(f"arn:aws:kms:us-east-1:{REMOTE}:key/")
    assert remote_kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in remote_kms.list_aliases()["Aliases"]}
    assert key_arn.endswith(aliases["alias/mlops-notify"])
    remote_sns = in_account(aws, moto_endpoint, REMOTE, "sns")
    for pipeline in pipelines:
        topic = f"arn:aws:sns:us-east-1:{REMOTE}:{pipeline}-notify"
        assert remote_sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == key_arn


def test_one_account_with_stages_in_two_regions(repo: Path, moto_endpoint: str, aws, monkeypatch) -> None:
    """IAM names are account-wide: the second region's target stack must not make the account's
    roles again, and each region gets its own execution role and deploy bucket."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the region comes from environments.json alone
    data = json.loads((repo / "pipeline-configs" / "environments.json").read_text())
    data["stages"][0]["account_id"] = REMOTE
    data["stages"][1]["account_id"] = REMOTE
    data["stages"][1]["region"] = "eu-west-1"
    (repo / "pipeline-configs" / "environments.json").write_text(json.dumps(data))
    result = bootstrap(repo, moto_endpoint)
    assert result.code == 0, result.out + result.err
    assert [(s["stack"], s["account"], s["region"], s["result"]) for s in result.json["stacks"]] == [
        ("mlops-bootstrap-assets", "123456789012", "us-east-1", "created"),
        ("mlops-orchestrator", "123456789012", "us-east-1", "created"),
        ("mlops-bootstrap-assets", REMOTE, "us-east-1", "created"),
        ("mlops-target", REMOTE, "us-east-1", "created"),
        ("mlops-bootstrap-assets", REMOTE, "eu-west-1", "created"),
        ("mlops-target", REMOTE, "eu-west-1", "created"),
        ("mlops-target", "123456789012", "us-east-1", "created"),
    ]
    remote_iam = in_account(aws, moto_endpoint, REMOTE, "iam", role="OrganizationAccountAccessRole")
    names = {r["RoleName"] for r in remote_iam.list_roles()["Roles"]}
    assert {"mlops-deploy", "mlops-review", "mlops-cfn-exec-us-east-1", "mlops-cfn-exec-eu-west-1"} <= names
    assert bootstrap(repo, moto_endpoint).code == 0, "and again, with nothing to change"


def test_more_stages_than_the_pipeline_has_slots_is_refused_before_aws(repo: Path) -> None:
    set_environments(repo, stages=[{"name": n} for n in ("dev", "qa", "staging", "prod")])
    # No endpoint is reachable at this port: the refusal must come before any AWS call.
    result = bootstrap(repo, "http://127.0.0.1:9")
    assert result.code == 1
    assert "lists 4 stages; the orchestrator pipeline deploys at most 3" in result.err
    assert "Traceback" not in result.err


def test_an_invalid_orchestrator_section_is_a_finding(repo: Path) -> None:
    set_environments(repo, orchestrator={"source": "connection", "branch": ""})
    result = bootstrap(repo, "http://127.0.0.1:9")
    assert result.code == 1
    assert "pipeline-configs/environments.json: $.orchestrator" in result.err
    assert "connection_arn" in result.err
    assert "nothing was deployed" in result.err


def test_bootstrap_refuses_a_prefix_owned_by_another_repository(repo: Path, moto_endpoint: str, aws) -> None:
    set_environments(repo, orchestrator={"repository_name": "team-a"})
    assert bootstrap(repo, moto_endpoint).code == 0
    tags = {
        t["Key"]: t["Value"]
        for t in aws("cloudformation").describe_stacks(StackName="mlops-orchestrator")["Stacks"][0]["Tags"]
    }
    assert tags["mlops:repository"] == "team-a"
    set_environments(repo, orchestrator={"repository_name": "team-b"})
    with count_api_calls("cloudformation") as calls:
        refused = bootstrap(repo, moto_endpoint)
    assert refused.code == 1
    assert (
        "already owned by repository 'team-a'" in refused.err and "this repository is 'team-b'" in refused.err
    )
    assert "CreateChangeSet" not in calls


def _change_set_templates(monkeypatch) -> dict[str, dict]:
    """Stack name -> how its last CreateChangeSet named the template (TemplateBody or TemplateURL)."""
    import botocore.client

    seen: dict[str, dict] = {}
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "CreateChangeSet":
            seen[params["StackName"]] = {k: v for k, v in params.items() if k.startswith("Template")}
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return seen


def test_templates_go_through_the_assets_bucket_so_they_may_pass_51200_bytes(
    repo: Path, moto_endpoint: str, aws, monkeypatch
) -> None:
    """CloudFormation takes at most 51,200 bytes as TemplateBody and 1 MB from S3
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html);
    moto enforces neither, so the test asserts how the template was sent."""
    orchestrator = repo / "cloudformation" / "orchestrator.yaml"
    orchestrator.write_text(orchestrator.read_text() + "\n# " + "x" * 60_000 + "\n")
    sent = _change_set_templates(monkeypatch)
    result = bootstrap(repo, moto_endpoint)
    assert result.code == 0, result.out + result.err
    bucket = "mlops-bootstrap-123456789012-us-east-1"
    assert sent["mlops-bootstrap-assets"].keys() == {"TemplateBody"}  # small: it makes the bucket
    for stack, template in (("mlops-orchestrator", orchestrator), ("mlops-target", TARGET)):
        data = (repo / "cloudformation" / template.name).read_bytes()
        key = f"templates/{template.stem}-{hashlib.sha256(data).hexdigest()}.yaml"
        assert sent[stack] == {"TemplateURL": f"https://{bucket}.s3.us-east-1.amazonaws.com/{key}"}
        assert aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert len(orchestrator.read_bytes()) > 51_200


def test_every_s3_call_of_bootstrap_names_the_accounts_own_bucket_owner(
    repo: Path, moto_endpoint: str, aws, monkeypatch
) -> None:
    """The assets bucket belongs to the account bootstrap deploys to; naming it as
    ExpectedBucketOwner makes real S3 refuse a squatted bucket of that name
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html). moto ignores
    the parameter, so the test records it."""
    import botocore.client

    owners: list[tuple[str, str | None]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if self.meta.service_model.service_name == "s3":
            owners.append((operation, params.get("ExpectedBucketOwner")))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    result = bootstrap(repo, moto_endpoint)
    assert result.code == 0, result.out + result.err
    assert {op for op, _ in owners} >= {"HeadObject", "PutObject"}
    assert {owner for _, owner in owners} == {"123456789012"}


def test_a_template_object_someone_else_wrote_is_not_used(repo: Path, moto_endpoint: str, aws) -> None:
    assert bootstrap(repo, moto_endpoint).code == 0
    orchestrator = repo / "cloudformation" / "orchestrator.yaml"
    orchestrator.write_text(orchestrator.read_text() + "\n# a change\n")
    key = f"templates/orchestrator-{hashlib.sha256(orchestrator.read_bytes()).hexdigest()}.yaml"
    bucket = "mlops-bootstrap-123456789012-us-east-1"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=b"Resources: {}\n")  # planted under the right name
    result = bootstrap(repo, moto_endpoint)
    assert result.code == 3
    rows = {s["stack"]: s for s in result.json["stacks"]}
    assert rows["mlops-orchestrator"]["result"] == "failed"
    assert f"s3://{bucket}/{key} is not what mlopsctl would upload" in rows["mlops-orchestrator"]["detail"]
    assert rows["mlops-target"]["result"] == "skipped"
    stack = aws("cloudformation").describe_stacks(StackName="mlops-orchestrator")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", "the stack is left as it was"


def test_a_missing_bootstrap_template_is_said_before_anything_is_deployed(
    repo: Path, moto_endpoint: str, aws
) -> None:
    (repo / "cloudformation" / "bootstrap-assets.yaml").unlink()
    result = bootstrap(repo, moto_endpoint)
    assert result.code == 1, result.out + result.err
    assert (
        "cloudformation/bootstrap-assets.yaml is missing" in result.err
        and "Nothing was deployed" in result.err
    )
    assert aws("cloudformation").describe_stacks()["Stacks"] == []


def test_the_provisioning_api_stack_deploys_when_environments_json_asks(
    repo: Path, moto_endpoint: str, aws
) -> None:
    """What validate accepts deploys: orchestrator.provisioning_api brings the companion stack,
    its function's code uploaded beside the templates under its SHA-256."""
    from mlops_gitops import lambdas

    set_environments(repo, orchestrator={"provisioning_api": True})
    shutil_copy = (
        Path(__file__).resolve().parents[2] / "cloudformation" / "provisioning-api.yaml"
    ).read_bytes()
    (repo / "cloudformation" / "provisioning-api.yaml").write_bytes(shutil_copy)
    assert run_cli("--repo-root", str(repo), "validate").code == 0
    first = bootstrap(repo, moto_endpoint)
    assert first.code == 0, first.out + first.err
    assert by_stack(first)[("mlops-provisioning-api", "123456789012")] == "created"
    code = lambdas.package_provisioning()
    body = aws("s3").get_object(Bucket="mlops-bootstrap-123456789012-us-east-1", Key=code.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == code.sha256
    function = aws("lambda").get_function(FunctionName="mlops_provisioning-api")["Configuration"]
    assert function["Handler"] == "mlops_gitops.lambdas.provisioning_api.handler"
    assert function["Environment"]["Variables"]["DIRECT_COMMIT"] == "No"
    apis = [a for a in aws("apigateway").get_rest_apis()["items"] if a["name"] == "mlops-provisioning-api"]
    paths = {r["path"] for r in aws("apigateway").get_resources(restApiId=apis[0]["id"])["items"]}
    assert {"/provisionpipeline", "/pipelinestatus"} <= paths
    second = bootstrap(repo, moto_endpoint)
    assert by_stack(second)[("mlops-provisioning-api", "123456789012")] == "unchanged"
