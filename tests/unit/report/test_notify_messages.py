"""The owners' messages (issue 19), as golden files in tests/golden/notify/: one per kind, read by a
reviewer as the e-mail its owner gets. Each is short, plain text, says where (pipeline, stage,
stack, commit) and ends with the next step."""

from __future__ import annotations

import pytest

from mlops_gitops.report import notify
from tests.conftest import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "golden" / "notify"
WHERE = notify.Where(
    "fraud-ab", "prod", "mlops-fraud-ab-prod", "us-east-1", "4f2c9e1d0b7a6c5e4d3b2a19f8e7d6c5b4a39281"
)
MESSAGES = {
    "deploy-failed": notify.deploy_failed(
        WHERE,
        "ended UPDATE_ROLLBACK_COMPLETE; first failure: Endpoint (AWS::SageMaker::Endpoint): "
        "ResourceLimitExceeded: account-level service limit 'ml.c5.xlarge for endpoint usage' is 0",
    ),
    "rolled-back": notify.rolled_back(
        WHERE,
        "SageMaker rolled the update back: alarm mlops-fraud-ab-prod-invocation-5xx went into ALARM at "
        "2026-12-03 14:02:11 UTC (Threshold Crossed: 1 datapoint [3.0] was greater than 0.0); "
        "endpoint fraud is InService on the previous model",
    ),
    "drifted": notify.drifted(
        WHERE,
        [
            "EndpointConfig (AWS::SageMaker::EndpointConfig): MODIFIED",
            "LatencyAlarm (AWS::CloudWatch::Alarm): DELETED",
        ],
    ),
    "approval-waiting": notify.approval_waiting(
        notify.Where("fraud-ab", "dev", "mlops-fraud-ab-dev", "us-east-1", "4f2c9e1d0b7a"),
        "staging",
        "mlops-pipeline",
    ),
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_messages_match_the_golden_files(kind: str, update_golden: bool) -> None:
    text = MESSAGES[kind].text()
    golden = GOLDEN / f"{kind}.txt"
    if update_golden:
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}: run pytest --update-golden and review the diff"
    assert text == golden.read_text(), f"{golden.name} differs: if intended, run pytest --update-golden"


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_messages_are_short_and_name_the_next_step(kind: str) -> None:
    message = MESSAGES[kind]
    assert message.subject.startswith("[mlops] fraud-ab: ") and len(message.subject) <= 100
    assert message.body.rstrip().splitlines()[-1].startswith("Next step: ")
    assert "Commit: 4f2c9e1d0b7a\n" in message.body, "the commit, short"
    assert len(message.body.splitlines()) <= 15


def test_a_long_drift_list_is_cut_and_counted() -> None:
    body = notify.drifted(WHERE, [f"R{i} (AWS::S3::Bucket): MODIFIED" for i in range(8)]).body
    assert "- R4 (AWS::S3::Bucket): MODIFIED" in body and "R5" not in body
    assert "- and 3 more" in body


def test_a_multi_line_reason_becomes_one_line() -> None:
    body = notify.deploy_failed(WHERE, "first line\n  second line").body
    assert "What failed: first line second line\n" in body
