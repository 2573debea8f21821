"""Our policy rules (cfn-lint custom rules E9101-E9107), one table row per way to break them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops_gitops.core.lint import lint_templates
from mlops_gitops.repo import Repo

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
GOOD_BUCKET = {
    "Bucket": {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    },
    "BucketPolicy": {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "Bucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    },
}


def role(statement: dict) -> dict:
    return {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": TRUST,
                "Policies": [
                    {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
                ],
            },
        }
    }


def without(resource: dict, *keys: str) -> dict:
    props = dict(resource["Properties"])
    for key in keys:
        props.pop(key)
    return {**resource, "Properties": props}


ENDPOINT_CONFIG = {
    "Type": "AWS::SageMaker::EndpointConfig",
    "Properties": {
        "KmsKeyId": "alias/ml",
        "ProductionVariants": [
            {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
        "DataCaptureConfig": {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://b-b-b/c",
            "KmsKeyId": "alias/ml",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    },
}
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AsyncInferenceOutputConfig.html
ASYNC = {
    "AsyncInferenceConfig": {
        "OutputConfig": {
            "S3OutputPath": "s3://b-b-b/out",
            "KmsKeyId": "alias/ml",
        }
    }
}
MODEL = {
    "Type": "AWS::SageMaker::Model",
    "Properties": {
        "ExecutionRoleArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/r"},
        "EnableNetworkIsolation": True,
        "PrimaryContainer": {"Image": "i"},
    },
}
LOGS = {
    "Type": "AWS::Logs::LogGroup",
    "DeletionPolicy": "Delete",
    "UpdateReplacePolicy": "Delete",
    "Properties": {"RetentionInDays": 30},
}


@pytest.mark.parametrize(
    "resources, expected",
    [
        pytest.param(GOOD_BUCKET, set(), id="good-bucket"),
        pytest.param(
            {**GOOD_BUCKET, "Bucket": without(GOOD_BUCKET["Bucket"], "BucketEncryption")},
            {("E9101", "$.Resources.Bucket.Properties")},
            id="bucket-unencrypted",
        ),
        pytest.param(
            {"Bucket": GOOD_BUCKET["Bucket"]},
            {("E9102", "$.Resources.Bucket")},
            id="bucket-without-tls-policy",
        ),
        pytest.param(
            {**GOOD_BUCKET, "Bucket": without(GOOD_BUCKET["Bucket"], "PublicAccessBlockConfiguration")},
            {("E9103", "$.Resources.Bucket.Properties")},
            id="bucket-public",
        ),
        pytest.param(
            role({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            {("E9104", "$.Resources.Role.Properties.Policies[0].PolicyDocument.Statement[0]")},
            id="iam-star-star",
        ),
        pytest.param(
            role({"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}),
            {("E9104", "$.Resources.Role.Properties.Policies[0].PolicyDocument.Statement[0]")},
            id="iam-service-star",
        ),
        pytest.param(
            role({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}),
            set(),
            id="iam-one-action-on-star-is-fine",
        ),
        pytest.param(
            role({"Effect": "Deny", "Action": "*", "Resource": "*"}), set(), id="iam-deny-star-is-fine"
        ),
        pytest.param({"Ec": ENDPOINT_CONFIG}, set(), id="good-endpoint-config"),
        pytest.param(
            {"Ec": without(ENDPOINT_CONFIG, "KmsKeyId")},
            {("E9105", "$.Resources.Ec.Properties")},
            id="endpoint-volume-unencrypted",
        ),
        pytest.param(
            {
                "Ec": {
                    **ENDPOINT_CONFIG,
                    "Properties": {
                        **ENDPOINT_CONFIG["Properties"],
                        "DataCaptureConfig": {
                            k: v
                            for k, v in ENDPOINT_CONFIG["Properties"]["DataCaptureConfig"].items()
                            if k != "KmsKeyId"
                        },
                    },
                }
            },
            {("E9105", "$.Resources.Ec.Properties.DataCaptureConfig")},
            id="capture-unencrypted",
        ),
        pytest.param(
            {"Ec": {**ENDPOINT_CONFIG, "Properties": {**ENDPOINT_CONFIG["Properties"], **ASYNC}}},
            set(),
            id="async-results-encrypted",
        ),
        pytest.param(
            {
                "Ec": {
                    **ENDPOINT_CONFIG,
                    "Properties": {
                        **ENDPOINT_CONFIG["Properties"],
                        "AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "s3://b-b-b/out"}},
                    },
                }
            },
            {("E9105", "$.Resources.Ec.Properties.AsyncInferenceConfig")},
            id="async-results-unencrypted",
        ),
        pytest.param({"Logs": LOGS}, set(), id="good-log-group"),
        pytest.param(
            {"Logs": without(LOGS, "RetentionInDays")},
            {("E9106", "$.Resources.Logs.Properties")},
            id="logs-forever",
        ),
        pytest.param({"M": MODEL}, set(), id="good-model"),
        pytest.param(
            {"M": without(MODEL, "EnableNetworkIsolation")},
            {("E9107", "$.Resources.M.Properties")},
            id="model-not-isolated",
        ),
        pytest.param(
            {"M": {**MODEL, "Properties": {**MODEL["Properties"], "EnableNetworkIsolation": False}}},
            {("E9107", "$.Resources.M.Properties")},
            id="model-isolation-off",
        ),
    ],
)
def test_policy_rules(tmp_path: Path, resources: dict, expected: set) -> None:
    (tmp_path / "pipeline-configs").mkdir()
    template = tmp_path / "cloudformation" / "t.yaml"
    template.parent.mkdir()
    template.write_text(
        yaml.safe_dump(
            {"AWSTemplateFormatVersion": "2010-09-09", "Description": "policy probe", "Resources": resources}
        )
    )
    findings, checked = lint_templates(Repo(tmp_path))
    assert checked == ["cloudformation/t.yaml"]
    got = {(f.code, f.path) for f in findings if f.code.startswith("E91")}
    assert got == expected, [f.text() for f in findings]
    others = [f.text() for f in findings if not f.code.startswith("E91") and f.is_error]
    assert others == [], "the probe templates themselves are valid CloudFormation"


def test_validate_templates_fails_with_a_precise_finding(tmp_path: Path) -> None:
    from tests.conftest import TmpRepo, run_cli

    repo = TmpRepo(tmp_path / "repo")
    template = repo.root / "cloudformation" / "pipelines" / "leaky.yaml"
    template.parent.mkdir(parents=True)
    template.write_text(
        yaml.safe_dump(
            {
                "AWSTemplateFormatVersion": "2010-09-09",
                "Description": "leaky",
                "Resources": role({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            }
        )
    )
    result = run_cli("--repo-root", str(repo.root), "validate", "--templates")
    assert result.code == 1
    assert result.out.startswith(
        "cloudformation/pipelines/leaky.yaml: $.Resources.Role.Properties.Policies[0].PolicyDocument.Statement[0]: "
        "Role allows '*' on every resource ('*'); name the actions and scope the resources; line "
    )
    plain = run_cli("--repo-root", str(repo.root), "validate")
    assert plain.code == 0, "templates are linted only with --templates"
