"""Two-step updates of autoscaled endpoint variants (issue 15, item 4): why and how in
core.autoscaling. Plan marks the item; deploy applies step 1 (autoscaling deregistered, nothing
else changed) before the ordinary update, which registers it again."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from mlops_gitops.aws.cloudformation import StackError, StackSnapshot
from mlops_gitops.core import autoscaling
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.core.render import StackSpec
from mlops_gitops.core.templates import load_template

if TYPE_CHECKING:
    from mlops_gitops.ops.deploy import Deployer


def _declared(deployer: Deployer, spec: StackSpec) -> dict:
    return load_template(deployer.repo.root, spec.template.rsplit("/", 1)[-1]).parameters


def _refused(deployer: Deployer, spec: StackSpec, snap: StackSnapshot) -> list[str]:
    """core.autoscaling.refused_changes, both sides completed with the template's defaults (what
    CloudFormation used for a parameter left out)."""
    declared = _declared(deployer, spec)
    return autoscaling.refused_changes(
        autoscaling.with_defaults(snap.parameters, declared),
        autoscaling.with_defaults(spec.parameters, declared),
    )


def mark(deployer: Deployer, items: list[PlanItem], snaps: dict[str, StackSnapshot]) -> None:
    """Mark each update that SageMaker would refuse in one step, with the reason."""
    for item in items:
        spec, snap = item.spec, snaps.get(item.stack_name)
        if item.action != "update" or spec is None or snap is None or spec.template != autoscaling.TEMPLATE:
            continue
        item.two_step = _refused(deployer, spec, snap)
        if item.two_step:
            item.reasons.append(f"two-step update: {'; '.join(item.two_step)}")


def deregister_first(deployer: Deployer, item: PlanItem, spec: StackSpec, snap: StackSnapshot) -> str:
    """Step 1 when the stack as it is now needs it (an earlier run may have done it already):
    the ordinary change-set path with the deployed parameters and AutoscalingRegistration
    "deregistered". The stack keeps its old mlops:spec-hash, so a failed step 2 plans again.
    Returns what it did, for the outcome's detail ('' when nothing was needed)."""
    if spec.template != autoscaling.TEMPLATE:
        return ""
    declared = _declared(deployer, spec)
    why = _refused(deployer, spec, snap)
    if not why:
        return ""
    deployer.on_progress(
        f"deploy: {spec.stack_name}: two-step update, step 1/2: deregistering autoscaling ({'; '.join(why)})\n"
    )
    tags = {k: v for k, v in spec.tags.items() if k != "mlops:spec-hash"}
    if snap.spec_hash:
        tags["mlops:spec-hash"] = snap.spec_hash
    try:
        applied = deployer.apply_change_set(
            spec,
            f"mlops-deregister-{uuid.uuid4().hex[:12]}",
            autoscaling.step_one_parameters(snap.parameters, spec.parameters, declared),
            tags,
        )
    except StackError as exc:
        what = str(exc).removeprefix(f"{spec.stack_name}: ")
        raise StackError(
            spec.stack_name, f"two-step update, step 1 (deregistering autoscaling): {what}"
        ) from exc
    deployer.on_progress(
        f"deploy: {spec.stack_name}: two-step update, step 2/2: the update, autoscaling registered again\n"
    )
    return (
        f"two-step update: autoscaling deregistered first ({len(applied.changes)} resource change(s); "
        f"{'; '.join(why)}), then updated and registered again; "
    )
