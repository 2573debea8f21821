"""The real-time reporting template, created in a moto server with the parameters the builder gives
for every stage of the web-events example, checked through the service APIs.

moto (../shared/reference/moto-and-cfn-lint.md §2-3) creates the Kinesis stream (name, shard count,
retention), the DynamoDB table (key schema, billing), the SQS queue (retention, encryption), the IAM role with its
inline policy, the Lambda function (code from S3, environment, memory, timeout) and the event source
mapping (batch size, bisect, retries, on-failure destination). It ignores the stream's capacity mode
and encryption, the table's TTL, point-in-time recovery and SSE (moto reads the API's
SSESpecification.Enabled, not CloudFormation's SSEEnabled), the queue policy and the alarms: those
are asserted at template level below.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest

from mlops_gitops import lambdas
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import PIPELINES_DIR, load_template
from mlops_gitops.repo import Repo
from tests.aws.conftest import REGION, inline_policy, orchestrator_basics
from tests.conftest import REPO_ROOT

TEMPLATE = "realtime_reporting.yaml"
ARTIFACT_BUCKET = "mlops-artifacts-111122223333"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
CFG, _ = VALIDATOR.check_config(REPO.configs_dir / "web-events" / "mlops-config.json", ENV)
assert CFG is not None and CFG.pipeline_type == "realtime_reporting"
BODY = load_template(REPO_ROOT, TEMPLATE).body
RESOURCES = BODY["Resources"]


def _parameters(stage: str) -> dict[str, str]:
    ctx = ParamContext(CFG, stage, ENV, REGION)
    params, deferred = builder_for(TEMPLATE)(ctx)
    assert ctx.findings == [] and deferred == {}
    return params


def _prepare(aws) -> None:
    orchestrator_basics(aws, ARTIFACT_BUCKET)


def _create(aws, stack_name: str, params: dict[str, str]) -> dict[str, str]:
    _prepare(aws)
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=(REPO_ROOT / PIPELINES_DIR / TEMPLATE).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Tags=[{"Key": "mlops:pipeline-id", "Value": "web-events"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.mark.parametrize("stage", CFG.stages)
def test_stack_is_created_in_moto(aws, stage: str) -> None:
    params = _parameters(stage)
    prefix = params["NamePrefix"]
    outputs = _create(aws, f"mlops-web-events-{stage}", params)

    # the stream: name, shards of the stage, retention
    stream = aws("kinesis").describe_stream_summary(StreamName=f"{prefix}-events")["StreamDescriptionSummary"]
    assert outputs["StreamName"] == stream["StreamName"] == f"{prefix}-events"
    assert outputs["StreamArn"] == stream["StreamARN"]
    assert stream["OpenShardCount"] == int(params["ShardCount"]) == {"dev": 1, "staging": 1, "prod": 4}[stage]
    assert stream["RetentionPeriodHours"] == 48

    # the table: keyed by the group and the window, on demand
    table = aws("dynamodb").describe_table(TableName=outputs["ResultsTableName"])["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "group_key", "KeyType": "HASH"},
        {"AttributeName": "window_start", "KeyType": "RANGE"},
    ]
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == [
        ("group_key", "S"),
        ("window_start", "N"),
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    # the function: code from the artifact bucket, its settings from the config
    function = aws("lambda").get_function(FunctionName=f"{prefix}-aggregator")
    config = function["Configuration"]
    assert outputs["AggregatorFunctionName"] == config["FunctionName"]
    assert config["Handler"] == "event_aggregator.handler"
    assert config["MemorySize"] == 512
    # moto keeps Number parameters as numbers in the environment; AWS passes strings
    assert {k: str(v) for k, v in config["Environment"]["Variables"].items()} == {
        "TABLE_NAME": outputs["ResultsTableName"],
        "EVENT_FORMAT": "snowplow_enriched_tsv",
        "GROUP_BY": "app_id,event_name",
        "WINDOW_SECONDS": "300",
        "TTL_DAYS": "90",
    }
    # the deployed code is exactly the content-addressed zip the builder named
    package = lambdas.package("event_aggregator")
    assert params["AggregatorLambdaKey"] == package.key
    assert config["CodeSha256"] == base64.b64encode(bytes.fromhex(package.sha256)).decode()
    with zipfile.ZipFile(io.BytesIO(package.data)) as zf:
        assert zf.namelist() == ["event_aggregator.py"]

    # the trigger: this stream, batch size, bisect, retries, failed batches to the queue
    queue_url = aws("sqs").get_queue_url(QueueName=f"{prefix}-failed")["QueueUrl"]
    # the host differs (moto's output says sqs.<region>.amazonaws.com, the server its own address)
    assert outputs["FailedBatchQueueUrl"].split("/")[-2:] == queue_url.split("/")[-2:]
    queue = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["MessageRetentionPeriod"] == "1209600"
    assert queue["SqsManagedSseEnabled"] == "true"
    mappings = aws("lambda").list_event_source_mappings(FunctionName=f"{prefix}-aggregator")[
        "EventSourceMappings"
    ]
    assert len(mappings) == 1
    mapping = mappings[0]
    assert mapping["EventSourceArn"] == stream["StreamARN"]
    assert mapping["FunctionArn"] == config["FunctionArn"]
    assert mapping["BatchSize"] == 500
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 3
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue["QueueArn"]}}

    # the role: read this stream, update this table, send to this queue - nothing else
    role_name = config["Role"].rsplit("/", 1)[-1]
    iam = aws("iam")
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert json.dumps(trust).count("lambda.amazonaws.com") == 1
    document = inline_policy(iam, role_name)
    grants = {s["Sid"]: s for s in document["Statement"]}
    assert set(grants) == {"ReadTheStream", "UpdateTheTable", "ReportFailedBatches", "WriteLogs"}
    assert grants["ReadTheStream"]["Resource"] == stream["StreamARN"]
    assert grants["UpdateTheTable"]["Resource"] == table["TableArn"]
    assert grants["UpdateTheTable"]["Action"] == "dynamodb:UpdateItem"
    assert grants["ReportFailedBatches"]["Resource"] == queue["QueueArn"]
    assert all(not a.endswith("*") for s in grants.values() for a in _list(s["Action"]))

    # the log group the function writes to, with its retention
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}-aggregator")
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups["logGroups"]] == [
        (f"/aws/lambda/{prefix}-aggregator", 90)
    ]


def test_a_stack_key_reaches_the_queue_and_the_role(aws) -> None:
    params = {**_parameters("dev"), "KmsKeyArn": KEY_ARN, "StreamMode": "ON_DEMAND", "TtlDays": "0"}
    outputs = _create(aws, "mlops-web-events-kms", params)
    function = aws("lambda").get_function(FunctionName=outputs["AggregatorFunctionName"])["Configuration"]
    assert str(function["Environment"]["Variables"]["TTL_DAYS"]) == "0"
    role_name = function["Role"].rsplit("/", 1)[-1]
    iam = aws("iam")
    document = inline_policy(iam, role_name)
    key_grant = next(s for s in document["Statement"] if s["Sid"] == "UseTheStackKey")
    assert key_grant["Resource"] == KEY_ARN
    assert sorted(key_grant["Condition"]["StringEquals"]["kms:ViaService"]) == [
        f"{service}.{REGION}.amazonaws.com" for service in ("dynamodb", "kinesis", "sqs")
    ]
    queue_url = aws("sqs").get_queue_url(QueueName=f"{params['NamePrefix']}-failed")["QueueUrl"]
    queue = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["KmsMasterKeyId"] == KEY_ARN


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------ what moto does not create


def test_stream_mode_and_encryption_are_wired() -> None:
    stream = RESOURCES["EventStream"]["Properties"]
    assert stream["StreamModeDetails"] == {"StreamMode": {"Ref": "StreamMode"}}
    assert stream["ShardCount"] == {"Fn::If": ["Provisioned", {"Ref": "ShardCount"}, {"Ref": "AWS::NoValue"}]}
    assert stream["StreamEncryption"] == {
        "EncryptionType": "KMS",
        "KeyId": {"Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, "alias/aws/kinesis"]},
    }
    assert BODY["Conditions"]["Provisioned"] == {"Fn::Equals": [{"Ref": "StreamMode"}, "PROVISIONED"]}


def test_table_ttl_recovery_and_retention_are_wired() -> None:
    table = RESOURCES["ResultsTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert "TableName" not in table["Properties"], "a kept table must not block a re-created stack"
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": {"Fn::If": ["HasTtl", True, False]},
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {
        "Fn::If": [
            "HasKms",
            {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "KmsKeyArn"}},
            {"SSEEnabled": True, "SSEType": "KMS"},
        ]
    }
    assert BODY["Conditions"]["HasTtl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "TtlDays"}, 0]}]}


def test_queue_refuses_plain_http() -> None:
    policy = RESOURCES["FailedBatchQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "FailedBatchQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarms_watch_errors_lag_and_failed_batches() -> None:
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarms) == {"Errors", "IteratorAge", "ApproximateNumberOfMessagesVisible"}
    function = [{"Name": "FunctionName", "Value": {"Ref": "AggregatorFunction"}}]
    assert alarms["Errors"]["Dimensions"] == alarms["IteratorAge"]["Dimensions"] == function
    assert alarms["IteratorAge"]["Threshold"] == {"Ref": "IteratorAgeAlarmMilliseconds"}
    assert alarms["ApproximateNumberOfMessagesVisible"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedBatchQueue", "QueueName"]}}
    ]
    for alarm in alarms.values():  # people get AlarmsRule's short message (tests/repo/test_notify_rules.py)
        assert alarm["AlarmActions"] == {"Fn::If": ["HasTopic", [{"Ref": "NotificationTopicArn"}], []]}


def test_function_logs_to_its_own_group_and_keeps_shards_in_order() -> None:
    function = RESOURCES["AggregatorFunction"]["Properties"]
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "AggregatorLogs"}}
    assert function["Code"] == {
        "S3Bucket": {"Ref": "ArtifactBucket"},
        "S3Key": {"Ref": "AggregatorLambdaKey"},
    }
    logs = RESOURCES["AggregatorLogs"]
    assert logs["DeletionPolicy"] == logs["UpdateReplacePolicy"] == "Delete"
    # the replay guard of the function needs one batch per shard at a time
    assert RESOURCES["StreamMapping"]["Properties"]["ParallelizationFactor"] == 1


def test_template_keeps_the_house_style() -> None:
    from tests.repo import test_templates

    test_templates.test_template_style(TEMPLATE)
