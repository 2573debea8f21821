"""CloudWatch alarms, as deploy reads them after an endpoint update SageMaker rolled back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AlarmFired:
    name: str
    at: datetime
    reason: str


@dataclass
class AlarmHistory:
    client: Any  # boto3 CloudWatch client

    def went_into_alarm(self, names: list[str], since: datetime) -> list[AlarmFired]:
        """The state changes into ALARM of the named alarms since ``since``, oldest first
        (DescribeAlarmHistory, HistoryItemType StateUpdate; its HistoryData is JSON with the old and
        new state: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html)."""
        fired = []
        for name in names:
            pages = self.client.get_paginator("describe_alarm_history").paginate(
                AlarmName=name, HistoryItemType="StateUpdate", StartDate=since
            )
            for page in pages:
                for item in page.get("AlarmHistoryItems", []):
                    try:
                        data = json.loads(item.get("HistoryData") or "{}")
                    except ValueError:
                        data = {}
                    new = data.get("newState") or {}
                    if new.get("stateValue") == "ALARM":
                        fired.append(AlarmFired(name, item["Timestamp"], new.get("stateReason", "")))
        return sorted(fired, key=lambda f: f.at)
