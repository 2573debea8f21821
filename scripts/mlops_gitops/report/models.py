"""The model section of a plan: per stage and variant, the model-package version deployed and the one
the change brings, their registry approval and evaluation metrics, the instances and their hourly cost.

Pure: the changes come from plan items (their parameters and parameter diffs); registry facts and
prices are filled in by ``enrich`` through callables the caller wires to AWS (pr-check does). Without
them the section still shows the versions and instances, marked "not looked up".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mlops_gitops import names
from mlops_gitops.report.markdown import code, text

if TYPE_CHECKING:  # plan.py imports this module to render; no cycle at run time
    from mlops_gitops.core.plan import PlanItem

# (package, instance type, instance count, variant name) parameters of each variant slot
SLOTS = (
    ("ModelPackageArn", "InstanceType", "InstanceCount", "Variant1Name"),
    ("Variant2ModelPackageArn", "Variant2InstanceType", "Variant2InstanceCount", "Variant2Name"),
    ("Variant3ModelPackageArn", "Variant3InstanceType", "Variant3InstanceCount", "Variant3Name"),
)
KINDS = {"realtime_inference.yaml": "realtime", "batch_inference.yaml": "batch"}
_VERSION_ARN = names.MODEL_PACKAGE_VERSION_ARN
# CustomerMetadataProperties that are numbers but not measurements of the model
_NOT_METRICS = {"threshold", "version", "commit", "git_sha", "sha", "build", "epochs", "seed"}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
MAX_METRICS = 6


@dataclass(frozen=True)
class PackageFacts:
    """What the registry says of one version (None fields: not known)."""

    approval: str  # Approved | PendingManualApproval | Rejected | not found | unreadable (...)
    metrics: dict[str, str] = field(default_factory=dict)  # name -> value as recorded
    note: str = ""  # why metrics are missing, when they are
    primary_metric: str | None = None  # the one the training pipeline gates on, shown first


@dataclass(frozen=True)
class HourlyPrice:
    usd_per_hour: float
    effective: str
    source: str


@dataclass
class ModelChange:
    stage: str
    pipeline_id: str
    stack_name: str
    variant: str
    kind: str  # realtime | batch
    region: str
    old_arn: str | None
    new_arn: str | None
    old_instances: tuple[str, int] | None  # (instance type, count)
    new_instances: tuple[str, int] | None
    old_facts: PackageFacts | None = None
    new_facts: PackageFacts | None = None
    old_price: HourlyPrice | None = None
    new_price: HourlyPrice | None = None
    looked_up: bool = False
    price_note: str = ""
    rollout: str = ""  # real-time: how an update of the endpoint shifts traffic (rollout_text)
    old_rollout: str = ""  # the deployed stack's, when the stack exists
    per_use: bool = False  # serverless now: no instance-hours to price (report.serving)

    @property
    def version_changed(self) -> bool:
        return self.old_arn != self.new_arn


# ------------------------------------------------------------------ from plan items


def _count(value: str | None) -> int:
    try:
        return int(value or 1)
    except ValueError:
        return 1


def _old_parameters(item: PlanItem) -> dict[str, str]:
    """The deployed stack's parameters, as far as the plan knows them (unchanged keys = new)."""
    if item.status is None or item.spec is None:
        return {}
    old = dict(item.spec.parameters)
    for change in item.param_changes:
        if change.old is None:
            old.pop(change.key, None)
        else:
            old[change.key] = change.old
    return old


def _slot(params: Mapping[str, str], index: int) -> tuple[str | None, tuple[str, int] | None, str]:
    package, itype, count, name = SLOTS[index]
    if index and not params.get(name):
        return None, None, ""
    instance_type = params.get(itype) or params.get("InstanceType") or ""
    instances = (
        (instance_type, _count(params.get(count) or params.get("InstanceCount"))) if instance_type else None
    )
    return params.get(package) or None, instances, params.get(name) or ""


def rollout_text(params: Mapping[str, str]) -> str:
    """The endpoint's rollout, in words, from the Rollout* parameters of realtime_inference.yaml."""
    policy = params.get("RolloutPolicy", "")
    if not policy:
        return "all at once, no rollback alarms (SageMaker's default)"
    value, wait = params.get("RolloutSizeValue", "10"), params.get("RolloutWaitSeconds", "600")
    size = (
        f"{value}%"
        if params.get("RolloutSizeType", "CAPACITY_PERCENT") == "CAPACITY_PERCENT"
        else f"{value} instance(s)"
    )
    parts = [
        {
            "CANARY": f"canary of {size}, the rest after {wait} s",
            "LINEAR": f"linear, {size} per step, {wait} s between steps",
        }.get(policy, "all at once")
    ]
    if params.get("RolloutBakeSeconds", "0") not in ("", "0"):
        parts.append(f"old fleet kept {params['RolloutBakeSeconds']} s")
    if params.get("RolloutMaxExecutionSeconds", "0") not in ("", "0"):
        parts.append(f"stopped after {params['RolloutMaxExecutionSeconds']} s")
    alarms = [params[f"RolloutAlarm{n}"] for n in (1, 2, 3) if params.get(f"RolloutAlarm{n}")]
    parts.append("rolls back on the endpoint's 5xx and latency alarms" + "".join(f", {a}" for a in alarms))
    return "; ".join(parts)


def model_changes(items: Iterable[PlanItem]) -> list[ModelChange]:
    """Every variant of a serving pipeline whose model version or instances the plan changes."""
    out: list[ModelChange] = []
    for item in items:
        spec = item.spec
        kind = KINDS.get(spec.template.rsplit("/", 1)[-1]) if spec is not None else None
        if spec is None or kind is None or item.action in ("unchanged", "keep", "delete", "wait"):
            continue
        if item.status is not None and not item.param_changes:
            continue  # an update of tags or the template only: no model moves
        old, new = _old_parameters(item), spec.parameters
        for index in range(len(SLOTS)):
            new_arn, new_inst, name = _slot(new, index)
            old_arn, old_inst, old_name = _slot(old, index)
            if new_arn is None and new_inst is None and old_arn is None:
                continue
            if item.status is not None and (old_arn, old_inst) == (new_arn, new_inst):
                continue
            out.append(
                ModelChange(
                    item.stage,
                    item.pipeline_id or "?",
                    item.stack_name,
                    name or old_name or ("primary" if index == 0 else f"variant {index + 1}"),
                    kind,
                    spec.region,
                    old_arn,
                    new_arn,
                    old_inst,
                    new_inst,
                    rollout=rollout_text(new) if kind == "realtime" else "",
                    old_rollout=rollout_text(old) if kind == "realtime" and item.status is not None else "",
                )
            )
    return out


# ------------------------------------------------------------------ registry facts and prices


def metrics_from_report(data: Any) -> dict[str, str]:
    """Metric values of an evaluation or statistics JSON: {"metrics": {"mAP": {"value": 0.74}}},
    SageMaker's model-quality {"binary_classification_metrics": {"accuracy": {"value": ...}}}, or a
    flat {"mAP": 0.74}. Leaves are named by their own key."""
    found: dict[str, str] = {}

    def walk(node: Any, depth: int) -> None:
        if not isinstance(node, dict) or depth > 3:
            return
        for key, value in node.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                found.setdefault(str(key), _text(value))
            elif isinstance(value, dict) and isinstance(value.get("value"), int | float):
                if not isinstance(value["value"], bool):
                    found.setdefault(str(key), _text(value["value"]))
            elif isinstance(value, dict):
                walk(value, depth + 1)

    walk(data.get("metrics", data) if isinstance(data, dict) else None, 0)
    return found


def metrics_from_metadata(metadata: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Numeric CustomerMetadataProperties (e.g. map=0.734), less those that are not measurements."""
    return {
        k: v
        for k, v in metadata
        if k.lower() not in _NOT_METRICS and isinstance(v, str) and _NUMBER.fullmatch(v.strip())
    }


def package_facts(package: Any, read: Callable[[str], bytes] | None) -> PackageFacts:
    """PackageFacts of an aws.sagemaker.ModelPackage (None: it does not exist); ``read`` fetches an
    S3 URI's bytes for the metrics reports."""
    if package is None:
        return PackageFacts("not found", note="no such model package in the registry")
    metadata = dict(package.metadata)
    metrics: dict[str, str] = {}
    notes = []
    for uri in package.metrics_uris if read is not None else ():
        try:
            metrics.update(
                {k: v for k, v in metrics_from_report(json.loads(read(uri))).items() if k not in metrics}
            )
        except Exception as exc:  # noqa: BLE001 - one unreadable report must not hide the others
            notes.append(f"{uri} unreadable ({_reason(exc)})")
    for key, value in metrics_from_metadata(package.metadata).items():
        metrics.setdefault(key, value)
    primary = metadata.get("metric") if metadata.get("metric") in metrics else None
    if not metrics and not notes:
        notes.append("no metrics recorded (ModelMetrics or numeric CustomerMetadataProperties)")
    return PackageFacts(package.approval, metrics, "; ".join(notes), primary)


def enrich(
    changes: list[ModelChange],
    facts: Callable[[ModelChange, str], PackageFacts],
    price: Callable[[str, str], HourlyPrice] | None,
    price_note: str = "",
) -> None:
    """Fill in registry facts (one look-up per ARN) and hourly prices of real-time variants.
    ``price`` raises with the reason when it has none; None means prices are not looked up."""
    known: dict[str, PackageFacts] = {}
    for change in changes:
        for which in ("old", "new"):
            arn = getattr(change, f"{which}_arn")
            if arn:
                if arn not in known:
                    known[arn] = facts(change, arn)
                setattr(change, f"{which}_facts", known[arn])
        change.looked_up = True
        if change.kind != "realtime":
            continue
        if price is None:
            change.price_note = price_note
            continue
        try:
            if change.old_instances:
                change.old_price = price(change.old_instances[0], change.region)
            if change.new_instances and not change.per_use:
                change.new_price = price(change.new_instances[0], change.region)
        except Exception as exc:  # noqa: BLE001 - the reason is shown instead of a price
            change.old_price = change.new_price = None
            change.price_note = str(exc)


# ------------------------------------------------------------------ rendering


def version_label(arn: str | None) -> tuple[str, str]:
    """(group, "v7") of a version ARN; ("", text) for anything else."""
    if not arn:
        return "", "none"
    m = _VERSION_ARN.fullmatch(arn)
    return (m.group(1), f"v{m.group(2)}") if m else ("", arn)


def _version_cell(change: ModelChange) -> str:
    (og, ov), (ng, nv) = version_label(change.old_arn), version_label(change.new_arn)
    # a group is a registry name; a label that is no version ARN is the config's own value
    og, ng = (code(g, table=True) if g else "" for g in (og, ng))
    ov, nv = (text(v) if g else code(v, table=True) for g, v in ((og, ov), (ng, nv)))
    if not change.version_changed:
        return f"{ng} {nv} (unchanged)" if ng else f"{nv} (unchanged)"
    if change.old_arn is None:
        return f"{ng} **{nv}** (new)" if ng else f"**{nv}** (new)"
    if change.new_arn is None:
        return f"{og} {ov} → none" if og else f"{ov} → none"
    if og and og == ng:
        return f"{ng} {ov} → **{nv}**"
    return f"{f'{og} ' if og else ''}{ov} → {f'{ng} ' if ng else ''}**{nv}**"


def _registry_cell(change: ModelChange) -> str:
    if not change.new_arn:
        return "—"
    if not change.looked_up or change.new_facts is None:
        return "not looked up"
    approval = change.new_facts.approval  # the registry's word (or a stand-in's)
    return approval if approval == "Approved" else f"⚠️ {text(approval)}"


def _decimals(text: str) -> int:
    mantissa = text.lower().split("e")[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def delta(old: str, new: str) -> str:
    try:
        diff = Decimal(new) - Decimal(old)
    except InvalidOperation:
        return ""
    places = max(_decimals(old), _decimals(new))
    text = f"{diff:+.{places}f}" if places <= 8 else f"{diff:+g}"
    return f" ({text.replace('-', '−')})"


def _metrics_cell(change: ModelChange) -> str:
    if not change.new_arn:
        return "—"
    if not change.looked_up:
        return "not looked up"
    new = change.new_facts or PackageFacts("?")
    old = (change.old_facts or PackageFacts("?")) if change.version_changed else PackageFacts("?")
    names = list(
        dict.fromkeys(
            [
                *([new.primary_metric] if new.primary_metric else []),
                *sorted(new.metrics),
                *sorted(old.metrics),
            ]
        )
    )
    parts = []
    for name in names[:MAX_METRICS]:
        # names and values are whatever a metrics report or the package's metadata holds
        o, n = old.metrics.get(name), new.metrics.get(name)
        if o is not None and n is not None:
            parts.append(f"{text(name)} {text(o)} → {text(n)}{delta(o, n)}")
        elif n is not None:
            parts.append(
                f"{text(name)} {text(n)}"
                + (" (deployed: not recorded)" if change.old_arn and change.version_changed else "")
            )
        else:
            parts.append(f"{text(name)} {text(o)} → not recorded")
    if len(names) > MAX_METRICS:
        parts.append(f"… {len(names) - MAX_METRICS} more")
    if not parts:
        parts.append(text(new.note or "none recorded"))
    return "<br>".join(parts)


def _instances_text(instances: tuple[str, int] | None) -> str:
    return f"{instances[1]} × {text(instances[0])}" if instances else "none"


def _instances_cell(change: ModelChange) -> str:
    if (
        change.old_instances == change.new_instances
        or change.old_arn is None
        and change.old_instances is None
    ):
        return _instances_text(change.new_instances)
    return f"{_instances_text(change.old_instances)} → **{_instances_text(change.new_instances)}**"


def usd(value: float) -> str:
    """A price as AWS lists it (to the cent, more digits only where the list has them)."""
    text = f"{value:.4f}".rstrip("0")
    return "$" + (text + "0" if len(text.split(".")[1]) < 2 else text)


def _hourly(price: HourlyPrice | None, instances: tuple[str, int] | None) -> float | None:
    return price.usd_per_hour * instances[1] if price is not None and instances else None


def _cost_cell(change: ModelChange) -> str:
    if change.kind != "realtime":
        return "per transform-job hour"
    if not change.looked_up:
        return "not looked up"
    old, new = (
        _hourly(change.old_price, change.old_instances),
        _hourly(change.new_price, change.new_instances),
    )
    if change.per_use:  # serverless: never an estimate
        return "priced per use" + (f" (was {usd(old)}/h)" if old is not None else "")
    if new is None:
        return "n/a"
    if old is None or change.old_instances is None:
        return f"{usd(new)}/h"
    if abs(new - old) < 1e-9:
        return f"{usd(new)}/h (±$0)"
    sign = "+" if new > old else "−"
    return f"{usd(old)} → {usd(new)}/h ({sign}{usd(abs(new - old))}/h)"


def render_models(changes: list[ModelChange]) -> list[str]:
    """Markdown lines: one table of the changes (all of one stage), and a note on where prices come from."""
    if not changes:
        return []
    lines = [
        "| pipeline | variant | model version | registry | metrics (deployed → new) | instances | on-demand cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in changes:
        lines.append(
            f"| {text(c.pipeline_id)} | {text(c.variant)} | {_version_cell(c)} | {_registry_cell(c)} | {_metrics_cell(c)} "
            f"| {_instances_cell(c)} | {_cost_cell(c)} |"
        )
    lines += ["", *_rollout_notes(changes), *_price_notes(changes)]
    return lines


def _rollout_notes(changes: list[ModelChange]) -> list[str]:
    """One line per real-time pipeline: how its endpoint takes the change (alarm names are the config's)."""
    notes = []
    for pipeline, new, old in dict.fromkeys(
        (c.pipeline_id, c.rollout, c.old_rollout) for c in changes if c.rollout
    ):
        was = f" (was: {text(old)})" if old and old != new else ""
        notes.append(f"Rollout of {text(pipeline)}: {text(new)}{was}.")
    return [*notes, ""] if notes else []


def _price_notes(changes: list[ModelChange]) -> list[str]:
    realtime = [c for c in changes if c.kind == "realtime"]
    if not realtime:
        return []
    if not any(c.looked_up for c in realtime):
        return ["Registry approval, metrics and prices are read by `mlopsctl pr-check` (they need AWS).", ""]
    prices = {p for c in realtime for p in (c.old_price, c.new_price) if p is not None}
    notes = []
    if prices:
        dates = sorted({p.effective for p in prices if p.effective})
        source = sorted({p.source for p in prices})[0]
        notes.append(
            f"Cost: {text(source)} price per instance-hour in USD"
            + (f" (effective {text(', '.join(dates))})" if dates else "")
            + " × the initial instance count; autoscaling, storage, data transfer, Savings Plans and"
            " private pricing are not included."
        )
    missing = sorted({c.price_note for c in realtime if c.price_note and (c.new_price is None)})
    notes += [f"No price: {text(reason)}." for reason in missing]
    return [*notes, ""] if notes else []


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def _text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)
