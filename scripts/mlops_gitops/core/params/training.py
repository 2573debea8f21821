"""Parameters of the training template (model_training_builtin, model_tuner_builtin,
model_autopilot_training): one template, its JobKind chosen by the pipeline type."""

from __future__ import annotations

import json
from typing import Any

from mlops_gitops import images, names
from mlops_gitops.config.rules import job_names
from mlops_gitops.config.rules.job_names import KINDS
from mlops_gitops.core.params.base import (
    Deferred,
    ParamContext,
    Params,
    has_local_storage,
    notification_topic,
    number,
    s3_uri,
)

JSON_LIMIT = 4096
_RANGE_KEYS = {
    "continuous": "ContinuousParameterRanges",
    "integer": "IntegerParameterRanges",
    "categorical": "CategoricalParameterRanges",
}


def _flag(value: Any, default: bool) -> str:
    if value is None or value == "":
        return "true" if default else "false"
    if isinstance(value, str):
        return "true" if value.lower() == "true" else "false"
    return "true" if value else "false"


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else default
    return default if value is None else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return number(value)


def _none_if_empty(value: Any) -> str:
    return value if value else "None"


def job_name_prefix(ctx: ParamContext, kind: str, base: str) -> str:
    """The config's job_name (else the resource base name), as config/rules/job_names.py cuts it."""
    stack = names.stack_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage)
    return job_names.job_name_prefix(ctx.value("job_name"), base, kind, stack)


def parameter_ranges(ranges: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """MWO's {name: [kind, [min, max]]} / {name: ["categorical", [values]]} as SageMaker's ParameterRanges."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, spec in ranges.items():
        kind, values = spec[0], spec[1]
        if kind == "categorical":
            entry: dict[str, Any] = {"Name": name, "Values": [_text(v) for v in values]}
        else:
            entry = {"Name": name, "MinValue": _text(values[0]), "MaxValue": _text(values[1])}
            if len(spec) > 2 and spec[2]:
                entry["ScalingType"] = spec[2]
        out.setdefault(_RANGE_KEYS[kind], []).append(entry)
    return out


def _training_image(ctx: ParamContext, instance_type: str) -> str:
    framework = ctx.cfg.data.get("model_framework")
    version = ctx.cfg.data.get("model_framework_version") or ""
    if not framework:
        return ""
    try:
        return images.image_uri(framework, version, ctx.region, instance_type, scope="training")
    except images.ImageError as exc:
        ctx.fail(["model_framework_version"], "image", exc.message, exc.hint)
        return ""


def _compact(value: Any, path: list, ctx: ParamContext, what: str) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    if len(text) > JSON_LIMIT:
        ctx.fail(
            path,
            "too-long",
            f"{what} take {len(text)} characters as JSON; the template takes at most {JSON_LIMIT}",
            "pass fewer or shorter values",
        )
    return text


def build(ctx: ParamContext) -> tuple[Params, Deferred]:
    kind = KINDS[ctx.cfg.pipeline_type]
    base = names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage)
    kms = ctx.value("kms_key_arn", "") or ""
    output = s3_uri(ctx, "job_output_location", ctx.value("job_output_location"), asset=True).rstrip("/")
    params: Params = {
        "NamePrefix": base,
        "JobKind": kind,
        "JobNamePrefix": job_name_prefix(ctx, kind, base),
        "TrainingDataUri": s3_uri(ctx, "training_data", ctx.value("training_data"), asset=True),
        "JobOutputUri": output,
        "KmsKeyArn": kms,
        "EncryptInterContainerTraffic": _flag(ctx.value("encrypt_inner_traffic"), True),
        "MaxRuntimeSeconds": number(ctx.value("max_runtime_per_job", 86400)),
        "CompressionType": _none_if_empty(ctx.value("compression_type", "")),
        "NotificationTopicArn": notification_topic(ctx),
    }
    if kind == "Autopilot":
        problem, objective = ctx.value("problem_type", "") or "", ctx.value("job_objective", "") or ""
        if bool(problem) != bool(objective):
            ctx.fail(
                ["problem_type" if not problem else "job_objective"],
                "autopilot-objective",
                "Autopilot takes problem_type and job_objective together, or neither",
                "give both, or remove both and let Autopilot infer them",
            )
        params.update(
            {
                "ImageUri": "",
                "ContentType": "text/csv;header=present",
                "VolumeKmsKeyArn": kms,
                "TargetAttribute": ctx.value("target_attribute", "") or "",
                "ProblemType": problem,
                "AutopilotObjective": objective,
                "AutopilotMaxCandidates": number(ctx.value("job_max_candidates", 10)),
                "AutopilotTotalRuntime": number(ctx.value("total_max_runtime", 2592000)),
                "GenerateDefinitionsOnly": _flag(ctx.value("generate_definition_only"), False),
            }
        )
        return params, {}

    instance_type = ctx.value("instance_type", "ml.m4.xlarge") or "ml.m4.xlarge"
    hyper = {k: _text(v) for k, v in (_json(ctx.value("algo_hyperparamaters"), {}) or {}).items()}
    attributes = _json(ctx.value("attribute_names"), [])
    params.update(
        {
            "ImageUri": _training_image(ctx, instance_type),
            "ValidationDataUri": s3_uri(ctx, "validation_data", ctx.value("validation_data"), asset=True),
            "InstanceType": instance_type,
            "InstanceCount": number(ctx.value("instance_count", 1)),
            "VolumeSizeGb": number(ctx.value("instance_volume_size", 20)),
            "VolumeKmsKeyArn": "" if has_local_storage(instance_type) else kms,
            "UseSpotInstances": _flag(ctx.value("use_spot_instances"), True),
            "MaxWaitSeconds": number(ctx.value("max_wait_time_spot_instances", 172800)),
            "ContentType": ctx.value("content_type", "csv") or "csv",
            "S3DataType": ctx.value("s3_data_type", "S3Prefix") or "S3Prefix",
            "DataDistribution": ctx.value("data_distribution", "FullyReplicated") or "FullyReplicated",
            "RecordWrapping": _none_if_empty(ctx.value("data_record_wrapping", "")),
            "InputMode": ctx.value("data_input_mode", "File") or "File",
            "AttributeNames": _compact(attributes, ["attribute_names"], ctx, "attribute_names")
            if attributes
            else "",
        }
    )
    # (spot wait above runtime is validate's rule: config/rules_types.spot_wait)
    if kind == "Tuning":
        tuner = _json(ctx.value("tuner_configs"), {}) or {}
        ranges = _json(ctx.value("hyperparamaters_ranges"), {}) or {}
        hyper = {k: v for k, v in hyper.items() if k not in ranges}  # tuned ones are not static
        params.update(
            {
                "TunerObjectiveMetric": tuner.get("objective_metric_name", ""),
                "TunerObjectiveType": tuner.get("objective_type", "Maximize"),
                "TunerStrategy": tuner.get("strategy", "Bayesian"),
                "TunerMaxJobs": number(tuner.get("max_jobs", 1)),
                "TunerMaxParallelJobs": number(tuner.get("max_parallel_jobs", 1)),
                "TunerEarlyStopping": tuner.get("early_stopping_type", "Off"),
                "ParameterRanges": _compact(
                    parameter_ranges(ranges), ["hyperparamaters_ranges"], ctx, "hyperparamaters_ranges"
                ),
            }
        )
    params["Hyperparameters"] = _compact(hyper, ["algo_hyperparamaters"], ctx, "algo_hyperparamaters")
    return params, {}


BUILDERS = {"model_training.yaml": build}
