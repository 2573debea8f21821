"""On-demand hourly prices of SageMaker hosting instances, from the AWS Price List Query API.

The Price List API is AWS's own, maintained price source (pricing:GetProducts); nothing is copied
into this repository, so no price here can go stale. When the API can't be reached (no network, a
local moto endpoint, no permission) there is no price and the report says why, rather than a guess.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SERVICE_CODE = "AmazonSageMaker"
# The Query API answers in a few regions only; these serve every commercial / China region's prices.
API_REGION = {"aws": "us-east-1", "aws-cn": "cn-northwest-1"}


@dataclass(frozen=True)
class Price:
    usd_per_hour: float
    effective: str  # the price's effective date (YYYY-MM-DD)
    source: str = "AWS Price List API, on-demand"


class PriceUnavailable(Exception):
    """No single on-demand hourly price could be read (the message says why)."""


def _hourly(product_json: str) -> tuple[float, str] | None:
    product = json.loads(product_json)
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if dim.get("unit", "").lower() in ("hrs", "hour", "hours") and usd is not None:
                return float(usd), str(term.get("effectiveDate", ""))[:10]
    return None


@dataclass
class PriceList:
    """Hourly hosting prices, one GetProducts call per (instance type, region), cached."""

    client: Any  # a boto3 "pricing" client
    _cache: dict[tuple[str, str], Price | str] | None = None

    def hosting(self, instance_type: str, region: str) -> Price:
        """The on-demand price of one real-time hosting instance; PriceUnavailable otherwise."""
        if self._cache is None:
            self._cache = {}
        key = (instance_type, region)
        if key not in self._cache:
            try:
                self._cache[key] = self._lookup(instance_type, region)
            except PriceUnavailable as exc:
                self._cache[key] = str(exc)
            except Exception as exc:  # noqa: BLE001 - prices are informative: never fail a review on them
                log.debug("price of %s in %s", instance_type, region, exc_info=True)
                self._cache[key] = f"the AWS Price List API could not be read ({_why(exc)})"
        found = self._cache[key]
        if isinstance(found, str):
            raise PriceUnavailable(found)
        return found

    def _lookup(self, instance_type: str, region: str) -> Price:
        filters = [
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
        ]
        page = self.client.get_products(
            ServiceCode=SERVICE_CODE, Filters=filters, FormatVersion="aws_v1", MaxResults=10
        )
        prices = {p for item in page.get("PriceList", []) if (p := _hourly(item)) is not None}
        if not prices:
            raise PriceUnavailable(
                f"the AWS Price List has no on-demand hosting price for {instance_type} in {region}"
            )
        if len({usd for usd, _ in prices}) > 1:
            raise PriceUnavailable(
                f"the AWS Price List has several hosting prices for {instance_type} in {region}"
            )
        usd, effective = max(prices, key=lambda p: p[1])
        return Price(usd, effective)


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def price_list_for(aws: Any) -> tuple[PriceList | None, str]:
    """The Price List of ``aws``'s partition (an AwsContext), or None and why there is none."""
    if aws.endpoint_url:
        return None, (
            f"prices are not looked up through {aws.endpoint_url} (a stand-in for AWS has no AWS Price List)"
        )
    from mlops_gitops.awsdata import partition_of_region

    partition = partition_of_region(aws.region or "us-east-1") or "aws"
    if partition not in API_REGION:
        return None, f"the AWS Price List API does not serve the {partition} partition"
    return PriceList(aws.client("pricing", API_REGION[partition])), ""
