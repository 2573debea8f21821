"""Deploy's closing summary: one row per stack, then the counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_gitops.report.table import table

if TYPE_CHECKING:
    from mlops_gitops.ops.deploy import Outcome


def deploy_summary(outcomes: list[Outcome]) -> str:
    header = ("PIPELINE", "STAGE", "STACK", "RESULT", "DETAIL")
    rows = [header] + [
        (o.item.pipeline_id or "?", o.item.stage, o.item.stack_name, o.result, o.detail) for o in outcomes
    ]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    tail = ", ".join(f"{n} {r}" for r, n in sorted(counts.items())) or "nothing to do"
    return table(rows) + f"deploy: {tail}\n"
