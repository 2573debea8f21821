"""The event aggregator Lambda on sample Kinesis batches (JSON and Snowplow enriched TSV), with
DynamoDB stubbed by botocore's Stubber: the exact UpdateItem requests, windowing, malformed records,
the replay guard, and its packaging."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mlops_gitops import lambdas
from mlops_gitops.lambdas import event_aggregator as agg

NOW = 1714567200.0  # 2024-05-01T12:40:00Z
TABLE = "mlops-web-events-dev-ResultsTable-ABC123"
SHARD = "shardId-000000000000"
SEQ_BASE = 49590338271490256608559692538361571095921575989136588800  # 56 digits, as Kinesis writes


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch):
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(agg, "_client", client)
    monkeypatch.setattr(agg, "_clock", lambda: NOW)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def snowplow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, EVENT_FORMAT="snowplow_enriched_tsv", GROUP_BY="app_id,event_name", TTL_DAYS="90")


@pytest.fixture
def json_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, EVENT_FORMAT="json", GROUP_BY="tenant,event_type", TTL_DAYS="0")


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    settings = {"TABLE_NAME": TABLE, "WINDOW_SECONDS": "300", **values}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def _tsv(**fields: str) -> str:
    """A Snowplow enriched event: 131 tab-separated fields, ``fields`` set by column name."""
    columns = [""] * len(agg.SNOWPLOW_COLUMNS)
    for name, value in fields.items():
        columns[agg.SNOWPLOW_INDEX[name]] = value
    return "\t".join(columns)


def _page_view(app: str, name: str, stamp: str) -> str:
    return _tsv(
        app_id=app,
        platform="web",
        collector_tstamp=stamp,
        event="page_view" if name == "page_view" else "unstruct",
        event_id="c6ef3124-b53a-4b13-a233-0088f79dcbcb",
        derived_tstamp=stamp,
        event_vendor="com.snowplowanalytics.snowplow",
        event_name=name,
    )


def _record(payload: str | bytes, n: int, shard: str = SHARD, arrival: float = NOW - 5) -> dict:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    sequence = str(SEQ_BASE + n)
    return {
        "eventSource": "aws:kinesis",
        "eventID": f"{shard}:{sequence}",
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "pk",
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival,
        },
    }


def _seq(n: int) -> dict:
    return {"S": str(SEQ_BASE + n).zfill(129)}


def _request(
    group_key: str,
    start: int,
    count: int,
    first: int,
    last: int,
    groups: dict[str, str],
    expires: int | None,
    shard: str = SHARD,
) -> dict:
    names = {"#count": "event_count", "#end": "window_end", "#seq": f"seq:{shard}"}
    values = {
        ":n": {"N": str(count)},
        ":end": {"N": str(start + 300)},
        ":first": _seq(first),
        ":last": _seq(last),
    }
    sets = ["#end = :end", "#seq = :last"]
    for index, (name, value) in enumerate(groups.items()):
        names[f"#g{index}"] = name
        values[f":g{index}"] = {"S": value}
        sets.append(f"#g{index} = :g{index}")
    if expires is not None:
        names["#exp"] = "expires_at"
        values[":exp"] = {"N": str(expires)}
        sets.append("#exp = :exp")
    return {
        "TableName": TABLE,
        "Key": {"group_key": {"S": group_key}, "window_start": {"N": str(start)}},
        "UpdateExpression": "ADD #count :n SET " + ", ".join(sets),
        "ConditionExpression": "attribute_not_exists(#seq) OR #seq < :first",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


# 2024-05-01 12:30:00Z and 12:35:00Z; rows expire 90 days after their window ends
W1230, W1235 = 1714566600, 1714566900
EXP1230, EXP1235 = W1230 + 300 + 90 * 86400, W1235 + 300 + 90 * 86400


def test_snowplow_events_are_counted_per_app_event_and_window(dynamodb: Stubber, snowplow_env) -> None:
    records = [
        _record(_page_view("web", "page_view", "2024-05-01 12:34:56.789"), 1),
        _record(_page_view("web", "page_view", "2024-05-01 12:31:02.000"), 2),
        _record(_page_view("web", "link_click", "2024-05-01 12:33:00.000"), 3),
        _record(_page_view("web", "page_view", "2024-05-01 12:35:10.000") + "\n", 4),  # next window
        _record(_page_view("shop", "page_view", "2024-05-01 12:34:00.000"), 5),
        _record(_page_view("web", "page_view", "2024-05-01 12:34:59.999"), 6),
    ]
    expected = [
        _request(
            '["web","page_view"]', W1230, 3, 1, 6, {"app_id": "web", "event_name": "page_view"}, EXP1230
        ),
        _request(
            '["web","link_click"]', W1230, 1, 3, 3, {"app_id": "web", "event_name": "link_click"}, EXP1230
        ),
        _request(
            '["web","page_view"]', W1235, 1, 4, 4, {"app_id": "web", "event_name": "page_view"}, EXP1235
        ),
        _request(
            '["shop","page_view"]', W1230, 1, 5, 5, {"app_id": "shop", "event_name": "page_view"}, EXP1230
        ),
    ]
    for request in expected:
        dynamodb.add_response("update_item", {}, request)
    summary = agg.handler({"Records": records})
    assert summary == {
        "RecordsReceived": 6,
        "RecordsAggregated": 6,
        "RecordsMalformed": 0,
        "RecordsExpired": 0,
        "RecordsDuplicate": 0,
        "RowsUpdated": 4,
    }


def test_snowplow_time_falls_back_to_collector_then_arrival(dynamodb: Stubber, snowplow_env) -> None:
    collector_only = _tsv(app_id="web", event_name="page_view", collector_tstamp="2024-05-01 12:36:00")
    no_time = _tsv(app_id="web", event_name="page_view")
    records = [_record(collector_only, 1), _record(no_time, 2, arrival=W1230 + 10)]
    groups = {"app_id": "web", "event_name": "page_view"}
    dynamodb.add_response("update_item", {}, _request('["web","page_view"]', W1235, 1, 1, 1, groups, EXP1235))
    dynamodb.add_response("update_item", {}, _request('["web","page_view"]', W1230, 1, 2, 2, groups, EXP1230))
    assert agg.handler({"Records": records})["RowsUpdated"] == 2


def test_json_events_with_scalars_timestamps_and_no_ttl(dynamodb: Stubber, json_env) -> None:
    records = [
        _record(
            json.dumps({"tenant": "acme", "event_type": "click", "timestamp": "2024-05-01T12:31:00Z"}), 1
        ),
        _record(json.dumps({"tenant": "acme", "event_type": "click", "timestamp": 1714566700000}), 2),  # ms
        _record(json.dumps({"tenant": 42, "event_type": True, "timestamp": 1714566700}), 3),  # s
        _record(json.dumps({"event_type": None, "collector_tstamp": "2024-05-01 12:36:00.000"}), 4),
        _record(json.dumps({"tenant": "acme", "event_type": "click"}), 5, arrival=W1230 + 1),  # arrival time
        _record(
            json.dumps({"tenant": "ÄÖ", "event_type": "view", "timestamp": "2024-05-01T14:31:00+02:00"}), 6
        ),
    ]
    expected = [
        _request('["acme","click"]', W1230, 3, 1, 5, {"tenant": "acme", "event_type": "click"}, None),
        _request('["42","true"]', W1230, 1, 3, 3, {"tenant": "42", "event_type": "true"}, None),
        _request('["",""]', W1235, 1, 4, 4, {"tenant": "", "event_type": ""}, None),
        _request('["ÄÖ","view"]', W1230, 1, 6, 6, {"tenant": "ÄÖ", "event_type": "view"}, None),
    ]
    for request in expected:
        dynamodb.add_response("update_item", {}, request)
    summary = agg.handler({"Records": records})
    assert (summary["RecordsAggregated"], summary["RowsUpdated"]) == (6, 4)


@pytest.mark.parametrize(
    "moment, window, start",
    [
        (1714566600.0, 300, 1714566600),  # on the boundary: the window it opens
        (1714566899.999, 300, 1714566600),  # just before the next one
        (1714566900.0, 300, 1714566900),
        (1714566896.789, 60, 1714566840),
        (1714566896.789, 3600, 1714564800),
        (1714566896.789, 86400, 1714521600),  # midnight UTC
    ],
)
def test_tumbling_windows(moment: float, window: int, start: int) -> None:
    assert agg.window_start(moment, window) == start


def test_records_of_other_shards_keep_their_own_guard(dynamodb: Stubber, json_env) -> None:
    event = json.dumps({"tenant": "acme", "event_type": "click", "timestamp": 1714566700})
    records = [_record(event, 1), _record(event, 2, shard="shardId-000000000007")]
    groups = {"tenant": "acme", "event_type": "click"}
    dynamodb.add_response("update_item", {}, _request('["acme","click"]', W1230, 1, 1, 1, groups, None))
    other = _request('["acme","click"]', W1230, 1, 2, 2, groups, None, shard="shardId-000000000007")
    dynamodb.add_response("update_item", {}, other)
    assert agg.handler({"Records": records})["RowsUpdated"] == 2


def test_malformed_records_are_skipped_and_counted(
    dynamodb: Stubber, snowplow_env, caplog: pytest.LogCaptureFixture
) -> None:
    good = _page_view("web", "page_view", "2024-05-01 12:34:56.789")
    not_base64 = _record(good, 2)
    not_base64["kinesis"]["data"] = "***not base64***"
    no_sequence = _record(good, 9)
    del no_sequence["kinesis"]["sequenceNumber"]
    records = [
        _record(good, 1),
        not_base64,
        _record(b"\xff\xfe\x00garbage", 3),  # not UTF-8
        _record("app\tweb\tonly five\tcolumns\there", 4),  # not 131 fields
        _record(good + "\textra", 5),  # 132 fields
        _record(_tsv(app_id="web", derived_tstamp="yesterday"), 6),  # bad timestamp
        _record(_tsv(app_id="web", derived_tstamp="2999-01-01 00:00:00"), 7),  # after 2100
        _record(_tsv(app_id="x" * 3000, derived_tstamp="2024-05-01 12:34:00"), 8),  # key > 2048 bytes
        no_sequence,
    ]
    dynamodb.add_response(
        "update_item",
        {},
        _request(
            '["web","page_view"]', W1230, 1, 1, 1, {"app_id": "web", "event_name": "page_view"}, EXP1230
        ),
    )
    summary = agg.handler({"Records": records})
    assert summary["RecordsReceived"] == 9
    assert summary["RecordsAggregated"] == 1
    assert summary["RecordsMalformed"] == 8
    assert "has 131 tab-separated fields, this record 5" in caplog.text
    assert "the record's data is not base64" in caplog.text
    assert "x" * 100 not in caplog.text, "the log gives the reason, not the event"


@pytest.mark.parametrize(
    "payload, reason",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"tenant": {"id": 1}, "event_type": "click"}', "is not a string, number, boolean or null"),
        ('{"tenant": "a", "event_type": "b", "timestamp": true}', "is not a time"),
        ('{"tenant": "a", "event_type": "b", "timestamp": NaN}', "between 1970 and 2100"),
        ('{"tenant": "a", "event_type": "b", "timestamp": -5}', "between 1970 and 2100"),
        ('{"tenant": "a", "event_type": "b", "timestamp": "2024-13-01T00:00:00Z"}', "not ISO 8601"),
    ],
)
def test_malformed_json_events(dynamodb: Stubber, json_env, caplog, payload: str, reason: str) -> None:
    summary = agg.handler({"Records": [_record(payload, 1)]})
    assert (summary["RecordsMalformed"], summary["RowsUpdated"]) == (1, 0)
    assert reason in caplog.text


def test_events_whose_row_has_expired_are_skipped(dynamodb: Stubber, snowplow_env) -> None:
    old = _page_view("web", "page_view", "2024-01-01 00:00:00")  # window end + 90 days < NOW
    summary = agg.handler({"Records": [_record(old, 1)]})
    assert (summary["RecordsExpired"], summary["RowsUpdated"]) == (1, 0)


def _refused(stored: int, shard: str = SHARD) -> dict:
    return {
        "service_error_code": "ConditionalCheckFailedException",
        "service_message": "The conditional request failed",
        "http_status_code": 400,
        "modeled_fields": {"Item": {f"seq:{shard}": _seq(stored), "event_count": {"N": "7"}}},
    }


def test_a_replayed_batch_is_not_counted_twice(dynamodb: Stubber, json_env) -> None:
    event = json.dumps({"tenant": "acme", "event_type": "click", "timestamp": 1714566700})
    records = [_record(event, n) for n in (1, 2, 3)]
    request = _request('["acme","click"]', W1230, 3, 1, 3, {"tenant": "acme", "event_type": "click"}, None)
    dynamodb.add_client_error("update_item", expected_params=request, **_refused(stored=3))
    summary = agg.handler({"Records": records})
    assert (summary["RecordsDuplicate"], summary["RowsUpdated"]) == (3, 0)


def test_a_partly_replayed_batch_counts_only_the_new_records(dynamodb: Stubber, json_env) -> None:
    event = json.dumps({"tenant": "acme", "event_type": "click", "timestamp": 1714566700})
    records = [_record(event, n) for n in (1, 2, 3, 4)]
    groups = {"tenant": "acme", "event_type": "click"}
    first = _request('["acme","click"]', W1230, 4, 1, 4, groups, None)
    dynamodb.add_client_error("update_item", expected_params=first, **_refused(stored=2))
    dynamodb.add_response("update_item", {}, _request('["acme","click"]', W1230, 2, 3, 4, groups, None))
    summary = agg.handler({"Records": records})
    assert (summary["RecordsDuplicate"], summary["RowsUpdated"]) == (2, 1)


def test_other_dynamodb_errors_fail_the_batch(dynamodb: Stubber, json_env) -> None:
    event = json.dumps({"tenant": "acme", "event_type": "click", "timestamp": 1714566700})
    dynamodb.add_client_error(
        "update_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
    )
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        agg.handler({"Records": [_record(event, 1)]})


def test_an_empty_batch_writes_nothing_and_reports_metrics(
    dynamodb: Stubber, json_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "mlops-web-events-dev-aggregator")
    assert agg.handler({"Records": []})["RecordsReceived"] == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["FunctionName"] == "mlops-web-events-dev-aggregator"
    metrics = line["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == "MlopsGitops/RealtimeReporting"
    assert metrics["Dimensions"] == [["FunctionName"]]
    assert {m["Name"] for m in metrics["Metrics"]} == {
        "RecordsReceived",
        "RecordsAggregated",
        "RecordsMalformed",
        "RecordsExpired",
        "RecordsDuplicate",
        "RowsUpdated",
    }
    assert line["_aws"]["Timestamp"] == int(NOW * 1000)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"EVENT_FORMAT": "xml"}, "EVENT_FORMAT 'xml'"),
        ({"GROUP_BY": " , "}, "GROUP_BY names no field"),
        ({"GROUP_BY": "app_id,event_count"}, "'event_count' is a reserved attribute"),
        ({"EVENT_FORMAT": "snowplow_enriched_tsv", "GROUP_BY": "tenant"}, "'tenant' is not a Snowplow"),
        ({"WINDOW_SECONDS": "0"}, "WINDOW_SECONDS must be positive"),
    ],
)
def test_a_misconfigured_function_fails_loudly(env: dict[str, str], message: str) -> None:
    settings = {"TABLE_NAME": TABLE, "EVENT_FORMAT": "json", "GROUP_BY": "app_id", **env}
    with pytest.raises(ValueError, match=message):
        agg.Settings.from_env(settings)


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("2024-05-01 12:34:56.789", 1714566896.789),  # Snowplow's form, UTC
        ("2024-05-01T12:34:56Z", 1714566896.0),
        ("2024-05-01T14:34:56+02:00", 1714566896.0),
        (1714566896, 1714566896.0),
        (1714566896789, 1714566896.789),
    ],
)
def test_timestamps(value, seconds: float) -> None:
    assert agg.parse_time(value) == pytest.approx(seconds)


def test_snowplow_columns_are_the_standard_order() -> None:
    columns = agg.SNOWPLOW_COLUMNS
    assert len(columns) == len(set(columns)) == 131
    assert (columns[0], columns[3], columns[5], columns[6]) == (
        "app_id",
        "collector_tstamp",
        "event",
        "event_id",
    )
    assert columns[124:131] == (
        "derived_tstamp",
        "event_vendor",
        "event_name",
        "event_format",
        "event_version",
        "event_fingerprint",
        "true_tstamp",
    )


def test_the_function_is_packaged() -> None:
    assert "event_aggregator" in lambdas.FUNCTIONS
    package = lambdas.package("event_aggregator")
    assert package.key == f"lambda/event-aggregator-{package.sha256[:16]}.zip"
    with zipfile.ZipFile(io.BytesIO(package.data)) as zf:
        assert zf.namelist() == ["event_aggregator.py"]
        assert zf.read("event_aggregator.py") == Path(agg.__file__).read_bytes()
