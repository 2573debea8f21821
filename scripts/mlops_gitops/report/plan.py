"""A plan as text (the CLI), JSON (machines) and markdown (the pull-request comment)."""

from __future__ import annotations

import json

from mlops_gitops.core.plan import ACTIONS, PlanItem
from mlops_gitops.report.markdown import code, text
from mlops_gitops.report.model_card import card_change
from mlops_gitops.report.models import model_changes, render_models
from mlops_gitops.report.serving import render_serving


def plan_json(items: list[PlanItem], findings: list | None = None) -> str:
    doc = {"items": [i.to_dict() for i in items], "findings": [f.to_dict() for f in findings or []]}
    return json.dumps(doc, indent=2) + "\n"


def wave_counts(items: list[PlanItem]) -> dict[str, int]:
    """stage -> how many deploy waves it has."""
    out: dict[str, set[int]] = {}
    for item in items:
        out.setdefault(item.stage, set()).add(item.wave)
    return {stage: len(waves) for stage, waves in out.items()}


def wave_label(item: PlanItem, items: list[PlanItem]) -> str:
    """'wave 2/3, after churn-realtime' (deletes: 'after' = once those are deleted); '' when the
    stage deploys in one wave."""
    waves = sorted({i.wave for i in items if i.stage == item.stage})
    if len(waves) < 2:
        return ""
    text = f"wave {waves.index(item.wave) + 1}/{len(waves)}"
    return text + (f", after {', '.join(item.depends_on)}" if item.depends_on else "")


def plan_text(items: list[PlanItem]) -> str:
    lines = []
    shown = None
    for item in items:
        if wave_label(item, items) and (item.stage, item.wave) != shown:
            shown = (item.stage, item.wave)
            lines.append(f"-- {item.stage}: {wave_label(item, items).split(',')[0]}")
        head = f"{item.action:<9} {item.stack_name}"
        if item.depends_on:
            head += f"  [after {', '.join(item.depends_on)}]"
        if item.reasons:
            head += f"  ({'; '.join(item.reasons)})"
        lines.append(head)
        if item.change_summary():
            lines.append(f"            changes: {item.change_summary()}")
        for change in item.param_changes if item.action == "update" else []:
            lines.append(f"            {change.key}: {_show(change.old)} -> {_show(change.new)}")
    counts = {a: sum(1 for i in items if i.action == a) for a in ACTIONS}
    lines.append(
        "plan: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n)
        if items
        else "plan: nothing to deploy"
    )
    return "\n".join(lines) + "\n"


def plan_markdown(items: list[PlanItem], models: list | None = None, serving: list | None = None) -> str:
    """A table per stage, then that stage's model section (versions, registry approval, metrics,
    instances, cost). ``models``: model_report.ModelChange records already looked up in AWS; by
    default they are derived from the items alone (versions and instances, no registry facts).
    ``serving``: report.serving.ServingChange records (variant kinds and shadows, from configs)."""
    if models is None:
        models = model_changes(items)
    by_stage: dict[str, list[PlanItem]] = {}
    for item in items:
        by_stage.setdefault(item.stage, []).append(item)
    out = []
    for stage, stage_items in by_stage.items():
        out += [
            f"### Stage {code(stage)}",
            "",
            "| action | stack | pipeline | details |",
            "|---|---|---|---|",
        ]
        for item in stage_items:
            # reasons carry AWS's words (stack status reasons) and names from configs and tags
            details = "; ".join(
                [
                    *([text(wave_label(item, items))] if wave_label(item, items) else []),
                    *map(text, item.reasons),
                    *([f"changes: {text(item.change_summary())}"] if item.change_summary() else []),
                ]
            )
            if item.replacements:
                details = "⚠️ " + details
            if item.status is None:  # a create: its parameters, less the empty ones
                changes = "<br>".join(
                    f"{code(c.key, table=True)}: {code(c.new, table=True)}"
                    for c in item.param_changes
                    if c.new
                )
            else:
                changes = "<br>".join(
                    f"{code(c.key, table=True)}: {code(_show(c.old), table=True)} → {code(_show(c.new), table=True)}"
                    for c in item.param_changes
                )
            out.append(
                f"| {text(item.action)} | {code(item.stack_name, table=True)} | {text(item.pipeline_id or '')} "
                f"| {'<br>'.join(x for x in (details, changes) if x)} |"
            )
        out.append("")
        cards = [(item, card_change(item)) for item in stage_items]
        out += [
            f"- model card of {text(item.pipeline_id or item.stack_name)}: {text(what)}"
            for item, what in cards
            if what
        ]
        if any(what for _, what in cards):
            out.append("")
        stage_models = [m for m in models if m.stage == stage]
        if stage_models:
            out += [f"#### Models in {code(stage)}", "", *render_models(stage_models)]
        stage_serving = render_serving([c for c in serving or [] if c.stage == stage])
        if stage_serving and not stage_models:
            out += [f"#### Models in {code(stage)}", ""]
        out += stage_serving
    return "\n".join(out) if out else "No stacks to deploy.\n"


def _show(value: str | None) -> str:
    if value is None:
        return "(none)"
    return value if value else '""'
