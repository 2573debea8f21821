"""`mlopsctl deploy`: apply the plan of one stage through change sets."""

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
from mlops_gitops.defaults import DEFAULT_MAX_PARALLEL
from mlops_gitops.errors import ExitCode, UsageError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "deploy",
        parents=[AWS_OPTIONS],
        help="apply the plan of one stage through change sets",
        description=(
            "Render every config for stage S, plan against the deployed stacks, and apply: change sets "
            "for creates and updates (events streamed; on failure the first failed resource's reason), "
            "nothing for unchanged stacks, recovery of stuck stacks. Pipelines run in parallel; one "
            "failure does not stop the others. Ends with a summary; exit 3 if anything failed, 1 if a "
            "pipeline was refused (e.g. an unapproved model version)."
        ),
    )
    p.add_argument("--stage", required=True, metavar="S", help="the stage to deploy, e.g. dev")
    p.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help=f"stacks deployed at once (default: environments.json deploy.max_parallel, else {DEFAULT_MAX_PARALLEL})",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="delete stacks of ours whose config is gone (their data is retained)",
    )
    p.add_argument(
        "--allow-protected", action="store_true", help="with --prune: also delete in protected stages"
    )
    p.add_argument(
        "--artifact-bucket",
        metavar="BUCKET",
        help="bucket for Lambda zips and large templates (default: SSM /mlops/artifact-bucket)",
    )
    p.add_argument(
        "--commit",
        metavar="SHA",
        help="commit recorded on the stacks (default: $CODEBUILD_RESOLVED_SOURCE_VERSION, else git HEAD)",
    )
    fan = p.add_mutually_exclusive_group()
    fan.add_argument(
        "--shard",
        metavar="I/N",
        help=(
            "one build of the stage's fanned-out deploy (environments.json deploy.shards; a CodeBuild "
            "batch build): plan the whole stage, apply only shard I of N - the pipelines whose "
            "dependency group hashes to I - and record the outcome in the deploy bucket under the "
            "batch's id. Deletes are left to --summary. Exits 0 once recorded (3 if it can't record): "
            "the stage's exit status is --summary's"
        ),
    )
    fan.add_argument(
        "--summary",
        type=int,
        metavar="N",
        help=(
            "the batch's final step, after its N shards: prune (with --prune), read the shards' "
            "records, print one table for the stage and exit 3 when a shard failed or left no record "
            "(naming its pipelines), 1 when a pipeline was refused, else 0; releases the stage's lease"
        ),
    )
    p.set_defaults(run=run_deploy)


def run_deploy(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.cli.fanout import Fanout
    from mlops_gitops.ops.deploy import Deployer, deletions_note
    from mlops_gitops.report.deploy import deploy_summary
    from mlops_gitops.report.events import event_printer
    from mlops_gitops.report.findings import render_text

    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    fan = Fanout.of(args, environ)  # --shard / --summary: a fanned-out stage's builds
    if fan.active:
        from mlops_gitops.ops.shards import batch_line

        err.write(batch_line(environ))
    repo, env, stages, commit = setup(args, environ)
    stage = stages[0]
    aws = aws_context(args, environ)
    specs, notes = render_or_fail(repo, stage, commit, stage_region(aws, env, stage, args), err)
    if specs is None:
        return ExitCode.FINDINGS
    _print_notes(notes, err)
    deployer = Deployer(
        repo,
        env,
        stage_gateways(aws, env, stage, args, deploying=True),
        artifact_bucket=args.artifact_bucket,
        on_event=event_printer(err),
        on_progress=err.write,
        max_parallel=max_parallel(args.max_parallel, env.max_parallel),
    )
    # One deploy per stage at a time: the lease is held from before the plan to the end (exit 3
    # without touching anything when another run holds it).
    with deployer.lease(stage, commit, environ, err.write, **fan.lease_options()):
        fan.begin(deployer, stage, commit)
        whole = deployer.plan(stage, specs)
        stage_plan = fan.part(whole)
        if stage_plan.findings:
            err.write(render_text(stage_plan.findings))
        outcomes = deployer.apply(stage_plan, prune=args.prune, allow_protected=args.allow_protected)
        fan.collect(deployer, stage)
    for line in deployer.told:  # what the pipelines' owners were told (or why not)
        err.write(f"{line}\n")
    if fan.active:
        return fan.finish(deployer, stage, commit, whole, stage_plan, outcomes, out)
    out.write(deploy_summary(outcomes))
    out.write(deletions_note(outcomes))
    if any(o.result == "failed" for o in outcomes):
        return ExitCode.AWS
    return (
        ExitCode.FINDINGS
        if any(o.result == "blocked" for o in outcomes) or stage_plan.findings
        else ExitCode.OK
    )


def _print_notes(notes: list, err: TextIO) -> None:
    """Render's notes: the pipelines without a template yet in one line, the others each."""
    pending = [n for n in notes if n.code == "template-pending"]
    if pending:
        skipped = ", ".join(n.pipeline_id or "?" for n in pending)
        err.write(f"note: {len(pending)} pipeline(s) have no template yet and are not deployed: {skipped}\n")
    for note in notes:
        if note.code != "template-pending":
            err.write(f"note: {note.message}\n")


def max_parallel(flag: int | None, configured: int | None) -> int:
    """--max-parallel, else environments.json's deploy.max_parallel, else the default."""
    return flag or configured or DEFAULT_MAX_PARALLEL
