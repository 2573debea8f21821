"""Parameters of the training-pipeline template (model_training_pipeline): an AWS::SageMaker::Pipeline
whose definition (Process -> Train -> Evaluate -> CheckMetric -> Register, else MetricTooLow) the
template assembles with Fn::Sub from these small parameters.

Why not render the whole definition JSON here and pass it as one parameter: CloudFormation caps a
parameter value at 4096 bytes and the definition is about 7 KB, so the template carries the JSON
skeleton and this builder passes images, URIs, numbers and short JSON lists, each constrained.

The evaluation script must write ``evaluation.json`` to /opt/ml/processing/evaluation as
``{"metrics": {"<metric_name>": {"value": <number>}}}``: the condition step reads
``metrics.<metric_name>.value``. There is no built-in evaluator, so evaluation.script is required.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mlops_gitops import images, names
from mlops_gitops.config.s3 import parse_location
from mlops_gitops.core.params.base import (
    Deferred,
    ParamContext,
    Params,
    has_local_storage,
    number,
    s3_uri,
)

TEMPLATE = "model_training_pipeline.yaml"
PROCESSING_FRAMEWORK = "sklearn"
JSON_LIMIT = 2048
HYPER_LIMIT = 4096


def _flag(value: Any, default: bool) -> str:
    if value is None or value == "":
        return "true" if default else "false"
    if isinstance(value, str):
        return "true" if value.lower() == "true" else "false"
    return "true" if value else "false"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return number(value)


def _section(ctx: ParamContext, name: str) -> dict[str, Any]:
    value = ctx.value(name) or {}
    return value if isinstance(value, dict) else {}


def _script(ctx: ParamContext, section: str, value: Any) -> tuple[str, str]:
    """(s3:// URL, file name) of a step's script; a finding when it is missing or not a .py file."""
    path = [section, "script"]
    if not value:
        ctx.fail(
            path,
            "script-required",
            f"{section}.script is missing: the training pipeline has no built-in {section} script",
            "give an s3:// URL (or assets key) of a Python script"
            + (
                " writing evaluation.json with metrics.<metric_name>.value" if section == "evaluation" else ""
            ),
        )
        return "", ""
    uri = s3_uri(ctx, section, value, asset=True)
    name = uri.rsplit("/", 1)[-1]
    if uri and not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}\.py", name):
        ctx.fail(path, "script-name", f"{uri!r} is not a .py file", "point to the Python script itself")
    return uri, name


def _image(ctx: ParamContext, instance_type: str, scope: str, path: list) -> str:
    if ctx.cfg.data.get("custom_image_uri"):
        return ctx.cfg.data["custom_image_uri"]
    framework = ctx.cfg.data.get("model_framework")
    if not framework:
        ctx.fail(
            ["model_framework"],
            "image",
            "the training pipeline needs model_framework (with model_framework_version) or custom_image_uri",
            "name the framework, or give custom_image_uri",
        )
        return ""
    version = ctx.cfg.data.get("model_framework_version") or ""
    try:
        return images.image_uri(framework, version, ctx.region, instance_type, scope=scope)
    except images.ImageError as exc:
        ctx.fail(path, "image", exc.message, exc.hint)
        return ""


def _json_list(ctx: ParamContext, values: list[str], path: list) -> str:
    text = json.dumps(list(values))
    if len(text) > JSON_LIMIT:
        ctx.fail(path, "too-long", f"{len(text)} characters as JSON; at most {JSON_LIMIT}", "list fewer")
    return text


def _trigger_location(ctx: ParamContext, value: Any) -> tuple[str, str]:
    if not value:
        return "", ""
    location = parse_location(value)
    # keep the trailing slash: prefix "in/" must not match "in-old/..."
    key = location.key + "/" if location.key and value.endswith("/") else location.key
    return location.bucket, key


def _entry_point(
    ctx: ParamContext, hyper: dict[str, str], raw: dict[str, Any], training: dict[str, Any]
) -> tuple[dict[str, str], str]:
    """(hyperparameters, source archive URL) of a framework script: the SageMaker Python SDK's
    encoding, which the framework containers' training toolkit decodes - every value JSON-encoded
    (the toolkit falls back to raw strings for all of them when one is not JSON), plus
    sagemaker_program (the script) and sagemaker_submit_directory (the .tar.gz it is unpacked from)."""
    source_uri = s3_uri(ctx, "training", training["source_dir"], asset=True)
    encoded = {k: json.dumps(raw[k]) if isinstance(raw.get(k), str) else v for k, v in hyper.items()}
    if "export-onnx" in encoded:  # the script sees --export-onnx true in both modes (not Python's True)
        encoded["export-onnx"] = json.dumps(hyper["export-onnx"])
    encoded["sagemaker_program"] = json.dumps(training["entry_point"])
    encoded["sagemaker_submit_directory"] = json.dumps(source_uri)
    return encoded, source_uri


def monitor_alarm_names(ctx: ParamContext, monitors: list[str]) -> str:
    """The violation alarms of the monitors in this stage, as model_monitor.yaml names them."""
    return ",".join(
        f"{names.resource_base_name(ctx.env.stack_prefix, m, ctx.stage)}-violations" for m in monitors
    )


def build(ctx: ParamContext) -> tuple[Params, Deferred]:
    base = names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage)
    kms = ctx.value("kms_key_arn", "") or ""
    processing, evaluation = _section(ctx, "processing"), _section(ctx, "evaluation")
    register, triggers = _section(ctx, "register"), _section(ctx, "triggers")
    processing_type = processing.get("instance_type") or "ml.m5.xlarge"
    evaluation_type = evaluation.get("instance_type") or "ml.m5.xlarge"
    instance_type = ctx.value("instance_type", "ml.m5.xlarge") or "ml.m5.xlarge"
    inference = register.get("inference_instances") or ["ml.m5.xlarge"]
    export_onnx = _flag(register.get("export_onnx"), False)

    hyper_raw = ctx.value("algo_hyperparamaters") or {}
    if isinstance(hyper_raw, str):
        hyper_raw = json.loads(hyper_raw) if hyper_raw.strip() else {}
    hyper = {k: _text(v) for k, v in hyper_raw.items()}
    if export_onnx == "true":
        # The training script saves model.onnx beside the model: the pipeline only asks for it
        # (no conversion step, no onnxruntime check, no separate model package - see the schema).
        hyper["export-onnx"] = "true"
    source_uri = ""
    training = _section(ctx, "training")
    if training.get("entry_point") and training.get("source_dir"):
        hyper, source_uri = _entry_point(ctx, hyper, hyper_raw, training)
    hyper_text = json.dumps(hyper, separators=(",", ":"), sort_keys=True)
    if len(hyper_text) > HYPER_LIMIT:
        ctx.fail(["algo_hyperparamaters"], "too-long", f"{len(hyper_text)} characters as JSON", "pass fewer")

    processing_script, processing_name = _script(ctx, "processing", processing.get("script"))
    evaluation_script, evaluation_name = _script(ctx, "evaluation", evaluation.get("script"))
    try:
        processing_image = images.image_uri(
            PROCESSING_FRAMEWORK,
            processing.get("framework_version") or "1.2-1",
            ctx.region,
            scope="training",
        )
    except images.ImageError as exc:
        ctx.fail(["processing", "framework_version"], "image", exc.message, exc.hint)
        processing_image = ""
    trigger_bucket, trigger_prefix = _trigger_location(ctx, triggers.get("s3_prefix"))

    params: Params = {
        "NamePrefix": base.lower(),
        "ModelPackageGroupName": names.model_package_group(
            ctx.value("model_package_group_name") or f"{ctx.env.stack_prefix}-{ctx.cfg.pipeline_id}",
            ctx.stage,
            ctx.env.after_a_stage_in_its_account(ctx.cfg.stages, ctx.stage),
        ),
        "TrainingDataUri": s3_uri(ctx, "training_data", ctx.value("training_data"), asset=True),
        "JobOutputUri": s3_uri(
            ctx, "job_output_location", ctx.value("job_output_location"), asset=True
        ).rstrip("/"),
        "TestSplit": number(processing.get("test_split", 0.2)),
        "ValidationSplit": number(processing.get("validation_split", 0.1)),
        "ProcessingImageUri": processing_image,
        "ProcessingScriptUri": processing_script,
        "ProcessingScriptName": processing_name,
        "ProcessingInstanceType": processing_type,
        "EvaluationImageUri": _image(ctx, evaluation_type, "training", ["model_framework_version"]),
        "EvaluationScriptUri": evaluation_script,
        "EvaluationScriptName": evaluation_name,
        "EvaluationInstanceType": evaluation_type,
        "MetricName": evaluation.get("metric_name", ""),
        "Comparison": evaluation.get("comparison") or "GreaterThanOrEqualTo",
        "Threshold": repr(float(evaluation.get("threshold", 0))),
        "TrainingImageUri": _image(ctx, instance_type, "training", ["model_framework_version"]),
        "TrainingInstanceType": instance_type,
        "TrainingInstanceCount": number(ctx.value("instance_count", 1)),
        "TrainingVolumeSizeGb": number(ctx.value("instance_volume_size", 30)),
        "Hyperparameters": hyper_text,
        "TrainingSourceUri": source_uri,
        "UseSpotInstances": _flag(ctx.value("use_spot_instances"), False),
        "MaxRuntimeSeconds": number(ctx.value("max_runtime_per_job", 86400)),
        "MaxWaitSeconds": number(ctx.value("max_wait_time_spot_instances", 172800)),
        "InferenceImageUri": _image(ctx, inference[0], "inference", ["model_framework_version"]),
        "ApprovalStatus": register.get("approval_status") or "PendingManualApproval",
        "InferenceInstances": _json_list(ctx, inference, ["register", "inference_instances"]),
        "ContentTypes": _json_list(
            ctx, register.get("content_types") or ["text/csv"], ["register", "content_types"]
        ),
        "ResponseTypes": _json_list(
            ctx, register.get("response_types") or ["text/csv"], ["register", "response_types"]
        ),
        "ExportOnnx": export_onnx,
        "TriggerBucket": trigger_bucket,
        "TriggerKeyPrefix": trigger_prefix,
        "TriggerCheckSchedule": triggers.get("s3_check_schedule") or "rate(1 hour)",
        "TriggerSchedule": triggers.get("schedule") or "",
        "MonitorAlarmNames": monitor_alarm_names(ctx, triggers.get("monitor_violations") or []),
        "KmsKeyArn": kms,
        "VolumeKmsKeyArn": "" if has_local_storage(instance_type) else kms,
    }
    # (spot wait above runtime is validate's rule: config/rules_types.spot_wait)
    return params, {}


BUILDERS = {TEMPLATE: build}
