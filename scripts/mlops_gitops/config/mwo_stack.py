"""An MWO pipeline's config read back from the parameters of a stack MWO provisioned
(`mlopsctl migrate-mwo STACK`). Pure: the caller describes the stack.

MWO (aws-solutions/mlops-workload-orchestrator, v2.2.3) named a pipeline's blueprint stack
``mlops-pipeline-<model_name, image_tag for image builders>-<type postfix>`` (lower-case) and
passed each config field as one blueprint parameter (its orchestrator Lambda's
``get_template_parameters``). The facts below are that mapping, read backwards: parameters the
orchestrator computed (bucket names split off a location, random job names, monitor image URIs,
its own buckets and topics) have no field and are dropped."""

from __future__ import annotations

import json
import re
from typing import Any

from mlops_gitops.config.mwo import MwoInputError

STACK_PREFIX = "mlops-pipeline-"
# get_stack_name's postfix per pipeline_type, lower-cased as MWO lower-cased the whole name.
POSTFIX = {
    "byompipelinerealtimebuiltin": "byom_realtime_builtin",
    "byompipelinerealtimecustom": "byom_realtime_custom",
    "byompipelinebatchbuiltin": "byom_batch_builtin",
    "byompipelinebatchcustom": "byom_batch_custom",
    "byomdataqualitymonitor": "byom_data_quality_monitor",
    "byommodelqualitymonitor": "byom_model_quality_monitor",
    "byommodelbiasmonitor": "byom_model_bias_monitor",
    "byommodelexplainabilitymonitor": "byom_model_explainability_monitor",
    "byompipelineimagebuilder": "byom_image_builder",
    "modeltraining": "model_training_builtin",
    "tunertraining": "model_tuner_builtin",
    "autopilottraining": "model_autopilot_training",
}

_MODEL = {
    "ModelName": "model_name",
    "ModelArtifactLocation": "model_artifact_location",
    "InferenceInstance": "inference_instance",
    "ModelPackageName": "model_package_name",
    "KmsKeyArn": "kms_key_arn",
}
_MONITOR = {
    "EndpointName": "endpoint_name",
    "BaselineData": "baseline_data",
    "DataCaptureLocation": "data_capture_location",
    "MonitoringOutputLocation": "monitoring_output_location",
    "ScheduleExpression": "schedule_expression",
    "InstanceType": "instance_type",
    "InstanceVolumeSize": "instance_volume_size",
    "BaselineMaxRuntimeSeconds": "baseline_max_runtime_seconds",
    "MonitorMaxRuntimeSeconds": "monitor_max_runtime_seconds",
    "KmsKeyArn": "kms_key_arn",
}
_MODEL_MONITOR = {
    "ProblemType": "problem_type",
    "MonitorInferenceAttribute": "monitor_inference_attribute",
    "MonitorProbabilityAttribute": "monitor_probability_attribute",
    "ProbabilityThresholdAttribute": "probability_threshold_attribute",
}
_TRAINING = {
    "JobName": "job_name",
    "InstanceType": "instance_type",
    "JobInstanceCount": "instance_count",
    "InstanceVolumeSize": "instance_volume_size",
    "JobOutputLocation": "job_output_location",
    "TrainingData": "training_data",
    "ValidationData": "validation_data",
    "EncryptInnerTraffic": "encrypt_inner_traffic",
    "MaxRuntimePerJob": "max_runtime_per_job",
    "UseSpotInstances": "use_spot_instances",
    "MaxWaitTimeForSpotInstances": "max_wait_time_spot_instances",
    "ContentType": "content_type",
    "S3DataType": "s3_data_type",
    "DataDistribution": "data_distribution",
    "CompressionType": "compression_type",
    "DataInputMode": "data_input_mode",
    "DataRecordWrapping": "data_record_wrapping",
    "AttributeNames": "attribute_names",
    "KmsKeyArn": "kms_key_arn",
}
# Blueprint parameter -> config field, per pipeline type (string values as MWO passed them).
FIELDS: dict[str, dict[str, str]] = {
    "byom_realtime": {
        **_MODEL,
        "DataCaptureLocation": "data_capture_location",
        "EndpointName": "endpoint_name",
    },
    "byom_batch": {
        **_MODEL,
        "BatchInferenceData": "batch_inference_data",
        "BatchOutputLocation": "batch_job_output_location",
    },
    "byom_data_quality_monitor": _MONITOR,
    "byom_model_quality_monitor": {
        **_MONITOR,
        **_MODEL_MONITOR,
        "BaselineInferenceAttribute": "baseline_inference_attribute",
        "BaselineProbabilityAttribute": "baseline_probability_attribute",
        "BaselineGroundTruthAttribute": "baseline_ground_truth_attribute",
        "MonitorGroundTruthInput": "monitor_ground_truth_input",
    },
    "byom_model_bias_monitor": {
        **_MONITOR,
        **_MODEL_MONITOR,
        "MonitorGroundTruthInput": "monitor_ground_truth_input",
        "FeaturesAttribute": "features_attribute",
    },
    "byom_model_explainability_monitor": {
        **_MONITOR,
        **_MODEL_MONITOR,
        "FeaturesAttribute": "features_attribute",
    },
    "byom_image_builder": {
        "CustomImage": "custom_algorithm_docker",
        "ECRRepoName": "ecr_repo_name",
        "ImageTag": "image_tag",
    },
    "model_training_builtin": _TRAINING,
    "model_tuner_builtin": _TRAINING,
    "model_autopilot_training": {
        "JobName": "job_name",
        "ProblemType": "problem_type",
        "AutopilotJobObjective": "job_objective",
        "TrainingData": "training_data",
        "TargetAttribute": "target_attribute",
        "JobOutputLocation": "job_output_location",
        "CompressionType": "compression_type",
        "AutopilotMaxCandidates": "job_max_candidates",
        "EncryptInnerTraffic": "encrypt_inner_traffic",
        "MaxRuntimePerJob": "max_runtime_per_job",
        "AutopilotTotalRuntime": "total_max_runtime",
        "GenerateDefinitionsOnly": "generate_definition_only",
        "KmsKeyArn": "kms_key_arn",
    },
}
# Parameters holding a JSON document MWO serialised from an object field.
JSON_FIELDS = {
    "BiasConfig": "bias_config",
    "ModelPredictedLabelConfig": "model_predicted_label_config",
    "SHAPConfig": "shap_config",
    "ExplainabilityModelScores": "model_scores",
    "AlgoHyperparameteres": "algo_hyperparamaters",
    "HyperparametersTunerConfig": "tuner_configs",
    "AlgoHyperparameteresRange": "hyperparamaters_ranges",
}
# A parameter only one blueprint has, for stacks not named by MWO (a multi-account StackSet's
# instances): checked in this order.
_SIGNATURES = (
    ("ECRRepoName", "byom_image_builder"),
    ("BiasConfig", "byom_model_bias_monitor"),
    ("SHAPConfig", "byom_model_explainability_monitor"),
    ("BaselineGroundTruthAttribute", "byom_model_quality_monitor"),
    ("MonitoringScheduleName", "byom_data_quality_monitor"),
    ("DataCaptureLocation", "byom_realtime_custom"),
    ("BatchInferenceData", "byom_batch_custom"),
    ("AutopilotJobObjective", "model_autopilot_training"),
    ("HyperparametersTunerConfig", "model_tuner_builtin"),
    ("AlgoHyperparameteres", "model_training_builtin"),
)
# A SageMaker built-in algorithm image: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>:<tag>
_BUILTIN_IMAGE = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?:sagemaker-)?([a-z0-9-]+):(.+)$"
)


def pipeline_type_of(stack_name: str, parameters: dict[str, str]) -> tuple[str, str | None]:
    """(pipeline_type, the name's infix: model_name or image_tag, None when MWO did not name it)."""
    name = stack_name.lower()
    if name.startswith(STACK_PREFIX):
        infix, _, postfix = name[len(STACK_PREFIX) :].rpartition("-")
        if postfix in POSTFIX and infix:
            return POSTFIX[postfix], infix
        if postfix == "codepipeline":
            raise MwoInputError(
                "this is the CodePipeline stack MWO made to deploy a pipeline; give the stack it deploys "
                f"({parameters.get('StackName') or 'its StackName parameter'})"
            )
    for parameter, ptype in _SIGNATURES:
        if parameter in parameters:
            return ptype, None
    raise MwoInputError(
        "not a stack MWO provisioned: its name is not mlops-pipeline-<name>-<type> and its parameters "
        "are none of MWO's blueprints'"
    )


def config_from_stack(stack_name: str, parameters: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(MWO config, notes on what was read back and how) for the stack ``stack_name``."""
    ptype, infix = pipeline_type_of(stack_name, parameters)
    notes = [f"read back from the parameters of stack {stack_name!r} (one stage's values)"]
    family = ptype.rsplit("_", 1)[0] if ptype.startswith(("byom_realtime", "byom_batch")) else ptype
    config: dict[str, Any] = {"pipeline_type": ptype}
    if ptype != "byom_image_builder" and infix:
        config["model_name"] = infix  # monitors and training have no ModelName parameter
    for parameter, name in FIELDS[family].items():
        value = parameters.get(parameter, "")
        if value != "":
            config[name] = value
    for parameter, name in JSON_FIELDS.items():
        value = parameters.get(parameter, "")
        if value != "":
            try:
                config[name] = json.loads(value)
            except ValueError as exc:
                raise MwoInputError(f"parameter {parameter} is not the JSON MWO wrote ({exc})") from exc
    job = parameters.get("BaselineJobName", "")
    location = parameters.get("BaselineJobOutputLocation", "")
    if location:  # MWO appended the (random) baseline job name to the configured location
        config["baseline_job_output_location"] = location.removesuffix(f"/{job}") if job else location
    _image(config, ptype, parameters.get("ImageUri", ""), notes)
    if "model_name" not in config and ptype != "byom_image_builder":
        config["model_name"] = re.sub(r"[^a-z0-9-]+", "-", stack_name.lower()).strip("-")
    return config, notes


def _image(config: dict[str, Any], ptype: str, image: str, notes: list[str]) -> None:
    """MWO turned model_framework + model_framework_version (built-in types) or custom_image_uri
    into ImageUri (empty with the model registry); turn it back."""
    if not image or ptype.endswith("_monitor") or ptype in ("byom_image_builder", "model_autopilot_training"):
        return  # monitors' images are MWO's choice, not a field
    if ptype.endswith("_custom"):
        config["custom_image_uri"] = image
        return
    match = _BUILTIN_IMAGE.match(image)
    if match:
        config["model_framework"], config["model_framework_version"] = match.group(1), match.group(2)
        notes.append(
            f"model_framework {match.group(1)!r} and model_framework_version {match.group(2)!r} read from "
            f"the image URI {image}: check them"
        )
    elif ptype.startswith(("byom_realtime", "byom_batch")):
        config["pipeline_type"] = ptype.replace("_builtin", "_custom")
        config["custom_image_uri"] = image
        notes.append(
            f"the image {image} is not a SageMaker built-in one: migrated as {config['pipeline_type']}"
        )
    else:
        raise MwoInputError(f"ImageUri {image!r} is not a SageMaker built-in algorithm image")
