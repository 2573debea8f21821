"""The training-pipeline example (defects-detector) builds its parameters for every stage and the
stack is created in a moto server; the pipeline role, the EventBridge role and the three trigger
rules are then checked through the service APIs.

moto's CloudFormation silently skips AWS::SageMaker::Pipeline and AWS::SageMaker::ModelPackageGroup
(shared reference moto-and-cfn-lint.md section 3), enforces no parameter constraints and delivers
no events, so the pipeline, the group (Retain) and the definition are asserted at template level
here and in tests/unit/core/params/test_training_pipeline_params.py.
"""

from __future__ import annotations

import ast
import json

import pytest

from mlops_gitops import names
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.aws.conftest import create_pipeline_stack
from tests.conftest import REPO_ROOT

TEMPLATE = "model_training_pipeline.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
RESOURCES = BODY["Resources"]
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
ACCOUNT = "123456789012"  # moto's default account
_cfg, _ = VALIDATOR.check_config(REPO.configs_dir / "defects-detector" / "mlops-config.json", ENV)
assert _cfg is not None
CASES = [pytest.param(_cfg, stage, id=f"defects-detector-{stage}") for stage in _cfg.stages]


def _policy_statements(iam, role_name: str) -> list[dict]:
    out = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps CloudFormation's inline policies as a Python repr
            try:
                document = json.loads(document)
            except ValueError:
                document = ast.literal_eval(document)
        out += [s for s in document["Statement"] if s]  # AWS::NoValue statements read back as None
    return out


def _by_trust(roles: list[dict], service: str) -> dict:
    found = [r for r in roles if service in json.dumps(r["AssumeRolePolicyDocument"])]
    assert len(found) == 1, service
    return found[0]


@pytest.mark.parametrize("cfg, stage", CASES)
def test_training_pipeline_stack_is_created_in_moto(aws, cfg, stage) -> None:
    ctx = ParamContext(cfg, stage, ENV, "us-east-1")
    params, deferred = builder_for(TEMPLATE)(ctx)
    assert ctx.findings == [] and deferred == {}
    stack_name = names.stack_name(ENV.stack_prefix, cfg.pipeline_id, stage)
    tags = [{"Key": "mlops:pipeline", "Value": cfg.pipeline_id}]
    stack = create_pipeline_stack(aws, TEMPLATE, stack_name, params, Tags=tags)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    prefix = params["NamePrefix"]
    assert outputs["ModelPackageGroupName"] == params["ModelPackageGroupName"]

    # the pipeline role: data read-only, output read-write, jobs, the registry group, itself
    iam = aws("iam")
    roles = iam.list_roles()["Roles"]
    job_role = _by_trust(roles, "sagemaker.amazonaws.com")
    events_role = _by_trust(roles, "events.amazonaws.com")
    assert outputs["PipelineRoleArn"] == job_role["Arn"]
    statements = {s.get("Sid"): s for s in _policy_statements(iam, job_role["RoleName"])}
    assert statements["ReadData"]["Resource"] == [
        "arn:aws:s3:::mlops-demo-data",
        "arn:aws:s3:::mlops-demo-data/*",
    ]
    assert statements["ReadData"]["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert "arn:aws:s3:::mlops-demo-assets/defects/code/evaluate.py" in statements["ReadScripts"]["Resource"]
    assert "arn:aws:s3:::mlops-demo-models/*" in statements["WriteOutput"]["Resource"]
    group = params["ModelPackageGroupName"]
    assert statements["RegisterModels"]["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/{group}",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{group}/*",
    ]
    assert all(r.endswith("/pipelines-*") for r in statements["PipelineJobs"]["Resource"])
    assert "UseTheStackKey" not in statements, "no kms_key_arn in the example"
    assert statements["PassItself"]["Resource"] == job_role["Arn"], "AWS::IAM::Policy, only on itself"

    # EventBridge may start this pipeline and nothing else
    pipeline_arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:pipeline/{prefix}"
    starts = _policy_statements(iam, events_role["RoleName"])
    check_arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{prefix}-new-data"
    assert sorted(starts, key=lambda s: s["Action"]) == [
        {"Effect": "Allow", "Action": "sagemaker:StartPipelineExecution", "Resource": pipeline_arn},
        {
            "Sid": "StartTheNewDataCheck",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": check_arn,
        },
    ]

    events = aws("events")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix=prefix)["Rules"]}
    assert set(rules) == {
        f"{prefix}-new-data",
        f"{prefix}-new-data-check",
        f"{prefix}-schedule",
        f"{prefix}-monitor-violation",
        f"{prefix}-training-outcome",  # to the notify topic (issue 19; tests/repo/test_notify_topic.py)
        f"{prefix}-drifted",  # drift results to the notify topic (tests/repo/test_notify_rules.py)
    }
    assert rules[f"{prefix}-schedule"]["ScheduleExpression"] == "rate(7 days)"
    new_data = json.loads(rules[f"{prefix}-new-data"]["EventPattern"])
    assert new_data["detail"] == {
        "bucket": {"name": ["mlops-demo-data"]},
        "object": {"key": [{"prefix": "defects/images/incoming/"}]},
    }
    drift = json.loads(rules[f"{prefix}-monitor-violation"]["EventPattern"])
    assert drift["detail"]["alarmName"] == [f"mlops-churn-data-quality-{stage}-violations"]
    assert drift["detail"]["state"] == {"value": ["ALARM"]}
    for name, value in (
        (f"{prefix}-schedule", "schedule"),
        (f"{prefix}-monitor-violation", "monitor-violation"),
    ):
        (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
        assert (target["Arn"], target["RoleArn"]) == (pipeline_arn, events_role["Arn"])
        assert target["SageMakerPipelineParameters"]["PipelineParameterList"] == [
            {"Name": "Trigger", "Value": value}
        ]


def test_pipeline_and_group_at_template_level() -> None:
    """moto skips both SageMaker resources: the wiring is read from the template."""
    group = RESOURCES["ModelPackageGroup"]
    assert group["Type"] == "AWS::SageMaker::ModelPackageGroup"
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert group["Properties"]["ModelPackageGroupName"] == {"Ref": "ModelPackageGroupName"}
    pipeline = RESOURCES["Pipeline"]
    assert pipeline["Type"] == "AWS::SageMaker::Pipeline"
    assert set(pipeline["DependsOn"]) == {"ModelPackageGroup", "PassRolePolicy"}
    props = pipeline["Properties"]
    assert props["PipelineName"] == {"Ref": "NamePrefix"}
    assert props["RoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}
    assert list(props["PipelineDefinition"]) == ["PipelineDefinitionBody"]
    pass_role = RESOURCES["PassRolePolicy"]["Properties"]
    (statement,) = pass_role["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_triggers_are_conditional_and_no_resource_is_tagged() -> None:
    assert RESOURCES["NewDataTrigger"]["Condition"] == "HasDataTrigger"
    assert RESOURCES["ScheduleTrigger"]["Condition"] == "HasSchedule"
    assert RESOURCES["MonitorViolationTrigger"]["Condition"] == "HasMonitorTrigger"
    assert RESOURCES["EventsRole"]["Condition"] == "HasAnyTrigger"
    types = {r["Type"] for r in RESOURCES.values()}
    assert not any(t.startswith("Custom::") for t in types)
    for name, resource in RESOURCES.items():
        assert "Tags" not in resource.get("Properties", {}), name


@pytest.mark.parametrize("cfg, stage", CASES[:1])
def test_new_objects_start_one_execution_per_check_not_one_per_object(aws, cfg, stage) -> None:
    """Issue 15 part 5c. S3 sends one "Object Created" event per object
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html): the rule queues them in
    SQS (moto delivers rule -> SQS) and starts nothing; the scheduled check peeks at the queue, and
    only when something arrived empties it (PurgeQueue) and starts the pipeline once
    (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
    moto runs no aws-sdk task, so the check's path is read from the definition it was given."""
    ctx = ParamContext(cfg, stage, ENV, "us-east-1")
    params, _ = builder_for(TEMPLATE)(ctx)
    create_pipeline_stack(aws, TEMPLATE, names.stack_name(ENV.stack_prefix, cfg.pipeline_id, stage), params)
    prefix = params["NamePrefix"]
    events, sqs = aws("events"), aws("sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{prefix}-new-data")["QueueUrl"]
    (target,) = events.list_targets_by_rule(Rule=f"{prefix}-new-data")["Targets"]
    assert target["Arn"].endswith(f":{prefix}-new-data") and ":sqs:" in target["Arn"], "queued, not started"
    check_arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{prefix}-new-data"
    (check,) = events.list_targets_by_rule(Rule=f"{prefix}-new-data-check")["Targets"]
    assert check["Arn"] == check_arn
    # moto hands every event to rules without a pattern (schedules) and delivers to SQS targets only:
    # the other rules' targets are taken off first (AWS matches schedule rules to no event).
    for rule in events.list_rules(NamePrefix=prefix)["Rules"]:
        if rule["Name"] != f"{prefix}-new-data":
            ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
            events.remove_targets(Rule=rule["Name"], Ids=ids)
    uploads = [f"{params['TriggerKeyPrefix']}img-{n}.jpg" for n in range(5)]
    entries = [
        {
            "Source": "aws.s3",
            "DetailType": "Object Created",
            "Detail": json.dumps({"bucket": {"name": params["TriggerBucket"]}, "object": {"key": key}}),
        }
        for key in uploads
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "5"

    assert events.describe_rule(Name=f"{prefix}-new-data-check")["ScheduleExpression"] == "rate(1 hour)"
    definition = json.loads(
        aws("stepfunctions").describe_state_machine(stateMachineArn=check_arn)["definition"]
    )
    states = definition["States"]
    peek = states[definition["StartAt"]]
    assert peek["Resource"].endswith("aws-sdk:sqs:receiveMessage")
    assert peek["Arguments"]["QueueUrl"].endswith(f"/{ACCOUNT}/{prefix}-new-data")  # moto's host differs
    choice = states[peek["Next"]]
    assert choice["Default"] == "NothingNew" and states["NothingNew"]["Type"] == "Succeed"
    (found,) = choice["Choices"]
    drain = states[found["Next"]]
    assert drain["Resource"].endswith("aws-sdk:sqs:purgeQueue")
    train = states[drain["Next"]]
    assert train["Resource"].endswith("aws-sdk:sagemaker:startPipelineExecution") and train["End"] is True
    assert train["Arguments"] == {
        "PipelineName": prefix,
        "PipelineParameters": [{"Name": "Trigger", "Value": "new-data"}],
    }
    starts = [s for s in states.values() if "startPipelineExecution" in s.get("Resource", "")]
    assert starts == [train], "one start per check"
