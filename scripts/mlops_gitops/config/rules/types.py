"""Per-type rules: MWO's cross-field rules, training, data lake, streams, KMS regions, references."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from mlops_gitops import awsdata
from mlops_gitops.config.arns import ArnError, parse_arn
from mlops_gitops.config.references import monitor_violations
from mlops_gitops.config.rules.base import (
    Context,
    check,
    per_stage,
    pipeline_stages,
    pipeline_type,
    stage_value,
    stages_text,
)
from mlops_gitops.config.s3 import bucket_problem
from mlops_gitops.findings import WARNING, Finding
from mlops_gitops.suggest import did_you_mean

_MONITORS_WITH_PROBLEM = {
    "byom_model_quality_monitor",
    "byom_model_bias_monitor",
    "byom_model_explainability_monitor",
}
_NEEDS_BY_PROBLEM = [
    # (pipeline types, problem types, field) - MWO's per-type rules
    (_MONITORS_WITH_PROBLEM, {"Regression", "MulticlassClassification"}, "monitor_inference_attribute"),
    ({"byom_model_quality_monitor"}, {"BinaryClassification"}, "baseline_probability_attribute"),
    ({"byom_model_bias_monitor"}, {"BinaryClassification", "MulticlassClassification"}, "model_predicted_label_config"),
]  # fmt: skip


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


@check
def problem_type_rules(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    ptype, problem = pipeline_type(config, ctx), config.get("problem_type")
    if not isinstance(problem, str):
        return  # a wrong type is the schema's finding
    if ptype in _MONITORS_WITH_PROBLEM and problem == "":
        yield ctx.finding(
            ["problem_type"],
            "required",
            f"problem_type is empty, but {ptype} needs it",
            "use 'BinaryClassification', 'MulticlassClassification' or 'Regression'",
        )
        return
    for types, problems, needed in _NEEDS_BY_PROBLEM:
        if ptype in types and problem in problems and not _present(config.get(needed)):
            what = "is empty" if needed in config else "is missing"
            yield ctx.finding(
                [needed],
                "required",
                f"required key {needed!r} {what}: {ptype} with problem_type {problem!r} needs it",
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


def _fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1


@check
def training_pipeline(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
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
    if "model_framework" in config and "custom_image_uri" not in config and "training" not in config:
        # A framework image runs the script named by the sagemaker_program hyperparameter from the
        # sagemaker_submit_directory archive (sagemaker-training-toolkit; the SageMaker Python SDK sets
        # both): without them the training job starts and fails with no entry point.
        yield ctx.finding(
            ["training"],
            "required",
            f"the {config['model_framework']!r} framework image needs the training script to run",
            'add "training": {"entry_point": "train.py", "source_dir": "s3://bucket/code/sourcedir.tar.gz"}',
        )
    split = config.get("processing")
    if isinstance(split, dict):
        test, val = split.get("test_split", 0.2), split.get("validation_split", 0.1)
        if _fraction(test) and _fraction(val) and test + val >= 1:
            yield ctx.finding(
                ["processing"],
                "range",
                f"test_split + validation_split is {test + val:g}, leaving no training data",
                "keep their sum below 1",
            )


@check
def retrain_references(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    for index, ref in monitor_violations(config):  # config.references: plan orders deploys by them too
        path = ["triggers", "monitor_violations", index]
        if ref not in ctx.pipelines:
            monitors = [p for p, t in ctx.pipelines.items() if t and t.endswith("_monitor")]
            yield ctx.finding(
                path,
                "reference",
                f"no pipeline {ref!r} in pipeline-configs/",
                did_you_mean(ref, monitors, "name the folder of a monitor pipeline"),
            )
        elif ctx.pipelines[ref] is None:
            yield ctx.finding(
                path,
                "reference",
                f"pipeline {ref!r} has an unreadable config, so it can't be checked as a monitor",
                f"fix pipeline-configs/{ref}/mlops-config.json first",
            )
        elif not ctx.pipelines[ref].endswith("_monitor"):
            yield ctx.finding(
                path,
                "reference",
                f"pipeline {ref!r} is a {ctx.pipelines[ref]}, not a model monitor",
                "name a monitor pipeline",
            )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@check
def lake_lifecycle(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if pipeline_type(config, ctx) != "data_lake":
        return
    found: dict[tuple, list[str]] = {}
    for stage, expire, path in per_stage(config, ctx, "expiration_days"):
        glacier = stage_value(config, ctx, "glacier_transition_days", stage)
        glacier = 90 if glacier is None else glacier
        if _positive_int(expire) and _positive_int(glacier) and expire <= glacier:
            found.setdefault((tuple(path), expire, glacier), []).append(stage)
    for (path, expire, glacier), stages in found.items():
        yield ctx.finding(
            list(path),
            "range",
            f"objects would expire ({expire} days) before moving to Glacier ({glacier} days) in {stages_text(stages)}",
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
    found: dict[tuple[tuple, str, str], list[str]] = {}  # (path, key region, stage region) -> stages
    for stage, value, path in per_stage(config, ctx, "kms_key_arn"):
        region = ctx.env.region_of(stage)
        if not (isinstance(value, str) and value.startswith("arn:") and region):
            continue
        try:
            arn = parse_arn(value, "kms", ["key", "alias"])
        except ArnError:
            continue
        if arn.region != region:
            found.setdefault((tuple(path), arn.region, region), []).append(stage)
    for (path, key_region, region), stages in found.items():
        verb = "deploys" if len(stages) == 1 else "deploy"
        yield ctx.finding(
            list(path),
            "kms-region",
            f"the KMS key is in {key_region} but {stages_text(stages)} {verb} to {region}",
            f"use a key in {region}: KMS keys are regional",
        )


# ARNs (and ECR image URIs) the stage's resources must find in their own region: SageMaker takes a
# model package and pulls an image only from its region, a secret and a topic are regional and the
# templates grant and call them in the stack's region. KMS keys have their own rule above.
_REGIONAL = {
    ("sagemaker", "model-package"): "the model package",
    ("sagemaker", "model-package-group"): "the model package group",
    ("secretsmanager", "secret"): "the secret",
    ("sns", ""): "the SNS topic",
}
_ECR_REGION = re.compile(r"[0-9]{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/.+")


def _regional_values(value: Any, path: list) -> Iterator[tuple[list, str, str]]:
    """(path, what, region) for every regional ARN or ECR URI inside ``value``."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _regional_values(child, [*path, key])
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _regional_values(child, [*path, index])
    elif isinstance(value, str):
        if value.startswith("arn:"):
            parts = value.split(":", 5)
            if len(parts) == 6:
                service, region, resource = parts[2], parts[3], parts[5]
                rtype = (
                    "" if service == "sns" else resource.split("/" if service != "secretsmanager" else ":")[0]
                )
                what = _REGIONAL.get((service, rtype))
                if what and region:
                    yield path, what, region
        elif m := _ECR_REGION.fullmatch(value):
            yield path, "the ECR image", m.group(1)


@check
def regional_arns(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    found: dict[tuple[tuple, str, str, str], list[str]] = {}  # (path, what, its region, stage's) -> stages
    for name in config:
        if name == "kms_key_arn":
            continue
        for stage, value, path in per_stage(config, ctx, name):
            region = ctx.env.region_of(stage)
            if not region:
                continue
            for where, what, own in _regional_values(value, path):
                if (
                    own != region and awsdata.partition_of_region(own) is not None
                ):  # else: reported as unknown
                    found.setdefault((tuple(where), what, own, region), []).append(stage)
    for (path, what, own, region), stages in found.items():
        verb = "deploys" if len(stages) == 1 else "deploy"
        yield ctx.finding(
            list(path),
            "region",
            f"{what} is in {own} but {stages_text(stages)} {verb} to {region}",
            _SNS_REGION_HINT.format(region=region)
            if what == _REGIONAL[("sns", "")]
            else f"use one in {region}: the stage's resources reach it only in their own region "
            "(copy the model package or image there, or give that stage its own value)",
        )


# CloudWatch alarm actions name a topic of the alarm's region; EventBridge delivers to SNS targets
# of the rule's region:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
# https://repost.aws/knowledge-center/sns-not-getting-eventbridge-notification
_SNS_REGION_HINT = (
    "use a topic in {region}: alarm actions and EventBridge targets must be in the stage's own "
    "region (or rely on the e-mails in notify, which the pipeline's own topic subscribes)"
)


@check
def kms_alias(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    paths = {
        tuple(path)
        for _, value, path in per_stage(config, ctx, "kms_key_arn")
        if isinstance(value, str) and ":alias/" in value
    }
    for path in paths:
        yield ctx.finding(
            list(path),
            "kms-alias",
            "IAM can't grant use of a key through its alias ARN, so the pipeline's roles may be refused the key",
            "use the key's ARN (…:key/<id>)",
            severity=WARNING,
        )


@check
def lake_names_per_stage(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """One name for every stage collides: buckets are global, Glue databases per account."""
    if pipeline_type(config, ctx) != "data_lake":
        return
    stages = pipeline_stages(config, ctx.env)
    if len(stages) < 2:
        return
    bucket = config.get("lake_bucket_name")
    if (
        isinstance(bucket, str) and bucket_problem(bucket) is None
    ):  # an invalid name is reported as such first
        yield ctx.finding(
            ["lake_bucket_name"],
            "name-collision",
            f"bucket {bucket!r} would be created by {stages_text(stages)}, but bucket names are global",
            "give one name per stage, or leave it out for the default <prefix>-<id>-<stage>-<account>",
        )
    database = config.get("glue_database_name")
    accounts = [(ctx.env.stage(s).account_id if ctx.env.stage(s) else None) for s in stages]
    if (
        isinstance(database, str)
        and re.fullmatch(r"[a-z0-9_]{1,255}", database)
        and len(set(accounts)) < len(accounts)
    ):
        yield ctx.finding(
            ["glue_database_name"],
            "name-collision",
            f"Glue database {database!r} would be created by {stages_text(stages)} in the same account",
            "give one name per stage, or leave it out for the default <prefix>_<id>_<stage>",
        )


@check
def image_repo_per_account(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """The image builder creates its ECR repository, once per account and region: without
    ``stages`` it builds in each account's first stage (pipeline_stages); ``stages`` naming two
    stages of one account and region would create the repository twice.
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/Repositories.html"""
    if pipeline_type(config, ctx) != "byom_image_builder":
        return
    repo = config.get("ecr_repo_name")
    if not isinstance(repo, str):
        return
    stages = pipeline_stages(config, ctx.env)
    scopes = {s: (st.account_id if (st := ctx.env.stage(s)) else None, ctx.env.region_of(s)) for s in stages}
    first_of = {}
    for s in stages:
        first_of.setdefault(scopes[s], s)
    twice = [s for s in stages if first_of[scopes[s]] != s]
    if twice:
        first = first_of[scopes[twice[0]]]
        twice = [s for s in twice if first_of[scopes[s]] == first]
        yield ctx.finding(
            ["stages"],
            "name-collision",
            f"ECR repository {repo!r} would be created by {stages_text([first, *twice])} in the same "
            "account and region; an image is built once per account and used by its later stages "
            "(promoted by digest, not rebuilt)",
            f'leave "stages" out (the image is built in {first!r}, the first stage of the account, and '
            f"{', '.join(repr(s) for s in twice)} use{'s' if len(twice) == 1 else ''} it), list one stage "
            "per account, or give the stages their own accounts",
        )


@check
def asset_suffixes(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """What render and the templates require of a few files' names: the image builder's Dockerfile
    bundle is a .zip (CodeBuild reads an S3 source as one zip), the training pipeline's step
    scripts are .py files."""
    wanted = []
    if pipeline_type(config, ctx) == "byom_image_builder":
        wanted.append((["custom_algorithm_docker"], config.get("custom_algorithm_docker"), ".zip"))
    if pipeline_type(config, ctx) == "model_training_pipeline":
        for section in ("processing", "evaluation"):
            part = config.get(section)
            if isinstance(part, dict):
                wanted.append(([section, "script"], part.get("script"), ".py"))
        training = config.get("training")
        if isinstance(training, dict):
            wanted.append((["training", "source_dir"], training.get("source_dir"), ".tar.gz"))
    for path, value, suffix in wanted:
        name = value.rsplit("/", 1)[-1] if isinstance(value, str) else ""
        ok = name.endswith(suffix) if suffix != ".py" else re.fullmatch(r"[A-Za-z0-9_.-]{1,128}\.py", name)
        if isinstance(value, str) and value and not ok:
            yield ctx.finding(
                path,
                "file-type",
                f"{value!r} is not a {suffix} file",
                "zip the Dockerfile with its files and point at the .zip"
                if suffix == ".zip"
                else "pack the training code (tar czf sourcedir.tar.gz -C src .) and point at the .tar.gz"
                if suffix == ".tar.gz"
                else "point at the Python script itself: …/<letters, digits, . _ ->.py",
            )


@cache
def aggregator_names() -> tuple[tuple[str, ...], dict[str, int]]:
    """RESERVED_ATTRIBUTES and the Snowplow columns, read from the Lambda's source (the Lambda is
    packaged standalone and imports boto3, which validate never loads), so there is one list."""
    import ast

    from mlops_gitops import lambdas

    source = (Path(lambdas.__file__).parent / "event_aggregator.py").read_text(encoding="utf-8")
    values: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("RESERVED_ATTRIBUTES", "SNOWPLOW_COLUMNS"):
                values[node.targets[0].id] = ast.literal_eval(node.value)
    columns = values["SNOWPLOW_COLUMNS"]
    return tuple(values["RESERVED_ATTRIBUTES"]), {name: i for i, name in enumerate(columns)}


@check
def group_by_columns(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """The event aggregator's own rules for group_by (the Lambda refuses them at run time and render
    refuses them first): no attribute the results table uses, and Snowplow columns only."""
    RESERVED_ATTRIBUTES, SNOWPLOW_INDEX = aggregator_names()  # noqa: N806

    if pipeline_type(config, ctx) != "realtime_reporting":
        return
    aggregation = config.get("aggregation")
    group_by = aggregation.get("group_by") if isinstance(aggregation, dict) else None
    if not isinstance(group_by, list):
        return
    snowplow = config.get("event_format") == "snowplow_enriched_tsv"
    for index, name in enumerate(group_by):
        path = ["aggregation", "group_by", index]
        if not isinstance(name, str):
            continue
        if name in RESERVED_ATTRIBUTES:
            yield ctx.finding(
                path,
                "reserved",
                f"group_by field {name!r} is an attribute the results table uses itself",
                f"rename the event field; reserved: {', '.join(RESERVED_ATTRIBUTES)}",
            )
        elif snowplow and name not in SNOWPLOW_INDEX:
            yield ctx.finding(
                path,
                "snowplow-column",
                f"group_by field {name!r} is not a column of a Snowplow enriched event",
                did_you_mean(
                    name, list(SNOWPLOW_INDEX), "use a column such as app_id, platform, event or geo_country"
                ),
            )


@check
def feature_group_references(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """record_identifier and event_time name features of the group; event time is String or
    Fractional (Feature Store's rule; render refuses the same)."""
    group = config.get("feature_group")
    if pipeline_type(config, ctx) != "data_lake" or not isinstance(group, dict):
        return
    features = group.get("features")
    if not isinstance(features, list) or not features:
        return  # the schema reports a missing or empty list
    types = {
        f["name"].lower(): f.get("type")
        for f in features
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    }
    for field in ("record_identifier", "event_time"):
        name = group.get(field)
        if isinstance(name, str) and name.lower() not in types:
            yield ctx.finding(
                ["feature_group", field],
                "reference",
                f"{field} {name!r} is not one of the features",
                did_you_mean(
                    name,
                    [f["name"] for f in features if isinstance(f, dict) and isinstance(f.get("name"), str)],
                    "name a feature listed under feature_group.features",
                ),
            )
    event = group.get("event_time")
    event_type = types.get(event.lower()) if isinstance(event, str) else None
    if event_type not in (None, "String", "Fractional"):
        yield ctx.finding(
            ["feature_group", "event_time"],
            "type",
            f"event_time {event!r} is an {event_type} feature; Feature Store needs String or Fractional",
            "make the event time feature a String (ISO-8601) or Fractional (Unix seconds)",
        )
