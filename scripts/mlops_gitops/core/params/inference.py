"""Parameters of the inference templates (real-time and batch)."""

from __future__ import annotations

from mlops_gitops import lambdas
from mlops_gitops.core.params.base import (
    Deferred,
    ParamContext,
    Params,
    common_model_params,
    has_local_storage,
    model_source,
    number,
    s3_uri,
)
from mlops_gitops.core.params.model_card import model_card_parameters
from mlops_gitops.core.params.realtime_kinds import (
    async_parameters,
    multi_model_parameters,
    serverless_of,
    serverless_parameters,
    shadow_parameters,
)


def realtime_parameters(ctx: ParamContext) -> tuple[Params, Deferred]:
    instance_type = ctx.value("inference_instance")
    params, deferred = common_model_params(ctx, instance_type)
    params.update(
        {
            "EndpointName": (
                ctx.value("endpoint_name", "") or ""
            ).lower(),  # as MWO did; IAM matches lower-case ARNs
            "DataCaptureUri": s3_uri(
                ctx, "data_capture_location", ctx.value("data_capture_location"), asset=False
            ),
            "DataCaptureSamplingPercentage": str(ctx.value("data_capture_sampling_percentage", 100)),
            "InferenceLambdaKey": lambdas.package("inference_api").key,
        }
    )
    variants = ctx.value("production_variants") or []
    for index, variant in enumerate(variants[:3], start=1):
        prefix = f"Variant{index}"
        params[f"{prefix}Name"] = variant["name"]
        params[f"{prefix}Weight"] = number(variant.get("weight", 1))
        path = ["production_variants", index - 1]
        package, artifact, later = model_source(
            ctx,
            variant.get("model_package_name"),
            variant.get("model_artifact_location"),
            [*path, "model_artifact_location"],
        )
        if index == 1:
            if package or artifact or later:  # the first variant brings its own model: it is the primary one
                params["ModelPackageArn"], params["ModelArtifactUrl"] = package, artifact
                deferred = {"ModelPackageArn": later} if later else {}
            if variant.get("inference_instance"):
                params["InstanceType"] = variant["inference_instance"]
            if variant.get("instance_count"):
                params["InstanceCount"] = str(variant["instance_count"])
            continue
        params[f"{prefix}ModelPackageArn"] = package
        params[f"{prefix}ModelArtifactUrl"] = artifact
        params[f"{prefix}InstanceType"] = variant.get("inference_instance", "")
        params[f"{prefix}InstanceCount"] = str(variant.get("instance_count", ctx.value("instance_count", 1)))
        if later:
            deferred[f"{prefix}ModelPackageArn"] = later
    for index in range(max(len(variants), 1) + 1, 4):  # unused variant slots are passed empty
        params[f"Variant{index}Name"] = ""
        params[f"Variant{index}ModelArtifactUrl"] = ""
    if any(has_local_storage(params.get(f"Variant{n}InstanceType", "")) for n in (2, 3)) or has_local_storage(
        params["InstanceType"]
    ):
        params["VolumeKmsKeyArn"] = ""  # one volume key for the whole endpoint config
    scaling = ctx.value("autoscaling")
    if isinstance(scaling, dict):
        params.update(
            {
                "AutoscalingMaxCapacity": str(scaling["max_capacity"]),
                "AutoscalingMinCapacity": str(scaling.get("min_capacity", 1)),
                "AutoscalingTargetInvocations": number(scaling.get("target_invocations_per_instance", 70)),
                "AutoscalingScaleInCooldown": str(scaling.get("scale_in_cooldown", 300)),
                "AutoscalingScaleOutCooldown": str(scaling.get("scale_out_cooldown", 60)),
            }
        )
    params.update(serverless_parameters(ctx))
    params.update(async_parameters(ctx))
    params.update(multi_model_parameters(ctx))
    shadow, later = shadow_parameters(ctx, params.get("Variant1Weight", "1"))
    params.update(shadow)
    deferred.update(later)
    if has_local_storage(shadow.get("ShadowInstanceType", "")):
        params["VolumeKmsKeyArn"] = ""  # the shadow's instances share the endpoint config's volume key
    if (
        serverless_of(ctx) is None
    ):  # a serverless endpoint gets no DeploymentConfig (config/rules/variants.py)
        params.update(rollout_parameters(ctx))
    params.update(model_card_parameters(ctx))
    return params, deferred


# Defaults of `rollout` (the schema's descriptions say the same).
DEFAULT_CANARY = {"type": "CAPACITY_PERCENT", "value": 10}
DEFAULT_LINEAR = {"type": "CAPACITY_PERCENT", "value": 20}
DEFAULT_WAIT_SECONDS = 600


def rollout_policy(ctx: ParamContext) -> str | None:
    """The stage's rollout policy: None without `rollout`; else the one named, or by default canary in a
    stage with approval or protected and all_at_once elsewhere."""
    rollout = ctx.value("rollout")
    if not isinstance(rollout, dict):
        return None
    if rollout.get("policy"):
        return str(rollout["policy"])
    stage = ctx.env.stage(ctx.stage)
    return "canary" if stage is not None and (stage.approval or stage.protected) else "all_at_once"


def rollout_parameters(ctx: ParamContext) -> Params:
    """The Rollout* parameters of the endpoint's DeploymentConfig. No `rollout`, or an all_at_once one
    that adds nothing (no alarms, no bake, no timeout), passes none: the template then leaves the
    endpoint without a DeploymentConfig, as before `rollout` existed."""
    policy = rollout_policy(ctx)
    if policy is None:
        return {}
    rollout = ctx.value("rollout")
    alarms = list(rollout.get("alarms") or [])
    bake = rollout.get("bake_seconds", 0)
    timeout = rollout.get("max_execution_seconds", 0)
    if policy == "all_at_once" and not alarms and not bake and not timeout:
        return {}
    size = (
        rollout.get("canary_size", DEFAULT_CANARY)
        if policy == "canary"
        else rollout.get("linear_step", DEFAULT_LINEAR)
        if policy == "linear"
        else DEFAULT_CANARY  # unused by ALL_AT_ONCE; the template's default
    )
    params = {
        "RolloutPolicy": policy.upper(),
        "RolloutSizeType": size["type"],
        "RolloutSizeValue": str(size["value"]),
        "RolloutWaitSeconds": str(rollout.get("wait_seconds", DEFAULT_WAIT_SECONDS)),
        "RolloutBakeSeconds": str(bake),
        "RolloutMaxExecutionSeconds": str(timeout),
    }
    for index in range(1, 4):
        params[f"RolloutAlarm{index}"] = alarms[index - 1] if index <= len(alarms) else ""
    return params


def batch_parameters(ctx: ParamContext) -> tuple[Params, Deferred]:
    instance_type = ctx.value("inference_instance")
    params, deferred = common_model_params(ctx, instance_type)
    params.update(
        {
            "BatchInputUri": s3_uri(
                ctx, "batch_inference_data", ctx.value("batch_inference_data"), asset=False
            ),
            # The template adds /<Stage>/<job name> per run (issue 15: dev and prod wrote the same keys).
            "BatchOutputUri": s3_uri(
                ctx, "batch_job_output_location", ctx.value("batch_job_output_location"), asset=False
            ).rstrip("/"),
            "Stage": ctx.stage,
            "ContentType": ctx.cfg.data.get("batch_content_type", "text/csv"),
            "SplitType": ctx.cfg.data.get("batch_split_type", "Line"),
            "Schedule": ctx.value("batch_schedule", "") or "",
        }
    )
    params.update(model_card_parameters(ctx))
    return params, deferred


BUILDERS = {
    "realtime_inference.yaml": realtime_parameters,
    "batch_inference.yaml": batch_parameters,
}
