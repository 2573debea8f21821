"""The model section of a plan with what only AWS knows: each version's registry approval and
evaluation metrics, read in its stage's account and region, and on-demand hourly prices."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_gitops.aws.errors import AWS_ERRORS, error_code
from mlops_gitops.aws.pricing import price_list_for
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.errors import GitOpsError
from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR
from mlops_gitops.report.models import (
    HourlyPrice,
    ModelChange,
    PackageFacts,
    enrich,
    model_changes,
    package_facts,
)
from mlops_gitops.report.serving import ServingChange, price_all, serving_changes

GatewaysFor = Callable[[str], StageGateways]  # stage -> its gateways (made once per stage)
REALTIME_TEMPLATE = "realtime_inference.yaml"


def looked_up_models(
    items: list[PlanItem], gateways_for: GatewaysFor, aws: Any, serving: list[ServingChange] | None = None
) -> list[ModelChange]:
    """The model section of a plan, with each version's registry approval and metrics read in its
    stage's account and region, and hourly prices from the AWS Price List (for plan_markdown).
    ``serving`` (looked_up_serving): the pipelines now serverless, whose variants have no
    instance-hours to price."""
    models = model_changes(items)
    serverless = {(c.stage, c.pipeline_id) for c in serving or [] if c.new.kind == "serverless"}
    for change in models:
        change.per_use = (change.stage, change.pipeline_id) in serverless
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


def looked_up_serving(items: list[PlanItem], root: Path, destination: str, aws: Any) -> list[ServingChange]:
    """Each changed real-time pipeline's variant kind and shadow per stage, from its config here and
    at ``destination`` (what the pull request changes), with hourly prices of the instances named."""
    configs: dict[str, tuple[Any, Any]] = {}
    entries = []
    for item in items:
        spec = item.spec
        if spec is None or item.action in ("unchanged", "keep", "delete", "wait"):
            continue
        if spec.template.rsplit("/", 1)[-1] != REALTIME_TEMPLATE:
            continue
        if spec.pipeline_id not in configs:
            configs[spec.pipeline_id] = (
                _config_at(root, None, spec.pipeline_id),
                _config_at(root, destination, spec.pipeline_id),
            )
        new, old = configs[spec.pipeline_id]
        entries.append(
            (item.stage, spec.pipeline_id, spec.region, new, old if item.status is not None else None)
        )
    changes = serving_changes(entries)
    if changes:
        price_all(changes, *_pricer(aws))
    return changes


def _config_at(root: Path, ref: str | None, pipeline_id: str) -> dict[str, Any] | None:
    """A pipeline's config in the checkout (``ref`` None) or at a git ref; None when absent or unreadable."""
    rel = f"{CONFIGS_DIR}/{pipeline_id}/{CONFIG_FILE}"
    try:
        if ref is None:
            text = (root / rel).read_text(encoding="utf-8")
        else:
            from mlops_gitops.ops.promote import git

            text = git(root, "show", f"{ref}:{rel}")
        data = json.loads(text)
    except (OSError, ValueError, GitOpsError):
        return None
    return data if isinstance(data, dict) else None
