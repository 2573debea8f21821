"""The model-monitor parameter builder: every stage of the four monitor examples gives parameters the
template accepts, names stay the same across renders, and a baseline input (only that) moves the
baseline to a new revision."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from mlops_gitops import images
from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.params.monitor import MONITORING_TYPES, build
from mlops_gitops.core.render import parameter_problem
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT

REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
TEMPLATE = load_template(REPO_ROOT, "model_monitor.yaml")
EXAMPLES = ("churn-data-quality", "churn-model-quality", "churn-bias", "churn-explainability")


def _config(pipeline_id: str) -> PipelineConfig:
    cfg, findings = VALIDATOR.check_config(
        REPO_ROOT / "pipeline-configs" / pipeline_id / "mlops-config.json", ENV
    )
    assert cfg is not None, [f.text() for f in findings]
    return cfg


CONFIGS = {pid: _config(pid) for pid in EXAMPLES}
CASES = [
    pytest.param(cfg, stage, id=f"{pid}-{stage}") for pid, cfg in CONFIGS.items() for stage in cfg.stages
]


def _build(cfg: PipelineConfig, stage: str) -> dict[str, str]:
    ctx = ParamContext(cfg, stage, ENV, ENV.region_of(stage))
    params, deferred = build(ctx)
    assert [f.text() for f in ctx.findings] == []
    assert deferred == {}
    return params


def _changed(cfg: PipelineConfig, stage: str, **fields: Any) -> PipelineConfig:
    """The config as ``stage`` sees it, with ``fields`` replaced."""
    by_stage = copy.deepcopy(cfg.by_stage)
    by_stage[stage].update(fields)
    return replace(cfg, data={**cfg.data, **fields}, by_stage=by_stage)


def test_the_builder_is_registered_for_the_template() -> None:
    assert builder_for("model_monitor.yaml") is build
    assert set(MONITORING_TYPES) == {cfg.pipeline_type for cfg in CONFIGS.values()}


@pytest.mark.parametrize("cfg, stage", CASES)
def test_parameters_fit_the_template(cfg: PipelineConfig, stage: str) -> None:
    params = _build(cfg, stage)
    declared = TEMPLATE.parameters
    assert set(params) <= set(declared), "the builder passes only declared parameters"
    for name, value in params.items():
        assert isinstance(value, str), name
        assert parameter_problem(declared[name], value) is None, (name, value)
    missing = [n for n, spec in declared.items() if "Default" not in spec and n not in params]
    assert missing == [], "every parameter without a Default is given"
    assert params["MonitoringType"] == MONITORING_TYPES[cfg.pipeline_type]
    assert params["NamePrefix"] == f"{ENV.stack_prefix}-{cfg.pipeline_id}-{stage}"
    assert params["EndpointName"] == cfg.by_stage[stage]["endpoint_name"].lower()


@pytest.mark.parametrize("cfg, stage", CASES)
def test_names_fit_sagemaker(cfg: PipelineConfig, stage: str) -> None:
    params = _build(cfg, stage)
    short = TEMPLATE.body["Mappings"]["Monitor"][params["MonitoringType"]]["Short"]
    for name in (
        f"{params['NamePrefix']}-{short}-{params['JobRevision']}",  # job definition
        f"{params['NamePrefix']}-{short}",  # schedule
        f"{params['NamePrefix']}-{short}-bl123456",  # baseline processing job
    ):
        assert len(name) <= 63, name
    # and so does the longest prefix the template accepts
    assert len("x" * 51 + f"-{short}-" + "0" * 8) == 63


@pytest.mark.parametrize("cfg, stage", CASES)
def test_names_are_stable_across_renders(cfg: PipelineConfig, stage: str) -> None:
    first, second = _build(cfg, stage), _build(copy.deepcopy(cfg), stage)
    assert first == second
    assert first["BaselineRevision"] == second["BaselineRevision"]
    assert first["JobRevision"] == second["JobRevision"]


@pytest.mark.parametrize("pipeline_id", EXAMPLES)
def test_a_baseline_input_gives_a_new_baseline(pipeline_id: str) -> None:
    cfg, stage = CONFIGS[pipeline_id], "dev"
    before = _build(cfg, stage)
    after = _build(_changed(cfg, stage, baseline_data="s3://mlops-demo-data/churn/baseline/v2.csv"), stage)
    assert after["BaselineRevision"] != before["BaselineRevision"]
    assert after["JobRevision"] != before["JobRevision"], "the job definition points at the new baseline"


@pytest.mark.parametrize("pipeline_id", EXAMPLES)
def test_other_changes_keep_the_baseline(pipeline_id: str) -> None:
    cfg, stage = CONFIGS[pipeline_id], "dev"
    before = _build(cfg, stage)
    schedule = _build(_changed(cfg, stage, schedule_expression="cron(0 12 ? * * *)"), stage)
    assert (schedule["BaselineRevision"], schedule["JobRevision"]) == (
        before["BaselineRevision"],
        before["JobRevision"],
    ), "the schedule is updated in place: same baseline, same job definition"
    bigger = _build(_changed(cfg, stage, instance_volume_size=50), stage)
    assert bigger["BaselineRevision"] == before["BaselineRevision"]
    assert bigger["JobRevision"] != before["JobRevision"], "job definitions are create-only: new name"


def test_clarify_inputs_move_the_baseline() -> None:
    cfg = CONFIGS["churn-bias"]
    before = _build(cfg, "dev")
    bias = {**cfg.data["bias_config"], "facet_values_or_threshold": [50]}
    assert (
        _build(_changed(cfg, "dev", bias_config=bias), "dev")["BaselineRevision"]
        != before["BaselineRevision"]
    )
    cfg = CONFIGS["churn-explainability"]
    before = _build(cfg, "dev")
    shap = {**cfg.data["shap_config"], "num_samples": 500}
    assert (
        _build(_changed(cfg, "dev", shap_config=shap), "dev")["BaselineRevision"]
        != before["BaselineRevision"]
    )


def test_stages_get_their_own_names_and_values() -> None:
    cfg = CONFIGS["churn-data-quality"]
    by_stage = {stage: _build(cfg, stage) for stage in cfg.stages}
    assert len({p["NamePrefix"] for p in by_stage.values()}) == len(cfg.stages)
    assert by_stage["dev"]["ScheduleExpression"] == "cron(0 0 ? * * *)"
    assert by_stage["prod"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert by_stage["prod"]["EndpointName"] == "mlops-churn-realtime-prod"


def test_images_follow_the_monitoring_type() -> None:
    analyzer = images.image_uri("model-monitor", "", "us-east-1")
    clarify = images.image_uri("clarify", "1.0", "us-east-1", scope="processing")
    got = {pid: _build(cfg, "dev")["ImageUri"] for pid, cfg in CONFIGS.items()}
    assert got == {
        "churn-data-quality": analyzer,
        "churn-model-quality": analyzer,
        "churn-bias": clarify,
        "churn-explainability": clarify,
    }
    assert analyzer.endswith("/sagemaker-model-monitor-analyzer")
    assert clarify.endswith("/sagemaker-clarify-processing:1.0")


def test_data_quality_leaves_the_other_types_fields_empty() -> None:
    params = _build(CONFIGS["churn-data-quality"], "dev")
    assert params["ProblemType"] == "" and params["GroundTruthUri"] == ""
    assert "AnalysisConfig" not in params  # the template's {} default
    assert params["BaselineMaxRuntimeSeconds"] == "3600" and params["VolumeSizeGb"] == "20"


def test_model_quality_follows_mwo_for_binary_classification() -> None:
    params = _build(CONFIGS["churn-model-quality"], "dev")
    # binary classification with probability and threshold: those, not the inference column
    assert params["BaselineProbabilityAttribute"] == "probability"
    assert params["BaselineInferenceAttribute"] == ""
    assert params["BaselineGroundTruthAttribute"] == "label"
    assert params["ProbabilityAttribute"] == "0" and params["ProbabilityThreshold"] == "0.5"
    assert params["GroundTruthUri"] == "s3://mlops-demo-monitoring/churn/ground-truth"
    assert params["BaselineMaxRuntimeSeconds"] == "86400", "MWO's empty value: SageMaker's 24 h default"
    cfg = _changed(
        CONFIGS["churn-model-quality"], "dev", problem_type="Regression", monitor_inference_attribute=0
    )
    regression = _build(cfg, "dev")
    assert regression["BaselineInferenceAttribute"] == "prediction"
    assert regression["BaselineProbabilityAttribute"] == ""
    assert regression["InferenceAttribute"] == "0"


def test_bias_analysis_config_is_clarifys() -> None:
    params = _build(CONFIGS["churn-bias"], "dev")
    analysis = json.loads(params["AnalysisConfig"])
    groups = {
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "age", "value_or_threshold": [40]}],
    }
    assert analysis["monitor"] == groups
    baseline = analysis["baseline"]
    assert {k: baseline[k] for k in groups} == groups
    assert set(baseline["methods"]) == {"pre_training_bias", "post_training_bias", "report"}
    assert baseline["probability_threshold"] == 0.5
    assert baseline["predictor"]["instance_type"] == "ml.m5.large"
    assert baseline["predictor"]["endpoint_name_prefix"] == "sm-clarify"
    # what only AWS knows is added by the state machine
    assert "headers" not in baseline and "label" not in baseline and "model_name" not in baseline["predictor"]
    # the endpoint input falls back on model_predicted_label_config, as the SageMaker SDK does
    assert params["ProbabilityThreshold"] == "0.5" and params["ProbabilityAttribute"] == "0"
    assert params["FeaturesAttribute"] == "features"
    assert len(params["AnalysisConfig"]) <= TEMPLATE.parameters["AnalysisConfig"]["MaxLength"]


def test_explainability_analysis_config_is_clarifys() -> None:
    params = _build(CONFIGS["churn-explainability"], "dev")
    analysis = json.loads(params["AnalysisConfig"])
    shap = {"baseline": [[0.5, 30, 2, 1]], "num_samples": 100, "agg_method": "mean_abs"}
    assert analysis["baseline"]["methods"]["shap"] == shap
    assert analysis["monitor"]["methods"] == {"shap": shap}
    assert analysis["baseline"]["predictor"]["label"] == 0  # model_scores
    assert "label" not in analysis["monitor"]["predictor"]
    assert params["InferenceAttribute"] == "0", "model_scores locate the explained score"
    assert params["GroundTruthUri"] == "" and params["ShapBaselineUri"] == ""


def test_a_shap_baseline_file_in_the_assets_bucket_is_readable() -> None:
    cfg = CONFIGS["churn-explainability"]
    shap = {**cfg.data["shap_config"], "baseline": "churn/shap-baseline.csv"}
    params = _build(_changed(cfg, "dev", shap_config=shap), "dev")
    uri = f"s3://{ENV.assets_bucket}/churn/shap-baseline.csv"
    assert params["ShapBaselineUri"] == uri
    assert json.loads(params["AnalysisConfig"])["baseline"]["methods"]["shap"]["baseline"] == uri


def test_kms_key_and_local_storage_instances() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    cfg = _changed(CONFIGS["churn-data-quality"], "dev", kms_key_arn=key)
    params = _build(cfg, "dev")
    assert params["KmsKeyArn"] == params["VolumeKmsKeyArn"] == key
    local = _build(_changed(cfg, "dev", instance_type="ml.m5d.large"), "dev")
    assert local["KmsKeyArn"] == key and local["VolumeKmsKeyArn"] == "", "NVMe volumes refuse a key"


def test_a_step_functions_expression_in_a_clarify_config_is_refused() -> None:
    cfg = CONFIGS["churn-bias"]
    bias = {**cfg.data["bias_config"], "facet_name": "{% $states %}"}
    ctx = ParamContext(_changed(cfg, "dev", bias_config=bias), "dev", ENV, "us-east-1")
    build(ctx)
    assert [f.code for f in ctx.findings] == ["value"]
