"""The model section of a plan with what only AWS knows: each version's registry approval and
evaluation metrics, read in its stage's account and region, and on-demand hourly prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_gitops.aws.errors import AWS_ERRORS, error_code
from mlops_gitops.aws.pricing import price_list_for
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.report.models import (
    HourlyPrice,
    ModelChange,
    PackageFacts,
    enrich,
    model_changes,
    package_facts,
)

GatewaysFor = Callable[[str], StageGateways]  # stage -> its gateways (made once per stage)


def looked_up_models(items: list[PlanItem], gateways_for: GatewaysFor, aws: Any) -> list[ModelChange]:
    """The model section of a plan, with each version's registry approval and metrics read in its
    stage's account and region, and hourly prices from the AWS Price List (for plan_markdown)."""
    models = model_changes(items)
    enrich(models, _facts_reader(gateways_for), *_pricer(aws))
    return models


def _facts_reader(gateways_for: GatewaysFor) -> Callable[[ModelChange, str], PackageFacts]:
    def facts(change: ModelChange, arn: str) -> PackageFacts:
        try:
            gateways = gateways_for(change.stage)
            package = gateways.sagemaker.model_package(arn)
        except AWS_ERRORS as exc:
            code = error_code(exc) or type(exc).__name__
            return PackageFacts(f"unreadable ({code})", note="the registry could not be read")
        artifacts = gateways.artifacts
        return package_facts(package, artifacts.read if artifacts is not None else None)

    return facts


def _pricer(aws: Any) -> tuple[Callable[[str, str], HourlyPrice] | None, str]:
    """The price look-up, or None and why there is none."""
    prices, why = price_list_for(aws)
    if prices is None:
        return None, why

    def price(instance_type: str, region: str) -> HourlyPrice:
        p = prices.hosting(instance_type, region)
        return HourlyPrice(p.usd_per_hour, p.effective, p.source)

    return price, ""
