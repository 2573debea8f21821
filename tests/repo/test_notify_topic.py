"""Every pipeline template has the pipeline's own notify topic (issue 19): the config's e-mails
subscribe to it, CloudWatch and EventBridge may publish to it (and use its key), and every alarm
and SNS-bound rule of the stack targets it. moto creates the topic and its subscriptions but no
alarm, so the wiring is asserted here, on the template evaluated offline."""

from __future__ import annotations

import re

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params.base import NOTIFY_EMAIL_SLOTS
from mlops_gitops.core.physical_names import physical_names
from mlops_gitops.core.render import render
from mlops_gitops.core.templates import load_template, mapping, template_name
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.repo.iam_eval import stand_ins

pytestmark = pytest.mark.repo

TEMPLATES = sorted(mapping(REPO_ROOT)["templates"])
PREFIX = "mlops-fraud-ab-prod"


def _evaluator(name: str, **given: str) -> Evaluator:
    body = load_template(REPO_ROOT, name).body
    required = stand_ins(body)
    params = {**required, "NamePrefix": PREFIX, **given}
    return Evaluator(body, parameter_values(body, params), resources=lambda r, a: f"<{r}>")


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("count", range(NOTIFY_EMAIL_SLOTS + 1))
def test_each_email_slot_becomes_one_email_subscription(name: str, count: int) -> None:
    emails = {f"NotifyEmail{i + 1}": f"owner{i + 1}@example.com" for i in range(count)}
    topic = _evaluator(name, **emails).resource("NotifyTopic")["Properties"]
    assert topic["TopicName"] == f"{PREFIX}-notify"
    assert topic.get("Subscription", []) == [
        {"Protocol": "email", "Endpoint": f"owner{i + 1}@example.com"} for i in range(count)
    ]


@pytest.mark.parametrize("name", TEMPLATES)
def test_notify_email_parameters_are_constrained_emails(name: str) -> None:
    declared = load_template(REPO_ROOT, name).body["Parameters"]
    slots = sorted(p for p in declared if p.startswith("NotifyEmail"))
    assert slots == [f"NotifyEmail{i}" for i in range(1, NOTIFY_EMAIL_SLOTS + 1)], "validate's slot count"
    for i in range(1, NOTIFY_EMAIL_SLOTS + 1):
        spec = declared[f"NotifyEmail{i}"]
        pattern = re.compile(spec["AllowedPattern"])
        assert spec["Default"] == "" and pattern.fullmatch("")
        assert pattern.fullmatch("risk-ml@example.com")
        assert not pattern.fullmatch("a@example.com,b@example.com")
        assert not pattern.fullmatch("https://hooks.slack.com/services/T0/B0/x")


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize(
    "kms", ["", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
)
def test_topic_is_encrypted_with_a_key_alarms_and_rules_may_use(name: str, kms: str) -> None:
    """CloudWatch and EventBridge can't publish to a topic under alias/aws/sns:
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    Without a key of the config's, the account's notify key (NotifyKeyArn, as CloudFormation resolves
    its SSM parameter /mlops/notify-key-arn); its key policy: tests/repo/test_notify_key.py."""
    account_key = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
    ev = _evaluator(name, KmsKeyArn=kms, NotifyKeyArn=account_key)
    assert ev.resource("NotifyTopic")["Properties"]["KmsMasterKeyId"] == (kms or account_key)
    body = load_template(REPO_ROOT, name).body
    assert not [n for n, r in body["Resources"].items() if r["Type"] == "AWS::KMS::Key"], "no key per stack"


@pytest.mark.parametrize("name", TEMPLATES)
def test_topic_policy_lets_only_this_accounts_alarms_and_rules_publish(name: str) -> None:
    """Confused-deputy guard: https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html"""
    policy = _evaluator(name).resource("NotifyTopicPolicy")["Properties"]
    assert policy["Topics"] == ["<NotifyTopic>"]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    assert allows[0]["Action"] == "sns:Publish"
    assert allows[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {  # this stack's alarms and rules only (an attacker's review: forged messages)
            "aws:SourceArn": [
                f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{PREFIX}-*",
                f"arn:aws:events:us-east-1:123456789012:rule/{PREFIX}-*",
            ]
        },
    }
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("own", ["", "arn:aws:sns:us-east-1:111122223333:team-alerts"])
def test_every_alarm_and_sns_rule_target_reaches_the_notify_topic(name: str, own: str) -> None:
    """Alarm actions: at most 5 per state, the SNS topic in the alarm's region
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html);
    rule targets: at most 5, in the rule's region
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)."""
    body = load_template(REPO_ROOT, name).body
    given = {"NotificationTopicArn": own} if "NotificationTopicArn" in body["Parameters"] else {}
    ev = _evaluator(name, **given)
    for logical_id, resource in body["Resources"].items():
        if not ev.present(logical_id):
            continue
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::Events::Rule"):
            # the topic policy admits alarms and rules named <stack>-*; CloudFormation's generated
            # names start with the stack's name too
            key = "AlarmName" if resource["Type"] == "AWS::CloudWatch::Alarm" else "Name"
            given_name = resource["Properties"].get(key)
            if isinstance(given_name, dict) and "Fn::Sub" in given_name:
                sub = given_name["Fn::Sub"]
                assert (sub if isinstance(sub, str) else sub[0]).startswith("${NamePrefix}-"), logical_id
            elif given_name is not None:
                assert str(ev(given_name)).startswith(f"{PREFIX}-"), (logical_id, given_name)
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            actions = ev(resource["Properties"].get("AlarmActions", []))
            # directly, or as a short message through a rule of the stack on the alarm's state change
            assert "<NotifyTopic>" in actions or _alarm_rule_to_notify(ev, body, logical_id), logical_id
            assert (own in actions) == bool(own) and len(actions) <= 5, logical_id
        if resource["Type"] == "AWS::Events::Rule":
            targets = [ev(t["Arn"]) for t in ev(resource["Properties"].get("Targets", []))]
            sns = [t for t in targets if t in ("<NotifyTopic>", own) or ":sns:" in str(t)]
            if sns:
                assert "<NotifyTopic>" in sns, logical_id
                assert len(targets) <= 5, logical_id


def _alarm_rule_to_notify(ev: Evaluator, body: dict, alarm: str) -> bool:
    """A rule of the stack on "CloudWatch Alarm State Change" of this alarm (its ARN in the pattern's
    resources, https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html)
    that targets the notify topic."""
    name = ev(body["Resources"][alarm]["Properties"]["AlarmName"])
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    for logical_id, resource in body["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule" or not ev.present(logical_id):
            continue
        pattern = resource["Properties"].get("EventPattern", {})
        if pattern.get("detail-type") != ["CloudWatch Alarm State Change"]:
            continue
        if arn in ev(pattern.get("resources", [])):
            if "<NotifyTopic>" in [ev(t["Arn"]) for t in resource["Properties"]["Targets"]]:
                return True
    return False


def _examples_by_template() -> dict[str, tuple]:
    validator = Validator(Repo(REPO_ROOT))
    env = validator.environments()
    found: dict[str, tuple] = {}
    for path in Repo(REPO_ROOT).config_files():
        cfg, _ = validator.check_config(path, env)
        if cfg is not None:
            found.setdefault(template_name(REPO_ROOT, cfg.pipeline_type), (cfg, env))
    return found


def test_the_topic_name_is_checked_against_snss_limit() -> None:
    """The physical-name check (core/physical_names.py) sees each example's topic name."""
    examples = _examples_by_template()
    assert sorted(examples) == TEMPLATES
    for name, (cfg, env) in examples.items():
        stage = cfg.stages[0]
        spec = render(REPO_ROOT, cfg, stage, env, commit="0" * 40)
        found = physical_names(
            load_template(REPO_ROOT, name).body,
            spec.parameters,
            region=env.region_of(stage),
            account_id="111122223333",
            stack_name=spec.stack_name,
        )
        topic = next(n for n in found if n.logical_id == "NotifyTopic")
        assert topic.resource_type == "AWS::SNS::Topic", name
        assert topic.value == f"{spec.parameters['NamePrefix']}-notify", name
        assert "NamePrefix" in topic.parameters, name


def test_the_training_pipelines_outcome_reaches_the_notify_topic() -> None:
    """The event SageMaker sends when a pipeline execution ends
    (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html),
    matched as EventBridge does (moto's implementation of its patterns)."""
    import json

    from moto.events.models import EventPattern

    ev = _evaluator("model_training_pipeline.yaml")
    rule = ev.resource("TrainingOutcome")["Properties"]
    pipeline = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{PREFIX}"
    event = {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
        "detail": {
            "pipelineArn": pipeline,
            "pipelineExecutionArn": f"{pipeline}/execution/abc123",
            "currentPipelineExecutionStatus": "Failed",
            "previousPipelineExecutionStatus": "Executing",
        },
    }
    matches = EventPattern.load(json.dumps(rule["EventPattern"])).matches_event
    assert matches(event)
    assert not matches(
        {**event, "detail": {**event["detail"], "currentPipelineExecutionStatus": "Executing"}}
    )
    assert not matches({**event, "detail": {**event["detail"], "pipelineArn": pipeline + "-other"}})
    (target,) = rule["Targets"]
    assert target["Arn"] == "<NotifyTopic>"
    assert target["InputTransformer"]["InputPathsMap"] == {
        "execution": "$.detail.pipelineExecutionArn",
        "status": "$.detail.currentPipelineExecutionStatus",
    }
    assert "Next: " in target["InputTransformer"]["InputTemplate"]
