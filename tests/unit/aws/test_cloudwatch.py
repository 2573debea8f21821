"""AlarmHistory reads CloudWatch's alarm history as DescribeAlarmHistory returns it (HistoryData is a
JSON string with oldState and newState), through botocore's Stubber."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
from botocore.stub import Stubber

from mlops_gitops.aws.cloudwatch import AlarmHistory

SINCE = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


def item(name: str, old: str, new: str, second: int, reason: str = "Threshold Crossed") -> dict:
    data = {
        "version": "1.0",
        "oldState": {"stateValue": old},
        "newState": {"stateValue": new, "stateReason": reason},
    }
    return {
        "AlarmName": name,
        "Timestamp": datetime(2026, 12, 3, 10, 0, second, tzinfo=timezone.utc),
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old} to {new}",
        "HistoryData": json.dumps(data),
    }


def test_only_changes_into_alarm_are_reported_oldest_first() -> None:
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        for name, items in (
            ("a", [item("a", "ALARM", "OK", 30), item("a", "OK", "ALARM", 20)]),
            (
                "b",
                [
                    item("b", "OK", "ALARM", 10, "latency high"),
                    {**item("b", "OK", "ALARM", 40), "HistoryData": "not json"},
                ],
            ),
        ):
            stub.add_response(
                "describe_alarm_history",
                {"AlarmHistoryItems": items},
                {"AlarmName": name, "HistoryItemType": "StateUpdate", "StartDate": SINCE},
            )
        fired = AlarmHistory(client).went_into_alarm(["a", "b"], SINCE)
    assert [(f.name, f.at.second, f.reason) for f in fired] == [
        ("b", 10, "latency high"),
        ("a", 20, "Threshold Crossed"),
    ]
