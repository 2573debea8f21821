"""``notify`` warnings, and the slot counts validate and the templates share (issue 19). The errors
are rows of test_invalid_configs.py."""

from __future__ import annotations

import json

import pytest

from mlops_gitops.config.rules import notify
from mlops_gitops.core.templates import mapping
from tests.conftest import REPO_ROOT, TmpRepo, example, run_cli

TOPIC = "arn:aws:sns:us-east-1:444455556666:risk-alerts"


def _findings(tmp_repo: TmpRepo, pipeline_id: str, config: dict) -> list[dict]:
    tmp_repo.write(pipeline_id, config)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert "Traceback" not in result.err
    return result.json["findings"]


def test_the_one_outcome_topic_types_are_those_of_the_state_machine_templates() -> None:
    templates = mapping(REPO_ROOT)["templates"]
    assert notify.ONE_OUTCOME_TOPIC <= set(templates["model_training.yaml"])
    assert notify.ONE_OUTCOME_TOPIC == {t for t in templates["model_training.yaml"] if "autopilot" in t}


def test_a_topic_in_another_account_than_a_stage_is_a_warning_naming_the_policy(tmp_repo: TmpRepo) -> None:
    env = json.loads((REPO_ROOT / "pipeline-configs" / "environments.json").read_text())
    env["stages"][2]["account_id"] = "777788889999"  # prod in its own account
    env.pop("$schema", None)
    tmp_repo.write_environments(env)
    findings = _findings(tmp_repo, "fraud-ab", {**example("fraud-ab"), "notify": ["a@example.com", TOPIC]})
    [warning] = [f for f in findings if f["code"] == "notify-cross-account"]
    assert warning["severity"] == "warning" and warning["path"] == "$.notify[1]"
    assert "444455556666" in warning["message"] and "'prod'" in warning["message"]
    assert "events.amazonaws.com" in warning["hint"] and "cloudwatch.amazonaws.com" in warning["hint"]
    assert not [f for f in findings if f["severity"] == "error"]


def test_an_autopilot_pipeline_with_emails_and_a_topic_is_told_where_outcomes_go(tmp_repo: TmpRepo) -> None:
    config = {
        **example("churn-autopilot"),
        "notify": ["a@example.com", TOPIC.replace("444455556666", "111122223333")],
    }
    findings = _findings(tmp_repo, "churn-autopilot", config)
    [warning] = [f for f in findings if f["code"] == "notify-outcome-topic"]
    assert warning["severity"] == "warning" and warning["path"] == "$.notify[1]"


@pytest.mark.parametrize("pipeline_id", ["fraud-batch", "churn-training", "churn-tuning"])
def test_batch_training_and_tuning_tell_both_so_emails_and_a_topic_need_no_warning(
    tmp_repo: TmpRepo, pipeline_id: str
) -> None:
    """The owners hear of each job from the stack's rules, your topic from its state machine
    (tests/repo/test_notify_rules.py)."""
    config = {
        **example(pipeline_id),
        "notify": ["a@example.com", TOPIC.replace("444455556666", "111122223333")],
    }
    findings = _findings(tmp_repo, pipeline_id, config)
    assert [f for f in findings if f["code"] == "notify-outcome-topic"] == []


def test_a_realtime_pipeline_with_emails_and_a_topic_has_no_notify_finding(tmp_repo: TmpRepo) -> None:
    config = {
        **example("fraud-ab"),
        "notify": ["a@example.com", TOPIC.replace("444455556666", "111122223333")],
    }
    assert [f for f in _findings(tmp_repo, "fraud-ab", config) if "notify" in f["path"]] == []
