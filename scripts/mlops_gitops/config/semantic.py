"""Checks the schema can't express. This module holds the registry, the helpers and the
structural checks (stages, names after prefixes); rules_models, rules_types and secrets hold the
rest. Each check is a small generator of Findings and never assumes the schema passed: wrong
types are skipped, not crashed on."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_gitops import names
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.schema import FieldInfo, Schema
from mlops_gitops.findings import WARNING, Finding, json_path
from mlops_gitops.suggest import did_you_mean


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
    """The stages this pipeline deploys to, in environments.json's order."""
    wanted = config.get("stages")
    if isinstance(wanted, list) and wanted and all(isinstance(s, str) for s in wanted):
        return [s for s in env.names if s in wanted]
    return env.names


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


# ---------------------------------------------------------------- structure


@check
def pipeline_id_form(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if not names.PIPELINE_ID.match(ctx.pipeline_id):
        yield ctx.finding(
            [],
            "pipeline-id",
            f"the folder name {ctx.pipeline_id!r} is not a valid pipeline id",
            "rename the folder: 1-40 lower-case letters, digits and single hyphens, starting and ending with a letter or digit",
        )


@check
def unused_keys(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    ptype = pipeline_type(config, ctx)
    if ptype is None:
        return
    used = ctx.schema.types[ptype].fields
    for key in config:
        if key in ctx.schema.fields and key not in used:
            yield ctx.finding(
                [key],
                "unused-key",
                f"{key!r} is not used by pipeline_type {ptype!r} and is ignored",
                "remove it, or check pipeline_type",
                severity=WARNING,
            )


@check
def stages_known(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    wanted = config.get("stages")
    if not isinstance(wanted, list):
        return
    for index, stage in enumerate(wanted):
        if isinstance(stage, str) and stage not in ctx.env.names:
            hint = did_you_mean(stage, ctx.env.names, f"environments.json defines {ctx.env.names}")
            yield ctx.finding(
                ["stages", index], "stage", f"{stage!r} is not a stage of environments.json", hint
            )


@check
def stage_coverage(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    stages = pipeline_stages(config, ctx.env)
    for name, value in config.items():
        info = ctx.schema.fields.get(name)
        if info is None or not is_stage_map(info, value):
            continue
        for key in value:
            if key not in stages:
                if key in ctx.env.names:
                    hint = f"remove it, or add {key!r} to this pipeline's 'stages'"
                    message = f"stage {key!r} is not one this pipeline deploys to ({', '.join(stages)})"
                else:
                    hint = did_you_mean(
                        key, stages, f"per-stage keys are the stage names: {', '.join(stages)}"
                    )
                    message = f"{key!r} is not a stage"
                yield ctx.finding([name, key], "stage", message, hint)
        missing = [s for s in stages if s not in value]
        if missing:
            yield ctx.finding(
                [name],
                "stage-coverage",
                f"no value for stage{'s' if len(missing) > 1 else ''} {', '.join(repr(s) for s in missing)}",
                f"add {', '.join(repr(s) for s in missing)}, or give one value for every stage",
            )


# ---------------------------------------------------------------- names after prefixes


@check
def built_names(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if not names.PIPELINE_ID.match(ctx.pipeline_id):
        return
    prefix = ctx.env.stack_prefix
    for stage in pipeline_stages(config, ctx.env):
        stack = names.stack_name(prefix, ctx.pipeline_id, stage)
        if len(stack) > names.STACK_NAME_MAX:
            yield ctx.finding(
                [],
                "name-length",
                f"stack name {stack!r} is over {names.STACK_NAME_MAX} characters",
                "shorten the folder name",
            )
        base = names.resource_base_name(prefix, ctx.pipeline_id, stage)
        limit = names.SAGEMAKER_NAME_MAX - names.RESOURCE_SUFFIX_MAX
        if len(base) > limit:
            room = len(ctx.pipeline_id) - (len(base) - limit)
            yield ctx.finding(
                [],
                "name-length",
                f"SageMaker names built from {base!r} (plus suffixes up to {names.RESOURCE_SUFFIX_MAX} characters) "
                f"would exceed SageMaker's {names.SAGEMAKER_NAME_MAX}",
                f"shorten the folder name to at most {max(room, 1)} characters",
            )
            return
    if pipeline_type(config, ctx) == "data_lake" and not config.get("lake_bucket_name"):
        for stage in pipeline_stages(config, ctx.env):
            bucket = names.default_lake_bucket(prefix, ctx.pipeline_id, stage)
            if len(bucket) > names.BUCKET_NAME_MAX:
                yield ctx.finding(
                    [],
                    "name-length",
                    f"the default lake bucket name {bucket!r} is {len(bucket)} characters, over S3's 63",
                    "set lake_bucket_name, or shorten the folder name",
                )
                return


# The other checks register themselves on import (kept in their own modules to stay small).
from mlops_gitops.config import rules_models, rules_types, secrets  # noqa: E402, F401, I001
