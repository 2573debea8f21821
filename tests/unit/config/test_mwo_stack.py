"""An MWO stack's parameters read back as the config MWO was given (issue 20): for every MWO
pipeline type's documented config (tests/fixtures/mwo), the parameters MWO's orchestrator passed its
blueprint (written here from its get_template_parameters: field -> parameter, computed values added)
map back to the same fields, and the result migrates and validates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_gitops.config.mwo import MwoInputError
from mlops_gitops.config.mwo_stack import config_from_stack, pipeline_type_of
from tests.conftest import REPO_ROOT, repo_copy, run_cli

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "mwo"
TYPES = sorted(p.stem for p in FIXTURES.glob("*.json"))
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.2-2"
POSTFIX = {
    "byom_realtime_builtin": "BYOMPipelineRealtimeBuiltIn",
    "byom_realtime_custom": "BYOMPipelineRealtimeCustom",
    "byom_batch_builtin": "BYOMPipelineBatchBuiltIn",
    "byom_batch_custom": "BYOMPipelineBatchCustom",
    "byom_data_quality_monitor": "BYOMDataQualityMonitor",
    "byom_model_quality_monitor": "BYOMModelQualityMonitor",
    "byom_model_bias_monitor": "BYOMModelBiasMonitor",
    "byom_model_explainability_monitor": "BYOMModelExplainabilityMonitor",
    "byom_image_builder": "BYOMPipelineImageBuilder",
    "model_training_builtin": "ModelTraining",
    "model_tuner_builtin": "TunerTraining",
    "model_autopilot_training": "AutopilotTraining",
}


def mwo_parameters(c: dict[str, Any]) -> dict[str, str]:
    """What MWO v2.2.3's orchestrator passed the blueprint for config ``c`` (single account)."""
    t = c["pipeline_type"]
    common = {"AssetsBucket": "mwo-assets", "BlueprintBucket": "mwo-blueprints", "KmsKeyArn": ""}
    if t == "byom_image_builder":
        return {
            "NotificationsSNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "AssetsBucket": "mwo-assets",
            "CustomImage": c["custom_algorithm_docker"],
            "ECRRepoName": c["ecr_repo_name"],
            "ImageTag": c["image_tag"],
        }
    if t.startswith(("byom_realtime", "byom_batch")):
        p = {
            **common,
            "ModelName": c["model_name"],
            "ModelArtifactLocation": c.get("model_artifact_location", ""),
            "InferenceInstance": c["inference_instance"],
            "CustomAlgorithmsECRRepoArn": "arn:aws:ecr:us-east-1:123456789012:repository/r",
            "ImageUri": c.get("custom_image_uri") or XGBOOST,
            "ModelPackageGroupName": "",
            "ModelPackageName": "",
        }
        if "realtime" in t:
            return {**p, "DataCaptureLocation": c["data_capture_location"], "EndpointName": ""}
        return {
            **p,
            "BatchInputBucket": c["batch_inference_data"].split("/")[0],
            "BatchInferenceData": c["batch_inference_data"],
            "BatchOutputLocation": c["batch_job_output_location"],
        }
    if t.endswith("_monitor"):
        job = f"{c['endpoint_name']}-x-1a2b"
        p = {
            **common,
            "BaselineJobName": job,
            "BaselineOutputBucket": c["baseline_job_output_location"].split("/")[0],
            "BaselineJobOutputLocation": f"{c['baseline_job_output_location']}/{job}",
            "DataCaptureBucket": c["data_capture_location"].split("/")[0],
            "DataCaptureLocation": c["data_capture_location"],
            "EndpointName": c["endpoint_name"],
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
            "InstanceType": c["instance_type"],
            "InstanceVolumeSize": c["instance_volume_size"],
            "BaselineMaxRuntimeSeconds": c.get("baseline_max_runtime_seconds", ""),
            "MonitorMaxRuntimeSeconds": c["monitor_max_runtime_seconds"],
            "MonitoringOutputLocation": c["monitoring_output_location"],
            "MonitoringScheduleName": f"{c['endpoint_name']}-x-9f8e",
            "ScheduleExpression": c["schedule_expression"],
            "BaselineData": c["baseline_data"],
        }
        if t == "byom_model_quality_monitor":
            for key in (
                "baseline_inference_attribute",
                "baseline_probability_attribute",
                "baseline_ground_truth_attribute",
            ):
                p["".join(w.title() for w in key.split("_"))] = c.get(key, "")
        if t != "byom_data_quality_monitor":
            p["ProblemType"] = c["problem_type"]
            for key in (
                "monitor_inference_attribute",
                "monitor_probability_attribute",
                "probability_threshold_attribute",
            ):
                p["".join(w.title() for w in key.split("_"))] = c.get(key, "")
        if t in ("byom_model_quality_monitor", "byom_model_bias_monitor"):
            p["GroundTruthBucket"] = c["monitor_ground_truth_input"].split("/")[0]
            p["MonitorGroundTruthInput"] = c["monitor_ground_truth_input"]
        if t == "byom_model_bias_monitor":
            label = c.get("model_predicted_label_config")
            p["ModelPredictedLabelConfig"] = json.dumps(label) if label else ""
            p["BiasConfig"] = json.dumps(c["bias_config"])
        if t == "byom_model_explainability_monitor":
            p["SHAPConfig"] = json.dumps(c["shap_config"])
            p["ExplainabilityModelScores"] = json.dumps(c["model_scores"]) if c.get("model_scores") else ""
        if t in ("byom_model_bias_monitor", "byom_model_explainability_monitor"):
            p["FeaturesAttribute"] = c.get("features_attribute", "")
        return p
    job = c.get("job_name", f"{c['model_name']}-{t.split('_')[1]}-1a2b")
    topic = {"NotificationsSNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t", "JobName": job}
    if t == "model_autopilot_training":
        return {
            **common,
            **topic,
            "ProblemType": c.get("problem_type", ""),
            "AutopilotJobObjective": c.get("job_objective", ""),
            "TrainingData": c["training_data"],
            "TargetAttribute": c["target_attribute"],
            "JobOutputLocation": c["job_output_location"],
            "CompressionType": c.get("compression_type", ""),
            "AutopilotMaxCandidates": str(c.get("job_max_candidates", "10")),
            "EncryptInnerTraffic": c.get("encrypt_inner_traffic", "True"),
            "MaxRuntimePerJob": str(c.get("max_runtime_per_job", "86400")),
            "AutopilotTotalRuntime": str(c.get("total_max_runtime", "2592000")),
            "GenerateDefinitionsOnly": c.get("generate_definition_only", "False"),
        }
    framework = f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-{c['model_framework']}:{c['model_framework_version']}"
    p = {
        **common,
        **topic,
        "ImageUri": framework,
        "InstanceType": c.get("instance_type", "ml.m4.xlarge"),
        "JobInstanceCount": str(c.get("instance_count", "1")),
        "InstanceVolumeSize": str(c.get("instance_volume_size", "20")),
        "JobOutputLocation": c["job_output_location"],
        "TrainingData": c["training_data"],
        "ValidationData": c.get("validation_data", ""),
        "EncryptInnerTraffic": c.get("encrypt_inner_traffic", "True"),
        "MaxRuntimePerJob": str(c.get("max_runtime_per_job", "86400")),
        "UseSpotInstances": c.get("use_spot_instances", "True"),
        "MaxWaitTimeForSpotInstances": str(c.get("max_wait_time_spot_instances", "172800")),
        "ContentType": c.get("content_type", "csv"),
        "S3DataType": c.get("s3_data_type", "S3Prefix"),
        "DataDistribution": c.get("data_distribution", "FullyReplicated"),
        "CompressionType": c.get("compression_type", ""),
        "DataInputMode": c.get("data_input_mode", "File"),
        "DataRecordWrapping": c.get("data_record_wrapping", ""),
        "AttributeNames": c.get("attribute_names", ""),
        "AlgoHyperparameteres": json.dumps(c["algo_hyperparamaters"]),
    }
    if t == "model_tuner_builtin":
        p["HyperparametersTunerConfig"] = json.dumps(c["tuner_configs"])
        p["AlgoHyperparameteresRange"] = json.dumps(c["hyperparamaters_ranges"])
    return p


def stack_name(c: dict[str, Any]) -> str:
    infix = c["image_tag"] if c["pipeline_type"] == "byom_image_builder" else c["model_name"].lower().strip()
    return f"mlops-pipeline-{infix}-{POSTFIX[c['pipeline_type']]}".lower()


@pytest.mark.parametrize("ptype", TYPES)
def test_every_mwo_types_stack_maps_back_to_its_config_which_migrates_and_validates(
    ptype: str, tmp_path: Path
) -> None:
    mwo = json.loads((FIXTURES / f"{ptype}.json").read_text())
    back, notes = config_from_stack(stack_name(mwo), mwo_parameters(mwo))
    assert {k: back.get(k) for k in mwo} == mwo, "every field MWO was given is read back"
    assert notes[0].startswith("read back from the parameters of stack")
    repo = repo_copy(tmp_path / "repo", ())
    source = tmp_path / "from-stack.json"
    source.write_text(json.dumps(back))
    result = run_cli("--repo-root", str(repo), "migrate-mwo", str(source))
    assert result.code == 0, result.out + result.err
    assert run_cli("--repo-root", str(repo), "validate").code == 0


def test_a_stackset_instance_is_recognised_by_its_parameters() -> None:
    """Multi-account MWO deployed blueprints as StackSet instances (StackSet-<name>-<id>): no type in the name."""
    mwo = json.loads((FIXTURES / "byom_model_bias_monitor.json").read_text())
    assert pipeline_type_of("StackSet-mlops-x-dev-1234abcd-5678", mwo_parameters(mwo))[0] == ptype_of(mwo)
    back, _ = config_from_stack("StackSet-mlops-x-dev-1234abcd-5678", mwo_parameters(mwo))
    assert back["model_name"] == "stackset-mlops-x-dev-1234abcd-5678", "a model_name is still given"


def ptype_of(c: dict[str, Any]) -> str:
    return c["pipeline_type"]


def test_a_builtin_stack_whose_image_is_not_sagemakers_becomes_custom() -> None:
    mwo = json.loads((FIXTURES / "byom_realtime_builtin.json").read_text())
    params = {**mwo_parameters(mwo), "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/img:1"}
    back, notes = config_from_stack(stack_name(mwo), params)
    assert back["pipeline_type"] == "byom_realtime_custom"
    assert back["custom_image_uri"] == params["ImageUri"] and "model_framework" not in back
    assert any("migrated as byom_realtime_custom" in n for n in notes)


@pytest.mark.parametrize(
    ("name", "parameters", "message"),
    [
        pytest.param("web-app", {"BucketName": "b"}, "not a stack MWO provisioned", id="not-mwo"),
        pytest.param(
            "mlops-pipeline-churn-byompipelinerealtimecustom-codepipeline",
            {"StackName": "mlops-pipeline-churn-byompipelinerealtimecustom"},
            "give the stack it deploys (mlops-pipeline-churn-byompipelinerealtimecustom)",
            id="codepipeline-stack",
        ),
    ],
)
def test_what_is_not_an_mwo_blueprint_stack_is_refused_with_the_reason(name, parameters, message) -> None:
    with pytest.raises(MwoInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_from_stack(name, parameters)
