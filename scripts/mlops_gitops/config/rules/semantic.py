"""Structural checks: pipeline id form, unknown keys, stages and their coverage, names after
prefixes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_gitops import names
from mlops_gitops.config.rules.base import (
    Context,
    check,
    image_builder_stage,
    is_stage_map,
    pipeline_stages,
    pipeline_type,
)
from mlops_gitops.findings import WARNING, Finding
from mlops_gitops.suggest import did_you_mean

# ---------------------------------------------------------------- tags

# IAM and SageMaker take tag keys and values matching [\p{L}\p{Z}\p{N}_.:/=+\-@]*: letters, spaces and
# digits of any script (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Tag.html), and CloudFormation gives
# the stack's tags (the owner among them) to its roles and SageMaker resources. A JSON Schema pattern
# can't say \p{L} (ECMA-262 without the u flag; config/keywords.ecma_regex), hence this check.
TAG_SYMBOLS = "_.:/=+-@"
TAG_CHARS_HINT = "letters, digits, spaces and _ . : / = + - @"


def _refused_tag_chars(text: str) -> list[str]:
    import unicodedata

    return sorted({c for c in text if not (unicodedata.category(c)[0] in "LZN" or c in TAG_SYMBOLS)})


@check
def tag_characters(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    """The owner and the tags, as IAM and SageMaker take tag keys and values."""
    where = "the stack, its IAM roles and SageMaker resources"
    owner = config.get("owner")
    if isinstance(owner, str) and (bad := _refused_tag_chars(owner)):
        yield ctx.finding(
            ["owner"],
            "pattern",
            f"the owner {owner!r} has characters AWS refuses in a tag value: {' '.join(map(repr, bad))}",
            f"the owner becomes a tag on {where}: use {TAG_CHARS_HINT} (any alphabet)",
        )
    tags = config.get("tags")
    for key, value in tags.items() if isinstance(tags, dict) else ():
        if bad := _refused_tag_chars(key):
            yield ctx.finding(
                ["tags", key],
                "key",
                f"the tag key {key!r} has characters AWS refuses in a tag key: {' '.join(map(repr, bad))}",
                f"tags go on {where}: use {TAG_CHARS_HINT} (any alphabet)",
            )
        if isinstance(value, str) and (bad := _refused_tag_chars(value)):
            yield ctx.finding(
                ["tags", key],
                "pattern",
                f"the tag value {value!r} has characters AWS refuses in a tag value: {' '.join(map(repr, bad))}",
                f"tags go on {where}: use {TAG_CHARS_HINT} (any alphabet)",
            )


# ---------------------------------------------------------------- structure


@check
def pipeline_id_form(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    if not names.PIPELINE_ID.fullmatch(ctx.pipeline_id):
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
                if (
                    key in ctx.env.names
                    and config.get("pipeline_type") == "byom_image_builder"
                    and "stages" not in config
                ):
                    builder = image_builder_stage(ctx.env, key)
                    hint = (
                        f"remove it: stage {key!r} uses the image stage {builder!r} builds (an image builder "
                        "builds once per account and region)"
                    )
                    message = f"stage {key!r} is not one this pipeline deploys to ({', '.join(stages)})"
                elif key in ctx.env.names:
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
    """The stack name, which no template sets. The names a stack gives its resources are checked
    against AWS's limits from the templates themselves (core/physical_names, run by validate)."""
    if not names.PIPELINE_ID.fullmatch(ctx.pipeline_id):
        return
    word = names.reserved_id_word(ctx.pipeline_id)
    if word:
        yield ctx.finding(
            [],
            "name-reserved",
            f"the pipeline id {ctx.pipeline_id!r} starts with {word!r}: names starting with "
            f"'{ctx.env.stack_prefix}-{word}-' belong to mlopsctl bootstrap's roles, buckets and projects, "
            "and AWS would refuse this pipeline's resources at deploy",
            f"rename the folder pipeline-configs/{ctx.pipeline_id}/ so that it does not start with "
            f"{word!r} (for example '{ctx.pipeline_id.replace(word, word[:3] + 'x', 1)}' or "
            f"'my-{ctx.pipeline_id}')",
        )
        return
    for stage in pipeline_stages(config, ctx.env):
        stack = names.stack_name(ctx.env.stack_prefix, ctx.pipeline_id, stage)
        if stack in names.bootstrap_stacks(ctx.env.stack_prefix):  # e.g. 'provisioning' in stage 'api'
            yield ctx.finding(
                [],
                "name-collision",
                f"stage {stage!r}: the stack name {stack!r} is one of mlopsctl bootstrap's own stacks",
                "rename the pipeline folder",
            )
            return
        if len(stack) > names.STACK_NAME_MAX:
            yield ctx.finding(
                [],
                "name-length",
                f"stack name {stack!r} is over {names.STACK_NAME_MAX} characters",
                "shorten the folder name",
            )
            return
