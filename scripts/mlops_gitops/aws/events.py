"""EventBridge, as drift reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EventsGateway:
    client: Any  # boto3 EventBridge client

    def describe_rule(self, name: str, bus: str | None = None) -> dict[str, Any]:
        return self.client.describe_rule(Name=name, **({"EventBusName": bus} if bus else {}))
