"""Valid configs: the examples, MWO's forms that must keep validating, and the smallest config of
every pipeline type. Warnings are allowed and never fail validate."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EXAMPLES, TmpRepo, example, run_cli

Config = dict[str, Any]

KMS = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MP_VERSION = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/6"
MP_GROUP_ARN = "arn:aws:sagemaker:us-east-1:111122223333:model-package-group/fraud-scorer"
S3 = "s3://mlops-demo-data/x"

# defects-detector retrains on violations of churn-data-quality, so that pipeline must exist too.
COMPANIONS = {"defects-detector": ("churn-data-quality",)}


def validate(tmp_repo: TmpRepo, configs: dict[str, Config | str]) -> tuple[int, list[dict]]:
    for pipeline_id, config in configs.items():
        tmp_repo.write(pipeline_id, config)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert "Traceback" not in result.err, result.err
    return result.code, result.json["findings"]


def validate_one(tmp_repo: TmpRepo, base: str, config: Config, pipeline_id: str = "p") -> list[dict]:
    """Write ``config`` (and the pipelines its base example refers to); assert it is valid."""
    others = {other: example(other) for other in COMPANIONS.get(base, ())}
    code, findings = validate(tmp_repo, {**others, pipeline_id: config})
    errors = [f for f in findings if f["severity"] == "error"]
    assert errors == [], json.dumps(errors, indent=1)
    assert code == 0
    return findings


# ---------------------------------------------------------------- the examples


def test_there_is_an_example_for_every_pipeline_type() -> None:
    schema = json.loads((EXAMPLES["churn-realtime"].parents[1] / "mlops-config.schema.json").read_text())
    types = set(schema["properties"]["pipeline_type"]["enum"])
    assert {example(p)["pipeline_type"] for p in EXAMPLES} == types


@pytest.mark.parametrize("pipeline_id", sorted(EXAMPLES))
def test_example_is_valid(tmp_repo: TmpRepo, pipeline_id: str) -> None:
    findings = validate_one(tmp_repo, pipeline_id, example(pipeline_id), pipeline_id=pipeline_id)
    assert findings == []


def test_all_examples_together_are_valid(tmp_repo: TmpRepo) -> None:
    # Cross-pipeline checks (endpoint names, references) see every example at once.
    code, findings = validate(tmp_repo, {p: example(p) for p in EXAMPLES})
    assert (code, findings) == (0, [])


# ---------------------------------------------------------------- MWO compatibility


def _mwo_model_quality(config: Config) -> None:
    """A model-quality monitor as MWO wrote it: bucket/prefix locations, assets keys, numbers as text."""
    config.update(
        {
            "endpoint_name": "churn-prod",
            "baseline_data": "churn/baseline/validation-with-predictions.csv",
            "baseline_job_output_location": "mlops-demo-monitoring/churn/model-quality-baseline",
            "data_capture_location": "mlops-demo-capture/churn",
            "monitoring_output_location": "mlops-demo-monitoring/churn/model-quality",
            "monitor_ground_truth_input": "mlops-demo-monitoring/churn/ground-truth",
            "schedule_expression": "cron(0 * ? * * *)",
            "instance_volume_size": "20",
            "baseline_max_runtime_seconds": "",
            "monitor_max_runtime_seconds": "1800",
            "probability_threshold_attribute": "0.5",
            "monitor_probability_attribute": "0",
            "kms_key_arn": "",
        }
    )


def _as_json_strings(*keys: str):
    def mutate(config: Config) -> None:
        for key in keys:
            config[key] = json.dumps(config[key])

    return mutate


def _pinned_everywhere(config: Config) -> None:
    config["model_package_name"] = MP_VERSION
    del config["production_variants"]


def _variants_bring_their_own_models(config: Config) -> None:
    """No top-level model: in every stage, each production variant names its own registry package."""
    del config["model_package_name"]
    config["production_variants"] = {
        stage: [{"name": "a", "model_package_name": MP_VERSION}] for stage in ("dev", "staging", "prod")
    }


def _batch_from_registry(config: Config) -> None:
    config["model_package_name"] = MP_VERSION
    del config["model_artifact_location"]


MWO_CASES = [
    pytest.param(
        "churn-data-quality",
        {
            "instance_volume_size": "20",
            "monitor_max_runtime_seconds": "1800",
            "baseline_max_runtime_seconds": "3600",
        },
        id="numbers-as-strings-monitor",
    ),
    pytest.param(
        "churn-training",
        {
            "instance_volume_size": "20",
            "max_runtime_per_job": "7200",
            "max_wait_time_spot_instances": "14400",
        },
        id="numbers-as-strings-training",
    ),
    pytest.param(
        "churn-autopilot",
        {"job_max_candidates": "20", "total_max_runtime": "14400", "generate_definition_only": "True"},
        id="numbers-and-flags-as-strings-autopilot",
    ),
    pytest.param("fraud-batch", {"instance_count": "2"}, id="instance-count-as-string"),
    pytest.param(
        "churn-realtime",
        {"data_capture_sampling_percentage": {"dev": "100", "staging": "50", "prod": "20"}},
        id="per-stage-numbers-as-strings",
    ),
    pytest.param(
        "churn-training",
        {"use_spot_instances": "True", "encrypt_inner_traffic": "False"},
        id="flags-True-False",
    ),
    pytest.param(
        "churn-training",
        {"use_spot_instances": "False", "max_wait_time_spot_instances": "3600"},
        id="flag-False-turns-off-the-spot-wait-rule",
    ),
    pytest.param("fraud-image", {"scan_on_push": "false"}, id="flag-lower-case-string"),
    pytest.param(
        "churn-realtime",
        {"protect": {"dev": "False", "staging": False, "prod": "True"}},
        id="per-stage-flags",
    ),
    pytest.param(
        "churn-batch",
        {
            "batch_inference_data": "mlops-demo-data/churn/in",
            "batch_job_output_location": "mlops-demo-data/churn/out",
            "model_artifact_location": "models/churn/model.tar.gz",
        },
        id="bucket-prefix-locations",
    ),
    pytest.param(
        "churn-realtime", {"data_capture_location": "mlops-demo-capture"}, id="bucket-only-location"
    ),
    pytest.param("churn-model-quality", _mwo_model_quality, id="mwo-model-quality-monitor"),
    pytest.param(
        "churn-bias",
        _as_json_strings("bias_config", "model_predicted_label_config"),
        id="bias-config-as-json-string",
    ),
    pytest.param("churn-explainability", {}, id="shap-config-as-json-string"),
    pytest.param(
        "churn-explainability",
        {
            "shap_config": json.dumps(
                {"baseline": "s3://mlops-demo-data/shap-baseline.csv", "use_logit": False}
            )
        },
        id="shap-config-with-s3-baseline-as-json-string",
    ),
    pytest.param(
        "churn-training",
        _as_json_strings("algo_hyperparamaters"),
        id="hyperparameters-as-json-string",
    ),
    pytest.param(
        "churn-tuning",
        _as_json_strings("algo_hyperparamaters", "tuner_configs", "hyperparamaters_ranges"),
        id="tuner-fields-as-json-strings",
    ),
    pytest.param(
        "churn-training",
        {"attribute_names": '["source-ref", "class"]'},
        id="attribute-names-as-json-string",
    ),
    pytest.param("fraud-ab", _pinned_everywhere, id="model-package-version-arn-scalar"),
    pytest.param(
        "fraud-ab",
        _variants_bring_their_own_models,
        id="per-stage-variants-each-with-their-own-model-package",
    ),
    pytest.param("churn-batch", _batch_from_registry, id="batch-from-model-package-version"),
    pytest.param(
        "fraud-ab",
        {"model_package_name": {"dev": MP_GROUP_ARN, "staging": MP_VERSION, "prod": MP_VERSION}},
        id="model-package-group-arn-in-dev",
    ),
    pytest.param(
        "churn-batch",
        {
            "inference_instance": {"dev": "ml.m5.large", "staging": "ml.m5.large", "prod": "ml.m5.xlarge"},
            "batch_inference_data": {"dev": "s3://b-dev/in", "staging": "b-stg/in", "prod": "s3://b-prod/in"},
            "batch_job_output_location": {
                "dev": "s3://b-dev/o",
                "staging": "s3://b-stg/o",
                "prod": "b-prod/o",
            },
            "kms_key_arn": {"dev": "", "staging": KMS, "prod": KMS},
            "instance_count": {"dev": "1", "staging": 1, "prod": "2"},
        },
        id="per-stage-batch-fields",
    ),
    pytest.param(
        "churn-realtime",
        {"endpoint_name": {"dev": "churn-dev", "staging": "churn-staging", "prod": "churn"}},
        id="per-stage-endpoint-name",
    ),
    pytest.param(
        "churn-data-quality",
        {
            "instance_type": {"dev": "ml.m5.large", "staging": "ml.m5.large", "prod": "ml.m5.xlarge"},
            "baseline_job_output_location": {
                "dev": "s3://m-dev/b",
                "staging": "s3://m-stg/b",
                "prod": "s3://m-prd/b",
            },
            "monitoring_output_location": {
                "dev": "s3://m-dev/o",
                "staging": "s3://m-stg/o",
                "prod": "m-prd/o",
            },
            "instance_volume_size": {"dev": "20", "staging": 20, "prod": "50"},
            "monitor_max_runtime_seconds": {"dev": 1800, "staging": "1800", "prod": 3600},
        },
        id="per-stage-monitor-fields",
    ),
    pytest.param("churn-realtime", {"kms_key_arn": ""}, id="kms-key-empty"),
    pytest.param("churn-data-quality", {"kms_key_arn": ""}, id="kms-key-empty-monitor"),
    pytest.param("churn-realtime", {"kms_key_arn": KMS}, id="kms-key-in-the-stage-region"),
    pytest.param(
        "churn-training",
        {"kms_key_arn": "arn:aws:kms:us-east-1:111122223333:alias/ml"},
        id="kms-alias",
    ),
    pytest.param(
        "churn-training", {"validation_data": "", "compression_type": ""}, id="empty-optional-strings"
    ),
    pytest.param("churn-autopilot", {"problem_type": "", "job_objective": ""}, id="autopilot-empty-pair"),
    pytest.param("churn-data-quality", {"baseline_max_runtime_seconds": ""}, id="baseline-runtime-empty"),
    pytest.param("fraud-ab", {"instance_count": 4, "rollout": {}}, id="rollout-empty-takes-the-defaults"),
    pytest.param(
        "fraud-ab",
        {
            "instance_count": 10,
            "rollout": {
                "policy": "linear",
                "linear_step": {"type": "INSTANCE_COUNT", "value": 1},
                "wait_seconds": 0,
                "bake_seconds": 3600,
                "max_execution_seconds": 28800,
                "alarms": ["fraud-score-drift", "fraud/p99 latency", "x"],
            },
        },
        id="rollout-linear-every-key-at-its-bounds",
    ),
    pytest.param(
        "fraud-ab",
        {
            "instance_count": 2,
            "rollout": {"policy": "canary", "canary_size": {"type": "INSTANCE_COUNT", "value": 1}},
        },
        id="rollout-canary-of-half-the-fleet",
    ),
    pytest.param(
        "churn-data-quality",
        {"instance_volume_size": 20.0},
        id="integral-float-number",
    ),
]


def _apply(config: Config, mutation: Any) -> Config:
    if callable(mutation):
        mutation(config)
    else:
        config.update(mutation)
    return config


@pytest.mark.parametrize(("base", "mutation"), MWO_CASES)
def test_mwo_form_stays_valid(tmp_repo: TmpRepo, base: str, mutation: Any) -> None:
    validate_one(tmp_repo, base, _apply(example(base), mutation))


# ---------------------------------------------------------------- the smallest config per type

_MONITOR = {
    "model_name": "churn-xgb",
    "endpoint_name": "churn-prod",
    "baseline_data": "s3://mlops-demo-data/baseline.csv",
    "baseline_job_output_location": "s3://mlops-demo-monitoring/baseline",
    "data_capture_location": "s3://mlops-demo-capture/churn",
    "monitoring_output_location": "s3://mlops-demo-monitoring/out",
    "schedule_expression": "cron(0 * ? * * *)",
    "instance_type": "ml.m5.large",
}
_TRAINING = {
    "model_name": "churn-xgb",
    "training_data": "s3://mlops-demo-data/train/",
    "job_output_location": "s3://mlops-demo-models/out",
    "model_framework": "xgboost",
    "model_framework_version": "1.7-1",
    "algo_hyperparamaters": {},
}
_ARTIFACT = "models/m.tar.gz"

# The required keys of each type, plus what MWO's cross-field rules make necessary.
MINIMAL = {
    "byom_realtime_builtin": {
        "model_name": "m",
        "inference_instance": "ml.m5.large",
        "data_capture_location": "mlops-demo-capture/m",
        "model_artifact_location": _ARTIFACT,
        "model_framework": "xgboost",
        "model_framework_version": "1.7-1",
    },
    "byom_realtime_custom": {
        "model_name": "m",
        "inference_instance": "ml.m5.large",
        "data_capture_location": "mlops-demo-capture/m",
        "model_package_name": MP_VERSION,
    },
    "byom_batch_builtin": {
        "model_name": "m",
        "inference_instance": "ml.m5.large",
        "batch_inference_data": S3,
        "batch_job_output_location": S3,
        "model_package_name": MP_VERSION,
    },
    "byom_batch_custom": {
        "model_name": "m",
        "inference_instance": "ml.m5.large",
        "batch_inference_data": S3,
        "batch_job_output_location": S3,
        "model_artifact_location": _ARTIFACT,
        "custom_image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/m:1",
    },
    "byom_data_quality_monitor": dict(_MONITOR),
    "byom_model_quality_monitor": {
        **_MONITOR,
        "problem_type": "BinaryClassification",
        "baseline_inference_attribute": "prediction",
        "baseline_ground_truth_attribute": "label",
        "baseline_probability_attribute": "probability",
        "monitor_ground_truth_input": "mlops-demo-monitoring/gt",
    },
    "byom_model_bias_monitor": {
        **_MONITOR,
        "problem_type": "Regression",
        "monitor_inference_attribute": "0",
        "monitor_ground_truth_input": S3,
        "bias_config": {"label_values_or_threshold": 0.5, "facet_name": "age"},
    },
    "byom_model_explainability_monitor": {
        **_MONITOR,
        "problem_type": "BinaryClassification",
        "shap_config": {"baseline": "s3://mlops-demo-data/shap-baseline.csv"},
    },
    "byom_image_builder": {
        "custom_algorithm_docker": "images/x.zip",
        "ecr_repo_name": "xy",
        "image_tag": "1",
        "stages": ["dev"],  # the repository is built once, in one account
    },
    "model_training_builtin": dict(_TRAINING),
    "model_tuner_builtin": {
        **_TRAINING,
        "tuner_configs": {"objective_metric_name": "validation:auc"},
        "hyperparamaters_ranges": {"eta": ["continuous", [0.1, 0.5]]},
    },
    "model_autopilot_training": {
        "model_name": "m",
        "training_data": S3,
        "job_output_location": S3,
        "target_attribute": "y",
    },
    "model_training_pipeline": {
        **_TRAINING,
        "training": {"entry_point": "train.py", "source_dir": "code/sourcedir.tar.gz"},
        "processing": {"script": "code/preprocess.py"},
        "evaluation": {"script": "s3://bucket/code/evaluate.py", "metric_name": "auc", "threshold": 0.8},
    },
    "data_lake": {},
    "realtime_reporting": {"aggregation": {"group_by": ["event_name"]}},
}


def test_minimal_configs_cover_every_pipeline_type() -> None:
    assert set(MINIMAL) == {example(p)["pipeline_type"] for p in EXAMPLES}


@pytest.mark.parametrize("pipeline_type", sorted(MINIMAL))
def test_minimal_config_is_valid(tmp_repo: TmpRepo, pipeline_type: str) -> None:
    config = {"pipeline_type": pipeline_type, **MINIMAL[pipeline_type]}
    findings = validate_one(tmp_repo, "", config, pipeline_id="minimal")
    assert findings == []


# ---------------------------------------------------------------- warnings do not fail


@pytest.mark.parametrize(
    ("base", "changes", "path", "code"),
    [
        pytest.param("fraud-image", {"model_name": "fraud"}, "$.model_name", "unused-key", id="unused-key"),
        pytest.param(
            "churn-realtime",
            {"schedule_expression": "cron(0 * ? * * *)"},
            "$.schedule_expression",
            "unused-key",
            id="unused-monitor-key-on-endpoint",
        ),
        pytest.param(
            "web-events",
            {"stream_mode": "ON_DEMAND"},
            "$.shard_count",
            "unused-key",
            id="shard-count-on-demand",
        ),
        pytest.param(
            "fraud-batch",
            {"model_package_name": MP_VERSION},
            "$.model_artifact_location",
            "model-source",
            id="artifact-ignored-next-to-model-package",
        ),
        pytest.param(
            "fraud-batch",
            {"custom_image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer"},
            "$.custom_image_uri",
            "image-uri",
            id="image-without-tag",
        ),
        pytest.param(
            "fraud-batch", {"rollout": {"policy": "canary"}}, "$.rollout", "unused-key", id="rollout-on-batch"
        ),
        pytest.param(
            "fraud-ab",
            {
                "instance_count": 2,
                "rollout": {"policy": "canary", "linear_step": {"type": "CAPACITY_PERCENT", "value": 20}},
            },
            "$.rollout.linear_step",
            "rollout-unused",
            id="rollout-step-of-another-policy",
        ),
        pytest.param(
            "fraud-ab",
            {"rollout": {"policy": "linear"}},
            "$.rollout",
            "rollout-small-fleet",
            id="rollout-on-one-instance",
        ),
    ],
)
def test_warning_does_not_fail(tmp_repo: TmpRepo, base: str, changes: Config, path: str, code: str) -> None:
    findings = validate_one(tmp_repo, base, _apply(example(base), changes))
    assert [(f["path"], f["code"], f["severity"]) for f in findings] == [(path, code, "warning")]


def test_warning_exit_code_and_text_output(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("p", _apply(example("fraud-image"), {"model_name": "fraud"}))
    result = run_cli("--repo-root", str(tmp_repo.root), "validate")
    assert result.code == 0
    assert "warning: 'model_name' is not used by pipeline_type 'byom_image_builder'" in result.out
