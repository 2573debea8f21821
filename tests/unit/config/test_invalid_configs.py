"""Invalid configs: every row mutates a fresh copy of an example config and names the exact set of
(path, code) error findings `mlopsctl validate` must report for it - no more, no fewer.

A row is ``case(case_id, base_example_id, mutation, expected[, hint_contains][, message_contains=...,
absent=...])``:

* ``mutation`` is a dict patch applied to the top level (``DEL`` removes a key), a function that
  changes the config in place (or returns a replacement), or ``Setup(mutation, pipeline_id=...,
  others={...})`` when the folder name matters or other pipelines must sit beside it;
* ``expected`` is the set of ``(path, code)`` of the error-severity findings (warnings are ignored);
* ``hint_contains``, when given, must appear in the hint of one of the error findings;
* ``message_contains``, when given, must appear in the message of one of the error findings;
* ``absent``, when given, must appear nowhere in validate's output - not in any finding's message,
  hint or path, nor anywhere else in the JSON (a secret must never be echoed back).

Every mistake gives one finding: no two error findings may share the same (path, code).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import TmpRepo, example, run_cli

Config = dict[str, Any]
Mutation = Callable[[Config], Config | None] | Config

DEL = object()  # in a dict patch or set(): remove the key

KMS = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_WEST = KMS.replace("us-east-1", "us-west-2")
MP_V6 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/6"
MP_GROUP_ARN = "arn:aws:sagemaker:us-east-1:111122223333:model-package-group/fraud-scorer"
ACCESS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example key id, split so scanners stay quiet
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA"

# defects-detector retrains on violations of churn-data-quality, so that pipeline must exist too.
COMPANIONS = {"defects-detector": ("churn-data-quality",)}


@dataclass(frozen=True)
class Setup:
    """Where the mutated config is written, and which other pipelines sit beside it."""

    mutation: Mutation = field(default_factory=dict)
    pipeline_id: str = "p"
    others: dict[str, Config | str] = field(default_factory=dict)


# ---------------------------------------------------------------- mutation helpers


def set_(*path_and_value: Any) -> Callable[[Config], None]:
    """Set (or with DEL remove) the value at a nested path: set_("evaluation", "threshold", 1)."""
    *path, value = path_and_value

    def mutate(config: Config) -> None:
        node: Any = config
        for part in path[:-1]:
            node = node[part]
        if value is DEL:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


def drop(*keys: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        for key in keys:
            del config[key]

    return mutate


def rename(old: str, new: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        config[new] = config.pop(old)

    return mutate


def rename_in(parent: str, old: str, new: str) -> Callable[[Config], None]:
    def mutate(config: Config) -> None:
        config[parent][new] = config[parent].pop(old)

    return mutate


def chain(*mutations: Mutation) -> Callable[[Config], Config]:
    def mutate(config: Config) -> Config:
        for mutation in mutations:
            config = apply(config, mutation)
        return config

    return mutate


def apply(config: Config, mutation: Mutation) -> Config:
    if callable(mutation):
        result = mutation(config)
        return config if result is None else result
    for key, value in mutation.items():
        if value is DEL:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def with_(base: str, **changes: Any) -> Config:
    """An example config with some top-level changes - for the pipelines beside the one under test."""
    return apply(example(base), changes)


def case(
    case_id: str,
    base: str,
    mutation: Mutation | Setup,
    expected: set[tuple[str, str]],
    hint_contains: str | None = None,
    *,
    message_contains: str | None = None,
    absent: str | None = None,
) -> Any:
    return pytest.param(base, mutation, expected, hint_contains, message_contains, absent, id=case_id)


# ---------------------------------------------------------------- the table

CASES = [
    # ---- unknown keys, with did-you-mean
    case(
        "unknown-key-typo-renamed",
        "churn-realtime",
        rename("model_framework", "model_framwork"),
        {("$.model_framwork", "unknown-key"), ("$", "model-source")},
        "did you mean 'model_framework'?",
    ),
    case(
        "unknown-key-typo-added",
        "churn-batch",
        {"model_framwork": "xgboost"},
        {("$.model_framwork", "unknown-key")},
        "did you mean 'model_framework'?",
    ),
    case(
        "unknown-key-typo-on-custom-type",
        "fraud-ab",
        {"model_framwork": "xgboost"},
        {("$.model_framwork", "unknown-key")},
        "did you mean 'model_framework'?",
    ),
    case(
        "unknown-key-short-name",
        "churn-realtime",
        rename("model_framework", "framework"),
        {("$.framework", "unknown-key"), ("$", "model-source")},
        "did you mean 'model_framework'?",
    ),
    case(
        "unknown-key-english-spelling-of-mwo-field",
        "churn-training",
        rename("algo_hyperparamaters", "algo_hyperparameters"),
        {("$.algo_hyperparameters", "unknown-key"), ("$.algo_hyperparamaters", "required")},
        "did you mean 'algo_hyperparamaters'?",
    ),
    case(
        "unknown-key-wrong-case",
        "churn-realtime",
        rename("model_name", "Model_Name"),
        {("$.Model_Name", "unknown-key"), ("$.model_name", "required")},
        "did you mean 'model_name'?",
    ),
    case(
        "unknown-key-in-per-stage-autoscaling",
        "churn-realtime",
        set_("autoscaling", "prod", "max_capcity", 3),
        {("$.autoscaling.prod.max_capcity", "unknown-key")},
        "did you mean 'max_capacity'?",
    ),
    case(
        "unknown-key-in-evaluation",
        "defects-detector",
        rename_in("evaluation", "threshold", "treshold"),
        {("$.evaluation.treshold", "unknown-key"), ("$.evaluation.threshold", "required")},
        "did you mean 'threshold'?",
    ),
    case(
        "unknown-key-nothing-close",
        "fraud-image",
        {"foo": 1},
        {("$.foo", "unknown-key")},
        "remove it",
    ),
    case(
        "unknown-key-in-bias-config",
        "churn-bias",
        set_("bias_config", "facet", "age"),
        {("$.bias_config.facet", "unknown-key")},
        "did you mean 'facet_name'?",
    ),
    case(
        "unknown-key-in-production-variant",
        "fraud-ab",
        set_("production_variants", "prod", 0, "wieght", 1),
        {("$.production_variants.prod[0].wieght", "unknown-key")},
        "did you mean 'weight'?",
    ),
    case(
        "unknown-key-in-mwo-json-string",
        "churn-tuning",
        {"tuner_configs": '{"objective_metric_name": "validation:auc", "max_job": 3}'},
        {("$.tuner_configs.max_job", "unknown-key")},
        "did you mean 'max_jobs'?",
    ),
    case(
        "unknown-key-password-in-dms",
        "customer-lake",
        set_("dms_replication", "password", "hunter2"),
        {("$.dms_replication.password", "unknown-key"), ("$.dms_replication.password", "secret")},
        absent="hunter2",
    ),
    # ---- required fields, at least one per pipeline type
    case("required-pipeline-type", "fraud-image", drop("pipeline_type"), {("$.pipeline_type", "required")}),
    case(
        "required-realtime-builtin",
        "churn-realtime",
        drop("data_capture_location"),
        {("$.data_capture_location", "required")},
        'e.g. "s3://my-capture/churn"',
    ),
    case(
        "required-realtime-custom",
        "fraud-ab",
        drop("inference_instance"),
        {("$.inference_instance", "required")},
    ),
    case(
        "required-realtime-renamed-field",
        "churn-realtime",
        rename("inference_instance", "inference_instance_type"),
        {("$.inference_instance_type", "unknown-key"), ("$.inference_instance", "required")},
        "did you mean 'inference_instance'?",
    ),
    case(
        "required-batch-builtin",
        "churn-batch",
        drop("batch_job_output_location"),
        {("$.batch_job_output_location", "required")},
    ),
    case(
        "required-batch-custom",
        "fraud-batch",
        drop("batch_inference_data"),
        {("$.batch_inference_data", "required")},
    ),
    case(
        "required-data-quality-monitor",
        "churn-data-quality",
        drop("schedule_expression"),
        {("$.schedule_expression", "required")},
    ),
    case(
        "required-data-quality-monitor-two-at-once",
        "churn-data-quality",
        drop("baseline_data", "instance_type"),
        {("$.baseline_data", "required"), ("$.instance_type", "required")},
    ),
    case(
        "required-model-quality-monitor",
        "churn-model-quality",
        drop("monitor_ground_truth_input"),
        {("$.monitor_ground_truth_input", "required")},
    ),
    case("required-bias-monitor", "churn-bias", drop("bias_config"), {("$.bias_config", "required")}),
    case(
        "required-explainability-monitor",
        "churn-explainability",
        drop("shap_config"),
        {("$.shap_config", "required")},
    ),
    case("required-image-builder", "fraud-image", drop("ecr_repo_name"), {("$.ecr_repo_name", "required")}),
    case(
        "required-training-builtin",
        "churn-training",
        drop("algo_hyperparamaters"),
        {("$.algo_hyperparamaters", "required")},
    ),
    case("required-tuner", "churn-tuning", drop("tuner_configs"), {("$.tuner_configs", "required")}),
    case(
        "required-autopilot",
        "churn-autopilot",
        drop("target_attribute"),
        {("$.target_attribute", "required")},
    ),
    case(
        "required-training-pipeline",
        "defects-detector",
        drop("evaluation"),
        {("$.evaluation", "required")},
    ),
    case(
        "required-data-lake-dms-secret",
        "customer-lake",
        set_("dms_replication", "secret_arn", DEL),
        {("$.dms_replication.secret_arn", "required")},
        "username and password",
    ),
    case("required-realtime-reporting", "web-events", drop("aggregation"), {("$.aggregation", "required")}),
    case(
        "required-autoscaling-max-capacity",
        "churn-realtime",
        set_("autoscaling", "dev", {"min_capacity": 1}),
        {("$.autoscaling.dev.max_capacity", "required")},
    ),
    case(
        "required-variant-name",
        "fraud-ab",
        set_("production_variants", "prod", 0, {"weight": 1}),
        {("$.production_variants.prod[0].name", "required")},
    ),
    case(
        "required-problem-type-empty-model-quality",
        "churn-model-quality",
        {"problem_type": ""},
        {("$.problem_type", "required")},
    ),
    case(
        "required-problem-type-empty-bias",
        "churn-bias",
        {"problem_type": ""},
        {("$.problem_type", "required")},
    ),
    case(
        "required-problem-type-empty-explainability",
        "churn-explainability",
        {"problem_type": ""},
        {("$.problem_type", "required")},
    ),
    case(
        "required-in-mwo-json-bias-config",
        "churn-bias",
        {"bias_config": '{"label_values_or_threshold": [1]}'},
        {("$.bias_config.facet_name", "required")},
    ),
    case(
        "required-in-mwo-json-shap-config",
        "churn-explainability",
        {"shap_config": '{"num_samples": 100}'},
        {("$.shap_config.baseline", "required")},
    ),
    case(
        "required-tuner-metric-regex",
        "churn-tuning",
        set_("tuner_configs", "metric_definitions", [{"Name": "auc"}]),
        {("$.tuner_configs.metric_definitions[0].Regex", "required")},
    ),
    # ---- wrong types
    case(
        "type-mwo-number-not-a-number",
        "churn-data-quality",
        {"instance_volume_size": "twenty"},
        {("$.instance_volume_size", "type")},
    ),
    case(
        "type-string-where-integer",
        "web-events",
        {"lambda_memory_mb": "512"},
        {("$.lambda_memory_mb", "type")},
    ),
    case(
        "type-string-where-number",
        "defects-detector",
        set_("evaluation", "threshold", "0.7"),
        {("$.evaluation.threshold", "type")},
    ),
    case(
        "type-string-weight",
        "fraud-ab",
        set_("production_variants", "prod", 0, "weight", "0.9"),
        {("$.production_variants.prod[0].weight", "type")},
    ),
    case(
        "type-pipeline-type-number",
        "fraud-image",
        {"pipeline_type": 5},
        {("$.pipeline_type", "type")},
    ),
    case(
        "type-null-quoted-as-json",
        "churn-data-quality",
        {"instance_volume_size": None},
        {("$.instance_volume_size", "type")},
        message_contains="the value is null",
    ),
    case(
        "type-object-quoted-as-json",
        "churn-realtime",
        {"owner": {"name": "bob"}},
        {("$.owner", "type")},
        message_contains='{"name": "bob"} is an object',
    ),
    case(
        "type-probability-threshold-text",
        "churn-model-quality",
        {"probability_threshold_attribute": "half"},
        {("$.probability_threshold_attribute", "type")},
        "at most 1",
    ),
    case("type-object-where-string", "churn-realtime", {"model_name": {"a": 1}}, {("$.model_name", "type")}),
    case("type-list-where-object", "web-events", {"aggregation": ["app_id"]}, {("$.aggregation", "type")}),
    case(
        "type-list-where-object-feature-group",
        "customer-lake",
        {"feature_group": []},
        {("$.feature_group", "type")},
    ),
    case(
        "type-list-where-stageable-object",
        "churn-realtime",
        {"autoscaling": [1, 2]},
        {("$.autoscaling", "type")},
    ),
    case(
        "type-string-where-array",
        "fraud-ab",
        {"notify": "risk-ml@example.com"},
        {("$.notify", "type")},
    ),
    case("type-stages-string", "churn-training", {"stages": "dev"}, {("$.stages", "type")}),
    case(
        "type-tag-value-number",
        "churn-realtime",
        {"tags": {"cost-center": 5}},
        {("$.tags.cost-center", "type")},
    ),
    case(
        "type-number-where-instance-type",
        "churn-batch",
        {"inference_instance": 5},
        {("$.inference_instance", "type")},
    ),
    case(
        "type-float-instance-count", "churn-realtime", {"instance_count": 1.5}, {("$.instance_count", "type")}
    ),
    case(
        "type-bool-instance-count", "churn-realtime", {"instance_count": True}, {("$.instance_count", "type")}
    ),
    case(
        "type-mwo-float-string-for-integer",
        "churn-training",
        {"max_runtime_per_job": "7200.5"},
        {("$.max_runtime_per_job", "type")},
    ),
    case(
        "type-number-where-version-string",
        "churn-realtime",
        {"model_framework_version": 1.7},
        {("$.model_framework_version", "type")},
        'put it in quotes: "1.7"',
    ),
    case(
        "type-hyperparameters-list",
        "churn-training",
        {"algo_hyperparamaters": [1, 2]},
        {("$.algo_hyperparamaters", "type")},
    ),
    case(
        "type-hyperparameters-json-list-string",
        "churn-training",
        {"algo_hyperparamaters": "[1, 2]"},
        {("$.algo_hyperparamaters", "type")},
    ),
    case(
        "type-hyperparameter-value-object",
        "churn-training",
        set_("algo_hyperparamaters", "x", {"a": 1}),
        {("$.algo_hyperparamaters.x", "type")},
    ),
    case(
        "type-model-scores-float", "churn-explainability", {"model_scores": 0.5}, {("$.model_scores", "type")}
    ),
    case(
        "type-per-stage-value",
        "churn-realtime",
        set_("data_capture_location", {"dev": 1, "staging": "s3://b-x/y", "prod": "s3://b-x/y"}),
        {("$.data_capture_location.dev", "type")},
    ),
    case("type-schema-number", "fraud-image", {"$schema": 1}, {("$.$schema", "type")}),
    # ---- enums, with did-you-mean
    case(
        "enum-pipeline-type",
        "churn-realtime",
        {"pipeline_type": "byom_realtime_builtn"},
        {("$.pipeline_type", "enum")},
        "did you mean 'byom_realtime_builtin'?",
    ),
    case(
        "enum-botocore-split-type",
        "churn-batch",
        {"batch_split_type": "line"},
        {("$.batch_split_type", "enum")},
        "did you mean 'Line'?",
    ),
    case(
        "enum-comparison",
        "defects-detector",
        set_("evaluation", "comparison", "GreaterOrEqual"),
        {("$.evaluation.comparison", "enum")},
        "did you mean 'GreaterThanOrEqualTo'?",
    ),
    case(
        "enum-event-format",
        "web-events",
        {"event_format": "csv"},
        {("$.event_format", "enum")},
        "'snowplow_enriched_tsv'",
    ),
    case(
        "enum-problem-type",
        "churn-model-quality",
        {"problem_type": "Regresion"},
        {("$.problem_type", "enum")},
        "did you mean 'Regression'?",
    ),
    case(
        "enum-ecr-tag-mutability",
        "fraud-image",
        {"image_tag_mutability": "immutable"},
        {("$.image_tag_mutability", "enum")},
        "did you mean 'IMMUTABLE'?",
    ),
    case(
        "enum-dms-engine",
        "customer-lake",
        set_("dms_replication", "engine", "postgresql"),
        {("$.dms_replication.engine", "enum")},
        "did you mean 'postgres'?",
    ),
    case(
        "enum-dms-migration-type",
        "customer-lake",
        set_("dms_replication", "migration_type", "cdc-only"),
        {("$.dms_replication.migration_type", "enum")},
    ),
    case(
        "enum-kinesis-stream-mode",
        "web-events",
        {"stream_mode": "ONDEMAND"},
        {("$.stream_mode", "enum")},
        "did you mean 'ON_DEMAND'?",
    ),
    case(
        "enum-const-approval-status",
        "defects-detector",
        set_("register", "approval_status", "Approved"),
        {("$.register.approval_status", "enum")},
        "PendingManualApproval",
    ),
    case(
        "enum-feature-type",
        "customer-lake",
        set_("feature_group", "features", 0, "type", "string"),
        {("$.feature_group.features[0].type", "enum")},
        "did you mean 'String'?",
    ),
    case(
        "enum-autopilot-objective",
        "churn-autopilot",
        {"job_objective": "f1"},
        {("$.job_objective", "enum")},
        "did you mean 'F1'?",
    ),
    case(
        "enum-hyperparameter-range-kind",
        "churn-tuning",
        set_("hyperparamaters_ranges", "eta", 0, "continous"),
        {("$.hyperparamaters_ranges.eta[0]", "enum")},
        "did you mean 'continuous'?",
    ),
    case(
        "enum-hyperparameter-scaling",
        "churn-tuning",
        set_("hyperparamaters_ranges", "eta", ["continuous", [0.1, 0.5], "Log"]),
        {("$.hyperparamaters_ranges.eta[2]", "enum")},
    ),
    case(
        "enum-tuner-strategy",
        "churn-tuning",
        set_("tuner_configs", "strategy", "bayesian"),
        {("$.tuner_configs.strategy", "enum")},
        "did you mean 'Bayesian'?",
    ),
    case(
        "enum-compression-type",
        "churn-training",
        {"compression_type": "gzip"},
        {("$.compression_type", "enum")},
        "did you mean 'Gzip'?",
    ),
    case(
        "enum-shap-agg-method",
        "churn-explainability",
        {"shap_config": {"baseline": [[1]], "agg_method": "mean"}},
        {("$.shap_config.agg_method", "enum")},
    ),
    # ---- instance types from botocore
    case(
        "instance-type-hosting-typo",
        "fraud-ab",
        {"inference_instance": "ml.m5.hugeee"},
        {("$.inference_instance", "instance-type")},
        "did you mean 'ml.m5.large'?",
    ),
    case(
        "instance-type-transform-typo",
        "churn-batch",
        {"inference_instance": "ml.m5.hugeee"},
        {("$.inference_instance", "instance-type")},
        "did you mean 'ml.m5.large'?",
    ),
    case(
        "instance-type-per-stage",
        "churn-realtime",
        set_("inference_instance", "prod", "ml.m5.xlarg"),
        {("$.inference_instance.prod", "instance-type")},
        "did you mean 'ml.m5.xlarge'?",
    ),
    case(
        "instance-type-hosting-only-type-in-batch",
        "churn-batch",
        {"inference_instance": "ml.t2.medium"},
        {("$.inference_instance", "instance-type")},
    ),
    case(
        "instance-type-without-ml-prefix",
        "churn-data-quality",
        {"instance_type": "m5.large"},
        {("$.instance_type", "instance-type")},
        "'ml.m5.large'",
    ),
    case(
        "instance-type-training-no-t2",
        "churn-training",
        {"instance_type": "ml.t2.medium"},
        {("$.instance_type", "instance-type")},
    ),
    case(
        "instance-type-processing-step",
        "defects-detector",
        set_("processing", "instance_type", "ml.m5.xlargee"),
        {("$.processing.instance_type", "instance-type")},
        "did you mean 'ml.m5.xlarge'?",
    ),
    case(
        "instance-type-register-list",
        "defects-detector",
        set_("register", "inference_instances", 1, "ml.foo"),
        {("$.register.inference_instances[1]", "instance-type")},
    ),
    case(
        "instance-type-production-variant",
        "fraud-ab",
        set_("production_variants", "prod", 0, "inference_instance", "ml.c5.xlarg"),
        {("$.production_variants.prod[0].inference_instance", "instance-type")},
        "did you mean 'ml.c5.xlarge'?",
    ),
    # ---- per-stage values and stages
    case(
        "stage-map-missing-a-stage",
        "churn-realtime",
        set_("inference_instance", "prod", DEL),
        {("$.inference_instance", "stage-coverage")},
    ),
    case(
        "stage-map-unknown-stage",
        "churn-realtime",
        set_("instance_count", "qa", 1),
        {("$.instance_count.qa", "stage")},
    ),
    case(
        "stage-map-typo-prd",
        "churn-realtime",
        rename_in("inference_instance", "prod", "prd"),
        {("$.inference_instance.prd", "stage"), ("$.inference_instance", "stage-coverage")},
        "did you mean 'prod'?",
    ),
    case(
        "stage-map-stage-not-deployed",
        "churn-training",
        {"instance_type": {"dev": "ml.m5.xlarge", "prod": "ml.m5.xlarge"}},
        {("$.instance_type.prod", "stage")},
    ),
    case(
        "stage-map-subset-misses-listed-stage",
        "churn-training",
        {"stages": ["prod", "dev"], "instance_type": {"dev": "ml.m5.xlarge"}},
        {("$.instance_type", "stage-coverage")},
    ),
    case(
        "stage-map-object-field-missing-stage",
        "churn-realtime",
        set_("autoscaling", "dev", DEL),
        {("$.autoscaling", "stage-coverage")},
    ),
    case(
        "stage-map-flag-missing-stage",
        "churn-realtime",
        {"protect": {"dev": False, "prod": True}},
        {("$.protect", "stage-coverage")},
    ),
    case("stage-map-empty", "churn-realtime", {"instance_count": {}}, {("$.instance_count", "size")}),
    case(
        "stage-map-mixed-with-scalar-object",
        "churn-realtime",
        {
            "autoscaling": {"max_capacity": 3, "prod": {"max_capacity": 4}},
            "inference_instance": "ml.m5.large",
        },
        {("$.autoscaling.prod", "unknown-key")},
    ),
    case(
        "stages-unknown-stage",
        "churn-training",
        {"stages": ["dev", "qa"]},
        {("$.stages[1]", "stage")},
    ),
    case(
        "stages-typo",
        "churn-training",
        {"stages": ["dev", "prd"]},
        {("$.stages[1]", "stage")},
        "did you mean 'prod'?",
    ),
    case(
        "stages-wrong-case",
        "churn-training",
        {"stages": ["Dev"]},
        {("$.stages[0]", "stage")},
        "did you mean 'dev'?",
    ),
    case("stages-duplicate", "churn-training", {"stages": ["dev", "dev"]}, {("$.stages", "duplicate")}),
    case("stages-empty", "churn-training", {"stages": []}, {("$.stages", "size")}),
    # ---- cron and rate expressions
    case(
        "cron-superscript-digit-is-a-finding-not-a-crash",
        "churn-bias",
        {"schedule_expression": "cron(0 \u00b2 ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-fullwidth-digit",
        "churn-bias",
        {"schedule_expression": "cron(0 \uff12 ? * * *)"},
        {("$.schedule_expression", "schedule")},
        "ASCII",
    ),
    case(
        "cron-arabic-indic-digit-in-a-step",
        "churn-bias",
        {"schedule_expression": "cron(0 0/\u0662 ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "rate-trailing-newline",
        "customer-lake",
        {"crawler_schedule": "rate(1 day)\n"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "rate-fullwidth-digit",
        "customer-lake",
        {"crawler_schedule": "rate(\uff12 days)"},
        {("$.crawler_schedule", "schedule")},
    ),
    # SageMaker monitoring schedules: hourly, daily at H, or every N hours from H, nothing else
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html)
    case(
        "cron-monitor-not-on-the-hour",
        "churn-bias",
        {"schedule_expression": "cron(30 2 ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-monitor-weekly-is-not-a-sagemaker-form",
        "churn-bias",
        {"schedule_expression": "cron(0 2 ? * MON *)"},
        {("$.schedule_expression", "schedule")},
        "cron(0 H/N ? * * *)",
    ),
    case(
        "cron-monitor-day-of-month-is-not-a-sagemaker-form",
        "churn-bias",
        {"schedule_expression": "cron(0 2 1 * ? *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-monitor-hour-list-is-not-a-sagemaker-form",
        "churn-bias",
        {"schedule_expression": "cron(0 2,14 ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-monitor-step-above-24",
        "churn-bias",
        {"schedule_expression": "cron(0 0/25 ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-five-fields",
        "churn-data-quality",
        {"schedule_expression": "cron(0 * * * *)"},
        {("$.schedule_expression", "schedule")},
        "add the year field",
    ),
    case(
        "cron-both-day-fields-star",
        "churn-bias",
        {"schedule_expression": "cron(0 2 * * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-both-day-fields-question-mark",
        "churn-bias",
        {"schedule_expression": "cron(0 2 ? * ? *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-minute-out-of-range",
        "churn-bias",
        {"schedule_expression": "cron(60 * ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-hour-out-of-range",
        "churn-bias",
        {"schedule_expression": "cron(0 24 ? * * *)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-monitor-more-often-than-hourly",
        "churn-bias",
        {"schedule_expression": "cron(*/30 * ? * * *)"},
        {("$.schedule_expression", "schedule")},
        "for hourly",
    ),
    case(
        "cron-monitor-more-often-than-hourly-in-prod",
        "churn-data-quality",
        set_("schedule_expression", "prod", "cron(0/15 * ? * * *)"),
        {("$.schedule_expression.prod", "schedule")},
    ),
    case(
        "cron-monitor-rate-not-accepted",
        "churn-data-quality",
        {"schedule_expression": "rate(1 hour)"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-without-cron-wrapper",
        "churn-bias",
        {"schedule_expression": "0 * ? * * *"},
        {("$.schedule_expression", "schedule")},
    ),
    case(
        "cron-month-out-of-range",
        "customer-lake",
        {"crawler_schedule": "cron(0 3 * 13 ? *)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "cron-day-of-week-name",
        "customer-lake",
        {"crawler_schedule": "cron(0 3 ? * MONDAY *)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "cron-year-out-of-range",
        "customer-lake",
        {"crawler_schedule": "cron(0 3 * * ? 1969)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "cron-zero-step",
        "customer-lake",
        {"crawler_schedule": "cron(0/0 3 * * ? *)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "cron-nth-weekday-out-of-range",
        "customer-lake",
        {"crawler_schedule": "cron(0 3 ? * 2#6 *)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "cron-question-mark-in-minutes",
        "customer-lake",
        {"crawler_schedule": "cron(? 3 * * ? *)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "cron-crawler-rate-not-accepted",
        "customer-lake",
        {"crawler_schedule": "rate(1 day)"},
        {("$.crawler_schedule", "schedule")},
    ),
    case(
        "rate-one-with-plural-unit",
        "defects-detector",
        set_("triggers", "schedule", "rate(1 days)"),
        {("$.triggers.schedule", "schedule")},
        "rate(1 day)",
    ),
    case(
        "rate-many-with-singular-unit",
        "defects-detector",
        set_("triggers", "schedule", "rate(7 day)"),
        {("$.triggers.schedule", "schedule")},
        "rate(7 days)",
    ),
    case(
        "rate-zero",
        "defects-detector",
        set_("triggers", "schedule", "rate(0 days)"),
        {("$.triggers.schedule", "schedule")},
    ),
    case(
        "rate-unknown-unit",
        "defects-detector",
        set_("triggers", "schedule", "rate(1 week)"),
        {("$.triggers.schedule", "schedule")},
    ),
    case(
        "rate-no-space",
        "defects-detector",
        set_("triggers", "schedule", "rate(7days)"),
        {("$.triggers.schedule", "schedule")},
    ),
    case(
        "rate-negative",
        "defects-detector",
        set_("triggers", "schedule", "rate(-1 days)"),
        {("$.triggers.schedule", "schedule")},
    ),
    case(
        "rate-upper-case",
        "defects-detector",
        set_("triggers", "schedule", "RATE(1 day)"),
        {("$.triggers.schedule", "schedule")},
    ),
    case(
        "rate-batch-schedule",
        "churn-batch",
        {"batch_schedule": "rate(1 days)"},
        {("$.batch_schedule", "schedule")},
    ),
    case(
        "cron-batch-schedule-per-stage",
        "fraud-batch",
        {
            "batch_schedule": {
                "dev": "cron(0 2 * * ? *)",
                "staging": "rate(1 day)",
                "prod": "cron(0 2 * * * *)",
            }
        },
        {("$.batch_schedule.prod", "schedule")},
    ),
    case(
        "trigger-cron-both-day-fields",
        "defects-detector",
        set_("triggers", "schedule", "cron(0 0 * * * *)"),
        {("$.triggers.schedule", "schedule")},
    ),
    # ---- S3 locations and bucket names
    case(
        "s3-double-scheme",
        "churn-realtime",
        {"data_capture_location": "s3://s3://mlops-demo-capture/churn"},
        {("$.data_capture_location", "s3-location")},
        "write s3:// once",
    ),
    case(
        "s3-upper-case-bucket",
        "churn-realtime",
        {"data_capture_location": "s3://MyBucket/churn"},
        {("$.data_capture_location", "s3-location")},
        "'mybucket'",
    ),
    case(
        "s3-underscore-bucket",
        "churn-batch",
        {"batch_job_output_location": "s3://my_bucket/out"},
        {("$.batch_job_output_location", "s3-location")},
        "'my-bucket'",
    ),
    case(
        "s3-http-scheme",
        "churn-batch",
        {"batch_inference_data": "http://mlops-demo-data/in.csv"},
        {("$.batch_inference_data", "s3-location")},
    ),
    case(
        "s3-upper-case-scheme",
        "churn-batch",
        {"batch_inference_data": "S3://mlops-demo-data/in.csv"},
        {("$.batch_inference_data", "s3-location")},
    ),
    case(
        "s3-arn-instead-of-location",
        "churn-batch",
        {"batch_inference_data": "arn:aws:s3:::mlops-demo-data/in.csv"},
        {("$.batch_inference_data", "s3-location")},
    ),
    case(
        "s3-single-slash-scheme",
        "churn-batch",
        {"batch_inference_data": "s3:/mlops-demo-data/x"},
        {("$.batch_inference_data", "s3-location")},
        message_contains="malformed scheme",
    ),
    case(
        "s3-only-a-slash",
        "churn-batch",
        {"batch_inference_data": "/"},
        {("$.batch_inference_data", "s3-location")},
    ),
    case(
        "s3-https-asset",
        "churn-realtime",
        {"model_artifact_location": "https://mlops-demo-models/model.tar.gz"},
        {("$.model_artifact_location", "s3-location")},
    ),
    case(
        "s3-ip-like-bucket",
        "churn-data-quality",
        {"monitoring_output_location": "s3://192.168.1.1/x"},
        {("$.monitoring_output_location", "s3-location")},
    ),
    case(
        "s3-ip-like-bucket-mwo-form",
        "churn-data-quality",
        {"monitoring_output_location": "192.168.1.1/x"},
        {("$.monitoring_output_location", "s3-location")},
    ),
    case(
        "s3-empty-path-segment",
        "churn-data-quality",
        {"baseline_job_output_location": "s3://mlops-demo/a//b"},
        {("$.baseline_job_output_location", "s3-location")},
    ),
    case(
        "s3-asset-leading-slash",
        "churn-training",
        {"training_data": "/data/train"},
        {("$.training_data", "s3-location")},
    ),
    case(
        "s3-bucket-too-short",
        "churn-training",
        {"job_output_location": "s3://ab/x"},
        {("$.job_output_location", "s3-location")},
    ),
    case(
        "s3-reserved-bucket-prefix",
        "churn-training",
        {"job_output_location": "s3://xn--bucket/x"},
        {("$.job_output_location", "s3-location")},
    ),
    case(
        "s3-empty-location",
        "churn-batch",
        {"batch_inference_data": ""},
        {("$.batch_inference_data", "length")},
    ),
    case("s3-empty-asset", "churn-training", {"training_data": ""}, {("$.training_data", "length")}),
    case(
        "s3-per-stage",
        "churn-batch",
        set_("batch_inference_data", "prod", "s3://prod_bucket/in.csv"),
        {("$.batch_inference_data.prod", "s3-location")},
    ),
    case(
        "s3-optional-validation-data",
        "churn-training",
        {"validation_data": "s3://Bad/x"},
        {("$.validation_data", "s3-location")},
    ),
    case(
        "s3-ground-truth-input",
        "churn-model-quality",
        {"monitor_ground_truth_input": "s3://bad_bucket/gt"},
        {("$.monitor_ground_truth_input", "s3-location")},
    ),
    case(
        "s3-trigger-prefix",
        "defects-detector",
        set_("triggers", "s3_prefix", "s3://Mlops-Demo/x"),
        {("$.triggers.s3_prefix", "s3-location")},
    ),
    case(
        "s3-space-in-bucket",
        "defects-detector",
        set_("processing", "script", "s3://mlops demo/x.py"),
        {("$.processing.script", "s3-location")},
    ),
    case(
        "s3-bucket-name-underscore-and-upper",
        "customer-lake",
        {"lake_bucket_name": "My_Lake"},
        {("$.lake_bucket_name", "s3-bucket")},
    ),
    case(
        "s3-bucket-name-upper",
        "customer-lake",
        {"lake_bucket_name": "MyLake"},
        {("$.lake_bucket_name", "s3-bucket")},
        "'mylake'",
    ),
    case(
        "s3-bucket-name-ip",
        "customer-lake",
        {"lake_bucket_name": "10.0.0.1"},
        {("$.lake_bucket_name", "s3-bucket")},
    ),
    case(
        "s3-bucket-name-adjacent-dots",
        "customer-lake",
        {"lake_bucket_name": "my..lake"},
        {("$.lake_bucket_name", "s3-bucket")},
    ),
    case(
        "s3-bucket-name-reserved-suffix",
        "customer-lake",
        {"lake_bucket_name": "my-lake-s3alias"},
        {("$.lake_bucket_name", "s3-bucket")},
    ),
    case(
        "s3-bucket-name-with-scheme",
        "customer-lake",
        {"lake_bucket_name": "s3://my-lake"},
        {("$.lake_bucket_name", "s3-bucket")},
    ),
    case(
        "s3-bucket-name-empty",
        "customer-lake",
        {"lake_bucket_name": ""},
        {("$.lake_bucket_name", "s3-bucket")},
    ),
    # ---- ARNs and image URIs
    case(
        "arn-wrong-partition",
        "churn-realtime",
        {"kms_key_arn": KMS.replace("arn:aws:", "arn:aws-foo:")},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-bad-region",
        "churn-realtime",
        {"kms_key_arn": KMS.replace("us-east-1", "us-est-1")},
        {("$.kms_key_arn", "arn")},
        "'us-east-1'",
    ),
    case(
        "arn-region-of-other-partition",
        "churn-realtime",
        {"kms_key_arn": KMS.replace("us-east-1", "cn-north-1")},
        {("$.kms_key_arn", "arn")},
        "arn:aws-cn:",
    ),
    case(
        "arn-region-of-other-partition-per-stage",
        "churn-realtime",
        {"kms_key_arn": {"dev": KMS, "staging": KMS, "prod": KMS.replace("us-east-1", "us-gov-west-1")}},
        {("$.kms_key_arn.prod", "arn")},
    ),
    case(
        "arn-11-digit-account",
        "churn-realtime",
        {"kms_key_arn": KMS.replace("111122223333", "11112222333")},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-wrong-service",
        "churn-realtime",
        {"kms_key_arn": KMS.replace(":kms:", ":s3:")},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-wrong-resource-type",
        "churn-realtime",
        {"kms_key_arn": KMS.replace(":key/", ":secret/")},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-empty-resource",
        "churn-realtime",
        {"kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/"},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-bare-key-id",
        "churn-realtime",
        {"kms_key_arn": "1234abcd-12ab-34cd-56ef-1234567890ab"},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-secret-of-wrong-service",
        "customer-lake",
        set_("dms_replication", "secret_arn", "arn:aws:kms:us-east-1:111122223333:secret:crm-AbCdEf"),
        {("$.dms_replication.secret_arn", "arn")},
    ),
    case(
        "arn-secret-with-slash",
        "customer-lake",
        set_(
            "dms_replication", "secret_arn", "arn:aws:secretsmanager:us-east-1:111122223333:secret/crm-AbCdEf"
        ),
        {("$.dms_replication.secret_arn", "arn")},
    ),
    case(
        "arn-model-package-wrong-resource",
        "fraud-ab",
        set_("model_package_name", "staging", "arn:aws:sagemaker:us-east-1:111122223333:endpoint/fraud"),
        {("$.model_package_name.staging", "arn")},
    ),
    case(
        "arn-model-package-group-bad-name",
        "fraud-ab",
        set_("model_package_name", "dev", "fraud_scorer"),
        {("$.model_package_name.dev", "arn")},
    ),
    case(
        "notify-sns-short-account",
        "fraud-ab",
        {"notify": ["arn:aws:sns:us-east-1:1111:alerts"]},
        {("$.notify[0]", "arn")},
    ),
    case("notify-not-an-address", "fraud-ab", {"notify": ["risk-ml"]}, {("$.notify[0]", "notify")}),
    case(
        "notify-duplicate",
        "fraud-ab",
        {"notify": ["a@example.com", "a@example.com"]},
        {("$.notify", "duplicate")},
    ),
    # ---- notify: every entry is used or refused (issue 19)
    case(
        "notify-slack-webhook",
        "fraud-ab",
        {"notify": ["risk-ml@example.com", "https://hooks.slack.com/services/T000/B000/XXXX"]},
        {("$.notify[1]", "notify")},
        "AWS Chatbot",
        message_contains="Slack webhook URL",
    ),
    case(
        "notify-email-with-display-name",
        "fraud-ab",
        {"notify": ["Risk ML <risk-ml@example.com>"]},
        {("$.notify[0]", "notify")},
        "without spaces",
    ),
    case(
        "notify-two-emails-in-one-entry",
        "fraud-ab",
        {"notify": ["a@example.com,b@example.com"]},
        {("$.notify[0]", "notify")},
    ),
    case(
        "notify-email-domain-without-dot",
        "fraud-ab",
        {"notify": ["risk-ml@localhost"]},
        {("$.notify[0]", "notify")},
    ),
    case(
        "notify-more-emails-than-slots",
        "fraud-ab",
        {"notify": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]},
        {("$.notify[3]", "notify-too-many")},
        "mailing list",
    ),
    case(
        "notify-two-topics",
        "fraud-ab",
        {"notify": ["arn:aws:sns:us-east-1:111122223333:a", "arn:aws:sns:us-east-1:111122223333:b"]},
        {("$.notify[1]", "notify-too-many")},
    ),
    case(
        "notify-sns-partition-of-another-region",
        "fraud-ab",
        {"notify": ["arn:aws-cn:sns:us-east-1:111122223333:alerts"]},
        {("$.notify[0]", "arn")},
        "arn:aws:sns:us-east-1",
    ),
    case(
        "notify-topic-in-another-region-names-the-rules",
        "fraud-ab",
        {"notify": ["arn:aws:sns:us-west-2:111122223333:alerts"]},
        {("$.notify[0]", "region")},
        "alarm actions and EventBridge targets",
    ),
    case(
        "image-uri-not-ecr",
        "fraud-batch",
        {"custom_image_uri": "fraud-scorer:2.3.0"},
        {("$.custom_image_uri", "image-uri")},
    ),
    case(
        "image-uri-bad-region",
        "fraud-batch",
        {"custom_image_uri": "111122223333.dkr.ecr.us-est-1.amazonaws.com/fraud-scorer:2.3.0"},
        {("$.custom_image_uri", "image-uri")},
        "did you mean 'us-east-1'?",
    ),
    case(
        "image-uri-upper-case-repository",
        "fraud-batch",
        {"custom_image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/Fraud:1"},
        {("$.custom_image_uri", "image-uri")},
    ),
    case(
        "image-framework-wrong-case",
        "churn-realtime",
        {"model_framework": "XGBoost"},
        {("$.model_framework", "image")},
        "did you mean 'xgboost'?",
    ),
    # ---- pinned model versions
    case(
        "unpinned-model-group-name-in-prod",
        "fraud-ab",
        set_("model_package_name", "prod", "fraud-scorer"),
        {("$.model_package_name.prod", "unpinned-model")},
    ),
    case(
        "unpinned-model-group-arn-in-staging",
        "fraud-ab",
        set_("model_package_name", "staging", MP_GROUP_ARN),
        {("$.model_package_name.staging", "unpinned-model")},
    ),
    case(
        "unpinned-model-package-arn-without-version",
        "fraud-ab",
        set_(
            "model_package_name",
            "prod",
            "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer",
        ),
        {("$.model_package_name.prod", "unpinned-model")},
    ),
    case(
        "unpinned-model-in-variant-list",
        "fraud-ab",
        {"production_variants": [{"name": "a", "model_package_name": "fraud-scorer"}]},
        {("$.production_variants[0].model_package_name", "unpinned-model")},
    ),
    case(
        "unpinned-model-in-per-stage-variant",
        "fraud-ab",
        set_("production_variants", "prod", 1, "model_package_name", "fraud-scorer"),
        {("$.production_variants.prod[1].model_package_name", "unpinned-model")},
    ),
    case(
        "unpinned-model-scalar-one-finding-naming-the-stages",
        "fraud-ab",
        {"model_package_name": "fraud-scorer"},
        {("$.model_package_name", "unpinned-model")},
        message_contains="stages 'staging', 'prod'",
    ),
    # ---- MWO's cross-field rules
    case(
        "mwo-model-quality-regression-needs-inference-attribute",
        "churn-model-quality",
        chain(
            {"problem_type": "Regression"},
            drop("baseline_probability_attribute", "probability_threshold_attribute"),
        ),
        {("$.monitor_inference_attribute", "required")},
    ),
    case(
        "mwo-model-quality-multiclass-needs-inference-attribute",
        "churn-model-quality",
        {"problem_type": "MulticlassClassification"},
        {("$.monitor_inference_attribute", "required")},
    ),
    case(
        "mwo-model-quality-binary-needs-probability-attribute",
        "churn-model-quality",
        drop("baseline_probability_attribute"),
        {("$.baseline_probability_attribute", "required")},
    ),
    case(
        "mwo-model-quality-binary-empty-probability-attribute",
        "churn-model-quality",
        {"baseline_probability_attribute": ""},
        {("$.baseline_probability_attribute", "required")},
    ),
    case(
        "mwo-bias-binary-needs-predicted-label-config",
        "churn-bias",
        drop("model_predicted_label_config"),
        {("$.model_predicted_label_config", "required")},
    ),
    case(
        "mwo-bias-multiclass-needs-both",
        "churn-bias",
        chain(drop("model_predicted_label_config"), {"problem_type": "MulticlassClassification"}),
        {("$.model_predicted_label_config", "required"), ("$.monitor_inference_attribute", "required")},
    ),
    case(
        "mwo-explainability-regression-needs-inference-attribute",
        "churn-explainability",
        {"problem_type": "Regression"},
        {("$.monitor_inference_attribute", "required")},
    ),
    case(
        "mwo-autopilot-problem-type-without-objective",
        "churn-autopilot",
        drop("job_objective"),
        {("$.job_objective", "required")},
    ),
    case(
        "mwo-autopilot-empty-objective",
        "churn-autopilot",
        {"job_objective": ""},
        {("$.job_objective", "required")},
    ),
    case(
        "mwo-autopilot-objective-without-problem-type",
        "churn-autopilot",
        drop("problem_type"),
        {("$.problem_type", "required")},
    ),
    case(
        "model-source-realtime-no-artifact",
        "churn-realtime",
        drop("model_artifact_location"),
        {("$", "model-source")},
    ),
    case(
        "model-source-realtime-no-framework-version",
        "churn-realtime",
        drop("model_framework_version"),
        {("$", "model-source")},
    ),
    case(
        "model-source-realtime-custom-nothing",
        "fraud-ab",
        drop("model_package_name", "custom_image_uri", "production_variants"),
        {("$", "model-source")},
    ),
    case(
        "model-source-batch-custom-no-image", "fraud-batch", drop("custom_image_uri"), {("$", "model-source")}
    ),
    case(
        "model-source-training-pipeline-no-image",
        "defects-detector",
        drop("model_framework"),
        {("$", "model-source")},
    ),
    # issue 15 part 5c: a framework image runs sagemaker_program from sagemaker_submit_directory
    # (the SageMaker Python SDK's script mode); without them the training job has no entry point
    case(
        "training-pipeline-framework-without-entry-point",
        "defects-detector",
        drop("training"),
        {("$.training", "required")},
        hint_contains='"entry_point": "train.py"',
    ),
    case(
        "training-pipeline-source-dir-not-a-tarball",
        "defects-detector",
        set_("training", "source_dir", "s3://mlops-demo-assets/defects/code/train.py"),
        {("$.training.source_dir", "file-type")},
        hint_contains="tar czf",
    ),
    case(
        "training-pipeline-entry-point-escapes-source-dir",
        "defects-detector",
        set_("training", "entry_point", "../train.py"),
        {("$.training.entry_point", "pattern")},
    ),
    # issue 15 part 5d: an ECR pull-through cache rule's repository prefix (botocore's
    # PullThroughCacheRuleRepositoryPrefix pattern)
    case(
        "image-builder-pull-through-cache-prefix-pattern",
        "fraud-image",
        {"pull_through_cache_prefix": "Docker Hub"},
        {("$.pull_through_cache_prefix", "pattern")},
    ),
    # issue 15 part 5f: a later stage in an earlier stage's account registers into <group>-<stage>
    case(
        "spot-wait-equal-to-runtime",
        "churn-training",
        {"max_wait_time_spot_instances": "7200"},
        {("$.max_wait_time_spot_instances", "range")},
    ),
    case(
        "spot-wait-below-runtime",
        "defects-detector",
        {"max_wait_time_spot_instances": 3600},
        {("$.max_wait_time_spot_instances", "range")},
    ),
    case(
        "spot-wait-below-default-runtime",
        "churn-training",
        drop("max_runtime_per_job"),
        {("$.max_wait_time_spot_instances", "range")},
    ),
    # SageMaker does not autoscale burstable types (RegisterScalableTarget fails at create):
    # https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-console.html
    case(
        "autoscaling-burstable-per-stage",
        "churn-realtime",
        set_("autoscaling", "dev", {"max_capacity": 2}),
        {("$.autoscaling.dev", "autoscaling-burstable")},
        "set $.autoscaling.dev to null",
        message_contains="'ml.t2.medium' (set at $.inference_instance.dev)",
    ),
    case(
        "autoscaling-burstable-one-value-for-all-stages",
        "churn-realtime",
        {"inference_instance": "ml.t2.large", "autoscaling": {"max_capacity": 2}, "rollout": DEL},
        {("$.autoscaling", "autoscaling-burstable")},
        "ml.m5.large",
        message_contains="stages 'dev', 'staging', 'prod' autoscale 'ml.t2.large'",
    ),
    case(
        "autoscaling-burstable-variant",
        "fraud-ab",
        lambda c: {
            **c,
            "autoscaling": {"max_capacity": 3},
            "production_variants": {
                **c["production_variants"],
                "prod": [
                    c["production_variants"]["prod"][0],
                    {**c["production_variants"]["prod"][1], "inference_instance": "ml.t2.xlarge"},
                ],
            },
        },
        {("$.autoscaling", "autoscaling-burstable")},
        message_contains="stage 'prod' autoscales 'ml.t2.xlarge' (set at $.production_variants.prod[1].inference_instance)",
    ),
    case(
        "autoscaling-burstable-variant-inherits-instance",
        "fraud-ab",
        {
            "inference_instance": "ml.t2.medium",
            "autoscaling": {"dev": {"max_capacity": 2}, "staging": None, "prod": None},
        },
        {("$.autoscaling.dev", "autoscaling-burstable")},
        message_contains="(set at $.inference_instance)",
    ),
    case(
        "autoscaling-min-above-max",
        "churn-realtime",
        set_("autoscaling", "prod", "min_capacity", 7),
        {("$.autoscaling.prod.min_capacity", "range")},
    ),
    case(
        "autoscaling-min-above-max-scalar",
        "fraud-ab",
        {"autoscaling": {"min_capacity": 5, "max_capacity": 2}},
        {("$.autoscaling.min_capacity", "range")},
    ),
    case(
        "autoscaling-instance-count-above-max",
        "churn-realtime",
        set_("instance_count", "prod", "8"),
        {("$.autoscaling.prod", "range")},
    ),
    case(
        "autoscaling-target-zero",
        "churn-realtime",
        set_("autoscaling", "prod", "target_invocations_per_instance", 0),
        {("$.autoscaling.prod.target_invocations_per_instance", "range")},
    ),
    case(
        "autoscaling-max-capacity-zero",
        "churn-realtime",
        set_("autoscaling", "prod", "max_capacity", 0),
        {("$.autoscaling.prod.max_capacity", "range")},
    ),
    # Rollouts: what SageMaker refuses (sizes: API_TrafficRoutingConfig; timeout: API_BlueGreenUpdatePolicy;
    # excluded features: deployment-guardrails-exclusions), each at its key.
    case(
        "rollout-canary-percent-above-half",
        "churn-realtime",
        set_("rollout", "prod", "canary_size", {"type": "CAPACITY_PERCENT", "value": 60}),
        {("$.rollout.prod.canary_size.value", "rollout-size")},
        "at most 50%",
    ),
    case(
        "rollout-canary-count-not-below-fleet",
        "churn-realtime",
        set_("rollout", "prod", "canary_size", {"type": "INSTANCE_COUNT", "value": 2}),
        {("$.rollout.prod.canary_size.value", "rollout-size")},
        "raise instance_count",
    ),
    case(
        "rollout-linear-percent-below-ten",
        "churn-realtime",
        set_(
            "rollout", "prod", {"policy": "linear", "linear_step": {"type": "CAPACITY_PERCENT", "value": 5}}
        ),
        {("$.rollout.prod.linear_step.value", "rollout-size")},
        "10-50%",
    ),
    case(
        "rollout-linear-count-above-half-of-a-variant",
        "fraud-ab",
        {
            "instance_count": 2,
            "rollout": {"policy": "linear", "linear_step": {"type": "INSTANCE_COUNT", "value": 2}},
        },
        {("$.rollout.linear_step.value", "rollout-size")},
    ),
    case(
        "rollout-capacity-percent-above-100",
        "churn-realtime",
        set_("rollout", "prod", "canary_size", {"type": "CAPACITY_PERCENT", "value": 101}),
        {("$.rollout.prod.canary_size.value", "rollout-size")},
    ),
    case(
        "rollout-size-zero",
        "churn-realtime",
        set_("rollout", "prod", "canary_size", {"type": "INSTANCE_COUNT", "value": 0}),
        {("$.rollout.prod.canary_size.value", "range")},
    ),
    case(
        "rollout-size-type-unknown",
        "churn-realtime",
        set_("rollout", "prod", "canary_size", {"type": "PERCENT", "value": 10}),
        {("$.rollout.prod.canary_size.type", "enum")},
    ),
    case(
        "rollout-policy-unknown",
        "churn-realtime",
        set_("rollout", "prod", "policy", "rolling"),
        {("$.rollout.prod.policy", "enum")},
    ),
    case(
        "rollout-wait-above-an-hour",
        "churn-realtime",
        set_("rollout", "prod", "wait_seconds", 3601),
        {("$.rollout.prod.wait_seconds", "range")},
    ),
    case(
        "rollout-bake-negative",
        "churn-realtime",
        set_("rollout", "prod", "bake_seconds", -1),
        {("$.rollout.prod.bake_seconds", "range")},
    ),
    case(
        "rollout-timeout-below-ten-minutes",
        "churn-realtime",
        set_("rollout", "prod", "max_execution_seconds", 300),
        {("$.rollout.prod.max_execution_seconds", "range")},
    ),
    case(
        "rollout-timeout-not-above-the-waits",
        "churn-realtime",
        set_("rollout", "prod", "max_execution_seconds", 1500),
        {("$.rollout.prod.max_execution_seconds", "range")},
        "raise max_execution_seconds",
    ),
    case(
        "rollout-too-many-alarms",
        "churn-realtime",
        set_("rollout", "prod", "alarms", ["a", "b", "c", "d"]),
        {("$.rollout.prod.alarms", "size")},
    ),
    case(
        "rollout-alarm-name-blank",
        "churn-realtime",
        set_("rollout", "prod", "alarms", [" "]),
        {("$.rollout.prod.alarms[0]", "pattern")},
    ),
    case(
        "rollout-canary-on-inf1",
        "fraud-ab",
        {"inference_instance": "ml.inf1.xlarge", "instance_count": 2, "rollout": {"policy": "canary"}},
        {("$.rollout.policy", "rollout-excluded")},
        "deployment-guardrails-exclusions",
    ),
    case(
        "rollout-default-canary-on-inf1",
        "fraud-ab",
        {"inference_instance": "ml.inf1.xlarge", "instance_count": 2, "rollout": {}},
        {("$.rollout", "rollout-excluded")},
    ),
    case(
        "rollout-unknown-key",
        "churn-realtime",
        set_("rollout", "prod", "canary_percent", 10),
        {("$.rollout.prod.canary_percent", "unknown-key")},
    ),
    case(
        "variants-duplicate-names",
        "fraud-ab",
        set_("production_variants", "prod", 1, "name", "current"),
        {("$.production_variants.prod[1].name", "duplicate")},
    ),
    case(
        "variants-duplicate-names-list",
        "fraud-ab",
        {"production_variants": [{"name": "a"}, {"name": "a"}]},
        {("$.production_variants[1].name", "duplicate")},
    ),
    case(
        "variants-weights-sum-to-zero",
        "fraud-ab",
        chain(
            set_("production_variants", "prod", 0, "weight", 0),
            set_("production_variants", "prod", 1, "weight", 0),
        ),
        {("$.production_variants.prod", "variant-weights")},
    ),
    case(
        "variants-weights-sum-to-zero-list",
        "fraud-ab",
        {"production_variants": [{"name": "a", "weight": 0}]},
        {("$.production_variants", "variant-weights")},
    ),
    case(
        "variants-none",
        "fraud-ab",
        set_("production_variants", "prod", []),
        {("$.production_variants.prod", "size")},
    ),
    case(
        "variants-too-many",
        "fraud-ab",
        set_("production_variants", "prod", [{"name": f"v{i}"} for i in range(11)]),
        {("$.production_variants.prod", "size")},
    ),
    case(
        "variants-bad-name",
        "fraud-ab",
        set_("production_variants", "prod", 0, "name", "my_variant"),
        {("$.production_variants.prod[0].name", "pattern")},
    ),
    case(
        "variants-negative-weight",
        "fraud-ab",
        set_("production_variants", "prod", 0, "weight", -1),
        {("$.production_variants.prod[0].weight", "range")},
    ),
    case(
        "processing-splits-leave-no-training-data",
        "defects-detector",
        set_("processing", "validation_split", 0.85),
        {("$.processing", "range")},
    ),
    case(
        "lake-expires-before-glacier",
        "customer-lake",
        set_("expiration_days", "dev", 30),
        {("$.expiration_days.dev", "range")},
    ),
    case(
        "lake-expires-before-glacier-scalar",
        "customer-lake",
        {"expiration_days": 60, "glacier_transition_days": 90},
        {("$.expiration_days", "range")},
        message_contains="stages 'dev', 'staging', 'prod'",
    ),
    # ---- plain-text secrets
    case(
        "secret-access-key-in-description",
        "fraud-image",
        {"description": f"uploads with {ACCESS_KEY}"},
        {("$.description", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-access-key-in-hyperparameter",
        "churn-training",
        set_("algo_hyperparamaters", "aws_key", ACCESS_KEY),
        {("$.algo_hyperparamaters.aws_key", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-access-key-in-tag",
        "churn-realtime",
        {"tags": {"k": ACCESS_KEY}},
        {("$.tags.k", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-access-key-in-list",
        "churn-training",
        {"attribute_names": [ACCESS_KEY]},
        {("$.attribute_names[0]", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-access-key-as-owner",
        "churn-realtime",
        {"owner": ACCESS_KEY},
        {("$.owner", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-password-tag",
        "churn-realtime",
        {"tags": {"password": "hunter2"}},
        {("$.tags.password", "secret")},
        absent="hunter2",
    ),
    case(
        "secret-api-key-hyperparameter",
        "churn-training",
        set_("algo_hyperparamaters", "api_key", "abc123"),
        {("$.algo_hyperparamaters.api_key", "secret")},
        absent="abc123",
    ),
    case(
        "secret-url-with-password",
        "fraud-image",
        {"description": "mirror at https://bob:s3cret@example.com/repo"},
        {("$.description", "secret")},
        absent="s3cret",
    ),
    case(
        "secret-private-key",
        "fraud-image",
        {"description": PRIVATE_KEY},
        {("$.description", "secret")},
        absent="MIIEowIBAAKCAQEA",
    ),
    case(
        "secret-aws-secret-access-key",
        "fraud-image",
        {"description": "aws_secret_access_key=abc"},
        {("$.description", "secret")},
    ),
    case(
        "secret-url-with-password-in-s3-location",
        "churn-training",
        {"training_data": "s3://alice:Sup3rS3cretPw@bucket/x"},
        {("$.training_data", "s3-location"), ("$.training_data", "secret")},
        absent="Sup3rS3cretPw",
    ),
    case(
        "secret-password-tag-with-punctuation",
        "churn-realtime",
        {"tags": {"password": "hunter2!"}},
        {("$.tags.password", "secret")},
        absent="hunter2",
    ),
    case(
        "secret-access-key-in-enum-field",
        "churn-batch",
        {"batch_split_type": ACCESS_KEY},
        {("$.batch_split_type", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-access-key-as-tag-key",
        "churn-realtime",
        {"tags": {ACCESS_KEY: "x"}},
        {("$.tags.****", "secret")},
        absent=ACCESS_KEY,
    ),
    case(
        "secret-password-list-in-hyperparameters",
        "churn-training",
        set_("algo_hyperparamaters", "password", ["hunter2"]),
        {("$.algo_hyperparamaters.password", "secret"), ("$.algo_hyperparamaters.password", "type")},
        absent="hunter2",
    ),
    # ---- tags
    case(
        "tag-reserved-aws-prefix",
        "churn-realtime",
        {"tags": {"aws:foo": "x"}},
        {("$.tags['aws:foo']", "key")},
        "reserved",
    ),
    case(
        "tag-reserved-mlops-prefix",
        "churn-realtime",
        {"tags": {"mlops:pipeline": "x"}},
        {("$.tags['mlops:pipeline']", "key")},
    ),
    case("tag-key-empty", "churn-realtime", {"tags": {"": "v"}}, {("$.tags['']", "key")}),
    case("tag-key-bad-character", "churn-realtime", {"tags": {"a,b": "v"}}, {("$.tags['a,b']", "key")}),
    case(
        "tag-value-bad-character", "churn-realtime", {"tags": {"team": "a,b"}}, {("$.tags.team", "pattern")}
    ),
    case(
        "tag-too-many",
        "churn-realtime",
        {"tags": {f"k{i}": "v" for i in range(43)}},
        {("$.tags", "size")},
    ),
    # ---- numbers out of range, MWO numbers that are not numbers
    case(
        "range-volume-size-zero",
        "churn-data-quality",
        {"instance_volume_size": 0},
        {("$.instance_volume_size", "range")},
    ),
    case(
        "range-volume-size-zero-mwo-string",
        "churn-data-quality",
        {"instance_volume_size": "0"},
        {("$.instance_volume_size", "range")},
    ),
    case(
        "range-volume-size-huge",
        "churn-data-quality",
        {"instance_volume_size": 10**30},
        {("$.instance_volume_size", "range")},
    ),
    case(
        "range-monitor-runtime",
        "churn-data-quality",
        {"monitor_max_runtime_seconds": 90000},
        {("$.monitor_max_runtime_seconds", "range")},
        "at most 86400",
    ),
    case(
        "range-monitor-runtime-mwo-string",
        "churn-data-quality",
        {"monitor_max_runtime_seconds": "90000"},
        {("$.monitor_max_runtime_seconds", "range")},
    ),
    case(
        "range-monitor-runtime-per-stage",
        "churn-data-quality",
        {"monitor_max_runtime_seconds": {"dev": 1800, "staging": 1800, "prod": 90000}},
        {("$.monitor_max_runtime_seconds.prod", "range")},
    ),
    case(
        "range-baseline-runtime-zero",
        "churn-data-quality",
        {"baseline_max_runtime_seconds": 0},
        {("$.baseline_max_runtime_seconds", "range")},
    ),
    case(
        "range-training-runtime-negative-mwo-string",
        "churn-training",
        {"max_runtime_per_job": "-5"},
        {("$.max_runtime_per_job", "range")},
    ),
    case(
        "range-training-runtime-too-short",
        "churn-training",
        {"max_runtime_per_job": 500},
        {("$.max_runtime_per_job", "range")},
    ),
    case(
        "range-probability-threshold",
        "churn-model-quality",
        {"probability_threshold_attribute": 1.5},
        {("$.probability_threshold_attribute", "range")},
    ),
    case(
        "range-probability-threshold-mwo-string",
        "churn-model-quality",
        {"probability_threshold_attribute": "1.5"},
        {("$.probability_threshold_attribute", "range")},
    ),
    case(
        "range-sampling-percentage",
        "churn-realtime",
        set_("data_capture_sampling_percentage", "prod", 101),
        {("$.data_capture_sampling_percentage.prod", "range")},
    ),
    case("range-instance-count-zero", "churn-batch", {"instance_count": 0}, {("$.instance_count", "range")}),
    case(
        "range-instance-count-zero-mwo-string",
        "fraud-batch",
        {"instance_count": "0"},
        {("$.instance_count", "range")},
    ),
    case(
        "range-shard-count",
        "web-events",
        set_("shard_count", "prod", 0),
        {("$.shard_count.prod", "range")},
    ),
    case(
        "range-athena-cutoff",
        "customer-lake",
        {"athena_bytes_scanned_cutoff": 1000},
        {("$.athena_bytes_scanned_cutoff", "range")},
    ),
    case(
        "range-test-split-zero",
        "defects-detector",
        set_("processing", "test_split", 0),
        {("$.processing.test_split", "range")},
    ),
    case(
        "range-test-split-one",
        "defects-detector",
        set_("processing", "test_split", 1),
        {("$.processing.test_split", "range")},
    ),
    case(
        "range-stream-retention",
        "web-events",
        {"stream_retention_hours": 12},
        {("$.stream_retention_hours", "range")},
    ),
    case(
        "range-window",
        "web-events",
        set_("aggregation", "window_seconds", 30),
        {("$.aggregation.window_seconds", "range")},
    ),
    case(
        "range-autopilot-candidates-mwo-string",
        "churn-autopilot",
        {"job_max_candidates": "0"},
        {("$.job_max_candidates", "range")},
    ),
    case(
        "range-autopilot-total-runtime",
        "churn-autopilot",
        {"total_max_runtime": 60},
        {("$.total_max_runtime", "range")},
    ),
    case(
        "range-tuner-max-jobs",
        "churn-tuning",
        set_("tuner_configs", "max_jobs", 501),
        {("$.tuner_configs.max_jobs", "range")},
    ),
    case(
        "mwo-number-twenty",
        "churn-data-quality",
        {"instance_volume_size": "twenty"},
        {("$.instance_volume_size", "type")},
        "write a number",
    ),
    case(
        "mwo-number-twenty-runtime",
        "churn-training",
        {"max_runtime_per_job": "twenty"},
        {("$.max_runtime_per_job", "type")},
    ),
    case(
        "mwo-number-per-stage",
        "churn-realtime",
        set_("instance_count", "prod", "two"),
        {("$.instance_count.prod", "type")},
    ),
    case(
        "mwo-number-in-variant",
        "fraud-ab",
        set_("production_variants", "prod", 0, "instance_count", "x"),
        {("$.production_variants.prod[0].instance_count", "type")},
    ),
    case(
        "mwo-number-leading-space",
        "churn-data-quality",
        {"instance_volume_size": " 20"},
        {("$.instance_volume_size", "type")},
    ),
    case(
        "mwo-number-plus-sign",
        "churn-data-quality",
        {"instance_volume_size": "+20"},
        {("$.instance_volume_size", "type")},
    ),
    case(
        "mwo-number-lake-days",
        "customer-lake",
        set_("glacier_transition_days", "dev", "thirty"),
        {("$.glacier_transition_days.dev", "type")},
    ),
    # ---- flags that aren't true/false
    case(
        "flag-yes",
        "churn-training",
        {"use_spot_instances": "yes"},
        {("$.use_spot_instances", "enum")},
        "write true or false",
    ),
    case("flag-upper-case", "fraud-image", {"scan_on_push": "TRUE"}, {("$.scan_on_push", "enum")}),
    case("flag-integer-one", "fraud-image", {"scan_on_push": 1}, {("$.scan_on_push", "type")}),
    case(
        "flag-null",
        "fraud-image",
        {"scan_on_push": None},
        {("$.scan_on_push", "type")},
        message_contains="the value is null",
    ),
    case("flag-stageable-no", "fraud-image", {"protect": "no"}, {("$.protect", "enum")}),
    case(
        "flag-stageable-per-stage",
        "churn-realtime",
        {"protect": {"dev": False, "staging": False, "prod": "yes"}},
        {("$.protect.prod", "enum")},
    ),
    case(
        "flag-nested",
        "defects-detector",
        set_("register", "export_onnx", "Y"),
        {("$.register.export_onnx", "enum")},
    ),
    case(
        "flag-nested-feature-group",
        "customer-lake",
        set_("feature_group", "online_store", "on"),
        {("$.feature_group.online_store", "enum")},
    ),
    # ---- MWO's JSON strings
    case(
        "json-string-bias-config-invalid",
        "churn-bias",
        {"bias_config": "{label_values_or_threshold: [1], facet_name: 'age'}"},
        {("$.bias_config", "json-string")},
    ),
    case(
        "json-string-shap-config-trailing-comma",
        "churn-explainability",
        {"shap_config": '{"baseline": [[1]],}'},
        {("$.shap_config", "json-string")},
    ),
    case(
        "json-string-hyperparameters-unterminated",
        "churn-training",
        {"algo_hyperparamaters": '{"eta": 0.1'},
        {("$.algo_hyperparamaters", "json-string")},
    ),
    case(
        "json-string-nan",
        "churn-bias",
        {"bias_config": '{"label_values_or_threshold": NaN, "facet_name": "age"}'},
        {("$.bias_config", "json-string")},
    ),
    case(
        "json-string-ranges-single-quotes",
        "churn-tuning",
        {"hyperparamaters_ranges": "{'eta': ['continuous', [0.1, 0.5]]}"},
        {("$.hyperparamaters_ranges", "json-string")},
    ),
    case(
        "json-string-plain-text",
        "churn-bias",
        {"bias_config": "age"},
        {("$.bias_config", "type")},
    ),
    case("json-string-empty", "churn-bias", {"bias_config": ""}, {("$.bias_config", "type")}),
    case(
        "json-string-plain-text-for-list",
        "churn-training",
        {"attribute_names": "source-ref"},
        {("$.attribute_names", "type")},
    ),
    case(
        "json-string-array-for-object",
        "churn-bias",
        {"model_predicted_label_config": "[1]"},
        {("$.model_predicted_label_config", "type")},
    ),
    # ---- folder names and the names built from them
    case(
        "pipeline-id-underscore-and-upper",
        "fraud-image",
        Setup(pipeline_id="Bad_Id"),
        {("$", "pipeline-id")},
    ),
    case("pipeline-id-upper-case", "fraud-image", Setup(pipeline_id="Fraud"), {("$", "pipeline-id")}),
    case("pipeline-id-trailing-hyphen", "fraud-image", Setup(pipeline_id="fraud-"), {("$", "pipeline-id")}),
    case(
        "pipeline-id-double-hyphen",
        "fraud-image",
        Setup(pipeline_id="fraud--image"),
        {("$", "pipeline-id")},
    ),
    case("pipeline-id-dot", "fraud-image", Setup(pipeline_id="fraud.image"), {("$", "pipeline-id")}),
    case("pipeline-id-41-characters", "fraud-image", Setup(pipeline_id="a" * 41), {("$", "pipeline-id")}),
    # ---- across pipelines
    case(
        "duplicate-endpoint-in-a-stage",
        "fraud-ab",
        Setup(
            pipeline_id="b",
            others={
                "a": with_(
                    "churn-realtime", endpoint_name={"dev": "x-dev", "staging": "x-stg", "prod": "fraud"}
                )
            },
        ),
        {("$.endpoint_name.prod", "duplicate")},
    ),
    case(
        "duplicate-endpoint-differs-in-case",
        "churn-realtime",
        Setup(
            {"endpoint_name": {"dev": "a-dev", "staging": "a-staging", "prod": "Fraud"}},
            pipeline_id="b",
            others={"a": example("fraud-ab")},
        ),
        {("$.endpoint_name.prod", "duplicate")},
    ),
    case(
        "duplicate-endpoint-dev-only-pipeline",
        "churn-realtime",
        Setup(
            {
                "endpoint_name": "shared",
                "stages": ["dev"],
                "inference_instance": "ml.t2.medium",
                "instance_count": 1,
                "data_capture_sampling_percentage": 100,
                "autoscaling": DEL,
                "rollout": DEL,
            },
            pipeline_id="b",
            others={"a": with_("churn-realtime", endpoint_name="shared")},
        ),
        {("$.endpoint_name", "duplicate")},
    ),
    case(
        "duplicate-endpoint-with-a-default-name",
        "churn-realtime",
        Setup(pipeline_id="b", others={"a": with_("churn-realtime", endpoint_name="mlops-b-prod")}),
        {("$", "duplicate")},
        message_contains="also used by pipeline 'a'",
    ),
    # ---- names AWS allows once per account and region, claimed by two pipelines (issue 14)
    case(
        "name-collision-ecr-repository-across-pipelines",
        "fraud-image",
        Setup(pipeline_id="b", others={"a": example("fraud-image")}),
        {("$.ecr_repo_name", "name-collision")},
        message_contains="pipeline 'a' (pipeline-configs/a/mlops-config.json)",
    ),
    case(
        "name-collision-glue-database-across-pipelines-one-per-stage",
        "customer-lake",
        Setup(pipeline_id="b", others={"a": example("customer-lake")}),
        {
            ("$.glue_database_name.dev", "name-collision"),
            ("$.glue_database_name.staging", "name-collision"),
            ("$.glue_database_name.prod", "name-collision"),
        },
    ),
    case(
        "name-collision-lake-bucket-is-global",
        "customer-lake",
        Setup(
            {"lake_bucket_name": {"dev": "acme-lake-dev", "staging": "acme-lake-stg", "prod": "acme-lake"}},
            pipeline_id="b",
            others={
                "a": with_(
                    "customer-lake",
                    glue_database_name={"dev": "o_dev", "staging": "o_stg", "prod": "o"},
                    lake_bucket_name={"dev": "x-lake-dev", "staging": "x-lake-stg", "prod": "acme-lake"},
                    feature_group=DEL,
                )
            },
        ),
        {("$.lake_bucket_name.prod", "name-collision")},
        message_contains="bucket names are global",
    ),
    case(
        "name-collision-feature-group-across-pipelines",
        "customer-lake",
        Setup(
            chain(set_("feature_group", "name", "customers"), set_("glue_database_name", DEL)),
            pipeline_id="b",
            others={
                "a": apply(
                    example("customer-lake"),
                    chain(set_("feature_group", "name", "customers"), set_("glue_database_name", DEL)),
                )
            },
        ),
        {("$.feature_group.name", "name-collision")},
    ),
    # a stack's notify topic admits alarms and rules named <stack>-*, and its job rules match jobs by
    # that prefix: another pipeline's names must not start with it (issue 19)
    case(
        "name-prefix-of-another-pipelines-stack-in-the-same-account",
        "churn-batch",
        Setup(pipeline_id="fraud-ab-dev-x", others={"fraud-ab": example("fraud-ab")}),
        {("$", "name-prefix")},
        message_contains="the stack name of pipeline 'fraud-ab'",
    ),
    # jobs are named <JobNamePrefix>-<8 hex> and the stack's job rules match by that prefix: no prefix
    # may equal or fall under another's in one account and region, nor under SageMaker Pipelines'
    # own job names (issue 19; config/rules/job_names.py)
    case(
        "job-name-prefix-equal-to-another-pipelines-in-the-same-account",
        "churn-training",
        Setup(
            {"job_name": "mlops-churn-training-dev"},
            pipeline_id="evil-train",
            others={"churn-training": example("churn-training")},
        ),
        {("$.job_name", "job-name-prefix")},
        message_contains="pipeline 'churn-training'",
    ),
    case(
        "job-name-prefix-under-another-pipelines",
        "churn-training",
        Setup(
            {"job_name": "mlops-churn-training-dev-x"},
            pipeline_id="evil-train",
            others={"churn-training": example("churn-training")},
        ),
        {("$.job_name", "job-name-prefix")},
        hint_contains="neither equals nor starts with another's",
    ),
    case(
        "job-name-prefix-shared-by-two-stages-of-one-account",
        "churn-training",
        {"job_name": "churn-train", "stages": ["dev", "prod"]},
        {("$.job_name", "job-name-prefix")},
        message_contains="stage 'dev' of this pipeline",
    ),
    case(
        "job-name-prefix-under-sagemaker-pipelines-job-names",
        "churn-tuning",
        {"job_name": "pipelines"},
        {("$.job_name", "job-name-prefix")},
        message_contains="SageMaker Pipelines names its own jobs",
    ),
    case(
        "name-collision-model-package-group-created-by-two-training-pipelines",
        "defects-detector",
        Setup(
            {"model_package_group_name": "detectors"},
            pipeline_id="b",
            others={"a": with_("defects-detector", model_package_group_name="detectors")},
        ),
        {("$.model_package_group_name", "name-collision")},
    ),
    case(
        "duplicate-endpoint-scalar-one-finding-naming-the-stages",
        "churn-realtime",
        Setup(
            {"endpoint_name": "shared"},
            pipeline_id="b",
            others={"a": with_("churn-realtime", endpoint_name="shared")},
        ),
        {("$.endpoint_name", "duplicate")},
        message_contains="stages dev, staging, prod",
    ),
    case(
        "reference-missing-pipeline",
        "defects-detector",
        set_("triggers", "monitor_violations", ["churn-dq"]),
        {("$.triggers.monitor_violations[0]", "reference")},
        "did you mean 'churn-data-quality'?",
    ),
    case(
        "reference-not-a-monitor",
        "defects-detector",
        Setup(
            set_("triggers", "monitor_violations", ["churn-realtime"]),
            others={"churn-realtime": example("churn-realtime")},
        ),
        {("$.triggers.monitor_violations[0]", "reference")},
    ),
    case(
        "reference-to-itself",
        "defects-detector",
        set_("triggers", "monitor_violations", ["p"]),
        {("$.triggers.monitor_violations[0]", "reference")},
    ),
    case(
        "reference-invalid-pipeline-id",
        "defects-detector",
        set_("triggers", "monitor_violations", ["Bad_Ref"]),
        {("$.triggers.monitor_violations[0]", "reference")},
    ),
    case(
        "reference-to-unreadable-config",
        "defects-detector",
        Setup(others={"churn-data-quality": "{not json"}),
        {("$", "json-syntax"), ("$.triggers.monitor_violations[0]", "reference")},
        message_contains="unreadable config",
        absent="is a None",
    ),
    case(
        "kms-key-in-other-region-per-stage",
        "churn-realtime",
        {"kms_key_arn": {"dev": KMS, "staging": KMS, "prod": KMS_WEST}},
        {("$.kms_key_arn.prod", "kms-region")},
        "us-east-1",
    ),
    case(
        "kms-alias-in-other-region-dev-only",
        "churn-training",
        {"kms_key_arn": "arn:aws:kms:us-west-2:111122223333:alias/ml"},
        {("$.kms_key_arn", "kms-region")},
    ),
    case(
        "kms-key-scalar-in-other-region-one-finding-naming-the-stages",
        "churn-realtime",
        {"kms_key_arn": KMS_WEST},
        {("$.kms_key_arn", "kms-region")},
        message_contains="stages 'dev', 'staging', 'prod'",
    ),
    # ---- other patterns, lengths and sizes
    case(
        "length-description",
        "fraud-image",
        {"description": "x" * 1025},
        {("$.description", "length")},
    ),
    case("length-owner-empty", "churn-realtime", {"owner": ""}, {("$.owner", "length")}),
    case("length-model-name", "churn-realtime", {"model_name": "a" * 64}, {("$.model_name", "length")}),
    case("length-ecr-repo-name", "fraud-image", {"ecr_repo_name": "x"}, {("$.ecr_repo_name", "length")}),
    case(
        "pattern-model-name",
        "churn-realtime",
        {"model_name": "churn_xgb"},
        {("$.model_name", "pattern")},
        "no underscores",
    ),
    case(
        "pattern-model-name-unused-by-type",
        "fraud-image",
        {"model_name": "bad_name"},
        {("$.model_name", "pattern")},
    ),
    case(
        "pattern-metric-name-hint-keeps-the-e-g",
        "defects-detector",
        set_("evaluation", "metric_name", "1map"),
        {("$.evaluation.metric_name", "pattern")},
        "(e.g. mAP, auc, rmse)",
        absent="(e.g,",
    ),
    case(
        "pattern-endpoint-name",
        "fraud-ab",
        set_("endpoint_name", "prod", "fraud.prod"),
        {("$.endpoint_name.prod", "pattern")},
    ),
    case(
        "pattern-ecr-repo", "fraud-image", {"ecr_repo_name": "Fraud-Scorer"}, {("$.ecr_repo_name", "pattern")}
    ),
    case("pattern-image-tag", "fraud-image", {"image_tag": "-bad"}, {("$.image_tag", "pattern")}),
    # ---- what render (the templates' parameter constraints) refuses, validate refuses at the key
    case(
        "render-gap-target-attribute-quote",
        "churn-autopilot",
        {"target_attribute": '"churned'},
        {("$.target_attribute", "pattern")},
    ),
    case(
        "render-gap-cron-extra-space",
        "churn-bias",
        {"schedule_expression": "cron( 0 7 ? * * *)"},
        {("$.schedule_expression", "schedule")},
        message_contains="extra spaces",
    ),
    case(
        "render-gap-autoscaling-target-below-one",
        "churn-realtime",
        set_("autoscaling", "prod", "target_invocations_per_instance", 0.5),
        {("$.autoscaling.prod.target_invocations_per_instance", "range")},
    ),
    case(
        "render-gap-secret-arn-without-suffix",
        "customer-lake",
        set_("dms_replication", "secret_arn", "arn:aws:secretsmanager:us-east-1:111122223333:secret:crm:x"),
        {("$.dms_replication.secret_arn", "arn")},
    ),
    case(
        "render-gap-model-package-group-with-a-brace",
        "fraud-ab",
        set_(
            "model_package_name", "staging", "arn:aws:sagemaker:us-east-1:111122223333:model-package/{fraud/7"
        ),
        {("$.model_package_name.staging", "arn")},
    ),
    case(
        "render-gap-docker-bundle-not-a-zip",
        "fraud-image",
        {"custom_algorithm_docker": "s3://mlops-demo-assets/images/scorer/"},
        {("$.custom_algorithm_docker", "file-type")},
    ),
    case(
        "render-gap-evaluation-script-required",
        "defects-detector",
        set_("evaluation", "script", DEL),
        {("$.evaluation.script", "required")},
    ),
    case(
        "render-gap-processing-script-not-python",
        "defects-detector",
        set_("processing", "script", "s3://mlops-demo-assets/defects/code/preprocess.sh"),
        {("$.processing.script", "file-type")},
    ),
    case(
        "render-gap-empty-content-type",
        "defects-detector",
        set_("register", "content_types", [""]),
        {("$.register.content_types[0]", "pattern")},
    ),
    case(
        "render-gap-group-by-not-a-snowplow-column",
        "web-events",
        set_("aggregation", "group_by", ["app_id", "evnt_name"]),
        {("$.aggregation.group_by[1]", "snowplow-column")},
        "event_name",
    ),
    case(
        "render-gap-group-by-reserved-attribute",
        "web-events",
        set_("aggregation", "group_by", ["window_start"]),
        {("$.aggregation.group_by[0]", "reserved")},
    ),
    case(
        "render-gap-tuner-metric-with-a-quote",
        "churn-tuning",
        set_("tuner_configs", "objective_metric_name", '"validation:auc'),
        {("$.tuner_configs.objective_metric_name", "pattern")},
    ),
    case(
        "render-gap-feature-group-record-identifier-not-a-feature",
        "customer-lake",
        set_("feature_group", "record_identifier", "customer"),
        {("$.feature_group.record_identifier", "reference")},
        "customer_id",
    ),
    case(
        "render-gap-training-output-as-an-assets-key-is-accepted-but-a-bad-scheme-is-not",
        "churn-tuning",
        {"job_output_location": "s3:/'/mlops-demo-models/churn/tuning"},
        {("$.job_output_location", "s3-location")},
    ),
    case(
        "render-gap-dms-database-name-with-a-quote",
        "customer-lake",
        set_("dms_replication", "database_name", '"crm'),
        {("$.dms_replication.database_name", "pattern")},
    ),
    case(
        "feature-group-reference-beside-a-nameless-feature-is-no-crash",
        "customer-lake",
        chain(
            set_("feature_group", "features", 0, "name", None),
            set_("feature_group", "record_identifier", "custmer_id"),
        ),
        {("$.feature_group.features[0].name", "type"), ("$.feature_group.record_identifier", "reference")},
    ),
    # ---- ARNs and images a stage can only use in its own region (issue 14)
    case(
        "region-model-package-of-another-region",
        "fraud-ab",
        set_(
            "model_package_name",
            "prod",
            "arn:aws:sagemaker:eu-west-1:111122223333:model-package/fraud-scorer/6",
        ),
        {("$.model_package_name.prod", "region")},
        message_contains="eu-west-1",
    ),
    case(
        "region-variant-model-package-of-another-region",
        "fraud-ab",
        set_(
            "production_variants",
            "prod",
            1,
            "model_package_name",
            "arn:aws:sagemaker:us-west-2:111122223333:model-package/fraud-scorer/7",
        ),
        {("$.production_variants.prod[1].model_package_name", "region")},
    ),
    case(
        "region-ecr-image-of-another-region",
        "fraud-ab",
        {"custom_image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/fraud-scorer:2.3.0"},
        {("$.custom_image_uri", "region")},
        "us-east-1",
    ),
    case(
        "region-secret-of-another-region",
        "customer-lake",
        set_(
            "dms_replication", "secret_arn", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:crm-AbCdEf"
        ),
        {("$.dms_replication.secret_arn", "region")},
    ),
    case(
        "region-sns-topic-of-another-region",
        "fraud-ab",
        {"notify": ["arn:aws:sns:eu-west-1:111122223333:alerts"]},
        {("$.notify[0]", "region")},
    ),
    # ---- patterns follow ECMA-262 (JSON Schema), not Python's re.search (issue 14)
    case(
        "pattern-dollar-does-not-match-before-a-trailing-newline",
        "fraud-image",
        {"image_tag": "1.0\n"},
        {("$.image_tag", "pattern")},
    ),
    case(
        "pattern-model-name-trailing-newline",
        "churn-realtime",
        {"model_name": "churn\n"},
        {("$.model_name", "pattern")},
    ),
    case(
        "pattern-digits-are-ascii-fullwidth",
        "churn-realtime",
        {"model_name": "churn\uff11\uff12\uff13"},  # [0-9] and \w are ASCII in ECMA-262, as in the editors
        {("$.model_name", "pattern")},
    ),
    case(
        "arn-account-fullwidth-digits",
        "churn-realtime",
        {"kms_key_arn": KMS.replace("111122223333", "\uff11" * 12)},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "arn-account-trailing-newline",
        "churn-realtime",
        {"kms_key_arn": KMS.replace("111122223333", "111122223333\n")},
        {("$.kms_key_arn", "arn")},
    ),
    case(
        "ecr-image-uri-trailing-newline",
        "fraud-batch",
        {"custom_image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:2.3.0\n"},
        {("$.custom_image_uri", "image-uri")},
    ),
    case("pattern-zone", "customer-lake", {"zones": ["Raw"]}, {("$.zones[0]", "pattern")}),
    case(
        "pattern-subnet-id",
        "customer-lake",
        set_("dms_replication", "subnet_ids", ["subnet-1", "subnet-12345678"]),
        {("$.dms_replication.subnet_ids[0]", "pattern")},
    ),
    case(
        "pattern-batch-content-type",
        "churn-batch",
        {"batch_content_type": "csv"},
        {("$.batch_content_type", "pattern")},
    ),
    case(
        "pattern-glue-database",
        "customer-lake",
        {"glue_database_name": "Customer-Lake"},
        {("$.glue_database_name", "pattern")},
    ),
    case(
        "pattern-model-package-group",
        "defects-detector",
        {"model_package_group_name": "defects_group"},
        {("$.model_package_group_name", "pattern")},
    ),
    case("pattern-job-name", "churn-training", {"job_name": "churn_train"}, {("$.job_name", "pattern")}),
    case("size-zones", "customer-lake", {"zones": []}, {("$.zones", "size")}),
    case(
        "size-subnets",
        "customer-lake",
        set_("dms_replication", "subnet_ids", ["subnet-12345678"]),
        {("$.dms_replication.subnet_ids", "size")},
    ),
    case(
        "size-group-by",
        "web-events",
        set_("aggregation", "group_by", []),
        {("$.aggregation.group_by", "size")},
    ),
    case(
        "size-features",
        "customer-lake",
        set_("feature_group", "features", []),
        {("$.feature_group.features", "size")},
    ),
    case(
        "size-hyperparameter-ranges",
        "churn-tuning",
        {"hyperparamaters_ranges": {}},
        {("$.hyperparamaters_ranges", "size")},
    ),
    case(
        "size-hyperparameter-range",
        "churn-tuning",
        set_("hyperparamaters_ranges", "eta", ["continuous"]),
        {("$.hyperparamaters_ranges.eta", "size")},
    ),
    case(
        "duplicate-group-by",
        "web-events",
        set_("aggregation", "group_by", ["app_id", "app_id"]),
        {("$.aggregation.group_by", "duplicate")},
    ),
    case(
        "duplicate-register-instances",
        "defects-detector",
        set_("register", "inference_instances", ["ml.m5.xlarge", "ml.m5.xlarge"]),
        {("$.register.inference_instances", "duplicate")},
    ),
]


# ---------------------------------------------------------------- the test


def _validate(tmp_repo: TmpRepo, base: str, mutation: Mutation | Setup) -> tuple[int, list[dict], str]:
    setup = mutation if isinstance(mutation, Setup) else Setup(mutation)
    for other in COMPANIONS.get(base, ()):
        tmp_repo.write(other, example(other))
    for pipeline_id, config in setup.others.items():
        tmp_repo.write(pipeline_id, config)
    tmp_repo.write(setup.pipeline_id, apply(example(base), setup.mutation))
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert "Traceback" not in result.err, result.err
    return result.code, result.json["findings"], result.out + result.err


def assert_not_echoed(text: str, findings: list[dict], output: str) -> None:
    """``text`` (a secret, or wording that must be gone) appears in no finding and nowhere in the output."""
    for finding in findings:
        for key in ("message", "hint", "path"):
            assert text not in (finding.get(key) or ""), f"{key} echoes {text!r}: {finding}"
    assert text not in output, output
    assert text not in json.dumps(findings, ensure_ascii=False), findings


def test_the_table_is_big_enough_and_ids_are_unique() -> None:
    ids = [p.id for p in CASES]
    assert len(ids) >= 70
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("base", "mutation", "expected", "hint_contains", "message_contains", "absent"), CASES
)
def test_invalid_config(
    tmp_repo: TmpRepo,
    base: str,
    mutation: Mutation | Setup,
    expected: set[tuple[str, str]],
    hint_contains: str | None,
    message_contains: str | None,
    absent: str | None,
) -> None:
    code, findings, output = _validate(tmp_repo, base, mutation)
    errors = [f for f in findings if f["severity"] == "error"]
    got = {(f["path"], f["code"]) for f in errors}
    assert got == expected, json.dumps(errors, indent=1)
    assert len(errors) == len(got), "one finding per mistake: " + json.dumps(errors, indent=1)
    assert code == 1
    if hint_contains is not None:
        hints = [f["hint"] for f in errors]
        assert any(hint_contains in h for h in hints), hints
    if message_contains is not None:
        messages = [f["message"] for f in errors]
        assert any(message_contains in m for m in messages), messages
    if absent is not None:
        assert_not_echoed(absent, findings, output)


def test_an_image_builder_listing_two_stages_of_one_account_is_refused_with_the_choice_explained(
    tmp_repo,
) -> None:
    """An ECR repository name exists once per account and region
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/Repositories.html): "stages" naming two
    stages of one account would create it twice. Without "stages" it validates (test_image_builder_stages)."""
    from tests.conftest import validate_findings

    config = example("fraud-image")
    config["stages"] = ["staging", "prod"]
    findings = validate_findings(tmp_repo, config, "fraud-image")
    errors = [f for f in findings if f["severity"] == "error"]
    assert [(f["path"], f["code"]) for f in errors] == [("$.stages", "name-collision")]
    assert "stages 'staging', 'prod' in the same account and region" in errors[0]["message"]
    assert 'leave "stages" out' in errors[0]["hint"] and "'staging'" in errors[0]["hint"]


@pytest.mark.parametrize(
    "group, stage_account, expected",
    [
        pytest.param("detectors", None, [("$.model_package_group_name", "name-collision")], id="same-name"),
        pytest.param("Detectors", None, [("$.model_package_group_name", "name-collision")], id="other-case"),
        pytest.param("other-group", None, [], id="other-name"),
        pytest.param("detectors", "444455556666", [], id="stages-in-another-account"),
    ],
)
def test_a_training_pipeline_creating_a_group_the_orchestrator_creates_is_refused(
    tmp_repo, group, stage_account, expected
) -> None:
    """environments.json's orchestrator.model_package_groups are made by the orchestrator stack in
    the pipeline account; a training pipeline creating the same group there fails at create."""
    from tests.conftest import validate_findings

    env = json.loads((tmp_repo.configs / "environments.json").read_text(encoding="utf-8"))
    env["orchestrator"] = {**env.get("orchestrator", {}), "model_package_groups": [group]}
    if stage_account:
        for stage in env["stages"]:
            stage["account_id"] = stage_account
    tmp_repo.write_environments(env)
    config = with_("defects-detector", model_package_group_name="detectors")
    tmp_repo.write("churn-data-quality", example("churn-data-quality"))
    findings = validate_findings(tmp_repo, config, "b")
    errors = [f for f in findings if f["severity"] == "error"]
    assert [(f["path"], f["code"]) for f in errors] == expected
    if expected:
        assert "orchestrator.model_package_groups[0]" in errors[0]["message"]
        assert "orchestrator.model_package_groups" in errors[0]["hint"]


def test_a_pipeline_whose_stack_would_be_a_bootstrap_stack_is_refused(tmp_repo) -> None:
    """<prefix>-bootstrap-assets is bootstrap's (ops/bootstrap.py): pipeline 'bootstrap' in a stage
    named 'assets' would deploy over it."""
    from tests.conftest import example, validate_findings

    tmp_repo.write_environments(
        {"stack_prefix": "mlops", "region": "us-east-1", "stages": [{"name": "assets"}, {"name": "prod"}]}
    )
    config = example("churn-batch")
    config["batch_inference_data"] = "s3://mlops-demo-data/churn/batch/input.csv"
    findings = validate_findings(tmp_repo, config, "bootstrap")
    # every id that could name a bootstrap stack starts with a reserved word (names.RESERVED_ID_WORDS)
    assert ("$", "name-reserved") in {(f["path"], f["code"]) for f in findings}
    (finding,) = [f for f in findings if f["code"] == "name-reserved"]
    assert "'mlops-bootstrap-' belong to mlopsctl bootstrap's" in finding["message"]


def test_a_pipeline_id_bootstrap_reserves_is_refused(tmp_repo) -> None:
    """An id `deploy-churn` names its resources mlops-deploy-churn-<stage>-..., which the boundary
    reserves for bootstrap's deploy projects and buckets (names.RESERVED_ID_WORDS)."""
    from tests.conftest import example, validate_findings

    findings = validate_findings(tmp_repo, example("churn-batch"), "deploy-churn")
    reserved = [f for f in findings if f["code"] == "name-reserved"]
    assert [(f["path"], f["severity"]) for f in reserved] == [("$", "error")]
    assert "starts with 'deploy'" in reserved[0]["message"]
    assert "pipeline-configs/deploy-churn/" in reserved[0]["hint"]
    later = validate_findings(tmp_repo, example("churn-batch"), "deployment-churn")
    assert not [f for f in later if f["code"] == "name-reserved" and "deployment-churn" in f["file"]]
