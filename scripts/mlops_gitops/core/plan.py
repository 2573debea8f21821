"""Plan: rendered stack specs + what is deployed -> what each stack needs. Pure: no AWS calls.

Actions: create, update, unchanged, recreate (a stack that never finished its first create),
wait (in progress; deploy waits, then plans it again), delete (a stack of ours whose config is
gone), blocked (a finding stops this pipeline, e.g. an unapproved model version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mlops_gitops import graph
from mlops_gitops.aws.stack_states import NEVER_CREATED, STABLE_OK
from mlops_gitops.config.references import type_depends_on
from mlops_gitops.core.render import MANAGED_BY, REPOSITORY_TAG, StackSpec
from mlops_gitops.repo import CONFIGS_DIR

_IN_PROGRESS_SUFFIX = "_IN_PROGRESS"
ACTIONS = ("create", "update", "recreate", "wait", "delete", "blocked", "keep", "unchanged")


@dataclass(frozen=True)
class Deployed:
    """What plan needs to know of a deployed stack (built from the gateway's StackSnapshot)."""

    name: str
    status: str
    tags: Mapping[str, str]
    parameters: Mapping[str, str]
    termination_protection: bool = False


@dataclass(frozen=True)
class ParamChange:
    key: str
    old: str | None
    new: str | None


@dataclass
class PlanItem:
    stage: str
    stack_name: str
    action: str
    pipeline_id: str | None
    spec: StackSpec | None = None
    status: str | None = None  # the deployed stack's status, None when there is no stack
    reasons: list[str] = field(default_factory=list)
    param_changes: list[ParamChange] = field(default_factory=list)
    protected: bool = False
    # from a change set, when AWS was asked: (action, logical id, resource type, replacement)
    resource_changes: list[tuple[str, str, str, str]] | None = None
    # deploy order within the stage (core.plan.assign_waves): wave 1 first; a stack deploys after
    # the pipelines it refers to (depends_on: their ids), deletes after every deploy, dependants first
    wave: int = 1
    depends_on: list[str] = field(default_factory=list)
    # an update SageMaker refuses in one step (core.autoscaling): why, one line per variant
    two_step: list[str] = field(default_factory=list)

    @property
    def replacements(self) -> list[str]:
        return [
            f"{lid} ({rtype})"
            for action, lid, rtype, repl in self.resource_changes or []
            if repl in ("True", "Conditional")
        ]

    def change_summary(self) -> str:
        if self.resource_changes is None:
            return ""
        counts: dict[str, int] = {}
        for action, *_ in self.resource_changes:
            counts[action] = counts.get(action, 0) + 1
        text = ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "no resource changes"
        if self.replacements:
            text += f"; REPLACES {', '.join(self.replacements)}"
        return text

    def to_dict(self) -> dict:
        return {
            "pipeline_id": self.pipeline_id,
            "stage": self.stage,
            "stack_name": self.stack_name,
            "action": self.action,
            "status": self.status,
            "reasons": self.reasons,
            "parameter_changes": [{"key": c.key, "old": c.old, "new": c.new} for c in self.param_changes],
            "protected": self.protected,
            "spec_hash": self.spec.spec_hash if self.spec else None,
            "resource_changes": None
            if self.resource_changes is None
            else [
                {"action": a, "logical_id": lid, "type": t, "replacement": r}
                for a, lid, t, r in self.resource_changes
            ],
            "replacements": self.replacements,
            "wave": self.wave,
            "depends_on": self.depends_on,
            "two_step": self.two_step,
        }


def param_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[ParamChange]:
    """Parameters whose value changes. A parameter the spec does not set keeps the template's
    default, so only the spec's own keys are compared (Sceptre's rule)."""
    return [ParamChange(k, old.get(k), v) for k, v in sorted(new.items()) if old.get(k) != v]


def plan_stage(
    stage: str,
    specs: Iterable[StackSpec],
    deployed: Mapping[str, Deployed],
    stack_prefix: str,
    protected_stage: bool = False,
    present_ids: Iterable[str] | None = None,
    repository: str | None = None,
) -> list[PlanItem]:
    """``present_ids``: every entry under pipeline-configs/ (a folder, a link, anything: whatever
    its contents). A stack of ours without a spec is a delete only when its folder is gone;
    otherwise (stage dropped, template pending, a config that can't be read) it is kept.

    ``repository``: our identity (core.render.repository_identity). When given, a stack is a delete
    only when its ``mlops:repository`` tag names us: another repository's stacks under the same
    prefix are left out of the plan, and stacks deployed before the tag existed are kept with a
    reason (an update of a pipeline that still exists adopts them by setting the tag)."""
    items: list[PlanItem] = []
    deleted_types: dict[str, str] = {}
    names = set()
    present = None if present_ids is None else set(present_ids)
    for spec in specs:
        names.add(spec.stack_name)
        items.append(_plan_one(spec, deployed.get(spec.stack_name), repository))
    for name, stack in sorted(deployed.items()):
        tags = stack.tags
        ours = (
            tags.get("mlops:managed-by") == MANAGED_BY
            and tags.get("mlops:stage") == stage
            and name.startswith(f"{stack_prefix}-")
        )
        if not ours or name in names or stack.status in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
            continue
        owner = tags.get(REPOSITORY_TAG)
        if repository is not None and owner is not None and owner != repository:
            continue  # another repository's stack under the same prefix: never ours to touch
        pipeline_id = tags.get("mlops:pipeline-id")
        protected = protected_stage or stack.termination_protection

        def keep(reason: str, pipeline_id=pipeline_id, stack=stack, protected=protected, name=name) -> None:
            items.append(
                PlanItem(
                    stage,
                    name,
                    "keep",
                    pipeline_id,
                    status=stack.status,
                    reasons=[reason],
                    protected=protected,
                )
            )

        if present is not None and pipeline_id in present:
            keep(
                f"{CONFIGS_DIR}/{pipeline_id}/ exists but no longer deploys this stack (stage left out, its type "
                "has no template, or its config can't be read); kept: a folder that exists is never pruned"
            )
            continue
        if not pipeline_id:
            keep(
                "no mlops:pipeline-id tag: can't tell which folder it came from; delete it by hand if intended"
            )
            continue
        if repository is not None and owner is None:
            keep(
                f"no {REPOSITORY_TAG} tag: deployed before ownership was recorded; delete by hand or redeploy it"
            )
            continue
        reason = f"no folder {CONFIGS_DIR}/{pipeline_id}/"
        if tags.get("mlops:commit"):
            reason += f" (last deployed from commit {tags['mlops:commit'][:12]})"
        reason += "; deleted only with --prune (data is retained)"
        if stack.status == "DELETE_FAILED":
            reason += "; an earlier delete failed and will be retried"
        items.append(
            PlanItem(
                stage, name, "delete", pipeline_id, status=stack.status, reasons=[reason], protected=protected
            )
        )
        deleted_types[name] = tags.get("mlops:pipeline-type", "")
    assign_waves(items, deleted_types)
    order = {a: i for i, a in enumerate(ACTIONS)}
    return sorted(items, key=lambda i: (i.wave, order[i.action], i.stack_name))


def assign_waves(items: list[PlanItem], deleted_types: Mapping[str, str]) -> None:
    """Set each item's wave (issue 15: deploy in dependency order). A stack deploys in a wave after
    every pipeline of this stage it refers to (StackSpec.depends_on, from config.references);
    deletes come after all of them, in reverse: a stack that may refer to another (by pipeline
    type, config.references.type_depends_on; their configs are gone) is deleted first.
    ``deleted_types``: stack name -> pipeline type (its mlops:pipeline-type tag) of each delete."""
    live = [i for i in items if i.action != "delete"]
    by_id = {i.pipeline_id: i for i in live if i.pipeline_id}
    for item in live:
        item.depends_on = sorted(
            {target for target, _ in (item.spec.depends_on if item.spec else ()) if target in by_id}
        )
    order = graph.waves(by_id, {pid: i.depends_on for pid, i in by_id.items()})
    for item in live:
        item.wave = order.get(item.pipeline_id or "", 1)
    last = max((i.wave for i in live), default=0)
    deletes = {i.stack_name: i for i in items if i.action == "delete"}
    # a -> b when a's type may refer to b's: b is deleted only after a
    refers = {
        a: [
            b
            for b in deletes
            if b != a and type_depends_on(deleted_types.get(a, ""), deleted_types.get(b, ""))
        ]
        for a in deletes
    }
    depth = graph.waves(deletes, refers)
    deepest = max(depth.values(), default=0)
    for name, item in deletes.items():
        item.wave = last + 1 + deepest - depth[name]
        item.depends_on = sorted({deletes[a].pipeline_id or a for a in deletes if name in refers[a]})


def _plan_one(spec: StackSpec, stack: Deployed | None, repository: str | None = None) -> PlanItem:
    item = PlanItem(
        spec.stage,
        spec.stack_name,
        "create",
        spec.pipeline_id,
        spec=spec,
        protected=spec.termination_protection,
    )
    if stack is None:
        item.reasons.append("no stack yet")
        item.param_changes = param_changes({}, spec.parameters)
        return item
    item.status = stack.status
    owner = stack.tags.get(REPOSITORY_TAG)
    if repository is not None and owner is not None and owner != repository:
        item.action = "keep"
        item.reasons.append(
            f"the stack belongs to repository {owner!r}, not {repository!r} (both use this stack prefix); "
            "not changed: give one repository another stack_prefix"
        )
        return item
    if stack.status in NEVER_CREATED or stack.status == "DELETE_FAILED":
        item.action = "recreate"
        why = (
            "a delete failed earlier"
            if stack.status == "DELETE_FAILED"
            else "the stack never finished its first create"
        )
        item.reasons.append(f"{why} ({stack.status}): delete it and create again")
        return item
    if stack.status.endswith(_IN_PROGRESS_SUFFIX):
        item.action = "wait"
        item.reasons.append(f"{stack.status}: wait for it to settle, then plan again")
        return item
    if stack.tags.get("mlops:spec-hash") == spec.spec_hash and stack.status in STABLE_OK:
        item.action = "unchanged"
        return item
    item.action = "update"
    item.param_changes = param_changes(stack.parameters, spec.parameters)
    if stack.status == "UPDATE_ROLLBACK_FAILED":
        item.reasons.append("UPDATE_ROLLBACK_FAILED: continue the rollback first")
    if stack.tags.get("mlops:spec-hash") is None:
        item.reasons.append("the stack has no mlops:spec-hash tag (first deploy by mlops-gitops)")
    elif not item.param_changes:
        item.reasons.append("template, tags or artifacts changed")
    if stack.status not in STABLE_OK and stack.status != "UPDATE_ROLLBACK_FAILED":
        item.reasons.append(f"the stack is {stack.status}")
    return item


# ------------------------------------------------------------------ rendering a plan
