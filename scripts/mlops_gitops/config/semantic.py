"""Checks the schema can't express: stage coverage, names after prefixes, cross-field rules
(MWO's included), pinned model versions, secrets. Each check is a small generator of Findings
and never assumes the schema passed: wrong types are skipped, not crashed on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_gitops import names
from mlops_gitops.config.arns import ArnError, parse_arn
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.schema import FieldInfo, Schema
from mlops_gitops.findings import WARNING, Finding, json_path
from mlops_gitops.suggest import did_you_mean


@dataclass
class Context:
    display: str
    pipeline_id: str
    env: Environments
    schema: Schema
    # every pipeline id in the repository -> its pipeline_type (None when unreadable); read lazily,
    # only by the checks that follow references between pipelines
    pipelines_of_repo: Callable[[], Mapping[str, str | None]] = dict

    @property
    def pipelines(self) -> Mapping[str, str | None]:
        return self.pipelines_of_repo()

    def finding(
        self, path: list, code: str, message: str, hint: str = "", severity: str = "error"
    ) -> Finding:
        return Finding(self.display, json_path(path), code, message, hint, severity)


Check = Callable[[dict[str, Any], Context], Iterator[Finding]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def semantic_findings(config: dict[str, Any], ctx: Context) -> list[Finding]:
    return [f for fn in CHECKS for f in fn(config, ctx)]


# ---------------------------------------------------------------- helpers


def pipeline_type(config: dict[str, Any], ctx: Context) -> str | None:
    t = config.get("pipeline_type")
    return t if isinstance(t, str) and t in ctx.schema.types else None


def pipeline_stages(config: dict[str, Any], env: Environments) -> list[str]:
    """The stages this pipeline deploys to, in environments.json's order."""
    wanted = config.get("stages")
    if isinstance(wanted, list) and wanted and all(isinstance(s, str) for s in wanted):
        return [s for s in env.names if s in wanted]
    return env.names


def is_stage_map(info: FieldInfo, value: Any) -> bool:
    if not info.stageable or not isinstance(value, dict) or not value:
        return False
    if not info.scalar_is_object:
        return True
    own_keys = info.scalar.get("properties", {})
    return not any(k in own_keys for k in value)


def stage_value(config: dict[str, Any], ctx: Context, name: str, stage: str) -> Any:
    """The value of field ``name`` for ``stage`` (None when absent)."""
    value = config.get(name)
    info = ctx.schema.fields.get(name)
    if info is not None and is_stage_map(info, value):
        return value.get(stage)
    return value


def per_stage(config: dict[str, Any], ctx: Context, name: str) -> Iterator[tuple[str, Any, list]]:
    """(stage, value, path) for every stage the pipeline deploys to where the field has a value."""
    value = config.get(name)
    info = ctx.schema.fields.get(name)
    for stage in pipeline_stages(config, ctx.env):
        if info is not None and is_stage_map(info, value):
            if stage in value:
                yield stage, value[stage], [name, stage]
        elif value is not None:
            yield stage, value, [name]


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


# ---------------------------------------------------------------- structure


@check
def pipeline_id_form(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if not names.PIPELINE_ID.match(ctx.pipeline_id):
        yield ctx.finding(
            [],
            "pipeline-id",
            f"the folder name {ctx.pipeline_id!r} is not a valid pipeline id",
            "rename the folder: 1-40 lower-case letters, digits and single hyphens, starting and ending with a letter or digit",
        )


@check
def unused_keys(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    ptype = pipeline_type(config, ctx)
    if ptype is None:
        return
    used = ctx.schema.types[ptype].fields
    for key in config:
        if key in ctx.schema.fields and key not in used:
            yield ctx.finding(
                [key],
                "unused-key",
                f"{key!r} is not used by pipeline_type {ptype!r} and is ignored",
                "remove it, or check pipeline_type",
                severity=WARNING,
            )


@check
def stages_known(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    wanted = config.get("stages")
    if not isinstance(wanted, list):
        return
    for index, stage in enumerate(wanted):
        if isinstance(stage, str) and stage not in ctx.env.names:
            hint = did_you_mean(stage, ctx.env.names, f"environments.json defines {ctx.env.names}")
            yield ctx.finding(
                ["stages", index], "stage", f"{stage!r} is not a stage of environments.json", hint
            )


@check
def stage_coverage(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    stages = pipeline_stages(config, ctx.env)
    for name, value in config.items():
        info = ctx.schema.fields.get(name)
        if info is None or not is_stage_map(info, value):
            continue
        for key in value:
            if key not in stages:
                if key in ctx.env.names:
                    hint = f"remove it, or add {key!r} to this pipeline's 'stages'"
                    message = f"stage {key!r} is not one this pipeline deploys to ({', '.join(stages)})"
                else:
                    hint = did_you_mean(
                        key, stages, f"per-stage keys are the stage names: {', '.join(stages)}"
                    )
                    message = f"{key!r} is not a stage"
                yield ctx.finding([name, key], "stage", message, hint)
        missing = [s for s in stages if s not in value]
        if missing:
            yield ctx.finding(
                [name],
                "stage-coverage",
                f"no value for stage{'s' if len(missing) > 1 else ''} {', '.join(repr(s) for s in missing)}",
                f"add {', '.join(repr(s) for s in missing)}, or give one value for every stage",
            )


# ---------------------------------------------------------------- names after prefixes


@check
def built_names(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if not names.PIPELINE_ID.match(ctx.pipeline_id):
        return
    prefix = ctx.env.stack_prefix
    for stage in pipeline_stages(config, ctx.env):
        stack = names.stack_name(prefix, ctx.pipeline_id, stage)
        if len(stack) > names.STACK_NAME_MAX:
            yield ctx.finding(
                [],
                "name-length",
                f"stack name {stack!r} is over {names.STACK_NAME_MAX} characters",
                "shorten the folder name",
            )
        base = names.resource_base_name(prefix, ctx.pipeline_id, stage)
        limit = names.SAGEMAKER_NAME_MAX - names.RESOURCE_SUFFIX_MAX
        if len(base) > limit:
            room = len(ctx.pipeline_id) - (len(base) - limit)
            yield ctx.finding(
                [],
                "name-length",
                f"SageMaker names built from {base!r} (plus suffixes up to {names.RESOURCE_SUFFIX_MAX} characters) "
                f"would exceed SageMaker's {names.SAGEMAKER_NAME_MAX}",
                f"shorten the folder name to at most {max(room, 1)} characters",
            )
            return
    if pipeline_type(config, ctx) == "data_lake" and not config.get("lake_bucket_name"):
        for stage in pipeline_stages(config, ctx.env):
            bucket = names.default_lake_bucket(prefix, ctx.pipeline_id, stage)
            if len(bucket) > names.BUCKET_NAME_MAX:
                yield ctx.finding(
                    [],
                    "name-length",
                    f"the default lake bucket name {bucket!r} is {len(bucket)} characters, over S3's 63",
                    "set lake_bucket_name, or shorten the folder name",
                )
                return


# ---------------------------------------------------------------- models


_BUILTIN = {"byom_realtime_builtin", "byom_batch_builtin"}
_CUSTOM = {"byom_realtime_custom", "byom_batch_custom"}


@check
def model_source(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """Real-time and batch need a registry package, or an artifact plus an image (MWO's rule)."""
    ptype = pipeline_type(config, ctx)
    if ptype not in _BUILTIN | _CUSTOM:
        return
    image = ["model_framework", "model_framework_version"] if ptype in _BUILTIN else ["custom_image_uri"]
    has_package = "model_package_name" in config
    variants = config.get("production_variants")
    if (
        not has_package
        and isinstance(variants, list)
        and variants
        and all(isinstance(v, dict) and "model_package_name" in v for v in variants)
    ):
        return  # every variant brings its own registry model
    if has_package:
        if "model_artifact_location" in config:
            yield ctx.finding(
                ["model_artifact_location"],
                "model-source",
                "model_package_name is set, so model_artifact_location is ignored",
                "remove one of them: the registry package wins",
                severity=WARNING,
            )
        return
    missing = [k for k in ["model_artifact_location", *image] if k not in config]
    if missing:
        yield ctx.finding(
            [],
            "model-source",
            f"{ptype!r} needs model_package_name, or model_artifact_location with {' and '.join(image)}; "
            f"missing {', '.join(missing)}",
            "add model_package_name (a Model Registry version ARN), or the missing keys",
        )


def _model_package_kind(value: Any) -> str | None:
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


@check
def pinned_models(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """Stages that need approval (staging, prod) deploy pinned, reviewable model versions."""
    for stage, value, path in per_stage(config, ctx, "model_package_name"):
        st = ctx.env.stage(stage)
        if st is None or not (st.approval or st.protected):
            continue
        kind = _model_package_kind(value)
        if kind in ("group", "unversioned"):
            yield ctx.finding(
                path,
                "unpinned-model",
                f"stage {stage!r} must deploy a pinned model version, but {value!r} names a model package group",
                "use a version ARN (…:model-package/<group>/<version>), e.g. via `mlopsctl promote`; only stages "
                "without approval may follow the latest approved version",
            )
    variants = config.get("production_variants")
    if isinstance(variants, list):
        for index, variant in enumerate(variants):
            if isinstance(variant, dict) and _model_package_kind(variant.get("model_package_name")) in (
                "group",
                "unversioned",
            ):
                approved = [
                    s
                    for s in pipeline_stages(config, ctx.env)
                    if (st := ctx.env.stage(s)) and (st.approval or st.protected)
                ]
                if approved:
                    yield ctx.finding(
                        ["production_variants", index, "model_package_name"],
                        "unpinned-model",
                        f"production variants deploy to {', '.join(approved)}, which need a pinned model version",
                        "use a version ARN (…:model-package/<group>/<version>)",
                    )


@check
def variants(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for _, value, path in per_stage(config, ctx, "production_variants"):
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
        if weights and all(isinstance(w, int | float) for w in weights) and sum(weights) <= 0:
            yield ctx.finding(
                path,
                "variant-weights",
                "the variant weights add up to 0, so no variant gets traffic",
                "give at least one variant a positive weight",
            )


@check
def autoscaling_bounds(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for stage, value, path in per_stage(config, ctx, "autoscaling"):
        if not isinstance(value, dict):
            continue
        lo, hi = value.get("min_capacity", 1), value.get("max_capacity")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            yield ctx.finding(
                [*path, "min_capacity"],
                "range",
                f"min_capacity {lo} is above max_capacity {hi}",
                "make min_capacity <= max_capacity",
            )
        count = stage_value(config, ctx, "instance_count", stage)
        if isinstance(count, int) and isinstance(hi, int) and count > hi:
            yield ctx.finding(
                path,
                "range",
                f"instance_count {count} is above max_capacity {hi} for stage {stage!r}",
                "raise max_capacity or lower instance_count",
            )


# ---------------------------------------------------------------- MWO's cross-field rules

_NEEDS_BY_PROBLEM = [
    # (pipeline types, problem types, field) - from MWO's per-type rules
    ({"byom_model_quality_monitor", "byom_model_bias_monitor", "byom_model_explainability_monitor"},
     {"Regression", "MulticlassClassification"}, "monitor_inference_attribute"),
    ({"byom_model_quality_monitor"}, {"BinaryClassification"}, "baseline_probability_attribute"),
    ({"byom_model_bias_monitor"}, {"BinaryClassification", "MulticlassClassification"}, "model_predicted_label_config"),
]  # fmt: skip


@check
def problem_type_rules(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    ptype, problem = pipeline_type(config, ctx), config.get("problem_type")
    for types, problems, needed in _NEEDS_BY_PROBLEM:
        if ptype in types and problem in problems and not _present(config.get(needed)):
            yield ctx.finding(
                [needed],
                "required",
                f"required key {needed!r} is missing: {ptype} with problem_type {problem!r} needs it",
                f"add it: {ctx.schema.fields[needed].description.split('. ')[0]}",
            )


@check
def autopilot_objective(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if pipeline_type(config, ctx) != "model_autopilot_training":
        return
    problem, objective = config.get("problem_type", ""), config.get("job_objective", "")
    if bool(problem) != bool(objective):
        have, lack = ("problem_type", "job_objective") if problem else ("job_objective", "problem_type")
        yield ctx.finding(
            [lack],
            "required",
            f"{have} is set, so {lack} is required too",
            "give both problem_type and job_objective, or neither",
        )


@check
def spot_wait(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if pipeline_type(config, ctx) not in (
        "model_training_builtin",
        "model_tuner_builtin",
        "model_training_pipeline",
    ):
        return
    if config.get("use_spot_instances", True) is not True:
        return
    runtime = config.get("max_runtime_per_job", 86400)
    wait = config.get("max_wait_time_spot_instances", 172800)
    if isinstance(runtime, int) and isinstance(wait, int) and wait <= runtime:
        yield ctx.finding(
            ["max_wait_time_spot_instances"],
            "range",
            f"max_wait_time_spot_instances ({wait}) must exceed max_runtime_per_job ({runtime}) with spot instances",
            f"raise it above {runtime}, or set use_spot_instances to false",
        )


@check
def training_image(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if pipeline_type(config, ctx) != "model_training_pipeline":
        return
    if "custom_image_uri" not in config and not (
        "model_framework" in config and "model_framework_version" in config
    ):
        yield ctx.finding(
            [],
            "model-source",
            "the training step needs an image",
            "set model_framework and model_framework_version, or custom_image_uri",
        )
    split = config.get("processing")
    if isinstance(split, dict):
        test, val = split.get("test_split", 0.2), split.get("validation_split", 0.1)
        if isinstance(test, int | float) and isinstance(val, int | float) and test + val >= 1:
            yield ctx.finding(
                ["processing"],
                "range",
                f"test_split + validation_split is {test + val:g}, leaving no training data",
                "keep their sum below 1",
            )


@check
def retrain_references(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    triggers = config.get("triggers")
    refs = triggers.get("monitor_violations") if isinstance(triggers, dict) else None
    if not isinstance(refs, list):
        return
    for index, ref in enumerate(refs):
        if not isinstance(ref, str):
            continue
        path = ["triggers", "monitor_violations", index]
        if ref not in ctx.pipelines:
            hint = did_you_mean(
                ref,
                [p for p, t in ctx.pipelines.items() if t and t.endswith("_monitor")],
                "name the folder of a monitor pipeline",
            )
            yield ctx.finding(path, "reference", f"no pipeline {ref!r} in pipeline-configs/", hint)
        elif not (ctx.pipelines[ref] or "").endswith("_monitor"):
            yield ctx.finding(
                path,
                "reference",
                f"pipeline {ref!r} is a {ctx.pipelines[ref]}, not a model monitor",
                "name a monitor pipeline",
            )


@check
def lake_lifecycle(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if pipeline_type(config, ctx) != "data_lake":
        return
    for stage, expire, path in per_stage(config, ctx, "expiration_days"):
        glacier = stage_value(config, ctx, "glacier_transition_days", stage)
        glacier = 90 if glacier is None else glacier
        if isinstance(expire, int) and isinstance(glacier, int) and expire <= glacier:
            yield ctx.finding(
                path,
                "range",
                f"objects would expire ({expire} days) before moving to Glacier ({glacier} days) in {stage!r}",
                "make expiration_days larger than glacier_transition_days",
            )


@check
def stream_shards(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if (
        pipeline_type(config, ctx) == "realtime_reporting"
        and "shard_count" in config
        and config.get("stream_mode", "ON_DEMAND") != "PROVISIONED"
    ):
        yield ctx.finding(
            ["shard_count"],
            "unused-key",
            "shard_count only applies to stream_mode PROVISIONED",
            "remove it, or set stream_mode to PROVISIONED",
            severity=WARNING,
        )


@check
def kms_region(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for stage, value, path in per_stage(config, ctx, "kms_key_arn"):
        region = ctx.env.region_of(stage)
        if not (isinstance(value, str) and value.startswith("arn:") and region):
            continue
        try:
            arn = parse_arn(value, "kms", ["key", "alias"])
        except ArnError:
            continue
        if arn.region != region:
            yield ctx.finding(
                path,
                "kms-region",
                f"the KMS key is in {arn.region} but stage {stage!r} deploys to {region}",
                f"use a key in {region}: KMS keys are regional",
            )


# ---------------------------------------------------------------- secrets

_SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)"
)
_SECRET_VALUES = [
    (re.compile(r"(?<![A-Z0-9])(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a URL with a password in it"),
    (re.compile(r"(?i)aws_secret_access_key"), "an AWS secret access key"),
]
_SECRET_HINT = (
    "never commit secrets: keep them in AWS Secrets Manager and reference the secret's ARN "
    "(e.g. dms_replication.secret_arn), then rotate the exposed credential"
)


def _walk(value: Any, path: list) -> Iterator[tuple[list, Any, Any]]:
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                yield [*where, k], k, v
                stack.append((v, [*where, k]))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield [*where, i], None, v
                stack.append((v, [*where, i]))


@check
def secrets(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for path, key, value in _walk(config, []):
        if not isinstance(value, str) or not value:
            continue
        for pattern, what in _SECRET_VALUES:
            if pattern.search(value):
                yield ctx.finding(
                    path, "secret", f"the value looks like {what} in plain text (not shown)", _SECRET_HINT
                )
                break
        else:
            if isinstance(key, str) and _SECRET_KEY.search(key) and not _is_reference(value):
                yield ctx.finding(
                    path,
                    "secret",
                    f"{key!r} holds what looks like a plain-text secret (not shown)",
                    _SECRET_HINT,
                )


def _is_reference(value: str) -> bool:
    return value.startswith(("arn:", "{{resolve:", "/")) or value.startswith("${")
