"""What the AWS smoke test deploys: the cheapest pipeline of each template, in one stage.

Each config reads its inputs from the smoke's own data bucket (``{data}`` below), which the run
creates, fills with the files of ``fixtures.py`` and deletes at the end. The choices keep a run
cheap and short on a real account:

- the smallest instance each SageMaker job or endpoint accepts (ml.t2.medium for a real-time
  endpoint; ml.m5.large where t-types are refused: transform, training, processing), one instance,
  no autoscaling, no spot waits;
- runtimes capped at 15 minutes per job;
- no DMS replication and no online feature store in the lake (both bill by the hour);
- one provisioned Kinesis shard (cheaper than on-demand for an hour) and the smallest Lambda;
- the training pipeline is deployed but not started: its definition is checked, not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAGE = "dev"
# Cap for every job the smoke starts (seconds); `make aws-smoke` also bounds the whole run.
JOB_SECONDS = 900


@dataclass(frozen=True)
class SmokePipeline:
    pipeline_id: str
    template: str  # cloudformation/pipelines/<template>.yaml
    config: dict[str, Any]
    # instance types this pipeline runs on, for the cost report (and the cheapest-choice test)
    instances: tuple[str, ...] = field(default=())
    # jobs a real account runs after the deploy (moto runs none): what the health check waits for
    jobs: tuple[str, ...] = field(default=())


def pipelines(prefix: str, data: str) -> list[SmokePipeline]:
    """The smoke's pipelines, with ``data`` (the data bucket) filled in."""
    endpoint = f"{prefix}-smoke-realtime-{STAGE}"
    s3 = f"s3://{data}"
    return [
        SmokePipeline(
            "smoke-realtime",
            "realtime_inference",
            {
                "pipeline_type": "byom_realtime_builtin",
                "description": "Smoke: the built-in XGBoost image on the smallest endpoint instance.",
                "model_name": "smoke-xgb",
                "model_framework": "xgboost",
                "model_framework_version": "1.7-1",
                "model_artifact_location": f"{s3}/model/model.tar.gz",
                "inference_instance": "ml.t2.medium",
                "instance_count": 1,
                "data_capture_location": f"{s3}/capture",
                "data_capture_sampling_percentage": 100,
            },
            instances=("ml.t2.medium",),
        ),
        SmokePipeline(
            "smoke-monitor",
            "model_monitor",
            {
                "pipeline_type": "byom_data_quality_monitor",
                "description": "Smoke: a data-quality monitor of the smoke endpoint.",
                "model_name": "smoke-xgb",
                "endpoint_name": endpoint,
                "baseline_data": f"{s3}/baseline/train-with-header.csv",
                "baseline_job_output_location": f"{s3}/monitoring/baseline",
                "data_capture_location": f"{s3}/capture",
                "monitoring_output_location": f"{s3}/monitoring/reports",
                "schedule_expression": "cron(0 0 ? * * *)",
                "instance_type": "ml.m5.large",
                "instance_volume_size": 20,
                "baseline_max_runtime_seconds": JOB_SECONDS,
                "monitor_max_runtime_seconds": JOB_SECONDS,
            },
            instances=("ml.m5.large",),
            jobs=("data-quality baseline (processing job)",),
        ),
        SmokePipeline(
            "smoke-batch",
            "batch_inference",
            {
                "pipeline_type": "byom_batch_builtin",
                "description": "Smoke: one batch transform of ten rows.",
                "model_name": "smoke-xgb-batch",
                "model_framework": "xgboost",
                "model_framework_version": "1.7-1",
                "model_artifact_location": f"{s3}/model/model.tar.gz",
                "inference_instance": "ml.m5.large",
                "batch_inference_data": f"{s3}/batch/input.csv",
                "batch_job_output_location": f"{s3}/batch-output",
            },
            instances=("ml.m5.large",),
            jobs=("batch transform (state machine execution)",),
        ),
        SmokePipeline(
            "smoke-training",
            "model_training",
            {
                "pipeline_type": "model_training_builtin",
                "description": "Smoke: ten boosting rounds of XGBoost on a hundred rows.",
                "model_name": "smoke-xgb-training",
                "model_framework": "xgboost",
                "model_framework_version": "1.7-1",
                "training_data": f"{s3}/train/",
                "validation_data": f"{s3}/validation/",
                "job_output_location": f"{s3}/training",
                "algo_hyperparamaters": {"objective": "binary:logistic", "num_round": "10"},
                "instance_type": "ml.m5.large",
                "instance_count": 1,
                "instance_volume_size": 5,
                "max_runtime_per_job": JOB_SECONDS,
                "content_type": "csv",
            },
            instances=("ml.m5.large",),
            jobs=("training job",),
        ),
        SmokePipeline(
            "smoke-training-pipeline",
            "model_training_pipeline",
            {
                "pipeline_type": "model_training_pipeline",
                "description": "Smoke: a SageMaker pipeline definition, deployed and not started.",
                "model_name": "smoke-pipeline",
                "model_framework": "xgboost",
                "model_framework_version": "1.7-1",
                "training_data": f"{s3}/train/",
                "job_output_location": f"{s3}/pipeline",
                "algo_hyperparamaters": {"objective": "binary:logistic", "num_round": 10},
                "instance_type": "ml.m5.large",
                "max_runtime_per_job": JOB_SECONDS,
                "training": {"entry_point": "train.py", "source_dir": f"{s3}/code/sourcedir.tar.gz"},
                "processing": {"script": f"{s3}/code/preprocess.py", "instance_type": "ml.m5.large"},
                "evaluation": {
                    "script": f"{s3}/code/evaluate.py",
                    "metric_name": "auc",
                    "threshold": 0.5,
                    "comparison": "GreaterThanOrEqualTo",
                },
                "register": {"inference_instances": ["ml.m5.large"], "content_types": ["text/csv"]},
            },
        ),
        SmokePipeline(
            "smoke-image",
            "image_builder",
            {
                "pipeline_type": "byom_image_builder",
                "description": "Smoke: a one-line image from AWS's public gallery (no Docker Hub pull).",
                "custom_algorithm_docker": f"{s3}/image/bundle.zip",
                "ecr_repo_name": f"{prefix}-smoke-image",
                "image_tag": "1",
            },
            jobs=("image build (CodeBuild)",),
        ),
        SmokePipeline(
            "smoke-lake",
            "data_lake",
            {
                "pipeline_type": "data_lake",
                "description": "Smoke: the lake's buckets, Glue database and crawler; no DMS, offline features only.",
                "zones": ["raw"],
                "glue_database_name": f"{prefix.replace('-', '_')}_smoke_lake",
                "crawler_schedule": "cron(0 3 * * ? *)",
                "feature_group": {
                    "record_identifier": "customer_id",
                    "event_time": "event_time",
                    "online_store": False,
                    "features": [
                        {"name": "customer_id", "type": "String"},
                        {"name": "event_time", "type": "String"},
                        {"name": "tenure_months", "type": "Integral"},
                    ],
                },
            },
        ),
        SmokePipeline(
            "smoke-reporting",
            "realtime_reporting",
            {
                "pipeline_type": "realtime_reporting",
                "description": "Smoke: one provisioned shard and the smallest aggregator.",
                "event_format": "json",
                "stream_mode": "PROVISIONED",
                "shard_count": 1,
                "stream_retention_hours": 24,
                "aggregation": {"group_by": ["app_id"], "window_seconds": 60, "ttl_days": 1},
                "batch_size": 10,
                "lambda_memory_mb": 128,
            },
        ),
    ]


def environments(prefix: str, region: str, data: str, source: dict[str, str] | None = None) -> dict[str, Any]:
    """environments.json of the smoke repository: one stage, no approvals, nothing protected."""
    orchestrator: dict[str, Any] = {"repository_name": f"{prefix}-smoke", "drift_schedule": "rate(7 days)"}
    orchestrator.update(source or {})
    return {
        "stack_prefix": prefix,
        "region": region,
        "assets_bucket": data,
        "stages": [{"name": STAGE, "approval": False, "protected": False}],
        "orchestrator": orchestrator,
    }


def update(config: dict[str, Any]) -> dict[str, Any]:
    """The one update the smoke makes (to smoke-realtime): sample half the requests, not all."""
    return {**config, "data_capture_sampling_percentage": 50}
