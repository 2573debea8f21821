"""Serverless, shadow and asynchronous variants of the real-time endpoint: the parameters render gives, and the
EndpointConfig and models CloudFormation would make of them.

moto ignores what matters here: it drops ShadowProductionVariants, checks no ServerlessConfig range
and doesn't record EnableNetworkIsolation (tests/aws/test_inference_stacks.py creates the stacks).
So these tests evaluate the template offline (cfn_eval) for a config and assert the shapes of
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html
ShadowProductionVariants of
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html and
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AsyncInferenceConfig.html and the
Mode of https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext, with_model_revisions
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import assert_fits, valid_config

TEMPLATE = "realtime_inference.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
DECLARED = BODY["Parameters"]
ENV = Validator(Repo(REPO_ROOT)).environments()
MP6 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/6"
MP7 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/7"


def rendered(tmp_repo: TmpRepo, config: dict, stage: str) -> tuple[dict[str, str], dict]:
    """(parameters with model revisions, deferred) as render gives them for ``stage``."""
    cfg = valid_config(tmp_repo, "p", config, ENV)
    ctx = ParamContext(cfg, stage, ENV, "us-east-1")
    params, deferred = builder_for(TEMPLATE)(ctx)
    assert ctx.findings == []
    params = with_model_revisions(params)
    assert_fits(DECLARED, params)
    return params, deferred


def evaluated(params: dict[str, str]) -> dict[str, Any]:
    """The stack's resources (their Properties, with conditions applied) for these parameters."""
    given = {"PermissionsBoundaryArn": "", "ArtifactBucket": "b", **params}
    values = parameter_values(BODY, {k: v for k, v in given.items() if k in DECLARED})
    evaluate = Evaluator(BODY, values, resources=lambda name, attr: f"<{name}.{attr}>")
    out = {}
    for name in (
        "EndpointConfig",
        "Endpoint",
        "Model",
        "ShadowModel",
        "ModelRole",
        "Variant1ScalableTarget",
    ) + ("Variant1ScalingPolicy",):
        if evaluate.present(name):
            out[name] = evaluate.resource(name).get("Properties", {})
    return out


def test_serverless_stage_gets_a_serverless_config_and_no_instances(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, example("churn-serverless"), "staging")
    assert {k: v for k, v in params.items() if k.startswith("Serverless")} == {
        "ServerlessMemorySizeMb": "2048",
        "ServerlessMaxConcurrency": "10",
        "ServerlessProvisionedConcurrency": "2",
    }
    assert params["NetworkIsolation"] == "false"  # serverless-endpoints.html: no network isolation
    res = evaluated(params)
    config = res["EndpointConfig"]
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": "<Model.ModelName>",
            "InitialVariantWeight": "1",
            "ServerlessConfig": {
                "MemorySizeInMB": "2048",
                "MaxConcurrency": "10",
                "ProvisionedConcurrency": "2",
            },
        }
    ]
    assert "DataCaptureConfig" not in config  # serverless endpoints capture no data
    assert "ShadowProductionVariants" not in config
    assert res["Model"]["EnableNetworkIsolation"] is False


def test_serverless_without_provisioned_concurrency_leaves_it_out(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, example("churn-serverless"), "dev")
    (variant,) = evaluated(params)["EndpointConfig"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": "2048", "MaxConcurrency": "5"}


def test_a_stage_with_serverless_null_is_served_on_instances(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, example("churn-serverless"), "prod")
    assert not any(k.startswith("Serverless") for k in params) and "NetworkIsolation" not in params
    res = evaluated(params)
    (variant,) = res["EndpointConfig"]["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large" and "ServerlessConfig" not in variant
    assert res["EndpointConfig"]["DataCaptureConfig"]["EnableCapture"] is True
    assert res["Model"]["EnableNetworkIsolation"] is True


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_serverless_gets_no_deployment_config_even_where_canary_is_the_default(
    tmp_repo: TmpRepo, stage: str
) -> None:
    """Canary and linear steps are sized in instances (API_TrafficRoutingConfig); a serverless
    variant has none, so the stage's default canary becomes SageMaker's own all-at-once update."""
    config = example("churn-serverless")
    config["serverless"] = {"memory_size_mb": 1024, "max_concurrency": 1}
    config["rollout"] = {}
    params, _ = rendered(tmp_repo, config, stage)
    assert not any(k.startswith("Rollout") for k in params)
    assert "DeploymentConfig" not in evaluated(params)["Endpoint"]


def test_shadow_variant_beside_the_production_variant(tmp_repo: TmpRepo) -> None:
    params, deferred = rendered(tmp_repo, example("fraud-shadow"), "prod")
    assert deferred == {}
    res = evaluated(params)
    config = res["EndpointConfig"]
    assert config["ShadowProductionVariants"] == [
        {
            "VariantName": "challenger",
            "ModelName": "<ShadowModel.ModelName>",
            "InstanceType": "ml.c5.xlarge",  # the pipeline's, as the config names none
            "InitialInstanceCount": "1",
            "InitialVariantWeight": "0.5",  # sampling_percent 50 of the production variant's weight 1
        }
    ]
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["AllTraffic"]
    assert config["DataCaptureConfig"]["EnableCapture"] is True  # the shadow's responses are captured
    shadow = res["ShadowModel"]
    assert shadow["PrimaryContainer"] == {"ModelPackageName": MP7}
    assert shadow["EnableNetworkIsolation"] is True  # inherits the production model's isolation
    assert shadow["ModelName"] == f"mlops-p-prod-sh-{params['ShadowRevision']}"
    # the canary still rolls out the production variant
    assert res["Endpoint"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"][
        "Type"
    ] == ("CANARY")


@pytest.mark.parametrize("stage", ["dev", "staging"])
def test_a_stage_with_shadow_null_has_no_shadow(tmp_repo: TmpRepo, stage: str) -> None:
    params, _ = rendered(tmp_repo, example("fraud-shadow"), stage)
    assert "ShadowVariantName" not in params and params["ShadowModelArtifactUrl"] == ""
    res = evaluated(params)
    assert "ShadowModel" not in res and "ShadowProductionVariants" not in res["EndpointConfig"]


def test_shadow_artifact_with_own_instances_and_the_production_weight(tmp_repo: TmpRepo) -> None:
    config = example("fraud-shadow")
    config["shadow_variant"] = {
        "dev": {
            "name": "next",
            "model_artifact_location": "s3://mlops-demo-models/fraud/next/model.tar.gz",
            "inference_instance": "ml.m5.large",
            "instance_count": 2,
            "sampling_percent": 20,
        },
        "staging": None,
        "prod": None,
    }
    config["production_variants"] = [{"name": "current", "weight": 2}]
    params, _ = rendered(tmp_repo, config, "dev")
    res = evaluated(params)
    (shadow,) = res["EndpointConfig"]["ShadowProductionVariants"]
    assert shadow == {
        "VariantName": "next",
        "ModelName": "<ShadowModel.ModelName>",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": "2",
        "InitialVariantWeight": "0.4",
    }
    assert res["ShadowModel"]["PrimaryContainer"] == {
        "Image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:2.3.0",
        "ModelDataUrl": "s3://mlops-demo-models/fraud/next/model.tar.gz",
    }


def test_a_shadow_following_a_group_in_dev_is_resolved_at_deploy(tmp_repo: TmpRepo) -> None:
    config = example("fraud-shadow")
    config["shadow_variant"] = {"dev": {"model_package_name": "fraud-scorer"}, "staging": None, "prod": None}
    cfg = valid_config(tmp_repo, "p", config, ENV)
    ctx = ParamContext(cfg, "dev", ENV, "us-east-1")
    params, deferred = builder_for(TEMPLATE)(ctx)
    assert params["ShadowModelPackageArn"] == "" and params["ShadowVariantName"] == "shadow"
    assert deferred["ShadowModelPackageArn"] == {"latest_approved_model_package_of": "fraud-scorer"}


def test_the_shadow_revision_follows_its_model() -> None:
    base = {"ImageUri": "i", "ModelPackageArn": MP6, "ShadowVariantName": "s", "ShadowModelPackageArn": MP6}
    one = with_model_revisions(base)["ShadowRevision"]
    assert with_model_revisions({**base, "ShadowModelPackageArn": MP7})["ShadowRevision"] != one
    assert "ShadowRevision" not in with_model_revisions({**base, "ShadowVariantName": ""})


def test_a_shadow_artifact_in_another_bucket_widens_the_model_roles_read() -> None:
    """ReadModelArtifacts is scoped to the one artifact's bucket only without variants or a shadow."""
    condition = BODY["Conditions"]["ArtifactInS3"]["Fn::And"]
    assert {"Fn::Not": [{"Condition": "HasShadow"}]} in condition


KMS = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _statements(role: dict) -> dict[str, dict]:
    (policy,) = role["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"] if "Sid" in s}


def test_async_prod_config_role_and_encryption(tmp_repo: TmpRepo) -> None:
    config = example("claims-async")
    config["kms_key_arn"] = KMS
    params, _ = rendered(tmp_repo, config, "prod")
    res = evaluated(params)
    assert res["EndpointConfig"]["AsyncInferenceConfig"] == {
        "OutputConfig": {
            "S3OutputPath": "s3://mlops-demo-results/claims/prod/output",
            "S3FailurePath": "s3://mlops-demo-results/claims/prod/failures",
            "KmsKeyId": KMS,  # results encrypted with the pipeline's key
            "NotificationConfig": {
                "SuccessTopic": "arn:aws:sns:us-east-1:111122223333:claims-results",
                "ErrorTopic": "arn:aws:sns:us-east-1:111122223333:claims-errors",
            },
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": "4"},
    }
    statements = _statements(res["ModelRole"])
    assert statements["WriteAsyncResults"]["Action"] == ["s3:PutObject"]
    assert statements["WriteAsyncResults"]["Resource"] == [
        "arn:aws:s3:::mlops-demo-results/claims/prod/output/*",
        "arn:aws:s3:::mlops-demo-results/claims/prod/failures/*",
    ]
    # not a prefix match that reaches other buckets or prefixes (an attacker's review: "s3://mlops-d"
    # granted mlops-data-lake-...), and only in this account's buckets
    assert statements["WriteAsyncResults"]["Condition"] == {
        "StringEquals": {"s3:ResourceAccount": "123456789012"}
    }
    assert statements["PublishAsyncNotifications"]["Resource"] == [
        "arn:aws:sns:us-east-1:111122223333:claims-results",
        "arn:aws:sns:us-east-1:111122223333:claims-errors",
    ]
    assert statements["UseTheStackKey"]["Resource"] == KMS  # SageMaker encrypts the results as this role
    tracking = res["Variant1ScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["CustomizedMetricSpecification"]["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert "PredefinedMetricSpecification" not in tracking
    assert res["Variant1ScalableTarget"]["MinCapacity"] == "1"


def test_async_dev_scales_to_zero_with_only_an_output(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, example("claims-async"), "dev")
    res = evaluated(params)
    assert res["EndpointConfig"]["AsyncInferenceConfig"] == {
        "OutputConfig": {"S3OutputPath": "s3://mlops-demo-results/claims/dev/output"}
    }
    assert res["Variant1ScalableTarget"]["MinCapacity"] == "0"  # scale_to_zero
    statements = _statements(res["ModelRole"])
    assert statements["WriteAsyncResults"]["Resource"] == [
        "arn:aws:s3:::mlops-demo-results/claims/dev/output/*"
    ]
    assert "PublishAsyncNotifications" not in statements


def test_a_synchronous_endpoint_has_no_async_config_nor_its_permissions(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, example("churn-realtime"), "prod")
    res = evaluated(params)
    assert "AsyncInferenceConfig" not in res["EndpointConfig"]
    assert not {"WriteAsyncResults", "PublishAsyncNotifications"} & set(_statements(res["ModelRole"]))
    tracking = res["Variant1ScalingPolicy"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }


def multi_model_config() -> dict:
    config = example("claims-async")
    for key in ("async_inference", "autoscaling"):
        del config[key]
    config["multi_model"] = {
        "dev": {"model_prefix": "s3://mlops-demo-models/claims/tenants"},
        "staging": None,
    }
    config["multi_model"]["prod"] = None
    return config


def test_multi_model_container_serves_the_prefix(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, multi_model_config(), "dev")
    assert params["ModelMode"] == "MultiModel"
    model = evaluated(params)["Model"]
    assert model["PrimaryContainer"] == {
        "Image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/claims-reader:1.4.0",
        "ModelDataUrl": "s3://mlops-demo-models/claims/tenants/",  # a prefix: SageMaker loads below it
        "Mode": "MultiModel",
    }
    assert model["EnableNetworkIsolation"] is True


def test_a_stage_without_multi_model_serves_one_model(tmp_repo: TmpRepo) -> None:
    params, _ = rendered(tmp_repo, multi_model_config(), "prod")
    assert "ModelMode" not in params
    container = evaluated(params)["Model"]["PrimaryContainer"]
    assert container["Mode"] == "SingleModel"
    assert container["ModelDataUrl"] == "s3://mlops-demo-models/claims/model.tar.gz"


def test_switching_to_multi_model_names_a_new_model() -> None:
    """Mode is create-only: a new mode must give a new model name (as a new artifact does)."""
    base = {"ImageUri": "i", "ModelArtifactUrl": "s3://b/p/"}
    assert (
        with_model_revisions({**base, "ModelMode": "MultiModel"})["ModelRevision"]
        != with_model_revisions(base)["ModelRevision"]
    )
    single = with_model_revisions({**base, "ModelMode": "SingleModel"})["ModelRevision"]
    assert single == with_model_revisions(base)["ModelRevision"]  # existing models keep their names
