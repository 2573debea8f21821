"""Parameters of the model-monitor template (the four byom_*_monitor types, one template).

MWO's monitor fields map onto cloudformation/pipelines/model_monitor.yaml. Two 8-hex revisions keep
names stable: BaselineRevision hashes what decides the baseline's content (so an unchanged config
never re-runs it, and a changed one gets a new baseline folder), JobRevision hashes everything the
create-only job definition holds (so a change gets a new name instead of a name clash). The Clarify
analysis configurations are built here from bias_config / shap_config / model_predicted_label_config;
what only AWS knows (the CSV headers, the endpoint's model) is added by the template's state machine.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlops_gitops import images, names
from mlops_gitops.core.params.base import (
    Deferred,
    ParamContext,
    Params,
    has_local_storage,
    notification_topic,
    number,
    s3_uri,
)

MONITORING_TYPES = {
    "byom_data_quality_monitor": "DataQuality",
    "byom_model_quality_monitor": "ModelQuality",
    "byom_model_bias_monitor": "ModelBias",
    "byom_model_explainability_monitor": "ModelExplainability",
}
CLARIFY = ("ModelBias", "ModelExplainability")
# Parameters that never reach the job definition: changing them must not rename (replace) it.
_NOT_IN_JOB_DEFINITION = {
    "ScheduleExpression",
    "NotificationTopicArn",
    "BaselineMaxRuntimeSeconds",
    "JobRevision",
}
# What decides the baseline's content (instance size, runtime and keys do not).
_BASELINE_INPUTS = (
    "MonitoringType",
    "ImageUri",
    "BaselineDataUri",
    "ProblemType",
    "BaselineInferenceAttribute",
    "BaselineProbabilityAttribute",
    "BaselineGroundTruthAttribute",
    "ProbabilityThreshold",
    "AnalysisConfig",
)


def revision(params: dict[str, str], keys: tuple[str, ...] | list[str]) -> str:
    """8 hex characters of the values of ``keys`` (sorted), stable across renders and machines."""
    canonical = json.dumps(
        {k: params.get(k, "") for k in sorted(keys)}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def _text(value: Any) -> str:
    """An attribute (column name, index or JSON path) as the template takes it: a string, "" for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return number(value) if isinstance(value, float) else str(value)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _json_object(ctx: ParamContext, name: str) -> dict[str, Any]:
    """A JSON-object field; validate has already turned MWO's JSON-string form into an object."""
    value = ctx.value(name)
    if value is None:
        return {}
    if isinstance(value, str):  # not normalised (a caller bypassing validate)
        try:
            value = json.loads(value)
        except ValueError:
            ctx.fail([name], "json-string", f"{name} is not valid JSON", "write it as a JSON object")
            return {}
    if not isinstance(value, dict):
        ctx.fail([name], "type", f"{name} must be a JSON object", "write it as a JSON object")
        return {}
    return value


def _image(ctx: ParamContext, monitoring_type: str) -> str:
    try:
        if monitoring_type in CLARIFY:
            return images.image_uri("clarify", "1.0", ctx.region, scope="processing")
        return images.image_uri("model-monitor", "", ctx.region)
    except images.ImageError as exc:
        ctx.fail(["pipeline_type"], "image", exc.message, exc.hint)
        return ""


def _predictor(instance_type: str) -> dict[str, Any]:
    """Clarify's shadow endpoint (the model name is the monitored endpoint's, found at run time)."""
    return {
        "instance_type": instance_type,
        "initial_instance_count": 1,
        "content_type": "text/csv",
        "accept_type": "text/csv",
        "endpoint_name_prefix": "sm-clarify",  # the monitor role may manage sm-clarify-* endpoints only
    }


def bias_analysis(ctx: ParamContext, instance_type: str) -> dict[str, Any]:
    """{"baseline": run_bias's analysis config, "monitor": ModelBiasMonitor's}, as the SageMaker SDK
    builds them, less headers, label and model name."""
    bias = _json_object(ctx, "bias_config")
    label_config = _json_object(ctx, "model_predicted_label_config")
    facet = _drop_none(
        {"name_or_index": bias.get("facet_name"), "value_or_threshold": bias.get("facet_values_or_threshold")}
    )
    groups = _drop_none(
        {
            "label_values_or_threshold": bias.get("label_values_or_threshold"),
            "facet": [facet],
            "group_variable": bias.get("group_name"),
        }
    )
    predictor = {
        **_predictor(instance_type),
        **_drop_none(
            {
                "label": label_config.get("label"),
                "probability": label_config.get("probability"),
                "label_headers": label_config.get("label_headers"),
            }
        ),
    }
    baseline = {
        "dataset_type": "text/csv",
        **groups,
        "methods": {
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
            "report": {"name": "report", "title": "Analysis Report"},
        },
        "predictor": predictor,
        **_drop_none({"probability_threshold": label_config.get("probability_threshold")}),
    }
    return {"baseline": baseline, "monitor": groups}


def explainability_analysis(ctx: ParamContext, instance_type: str) -> tuple[dict[str, Any], str]:
    """({"baseline": run_explainability's config, "monitor": ModelExplainabilityMonitor's}, the
    s3:// URL of a SHAP baseline file or "")."""
    shap = dict(_json_object(ctx, "shap_config"))
    shap_file = ""
    if isinstance(shap.get("baseline"), str):  # MWO: a key in the assets bucket, or s3://
        shap_file = s3_uri(ctx, "shap_config", shap["baseline"], asset=True)
        shap["baseline"] = shap_file
    shap.setdefault("agg_method", "mean_abs")
    methods = {"shap": shap}
    predictor = _predictor(instance_type)
    scores = ctx.value("model_scores")
    baseline = {
        "dataset_type": "text/csv",
        "methods": {**methods, "report": {"name": "report", "title": "Analysis Report"}},
        "predictor": {**predictor, **_drop_none({"label": scores})},
    }
    return {"baseline": baseline, "monitor": {"methods": methods, "predictor": predictor}}, shap_file


def build(ctx: ParamContext) -> tuple[Params, Deferred]:
    monitoring_type = MONITORING_TYPES[ctx.cfg.pipeline_type]
    instance_type = ctx.value("instance_type")
    kms = ctx.value("kms_key_arn", "") or ""
    problem = ctx.value("problem_type", "") or ""
    if monitoring_type == "DataQuality":
        problem = ""
    threshold = _text(ctx.value("probability_threshold_attribute"))
    inference = _text(ctx.value("monitor_inference_attribute"))
    probability = _text(ctx.value("monitor_probability_attribute"))
    features = _text(ctx.value("features_attribute"))
    baseline_max = ctx.value("baseline_max_runtime_seconds", "")
    params: Params = {
        "NamePrefix": names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage),
        "MonitoringType": monitoring_type,
        "EndpointName": (ctx.value("endpoint_name", "") or "").lower(),  # as MWO did
        "DataCaptureUri": s3_uri(
            ctx, "data_capture_location", ctx.value("data_capture_location"), asset=False
        ),
        "BaselineDataUri": s3_uri(ctx, "baseline_data", ctx.value("baseline_data"), asset=True),
        "BaselineOutputUri": s3_uri(
            ctx, "baseline_job_output_location", ctx.value("baseline_job_output_location"), asset=False
        ),
        # MWO's empty value means "no limit", which is SageMaker's default of 24 hours
        "BaselineMaxRuntimeSeconds": number(baseline_max) if baseline_max not in ("", None) else "86400",
        "ProblemType": problem,
        "ImageUri": _image(ctx, monitoring_type),
        "InstanceType": instance_type,
        "VolumeSizeGb": number(ctx.value("instance_volume_size", 20)),
        "MonitorMaxRuntimeSeconds": number(ctx.value("monitor_max_runtime_seconds", 1800)),
        "ScheduleExpression": ctx.value("schedule_expression"),
        "MonitoringOutputUri": s3_uri(
            ctx, "monitoring_output_location", ctx.value("monitoring_output_location"), asset=False
        ),
        "GroundTruthUri": "",
        "KmsKeyArn": kms,
        "VolumeKmsKeyArn": "" if has_local_storage(instance_type) else kms,
        "NotificationTopicArn": notification_topic(ctx),
    }
    if monitoring_type in ("ModelQuality", "ModelBias"):
        params["GroundTruthUri"] = s3_uri(
            ctx, "monitor_ground_truth_input", ctx.value("monitor_ground_truth_input"), asset=False
        )
    if monitoring_type == "ModelQuality":
        baseline_inference = _text(ctx.value("baseline_inference_attribute"))
        baseline_probability = _text(ctx.value("baseline_probability_attribute"))
        if problem == "BinaryClassification" and baseline_probability and threshold:
            baseline_inference = ""  # MWO: probability + threshold win for binary classification
        else:
            baseline_probability = ""
        params.update(
            {
                "BaselineInferenceAttribute": baseline_inference,
                "BaselineProbabilityAttribute": baseline_probability,
                "BaselineGroundTruthAttribute": _text(ctx.value("baseline_ground_truth_attribute")),
                "InferenceAttribute": inference,
                "ProbabilityAttribute": probability,
                "ProbabilityThreshold": threshold,
            }
        )
    elif monitoring_type == "ModelBias":
        label_config = _json_object(ctx, "model_predicted_label_config")
        # as the SageMaker SDK: the endpoint input falls back on model_predicted_label_config
        params.update(
            {
                "InferenceAttribute": inference or _text(label_config.get("label")),
                "ProbabilityAttribute": probability or _text(label_config.get("probability")),
                "ProbabilityThreshold": threshold or _text(label_config.get("probability_threshold")),
                "FeaturesAttribute": features,
                "AnalysisConfig": _compact(bias_analysis(ctx, instance_type)),
            }
        )
    elif monitoring_type == "ModelExplainability":
        analysis, shap_file = explainability_analysis(ctx, instance_type)
        params.update(
            {
                "InferenceAttribute": inference or _text(ctx.value("model_scores")),
                "ProbabilityAttribute": probability,
                "FeaturesAttribute": features,
                "AnalysisConfig": _compact(analysis),
                "ShapBaselineUri": shap_file,
            }
        )
    if "{%" in params.get("AnalysisConfig", ""):
        ctx.fail(
            ["bias_config" if monitoring_type == "ModelBias" else "shap_config"],
            "value",
            "the Clarify configuration contains '{%', which Step Functions would read as an expression",
            "remove '{%' from the values",
        )
    params["BaselineRevision"] = revision(params, _BASELINE_INPUTS)
    params["JobRevision"] = revision(params, [k for k in params if k not in _NOT_IN_JOB_DEFINITION])
    return params, {}


def _compact(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


BUILDERS = {"model_monitor.yaml": build}
