"""Checks of the real-time endpoint's variant kinds (issue 18): `serverless`, `shadow_variant`,
`async_inference` and `multi_model`.
Each refuses, before any deploy, a combination SageMaker refuses (or silently ignores), citing the
SageMaker page that says so:

- serverless "feature exclusions" (GPUs, Marketplace packages, private registries, multi-model
  endpoints, VPC, network isolation, data capture, multiple production variants, Model Monitor,
  inference pipelines): https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html
- ServerlessConfig ranges (ProvisionedConcurrency at most MaxConcurrency):
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html
- shadow tests exclude serverless, asynchronous, multi-model, multi-container, Marketplace and Inf1
  endpoints: https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-exclusions.html
- with ShadowProductionVariants, one production variant and one shadow:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html
- multi-model endpoints: every CPU instance type; GPU ones only with the Triton image:
  https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-support.html
- asynchronous endpoints scale to zero instances through autoscaling (no other kind can):
  https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html

Rollouts and serverless: deployment guardrails size canary and linear steps in instances of the
variant (API_TrafficRoutingConfig), which a serverless variant doesn't have; this project therefore
gives a serverless endpoint no DeploymentConfig (SageMaker's default all-at-once blue/green update),
also where the stage's default policy would be canary, and refuses an explicit canary or linear.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_gitops.config.rules.base import (
    Context,
    approval_stages,
    check,
    is_stage_map,
    per_stage,
    pipeline_type,
    stage_value,
    stages_text,
)
from mlops_gitops.config.rules.models import model_package_kind
from mlops_gitops.findings import WARNING, Finding

_REALTIME = {"byom_realtime_builtin", "byom_realtime_custom"}
SERVERLESS_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
SERVERLESS_CONFIG_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html"
)
SHADOW_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-exclusions.html"
ENDPOINT_CONFIG_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html"
)
MME_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-support.html"
ASYNC_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html"
ASYNC_SCALE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html"
TRAFFIC_DOC = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html"

Found = dict[tuple[tuple, str, str, str, str], list[str]]  # (path, code, message, hint, severity) -> stages


def _field_path(config: dict[str, Any], ctx: Context, name: str, stage: str) -> tuple:
    info = ctx.schema.fields.get(name)
    return (name, stage) if info is not None and is_stage_map(info, config.get(name)) else (name,)


def _off_hint(path: tuple, stages: list[str]) -> str:
    return (
        f"remove it for {stages_text(stages)}"
        if len(path) == 2
        else "give it per stage with null where it can't be"
    )


def _add(
    found: Found, path: tuple, code: str, message: str, hint: str, stage: str, severity: str = "error"
) -> None:
    found.setdefault((path, code, message, hint, severity), []).append(stage)


def _emit(found: Found, ctx: Context) -> Iterator[Finding]:
    for (path, code, message, hint, severity), stages in found.items():
        yield ctx.finding(list(path), code, f"{message} ({stages_text(stages)})", hint, severity=severity)


def _variant_count(config: dict[str, Any], ctx: Context, stage: str) -> int:
    variants = stage_value(config, ctx, "production_variants", stage)
    return len(variants) if isinstance(variants, list) else 1


@check
def serverless_exclusions(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """What a serverless endpoint can't have, per stage."""
    if pipeline_type(config, ctx) not in _REALTIME:
        return
    found: Found = {}
    for stage, value, path in per_stage(config, ctx, "serverless"):
        if not isinstance(value, dict):
            continue
        path = tuple(path)
        max_c, prov = value.get("max_concurrency"), value.get("provisioned_concurrency")
        if isinstance(max_c, int) and isinstance(prov, int) and prov > max_c:
            _add(
                found,
                (*path, "provisioned_concurrency"),
                "range",
                f"provisioned_concurrency {prov} is above max_concurrency {max_c}",
                f"lower provisioned_concurrency or raise max_concurrency; see {SERVERLESS_CONFIG_DOC}",
                stage,
            )
        if _variant_count(config, ctx, stage) > 1:
            where = _field_path(config, ctx, "production_variants", stage)
            _add(
                found,
                where,
                "serverless-excluded",
                "a serverless endpoint serves one production variant, but this stage has several",
                f"keep one variant, or serve this stage on instances (serverless null); see {SERVERLESS_DOC}",
                stage,
            )
        for other, what, hint in (
            (
                "shadow_variant",
                "a shadow variant (SageMaker runs no shadow test on serverless endpoints)",
                f"try the challenger on an instance-based stage; see {SHADOW_DOC}",
            ),
            (
                "autoscaling",
                "autoscaling, which scales instances: a serverless variant has none",
                "use serverless.provisioned_concurrency and max_concurrency instead",
            ),
            (
                "multi_model",
                "a multi-model endpoint (SageMaker excludes it for serverless)",
                f"serve this stage on instances, or one model; see {SERVERLESS_DOC}",
            ),
            (
                "async_inference",
                "asynchronous inference, which queues requests for instances: a serverless variant has none",
                f"serve this stage on instances for asynchronous requests; see {ASYNC_DOC}",
            ),
        ):
            if isinstance(stage_value(config, ctx, other, stage), dict):
                where = _field_path(config, ctx, other, stage)
                _add(
                    found,
                    where,
                    "serverless-excluded",
                    f"serverless can't have {what}",
                    f"{hint}, or {_off_hint(where, [stage])}",
                    stage,
                )
        rollout = stage_value(config, ctx, "rollout", stage)
        if isinstance(rollout, dict):
            where = _field_path(config, ctx, "rollout", stage)
            policy = rollout.get("policy")
            if policy in ("canary", "linear"):
                _add(
                    found,
                    (*where, "policy"),
                    "rollout-excluded",
                    f"a {policy} rollout sizes its steps in instances, and a serverless variant has none",
                    f"use policy all_at_once (SageMaker's blue/green update); see {TRAFFIC_DOC}",
                    stage,
                )
            elif set(rollout) - {"policy"}:
                _add(
                    found,
                    where,
                    "rollout-unused",
                    "a serverless endpoint gets no deployment configuration: these rollout settings are ignored",
                    "remove them for the serverless stages",
                    stage,
                    WARNING,
                )
        if "instance_count" in config and stage_value(config, ctx, "instance_count", stage) is not None:
            _add(
                found,
                _field_path(config, ctx, "instance_count", stage),
                "serverless-ignored",
                "instance_count has no effect on a serverless endpoint",
                "remove it for the serverless stages",
                stage,
                WARNING,
            )
    yield from _emit(found, ctx)


def _primary_name(config: dict[str, Any], ctx: Context, stage: str) -> str:
    variants = stage_value(config, ctx, "production_variants", stage)
    if isinstance(variants, list) and variants and isinstance(variants[0], dict):
        return str(variants[0].get("name", "AllTraffic"))
    return "AllTraffic"


def _has_image(config: dict[str, Any]) -> bool:
    return "custom_image_uri" in config or (
        "model_framework" in config and "model_framework_version" in config
    )


@check
def shadow_rules(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """A shadow variant: its own model, one production variant beside it, no Inf1, pinned in
    approval stages, an image for an artifact, a name of its own."""
    if pipeline_type(config, ctx) not in _REALTIME:
        return
    found: Found = {}
    needs_pin = set(approval_stages(config, ctx.env))
    for stage, value, path in per_stage(config, ctx, "shadow_variant"):
        if not isinstance(value, dict):
            continue
        path = tuple(path)
        package, artifact = value.get("model_package_name"), value.get("model_artifact_location")
        if not package and not artifact:
            _add(
                found,
                path,
                "model-source",
                "the shadow variant names no model to try",
                "set model_package_name (a registry version ARN) or model_artifact_location",
                stage,
            )
        if artifact and not package and not _has_image(config):
            _add(
                found,
                (*path, "model_artifact_location"),
                "model-source",
                "the shadow serves an artifact but the pipeline names no image",
                "set custom_image_uri (or model_framework and model_framework_version), or use model_package_name",
                stage,
            )
        if stage in needs_pin and model_package_kind(package) in ("group", "unversioned"):
            _add(
                found,
                (*path, "model_package_name"),
                "unpinned-model",
                "a stage with approval must deploy a pinned model version, but this names a model package group",
                "use a version ARN (…:model-package/<group>/<version>)",
                stage,
            )
        if _variant_count(config, ctx, stage) > 1:
            _add(
                found,
                _field_path(config, ctx, "production_variants", stage),
                "shadow-excluded",
                "SageMaker allows one production variant beside a shadow variant, but this stage has several",
                f"keep one production variant in the stages with a shadow; see {ENDPOINT_CONFIG_DOC}",
                stage,
            )
        if value.get("name", "shadow") == _primary_name(config, ctx, stage):
            _add(
                found,
                (*path, "name"),
                "duplicate",
                f"the shadow variant is named {value.get('name', 'shadow')!r} like the production variant",
                "give the shadow variant its own name",
                stage,
            )
        if isinstance(stage_value(config, ctx, "multi_model", stage), dict):
            _add(
                found,
                path,
                "shadow-excluded",
                "SageMaker runs no shadow test on a multi-model endpoint",
                f"try the challenger in a stage without multi_model; see {SHADOW_DOC}",
                stage,
            )
        if isinstance(stage_value(config, ctx, "async_inference", stage), dict):
            _add(
                found,
                path,
                "shadow-excluded",
                "SageMaker runs no shadow test on an asynchronous endpoint",
                f"try the challenger in a stage without async_inference; see {SHADOW_DOC}",
                stage,
            )
        main = stage_value(config, ctx, "inference_instance", stage)
        # either may be of a wrong type (the schema's finding says so): only strings are compared
        types = {t for t in (value.get("inference_instance") or main, main) if isinstance(t, str)}
        inf1 = sorted(t for t in types if t.startswith("ml.inf1."))
        if inf1:
            _add(
                found,
                path,
                "shadow-excluded",
                f"SageMaker runs no shadow test on Inf1 instances ({', '.join(inf1)})",
                f"choose another instance family; see {SHADOW_DOC}",
                stage,
            )
    yield from _emit(found, ctx)


@check
def async_scaling(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """scale_to_zero is autoscaling down to 0 instances, which only an asynchronous endpoint may
    have (its requests wait in the queue): it needs autoscaling in the stage, whose minimum it sets."""
    if pipeline_type(config, ctx) not in _REALTIME:
        return
    found: Found = {}
    for stage, value, path in per_stage(config, ctx, "async_inference"):
        if not isinstance(value, dict) or value.get("scale_to_zero") is not True:
            continue
        scaling = stage_value(config, ctx, "autoscaling", stage)
        if not isinstance(scaling, dict):
            _add(
                found,
                (*path, "scale_to_zero"),
                "async-scale-to-zero",
                "scale_to_zero needs autoscaling, which removes and adds the instances",
                f"add autoscaling with max_capacity for this stage, or drop scale_to_zero; see {ASYNC_SCALE_DOC}",
                stage,
            )
        elif "min_capacity" in scaling:
            where = _field_path(config, ctx, "autoscaling", stage)
            _add(
                found,
                (*where, "min_capacity"),
                "async-scale-to-zero",
                f"min_capacity {scaling['min_capacity']!r} contradicts async_inference.scale_to_zero, "
                "which scales to 0 instances",
                "remove min_capacity, or drop scale_to_zero",
                stage,
            )
    yield from _emit(found, ctx)


_GPU = ("ml.g", "ml.p")  # GPU instance families (ml.g4dn, ml.g5, ml.p3...)


@check
def multi_model_rules(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """A multi-model endpoint runs the pipeline's own image on the models under its prefix."""
    if pipeline_type(config, ctx) != "byom_realtime_custom":
        return  # the schema names multi_model an unknown key elsewhere
    found: Found = {}
    for stage, value, path in per_stage(config, ctx, "multi_model"):
        if not isinstance(value, dict):
            continue
        path = tuple(path)
        if stage_value(config, ctx, "model_package_name", stage):
            _add(
                found,
                path,
                "multi-model-source",
                "a multi-model endpoint serves the models under model_prefix, but model_package_name is set "
                "for this stage (a registry package is one model with its own image)",
                "set model_package_name to null for this stage, or drop multi_model there",
                stage,
            )
        if "custom_image_uri" not in config:
            _add(
                found,
                path,
                "multi-model-source",
                "a multi-model endpoint runs the pipeline's image, but custom_image_uri is not set",
                f"set custom_image_uri to an image implementing SageMaker's multi-model contract; see {MME_DOC}",
                stage,
            )
        if _variant_count(config, ctx, stage) > 1:
            _add(
                found,
                _field_path(config, ctx, "production_variants", stage),
                "multi-model-excluded",
                "this template serves a multi-model endpoint from one production variant, but this stage has several",
                "keep one production variant in the stages with multi_model",
                stage,
            )
        instance = stage_value(config, ctx, "inference_instance", stage)
        if isinstance(instance, str) and instance.startswith(_GPU):
            _add(
                found,
                _field_path(config, ctx, "inference_instance", stage),
                "multi-model-gpu",
                f"{instance} is a GPU instance: SageMaker serves multi-model endpoints on GPUs only with its "
                "NVIDIA Triton image, and only on some types",
                f"use custom_image_uri of the Triton image and a GPU type SageMaker lists, or a CPU type; see {MME_DOC}",
                stage,
                WARNING,
            )
    yield from _emit(found, ctx)
