"""The model section says, per real-time pipeline, how its endpoint takes the change (issue 18)."""

from __future__ import annotations

import pytest

from mlops_gitops.report.models import ModelChange, render_models, rollout_text

CANARY = {
    "RolloutPolicy": "CANARY",
    "RolloutSizeType": "INSTANCE_COUNT",
    "RolloutSizeValue": "1",
    "RolloutWaitSeconds": "900",
    "RolloutBakeSeconds": "600",
    "RolloutMaxExecutionSeconds": "0",
    "RolloutAlarm1": "churn-prediction-drift",
    "RolloutAlarm2": "",
    "RolloutAlarm3": "",
}


@pytest.mark.parametrize(
    "params, expected",
    [
        pytest.param({}, "all at once, no rollback alarms (SageMaker's default)", id="none"),
        pytest.param(
            CANARY,
            "canary of 1 instance(s), the rest after 900 s; old fleet kept 600 s; "
            "rolls back on the endpoint's 5xx and latency alarms, churn-prediction-drift",
            id="canary",
        ),
        pytest.param(
            {"RolloutPolicy": "LINEAR", "RolloutSizeValue": "20", "RolloutWaitSeconds": "300"}
            | {"RolloutMaxExecutionSeconds": "3600"},
            "linear, 20% per step, 300 s between steps; stopped after 3600 s; "
            "rolls back on the endpoint's 5xx and latency alarms",
            id="linear",
        ),
        pytest.param(
            {"RolloutPolicy": "ALL_AT_ONCE", "RolloutBakeSeconds": "300"},
            "all at once; old fleet kept 300 s; rolls back on the endpoint's 5xx and latency alarms",
            id="all-at-once-watched",
        ),
    ],
)
def test_rollout_text(params: dict[str, str], expected: str) -> None:
    assert rollout_text(params) == expected


def test_a_changed_rollout_says_what_it_was_and_alarm_names_are_escaped() -> None:
    change = ModelChange(
        "prod",
        "churn-realtime",
        "s",
        "primary",
        "realtime",
        "us-east-1",
        None,
        None,
        None,
        ("ml.m5.large", 2),
    )
    change.rollout = rollout_text({**CANARY, "RolloutAlarm1": "a|<b>"})
    change.old_rollout = rollout_text({})
    lines = render_models([change])
    [note] = [line for line in lines if line.startswith("Rollout of")]
    assert "canary of 1 instance(s)" in note
    assert "(was: all at once, no rollback alarms (SageMaker's default))" in note
    assert "<b>" not in note and "|<" not in note
