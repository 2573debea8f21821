"""`mlopsctl plan`: what deploy would do, per pipeline and stage."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.cli.options import (
    AWS_OPTIONS,
    aws_context,
    render_or_fail,
    setup,
    stage_gateways,
    stage_region,
)
from mlops_gitops.errors import ExitCode, UsageError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "plan",
        parents=[AWS_OPTIONS],
        help="what deploy would do, per pipeline and stage",
        description=(
            "For every pipeline of each stage: create, update (with parameter changes), unchanged, "
            "recreate (a stack stuck after a failed first create), wait (in progress) or delete (a stack "
            "of ours whose config is gone). Reads AWS (one listing of stacks per stage and region) unless "
            "--offline, which compares against the configs at --base instead. Exit 1 on findings "
            "(invalid config, unapproved model version), 3 if AWS can't be read."
        ),
    )
    p.add_argument("--stage", metavar="S", help="one stage (default: every stage, in order)")
    p.add_argument(
        "--base",
        metavar="REF",
        help="git ref to compare with: only configs changed since REF (and those whose template changed) are planned",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="no AWS: plan from git alone, comparing with the specs rendered at --base",
    )
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument(
        "--no-preview",
        action="store_true",
        help="skip the change-set preview of updates (Add/Modify/Remove, replacement warnings)",
    )
    p.set_defaults(run=run_plan)


def run_plan(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from functools import cache

    from mlops_gitops.core.changes import changed_pipelines
    from mlops_gitops.report.findings import render_text
    from mlops_gitops.report.plan import plan_json, plan_markdown, plan_text

    repo, env, stages, commit = setup(args, environ)
    if args.offline:
        if not args.base:
            raise UsageError("--offline needs --base REF: offline plans compare with the configs at REF")
        from mlops_gitops.ops.offline import offline_plan

        items, findings = offline_plan(repo, env, stages, args.base, commit)
    else:
        aws = aws_context(args, environ, interactive=True)
        gateways_for = cache(
            lambda stage: stage_gateways(aws, env, stage, args)
        )  # a role assumed once a stage
        # --base: report only what the change touches (and every delete); one git diff for all stages
        wanted = changed_pipelines(repo, args.base) if args.base else None
        items, findings = [], []
        for stage in stages:
            specs, notes = render_or_fail(repo, stage, commit, stage_region(aws, env, stage, args), err)
            if specs is None:
                return ExitCode.FINDINGS
            for note in notes:  # e.g. an image builder with no stack here (built by an earlier stage)
                if note.code != "template-pending":
                    err.write(f"note: {note.message}\n")
            stage_plan = _plan_stage(repo, env, gateways_for(stage), specs, args, wanted)
            items += stage_plan.items
            findings += stage_plan.findings
    if args.format == "markdown":
        models = None
        if not args.offline:  # registry approval, metrics and prices of the versions the plan moves
            from mlops_gitops.ops.models import looked_up_models

            models = looked_up_models(items, gateways_for, aws)
        out.write(plan_markdown(items, models))
    else:
        out.write(plan_text(items) if args.format == "text" else plan_json(items, findings))
    if findings and args.format != "json":
        err.write(render_text(findings))
    return ExitCode.FINDINGS if any(f.is_error for f in findings) else ExitCode.OK


def _plan_stage(repo, env, gateways, specs, args: argparse.Namespace, wanted: set[str] | None):
    """The stage's plan (of every spec, so no stack passes for an orphan), cut to what the change
    touches when --base is given, then previewed: only what is reported is previewed."""
    from mlops_gitops.ops.deploy import Deployer

    deployer = Deployer(repo, env, gateways)
    stage_plan = deployer.plan(gateways.stage, specs).touching(wanted)
    if not args.no_preview:
        deployer.preview(stage_plan)
    return stage_plan
