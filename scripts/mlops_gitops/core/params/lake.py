"""Parameters of the data lake template (data_lake).

The default lake bucket name, <stack_prefix>-<pipeline-id>-<stage>-<account>, is built by the
template (``${NamePrefix}-${AWS::AccountId}`` when LakeBucketName is empty): CloudFormation always
knows the account it deploys to, so nothing is deferred to deploy and environments.json needs no
account_id. Lists become CommaDelimitedList parameters plus a count that switches the template's
fixed slots on; the DMS table mappings are rendered here as the JSON string DMS takes.
"""

from __future__ import annotations

import json
from typing import Any

from mlops_gitops import names
from mlops_gitops.core.params.base import Deferred, ParamContext, Params, number

DEFAULT_ZONES = ("raw", "curated")
DEFAULT_PARTITION_KEYS = ("year", "month", "day")
DEFAULT_CRAWLER_SCHEDULE = "cron(0 2 * * ? *)"
DEFAULT_GLACIER_DAYS = 90
# Slots of data_lake.yaml (crawler targets, feature definitions); tests/unit/core/params/test_lake_params.py
# checks that the template has exactly these.
MAX_ZONES = 10
MAX_FEATURES = 100
# Prefixes of the lake bucket that the template uses itself.
RESERVED_PREFIXES = ("athena-results", "feature-store")
# Columns Feature Store adds to every offline-store table.
RESERVED_FEATURES = ("write_time", "api_invocation_time", "is_deleted")
# CloudFormation refuses a parameter value over 4,096 bytes.
PARAMETER_VALUE_MAX = 4096


def default_glue_database(prefix: str, pipeline_id: str, stage: str) -> str:
    """<stack_prefix>_<pipeline_id>_<stage>, '-' as '_'. The stage is part of the name because stages
    may share an account, where a Glue database name can exist only once per region."""
    return names.resource_base_name(prefix, pipeline_id, stage).replace("-", "_")


def lake_parameters(ctx: ParamContext) -> tuple[Params, Deferred]:
    prefix = names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage)
    zones = list(ctx.value("zones") or DEFAULT_ZONES)
    keys = ctx.value("partition_keys")
    keys = list(DEFAULT_PARTITION_KEYS if keys is None else keys)
    params: Params = {
        "NamePrefix": prefix,
        "LakeBucketName": _bucket_name(ctx),
        "Zones": _joined(ctx, ["zones"], zones),
        "ZoneCount": str(len(zones)),
        "PartitionKeys": _joined(ctx, ["partition_keys"], keys),
        "GlacierTransitionDays": number(ctx.value("glacier_transition_days", DEFAULT_GLACIER_DAYS)),
        "ExpirationDays": number(ctx.value("expiration_days") or 0),
        "KmsKeyArn": ctx.value("kms_key_arn", "") or "",
        "GlueDatabaseName": ctx.value("glue_database_name")
        or default_glue_database(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage),
        "CrawlerSchedule": ctx.value("crawler_schedule") or DEFAULT_CRAWLER_SCHEDULE,
        "AthenaBytesScannedCutoff": number(ctx.value("athena_bytes_scanned_cutoff") or 0),
    }
    _check_zones(ctx, zones)
    params.update(_dms(ctx, zones))
    params.update(_feature_group(ctx, prefix))
    return params, {}


def _bucket_name(ctx: ParamContext) -> str:
    """The configured name, or "" for the template's per-stage default. S3 names are global: one
    name for two stages means the second stage's stack can never be created."""
    name = ctx.value("lake_bucket_name") or ""
    if name:
        sharing = [s for s in ctx.cfg.stages if ctx.cfg.by_stage[s].get("lake_bucket_name") == name]
        if len(sharing) > 1:
            ctx.fail(
                ["lake_bucket_name"],
                "duplicate",
                f"the lake bucket {name!r} is named for stages {', '.join(sharing)}, "
                "but S3 bucket names are global, so only one stage's stack could create it",
                "remove lake_bucket_name to get one bucket per stage (<stack_prefix>-<id>-<stage>-<account>), "
                "or deploy this pipeline to one stage",
            )
    return name


def _check_zones(ctx: ParamContext, zones: list[str]) -> None:
    if len(zones) > MAX_ZONES:
        ctx.fail(
            ["zones"],
            "too-many",
            f"{len(zones)} zones, but the data_lake template crawls at most {MAX_ZONES}",
            f"merge zones, or keep at most {MAX_ZONES}",
        )
    for index, zone in enumerate(zones):
        if zone in RESERVED_PREFIXES:
            ctx.fail(
                ["zones", index],
                "reserved",
                f"zone {zone!r} is a prefix the data lake uses itself",
                f"pick another name than {', '.join(RESERVED_PREFIXES)}",
            )


def _dms(ctx: ParamContext, zones: list[str]) -> Params:
    dms = ctx.value("dms_replication")
    if not isinstance(dms, dict):
        # all passed, so a stack that drops DMS really drops it (no stale previous values)
        return {
            "DmsEngine": "",
            "DmsSecretArn": "",
            "DmsDatabaseName": "",
            "DmsTableMappings": "",
            "DmsSubnetIds": "",
            "DmsSecurityGroupIds": "",
            "DmsTargetZone": _raw_zone(zones),
        }
    return {
        "DmsEngine": dms["engine"],
        "DmsSecretArn": dms["secret_arn"],
        "DmsDatabaseName": dms["database_name"],
        "DmsTableMappings": table_mappings(dms.get("include_schemas") or []),
        "DmsMigrationType": dms.get("migration_type", "full-load-and-cdc"),
        "DmsReplicationInstanceClass": dms.get("replication_instance_class", "dms.t3.medium"),
        "DmsSubnetIds": ",".join(dms.get("subnet_ids") or []),
        "DmsSecurityGroupIds": ",".join(dms.get("security_group_ids") or []),
        "DmsTargetZone": _raw_zone(zones),
    }


def _raw_zone(zones: list[str]) -> str:
    """DMS lands data in the zone called raw, else in the first zone."""
    return "raw" if "raw" in zones else zones[0]


def table_mappings(schemas: list[str]) -> str:
    """DMS selection rules: every table of each listed schema, or of every schema."""
    rules = [
        {
            "rule-type": "selection",
            "rule-id": str(index),
            "rule-name": f"include-{index}",
            "object-locator": {"schema-name": schema, "table-name": "%"},
            "rule-action": "include",
        }
        for index, schema in enumerate(schemas or ["%"], start=1)
    ]
    return json.dumps({"rules": rules}, separators=(",", ":"))


def _feature_group(ctx: ParamContext, prefix: str) -> Params:
    group = ctx.value("feature_group")
    if not isinstance(group, dict):
        return {
            "FeatureGroupName": "",
            "FeatureRecordIdentifier": "",
            "FeatureEventTime": "",
            "FeatureNames": "",
            "FeatureTypes": "",
            "FeatureCount": "0",
        }
    features: list[dict[str, Any]] = group["features"]
    _check_features(ctx, group, features)
    return {
        "FeatureGroupName": group.get("name") or prefix,
        "FeatureRecordIdentifier": group["record_identifier"],
        "FeatureEventTime": group["event_time"],
        # a nested flag keeps MWO's string forms ("True"): normalize converts top-level fields only
        "FeatureOnlineStore": "true" if str(group.get("online_store", False)).lower() == "true" else "false",
        "FeatureNames": _joined(ctx, ["feature_group", "features"], [f["name"] for f in features]),
        "FeatureTypes": ",".join(f["type"] for f in features),
        "FeatureCount": str(len(features)),
    }


def _check_features(ctx: ParamContext, group: dict[str, Any], features: list[dict[str, Any]]) -> None:
    path = ["feature_group", "features"]
    if len(features) > MAX_FEATURES:
        ctx.fail(
            path,
            "too-many",
            f"{len(features)} features, but the data_lake template defines at most {MAX_FEATURES}",
            f"split the features over feature groups of at most {MAX_FEATURES}",
        )
    types: dict[str, str] = {}
    for index, feature in enumerate(features):
        key = feature["name"].lower()
        if key in types:
            ctx.fail(
                [*path, index, "name"],
                "duplicate",
                f"feature {feature['name']!r} is defined twice (Feature Store ignores case)",
                "keep one definition per feature",
            )
        if key in RESERVED_FEATURES:
            ctx.fail(
                [*path, index, "name"],
                "reserved",
                f"feature name {feature['name']!r} is a column Feature Store adds itself",
                f"rename it; {', '.join(RESERVED_FEATURES)} are reserved",
            )
        types[key] = feature["type"]
    for field in ("record_identifier", "event_time"):
        name = group[field]
        if name.lower() not in types:
            ctx.fail(
                ["feature_group", field],
                "reference",
                f"{field} {name!r} is not one of the features",
                "name a feature listed under feature_group.features",
            )
    event_type = types.get(group["event_time"].lower())
    if event_type not in (None, "String", "Fractional"):
        ctx.fail(
            ["feature_group", "event_time"],
            "type",
            f"event_time {group['event_time']!r} is an {event_type} feature; Feature Store needs String or Fractional",
            "make the event time feature a String (ISO-8601) or Fractional (Unix seconds)",
        )


def _joined(ctx: ParamContext, path: list, items: list[str]) -> str:
    value = ",".join(items)
    if len(value.encode("utf-8")) > PARAMETER_VALUE_MAX:
        ctx.fail(
            path,
            "too-long",
            f"the names join to {len(value.encode('utf-8'))} bytes, over CloudFormation's "
            f"{PARAMETER_VALUE_MAX} per parameter",
            "use fewer or shorter names",
        )
    return value


BUILDERS = {"data_lake.yaml": lake_parameters}
