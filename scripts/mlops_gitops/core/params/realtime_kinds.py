"""Parameters of the real-time endpoint's variant kinds (issue 18): `serverless` (a ServerlessConfig
instead of instances), `shadow_variant` (ShadowProductionVariants) and `async_inference`
(AsyncInferenceConfig) and `multi_model` (the model container's Mode MultiModel). validate has refused the
combinations SageMaker refuses (config/rules/variants.py); these builders only translate."""

from __future__ import annotations

from typing import Any

from mlops_gitops.core.params.base import Deferred, ParamContext, Params, model_source, number, s3_uri

DEFAULT_SHADOW_NAME = "shadow"


def serverless_of(ctx: ParamContext) -> dict[str, Any] | None:
    """The stage's `serverless` settings, or None when the stage is served on instances."""
    value = ctx.value("serverless")
    return value if isinstance(value, dict) else None


def serverless_parameters(ctx: ParamContext) -> Params:
    """ServerlessConfig of the one production variant:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html
    Serverless endpoints run without network isolation (a feature SageMaker excludes for them,
    https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html), so the model is
    created without it; the template leaves data capture out for the same reason."""
    serverless = serverless_of(ctx)
    if serverless is None:
        return {}
    return {
        "ServerlessMemorySizeMb": str(serverless["memory_size_mb"]),
        "ServerlessMaxConcurrency": str(serverless["max_concurrency"]),
        "ServerlessProvisionedConcurrency": str(serverless.get("provisioned_concurrency", 0)),
        "NetworkIsolation": "false",
    }


def shadow_parameters(ctx: ParamContext, primary_weight: str) -> tuple[Params, Deferred]:
    """The Shadow* parameters. ShadowModelArtifactUrl is always passed (the template gives it no
    default). The share of requests copied to the shadow is the ratio of its weight to the
    production variant's (unconfirmed against a real endpoint; the API's own sampling field exists
    only for inference experiments, API_ShadowModelVariantConfig)."""
    shadow = ctx.value("shadow_variant")
    if not isinstance(shadow, dict):
        return {"ShadowModelArtifactUrl": ""}, {}
    package, artifact, later = model_source(
        ctx,
        shadow.get("model_package_name"),
        shadow.get("model_artifact_location"),
        ["shadow_variant", "model_artifact_location"],
    )
    weight = float(primary_weight) * shadow.get("sampling_percent", 100) / 100
    params = {
        "ShadowVariantName": shadow.get("name", DEFAULT_SHADOW_NAME),
        "ShadowModelPackageArn": package,
        "ShadowModelArtifactUrl": artifact,
        "ShadowInstanceType": shadow.get("inference_instance") or ctx.value("inference_instance"),
        "ShadowInstanceCount": str(shadow.get("instance_count", 1)),
        "ShadowWeight": number(round(weight, 6)),
    }
    return params, ({"ShadowModelPackageArn": later} if later else {})


def async_parameters(ctx: ParamContext) -> Params:
    """The Async* parameters of AsyncInferenceConfig
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AsyncInferenceConfig.html); the
    template encrypts the results with KmsKeyArn. With scale_to_zero, autoscaling's minimum becomes
    0: only an asynchronous endpoint may have no instance, its requests wait in the queue
    (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html)."""
    value = ctx.value("async_inference")
    if not isinstance(value, dict):
        return {}
    params = {
        "AsyncOutputUri": s3_uri(ctx, "async_inference", value.get("output_location"), asset=False),
        "AsyncFailureUri": s3_uri(ctx, "async_inference", value.get("failure_location"), asset=False),
        "AsyncSuccessTopicArn": value.get("success_topic_arn", ""),
        "AsyncErrorTopicArn": value.get("error_topic_arn", ""),
        "AsyncMaxConcurrentInvocations": str(value.get("max_concurrent_invocations_per_instance", 0)),
    }
    if value.get("scale_to_zero") and isinstance(ctx.value("autoscaling"), dict):
        params["AutoscalingMinCapacity"] = "0"
    return params


def multi_model_parameters(ctx: ParamContext) -> Params:
    """A multi-model endpoint: the pipeline's image in Mode MultiModel, with the models' prefix as
    its ModelDataUrl (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html).
    validate has refused a registry package beside it."""
    value = ctx.value("multi_model")
    if not isinstance(value, dict) or ctx.cfg.pipeline_type != "byom_realtime_custom":
        return {}  # validate warns that other types ignore it
    prefix = s3_uri(ctx, "multi_model", value.get("model_prefix"), asset=False)
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # SageMaker reads the models below this prefix
    return {"ModelPackageArn": "", "ModelArtifactUrl": prefix, "ModelMode": "MultiModel"}
