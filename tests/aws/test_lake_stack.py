"""The data lake stack: built from the builder's parameters and created in a moto server, then checked
through the service APIs; what moto does not create is checked on the template instead.

What moto (5.2) really creates from data_lake.yaml: the two S3 buckets (name and encryption only),
the IAM roles with their inline policies, the AWS::IAM::Policy and the crawler log group. It skips,
silently, the bucket policies and the buckets' versioning, lifecycle, logging and public access
block, and every Glue, Athena, DMS and Feature Store resource (../shared/reference/moto-and-cfn-lint.md
§2-3; stack outputs that Ref a skipped resource come back missing). Those are asserted at template
level in the second half of this file.
"""

from __future__ import annotations

import ast
import json

import pytest

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import CONFIGS, REPO_ROOT
from tests.repo import test_templates as repo_templates

TEMPLATE = load_template(REPO_ROOT, "data_lake.yaml")
RESOURCES = TEMPLATE.body["Resources"]
CONDITIONS = TEMPLATE.body["Conditions"]
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
CUSTOMER_LAKE, _ = VALIDATOR.check_config(REPO.configs_dir / "customer-lake" / "mlops-config.json", ENV)
assert CUSTOMER_LAKE is not None
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:erp-AbCdEf"
MOTO_ACCOUNT = "123456789012"
# A minimal data_lake config as the builder renders it (see tests/unit/core/params/test_lake_params.py).
MINIMAL = {
    "NamePrefix": "mlops-lake-dev",
    "LakeBucketName": "",
    "Zones": "raw,curated",
    "ZoneCount": "2",
    "PartitionKeys": "year,month,day",
    "GlacierTransitionDays": "90",
    "ExpirationDays": "0",
    "KmsKeyArn": "",
    "GlueDatabaseName": "mlops_lake_dev",
    "CrawlerSchedule": "cron(0 2 * * ? *)",
    "AthenaBytesScannedCutoff": "0",
    "DmsEngine": "",
    "DmsSecretArn": "",
    "DmsDatabaseName": "",
    "DmsTableMappings": "",
    "DmsSubnetIds": "",
    "DmsSecurityGroupIds": "",
    "DmsTargetZone": "raw",
    "FeatureGroupName": "",
    "FeatureRecordIdentifier": "",
    "FeatureEventTime": "",
    "FeatureNames": "",
    "FeatureTypes": "",
    "FeatureCount": "0",
}
# Everything optional switched on: a KMS key, a named bucket, DMS from MySQL in given subnets.
WITH_KMS_AND_DMS = {
    **MINIMAL,
    "LakeBucketName": "acme-lake-dev",
    "KmsKeyArn": KEY_ARN,
    "Zones": "landing,raw,curated",
    "ZoneCount": "3",
    "DmsEngine": "mysql",
    "DmsSecretArn": SECRET_ARN,
    "DmsDatabaseName": "erp",
    "DmsTableMappings": '{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"include-1",'
    '"object-locator":{"schema-name":"%","table-name":"%"},"rule-action":"include"}]}',
    "DmsSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "DmsSecurityGroupIds": "sg-0123456789abcdef0",
}


def _example(stage: str) -> dict[str, str]:
    ctx = ParamContext(CUSTOMER_LAKE, stage, ENV, "us-east-1")
    params, deferred = builder_for("data_lake.yaml")(ctx)
    assert ctx.findings == [] and deferred == {}
    return params


CASES = [pytest.param(_example(s), id=f"customer-lake-{s}") for s in CUSTOMER_LAKE.stages] + [
    pytest.param(MINIMAL, id="minimal"),
    pytest.param(WITH_KMS_AND_DMS, id="kms-and-dms"),
]


def _create(aws, params: dict[str, str], body: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Create the stack; (outputs, logical id -> physical id)."""
    cfn = aws("cloudformation")
    name = params["NamePrefix"]
    cfn.create_stack(
        StackName=name,
        TemplateBody=body or TEMPLATE.text,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }
    return outputs, physical


def _policy(aws, role: str, name: str) -> list[dict]:
    document = aws("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        # moto keeps inline policies created by CloudFormation as the Python repr of the dict
        document = ast.literal_eval(document)
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return [s for s in statements if s]  # moto keeps an Fn::If that chose AWS::NoValue as None


def _principals(aws, role: str) -> set[str]:
    trust = aws("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    found: set[str] = set()
    for statement in trust["Statement"]:
        service = statement["Principal"]["Service"]
        found.update([service] if isinstance(service, str) else service)
    return found


@pytest.mark.parametrize("params", CASES)
def test_stack_is_created_in_moto(aws, params: dict[str, str]) -> None:
    outputs, physical = _create(aws, params)
    bucket = params["LakeBucketName"] or f"{params['NamePrefix']}-{MOTO_ACCOUNT}"
    assert outputs["LakeBucketName"] == bucket
    assert outputs["AthenaResultsUri"] == f"s3://{bucket}/athena-results/"
    s3 = aws("s3")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    expected = (
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}
        if params["KmsKeyArn"]
        else {"SSEAlgorithm": "AES256"}
    )
    assert rule["ApplyServerSideEncryptionByDefault"] == expected
    logs_bucket = outputs["AccessLogBucketName"]
    assert logs_bucket != bucket
    log_rule = s3.get_bucket_encryption(Bucket=logs_bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    # S3 delivers server access logs only to SSE-S3 buckets
    assert log_rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

    crawler_role = physical["CrawlerRole"]
    assert _principals(aws, crawler_role) == {"glue.amazonaws.com"}
    statements = {s["Sid"]: s for s in _policy(aws, crawler_role, "crawl-lake")}
    assert statements["ReadTheLake"]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert statements["ListTheLake"]["Resource"] == f"arn:aws:s3:::{bucket}"
    database = params["GlueDatabaseName"]
    assert (
        f"arn:aws:glue:us-east-1:{MOTO_ACCOUNT}:table/{database}/*"
        in statements["WriteTheLakeTables"]["Resource"]
    )
    if params["KmsKeyArn"]:
        assert statements["DecryptTheLake"]["Resource"] == KEY_ARN
        assert "SharedCrawlerLogs" not in statements
        groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws-glue/crawlers-role/")["logGroups"]
        assert [g["logGroupName"].startswith(f"/aws-glue/crawlers-role/{crawler_role}-") for g in groups] == [
            True
        ]
        assert groups[0]["retentionInDays"] == 90
        logs = {s["Sid"]: s for s in _policy(aws, crawler_role, "crawler-logs")}["EncryptedCrawlerLogs"]
        # AWS's GetAtt Arn ends in ":*" (the group's streams); moto's doesn't
        assert logs["Resource"] in (groups[0]["arn"], groups[0]["logGroupArn"])
    else:
        assert "DecryptTheLake" not in statements
        assert statements["SharedCrawlerLogs"]["Resource"][0].endswith(":log-group:/aws-glue/crawlers")

    if params["DmsEngine"]:
        secret_role = physical["DmsSecretRole"]
        assert "dms.amazonaws.com" in _principals(aws, secret_role)
        read = {s["Sid"]: s for s in _policy(aws, secret_role, "read-source-secret")}
        assert read["ReadTheSecret"]["Resource"] == params["DmsSecretArn"]  # that secret, nothing else
        assert read["DecryptTheSecretOnly"]["Condition"]["StringEquals"] == {
            "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
            "kms:EncryptionContext:SecretARN": params["DmsSecretArn"],
        }
        write = {s["Sid"]: s for s in _policy(aws, physical["DmsS3Role"], "write-raw-zone")}
        assert write["WriteTheRawZone"]["Resource"] == f"arn:aws:s3:::{bucket}/{params['DmsTargetZone']}/*"
    else:
        assert "DmsSecretRole" not in physical and "DmsS3Role" not in physical

    if params["FeatureCount"] != "0":
        role = physical["FeatureStoreRole"]
        assert _principals(aws, role) == {"sagemaker.amazonaws.com"}
        store = {s["Sid"]: s for s in _policy(aws, role, "offline-store")}
        assert store["WriteTheOfflineStore"]["Resource"] == f"arn:aws:s3:::{bucket}/feature-store/*"
    else:
        assert "FeatureStoreRole" not in physical


def test_deleting_the_stack_keeps_the_data(aws) -> None:
    # RetainExceptOnCreate is Retain for a stack deletion; only a rolled-back create deletes
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html).
    # moto keeps only "Retain" on delete (moto/cloudformation/parsing.py), so it gets what AWS applies here.
    body = TEMPLATE.text.replace("DeletionPolicy: RetainExceptOnCreate", "DeletionPolicy: Retain")
    assert body != TEMPLATE.text
    outputs, _ = _create(aws, MINIMAL, body)
    s3 = aws("s3")
    s3.put_object(
        Bucket=outputs["LakeBucketName"], Key="raw/orders/year=2025/month=01/day=01/a.parquet", Body=b"x"
    )
    aws("cloudformation").delete_stack(StackName=MINIMAL["NamePrefix"])
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {outputs["LakeBucketName"], outputs["AccessLogBucketName"]} <= buckets
    assert s3.list_objects_v2(Bucket=outputs["LakeBucketName"])["KeyCount"] == 1


# ------------------------------------------------------------ template level: what moto skips


def test_template_style_of_the_repository() -> None:
    repo_templates.test_template_style("data_lake.yaml")


def test_lake_bucket_is_retained_versioned_private_and_tiered() -> None:
    bucket = RESOURCES["LakeBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert (
        set(props["PublicAccessBlockConfiguration"].values()) == {True}
        and len(props["PublicAccessBlockConfiguration"]) == 4
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    lake = rules["lake-to-glacier"]
    assert "Prefix" not in lake and "Filter" not in lake, "the whole lake moves to Glacier"
    assert lake["Transitions"] == [
        {"StorageClass": "GLACIER", "TransitionInDays": {"Ref": "GlacierTransitionDays"}}
    ]
    assert lake["ExpirationInDays"] == {
        "Fn::If": ["HasExpiration", {"Ref": "ExpirationDays"}, {"Ref": "AWS::NoValue"}]
    }
    assert rules["remove-old-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionExpirationDays"}
    }
    assert rules["expire-athena-results"]["Prefix"] == "athena-results/"
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == {"Fn::If": ["HasKms", "aws:kms", "AES256"]}
    log_bucket = RESOURCES["AccessLogBucket"]
    assert log_bucket["DeletionPolicy"] == "RetainExceptOnCreate"
    assert len(log_bucket["Properties"]["PublicAccessBlockConfiguration"]) == 4


@pytest.mark.parametrize(
    "policy, bucket", [("LakeBucketPolicy", "LakeBucket"), ("AccessLogBucketPolicy", "AccessLogBucket")]
)
def test_bucket_policies_refuse_plain_http(policy: str, bucket: str) -> None:
    props = RESOURCES[policy]["Properties"]
    assert props["Bucket"] == {"Ref": bucket}
    deny = props["PolicyDocument"]["Statement"][0]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_lake_bucket_may_deliver_access_logs() -> None:
    allow = RESOURCES["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][1]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    source = allow["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    # the same name expression as the lake bucket's, spelled out to avoid a dependency cycle
    assert source[1]["Name"] == RESOURCES["LakeBucket"]["Properties"]["BucketName"]
    assert RESOURCES["LakeBucket"]["DependsOn"] == "AccessLogBucketPolicy"


def test_glue_database_and_crawler() -> None:
    database = RESOURCES["GlueDatabase"]["Properties"]["DatabaseInput"]
    assert database["Name"] == {"Ref": "GlueDatabaseName"}
    assert database["Parameters"]["partition_keys"] == {"Fn::Join": [",", {"Ref": "PartitionKeys"}]}
    crawler = RESOURCES["Crawler"]["Properties"]
    assert crawler["DatabaseName"] == {"Ref": "GlueDatabase"}
    assert crawler["Schedule"] == {"ScheduleExpression": {"Ref": "CrawlerSchedule"}}
    assert crawler["Role"] == {"Fn::GetAtt": ["CrawlerRole", "Arn"]}
    assert crawler["CrawlerSecurityConfiguration"] == {
        "Fn::If": ["HasKms", {"Ref": "GlueSecurityConfiguration"}, {"Ref": "AWS::NoValue"}]
    }
    assert crawler["SchemaChangePolicy"]["DeleteBehavior"] == "LOG"
    json.loads(crawler["Configuration"])
    encryption = RESOURCES["GlueSecurityConfiguration"]["Properties"]["EncryptionConfiguration"]
    assert RESOURCES["GlueSecurityConfiguration"]["Condition"] == "HasKms"
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"


def test_athena_workgroup_enforces_encrypted_results_in_the_lake() -> None:
    config = RESOURCES["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    results = config["ResultConfiguration"]
    assert results["OutputLocation"] == {"Fn::Sub": "s3://${LakeBucket}/athena-results/"}
    assert results["EncryptionConfiguration"]["EncryptionOption"] == {
        "Fn::If": ["HasKms", "SSE_KMS", "SSE_S3"]
    }
    assert config["BytesScannedCutoffPerQuery"] == {
        "Fn::If": ["HasScanLimit", {"Ref": "AthenaBytesScannedCutoff"}, {"Ref": "AWS::NoValue"}]
    }


def _engines(condition: dict) -> set[str]:
    """The DmsEngine values an Fn::Equals / Fn::Or condition tests for."""
    equals = condition.get("Fn::Or", [condition])
    return {e["Fn::Equals"][1] for e in equals if e["Fn::Equals"][0] == {"Ref": "DmsEngine"}}


def test_dms_is_conditional_private_and_reads_credentials_from_the_secret() -> None:
    dms = {n: r for n, r in RESOURCES.items() if r["Type"].startswith("AWS::DMS::")}
    assert set(dms) == {
        "DmsSubnetGroup",
        "DmsReplicationInstance",
        "DmsSourceEndpoint",
        "DmsTargetEndpoint",
        "DmsReplicationTask",
    }
    assert {r["Condition"] for r in dms.values()} == {"HasDms", "HasDmsSubnets"}
    assert RESOURCES["DmsSecretRole"]["Condition"] == RESOURCES["DmsS3Role"]["Condition"] == "HasDms"
    instance = dms["DmsReplicationInstance"]["Properties"]
    assert instance["PubliclyAccessible"] is False
    assert instance["KmsKeyId"] == {"Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    source = dms["DmsSourceEndpoint"]["Properties"]
    assert not {"Username", "Password", "ServerName", "Port"} & set(source), (
        "credentials come from the secret"
    )
    families = {
        "MySqlSettings": "DmsMySql",
        "PostgreSqlSettings": "DmsPostgres",
        "OracleSettings": "DmsOracle",
        "MicrosoftSqlServerSettings": "DmsSqlServer",
    }
    for settings, condition in families.items():
        condition_name, value, no_value = source[settings]["Fn::If"]
        assert (condition_name, no_value) == (condition, {"Ref": "AWS::NoValue"})
        assert value == {
            "SecretsManagerSecretId": {"Ref": "DmsSecretArn"},
            "SecretsManagerAccessRoleArn": {"Fn::GetAtt": ["DmsSecretRole", "Arn"]},
        }
    # every engine the schema allows falls in exactly one family
    schema = json.loads((CONFIGS / "mlops-config.schema.json").read_text())
    engines = schema["properties"]["dms_replication"]["properties"]["engine"]["enum"]
    for engine in engines:
        hits = [c for c in families.values() if engine in _engines(CONDITIONS[c])]
        assert len(hits) == 1, (engine, hits)
    target = dms["DmsTargetEndpoint"]["Properties"]["S3Settings"]
    assert target["BucketName"] == {"Ref": "LakeBucket"}
    assert target["BucketFolder"] == {"Fn::Sub": "${DmsTargetZone}/${DmsDatabaseName}"}
    assert target["EncryptionMode"] == {"Fn::If": ["HasKms", "SSE_KMS", "SSE_S3"]}
    task = dms["DmsReplicationTask"]["Properties"]
    assert task["TableMappings"] == {"Ref": "DmsTableMappings"}
    assert task["MigrationType"] == {"Ref": "DmsMigrationType"}


def test_feature_group_keeps_its_offline_store_in_the_lake() -> None:
    group = RESOURCES["FeatureGroup"]
    assert group["Condition"] == "HasFeatureGroup"
    props = group["Properties"]
    assert props["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == {
        "Fn::Sub": "s3://${LakeBucket}/feature-store/"
    }
    assert props["OnlineStoreConfig"]["Fn::If"][0] == "HasOnlineStore"
    assert props["RoleArn"] == {"Fn::GetAtt": ["FeatureStoreRole", "Arn"]}
    assert props["RecordIdentifierFeatureName"] == {"Ref": "FeatureRecordIdentifier"}
