"""Provisioning API Lambda: MWO's REST API (API Gateway, AWS_IAM auth, proxy integration), git-first.

Routes, as MWO's orchestrator Lambda routed them (index.py: handler):
- POST /provisionpipeline: an MWO body -> our config -> `mlopsctl validate`'s checks -> a commit
  (a branch and a pull request by default; see ops/provision.py). Findings answer 400, with each
  finding's file, JSON path, message and hint, and nothing is committed.
- POST /pipelinestatus: {"pipeline_id": ID} -> each stage's stack status.
- any other path: 400 with MWO's text.

Answers keep MWO's shape where its clients read it: ``message`` and ``pipeline_id`` on success;
``{"message": "A BadRequest exception occurred", "detailedMessage": ...}`` on a bad request, and
``"A boto3 ClientError occurred"`` with AWS's status on an AWS failure (shared/wrappers.py:
api_exception_handler). Unlike MWO, the detail is always given: it names no secret, only the
request's own fields and the repository's files.

Unlike the other functions here, this one runs the package (config, ops): it is the top of its own
program, like the CLI, and ships with the package and its dependencies (lambdas/__init__.py).
Settings come from the environment the template sets: REPOSITORY_NAME, BRANCH_NAME, STACK_PREFIX,
DIRECT_COMMIT (Yes/No).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

PROVISION, STATUS = "/provisionpipeline", "/pipelinestatus"
BAD_PATH = "Unacceptable event path. Path must be /provisionpipeline or /pipelinestatus"
BAD_FORMAT = (
    "Bad request format. Expected httpMethod or pipeline_type, received none. Check documentation "
    "for API & config formats."
)

NO_IDENTITY = "the request carries no IAM identity; the API's methods must use AWS_IAM authorization"


def _response(status: int, body: Any) -> dict:
    text = body if isinstance(body, str) else json.dumps(body, indent=2, default=str)
    ctype = "text/plain" if isinstance(body, str) else "application/json"
    return {"statusCode": status, "isBase64Encoded": False, "headers": {"Content-Type": ctype}, "body": text}


def bad_request(detail: str, **extra: Any) -> dict:
    return _response(400, {"message": "A BadRequest exception occurred", "detailedMessage": detail, **extra})


def settings_from(environ: Mapping[str, str]):
    from mlops_gitops.ops.provision import Settings

    return Settings(
        repository=environ["REPOSITORY_NAME"],
        branch=environ.get("BRANCH_NAME") or "main",
        prefix=environ.get("STACK_PREFIX") or "mlops",
        region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        direct_commit=environ.get("DIRECT_COMMIT", "No") == "Yes",
    )


class BadBody(ValueError):
    """The request's body can't be read as JSON."""


def _body(event: dict) -> Any:
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadBody("Bad request format. The request has no body; send a JSON object")
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise BadBody(f"Bad request format. The body is not JSON ({exc})") from exc


def handler(
    event: dict,
    context: Any = None,
    *,
    clients: Callable[[str], Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict:
    """The Lambda entry point. ``clients`` (service -> client) and ``environ`` are for tests."""
    from mlops_gitops.aws.errors import AWS_ERRORS, reason
    from mlops_gitops.errors import GitOpsError

    environ = os.environ if environ is None else environ
    if clients is None:
        import boto3

        clients = boto3.client
    try:
        return route(event, context, clients, environ)
    except AWS_ERRORS as exc:
        status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
        log.exception("AWS call failed")
        return _response(status, {"message": "A boto3 ClientError occurred", "detailedMessage": reason(exc)})
    except GitOpsError as exc:  # the repository can't be read as one (no schemas, say)
        log.exception("provisioning API failed")
        return _response(
            500, {"message": "An Unexpected Server side exception occurred", "detailedMessage": str(exc)}
        )
    except Exception:  # the API answers; the log keeps the traceback
        log.exception("provisioning API failed")
        return _response(500, {"message": "An Unexpected Server side exception occurred"})


def route(event: dict, context: Any, clients: Callable[[str], Any], environ: Mapping[str, str]) -> dict:
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.aws.codecommit import CodeCommitGateway
    from mlops_gitops.ops import provision as ops

    if not isinstance(event, dict) or "httpMethod" not in event:
        return bad_request(BAD_FORMAT)
    path = str(event.get("path") or "").rstrip("/")
    if path not in (PROVISION, STATUS) or event.get("httpMethod") != "POST":
        return bad_request(BAD_PATH)
    if not _caller(event):
        # API Gateway's AWS_IAM authorization fills requestContext.identity; without it the method's
        # authorization was changed (AuthorizationType NONE), and no change is made in nobody's name
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference).
        return _response(403, {"message": "Forbidden", "detailedMessage": NO_IDENTITY})
    settings = settings_from(environ)
    git = CodeCommitGateway(clients("codecommit"))
    try:
        body = _body(event)
        if path == PROVISION:
            query = event.get("queryStringParameters") or {}
            done = ops.provision(body, git, settings, query.get("id"), _caller(event))
            return _provisioned(done)
        if not isinstance(body, dict):
            raise ops.ProvisionError("Bad request format. the body must be a JSON object")
        state = ops.status(
            body.get("pipeline_id"),
            git,
            CloudFormationGateway(clients("cloudformation")),
            settings,
            _account(event, context),
        )
    except (BadBody, ops.ProvisionError) as exc:
        return bad_request(str(exc))
    if not state.deployed:
        return _response(200, ops.NOT_YET)
    return _response(200, _state(state))


def _caller(event: dict) -> str:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("userArn") or identity.get("caller") or "")


def _account(event: dict, context: Any) -> str:
    arn = getattr(context, "invoked_function_arn", "") or ""
    if arn.count(":") >= 4:
        return arn.split(":")[4]
    return str((event.get("requestContext") or {}).get("accountId") or "")


def _provisioned(done) -> dict:
    body: dict[str, Any] = {"message": done.message, "pipeline_id": done.pipeline_id}
    for key in ("commit_id", "branch", "pull_request_id", "reference"):
        if getattr(done, key):
            body[key] = getattr(done, key)
    body["findings"] = [f.to_dict() for f in done.findings]
    body["notes"] = list(done.notes)
    if done.outcome == "invalid":
        detail = "\n".join([done.message, *(f.text() for f in done.findings if f.is_error)])
        return bad_request(detail, pipeline_id=done.pipeline_id, findings=body["findings"])
    return _response(200, body)


_EXECUTION = {"COMPLETE": "Succeeded", "FAILED": "Failed", "IN_PROGRESS": "InProgress"}


def _state(state) -> dict:
    """Close to MWO's answer (CodePipeline GetPipelineState): one entry per stage."""

    def execution(status: str) -> str:
        if "ROLLBACK" in status or status.endswith("FAILED"):
            return "Failed"
        return next((v for k, v in _EXECUTION.items() if status.endswith(k)), status)

    return {
        "pipelineName": state.pipeline_id,
        "inGit": state.in_git,
        "stageStates": [
            {
                "stageName": s.stage,
                "stackName": s.stack,
                "stackStatus": s.status,
                "latestExecution": {"status": execution(s.status)},
                **({"statusReason": s.reason} if s.reason else {}),
                **({"configCommit": s.commit} if s.commit else {}),
            }
            for s in state.stages
        ],
    }
