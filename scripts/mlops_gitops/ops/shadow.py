"""`mlopsctl promote ID --from-shadow --stage S`: the stage's shadow variant becomes its production
model, in one commit, by the same targeted edits as a promotion (ops.promote, jsonedit).

A shadow variant gets a copy of the stage's requests and its answers are only captured
(ShadowProductionVariants: https://docs.aws.amazon.com/sagemaker/latest/dg/model-shadow-deployment.html).
Once it has proved itself, its model (``model_package_name`` or ``model_artifact_location``) and
its instance settings, when it sets them, move to where the stage's production model is decided,
and ``shadow_variant`` is set to null for that stage (other stages keep theirs):

- no ``production_variants`` in the stage: the stage's ``model_package_name`` pin (its per-stage
  key, added or split out as promote does); ``inference_instance`` / ``instance_count`` likewise.
  ``model_artifact_location`` is one value for every stage, so an artifact shadow is taken only by
  a pipeline that deploys to that stage alone;
- one production variant: the variant itself when it brings its own model, else as above;
- several production variants: the shadow replaces the one named by ``--variant``, on that variant
  (its weight kept); without ``--variant`` it is refused, since which variant it should replace is
  the author's call.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from mlops_gitops import jsonedit
from mlops_gitops.errors import GitOpsError, UsageError
from mlops_gitops.ops.promote import VERSION_ARN, PromotionError
from mlops_gitops.report import markdown as md
from mlops_gitops.report.models import version_label
from mlops_gitops.report.serving import OWN_KEYS, shadow_model

# The keys of one shadow_variant (the same table pr-check reads); an object with none of them is
# a per-stage map.
SHADOW_KEYS = frozenset(OWN_KEYS["shadow_variant"])
MODEL_KEYS = ("model_package_name", "model_artifact_location")
INSTANCE_KEYS = ("inference_instance", "instance_count")
DEFAULTS = {"instance_count": 1}  # the schema's defaults, for stages a split leaves unset


@dataclass(frozen=True)
class Edit:
    """Replace the value at ``path``, or (``key`` set) add ``key`` to the object at ``path``."""

    path: tuple[str | int, ...]
    value: Any
    key: str | None = None

    @property
    def display(self) -> str:
        out = "$"
        for step in (*self.path, *([self.key] if self.key is not None else [])):
            out += f"[{step}]" if isinstance(step, int) else f".{step}"
        return out


def is_shadow_map(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and not any(k in SHADOW_KEYS for k in value)


def stage_shadow(data: dict[str, Any], stage: str) -> dict[str, Any] | None:
    """The shadow variant ``stage`` deploys (None: none, or null for that stage)."""
    value = data.get("shadow_variant")
    if is_shadow_map(value):
        value = value.get(stage)
    return value if isinstance(value, dict) else None


def stage_set(data: dict[str, Any], name: str, stage: str, stages: list[str], value: Any) -> list[Edit]:
    """Edits giving the stage-able top-level field ``name`` the value ``value`` in ``stage`` alone."""
    current = data.get(name)
    if isinstance(current, dict):  # a per-stage map
        if current.get(stage) == value and stage in current:
            return []
        return [Edit((name, stage), value)] if stage in current else [Edit((name,), value, key=stage)]
    if current == value:
        return []
    if len(stages) == 1:
        return [Edit((name,), value)] if name in data else [Edit((), value, key=name)]
    if current is None and name not in DEFAULTS:
        raise PromotionError(
            f"{name} is not set, so it can't be set for {stage!r} alone; set it per stage first"
        )
    others = DEFAULTS[name] if current is None else current
    split = {s: value if s == stage else others for s in stages}
    return [Edit((name,), split)] if name in data else [Edit((), split, key=name)]


def _variants(data: dict[str, Any], stage: str) -> tuple[list[Any] | None, tuple[str | int, ...]]:
    value = data.get("production_variants")
    if isinstance(value, dict):
        return value.get(stage), ("production_variants", stage)
    return value, ("production_variants",)


def _on_variant(
    data: dict[str, Any], stage: str, stages: list[str], index: int, new_variant: dict[str, Any]
) -> list[Edit]:
    """Edits replacing variant ``index`` of the stage's production_variants."""
    variants, path = _variants(data, stage)
    assert variants is not None
    if path[-1] == stage or len(stages) == 1:
        return [Edit((*path, index), new_variant)]
    # one list for every stage: the stage gets its own copy, the others keep theirs
    changed = [new_variant if i == index else v for i, v in enumerate(variants)]
    return stage_set(data, "production_variants", stage, stages, changed)


def shadow_edits(
    data: dict[str, Any], stage: str, stages: list[str], variant: str | None = None
) -> tuple[list[Edit], str]:
    """The edits making the stage's shadow its production model, and where it now serves (words)."""
    shadow = stage_shadow(data, stage)
    if shadow is None:
        raise PromotionError(f"{stage!r} has no shadow_variant to promote; nothing was changed")
    model = {k: shadow[k] for k in MODEL_KEYS if shadow.get(k)}
    if len(model) != 1:
        raise PromotionError(
            f"the shadow_variant of {stage!r} names {'no model' if not model else 'two models'}; "
            "give it one model_package_name or model_artifact_location"
        )
    instances = {k: shadow[k] for k in INSTANCE_KEYS if shadow.get(k) is not None}
    variants, _ = _variants(data, stage)
    edits: list[Edit] = []
    if isinstance(variants, list) and variants:
        names = [v.get("name") for v in variants if isinstance(v, dict)]
        if variant is None and len(variants) > 1:
            raise PromotionError(
                f"{stage!r} has {len(variants)} production variants ({', '.join(map(str, names))}); "
                "say which one the shadow replaces with --variant NAME (its weight is kept)"
            )
        if variant is not None and variant not in names:
            raise UsageError(
                f"no variant {variant!r} in {stage!r}; its variants: {', '.join(map(str, names))}"
            )
        index = names.index(variant) if variant is not None else 0
        chosen = variants[index]
        own_model = any(k in chosen for k in MODEL_KEYS)
        if len(variants) > 1 or own_model:
            new = {k: v for k, v in chosen.items() if k not in MODEL_KEYS} | model
            new |= instances
            return _on_variant(data, stage, stages, index, new) + _drop_shadow(data, stage, stages), (
                f"production variant {chosen.get('name')!r}"
            )
        variant_instances = {k: v for k, v in instances.items() if k in chosen}
        if variant_instances:
            edits += _on_variant(data, stage, stages, index, chosen | variant_instances)
        instances = {k: v for k, v in instances.items() if k not in chosen}
    elif variant is not None:
        raise UsageError(f"{stage!r} has no production_variants, so there is no variant {variant!r}")
    ((key, value),) = model.items()
    if key == "model_package_name":
        if data.get("model_package_name") is None:
            raise PromotionError(
                "this pipeline serves model_artifact_location, not a Model Registry package: set its "
                f"model_package_name for {stage!r} to {value} by hand (and remove the shadow), or register it"
            )
        edits += stage_set(data, "model_package_name", stage, stages, value)
    else:
        pinned = data.get("model_package_name")
        if (pinned.get(stage) if isinstance(pinned, dict) else pinned) or len(stages) > 1:
            raise PromotionError(
                "the shadow serves an S3 artifact, but the stage's model is a registry package or "
                "model_artifact_location is shared by every stage: register the shadow's model and "
                "promote its version (mlopsctl promote --model-package-arn), or give the stage a "
                "production variant with that model_artifact_location by hand"
            )
        edits.append(Edit(("model_artifact_location",), value))
    for name, setting in instances.items():
        edits += stage_set(data, name, stage, stages, setting)
    return edits + _drop_shadow(data, stage, stages), "the stage's model"


def _drop_shadow(data: dict[str, Any], stage: str, stages: list[str]) -> list[Edit]:
    """shadow_variant set to null for ``stage`` alone (a stage map keeps covering every stage)."""
    value = data.get("shadow_variant")
    if is_shadow_map(value):
        return [Edit(("shadow_variant", stage), None)]
    if len(stages) == 1:
        return [Edit(("shadow_variant",), None)]
    return [Edit(("shadow_variant",), {s: None if s == stage else value for s in stages})]


def apply_edits(text: str, edits: list[Edit]) -> str:
    """The config text with ``edits`` made; checked to change exactly what they say."""
    expected = jsonedit.loads(text)
    new = text
    for edit in edits:
        if edit.key is None:
            new = jsonedit.replace_value(new, edit.path, edit.value)
        else:
            new = jsonedit.add_key(new, edit.path, edit.key, edit.value)
        node: Any = expected
        steps = edit.path if edit.key is not None else edit.path[:-1]
        for step in steps:
            node = node[step]
        node[edit.key if edit.key is not None else edit.path[-1]] = copy.deepcopy(edit.value)
    if jsonedit.loads(new) != expected:
        raise GitOpsError("internal error: the edits changed more than the shadow's promotion")
    return new


# ------------------------------------------------------------------ the change as words


def model_label(shadow: dict[str, Any]) -> str:
    """The shadow's model in words (the words pr-check uses for it)."""
    return shadow_model(shadow, otherwise="?")


@dataclass
class ShadowPromotion:
    pipeline_id: str
    stage: str
    file: str
    shadow: dict[str, Any]
    edits: list[Edit]
    where: str  # "the stage's model" | "production variant 'x'"
    base: str
    approval: str = ""  # the registry's word on a version ARN ("" for an artifact or a group)
    branch: str = ""

    def versions(self) -> str:
        return md.one_line(f"shadow {model_label(self.shadow)} becomes {self.where}")

    def title(self) -> str:
        return md.one_line(
            f"Promote {self.pipeline_id}'s shadow in {self.stage}: {model_label(self.shadow)}"
        )[:150]

    def _edit_lines(self) -> list[str]:
        return [f"{e.display} = {md.one_line(jsonedit._dump(e.value))}"[:300] for e in self.edits]

    def message(self) -> str:
        one = md.one_line
        lines = [
            self.title(),
            "",
            f"{one(self.file)}: the shadow variant of {one(self.stage)} becomes {one(self.where)}",
            f"  {one(model_label(self.shadow))}"
            + (f" ({one(self.approval)} in the Model Registry)" if self.approval else ""),
            "and stops being a shadow there. Edits:",
            *[f"  {line}" for line in self._edit_lines()],
            "",
            "Rollback: " + one(self.rollback()),
            "",
            "Made by mlopsctl promote --from-shadow.",
        ]
        return "\n".join(lines) + "\n"

    def rollback(self) -> str:
        return "git revert this commit (the previous model and the shadow come back)"

    def description(self) -> str:
        edits = "\n".join(f"- {md.code(line)}" for line in self._edit_lines())
        return (
            f"Promotes the shadow variant of **{md.text(self.pipeline_id)}** in **{md.text(self.stage)}** "
            f"({md.text(self.file)}): {md.code(model_label(self.shadow))} becomes {md.text(self.where)}, "
            f"and the stage's shadow_variant is removed.\n\n{edits}\n\n"
            "The pr-check build comments the plan of every stage on this pull request.\n"
            f"Rollback: {md.text(self.rollback())}.\n"
        )[:10_240]

    def default_branch(self) -> str:
        group, version = version_label(self.shadow.get("model_package_name"))
        tail = f"-{group}-{version}" if group else ""
        return re.sub(r"[^A-Za-z0-9._/-]", "-", f"promote/{self.pipeline_id}-{self.stage}-shadow{tail}")


def shadow_package(shadow: dict[str, Any]) -> str | None:
    """The shadow's model-package version ARN, when it names one (a group has no single version)."""
    value = shadow.get("model_package_name")
    return value if isinstance(value, str) and VERSION_ARN.fullmatch(value) else None
