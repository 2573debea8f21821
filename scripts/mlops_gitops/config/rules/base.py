"""The base of the checks the schema can't express: the Context each check gets, the @check
registry and the helpers the rule modules share (stages, per-stage values). The checks themselves
live beside this module, one module per area (semantic: structure; models; types; secrets), and
register themselves when config.rules is imported. Each check is a small generator of Findings and
never assumes the schema passed: wrong types are skipped, not crashed on."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_gitops.config.environments import Environments
from mlops_gitops.config.schema import FieldInfo, Schema
from mlops_gitops.findings import Finding, json_path


@dataclass
class Context:
    display: str
    pipeline_id: str
    env: Environments
    schema: Schema
    # every pipeline id in the repository -> its pipeline_type (None when unreadable); read lazily,
    # only by the checks that follow references between pipelines
    pipelines_of_repo: Callable[[], Mapping[str, str | None]] = dict

    @property
    def pipelines(self) -> Mapping[str, str | None]:
        return self.pipelines_of_repo()

    def finding(
        self, path: list, code: str, message: str, hint: str = "", severity: str = "error"
    ) -> Finding:
        return Finding(self.display, json_path(path), code, message, hint, severity)


Check = Callable[[dict[str, Any], Context], Iterator[Finding]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


def semantic_findings(config: dict[str, Any], ctx: Context) -> list[Finding]:
    return [f for fn in CHECKS for f in fn(config, ctx)]


def approval_stages(config: dict[str, Any], env: Environments) -> list[str]:
    """The pipeline's stages that need approval or are protected (staging and prod by default)."""
    return [s for s in pipeline_stages(config, env) if (st := env.stage(s)) and (st.approval or st.protected)]


def stages_text(stages: list[str]) -> str:
    return ("stage " if len(stages) == 1 else "stages ") + ", ".join(repr(s) for s in stages)


def by_path(items: Iterator[tuple[list, str]]) -> dict[tuple, list[str]]:
    """Group (path, stage) pairs so that one value shared by several stages gives one finding."""
    grouped: dict[tuple, list[str]] = {}
    for path, stage in items:
        grouped.setdefault(tuple(path), []).append(stage)
    return grouped


# ---------------------------------------------------------------- helpers


def pipeline_type(config: dict[str, Any], ctx: Context) -> str | None:
    t = config.get("pipeline_type")
    return t if isinstance(t, str) and t in ctx.schema.types else None


def pipeline_stages(config: dict[str, Any], env: Environments) -> list[str]:
    """The stages this pipeline deploys to, in environments.json's order: its ``stages``, else every
    stage, except that an image builder without ``stages`` builds once per account and region (see
    ``image_builder_stage``). The one source of truth for validate, render, plan, deploy, prune
    and status: a stage not listed here has no stack of this pipeline."""
    wanted = config.get("stages")
    if isinstance(wanted, list) and wanted and all(isinstance(s, str) for s in wanted):
        return [s for s in env.names if s in wanted]
    if config.get("pipeline_type") == "byom_image_builder":
        return [s for s in env.names if image_builder_stage(env, s) == s]
    return env.names


def image_builder_stage(env: Environments, stage: str) -> str:
    """The stage whose image builder serves ``stage``: the first stage, in environments.json's
    order, in the same account and region (stages without an account_id share the pipeline
    account). An image belongs to its account and is promoted by digest, not rebuilt per stage,
    and an ECR repository name exists once per account and region:
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/Repositories.html"""
    names = env.names
    earlier = names[: names.index(stage)] if stage in names else []
    return next((s for s in earlier if _scope(env, s) == _scope(env, stage)), stage)


def _scope(env: Environments, stage: str) -> tuple[str | None, str | None]:
    found = env.stage(stage)
    return (found.account_id if found else None), env.region_of(stage)


def is_stage_map(info: FieldInfo, value: Any) -> bool:
    if not info.stageable or not isinstance(value, dict) or not value:
        return False
    if not info.scalar_is_object:
        return True
    own_keys = info.scalar.get("properties", {})
    return not any(k in own_keys for k in value)


def stage_value(config: dict[str, Any], ctx: Context, name: str, stage: str) -> Any:
    """The value of field ``name`` for ``stage`` (None when absent)."""
    value = config.get(name)
    info = ctx.schema.fields.get(name)
    if info is not None and is_stage_map(info, value):
        return value.get(stage)
    return value


def per_stage(config: dict[str, Any], ctx: Context, name: str) -> Iterator[tuple[str, Any, list]]:
    """(stage, value, path) for every stage the pipeline deploys to where the field has a value."""
    value = config.get(name)
    info = ctx.schema.fields.get(name)
    for stage in pipeline_stages(config, ctx.env):
        if info is not None and is_stage_map(info, value):
            if stage in value:
                yield stage, value[stage], [name, stage]
        elif value is not None:
            yield stage, value, [name]


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []
