"""environments.json is checked as fully as configs (issue 14): one row per mistake, the finding's
JSON path and code, exit 1, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import CONFIGS, TmpRepo, run_cli

BASE = json.loads((CONFIGS / "environments.json").read_text())
CONNECTION = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
FOUR = [{"name": n} for n in ("dev", "test", "staging", "prod")]


def orch(**settings: Any) -> dict[str, Any]:
    return {"orchestrator": settings}


CASES = [
    pytest.param({"deploy": {"shards": 9}}, ("$.deploy.shards", "range"), None, id="shards-over-8"),
    pytest.param({"deploy": {"shards": 0}}, ("$.deploy.shards", "range"), None, id="shards-zero"),
    pytest.param({"deploy": {"shards": "2"}}, ("$.deploy.shards", "type"), None, id="shards-a-string"),
    pytest.param(
        {"stages": [{"name": "dev", "shards": 12}]},
        ("$.stages[0].shards", "range"),
        None,
        id="stage-shards-over-8",
    ),
    pytest.param(
        {"stages": FOUR}, ("$.stages", "size"), "at most 3", id="more-stages-than-bootstrap-deploys"
    ),
    pytest.param(
        orch(branch="release..1"), ("$.orchestrator.branch", "branch"), "'..'", id="branch-double-dot"
    ),
    pytest.param(
        orch(branch="main.lock"), ("$.orchestrator.branch", "branch"), ".lock", id="branch-lock-suffix"
    ),
    pytest.param(
        orch(branch="feature/.hidden"),
        ("$.orchestrator.branch", "branch"),
        "starts with '.'",
        id="branch-dot-component",
    ),
    pytest.param(
        orch(branch="release/"), ("$.orchestrator.branch", "branch"), "'/'", id="branch-trailing-slash"
    ),
    pytest.param(orch(branch="a//b"), ("$.orchestrator.branch", "branch"), "'//'", id="branch-double-slash"),
    pytest.param(
        orch(branch="main."), ("$.orchestrator.branch", "branch"), "ends with '.'", id="branch-trailing-dot"
    ),
    pytest.param(
        orch(branch="main\n"), ("$.orchestrator.branch", "pattern"), None, id="branch-trailing-newline"
    ),
    pytest.param(
        orch(
            source="connection",
            full_repository_id="org/repo",
            connection_arn=CONNECTION.replace("us-east-1", "eu-west-1"),
        ),
        ("$.orchestrator.connection_arn", "arn"),
        "'eu-west-1'",
        id="connection-in-another-region",
    ),
    pytest.param(
        orch(
            source="connection",
            full_repository_id="org/repo",
            connection_arn=CONNECTION.replace("aws:", "aws-cn:", 1).replace("us-east-1", "cn-north-1"),
        ),
        ("$.orchestrator.connection_arn", "arn"),
        "partition",
        id="connection-in-another-partition",
    ),
    pytest.param(
        orch(
            source="connection",
            full_repository_id="org/repo",
            connection_arn=CONNECTION.replace("us-east-1", "us-est-1"),
        ),
        ("$.orchestrator.connection_arn", "arn"),
        "not an AWS region",
        id="connection-region-unknown",
    ),
    pytest.param(
        orch(source="connection", full_repository_id="org/repo", connection_arn=CONNECTION + "\n"),
        ("$.orchestrator.connection_arn", "pattern"),
        None,
        id="connection-trailing-newline",
    ),
    pytest.param(
        orch(source="connection", full_repository_id="org/repo", connection_arn=CONNECTION, provider="svn"),
        ("$.orchestrator.provider", "enum"),
        None,
        id="connection-provider-unknown",
    ),
    pytest.param(
        orch(
            source="connection",
            full_repository_id="org/repo",
            connection_arn=CONNECTION,
            provider_token_secret="my token",
        ),
        ("$.orchestrator.provider_token_secret", "pattern"),
        None,
        id="provider-token-secret-not-a-name",
    ),
    pytest.param(
        orch(drift_schedule="cron(0 6 * * *)"),
        ("$.orchestrator.drift_schedule", "schedule"),
        "6",
        id="drift-cron-five-fields",
    ),
    pytest.param(
        orch(drift_schedule="rate(1 days)"),
        ("$.orchestrator.drift_schedule", "schedule"),
        "singular",
        id="drift-rate-plural",
    ),
    pytest.param(
        orch(drift_schedule="cron(0 \uff16 * * ? *)"),
        ("$.orchestrator.drift_schedule", "schedule"),
        None,
        id="drift-fullwidth-digit",
    ),
    pytest.param(
        orch(drift_schedule="cron(0 6 * * ? *)\n"),
        ("$.orchestrator.drift_schedule", "pattern"),
        None,
        id="drift-trailing-newline",
    ),
]


@pytest.mark.parametrize("changes, expected, message_part", CASES)
def test_invalid_environments(
    tmp_repo: TmpRepo, changes: dict, expected: tuple[str, str], message_part: str | None
) -> None:
    tmp_repo.write_environments({**BASE, **changes})
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert "Traceback" not in result.err, result.err
    assert result.code == 1, result.out + result.err
    errors = [f for f in result.json["findings"] if f["severity"] == "error"]
    assert expected in {(f["path"], f["code"]) for f in errors}, errors
    if message_part is not None:
        assert any(message_part in f["message"] for f in errors if (f["path"], f["code"]) == expected), errors


def test_valid_orchestrator_settings_pass(tmp_repo: TmpRepo) -> None:
    tmp_repo.write_environments(
        {
            **BASE,
            **orch(
                source="connection",
                full_repository_id="org/repo",
                connection_arn=CONNECTION,
                branch="release/1.0",
                drift_schedule="rate(1 day)",
            ),
        }
    )
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 0, result.out + result.err


def test_validate_and_bootstrap_agree_on_the_stage_limit() -> None:
    from mlops_gitops.config.environments import PIPELINE_STAGES
    from mlops_gitops.ops import bootstrap

    assert bootstrap.PIPELINE_STAGES == PIPELINE_STAGES
