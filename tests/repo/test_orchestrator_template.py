"""orchestrator.yaml and target-account.yaml at template level: what moto ignores (CodeCommit,
CodeBuild, CodePipeline, subscriptions) or can't judge (IAM scopes, event patterns) is asserted
here on the template as CloudFormation would evaluate it for given parameters."""

from __future__ import annotations

import json
import os
import re
import shlex
from unittest import mock

import pytest
import yaml

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.cli import build_parser
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.templates import _parse
from mlops_gitops.ops.bootstrap import ORCHESTRATOR_TEMPLATE, TARGET_TEMPLATE, orchestrator_parameters
from tests.conftest import REPO_ROOT
from tests.repo.iam_eval import as_list

pytestmark = pytest.mark.repo

TEXT = (REPO_ROOT / ORCHESTRATOR_TEMPLATE).read_text()
BODY = _parse(TEXT)
TARGET = _parse((REPO_ROOT / TARGET_TEMPLATE).read_text())
BUILDSPECS = {p.name: yaml.safe_load(p.read_text()) for p in (REPO_ROOT / "buildspecs").glob("*.yml")}
INLINE = "pr-check (inline in orchestrator.yaml)"
BUILDSPECS[INLINE] = yaml.safe_load(BODY["Resources"]["PrCheckProject"]["Properties"]["Source"]["BuildSpec"])
TARGET_PARAMS = {
    "OrchestratorAccountId": "222222222222",
    "DeployBuildRoleArns": "arn:aws:iam::222222222222:role/mlops-deploy-build-prod",
    "ReviewBuildRoleArns": "arn:aws:iam::222222222222:role/mlops-pr-check-build,arn:aws:iam::222222222222:role/mlops-drift-build",
}


NAME_KEYS = ("LogGroupName", "RoleName", "TopicName", "Name", "BucketName")


def evaluate(**params: str) -> Evaluator:
    """The template as CloudFormation evaluates it; a Ref to a resource named by one of its own
    properties (log groups, roles...) gives that name, others a <Logical.Attr> placeholder."""
    ev = Evaluator(BODY, parameter_values(BODY, params))

    def resources(name: str, attr: str | None):
        props = BODY["Resources"][name].get("Properties", {})
        key = next((k for k in NAME_KEYS if k in props), None)
        return ev(props[key]) if attr is None and key else f"<{name}{'.' + attr if attr else ''}>"

    ev.resources = resources
    return ev


def stages(ev: Evaluator) -> list[dict]:
    return ev.resource("Pipeline")["Properties"]["Stages"]


def projects(ev: Evaluator) -> dict[str, dict]:
    return {
        r["Properties"]["Name"]: r["Properties"]
        for name, r in BODY["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and ev.present(name)
        for r in [ev.resource(name)]
    }


def test_bootstrap_templates_fit_how_bootstrap_sends_them() -> None:
    """The orchestrator and target-account templates go through the assets bucket (TemplateURL,
    1 MB); the assets template, which makes that bucket, goes as TemplateBody (51,200 bytes)
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html)."""
    root = REPO_ROOT / "cloudformation"
    assert len(TEXT.encode()) <= 1_048_576
    assert len((root / "target-account.yaml").read_bytes()) <= 1_048_576
    assert len((root / "bootstrap-assets.yaml").read_bytes()) <= 51_200


def test_default_stages_run_in_promotion_order_with_approvals() -> None:
    assert [s["Name"] for s in stages(evaluate())] == [
        "Source",
        "Validate",
        "Deploy-dev",
        "Approve-staging",
        "Deploy-staging",
        "Approve-prod",
        "Deploy-prod",
    ]


def test_stages_and_approvals_follow_environments_json() -> None:
    env = Environments.from_data(
        {"stack_prefix": "ml", "stages": [{"name": "test"}, {"name": "live", "approval": False}]}
    )
    params = orchestrator_parameters(env)
    ev = evaluate(**params)
    assert [s["Name"] for s in stages(ev)] == ["Source", "Validate", "Deploy-test", "Deploy-live"]
    for stage in stages(ev)[2:]:
        (action,) = stage["Actions"]
        # each stage its own project (and build role): merged code in Deploy-test never holds live's role
        assert action["Configuration"]["ProjectName"] == f"ml-deploy-{stage['Name'][7:]}"
        variables = json.loads(action["Configuration"]["EnvironmentVariables"])
        assert variables == [
            {"name": "MLOPS_STAGE", "value": stage["Name"][7:], "type": "PLAINTEXT"},
            # the execution's id names a fanned-out deploy's batch (ops/shards.batch_id)
            {"name": "MLOPS_BATCH_ID", "value": "#{codepipeline.PipelineExecutionId}", "type": "PLAINTEXT"},
        ]
        assert action["InputArtifacts"] == [{"Name": "Source"}]


def test_source_is_codecommit_started_by_the_push_rule_or_a_connection() -> None:
    (source,) = stages(evaluate())[0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeCommit"
    assert source["Configuration"]["PollForSourceChanges"] == "false", "the push rule starts it"
    arn = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b"
    ev = evaluate(SourceProvider="CodeStarSourceConnection", ConnectionArn=arn, FullRepositoryId="org/ml")
    (source,) = stages(ev)[0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {
        "ConnectionArn": arn,
        "FullRepositoryId": "org/ml",
        "BranchName": "main",
    }
    assert not ev.present("Repository") and not ev.present("PushRule")
    assert ev.resource("ConnectionPolicy")["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] == arn


def test_every_project_runs_a_buildspec_of_the_repository_with_the_variables_it_reads() -> None:
    ev = evaluate()
    found = projects(ev)
    deploys = {"mlops-deploy-dev", "mlops-deploy-staging", "mlops-deploy-prod"}  # one per stage
    assert set(found) == {"mlops-validate", "mlops-pr-check", "mlops-drift"} | deploys
    for stage in ("dev", "staging", "prod"):
        deploy = found[f"mlops-deploy-{stage}"]
        assert (
            deploy["ServiceRole"]
            == f"<Stage{['dev', 'staging', 'prod'].index(stage) + 1}DeployBuildRole.Arn>"
        )
    files = {p["Source"]["BuildSpec"].split("/")[-1] for n, p in found.items() if n != "mlops-pr-check"}
    # deploy-shards-<N>.yml and deploy-summary.yml: a fanned-out deploy's (tests/repo/test_deploy_batch.py)
    batch = {n for n in BUILDSPECS if n.startswith("deploy-shards-")} | {"deploy-summary.yml"}
    assert files | {INLINE} | batch == set(BUILDSPECS), "every buildspec file is used, and only those"
    pipeline_vars = {
        v["name"]
        for s in stages(ev)
        for a in s["Actions"]
        if "EnvironmentVariables" in a.get("Configuration", {})
        for v in json.loads(a["Configuration"]["EnvironmentVariables"])
    }
    rule_vars = set(re.findall(r'"name": "(\w+)"', json.dumps(ev.resource("PullRequestRule"))))
    for name, project in found.items():
        path = project["Source"]["BuildSpec"]
        if name == "mlops-pr-check":
            spec = BUILDSPECS[INLINE]
        else:
            assert (REPO_ROOT / path).is_file(), f"{name}: {path} is missing"
            spec = BUILDSPECS[path.split("/")[-1]]
        provided = {v["Name"] for v in project["Environment"].get("EnvironmentVariables", [])}
        provided |= pipeline_vars if project["Source"]["Type"] == "CODEPIPELINE" else rule_vars
        used = set(re.findall(r"\$\{?(MLOPS_\w+)", json.dumps(spec)))
        assert used <= provided, f"{name}: {sorted(used - provided)} come from nowhere"
        assert project["LogsConfig"]["CloudWatchLogs"]["GroupName"] == f"/aws/codebuild/{name}"


@pytest.mark.parametrize("name", sorted(BUILDSPECS))
def test_buildspecs_are_one_install_line_and_one_mlopsctl_line(name: str) -> None:
    spec = BUILDSPECS[name]
    assert spec["version"] == 0.2
    assert set(spec["phases"]) == {"install", "build"}
    (install,) = spec["phases"]["install"]["commands"]
    if name == INLINE:  # mlopsctl from the deployed branch's head: never code of the pull request
        assert install.startswith('test "$(aws codecommit get-pull-request ')  # tests/repo/test_pr_path.py
        assert install.endswith(
            "python -I -m pip install --quiet --disable-pip-version-check /tmp/mlops-trusted"
        )
    else:
        assert "pip install" in install and install.startswith("command -v mlopsctl")
    (line,) = spec["phases"]["build"]["commands"]
    argv = shlex.split(re.sub(r"\$\{?(\w+)\}?", lambda m: f"x{m.group(1).lower()}", line))
    assert argv[0] == "mlopsctl"
    # The line is one the CLI accepts: every verb and flag exists (numbers stand in for numeric ones).
    argv = ["4" if a in ("xmlops_max_parallel", "xmlops_shards") else a for a in argv[1:]]
    build_parser().parse_args(argv)
    assert set(spec) <= {"version", "phases", "reports", "cache", "batch"}
    assert "batch" not in spec or name.startswith("deploy-shards-"), name
    if "cache" in spec:  # only mlopsctl's own cache (template findings), where mlopsctl keeps it
        assert spec["cache"] == {"paths": ["/root/.cache/mlops-gitops/**/*"]}, name


def test_validate_keeps_the_template_findings_cache_across_builds() -> None:
    """CodeBuild runs the build as root (HOME=/root), so mlopsctl keeps its cache, the template
    findings among it, under /root/.cache/mlops-gitops: the validate buildspec lists that directory
    in its cache paths (restored when the project has a cache).
    https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.cache"""
    from mlops_gitops.awsdata import cache_dir
    from mlops_gitops.core import lint

    with mock.patch.dict(os.environ, {"HOME": "/root"}, clear=True):
        where, lint_entry = cache_dir(), lint._cache_file("0" * 64)
    assert lint_entry.is_relative_to(where)
    assert BUILDSPECS["validate.yml"]["cache"] == {"paths": [f"{where}/**/*"]}
    # and the project keeps the paths between builds in S3, across build hosts (a LOCAL cache is one
    # host's: https://docs.aws.amazon.com/codebuild/latest/userguide/caching-s3.html)
    ev = evaluate()
    (validate,) = [p for name, p in projects(ev).items() if name.endswith("-validate")]
    bucket = ev.resource("ArtifactBucket")["Properties"]["BucketName"]
    assert validate["Cache"] == {"Type": "S3", "Location": f"{bucket}/build-cache/validate"}


def test_the_pipeline_leaves_deploy_parallelism_to_environments_json() -> None:
    """environments.json's deploy.max_parallel (default 32) decides; no flag in the buildspec."""
    assert "--max-parallel" not in json.dumps(BUILDSPECS["deploy.yml"])
    for name, project in projects(evaluate()).items():
        names = {v["Name"] for v in project["Environment"].get("EnvironmentVariables", [])}
        assert "MLOPS_MAX_PARALLEL" not in names, name


def test_rules_match_the_events_they_are_for() -> None:
    from moto.events.models import EventPattern  # EventBridge's matching rules, as moto implements them

    ev = evaluate()
    repo_arn = "arn:aws:codecommit:us-east-1:123456789012:mlops-gitops"

    def matches(rule: str, event: dict) -> bool:
        pattern = ev.resource(rule)["Properties"]["EventPattern"]
        return EventPattern.load(json.dumps(pattern)).matches_event(event)

    push = {
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Repository State Change",
        "resources": [repo_arn],
        "detail": {"event": "referenceUpdated", "referenceType": "branch", "referenceName": "main"},
    }
    assert matches("PushRule", push)
    assert not matches("PushRule", {**push, "detail": {**push["detail"], "referenceName": "feature"}})
    assert not matches("PushRule", {**push, "detail": {**push["detail"], "referenceType": "tag"}})
    pr = {
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Pull Request State Change",
        "resources": [repo_arn],
        "detail": {
            "event": "pullRequestSourceBranchUpdated",
            "pullRequestStatus": "Open",
            "destinationReference": "refs/heads/main",
        },
    }
    assert matches("PullRequestRule", pr)
    assert not matches(
        "PullRequestRule", {**pr, "detail": {**pr["detail"], "event": "pullRequestStatusChanged"}}
    )
    failed_build = {
        "source": "aws.codebuild",
        "detail-type": "CodeBuild Build State Change",
        "detail": {"project-name": "mlops-drift", "build-status": "FAILED"},
    }
    assert matches("BuildFailureRule", failed_build)
    assert not matches(
        "BuildFailureRule", {**failed_build, "detail": {"project-name": "other", "build-status": "FAILED"}}
    )
    assert matches(
        "PipelineFailureRule",
        {
            "source": "aws.codepipeline",
            "detail-type": "CodePipeline Pipeline Execution State Change",
            "detail": {"pipeline": "mlops-pipeline", "state": "FAILED"},
        },
    )


def test_the_pull_request_rule_hands_the_build_its_pull_request() -> None:
    target = evaluate().resource("PullRequestRule")["Properties"]["Targets"][0]
    transformer = target["InputTransformer"]
    filled = transformer["InputTemplate"]
    for key, value in {"pr": '"7"', "src": '"abc"', "dst": '"def"', "repo": '"mlops-gitops"'}.items():
        filled = filled.replace(f"<{key}>", value)
    request = json.loads(filled)  # what StartBuild receives
    assert request["sourceVersion"] == "abc"
    assert {v["name"]: v["value"] for v in request["environmentVariablesOverride"]} == {
        "MLOPS_PR_ID": "7",
        "MLOPS_SOURCE_COMMIT": "abc",
        "MLOPS_DESTINATION_COMMIT": "def",
        "MLOPS_REPOSITORY": "mlops-gitops",
    }
    assert transformer["InputPathsMap"]["pr"] == "$.detail.pullRequestId"


def _statements(ev: Evaluator, body=BODY) -> list[tuple[str, dict]]:
    """(owner, statement) of every role's and managed policy's statements. A managed policy that
    holds part of one role's own policy (split off for IAM's inline-size quota,
    tests/repo/test_iam_quotas.py: CfnExecutionGuardsPolicy of CfnExecutionRole) counts as that
    role's: attached to it alone, and named after it."""
    out = []
    for name, resource in body["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy") or not ev.present(name):
            continue
        props = ev.resource(name)["Properties"]
        docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        docs += [props["PolicyDocument"]] if "PolicyDocument" in props else []
        owner = name
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and len(props.get("Roles", [])) == 1:
            role = str(props["Roles"][0]).strip("<>")
            if role.endswith("Role") and name.startswith(role.removesuffix("Role")):
                owner = role
        out += [(owner, s) for d in docs for s in d["Statement"]]
    return out


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("body", [BODY, TARGET], ids=["orchestrator", "target-account"])
def test_roles_manage_only_our_stacks_and_pass_only_our_roles(body) -> None:
    params = {
        "Stage3DeployRoleArn": "arn:aws:iam::111111111111:role/mlops-deploy",
        "TargetReviewRoleArns": "arn:aws:iam::111111111111:role/mlops-review",
    }
    stage_of = {
        "Stage1DeployBuildRole": "dev",
        "Stage2DeployBuildRole": "staging",
        "Stage3DeployBuildRole": "prod",
    }
    if body is TARGET:
        params = TARGET_PARAMS
    ev = Evaluator(body, parameter_values(body, params))
    assume: dict[str, list] = {}
    reads = ("cloudformation:Describe", "cloudformation:List", "cloudformation:GetTemplateSummary")
    for name, st in _statements(ev, body):
        if st["Effect"] != "Allow":
            continue
        actions = _as_list(st.get("Action", []))  # NotAction: the boundary, a ceiling
        resources = _as_list(st["Resource"])
        for action in actions:
            if action.startswith("cloudformation:") and not action.startswith(reads):
                stacks = (
                    f"mlops-*-{stage_of[name]}" if name in stage_of else "mlops-*"
                )  # a stage's own stacks
                assert resources == [f"arn:aws:cloudformation:*:123456789012:stack/{stacks}/*"], name
            if action == "iam:PassRole" and name not in (
                "CfnExecutionRole",
                "PipelineBoundary",
            ):  # previews pass a read-only role
                preview = name in ("PrCheckBuildRole", "ReviewRole")
                role = "mlops-cfn-preview-*" if preview else "mlops-cfn-exec-*"
                assert resources == [f"arn:aws:iam::123456789012:role/{role}"], name
            if action == "sts:AssumeRole":
                assume[name] = resources
            assert not (action in ("*",) or action.endswith(":*")) or resources != ["*"], (name, action)
    if body is BODY:  # who may assume what in the stage accounts
        assert assume == {  # only prod lives in the other account: only prod's build may go there
            "Stage3AccountPolicy": ["arn:aws:iam::111111111111:role/mlops-deploy"],
            "StageReviewPolicy": ["arn:aws:iam::111111111111:role/mlops-review"],
        }
        roles = {n: ev.resource(n)["Properties"]["Roles"] for n in assume}
        assert roles["Stage3AccountPolicy"] == ["<Stage3DeployBuildRole>"]
        assert roles["StageReviewPolicy"] == ["<PrCheckBuildRole>", "<DriftBuildRole>"], (
            "pr-check and drift run pull-request code: never the deploy role"
        )


@pytest.mark.parametrize("slot", [1, 2, 3])
def test_the_deploy_builds_can_never_touch_the_bootstrap_stacks(slot: int) -> None:
    role = f"Stage{slot}DeployBuildRole"
    statements = [s for n, s in _statements(evaluate()) if n == role and s["Effect"] == "Deny"]
    (deny,) = statements
    assert deny["Action"] == "cloudformation:*"
    from mlops_gitops import names

    # every stack bootstrap deploys, the provisioning API's included (a stage named 'api' would
    # otherwise match stack/mlops-*-api)
    assert set(deny["Resource"]) == {
        f"arn:aws:cloudformation:*:123456789012:stack/{stack}/*" for stack in names.bootstrap_stacks("mlops")
    }


def test_stage_account_roles_trust_only_their_build_roles_and_come_once_per_account() -> None:
    ev = Evaluator(TARGET, parameter_values(TARGET, TARGET_PARAMS))
    (trust,) = ev.resource("DeployRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert trust["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::222222222222:role/mlops-deploy-build-prod"
    ]
    (trust,) = ev.resource("ReviewRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["ArnLike"]["aws:PrincipalArn"] == TARGET_PARAMS["ReviewBuildRoleArns"].split(
        ","
    )
    review_actions = {
        a
        for n, st in _statements(ev, TARGET)
        if n in ("ReviewRole", "StageReadPolicy") and st["Effect"] == "Allow"
        for a in _as_list(st["Action"])
    }
    assert not review_actions & {"cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack"}
    assert ev.resource("CfnExecutionRole")["Properties"]["RoleName"] == "mlops-cfn-exec-us-east-1"
    second_region = Evaluator(
        TARGET, parameter_values(TARGET, {**TARGET_PARAMS, "MakeAccountRoles": "false"})
    )
    assert not second_region.present("DeployRole") and not second_region.present("ReviewRole")
    same = Evaluator(
        TARGET, parameter_values(TARGET, {**TARGET_PARAMS, "OrchestratorAccountId": "123456789012"})
    )
    assert not same.present("DeployRole"), "in the orchestrator's own account the builds deploy directly"


def test_optional_parts_follow_their_parameters() -> None:
    ev = evaluate()
    assert not any(
        ev.present(n)
        for n in (
            "Trail",
            "EmailSubscription",
            "RegistryGroup1Resource",
            "StageReviewPolicy",
            "Stage1AccountPolicy",
        )
    )
    ev = evaluate(
        EnableCloudTrail="true",
        NotificationEmail="a@example.com",
        RegistryGroup1="churn",
        Stage3DeployRoleArn="arn:aws:iam::111111111111:role/mlops-deploy",
    )
    assert ev.resource("Trail")["Properties"]["EnableLogFileValidation"] is True
    assert ev.resource("EmailSubscription")["Properties"]["Endpoint"] == "a@example.com"
    assert ev.resource("RegistryGroup1Resource")["DeletionPolicy"] == "RetainExceptOnCreate"
    assert not ev.present("RegistryGroup2Resource")
    key = ev.resource("Key")["Properties"]
    assert key["EnableKeyRotation"] is True


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return {node["Ref"]}
        return set().union(*(_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def test_the_first_execution_runs_with_its_managed_policies_attached() -> None:
    """CodePipeline starts an execution when the pipeline is created: every managed policy attached
    (through its Roles) to the pipeline's role or to the roles of its first builds (validate, the
    first stage's deploy) is ordered before the pipeline — in DependsOn, or for a conditional policy a
    Ref under Fn::If in the pipeline's Metadata — so that no first build runs before its permissions.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency"""
    resources = BODY["Resources"]
    pipeline = resources["Pipeline"]
    first = {"PipelineRole", "ValidateBuildRole", "Stage1DeployBuildRole"}
    needed = {
        name
        for name, res in resources.items()
        if res["Type"] == "AWS::IAM::ManagedPolicy" and _refs(res["Properties"].get("Roles", [])) & first
    }
    ordered = set(as_list(pipeline.get("DependsOn", []))) | _refs(pipeline.get("Metadata", {}))
    assert needed, "no managed policy found: the test reads the template wrongly"
    assert needed <= ordered, sorted(needed - ordered)
    for name in ordered & needed:
        if "Condition" in resources[name]:  # DependsOn on a resource that may not exist fails
            assert name not in as_list(pipeline.get("DependsOn", [])), name
