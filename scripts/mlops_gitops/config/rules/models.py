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
    per_stage,
    pipeline_stages,
    pipeline_type,
    stage_value,
    stages_text,
)
from mlops_gitops.findings import WARNING, Finding

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
        s for s in stages if not _variants_bring_packages(stage_value(config, ctx, "production_variants", s))
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
