"""Event aggregator Lambda: Kinesis records -> event counts per group and time window in DynamoDB.

Triggered by a Kinesis event source mapping (one shard per invocation, in order). Each record is one
event, either a JSON object or a Snowplow enriched event (TSV). Events are counted per
(group_by values, tumbling window) and each count is added to its DynamoDB row with one UpdateItem.

Environment
    TABLE_NAME      the results table; key ``group_key`` (S, hash) + ``window_start`` (N, range)
    EVENT_FORMAT    ``json`` or ``snowplow_enriched_tsv``
    GROUP_BY        comma-separated event fields forming a row's key, e.g. ``app_id,event_name``
    WINDOW_SECONDS  tumbling window size in seconds
    TTL_DAYS        days a row is kept after its window ends (attribute ``expires_at``); 0 - forever

Events
    json                   one JSON object per record; group_by fields are top-level keys whose
                           values are strings, numbers, booleans or null. Event time: the first of
                           ``derived_tstamp``, ``collector_tstamp``, ``timestamp`` present (ISO 8601
                           string, or epoch seconds or milliseconds).
    snowplow_enriched_tsv  one enriched event per record: exactly 131 tab-separated fields in the
                           standard column order (SNOWPLOW_COLUMNS: app_id is column 0, event - the
                           event type such as page_view or unstruct - column 5, event_name column
                           126). group_by fields are column names. Event time: derived_tstamp
                           (column 124), else collector_tstamp (column 3), as Snowplow writes them
                           (``2024-05-01 12:34:56.789``, UTC).
    An event without a timestamp is placed by the record's Kinesis arrival time. A missing or empty
    group_by field counts as "". KPL-aggregated records are not de-aggregated.

Rows
    group_key      JSON array of the group_by values in order, e.g. ``["web","page_view"]``
    window_start   epoch seconds of the window's start; ``window_end`` its end
    <group field>  each group_by value, as its own attribute (for reading rows back)
    event_count    the count (ADD, so concurrent shards add up)
    expires_at     window end + TTL_DAYS (only with TTL_DAYS)
    seq:<shard>    the highest sequence number of that shard counted in this row (see below)

Malformed records (not base64, not UTF-8, not a JSON object, wrong TSV width, a timestamp that is
not a time between 1970 and 2100, a nested group_by value, a group key over DynamoDB's 2048 bytes) are skipped and counted, never retried. Events whose row would already have
expired are skipped and counted too. A failed DynamoDB call fails the invocation: the mapping
retries (bisecting the batch), then sends the batch's description to the on-failure queue.

Idempotency: Kinesis delivers a shard's records in order and retries replay records already seen.
Each UpdateItem carries the condition "this shard's stored sequence number is below the first
sequence number counted now", and stores the last one. A replayed row is refused by DynamoDB; the
refusal returns the stored number (ReturnValuesOnConditionCheckFailure), and only records after it
are counted. The guard assumes one batch per shard at a time (ParallelizationFactor 1).

Each invocation logs one CloudWatch embedded-metric line (namespace MlopsGitops/RealtimeReporting).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

# The standard column order of a Snowplow enriched event (TSV, 131 fields).
SNOWPLOW_COLUMNS = (
    "app_id", "platform", "etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "event",
    "event_id", "txn_id", "name_tracker", "v_tracker", "v_collector", "v_etl", "user_id",
    "user_ipaddress", "user_fingerprint", "domain_userid", "domain_sessionidx", "network_userid",
    "geo_country", "geo_region", "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude",
    "geo_region_name", "ip_isp", "ip_organization", "ip_domain", "ip_netspeed", "page_url",
    "page_title", "page_referrer", "page_urlscheme", "page_urlhost", "page_urlport", "page_urlpath",
    "page_urlquery", "page_urlfragment", "refr_urlscheme", "refr_urlhost", "refr_urlport",
    "refr_urlpath", "refr_urlquery", "refr_urlfragment", "refr_medium", "refr_source", "refr_term",
    "mkt_medium", "mkt_source", "mkt_term", "mkt_content", "mkt_campaign", "contexts",
    "se_category", "se_action", "se_label", "se_property", "se_value", "unstruct_event",
    "tr_orderid", "tr_affiliation", "tr_total", "tr_tax", "tr_shipping", "tr_city", "tr_state",
    "tr_country", "ti_orderid", "ti_sku", "ti_name", "ti_category", "ti_price", "ti_quantity",
    "pp_xoffset_min", "pp_xoffset_max", "pp_yoffset_min", "pp_yoffset_max", "useragent", "br_name",
    "br_family", "br_version", "br_type", "br_renderengine", "br_lang", "br_features_pdf",
    "br_features_flash", "br_features_java", "br_features_director", "br_features_quicktime",
    "br_features_realplayer", "br_features_windowsmedia", "br_features_gears",
    "br_features_silverlight", "br_cookies", "br_colordepth", "br_viewwidth", "br_viewheight",
    "os_name", "os_family", "os_manufacturer", "os_timezone", "dvce_type", "dvce_ismobile",
    "dvce_screenwidth", "dvce_screenheight", "doc_charset", "doc_width", "doc_height",
    "tr_currency", "tr_total_base", "tr_tax_base", "tr_shipping_base", "ti_currency",
    "ti_price_base", "base_currency", "geo_timezone", "mkt_clickid", "mkt_network", "etl_tags",
    "dvce_sent_tstamp", "refr_domain_userid", "refr_device_tstamp", "derived_contexts",
    "domain_sessionid", "derived_tstamp", "event_vendor", "event_name", "event_format",
    "event_version", "event_fingerprint", "true_tstamp",
)  # fmt: skip
SNOWPLOW_INDEX = {name: index for index, name in enumerate(SNOWPLOW_COLUMNS)}
SNOWPLOW_TIME_COLUMNS = ("derived_tstamp", "collector_tstamp")
JSON_TIME_FIELDS = ("derived_tstamp", "collector_tstamp", "timestamp")
FORMATS = ("json", "snowplow_enriched_tsv")
# Attributes of a row that a group_by field may not take over.
RESERVED_ATTRIBUTES = ("group_key", "window_start", "window_end", "event_count", "expires_at")
SEQUENCE_WIDTH = 129  # Kinesis sequence numbers have at most 129 digits; padded, strings compare as numbers
MAX_GUARD_ROUNDS = 5
MAX_GROUP_KEY_BYTES = 2048  # DynamoDB's limit on a partition key value
LATEST_TIME = 4102444800  # 2100-01-01T00:00:00Z: later event times are clock errors
METRICS_NAMESPACE = "MlopsGitops/RealtimeReporting"

_client = None
_clock = time.time  # replaced in tests


def _dynamodb():
    global _client
    if _client is None:
        _client = boto3.client("dynamodb")
    return _client


class MalformedRecord(ValueError):
    """A record that can never be counted (skipped, not retried)."""


@dataclass(frozen=True)
class Settings:
    table: str
    event_format: str
    group_by: tuple[str, ...]
    window_seconds: int
    ttl_days: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The function's settings; ValueError on a misconfiguration (every invocation then fails
        loudly rather than counting wrongly)."""
        event_format = env.get("EVENT_FORMAT", "json")
        if event_format not in FORMATS:
            raise ValueError(f"EVENT_FORMAT {event_format!r} is not one of {FORMATS}")
        group_by = tuple(f.strip() for f in env.get("GROUP_BY", "").split(",") if f.strip())
        if not group_by:
            raise ValueError("GROUP_BY names no field")
        for name in group_by:
            if name in RESERVED_ATTRIBUTES or name.startswith("seq:"):
                raise ValueError(f"GROUP_BY field {name!r} is a reserved attribute of the table")
            if event_format == "snowplow_enriched_tsv" and name not in SNOWPLOW_INDEX:
                raise ValueError(f"GROUP_BY field {name!r} is not a Snowplow enriched event column")
        window = int(env.get("WINDOW_SECONDS", "300"))
        ttl = int(env.get("TTL_DAYS", "0"))
        if window < 1 or ttl < 0:
            raise ValueError("WINDOW_SECONDS must be positive and TTL_DAYS not negative")
        return cls(env["TABLE_NAME"], event_format, group_by, window, ttl)


@dataclass
class Contribution:
    """The events of one batch counted into one row from one shard."""

    values: tuple[str, ...]
    sequences: list[int] = field(default_factory=list)


@dataclass
class Summary:
    received: int = 0
    aggregated: int = 0
    malformed: int = 0
    expired: int = 0
    duplicate: int = 0
    rows_updated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "RecordsReceived": self.received,
            "RecordsAggregated": self.aggregated,
            "RecordsMalformed": self.malformed,
            "RecordsExpired": self.expired,
            "RecordsDuplicate": self.duplicate,
            "RowsUpdated": self.rows_updated,
        }


# ------------------------------------------------------------------------------------ parsing


def parse_time(value: Any) -> float:
    """Epoch seconds of an ISO 8601 / Snowplow timestamp, or of epoch seconds or milliseconds."""
    if isinstance(value, bool):
        raise MalformedRecord(f"timestamp {value!r} is not a time")
    if isinstance(value, (int, float)):
        seconds = float(value) / 1000 if abs(value) >= 1e11 else float(value)  # 1e11 s is year 5138
        return _in_range(value, seconds)
    if not isinstance(value, str):
        raise MalformedRecord(f"timestamp {value!r} is not a time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedRecord(f"timestamp {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Snowplow timestamps are UTC without a zone
    return _in_range(value, moment.timestamp())


def _in_range(value: Any, seconds: float) -> float:
    if not (math.isfinite(seconds) and 0 <= seconds < LATEST_TIME):
        raise MalformedRecord(f"timestamp {value!r} is not between 1970 and 2100")
    return seconds


def _scalar(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    raise MalformedRecord(f"group_by field {name!r} is not a string, number, boolean or null")


def parse_event(data: bytes, settings: Settings, arrival: float) -> tuple[tuple[str, ...], float]:
    """(group_by values, event time in epoch seconds) of one record's payload."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRecord("the record is not UTF-8") from None
    if settings.event_format == "snowplow_enriched_tsv":
        columns = text.rstrip("\r\n").split("\t")
        if len(columns) != len(SNOWPLOW_COLUMNS):
            raise MalformedRecord(
                f"a Snowplow enriched event has {len(SNOWPLOW_COLUMNS)} tab-separated fields, this record {len(columns)}"
            )
        values = tuple(columns[SNOWPLOW_INDEX[name]] for name in settings.group_by)
        stamps = [columns[SNOWPLOW_INDEX[name]] for name in SNOWPLOW_TIME_COLUMNS]
        stamp = next((s for s in stamps if s), None)
        return values, parse_time(stamp) if stamp else arrival
    try:
        event = json.loads(text)
    except ValueError:
        raise MalformedRecord("the record is not JSON") from None
    if not isinstance(event, dict):
        raise MalformedRecord("the record is not a JSON object")
    values = tuple(_scalar(name, event.get(name)) for name in settings.group_by)
    stamp = next((event[name] for name in JSON_TIME_FIELDS if event.get(name) not in (None, "")), None)
    return values, parse_time(stamp) if stamp is not None else arrival


def _decode(data: Any) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise MalformedRecord("the record's data is not base64") from None


def window_start(moment: float, window_seconds: int) -> int:
    return int(moment // window_seconds) * window_seconds


def aggregate(
    records: list[dict[str, Any]], settings: Settings, now: float, summary: Summary
) -> dict[tuple[str, int, str], Contribution]:
    """Contributions keyed by (group_key, window_start, shard id), in first-seen order."""
    rows: dict[tuple[str, int, str], Contribution] = {}
    for record in records:
        summary.received += 1
        kinesis = record.get("kinesis") or {}
        shard = str(record.get("eventID", "")).split(":", 1)[0] or "shardId-unknown"
        try:
            sequence = int(kinesis["sequenceNumber"])
            data = _decode(kinesis.get("data", ""))
            arrival = float(kinesis.get("approximateArrivalTimestamp") or now)
            values, moment = parse_event(data, settings, arrival)
        except (MalformedRecord, KeyError, ValueError, TypeError, OverflowError) as exc:
            summary.malformed += 1
            reason = exc if isinstance(exc, MalformedRecord) else f"{type(exc).__name__}: {exc}"
            if summary.malformed <= 10:  # the reason, never the content (events may carry personal data)
                LOG.warning(
                    "skipped malformed record %s of %s: %s", kinesis.get("sequenceNumber"), shard, reason
                )
            continue
        group_key = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
        if len(group_key.encode("utf-8")) > MAX_GROUP_KEY_BYTES:
            summary.malformed += 1
            LOG.warning("skipped record %s of %s: its group key is over 2048 bytes", sequence, shard)
            continue
        start = window_start(moment, settings.window_seconds)
        if settings.ttl_days and _expires_at(start, settings) <= now:
            summary.expired += 1
            continue
        key = (group_key, start, shard)
        rows.setdefault(key, Contribution(values)).sequences.append(sequence)
        summary.aggregated += 1
    return rows


def _expires_at(start: int, settings: Settings) -> int:
    return start + settings.window_seconds + settings.ttl_days * 86400


# ------------------------------------------------------------------------------------ writing


def _padded(sequence: int) -> str:
    return str(sequence).zfill(SEQUENCE_WIDTH)


def update_request(
    settings: Settings, group_key: str, start: int, shard: str, values: tuple[str, ...], sequences: list[int]
) -> dict[str, Any]:
    """The UpdateItem request adding ``len(sequences)`` events of ``shard`` to one row."""
    names = {"#count": "event_count", "#end": "window_end", "#seq": f"seq:{shard}"}
    attributes = {
        ":n": {"N": str(len(sequences))},
        ":end": {"N": str(start + settings.window_seconds)},
        ":first": {"S": _padded(min(sequences))},
        ":last": {"S": _padded(max(sequences))},
    }
    sets = ["#end = :end", "#seq = :last"]
    for index, (name, value) in enumerate(zip(settings.group_by, values, strict=True)):
        names[f"#g{index}"] = name
        attributes[f":g{index}"] = {"S": value}
        sets.append(f"#g{index} = :g{index}")
    if settings.ttl_days:
        names["#exp"] = "expires_at"
        attributes[":exp"] = {"N": str(_expires_at(start, settings))}
        sets.append("#exp = :exp")
    return {
        "TableName": settings.table,
        "Key": {"group_key": {"S": group_key}, "window_start": {"N": str(start)}},
        "UpdateExpression": f"ADD #count :n SET {', '.join(sets)}",
        "ConditionExpression": "attribute_not_exists(#seq) OR #seq < :first",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": attributes,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def write_row(
    client: Any, settings: Settings, key: tuple[str, int, str], row: Contribution, summary: Summary
) -> None:
    group_key, start, shard = key
    pending = sorted(row.sequences)
    for _ in range(MAX_GUARD_ROUNDS):
        request = update_request(settings, group_key, start, shard, row.values, pending)
        try:
            client.update_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            stored = exc.response.get("Item", {}).get(f"seq:{shard}", {}).get("S")
            if stored is None:
                raise  # the condition can only fail on a stored number: something else is wrong
            newer = [s for s in pending if s > int(stored)]
            summary.duplicate += len(pending) - len(newer)
            pending = newer
            if not pending:
                return
            continue
        summary.rows_updated += 1
        return
    raise RuntimeError(f"row {group_key} @ {start}: the sequence guard refused {MAX_GUARD_ROUNDS} times")


def _metrics_line(summary: Summary, function_name: str) -> str:
    counts = summary.as_dict()
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(_clock() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["FunctionName"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in counts],
                    }
                ],
            },
            "FunctionName": function_name,
            **counts,
        }
    )


def handler(event: dict[str, Any], context: object = None) -> dict[str, int]:
    settings = Settings.from_env(os.environ)
    summary = Summary()
    rows = aggregate(event.get("Records") or [], settings, _clock(), summary)
    client = _dynamodb()
    for key, row in rows.items():
        write_row(client, settings, key, row, summary)
    print(_metrics_line(summary, os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "event-aggregator")))
    return summary.as_dict()
