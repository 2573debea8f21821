"""Parameters of the real-time reporting template (Kinesis -> Lambda -> DynamoDB)."""

from __future__ import annotations

from mlops_gitops import lambdas, names
from mlops_gitops.config.rules.types import aggregator_names
from mlops_gitops.core.params.base import Deferred, ParamContext, Params, kms_key_arn, notification_topic

# The schema's defaults (the config carries only what the user wrote).
DEFAULTS = {
    "event_format": "json",
    "stream_mode": "ON_DEMAND",
    "shard_count": 1,
    "stream_retention_hours": 24,
    "batch_size": 100,
    "lambda_memory_mb": 256,
    "window_seconds": 300,
}


def reporting_parameters(ctx: ParamContext) -> tuple[Params, Deferred]:
    event_format = ctx.value("event_format", DEFAULTS["event_format"])
    aggregation = ctx.value("aggregation") or {}
    group_by = list(aggregation.get("group_by") or [])
    # read from the Lambda's source: importing it would load boto3, which validate never does
    RESERVED_ATTRIBUTES, SNOWPLOW_INDEX = aggregator_names()  # noqa: N806
    for index, name in enumerate(group_by):
        path = ["aggregation", "group_by", index]
        if name in RESERVED_ATTRIBUTES:
            ctx.fail(
                path,
                "reserved",
                f"group_by field {name!r} is an attribute the results table uses itself",
                f"rename the event field; reserved: {', '.join(RESERVED_ATTRIBUTES)}",
            )
        elif event_format == "snowplow_enriched_tsv" and name not in SNOWPLOW_INDEX:
            ctx.fail(
                path,
                "snowplow-column",
                f"group_by field {name!r} is not a column of a Snowplow enriched event",
                "use a column name such as app_id, platform, event, event_name or geo_country",
            )
    kms = kms_key_arn(ctx, "the Lambda")
    stream_mode = ctx.value("stream_mode", DEFAULTS["stream_mode"])
    ttl_days = aggregation.get("ttl_days")
    params = {
        "NamePrefix": names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage),
        "EventFormat": event_format,
        "GroupBy": ",".join(group_by),
        "WindowSeconds": str(aggregation.get("window_seconds", DEFAULTS["window_seconds"])),
        "TtlDays": str(ttl_days) if ttl_days else "0",
        "StreamMode": stream_mode,
        # ignored by the template in ON_DEMAND mode; passed as 1 so it does not churn the stack
        "ShardCount": str(ctx.value("shard_count", DEFAULTS["shard_count"]))
        if stream_mode == "PROVISIONED"
        else "1",
        "StreamRetentionHours": str(ctx.value("stream_retention_hours", DEFAULTS["stream_retention_hours"])),
        "KmsKeyArn": kms,
        "BatchSize": str(ctx.value("batch_size", DEFAULTS["batch_size"])),
        "LambdaMemoryMb": str(ctx.value("lambda_memory_mb", DEFAULTS["lambda_memory_mb"])),
        "AggregatorLambdaKey": lambdas.package("event_aggregator").key,
        "NotificationTopicArn": notification_topic(ctx),
    }
    return params, {}


BUILDERS = {"realtime_reporting.yaml": reporting_parameters}
