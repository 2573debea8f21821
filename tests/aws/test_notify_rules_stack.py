"""The notify rules of issue 19 deploy (moto): a model-monitor stack and a batch stack, created from the
rendered parameters, have their rules on EventBridge - drift (CloudFormation's Drift Detection Status
Change of this very stack), the monitor's two alarms (CloudWatch Alarm State Change), the batch job's
outcome - each targeting the pipeline's notify topic with its input transformer. moto does not
deliver EventBridge events to SNS, and skips alarms: the patterns and messages are checked offline in
tests/repo/test_notify_rules.py against AWS's documented events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render
from mlops_gitops.repo import Repo
from tests.aws.conftest import create_pipeline_stack, orchestrator_basics
from tests.conftest import REPO_ROOT

REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()


def _create(aws, pipeline_id: str, stage: str):
    cfg, findings = VALIDATOR.check_config(
        REPO_ROOT / "pipeline-configs" / pipeline_id / "mlops-config.json", ENV
    )
    assert cfg is not None and not [f for f in findings if f.severity == "error"]
    spec = render(REPO_ROOT, cfg, stage, ENV, commit="4f2c9e1d0b7a" + "0" * 28)
    orchestrator_basics(aws, "mlops-artifacts-111122223333")
    stack = create_pipeline_stack(aws, Path(spec.template).name, spec.stack_name, spec.parameters)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return spec, stack, outputs["NotifyTopicArn"]


def _notify_target(aws, rule: str, topic: str) -> dict:
    targets = aws("events").list_targets_by_rule(Rule=rule)["Targets"]
    assert [t["Arn"] for t in targets][0] == topic
    return targets[0]["InputTransformer"]


@pytest.mark.parametrize("pipeline_id", ["churn-data-quality", "churn-batch"])
def test_the_drift_rule_watches_this_stack_and_tells_the_notify_topic(aws, pipeline_id: str) -> None:
    spec, stack, topic = _create(aws, pipeline_id, "prod")
    rule = aws("events").describe_rule(Name=f"{spec.stack_name}-drifted")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail-type"] == ["CloudFormation Drift Detection Status Change"]
    assert pattern["detail"]["stack-id"] == [stack["StackId"]]
    transformer = _notify_target(aws, rule["Name"], topic)
    assert "mlopsctl drift --stage prod" in transformer["InputTemplate"]
    assert f"pipeline-configs/{pipeline_id}/mlops-config.json" in transformer["InputTemplate"]


def test_the_monitor_alarms_reach_the_notify_topic_through_rules(aws) -> None:
    spec, _, topic = _create(aws, "churn-data-quality", "prod")
    prefix = spec.stack_name
    for suffix in ("violations", "monitor-failed"):
        rule = aws("events").describe_rule(Name=f"{prefix}-{suffix}-notify")
        pattern = json.loads(rule["EventPattern"])
        assert pattern["resources"] == [
            f"arn:aws:cloudwatch:us-east-1:{stack_account(aws)}:alarm:{prefix}-{suffix}"
        ]
        transformer = _notify_target(aws, rule["Name"], topic)
        assert transformer["InputTemplate"].startswith(
            f'"Model monitor {prefix}-dq of churn-data-quality in prod'
        )


def stack_account(aws) -> str:
    return aws("sts").get_caller_identity()["Account"]


def test_the_batch_jobs_outcome_reaches_the_notify_topic_through_rules(aws) -> None:
    spec, stack, topic = _create(aws, "churn-batch", "prod")
    prefix = spec.stack_name
    model = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["SageMakerModelName"]
    for suffix, statuses in (("batch-completed", ["Completed", "Stopped"]), ("batch-failed", ["Failed"])):
        rule = aws("events").describe_rule(Name=f"{prefix}-{suffix}")
        pattern = json.loads(rule["EventPattern"])
        assert pattern["detail-type"] == ["SageMaker Transform Job State Change"]
        # the stack's jobs: named <stack>-* and running the stack's own model (issue 19)
        assert pattern["detail"] == {
            "TransformJobName": [{"prefix": f"{prefix}-"}],
            "ModelName": [model],
            "TransformJobStatus": statuses,
        }
        transformer = _notify_target(aws, rule["Name"], topic)
        assert transformer["InputTemplate"].startswith('"Batch transform <job> of churn-batch in prod')
