"""The build roles allow every AWS call mlopsctl makes. The calls of deploy, plan, status and drift
are recorded against a bootstrapped moto (moto checks no IAM at all) and each one is looked up in the
policies orchestrator.yaml gives the build's role, as IAM would match actions."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest
from botocore.client import BaseClient

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import _parse
from tests.conftest import REPO_ROOT, repo_copy, run_cli

# API operations whose IAM action has another name, or that need more than one action.
ACTIONS = {
    ("s3", "HeadObject"): ["s3:GetObject", "s3:ListBucket"],  # without ListBucket a missing key is 403
    ("sts", "GetCallerIdentity"): [],  # needs no permission
}


def allowed_actions(role: str) -> list[str]:
    body = _parse((REPO_ROOT / "cloudformation" / "orchestrator.yaml").read_text())
    ev = Evaluator(body, parameter_values(body, {}))
    found = []
    for name, resource in body["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy") or not ev.present(name):
            continue
        props = ev.resource(name)["Properties"]
        if resource["Type"] == "AWS::IAM::Role" and name == role:
            docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy" and f"<{role}>" in props.get("Roles", []):
            docs = [props["PolicyDocument"]]
        else:
            continue
        for doc in docs:
            for st in doc["Statement"]:
                if st["Effect"] == "Allow":
                    found += st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
    return found


def test_the_build_roles_allow_what_deploy_plan_status_and_drift_call(
    tmp_path: Path, moto_endpoint: str, aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a Lambda zip to upload (realtime API) and a template over 51,200 bytes (the data lake)
    root = repo_copy(tmp_path / "repo", ("churn-realtime", "customer-lake"))
    common = ("--repo-root", str(root))
    boot = run_cli(*common, "bootstrap", "--endpoint-url", moto_endpoint)
    assert boot.code == 0, boot.out + boot.err

    calls: set[tuple[str, str]] = set()
    original = BaseClient._make_api_call

    def record(self, operation, params):
        calls.add((self.meta.service_model.signing_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    for argv in (
        ("deploy", "--stage", "dev", "--commit", "1" * 40),
        ("plan", "--stage", "dev"),
        ("status", "--stage", "dev"),
    ):
        result = run_cli(*common, *argv, "--endpoint-url", moto_endpoint)
        assert result.code == 0, result.out + result.err
    assert ("s3", "PutObject") in calls and ("cloudformation", "ExecuteChangeSet") in calls, (
        "the run did upload and deploy"
    )
    assert missing(calls, "Stage1DeployBuildRole") == []

    calls.clear()  # drift: moto has no drift APIs (exit 3), but what it tried to call is recorded
    result = run_cli(*common, "drift", "--stage", "dev", "--endpoint-url", moto_endpoint)
    assert result.code == 3 and ("cloudformation", "DetectStackDrift") in calls
    assert missing(calls, "DriftBuildRole") == []


def missing(calls: set[tuple[str, str]], role: str) -> list[str]:
    """The IAM actions of these calls that the role's policies do not allow."""
    allowed = allowed_actions(role)
    out = []
    for service, operation in sorted(calls):
        for action in ACTIONS.get((service, operation), [f"{service}:{operation}"]):
            if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in allowed):
                out.append(action)
    return out
