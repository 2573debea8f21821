"""Issue 15 A/B: the roles that create and read our stacks' resources allow what CloudFormation's
handlers of those resource types call, on the resources the stacks touch, judged by the policy
evaluator (tests/repo/iam_eval.py), not by reading strings.

The list comes from CloudFormation's resource-provider schemas as cfn-lint ships them
(tests/repo/handler_permissions.py); an account-wide action (no resource-level permissions in the
Service Authorization Reference) must be allowed on "*", since that is the only resource IAM
matches it against
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)."""

from __future__ import annotations

import pytest

from mlops_gitops.core.templates import _parse
from tests.repo.handler_permissions import arn_touched, handler_actions, resource_types_of
from tests.repo.iam_eval import ALLOW, as_list, decide
from tests.repo.test_iam_policies import (
    ACCOUNT,
    BOOTSTRAP_ROLES,
    BOUNDARY,
    DEPLOY_BUCKET,
    PIPELINES,
    REGION,
    exec_role,
    orchestrator,
    role_arn,
    role_statements,
    target,
)

pytestmark = pytest.mark.repo

STACK = "mlops-churn-dev"  # names our stacks give start with the stack name (<prefix>-<pipeline>-<stage>)

NOT_NEEDED = {  # action prefix -> why the execution role does not get it
    "iam:PutUserPolicy": "AWS::IAM::Policy attaches to roles only in our templates",
    "iam:DeleteUserPolicy": "idem",
    "iam:GetUserPolicy": "idem",
    "iam:PutGroupPolicy": "idem",
    "iam:DeleteGroupPolicy": "idem",
    "iam:GetGroupPolicy": "idem",
    "iam:DeleteRolePermissionsBoundary": "denied on purpose: no role drops the boundary",
    "iam:AttachRolePolicy": "denied on purpose: no template attaches a managed policy (ManagedPolicyArns)",
    "iam:PassRole": "judged per service in test_3_roles_are_passed_only_to_the_services_that_use_them",
    "s3:PutObject": "object writes are deploy's; Athena checks result locations we do not set",
    "s3:DeleteObject": "idem",
    "s3:PutObjectAcl": "idem (buckets are BucketOwnerEnforced)",
    "s3:AbortMultipartUpload": "idem",
    "s3:ListMultipartUploadParts": "idem",
    "s3:ListBucketMultipartUploads": "idem",
    "s3:REST.PUT.OBJECT": "log delivery to S3 (not used)",
    "s3:GetObjectMetadata": "DynamoDB import from S3 (not used)",
    "s3:PutObjectLockConfiguration": "not an IAM action (cfn-lint); object lock is not used",
    "s3:CreateBucketMetadataTableConfiguration": "S3 metadata tables (not used)",
    "s3:DeleteBucketMetadataTableConfiguration": "idem",
    "s3:GetBucketMetadataTableConfiguration": "idem",
    "s3:UpdateBucketMetadata": "idem",
    "s3:GetBucketAbac": "covered by s3:GetBucket*",
    "s3tables:": "S3 metadata tables (not used)",
    "lambda:AssociateRuntimeAlias": "not an IAM action (cfn-lint)",
    "lambda:PassCapacityProvider": "Lambda managed instances (not used)",
    "lambda:GetCodeSigningConfig": "code signing (CodeSigningConfigArn) is not used",
    "lambda:PutFunctionCodeSigningConfig": "idem",
    "lambda:GetLayerVersion": "layers (Layers) are not used",
    "glue:CreateConnection": "Glue connections (not used by our databases)",
    "glue:DeleteConnection": "idem",
    "glue:GetConnection": "idem",
    "glue:UpdateConnection": "idem",
    "glue:PassConnection": "idem",
    "lakeformation:": "Lake Formation (not used)",
    "firehose:": "log delivery to Firehose (not used)",
    "elasticfilesystem:": "Lambda file systems (not used)",
    "s3files:": "Lambda file systems (not used)",
    "redshift:": "DMS Redshift endpoints (not used)",
    "rds:": "DMS endpoints on RDS clusters are described only for Aurora targets (not used)",
}

# What a handler touches where the ARN is not the resource's own.
OBJECT = f"{DEPLOY_BUCKET}/lambda/f-0123456789abcdef.zip"  # code and definitions come from deploy's uploads
TOUCHED = {"s3:GetObject": OBJECT, "s3:GetObjectVersion": OBJECT}
# Service-linked roles the handlers create, by the service that owns them
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
SERVICE_LINKED = {
    "AWS::ApplicationAutoScaling::ScalableTarget": "sagemaker.application-autoscaling.amazonaws.com",
    "AWS::Athena::WorkGroup": None,  # no service-linked role for Athena workgroups we configure
    "AWS::DynamoDB::Table": None,  # replication.dynamodb: global tables (Replicas) are not used
}


# Granted on "*" before issue 15 though IAM knows a resource type for them: kept, because whether the
# handler's first call (RegisterScalableTarget, PutMetricAlarm, CreateEventSourceMapping before the
# mapping exists) is authorized on the new resource's ARN is not confirmed without a real account.
STAY_ACCOUNT_WIDE = (
    "application-autoscaling:",  # scalable targets of our endpoints' variants
    "cloudwatch:",  # alarms of our endpoints; GetMetricData names no data set
    "lambda:GetEventSourceMapping",  # event-source-mapping ids are generated
    "lambda:UpdateEventSourceMapping",
    "lambda:DeleteEventSourceMapping",
    "secretsmanager:DescribeSecret",  # the DMS source's secret, named by the config; metadata only
)


def used_types() -> set[str]:
    return {r["Type"] for p in PIPELINES for r in _parse(p.read_text())["Resources"].values()}


def requests(handlers: tuple[str, ...]):
    """(action, resource type, resource ARN, context) for every handler call of our resource types."""
    needed = handler_actions(used_types(), handlers)
    assert len(needed) > 100 and "sagemaker:DescribeEndpoint" in needed, "the schemas keep their handlers"
    for action, types in sorted(needed.items()):
        if action.startswith(tuple(NOT_NEEDED)) or resource_types_of(action) is None:
            continue  # None: not an IAM action (s3:DeleteBucketCors...); no policy can name it
        for type_name in sorted(types):
            ctx = {"iam:PermissionsBoundary": BOUNDARY}
            if action == "iam:CreateServiceLinkedRole":
                if not (service := SERVICE_LINKED[type_name]):
                    continue
                arn = role_arn(ACCOUNT, f"aws-service-role/{service}/AWSServiceRole")
                ctx["iam:AWSServiceName"] = service
            else:
                arn = TOUCHED.get(action) or arn_touched(
                    action, type_name, account=ACCOUNT, region=REGION, name=f"{STACK}-x"
                )
            yield action, type_name, arn, ctx


def test_the_execution_role_allows_every_handler_call_on_what_the_stack_touches() -> None:
    sts = exec_role()
    refused = [
        f"{action} on {arn} ({type_name}): {verdict}"
        for action, type_name, arn, ctx in requests(("create", "read", "update", "delete"))
        if (verdict := decide(sts, action, arn, ctx)) != ALLOW
    ]
    assert refused == []


def test_the_account_wide_calls_are_the_ones_without_resource_level_permissions() -> None:
    # The reverse guard: what the execution role grants on "*" is only what IAM cannot scope.
    wide = {
        a
        for st in exec_role()
        if st["Effect"] == "Allow" and "*" in as_list(st["Resource"])
        for a in as_list(st["Action"])
    }
    scoped = sorted(a for a in wide if resource_types_of(a) and not a.startswith(STAY_ACCOUNT_WIDE))
    assert scoped == []
    assert not [a for a in wide if a.lower().startswith(("iam:", "sts:", "organizations:"))]


def test_no_handler_call_lets_the_execution_role_touch_a_bootstrap_role() -> None:
    sts = exec_role()
    iam_calls = sorted(
        {a for a, *_ in requests(("create", "read", "update", "delete")) if a.startswith("iam:")}
    )
    assert "iam:CreateRole" in iam_calls
    for name in BOOTSTRAP_ROLES:
        for action in iam_calls:
            if action.startswith(("iam:Get", "iam:List")):
                continue
            ctx = {"iam:PermissionsBoundary": BOUNDARY}
            assert decide(sts, action, role_arn(ACCOUNT, name), ctx) != ALLOW, (action, name)


# ------------------------------------------------------------------ B: what drift detection reads
# Drift detection reads each resource with the caller's permissions
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html): the read
# handlers' permissions. The orchestrator's drift and pr-check builds assume the stage account's review
# role (aws/stage.py StageGateways.for_stage); in the orchestrator's own account they act as themselves.
READ_NOT_GRANTED = {  # action -> why the review role does not get it
    "kms:Decrypt": "data, not configuration: a function's or state machine's encrypted variables; the "
    "review role decrypts only evaluation reports through S3 (EvaluationReportKeys)",
}
READ_ONLY = ("Describe", "Get", "List")


READERS = {  # who reads a stage's resources for drift, status and previews
    "ReviewRole": lambda: role_statements(target(), "ReviewRole", ACCOUNT),
    # the orchestrator's own account: no role is assumed there (aws/clients.py for_account)
    "DriftBuildRole": lambda: role_statements(orchestrator(), "DriftBuildRole", ACCOUNT),
    "PrCheckBuildRole": lambda: role_statements(orchestrator(), "PrCheckBuildRole", ACCOUNT),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_readers_read_what_drift_detection_reads(reader: str) -> None:
    sts = READERS[reader]()
    refused = [
        f"{action} on {arn} ({type_name})"
        for action, type_name, arn, ctx in requests(("read",))
        if action not in READ_NOT_GRANTED and decide(sts, action, arn, ctx) != ALLOW
    ]
    assert refused == []


@pytest.mark.parametrize("reader", sorted(READERS))
def test_what_the_readers_read_everywhere_is_reads_only(reader: str) -> None:
    everywhere = [
        a
        for st in READERS[reader]()
        if st["Effect"] == "Allow" and "*" in as_list(st["Resource"])
        for a in as_list(st["Action"])
    ]
    assert "dms:Describe*" in everywhere
    for action in everywhere:
        name = action.split(":")[1]
        assert name.startswith(READ_ONLY) or action == "apigateway:GET", action
    data_reads = {
        "dynamodb:GetItem": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-ResultsTable-X",
        "dynamodb:Query": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-ResultsTable-X",
        "logs:GetLogEvents": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-x:log-stream:s",
        "s3:GetObject": "arn:aws:s3:::mlops-churn-lake-dev/raw/orders/a.parquet",
        "kms:Decrypt": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c",  # not through S3
        "secretsmanager:GetSecretValue": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:dms-source-AbCdEf",
    }
    for action, arn in data_reads.items():
        assert decide(READERS[reader](), action, arn) != ALLOW, action
