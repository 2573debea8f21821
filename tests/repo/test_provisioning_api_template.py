"""The provisioning API's companion stack (cloudformation/provisioning-api.yaml), evaluated offline
(cfn_eval) and its role's policy held to least privilege with the policy evaluator (iam_eval):
moto neither runs API Gateway's IAM auth nor evaluates conditions, so these are the checks."""

from __future__ import annotations

import importlib
import re

import pytest

from mlops_gitops import lambdas
from mlops_gitops.lambdas.provisioning_api import settings_from
from tests.provisioning_support import ACCOUNT, REGION, REPOSITORY_ARN, TEMPLATE, evaluated, role_statements
from tests.repo.iam_eval import action_granted_somewhere, allowed, as_list

pytestmark = pytest.mark.repo

OTHER_REPOSITORY = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:someone-elses-repo"


def stack(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0f1e2d3c"


def refs(branch: str) -> dict[str, str]:
    return {"codecommit:References": f"refs/heads/{branch}"}


def test_cfn_lint_is_clean_with_the_policy_rules() -> None:
    from mlops_gitops.core.lint import lint_templates
    from mlops_gitops.repo import Repo
    from tests.conftest import REPO_ROOT

    findings, checked = lint_templates(Repo(REPO_ROOT), [TEMPLATE])
    assert [f.text() for f in findings] == [] and checked == ["cloudformation/provisioning-api.yaml"]


def test_mwos_two_routes_are_post_with_aws_iam_auth_proxied_to_the_function() -> None:
    """AWS_IAM: API Gateway checks SigV4 and execute-api:Invoke before the function runs
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html)."""
    body, ev = evaluated()
    paths = {
        ev.resource(n)["Properties"]["PathPart"]: n
        for n, r in body["Resources"].items()
        if r["Type"] == "AWS::ApiGateway::Resource"
    }
    assert set(paths) == {"provisionpipeline", "pipelinestatus"}
    methods = [
        ev.resource(n)["Properties"]
        for n, r in body["Resources"].items()
        if r["Type"] == "AWS::ApiGateway::Method"
    ]
    assert sorted(m["ResourceId"] for m in methods) == sorted(f"<{n}>" for n in paths.values())
    for method in methods:
        assert (method["HttpMethod"], method["AuthorizationType"]) == ("POST", "AWS_IAM")
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert "functions/<Function.Arn>/invocations" in method["Integration"]["Uri"]
    # invoked for the two routes of stage v1 only: a method or stage added to the API later (e.g.
    # AuthorizationType NONE by a template holding apigateway rights) can't reach the function
    permissions = {
        ev.resource(n)["Properties"]["SourceArn"]
        for n, r in body["Resources"].items()
        if r["Type"] == "AWS::Lambda::Permission"
    }
    assert permissions == {
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:<Api>/<Stage>/POST/provisionpipeline",
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:<Api>/<Stage>/POST/pipelinestatus",
    }
    assert all(
        ev.resource(n)["Properties"]["Principal"] == "apigateway.amazonaws.com"
        for n, r in body["Resources"].items()
        if r["Type"] == "AWS::Lambda::Permission"
    )


def test_the_function_runs_the_packaged_handler_with_the_settings_it_reads() -> None:
    body, ev = evaluated()
    props = ev.resource("Function")["Properties"]
    module, _, name = props["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    variables = props["Environment"]["Variables"]
    settings = settings_from({**variables, "AWS_REGION": REGION})
    assert (settings.repository, settings.branch, settings.prefix, settings.direct_commit) == (
        "mlops-gitops",
        "main",
        "mlops",
        False,
    )
    pattern = body["Parameters"]["CodeKey"]["AllowedPattern"]
    assert re.fullmatch(pattern, lambdas.package_provisioning().key), "the key mlopsctl packages is accepted"
    assert props["Timeout"] <= 29, "API Gateway's integration timeout is 29 s"


@pytest.mark.parametrize("direct", ["No", "Yes"])
def test_the_role_reads_and_proposes_on_its_repository_only(direct: str) -> None:
    st = role_statements(direct)
    for action in (
        "GetBranch",
        "GetFile",
        "GetFolder",
        "ListAssociatedApprovalRuleTemplatesForRepository",
        "CreatePullRequest",
    ):
        assert allowed(st, f"codecommit:{action}", REPOSITORY_ARN)
        assert not allowed(st, f"codecommit:{action}", OTHER_REPOSITORY)
    for action in ("CreateBranch", "CreateCommit"):
        assert allowed(st, f"codecommit:{action}", REPOSITORY_ARN, refs("provision/churn-batch-0a1b2c3d"))
        assert not allowed(st, f"codecommit:{action}", OTHER_REPOSITORY, refs("provision/x"))
        assert not allowed(st, f"codecommit:{action}", REPOSITORY_ARN, refs("release"))
        assert not allowed(st, f"codecommit:{action}", REPOSITORY_ARN), "no References key, no write"
    assert not allowed(st, "codecommit:CreateBranch", REPOSITORY_ARN, refs("main"))


def test_committing_to_the_deployed_branch_is_an_explicit_opt_in() -> None:
    """DESIGN §9: the API is no way around review. Without DirectCommit=Yes the role can't write
    the deployed branch at all; with it, that one branch and no other
    (https://docs.aws.amazon.com/codecommit/latest/userguide/how-to-conditional-branch.html)."""
    assert not allowed(role_statements("No"), "codecommit:CreateCommit", REPOSITORY_ARN, refs("main"))
    assert allowed(role_statements("Yes"), "codecommit:CreateCommit", REPOSITORY_ARN, refs("main"))
    assert not allowed(
        role_statements("Yes", BranchName="trunk"), "codecommit:CreateCommit", REPOSITORY_ARN, refs("main")
    )
    _, ev = evaluated()
    assert ev.resource("Function")["Properties"]["Environment"]["Variables"]["DIRECT_COMMIT"] == "No"


@pytest.mark.parametrize(
    "action",
    [
        "codecommit:GitPush",
        "codecommit:PutFile",
        "codecommit:DeleteBranch",
        "codecommit:DeleteFile",
        "codecommit:MergePullRequestByFastForward",
        "codecommit:MergePullRequestBySquash",
        "codecommit:MergePullRequestByThreeWay",
        "codecommit:MergeBranchesByFastForward",
        "codecommit:UpdatePullRequestApprovalState",
        "codecommit:OverridePullRequestApprovalRules",
        "codecommit:DisassociateApprovalRuleTemplateFromRepository",
        "codecommit:DeleteRepository",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "cloudformation:ExecuteChangeSet",
        "iam:PassRole",
        "sts:AssumeRole",
        "s3:PutObject",
        "s3:GetObject",
        "lambda:UpdateFunctionCode",
        "sagemaker:CreateEndpoint",
    ],
)
def test_nothing_else_the_role_may_do(action: str) -> None:
    for direct in ("No", "Yes"):
        assert not action_granted_somewhere(role_statements(direct), action), (
            f"{action} with DirectCommit={direct}"
        )


def test_it_reads_only_the_stacks_of_its_prefix_and_only_describes_them() -> None:
    st = role_statements("No")
    assert allowed(st, "cloudformation:DescribeStacks", stack("mlops-churn-batch-dev"))
    assert not allowed(st, "cloudformation:DescribeStacks", stack("payments-prod"))
    assert not allowed(st, "cloudformation:DescribeStacks", "*"), "no account-wide listing"
    granted = {a for s in st if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert granted == {
        "codecommit:GetBranch",
        "codecommit:GetFile",
        "codecommit:GetFolder",
        "codecommit:ListAssociatedApprovalRuleTemplatesForRepository",
        "codecommit:CreateBranch",
        "codecommit:CreateCommit",
        "codecommit:CreatePullRequest",
        "cloudformation:DescribeStacks",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert all("*" not in a for a in granted)
    assert not any(s.get("NotAction") or s.get("NotResource") for s in st)


def test_only_lambda_in_this_account_assumes_the_role() -> None:
    _, ev = evaluated()
    (trust,) = ev.resource("FunctionRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}


def test_the_pipeline_stacks_execution_role_can_neither_rewrite_the_function_nor_its_role() -> None:
    """A reviewed pipeline template runs with the execution role (target-account.yaml), which may
    change roles and functions named <prefix>-*: this stack's are outside those names."""
    from tests.repo.test_iam_policies import ACCOUNT as TARGET_ACCOUNT
    from tests.repo.test_iam_policies import IAM_WRITES, exec_role

    _, ev = evaluated()
    function = ev.resource("Function")["Properties"]["FunctionName"]
    role = ev.resource("FunctionRole")["Properties"]["RoleName"]
    function_arn = f"arn:aws:lambda:{REGION}:{TARGET_ACCOUNT}:function:{function}"
    role_arn = f"arn:aws:iam::{TARGET_ACCOUNT}:role/{role}"
    statements = exec_role()
    for action in (
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
    ):
        assert not allowed(statements, action, function_arn), action
    for action in [*IAM_WRITES, "iam:UpdateAssumeRolePolicy"]:
        assert not allowed(statements, action, role_arn, {"iam:PassedToService": "lambda.amazonaws.com"}), (
            action
        )
    # the names a pipeline's function and role get, for contrast: these the execution role may change
    assert allowed(
        statements, "lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{TARGET_ACCOUNT}:function:mlops-x"
    )
    assert allowed(statements, "iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{TARGET_ACCOUNT}:role/mlops-x")


def test_the_callers_policy_in_the_operators_guide_invokes_both_routes_and_nothing_else() -> None:
    """docs/operators.md, "Who may call it": the policy an operator copies."""
    import json

    from tests.conftest import REPO_ROOT

    text = (REPO_ROOT / "docs" / "operators.md").read_text()
    block = text.split("### Who may call it", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    statements = json.loads(block)["Statement"]
    api = "arn:aws:execute-api:us-east-1:111122223333:a1b2c3d4e5/v1"
    for route in ("POST/provisionpipeline", "POST/pipelinestatus"):
        assert allowed(statements, "execute-api:Invoke", f"{api}/{route}")
    assert not allowed(statements, "execute-api:Invoke", f"{api}/GET/provisionpipeline")
    assert not allowed(
        statements, "execute-api:Invoke", "arn:aws:execute-api:us-east-1:111122223333:other/v1/POST/x"
    )
    assert not allowed(statements, "execute-api:ManageConnections", f"{api}/POST/pipelinestatus")
