"""Checks about the model a pipeline serves: its source, pinned versions, variants, scaling, image."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlops_gitops import images
from mlops_gitops.config.arns import ArnError, parse_arn
from mlops_gitops.config.rules.base import (
    Context,
    approval_stages,
    by_path,
    check,
    is_stage_map,
    per_stage,
    pipeline_stages,
    pipeline_type,
    stage_value,
    stages_text,
)
from mlops_gitops.findings import WARNING, Finding, json_path

_BUILTIN = {"byom_realtime_builtin", "byom_batch_builtin"}
_CUSTOM = {"byom_realtime_custom", "byom_batch_custom"}


def _variants_bring_packages(variants: Any) -> bool:
    return (
        isinstance(variants, list)
        and bool(variants)
        and all(isinstance(v, dict) and "model_package_name" in v for v in variants)
    )


@check
def model_source(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """Real-time and batch need a registry package, or an artifact plus an image (MWO's rule)."""
    ptype = pipeline_type(config, ctx)
    if ptype not in _BUILTIN | _CUSTOM:
        return
    image = ["model_framework", "model_framework_version"] if ptype in _BUILTIN else ["custom_image_uri"]
    if "model_package_name" in config:
        if "model_artifact_location" in config:
            yield ctx.finding(
                ["model_artifact_location"],
                "model-source",
                "model_package_name is set, so model_artifact_location is ignored",
                "remove one of them: the registry package wins",
                severity=WARNING,
            )
        return
    stages = pipeline_stages(config, ctx.env)
    needy = [
        s
        for s in stages
        if not _variants_bring_packages(stage_value(config, ctx, "production_variants", s))
        and not isinstance(stage_value(config, ctx, "multi_model", s), dict)  # its prefix holds the models
    ]
    missing = [k for k in ["model_artifact_location", *image] if k not in config]
    if needy and missing:
        where = "" if needy == stages else f" ({stages_text(needy)} serve the pipeline's own model)"
        yield ctx.finding(
            [],
            "model-source",
            f"{ptype!r} needs model_package_name, or model_artifact_location with {' and '.join(image)}; "
            f"missing {', '.join(missing)}{where}",
            "add model_package_name (a Model Registry version ARN), or the missing keys",
        )


def model_package_kind(value: Any) -> str | None:
    """'version' for a pinned version ARN, 'group' for a group name/ARN, None if unparsable."""
    if not isinstance(value, str) or not value:
        return None
    if not value.startswith("arn:"):
        return "group"
    try:
        arn = parse_arn(value, "sagemaker", ["model-package", "model-package-group"])
    except ArnError:
        return None
    if arn.resource_type == "model-package" and re.fullmatch(r"[^/]+/[0-9]+", arn.resource):
        return "version"
    return "group" if arn.resource_type == "model-package-group" else "unversioned"


_PIN_HINT = (
    "use a version ARN (…:model-package/<group>/<version>), e.g. via `mlopsctl promote`; only stages "
    "without approval may follow the latest approved version"
)


@check
def pinned_models(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """Stages that need approval (staging, prod) deploy pinned, reviewable model versions."""
    needs_pin = set(approval_stages(config, ctx.env))
    unpinned = []
    for stage, value, path in per_stage(config, ctx, "model_package_name"):
        if stage in needs_pin and model_package_kind(value) in ("group", "unversioned"):
            unpinned.append((path, stage))
    for stage, variants, path in per_stage(config, ctx, "production_variants"):
        if stage not in needs_pin or not isinstance(variants, list):
            continue
        for index, variant in enumerate(variants):
            if isinstance(variant, dict) and model_package_kind(variant.get("model_package_name")) in (
                "group",
                "unversioned",
            ):
                unpinned.append(([*path, index, "model_package_name"], stage))
    for path, stages in by_path(iter(unpinned)).items():
        yield ctx.finding(
            list(path),
            "unpinned-model",
            f"{stages_text(stages)} must deploy a pinned model version, but this names a model package group",
            _PIN_HINT,
        )


def _has_image(config: dict[str, Any]) -> bool:
    return "custom_image_uri" in config or (
        "model_framework" in config and "model_framework_version" in config
    )


@check
def variant_images(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """A variant serving an artifact runs on the pipeline's image, which must then exist."""
    if pipeline_type(config, ctx) not in _BUILTIN | _CUSTOM or _has_image(config):
        return
    found: dict[tuple, list[str]] = {}
    for stage, value, path in per_stage(config, ctx, "production_variants"):
        for index, variant in enumerate(value if isinstance(value, list) else []):
            if (
                isinstance(variant, dict)
                and "model_artifact_location" in variant
                and "model_package_name" not in variant
            ):
                found.setdefault((*path, index, "model_artifact_location"), []).append(stage)
    image = (
        "model_framework and model_framework_version"
        if pipeline_type(config, ctx) in _BUILTIN
        else "custom_image_uri"
    )
    for path, stages in found.items():
        yield ctx.finding(
            list(path),
            "model-source",
            f"this variant serves an artifact but the pipeline names no image ({stages_text(stages)})",
            f"set {image}; a registry package's image is not shared with other variants",
        )


@check
def variants(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for path, (value, _) in {
        tuple(p): (v, s) for s, v, p in per_stage(config, ctx, "production_variants")
    }.items():
        if not isinstance(value, list):
            continue
        seen: set[str] = set()
        for index, variant in enumerate(value):
            name = variant.get("name") if isinstance(variant, dict) else None
            if isinstance(name, str):
                if name in seen:
                    yield ctx.finding(
                        [*path, index, "name"],
                        "duplicate",
                        f"variant name {name!r} is used twice",
                        "give each variant its own name",
                    )
                seen.add(name)
        weights = [v.get("weight", 1) for v in value if isinstance(v, dict)]
        valid = all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights)
        if weights and valid and sum(weights) == 0:
            yield ctx.finding(
                list(path),
                "variant-weights",
                "every variant has weight 0, so none gets traffic",
                "give at least one variant a positive weight",
            )


@check
def autoscaling_bounds(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    found: dict[tuple[tuple, str], list[str]] = {}  # (path, message) -> stages
    for stage, value, path in per_stage(config, ctx, "autoscaling"):
        if not isinstance(value, dict):
            continue
        lo, hi = value.get("min_capacity", 1), value.get("max_capacity")
        if not (isinstance(lo, int) and isinstance(hi, int) and lo >= 1 and hi >= 1):
            continue  # out-of-range values are reported by the schema
        if lo > hi:
            found.setdefault(
                ((*path, "min_capacity"), f"min_capacity {lo} is above max_capacity {hi}"), []
            ).append(stage)
        count = stage_value(config, ctx, "instance_count", stage)
        if isinstance(count, int) and count > hi:
            found.setdefault((tuple(path), f"instance_count {count} is above max_capacity {hi}"), []).append(
                stage
            )
    for (path, message), stages in found.items():
        yield ctx.finding(
            list(path),
            "range",
            f"{message} ({stages_text(stages)})",
            "raise max_capacity, or lower min_capacity / instance_count",
        )


# SageMaker does not autoscale burstable instances ("Amazon SageMaker automatic scaling doesn't support
# automatic scaling for burstable instances such as T2"),
# https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-console.html; every T
# family is burstable, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-performance-instances.html.
# RegisterScalableTarget fails at create, after the endpoint is up. ml.t2, ml.t3, ml.t3a, ml.t4g...
# (the families botocore's ProductionVariantInstanceType lists); not ml.trn1.
BURSTABLE = re.compile(r"ml\.t\d+[a-z]*\.")


def _path(config: dict[str, Any], ctx: Context, name: str, stage: str) -> list:
    info = ctx.schema.fields.get(name)
    return [name, stage] if info is not None and is_stage_map(info, config.get(name)) else [name]


def _scaled_instance_types(config: dict[str, Any], ctx: Context, stage: str) -> Iterator[tuple[str, list]]:
    """(instance type, JSON path where it is set) of each variant the template autoscales in
    ``stage``: every variant, each on its own inference_instance or else the pipeline's."""
    main = stage_value(config, ctx, "inference_instance", stage)
    main_path = _path(config, ctx, "inference_instance", stage)
    variants = stage_value(config, ctx, "production_variants", stage)
    if not isinstance(variants, list) or not variants:
        variants = [{}]
    for index, variant in enumerate(variants[:3]):
        own = variant.get("inference_instance") if isinstance(variant, dict) else None
        if isinstance(own, str) and own:
            yield own, [*_path(config, ctx, "production_variants", stage), index, "inference_instance"]
        elif isinstance(main, str):
            yield main, main_path


@check
def autoscaling_instance_type(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """Autoscaling needs a non-burstable instance type in every variant it scales."""
    found: dict[tuple[tuple, str, tuple], list[str]] = {}  # (path, instance, where) -> stages
    for stage, value, path in per_stage(config, ctx, "autoscaling"):
        if isinstance(value, dict) and isinstance(value.get("max_capacity"), int):  # else the schema says why
            for instance, where in _scaled_instance_types(config, ctx, stage):
                if BURSTABLE.match(instance):
                    found.setdefault((tuple(path), instance, tuple(where)), []).append(stage)
    for (path, instance, where), stages in found.items():
        off = (
            f"set {json_path(list(path))} to null"
            if len(path) == 2
            else f"give autoscaling per stage with null for {', '.join(repr(s) for s in stages)}"
        )
        yield ctx.finding(
            list(path),
            "autoscaling-burstable",
            f"{stages_text(stages)} autoscale{'s' * (len(stages) == 1)} {instance!r} (set at "
            f"{json_path(list(where))}), a burstable instance type that SageMaker does not autoscale: "
            "RegisterScalableTarget fails at deploy",
            f"pick a non-burstable type such as ml.m5.large for {stages_text(stages)}, or drop autoscaling "
            f"there ({off})",
        )


_IMAGE_SCOPES = {
    "byom_realtime_builtin": "inference",
    "byom_batch_builtin": "inference",
    "model_training_builtin": "training",
    "model_tuner_builtin": "training",
    "model_training_pipeline": "training",
}


@check
def builtin_image(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """model_framework + model_framework_version must name an image SageMaker publishes in each
    stage's region (from the SageMaker SDK's own image data)."""
    scope = _IMAGE_SCOPES.get(pipeline_type(config, ctx) or "")
    framework, version = config.get("model_framework"), config.get("model_framework_version")
    if scope is None or not isinstance(framework, str) or not isinstance(version, str):
        return
    if "model_package_name" in config or "custom_image_uri" in config:
        return  # the image comes from the registry package or the custom URI
    regions = dict.fromkeys(r for s in pipeline_stages(config, ctx.env) if (r := ctx.env.region_of(s)))
    for region in regions:
        try:
            images.image_uri(framework, version, region, scope=scope)
        except images.ImageError as exc:
            where = "model_framework" if framework not in images.frameworks() else "model_framework_version"
            yield ctx.finding([where], "image", exc.message, exc.hint)
            return


@check
def assets_keys(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """MWO's relative keys point into the assets bucket, which environments.json must then name."""
    if ctx.env.assets_bucket:
        return
    for name, value in config.items():
        info = ctx.schema.fields.get(name)
        if info is None or info.scalar.get("x-s3") != "asset" or not isinstance(value, str):
            continue
        if value and "://" not in value:
            yield ctx.finding(
                [name],
                "assets-bucket",
                f"{value!r} is a key in the assets bucket, but environments.json names no assets_bucket",
                "write s3://bucket/key, or set assets_bucket in environments.json",
            )


# Rollouts (SageMaker deployment guardrails). The limits come from the SageMaker documentation:
# sizes from the TrafficRoutingConfig reference (a canary at most 50% of the variant's instances, a
# linear step 10-50%), https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html;
# the timeout from BlueGreenUpdatePolicy (it must exceed the waiting time),
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html;
# what guardrails exclude (Inf1 instances, Marketplace containers: the update silently falls back to
# all at once with no baking), https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html.
_SIZE_LIMITS = {"canary_size": (None, 50), "linear_step": (10, 50)}  # percent of the variant's instances
_GUARDRAILS_DOC = "see https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html"


def _rollout_policy(value: dict[str, Any], ctx: Context, stage: str) -> str:
    """The policy named, or the stage's default: canary with approval or protected, else all_at_once."""
    if isinstance(value.get("policy"), str):
        return value["policy"]
    st = ctx.env.stage(stage)
    return "canary" if st is not None and (st.approval or st.protected) else "all_at_once"


def _variant_fleets(config: dict[str, Any], ctx: Context, stage: str) -> list[tuple[int, str]]:
    """(instance count, instance type) of each production variant in the stage."""
    count = stage_value(config, ctx, "instance_count", stage)
    if count is None:
        count = 1
    elif not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        return []  # the schema reports it; no fleet to measure against
    itype = stage_value(config, ctx, "inference_instance", stage)
    variants = stage_value(config, ctx, "production_variants", stage)
    if not isinstance(variants, list) or not variants:
        return [(count, itype if isinstance(itype, str) else "")]
    fleets = []
    for variant in variants:
        if isinstance(variant, dict):
            n = variant.get("instance_count", count)
            t = variant.get("inference_instance", itype)
            if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
                return []
            fleets.append((n, t if isinstance(t, str) else ""))
    return fleets


def _size_problem(key: str, size: Any, fleet: int) -> tuple[list[str], str, str] | None:
    """(sub-path, message, hint) when a canary or step size is outside what SageMaker accepts."""
    if not isinstance(size, dict) or not isinstance(size.get("value"), int):
        return None  # the schema reports it
    low, high = _SIZE_LIMITS[key]
    value, what = size["value"], "a canary" if key == "canary_size" else "a linear step"
    bounds = f"{low}-{high}%" if low else f"at most {high}%"
    if size.get("type") == "CAPACITY_PERCENT":
        if value > high or (low and value < low):
            return (
                [key, "value"],
                f"{what} of {value}% is outside the {bounds} of the variant's instances SageMaker accepts",
                f"choose {bounds}",
            )
        return None
    if size.get("type") == "INSTANCE_COUNT":
        if value * 100 > high * fleet or (low and value * 100 < low * fleet):
            return (
                [key, "value"],
                f"{what} of {value} instance(s) is outside the {bounds} of the variant's {fleet} instance(s) "
                "SageMaker accepts",
                f"choose {bounds} of instance_count, or raise instance_count (a canary needs at least 2 instances)",
            )
    return None


@check
def rollout_limits(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """A rollout SageMaker would refuse, or silently run all at once, is refused before any deploy."""
    if pipeline_type(config, ctx) not in {"byom_realtime_builtin", "byom_realtime_custom"}:
        return
    found: dict[tuple[tuple, str, str, str], list[str]] = {}  # (path, code, message, hint) -> stages
    for stage, value, path in per_stage(config, ctx, "rollout"):
        if not isinstance(value, dict) or isinstance(stage_value(config, ctx, "serverless", stage), dict):
            continue  # a serverless stage's rollout is checked in rules/variants.py
        policy = _rollout_policy(value, ctx, stage)
        fleets = _variant_fleets(config, ctx, stage)
        key = {"canary": "canary_size", "linear": "linear_step"}.get(policy)
        for other in ("canary_size", "linear_step"):
            if other in value and other != key:
                found.setdefault(
                    (
                        (*path, other),
                        "rollout-unused",
                        f"{other} has no effect with policy {policy}",
                        "remove it, or set the policy that uses it",
                    ),
                    [],
                ).append(stage)
        if key and key in value:
            for fleet, _ in fleets:
                problem = _size_problem(key, value[key], fleet)
                if problem:
                    sub, message, hint = problem
                    found.setdefault(((*path, *sub), "rollout-size", message, hint), []).append(stage)
                    break
        size = value.get(key, {"type": "CAPACITY_PERCENT"}) if key else None
        if (
            isinstance(size, dict)
            and size.get("type") == "CAPACITY_PERCENT"
            and any(n == 1 for n, _ in fleets)
        ):
            found.setdefault(
                (
                    (*path, key) if key in value else tuple(path),
                    "rollout-small-fleet",
                    f"a {policy} rollout on a variant of 1 instance: a step of one instance is the whole fleet, "
                    "more than the 50% SageMaker allows",
                    "raise instance_count to 2 or more, or use policy all_at_once",
                ),
                [],
            ).append(stage)
        if key:
            inf1 = sorted({t for _, t in fleets if t.startswith("ml.inf1.")})
            if inf1:
                found.setdefault(
                    (
                        (*path, "policy") if "policy" in value else tuple(path),
                        "rollout-excluded",
                        f"SageMaker runs no {policy} rollout on Inf1 instances ({', '.join(inf1)}): the "
                        "update falls back to all at once with no baking",
                        f"use policy all_at_once, or another instance family; {_GUARDRAILS_DOC}",
                    ),
                    [],
                ).append(stage)
        timeout = value.get("max_execution_seconds")
        waits = value.get("wait_seconds", 600), value.get("bake_seconds", 0)
        if (
            isinstance(timeout, int)
            and timeout >= 600
            and all(isinstance(w, int) for w in waits)
            and timeout <= sum(waits)
        ):
            found.setdefault(
                (
                    (*path, "max_execution_seconds"),
                    "range",
                    f"max_execution_seconds {timeout} is not above wait_seconds + bake_seconds ({sum(waits)}): "
                    "SageMaker would stop the rollout before its waits end",
                    "raise max_execution_seconds, or leave it out for SageMaker's default",
                ),
                [],
            ).append(stage)
    for (path, code, message, hint), stages in found.items():
        yield ctx.finding(
            list(path),
            code,
            f"{message} ({stages_text(stages)})",
            hint,
            severity=WARNING if code in {"rollout-unused", "rollout-small-fleet"} else "error",
        )
