"""The fraud-ab example's e-mail receives notifications in the rendered stack (issue 19): its stack,
created in moto from the rendered parameters, has the pipeline's notify topic, encrypted with the
account's notify key (the SSM parameter target-account.yaml publishes; no key per stack), with the
e-mail subscribed (pending its owner's confirmation, as on AWS:
https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html).

moto creates the topic's embedded subscriptions but no CloudWatch alarm, so the alarms' wiring to
the topic is asserted offline in tests/repo/test_notify_topic.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.sns import NotifyGateway
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.core.render import render
from mlops_gitops.ops.notify import Notifier
from mlops_gitops.ops.waves import Outcome
from mlops_gitops.repo import Repo
from tests.aws.conftest import NOTIFY_KEY_ARN, create_pipeline_stack, orchestrator_basics
from tests.conftest import REPO_ROOT

REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()


def _create(aws, stage: str):
    cfg, findings = VALIDATOR.check_config(
        REPO_ROOT / "pipeline-configs" / "fraud-ab" / "mlops-config.json", ENV
    )
    assert cfg is not None and not [f for f in findings if f.severity == "error"]
    spec = render(REPO_ROOT, cfg, stage, ENV, commit="4f2c9e1d0b7a" + "0" * 28)
    orchestrator_basics(aws, "mlops-artifacts-111122223333")
    create_pipeline_stack(aws, Path(spec.template).name, spec.stack_name, spec.parameters)
    return spec


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_fraud_ab_stack_subscribes_its_owner_to_the_notify_topic(aws, stage: str) -> None:
    spec = _create(aws, stage)
    cfn = aws("cloudformation")
    stack = cfn.describe_stacks(StackName=spec.stack_name)["Stacks"][0]
    topic_arn = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["NotifyTopicArn"]
    types = {
        r["ResourceType"]
        for r in cfn.list_stack_resources(StackName=spec.stack_name)["StackResourceSummaries"]
    }
    assert "AWS::KMS::Key" not in types
    assert aws("kms").list_keys()["Keys"] == []
    sns = aws("sns")
    assert topic_arn.endswith(f":{spec.stack_name}-notify")
    attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == NOTIFY_KEY_ARN
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "risk-ml@example.com")]


def test_a_failed_deploy_of_fraud_ab_reaches_its_topic(aws) -> None:
    """What the owner's e-mail gets, read from an SQS queue subscribed beside it (moto delivers to
    SQS, not e-mail)."""
    spec = _create(aws, "prod")
    sns, sqs = aws("sns"), aws("sqs")
    topic = CloudFormationGateway(aws("cloudformation")).physical_id(spec.stack_name, "NotifyTopic")
    queue = sqs.create_queue(QueueName="owner-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    gateways = StageGateways(
        "prod", "us-east-1", cfn=CloudFormationGateway(aws("cloudformation")), notify=NotifyGateway(sns)
    )
    failure = f"{spec.stack_name}: ended UPDATE_ROLLBACK_COMPLETE; Endpoint (AWS::SageMaker::Endpoint): boom"
    lines = Notifier(REPO, ENV, gateways).after_apply(
        [Outcome(PlanItem("prod", spec.stack_name, "update", "fraud-ab", spec=spec), "failed", failure)]
    )
    assert lines == [f"{spec.stack_name}: told its owners: [mlops] fraud-ab: deploy to prod failed"]
    [received] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert (
        "What failed: ended UPDATE_ROLLBACK_COMPLETE; Endpoint (AWS::SageMaker::Endpoint): boom"
        in received["Body"]
    )
    assert "Commit: 4f2c9e1d0b7a" in received["Body"] and "Stage: prod" in received["Body"]
