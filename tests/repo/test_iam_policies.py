"""Issue 13 at policy level: the templates' IAM documents evaluated as IAM evaluates them
(tests/repo/iam_eval.py: Deny wins, wildcards, resources, the condition keys we rely on).

moto enforces IAM only coarsely (tests/aws/test_iam_enforced.py says where); every rule that
depends on a condition key or a resource pattern moto does not compute is judged here.

Findings: 1 the pull-request path, 2 writes where deploy reads, 3 roles growing themselves,
4 confused deputies. Each test below fails on the templates before issue 13."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import _parse
from tests.conftest import REPO_ROOT
from tests.repo.iam_eval import ALLOW, DENY, action_granted_somewhere, allowed, as_list, decide

pytestmark = pytest.mark.repo

ACCOUNT, ORCH, REGION = "111111111111", "222222222222", "us-east-1"
ORCHESTRATOR = REPO_ROOT / "cloudformation" / "orchestrator.yaml"
TARGET = REPO_ROOT / "cloudformation" / "target-account.yaml"
PIPELINES = sorted((REPO_ROOT / "cloudformation" / "pipelines").glob("*.yaml"))

ARTIFACTS = f"arn:aws:s3:::mlops-pipeline-{ORCH}-{REGION}"
DEPLOY_BUCKET = f"arn:aws:s3:::mlops-deploy-{ACCOUNT}-{REGION}"
ORCH_DEPLOY_BUCKET = f"arn:aws:s3:::mlops-deploy-{ORCH}-{REGION}"
BOUNDARY = "<PipelineBoundary>"  # Ref of the managed policy: its ARN
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlops-churn-dev-ModelRole-1A2B3C"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def stack_arn(account: str, name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{account}:stack/{name}/0f1e2d3c"


@cache
def evaluated(path: Path, account: str, params: tuple[tuple[str, str], ...]) -> tuple[dict, Evaluator]:
    body = _parse(path.read_text())
    physical = {
        ("ArtifactBucket", "Arn"): ARTIFACTS if account == ORCH else None,
        ("DeployBucket", "Arn"): f"arn:aws:s3:::mlops-deploy-{account}-{REGION}",
        ("PipelineRole", "Arn"): role_arn(account, "mlops-pipeline"),
        ("ValidateBuildRole", "Arn"): role_arn(account, "mlops-validate-build"),
        ("TemplateBucket", "Arn"): f"arn:aws:s3:::mlops-bootstrap-{account}-{REGION}",
    }
    ev = Evaluator(body, parameter_values(body, dict(params)))
    ev.pseudo = {**getattr(ev, "pseudo", {})}

    def resources(name: str, attr: str | None):
        return physical.get((name, attr)) or f"<{name}{'.' + attr if attr else ''}>"

    ev.resources = resources
    return body, ev


def orchestrator(**params: str) -> tuple[dict, Evaluator]:
    return evaluated(ORCHESTRATOR, ORCH, tuple(sorted(params.items())))


def target(**params: str) -> tuple[dict, Evaluator]:
    base = {
        "OrchestratorAccountId": ORCH,
        "DeployBuildRoleArns": role_arn(ORCH, "mlops-deploy-build-prod"),  # prod lives in ACCOUNT
        "ReviewBuildRoleArns": f"{role_arn(ORCH, 'mlops-pr-check-build')},{role_arn(ORCH, 'mlops-drift-build')}",
    }
    return evaluated(TARGET, ACCOUNT, tuple(sorted({**base, **params}.items())))


def _sub_account(value, account: str):
    """The Evaluator's pseudo AccountId is 123456789012; our fixtures name accounts explicitly."""
    text = json.dumps(value).replace("123456789012", account)
    return json.loads(text)


def role_statements(template: tuple[dict, Evaluator], role: str, account: str) -> list[dict]:
    """Every statement of the role's inline policies and of the managed policies attached to it."""
    body, ev = template
    out = []
    for name, res in body["Resources"].items():
        if not ev.present(name) or res["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            continue
        props = ev.resource(name)["Properties"]
        here = role in body["Resources"] and ev.present(role)
        attached = ev.resource(role)["Properties"].get("ManagedPolicyArns", []) if here else []
        if res["Type"] == "AWS::IAM::Role" and name == role:
            docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif res["Type"] == "AWS::IAM::ManagedPolicy" and (
            f"<{role}>" in props.get("Roles", []) or f"<{name}>" in attached
        ):
            docs = [props["PolicyDocument"]]
        else:
            continue
        out += [s for d in docs for s in d["Statement"]]
    return _sub_account(out, account)


def resource_policy(template: tuple[dict, Evaluator], name: str, account: str) -> list[dict]:
    body, ev = template
    return _sub_account(ev.resource(name)["Properties"]["PolicyDocument"]["Statement"], account)


def trust(template: tuple[dict, Evaluator], role: str) -> list[dict]:
    return template[1].resource(role)["Properties"]["AssumeRolePolicyDocument"]["Statement"]


# ------------------------------------------------------------------ finding 1: the pull-request path


def test_1_the_pull_request_rule_fires_only_for_pull_requests_into_the_deployed_branch() -> None:
    from moto.events.models import EventPattern  # EventBridge's matching, as moto implements it

    _, ev = orchestrator(BranchName="release")
    pattern = ev.resource("PullRequestRule")["Properties"]["EventPattern"]
    assert pattern["detail"]["destinationReference"] == ["refs/heads/release"]
    event = {
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Pull Request State Change",
        "resources": [f"arn:aws:codecommit:{REGION}:123456789012:mlops-gitops"],
        "detail": {"event": "pullRequestCreated", "pullRequestStatus": "Open"},
    }
    matches = EventPattern.load(json.dumps(pattern)).matches_event
    assert matches({**event, "detail": {**event["detail"], "destinationReference": "refs/heads/release"}})
    assert not matches({**event, "detail": {**event["detail"], "destinationReference": "refs/heads/mine"}})
    assert not matches(event)


def test_1_pr_check_rechecks_the_destination_then_takes_mlopsctl_from_the_branch_head() -> None:
    _, ev = orchestrator()
    project = ev.resource("PrCheckProject")["Properties"]
    import yaml

    (install,) = yaml.safe_load(project["Source"]["BuildSpec"])["phases"]["install"]["commands"]
    steps = [s.strip() for s in install.split(" && ")]
    # 1. before anything: the destination, as CodeCommit (not the event) says, is the deployed branch
    assert steps[0].startswith('test "$(aws codecommit get-pull-request --pull-request-id "$MLOPS_PR_ID"')
    assert "destinationReference" in steps[0] and steps[0].endswith('= "refs/heads/$MLOPS_BRANCH"')
    # 2. trusted code: the branch's head fetched by name, never a commit id the event carries
    assert 'fetch --no-tags origin "refs/heads/$MLOPS_BRANCH"' in steps[1]
    assert steps[2] == "git worktree add --detach /tmp/mlops-trusted FETCH_HEAD"
    assert "$MLOPS_DESTINATION_COMMIT" not in install and "$MLOPS_SOURCE_COMMIT" not in install
    # 3. pip isolated (-I): `python -m` would otherwise import a pip/ package of the checkout
    #    (https://docs.python.org/3/using/cmdline.html#cmdoption-I)
    assert steps[3].startswith("python -I -m pip install") and steps[3].endswith("/tmp/mlops-trusted")
    # the branch comes from the project, not from the rule's StartBuild overrides
    env = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert env["MLOPS_BRANCH"] == "main"
    overrides = json.dumps(ev.resource("PullRequestRule")["Properties"]["Targets"])
    assert "MLOPS_BRANCH" not in overrides


# ------------------------------------------------------------------ finding 2: nothing but deploy writes where deploy reads

REVIEWERS = [
    ("orchestrator", "PrCheckBuildRole", ORCH, ORCH_DEPLOY_BUCKET),
    ("orchestrator", "DriftBuildRole", ORCH, ORCH_DEPLOY_BUCKET),
    ("target", "ReviewRole", ACCOUNT, DEPLOY_BUCKET),
]


def _reviewer(kind: str, role: str, account: str) -> list[dict]:
    return role_statements(orchestrator() if kind == "orchestrator" else target(), role, account)


@pytest.mark.parametrize(("kind", "role", "account", "bucket"), REVIEWERS, ids=[r[1] for r in REVIEWERS])
def test_2_review_roles_write_no_object_no_artifact_no_stack(kind, role, account, bucket) -> None:
    sts = _reviewer(kind, role, account)
    for arn in (
        f"{ARTIFACTS}/mlops-pipeline/Source/abc.zip",
        f"{bucket}/templates/x.yaml",
        f"{bucket}/lambda/f-0.zip",
    ):
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl"):
            assert not allowed(sts, action, arn), (role, action, arn)
    stack = stack_arn(account, "mlops-churn-dev")
    for action in (
        "cloudformation:ExecuteChangeSet",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "cloudformation:ContinueUpdateRollback",
        "cloudformation:UpdateTerminationProtection",
    ):
        assert not allowed(sts, action, stack), (role, action)
    for name in ("mlops-cfn-exec-us-east-1", "mlops-deploy", "mlops-churn-dev-ModelRole-X"):
        ctx = {"iam:PassedToService": "cloudformation.amazonaws.com"}
        assert not allowed(sts, "iam:PassRole", role_arn(account, name), ctx), (role, name)
    for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert not allowed(sts, action, role_arn(account, "mlops-deploy")), (role, action)


@pytest.mark.parametrize(
    ("kind", "role", "account", "bucket"), REVIEWERS[::2], ids=["PrCheckBuildRole", "ReviewRole"]
)
def test_2_previews_are_change_sets_with_the_preview_role_and_templates_under_review(
    kind, role, account, bucket
) -> None:
    sts = _reviewer(kind, role, account)
    stack = stack_arn(account, "mlops-churn-dev")
    preview = {"cloudformation:ChangeSetName": "mlops-preview-0a1b2c3d4e5f"}
    for action in ("cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet"):
        assert allowed(sts, action, stack, preview)
        # not deploy's change sets: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
        assert not allowed(sts, action, stack, {"cloudformation:ChangeSetName": "mlops-4f2a-1b2c3d4e"})
    ctx = {"iam:PassedToService": "cloudformation.amazonaws.com"}
    assert allowed(sts, "iam:PassRole", role_arn(account, "mlops-cfn-preview-us-east-1"), ctx)
    assert allowed(sts, "s3:PutObject", f"{bucket}/review/mlops-pr-check-1/abc.yaml")


def test_2_only_the_deploy_roles_write_where_deploy_reads_bucket_policies() -> None:
    # the stage account's deploy bucket: a Deny for every other principal (aws:PrincipalArn is the
    # role's ARN for its sessions; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn)
    policy = resource_policy(target(), "DeployBucketPolicy", ACCOUNT)
    key = f"{DEPLOY_BUCKET}/templates/abc.yaml"
    tls = {"aws:SecureTransport": "true"}
    for who in (
        role_arn(ACCOUNT, "mlops-review"),
        role_arn(ACCOUNT, "mlops-churn-dev-JobRole-X"),
        role_arn(ACCOUNT, "admin"),
    ):
        assert decide(policy, "s3:PutObject", key, {**tls, "aws:PrincipalArn": who}) == DENY, who
    for who in (role_arn(ACCOUNT, "mlops-deploy"), role_arn(ORCH, "mlops-deploy-build-prod")):
        assert decide(policy, "s3:PutObject", key, {**tls, "aws:PrincipalArn": who}) != DENY, who
    review_key = f"{DEPLOY_BUCKET}/review/build-1/abc.yaml"
    assert (
        decide(
            policy, "s3:PutObject", review_key, {**tls, "aws:PrincipalArn": role_arn(ACCOUNT, "mlops-review")}
        )
        != DENY
    )
    # a custom deploy role name (environments.json deploy_role_name) is the writer then
    custom = resource_policy(target(DeployRoleName="gitops-deployer"), "DeployBucketPolicy", ACCOUNT)
    ok = {**tls, "aws:PrincipalArn": role_arn(ACCOUNT, "gitops-deployer")}
    assert decide(custom, "s3:PutObject", key, ok) != DENY
    # the orchestrator's artifact bucket: only CodePipeline (the pipeline role) stores source zips
    policy = resource_policy(orchestrator(), "ArtifactBucketPolicy", ORCH)
    zip_ = f"{ARTIFACTS}/mlops-pipeline/Source/abc.zip"
    for who in (
        "mlops-pr-check-build",
        "mlops-drift-build",
        "mlops-deploy-build-dev",
        "mlops-validate-build",
    ):
        assert decide(policy, "s3:PutObject", zip_, {**tls, "aws:PrincipalArn": role_arn(ORCH, who)}) == DENY
    assert (
        decide(policy, "s3:PutObject", zip_, {**tls, "aws:PrincipalArn": role_arn(ORCH, "mlops-pipeline")})
        != DENY
    )
    # the validate project's S3 cache (template findings): the validate build writes it, nobody else
    # (https://docs.aws.amazon.com/codebuild/latest/userguide/caching-s3.html)
    entry = f"{ARTIFACTS}/build-cache/validate/cache.zip"
    for who in ("mlops-pr-check-build", "mlops-drift-build", "mlops-deploy-build-dev", "mlops-pipeline"):
        assert decide(policy, "s3:PutObject", entry, {**tls, "aws:PrincipalArn": role_arn(ORCH, who)}) == DENY
    validate_build = {**tls, "aws:PrincipalArn": role_arn(ORCH, "mlops-validate-build")}
    assert decide(policy, "s3:PutObject", entry, validate_build) != DENY
    sts = role_statements(orchestrator(), "ValidateBuildRole", ORCH)
    assert allowed(sts, "s3:PutObject", entry)
    assert not allowed(sts, "s3:PutObject", zip_)


def test_2_the_execution_role_reads_only_what_deploy_uploaded() -> None:
    sts = role_statements(target(), "CfnExecutionRole", ACCOUNT)
    assert allowed(sts, "s3:GetObject", f"{DEPLOY_BUCKET}/lambda/f-0123456789abcdef.zip")
    assert allowed(sts, "s3:GetObject", f"{DEPLOY_BUCKET}/templates/abc.yaml")
    assert not allowed(sts, "s3:GetObject", f"{DEPLOY_BUCKET}/review/build-1/abc.yaml")


def test_2_the_deploy_roles_still_deploy() -> None:
    deploy = role_statements(target(), "DeployRole", ACCOUNT)
    build = role_statements(orchestrator(), "Stage1DeployBuildRole", ORCH)  # dev, deploying mlops-churn-dev
    for sts, account, bucket in ((deploy, ACCOUNT, DEPLOY_BUCKET), (build, ORCH, ORCH_DEPLOY_BUCKET)):
        stack = stack_arn(account, "mlops-churn-dev")
        for action in (
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DescribeChangeSet",
        ):
            assert allowed(sts, action, stack, {"cloudformation:ChangeSetName": "mlops-abc-1234"}), action
        assert allowed(sts, "s3:PutObject", f"{bucket}/templates/abc.yaml")
        ctx = {"iam:PassedToService": "cloudformation.amazonaws.com"}
        assert allowed(sts, "iam:PassRole", role_arn(account, "mlops-cfn-exec-us-east-1"), ctx)
        # after a failed rollout: which rollback alarm fired, and why the endpoint's update failed
        alarm = f"arn:aws:cloudwatch:{REGION}:{account}:alarm:mlops-churn-realtime-prod-invocation-5xx"
        assert allowed(sts, "cloudwatch:DescribeAlarmHistory", alarm)
        assert allowed(sts, "sagemaker:DescribeEndpoint", f"arn:aws:sagemaker:{REGION}:{account}:endpoint/x")


def test_2_the_deploy_roles_never_touch_a_bootstrap_stack() -> None:
    """Deploy runs merged code: it may apply pipeline stacks, never the stacks bootstrap deploys
    (the assets stack's bucket holds the templates of the next bootstrap)."""
    deploy = role_statements(target(), "DeployRole", ACCOUNT)
    builds = [role_statements(orchestrator(), f"Stage{i}DeployBuildRole", ORCH) for i in (1, 2, 3)]
    # a stage named "assets" would match <prefix>-bootstrap-assets with its own stacks' pattern
    assets = role_statements(orchestrator(Stage2Name="assets"), "Stage2DeployBuildRole", ORCH)
    for sts, account, stacks in (
        (deploy, ACCOUNT, ("mlops-target", "mlops-bootstrap-assets")),
        *[
            (b, ORCH, ("mlops-orchestrator", "mlops-target", "mlops-bootstrap-assets"))
            for b in [*builds, assets]
        ],
    ):
        for stack in stacks:
            for action in (
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteStack",
                "cloudformation:CreateChangeSet",
            ):
                assert decide(sts, action, stack_arn(account, stack)) == DENY, (account, stack, action)


# ------------------------------------------------------------------ finding 3: no role can grow itself

BOOTSTRAP_ROLES = [
    "mlops-cfn-exec-us-east-1",
    "mlops-cfn-preview-us-east-1",
    "mlops-deploy",
    "mlops-review",
    "mlops-pipeline",
    "mlops-events",
    "mlops-validate-build",
    "mlops-deploy-build-dev",
    "mlops-deploy-build-prod",
    "mlops-deploy-batch",  # a fanned-out stage's batch role: it starts any stage's deploy builds
    "mlops-pr-check-build",
    "mlops-drift-build",
    "mlops-target-ApiGatewayLogsRole-1A2B",
]
IAM_WRITES = [
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:DeleteRole",
    "iam:TagRole",
    "iam:PassRole",
]


def exec_role() -> list[dict]:
    return role_statements(target(), "CfnExecutionRole", ACCOUNT)


@pytest.mark.parametrize("name", BOOTSTRAP_ROLES)
def test_3_the_execution_role_cannot_touch_a_bootstrap_role(name: str) -> None:
    sts = exec_role()
    for action in IAM_WRITES:
        for ctx in (
            {},
            {"iam:PermissionsBoundary": BOUNDARY, "iam:PassedToService": "sagemaker.amazonaws.com"},
        ):
            assert decide(sts, action, role_arn(ACCOUNT, name), ctx) != ALLOW, (action, name, ctx)


def test_3_nor_the_boundary_policy_nor_a_role_of_another_name_for_deploy() -> None:
    sts = exec_role()
    policy = f"arn:aws:iam::{ACCOUNT}:policy/mlops-boundary-us-east-1"
    for action in (
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicy",
        "iam:DeletePolicyVersion",
    ):
        assert decide(sts, action, policy) != ALLOW
    custom = role_statements(target(DeployRoleName="gitops-deployer"), "CfnExecutionRole", ACCOUNT)
    assert (
        decide(
            custom,
            "iam:PutRolePolicy",
            role_arn(ACCOUNT, "gitops-deployer"),
            {"iam:PermissionsBoundary": BOUNDARY},
        )
        == DENY
    )


def test_3_roles_are_created_and_changed_only_with_the_boundary() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (delegation)
    sts = exec_role()
    for action in (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
    ):
        assert allowed(sts, action, PIPELINE_ROLE, {"iam:PermissionsBoundary": BOUNDARY}), action
        assert not allowed(sts, action, PIPELINE_ROLE), f"{action} without a boundary"
        other = f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"
        assert not allowed(sts, action, PIPELINE_ROLE, {"iam:PermissionsBoundary": other}), action
    assert decide(sts, "iam:DeleteRolePermissionsBoundary", PIPELINE_ROLE) == DENY


def test_3_roles_are_passed_only_to_the_services_that_use_them() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
    sts = exec_role()
    trusted = set()
    for path in PIPELINES:
        body = _parse(path.read_text())
        for res in body["Resources"].values():
            if res["Type"] == "AWS::IAM::Role":
                for st in res["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                    trusted |= {s for s in as_list(st["Principal"]["Service"]) if isinstance(s, str)}
    for service in sorted(trusted):
        assert allowed(sts, "iam:PassRole", PIPELINE_ROLE, {"iam:PassedToService": service}), service
    for service in (
        "ec2.amazonaws.com",
        "cloudformation.amazonaws.com",
        "iam.amazonaws.com",
        "ecs-tasks.amazonaws.com",
    ):
        assert not allowed(sts, "iam:PassRole", PIPELINE_ROLE, {"iam:PassedToService": service}), service
    assert not allowed(sts, "iam:PassRole", PIPELINE_ROLE), "PassRole names the service"


@pytest.mark.parametrize("path", PIPELINES, ids=[p.name for p in PIPELINES])
def test_3_every_role_of_a_pipeline_stack_carries_the_boundary(path: Path) -> None:
    body = _parse(path.read_text())
    roles = {n: r for n, r in body["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    for name, res in roles.items():
        assert res["Properties"].get("PermissionsBoundary") == {"Ref": "PermissionsBoundaryArn"}, name
    if roles:
        param = body["Parameters"]["PermissionsBoundaryArn"]
        assert param["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert param["Default"] == "/mlops/permissions-boundary-arn"
    target_body, ev = target()
    published = ev.resource("PermissionsBoundaryParameter")["Properties"]
    assert published["Name"] == "/mlops/permissions-boundary-arn" and published["Value"] == BOUNDARY


def test_3_the_boundary_holds_what_pipeline_roles_do_and_no_identity_administration() -> None:
    _, ev = target()
    boundary = _sub_account(
        ev.resource("PipelineBoundary")["Properties"]["PolicyDocument"]["Statement"], ACCOUNT
    )
    for path in PIPELINES:
        body = _parse(path.read_text())
        for name, res in body["Resources"].items():
            docs = []
            if res["Type"] == "AWS::IAM::Role":
                docs = [p["PolicyDocument"] for p in res["Properties"].get("Policies", [])]
            elif res["Type"] == "AWS::IAM::Policy":
                docs = [res["Properties"]["PolicyDocument"]]
            for action in re.findall(r'"([a-z0-9-]+:[A-Za-z0-9*]+)"', json.dumps(docs)):
                if action.startswith(("aws:", "s3:Resource", "kms:ViaService", "iam:PassedToService")):
                    continue  # condition keys, not actions
                assert action_granted_somewhere(boundary, action), f"{path.name} {name}: {action}"
    for action in (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:CreateUser",
        "sts:AssumeRole",
        "organizations:LeaveOrganization",
    ):
        assert not allowed(boundary, action, PIPELINE_ROLE), action


# What the handlers of our resource types call, on what: tests/repo/test_handler_permissions.py.


def test_3_nothing_the_execution_role_may_do_everywhere_is_an_identity_action() -> None:
    # Issue 15 moved account-wide handler calls to Resource "*": none of them may administer
    # identities, or the role could widen itself around the boundary conditions above.
    everywhere = [
        a
        for st in exec_role()
        if st["Effect"] == "Allow" and "*" in as_list(st["Resource"])
        for a in as_list(st["Action"])
    ]
    assert len(everywhere) > 20
    identity = [
        a for a in everywhere if a.split(":")[0].lower() in ("iam", "sts", "organizations", "account")
    ]
    assert identity == []


# What stays broad in the execution role, each with its reason (docs/security-model.md).
BROAD = {
    "s3:GetBucket*": "bucket reads of data-lake buckets whose names the configs choose",
    "s3:PutBucket*": "bucket settings of those buckets; no object writes",
    "s3:DeleteBucket*": "idem",
    "kms:GenerateDataKey*": "keys of our stacks (key/* in the region)",
    "kms:ReEncrypt*": "idem",
}


def test_3_no_service_wide_grant_remains_in_the_execution_role_but_the_listed_ones() -> None:
    wide = sorted(
        {
            a
            for st in exec_role()
            if st["Effect"] == "Allow"
            for a in as_list(st.get("Action", []))
            if "*" in a
        }
    )
    assert wide == sorted(BROAD), "a new wildcard needs its reason in BROAD and docs/security-model.md"


# ------------------------------------------------------------------ finding 4: confused deputies


def _service_trusts():
    orch, tgt = orchestrator(), target()
    for label, template in (("orchestrator", orch), ("target-account", tgt)):
        body, ev = template
        for name, res in body["Resources"].items():
            if res["Type"] == "AWS::IAM::Role" and ev.present(name):
                yield label, name, trust(template, name)
    for path in PIPELINES:
        body = _parse(path.read_text())
        for name, res in body["Resources"].items():
            if res["Type"] == "AWS::IAM::Role":
                yield path.name, name, res["Properties"]["AssumeRolePolicyDocument"]["Statement"]


def test_4_every_service_trust_names_the_account_it_serves() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    unguarded = []
    for where, role, statements in _service_trusts():
        for st in statements:
            if "Service" not in st.get("Principal", {}):
                continue
            keys = {k.lower() for pairs in st.get("Condition", {}).values() for k in pairs}
            if not keys & {"aws:sourceaccount", "aws:sourcearn"}:
                unguarded.append(f"{where} {role}")
    assert unguarded == []


def test_4_a_trust_on_a_key_aws_does_not_document_is_not_relied_on() -> None:
    # CloudFormation assuming a service role: no aws:SourceAccount documented
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html), so
    # the condition holds when the key is absent (IfExists), and a wrong account is still refused.
    for role in ("CfnExecutionRole", "CfnPreviewRole"):
        (st,) = trust(target(), role)
        assert list(st["Condition"]) == ["StringEqualsIfExists"], role
        cond = _sub_account([st], ACCOUNT)[0]["Condition"]
        from tests.repo.iam_eval import conditions_hold

        assert conditions_hold(cond, {})
        assert not conditions_hold(cond, {"aws:SourceAccount": "999999999999"})


# ---------------------------------------------------------------- an attacker's review (after issue 13)
# A template change that passed review runs with the execution role; a pipeline role is whatever its
# template grants, capped by the boundary. Neither may reach what guards deploy.

GUARDED_BUCKETS = [
    DEPLOY_BUCKET,
    f"arn:aws:s3:::mlops-pipeline-{ACCOUNT}-{REGION}",
    f"arn:aws:s3:::mlops-bootstrap-{ACCOUNT}-{REGION}",  # what the next bootstrap deploys
]
BUCKET_GUARD_WRITES = [
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutReplicationConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketAcl",
    "s3:PutBucketPublicAccessBlock",
    "s3:DeleteBucket",
]


def boundary() -> list[dict]:
    _, ev = target()
    return _sub_account(ev.resource("PipelineBoundary")["Properties"]["PolicyDocument"]["Statement"], ACCOUNT)


@pytest.mark.parametrize("who", ["execution role", "boundary"])
def test_neither_can_replace_the_policy_or_settings_of_the_buckets_deploy_reads(who: str) -> None:
    sts = exec_role() if who == "execution role" else boundary()
    for bucket in GUARDED_BUCKETS:
        for action in BUCKET_GUARD_WRITES:
            assert decide(sts, action, bucket) == DENY, (action, bucket)
        for action in ("s3:PutObject", "s3:ReplicateObject", "s3:DeleteObject"):
            assert decide(sts, action, f"{bucket}/lambda/x.zip") == DENY, (action, bucket)
    assert decide(sts, "s3:CreateBucket", f"arn:aws:s3:::mlops-deploy-{ACCOUNT}-x") == DENY
    if who == "execution role":  # a lake's own bucket is still the execution role's to configure
        assert allowed(sts, "s3:PutBucketPolicy", "arn:aws:s3:::mlops-churn-lake-dev")


def test_no_role_of_the_prefix_writes_the_templates_bootstrap_deploys() -> None:
    """The bootstrap-assets bucket's own policy: its objects become the orchestrator and target stacks."""
    assets = evaluated(
        REPO_ROOT / "cloudformation" / "bootstrap-assets.yaml", ACCOUNT, (("StackPrefix", "mlops"),)
    )
    policy = resource_policy(assets, "TemplateBucketPolicy", ACCOUNT)
    key = f"arn:aws:s3:::mlops-bootstrap-{ACCOUNT}-{REGION}/templates/orchestrator-abc.yaml"
    tls = {"aws:SecureTransport": "true"}
    for who in (
        "mlops-deploy",
        "mlops-cfn-exec-us-east-1",
        "mlops-deploy-build-prod",
        "mlops-churn-dev-JobRole-X",
    ):
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutBucketPolicy"):
            assert decide(policy, action, key, {**tls, "aws:PrincipalArn": role_arn(ACCOUNT, who)}) == DENY, (
                who
            )
    # whoever runs bootstrap (an administrator, outside the prefix) is not denied; without TLS nobody
    admin = {"aws:PrincipalArn": role_arn(ACCOUNT, "Admin")}
    assert decide(policy, "s3:PutObject", key, {**tls, **admin}) != DENY
    assert decide(policy, "s3:GetObject", key, {"aws:SecureTransport": "false", **admin}) == DENY


@pytest.mark.parametrize("who", ["execution role", "boundary"])
def test_neither_can_rewrite_the_parameters_deploy_reads(who: str) -> None:
    sts = exec_role() if who == "execution role" else boundary()
    for name in ("cfn-exec-role-arn", "artifact-bucket", "permissions-boundary-arn", "cfn-preview-role-arn"):
        arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/mlops/{name}"
        for action in ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:LabelParameterVersion"):
            assert decide(sts, action, arn) == DENY, (action, name)


def test_no_managed_policy_is_attached_to_any_role() -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    sts = exec_role()
    assert (
        decide(
            sts,
            "iam:AttachRolePolicy",
            PIPELINE_ROLE,
            {"iam:PermissionsBoundary": BOUNDARY, "iam:PolicyARN": admin},
        )
        == DENY
    )


def test_a_pipeline_role_never_reaches_stacks_builds_or_bootstrap_roles() -> None:
    sts = boundary()
    stack = stack_arn(ACCOUNT, "mlops-churn-prod")
    for action in (
        "cloudformation:UpdateStack",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:CreateChangeSet",
    ):
        assert decide(sts, action, stack) == DENY, action
    for project in ("validate", "deploy-dev", "deploy-prod", "pr-check", "drift"):
        arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/mlops-{project}"
        assert decide(sts, "codebuild:StartBuild", arn) == DENY, project
    for role in (
        "mlops-cfn-exec-us-east-1",
        "mlops-deploy-build-dev",
        "mlops-deploy-batch",
        "mlops-deploy",
        "mlops-pipeline",
    ):
        for service in ("cloudformation.amazonaws.com", "codebuild.amazonaws.com", "sagemaker.amazonaws.com"):
            ctx = {"iam:PassedToService": service}
            assert decide(sts, "iam:PassRole", role_arn(ACCOUNT, role), ctx) == DENY, (role, service)
    assert not allowed(sts, "iam:PassRole", PIPELINE_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert allowed(sts, "iam:PassRole", PIPELINE_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"})


# ------------------------------------------------------- finding 5: one deploy build per stage
# Deploy-dev runs code merged to main before any approval: its build role must reach dev alone.
# dev lives in the orchestrator's account, staging and prod in ACCOUNT (one deploy role there).
STAGES = {1: "dev", 2: "staging", 3: "prod"}
SPLIT = {
    "Stage2DeployRoleArn": role_arn(ACCOUNT, "mlops-deploy"),
    "Stage3DeployRoleArn": role_arn(ACCOUNT, "mlops-deploy"),
}


def stage_build(slot: int, **params: str) -> list[dict]:
    return role_statements(orchestrator(**{**SPLIT, **params}), f"Stage{slot}DeployBuildRole", ORCH)


def test_5_a_remote_stages_build_has_no_deploy_rights_in_the_orchestrators_account() -> None:
    """A stage in another account deploys through that account's deploy role alone. Otherwise its
    build could create a new <prefix>-x-<stage> stack here with the shared execution role, and with
    it resources that reach a stage living here (an attacker's review, session 4)."""
    for slot in STAGES:
        sts = stage_build(slot, **{f"Stage{slot}DeployRoleArn": role_arn(ACCOUNT, "mlops-deploy")})
        stack = stack_arn(ORCH, f"mlops-evil-{STAGES[slot]}")
        for action in ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"):
            assert not allowed(sts, action, stack), (slot, action)
        ctx = {"iam:PassedToService": "cloudformation.amazonaws.com"}
        assert not allowed(sts, "iam:PassRole", role_arn(ORCH, "mlops-cfn-exec-us-east-1"), ctx), slot
        assert not allowed(sts, "s3:PutObject", f"{ORCH_DEPLOY_BUCKET}/templates/abc.yaml"), slot
        assert allowed(sts, "sts:AssumeRole", role_arn(ACCOUNT, "mlops-deploy")), slot


@pytest.mark.parametrize("slot", sorted(STAGES))
def test_5_a_stage_build_applies_only_its_own_stages_stacks_here(slot: int) -> None:
    """Pipeline stacks are <prefix>-<id>-<stage> (names.stack_name); change-set actions are
    authorized on the stack ARN (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html)."""
    sts = stage_build(slot)
    remote = f"Stage{slot}DeployRoleArn" in SPLIT  # its stacks live in another account
    writes = (
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteStack",
        "cloudformation:ContinueUpdateRollback",
    )
    for stage in STAGES.values():
        for action in writes:
            verdict = allowed(sts, action, stack_arn(ORCH, f"mlops-x-{stage}"))
            assert verdict == (stage == STAGES[slot] and not remote), (STAGES[slot], action, stage)
    # a pipeline id ending in another stage's name is still that stage's stack
    mine = stack_arn(ORCH, f"mlops-x-prod-{STAGES[slot]}")
    assert allowed(sts, "cloudformation:ExecuteChangeSet", mine) is not remote
    # reads (plan, status) stay across stages; every stage's build has the builds' basics
    assert allowed(sts, "cloudformation:DescribeStackEvents", stack_arn(ORCH, "mlops-x-prod"))
    alarm = f"arn:aws:cloudwatch:{REGION}:{ORCH}:alarm:mlops-x-{STAGES[slot]}-invocation-5xx"
    assert allowed(sts, "cloudwatch:DescribeAlarmHistory", alarm)
    group = f"arn:aws:logs:{REGION}:{ORCH}:log-group:/aws/codebuild/mlops-deploy-{STAGES[slot]}:log-stream:x"
    assert allowed(sts, "logs:PutLogEvents", group)


@pytest.mark.parametrize("slot", sorted(STAGES))
def test_5_a_stage_build_assumes_only_the_deploy_role_of_its_own_account(slot: int) -> None:
    prod_role = role_arn("333333333333", "mlops-deploy")
    sts = stage_build(slot, Stage3DeployRoleArn=prod_role)
    own = {1: None, 2: role_arn(ACCOUNT, "mlops-deploy"), 3: prod_role}[slot]
    for target_role in (role_arn(ACCOUNT, "mlops-deploy"), prod_role, role_arn(ORCH, "mlops-deploy")):
        assert allowed(sts, "sts:AssumeRole", target_role) == (target_role == own), (slot, target_role)


@pytest.mark.parametrize("slot", sorted(STAGES))
def test_5_a_stage_build_holds_only_its_own_stages_lease(slot: int) -> None:
    sts = stage_build(slot)
    remote = f"Stage{slot}DeployRoleArn" in SPLIT  # its lease is in its own account's bucket
    for stage in STAGES.values():
        key = f"{ORCH_DEPLOY_BUCKET}/locks/{stage}.json"
        for action in ("s3:PutObject", "s3:DeleteObject"):
            expected = stage == STAGES[slot] and not remote
            assert allowed(sts, action, key) == expected, (STAGES[slot], action, stage)
    assert allowed(sts, "s3:PutObject", f"{ORCH_DEPLOY_BUCKET}/lambda/f-0123456789abcdef.zip") is not remote
    assert not allowed(sts, "s3:PutObject", f"{ORCH_DEPLOY_BUCKET}/review/build-1/abc.yaml")


def test_5_a_stage_accounts_deploy_role_trusts_only_the_builds_of_its_stages() -> None:
    """The role trusts the orchestrator account, narrowed by aws:PrincipalArn to the build roles
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn)."""
    builds = f"{role_arn(ORCH, 'mlops-deploy-build-staging')},{role_arn(ORCH, 'mlops-deploy-build-prod')}"
    statements = trust(target(DeployBuildRoleArns=builds), "DeployRole")
    role = role_arn(ACCOUNT, "mlops-deploy")
    for stage in ("dev", "staging", "prod"):
        ctx = {"aws:PrincipalArn": role_arn(ORCH, f"mlops-deploy-build-{stage}")}
        assert allowed(statements, "sts:AssumeRole", role, ctx) == (stage != "dev"), stage
    assert not allowed(statements, "sts:AssumeRole", role, {"aws:PrincipalArn": role_arn(ORCH, "admin")})


def test_5_a_deploy_bucket_takes_writes_only_from_the_builds_of_its_stages() -> None:
    key = "templates/abc.yaml"
    tls = {"aws:SecureTransport": "true"}
    # a stage account (prod): its deploy role and prod's build; not dev's build
    policy = resource_policy(target(), "DeployBucketPolicy", ACCOUNT)
    for who, ok in (
        (role_arn(ACCOUNT, "mlops-deploy"), True),
        (role_arn(ORCH, "mlops-deploy-build-prod"), True),
        (role_arn(ORCH, "mlops-deploy-build-dev"), False),
    ):
        ctx = {**tls, "aws:PrincipalArn": who}
        assert (decide(policy, "s3:PutObject", f"{DEPLOY_BUCKET}/{key}", ctx) != DENY) == ok, who
    # the orchestrator's own account, where dev lives: dev's build writes, staging's does not
    own = evaluated(
        TARGET,
        ORCH,
        tuple(
            sorted(
                {
                    "OrchestratorAccountId": ORCH,
                    "DeployBuildRoleArns": role_arn(ORCH, "mlops-deploy-build-dev"),
                    "ReviewBuildRoleArns": role_arn(ORCH, "mlops-pr-check-build"),
                }.items()
            )
        ),
    )
    policy = resource_policy(own, "DeployBucketPolicy", ORCH)
    for who, ok in (
        (role_arn(ORCH, "mlops-deploy-build-dev"), True),
        (role_arn(ORCH, "mlops-deploy-build-staging"), False),
    ):
        ctx = {**tls, "aws:PrincipalArn": who}
        assert (decide(policy, "s3:PutObject", f"{ORCH_DEPLOY_BUCKET}/{key}", ctx) != DENY) == ok, who
