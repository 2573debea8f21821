"""Shared by the provisioning API's tests: API Gateway's proxy event, the function's settings as
the template sets them, its role's policy as the template evaluates, and a configs repository
served by the git-backed CodeCommit stand-in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import _parse
from tests.conftest import REPO_ROOT, git_repo, repo_copy
from tests.git_codecommit import GitCodeCommit
from tests.repo.iam_eval import allowed

TEMPLATE = REPO_ROOT / "cloudformation" / "provisioning-api.yaml"
ACCOUNT, REGION, REPOSITORY = "123456789012", "us-east-1", "mlops-gitops"
REPOSITORY_ARN = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{REPOSITORY}"
CODE_KEY = "lambda/provisioning-api-0123456789abcdef.zip"


def evaluated(**params: str) -> tuple[dict, Evaluator]:
    body = _parse(TEMPLATE.read_text(encoding="utf-8"))
    base = {"CodeBucket": "mlops-bootstrap-assets", "CodeKey": CODE_KEY, "RepositoryName": REPOSITORY}
    return body, Evaluator(body, parameter_values(body, {**base, **params}))


def role_statements(direct_commit: str = "No", **params: str) -> list[dict]:
    _, ev = evaluated(DirectCommit=direct_commit, **params)
    props = ev.resource("FunctionRole")["Properties"]
    return [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"] if s is not None]


def environment(direct_commit: str = "No") -> dict[str, str]:
    """The function's environment: the template's Variables, as CloudFormation evaluates them."""
    _, ev = evaluated(DirectCommit=direct_commit)
    variables = ev.resource("Function")["Properties"]["Environment"]["Variables"]
    return {**{k: str(v) for k, v in variables.items()}, "AWS_REGION": REGION}


def api_event(path: str, body: Any, method: str = "POST", query: dict | None = None) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it to a Lambda proxy integration
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html)."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": query,
        "pathParameters": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "resourcePath": path,
            "httpMethod": method,
            "stage": "v1",
            "identity": {"userArn": f"arn:aws:iam::{ACCOUNT}:user/alice", "caller": "AIDAEXAMPLE"},
        },
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def configs_remote(root: Path, pipelines: tuple[str, ...] = ("fraud-batch",)) -> Path:
    """A bare git repository (the CodeCommit repository's stand-in) holding a configs repository
    like this one: schemas, environments.json, ``pipelines``, cloudformation/ and buildspecs/."""
    import shutil

    work = repo_copy(root / "work", pipelines)
    shutil.copytree(REPO_ROOT / "buildspecs", work / "buildspecs")
    git_repo(work, "configs")
    bare = root / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    return bare


def codecommit(bare: Path, direct_commit: str = "No", templates: tuple[str, ...] = ()) -> GitCodeCommit:
    """The stand-in, holding every call to the role's policy as the template grants it."""
    statements = role_statements(direct_commit)

    def authorize(action: str, repository: str, context: dict[str, str]) -> bool:
        arn = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{repository}"
        return allowed(statements, action, arn, context)

    return GitCodeCommit(bare, REPOSITORY, authorize, templates)


def tip(bare: Path, branch: str = "main") -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", f"refs/heads/{branch}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def show(bare: Path, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(bare), "show", f"{ref}:{path}"], check=True, capture_output=True, text=True
    ).stdout
