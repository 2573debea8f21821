"""The adoption plan of `mlopsctl migrate-mwo --adopt` as text: each step, what it changes and
why the endpoint stays up (ops.adopt builds the plan)."""

from __future__ import annotations

from typing import Any


def render_plan(plan: Any, applying: bool) -> str:
    lines = [
        f"adopt endpoint {plan.endpoint_name} from MWO stack {plan.mwo_stack} into {plan.our_stack}"
        f" ({plan.stage}); the endpoint stays InService at every step:"
    ]
    for n, step in enumerate(plan.steps, 1):
        who = "" if step.applied_here else " (run by mlopsctl deploy, after this)"
        lines += [
            f"  {n}. {step.title}{who}",
            f"     changes: {step.changes}",
            f"     endpoint up because: {step.endpoint}",
        ]
    others = [r for r in plan.retained if r[2] and r[2] not in (plan.endpoint_name, plan.endpoint_arn)]
    if others:
        lines.append("  retained from MWO's stack, yours to delete once step 4 is done:")
        lines += [f"    - {rtype} {physical} ({logical})" for logical, rtype, physical in others]
    if not applying:
        lines.append("  nothing changed; --apply runs steps 1-3")
    return "\n".join(lines) + "\n"
