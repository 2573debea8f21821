"""The model section's lines on how a real-time endpoint serves (issue 18): its variant kind and what
that does to its cost, and the shadow variants a change adds or removes.

Pure, and read from the configs (the issue 18 contract's names: serverless, async_inference,
multi_model, shadow_variant), the pull request's against its destination's: the template
parameters these fields render into are the template's business. Prices come through a callable
(pr-check wires the AWS Price List); nothing here ever makes a number up:

- serverless endpoints are billed per use, by compute duration for the memory configured and data
  processed, plus provisioned concurrency while it is configured; there are no instance-hours
  (https://aws.amazon.com/sagemaker/ai/pricing/,
  https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html). No estimate is given;
- asynchronous endpoints run instances like real-time ones; with scale to zero their instance count
  may drop to 0 while no requests queue
  (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html);
- a shadow variant runs its own instances, billed like any production variant, and gets a copy of
  the sampled requests (https://docs.aws.amazon.com/sagemaker/latest/dg/model-shadow-deployment.html).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_gitops.report.markdown import text
from mlops_gitops.report.models import HourlyPrice, usd, version_label

# The own keys of each issue 18 field: an object with none of them is a per-stage map.
OWN_KEYS = {
    "serverless": {"memory_size_mb", "max_concurrency", "provisioned_concurrency"},
    "async_inference": {
        "output_location",
        "failure_location",
        "success_topic_arn",
        "error_topic_arn",
        "max_concurrent_invocations_per_instance",
        "scale_to_zero",
    },
    "multi_model": {"model_prefix"},
    "shadow_variant": {
        "name",
        "model_package_name",
        "model_artifact_location",
        "inference_instance",
        "instance_count",
        "sampling_percent",
    },
}


def stage_value(data: Mapping[str, Any], name: str, stage: str) -> Any:
    """The value of field ``name`` in ``stage``: its stage's key in a per-stage map, else the value."""
    value = data.get(name)
    if not isinstance(value, dict):
        return value
    own = OWN_KEYS.get(name)
    if own is None:  # a scalar field (inference_instance, instance_count): an object is a stage map
        return value.get(stage)
    if value and not any(k in own for k in value):  # a stage map
        return value.get(stage)
    return value  # one object for every stage


@dataclass(frozen=True)
class Serving:
    """How one stage of a real-time pipeline serves, as its config says."""

    kind: str  # instances | serverless | async
    instances: tuple[str, int] | None  # the endpoint's (instance type, count); None when serverless
    serverless: Mapping[str, Any] | None = None
    asynchronous: Mapping[str, Any] | None = None
    multi_model: Mapping[str, Any] | None = None
    shadow: Mapping[str, Any] | None = None

    @property
    def shadow_instances(self) -> tuple[str, int] | None:
        if self.shadow is None:
            return None
        itype = self.shadow.get("inference_instance") or (self.instances[0] if self.instances else "")
        return (str(itype), int(self.shadow.get("instance_count") or 1)) if itype else None


def serving_of(data: Mapping[str, Any] | None, stage: str) -> Serving | None:
    """The Serving of ``stage`` in a config (None: no config)."""
    if data is None:
        return None
    serverless = stage_value(data, "serverless", stage)
    asynchronous = stage_value(data, "async_inference", stage)
    itype = stage_value(data, "inference_instance", stage)
    count = stage_value(data, "instance_count", stage)
    instances = None if serverless or not itype else (str(itype), int(count or 1))
    shadow = stage_value(data, "shadow_variant", stage)
    multi = stage_value(data, "multi_model", stage)
    return Serving(
        "serverless" if serverless else "async" if asynchronous else "instances",
        instances,
        serverless if isinstance(serverless, dict) else None,
        asynchronous if isinstance(asynchronous, dict) else None,
        multi if isinstance(multi, dict) else None,
        shadow if isinstance(shadow, dict) else None,
    )


@dataclass
class ServingChange:
    stage: str
    pipeline_id: str
    region: str
    old: Serving | None  # None: the pipeline is new in this stage
    new: Serving
    prices: dict[str, HourlyPrice] | None = None  # instance type -> price; None: not looked up
    price_note: str = ""

    @property
    def shows(self) -> bool:
        """Worth a line: a kind other than instances, a kind change, or a shadow change."""
        old = self.old
        kind_changed = old is not None and (old.kind, bool(old.multi_model)) != (
            self.new.kind,
            bool(self.new.multi_model),
        )
        shadow_changed = (old.shadow if old else None) != self.new.shadow
        return self.new.kind != "instances" or bool(self.new.multi_model) or kind_changed or shadow_changed


def serving_changes(
    entries: Iterable[tuple[str, str, str, Mapping | None, Mapping | None]],
) -> list[ServingChange]:
    """(stage, pipeline id, region, the config now, the config before or None) -> the changes worth a line."""
    out = []
    for stage, pipeline, region, new, old in entries:
        now = serving_of(new, stage)
        if now is None:
            continue
        change = ServingChange(stage, pipeline, region, serving_of(old, stage), now)
        if change.shows:
            out.append(change)
    return out


def price_all(
    changes: list[ServingChange], price: Callable[[str, str], HourlyPrice] | None, note: str = ""
) -> None:
    """Hourly prices of the instance types the lines name (``price`` raises with its reason)."""
    for change in changes:
        wanted = {
            i[0]
            for s in (change.old, change.new)
            if s is not None
            for i in (s.instances if s.kind == "async" else None, s.shadow_instances)
            if i
        }
        if price is None:
            change.price_note = note
            continue
        change.prices = {}
        for itype in sorted(wanted):
            try:
                change.prices[itype] = price(itype, change.region)
            except Exception as exc:  # noqa: BLE001 - the reason is shown instead of a price
                change.price_note = str(exc)


# ------------------------------------------------------------------ rendering


def shadow_model(shadow: Mapping[str, Any], otherwise: str = "the pipeline's model") -> str:
    """A shadow's model in words: "group v8", "latest approved of group", or its S3 artifact
    (pr-check here, and `promote --from-shadow`'s commit)."""
    package = shadow.get("model_package_name")
    if package:
        group, version = version_label(package)
        return f"{group} {version}" if group else f"latest approved of {package}"
    return str(shadow.get("model_artifact_location") or otherwise)


def _hourly(change: ServingChange, instances: tuple[str, int] | None) -> str:
    if instances is None or change.prices is None:
        return ""
    price = change.prices.get(instances[0])
    return f"{usd(price.usd_per_hour * instances[1])}/h" if price else ""


def _shadow_text(change: ServingChange, shadow: Mapping[str, Any], serving: Serving) -> str:
    instances = serving.shadow_instances
    where = f" on {instances[1]} x {instances[0]}" if instances else ""
    copied = shadow.get("sampling_percent", 100)
    cost = _hourly(change, instances)
    return f"{shadow_model(shadow)}{where}, {copied}% of requests copied" + (f", {cost}" if cost else "")


def _shadow_line(change: ServingChange) -> str | None:
    old = change.old.shadow if change.old else None
    new = change.new.shadow
    if old == new:
        return None
    stage = change.stage
    if old is None:
        return f"{stage}: shadow added: {_shadow_text(change, new, change.new)}"  # type: ignore[arg-type]
    assert change.old is not None
    if new is None:
        cost = _hourly(change, change.old.shadow_instances)
        return f"{stage}: shadow removed: {shadow_model(old)}" + (f" (−{cost})" if cost else "")
    return f"{stage}: shadow changed: {_shadow_text(change, old, change.old)} → {_shadow_text(change, new, change.new)}"


def _kind_text(change: ServingChange) -> str | None:
    new, old = change.new, change.old
    parts: list[str] = []
    if new.kind == "serverless":
        s = new.serverless or {}
        size = f"{s.get('memory_size_mb', '?')} MB, up to {s.get('max_concurrency', '?')} concurrent"
        if s.get("provisioned_concurrency"):
            size += f", {s['provisioned_concurrency']} provisioned"
        parts.append(
            f"serverless ({size}): priced per use (duration and memory), no instance-hours; no estimate"
            + (
                "; provisioned concurrency is billed while configured"
                if s.get("provisioned_concurrency")
                else ""
            )
        )
    elif new.kind == "async":
        a = new.asynchronous or {}
        cost = _hourly(change, new.instances)
        where = f"{new.instances[1]} x {new.instances[0]}" if new.instances else "instances"
        parts.append(
            f"asynchronous (results to {a.get('output_location', '?')}): instance cost as for real-time, "
            f"{where}{f' {cost}' if cost else ''}"
            + ("; scales to zero when idle" if a.get("scale_to_zero") else "")
        )
    if new.multi_model:
        parts.append(
            f"multi-model: models loaded on demand from {new.multi_model.get('model_prefix', '?')}, on the same instances"
        )
    if old is not None and old.kind != new.kind:
        was = (
            f"{old.instances[1]} x {old.instances[0]} instances"
            if old.kind == "instances" and old.instances
            else old.kind
        )
        if not parts:
            where = f"{new.instances[1]} x {new.instances[0]}" if new.instances else ""
            parts.append(f"instances {where}".strip())
        parts[-1] += f" (was {was})"
    return "; ".join(parts) if parts else None


def render_serving(changes: list[ServingChange]) -> list[str]:
    """Markdown lines for one stage's changes: each pipeline's kind, then its shadow (values from configs)."""
    lines = []
    for change in changes:
        kind = _kind_text(change)
        if kind:
            lines.append(f"- {text(change.pipeline_id)} serves {text(kind)}.")
        shadow = _shadow_line(change)
        if shadow:
            lines.append(f"- {text(change.pipeline_id)}, {text(shadow)}.")
    notes = sorted({c.price_note for c in changes if c.price_note})
    return [*lines, *(f"No price: {text(n)}." for n in notes), ""] if lines else []
