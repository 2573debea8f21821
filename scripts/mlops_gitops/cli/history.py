"""`mlopsctl history ID`: what was deployed when, by which commit and author, with which model."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.cli.options import AWS_OPTIONS, aws_context, setup, stage_gateways
from mlops_gitops.errors import ExitCode, UsageError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "history",
        parents=[AWS_OPTIONS],
        help="a pipeline's config changes (commit, author, model per stage) and what each stage runs",
        description=(
            "The commits that changed pipeline-configs/ID/mlops-config.json, newest first: date, author, "
            "subject and the model each stage served after it (a registry version, or the artifact). "
            "Unless --offline, each stage's stack is read for the commit it records (tag mlops:commit), "
            "so the LIVE IN column says which version runs where, and the orchestrator's CodeCommit and "
            "CodePipeline are read for who approved: each change's pull request (people apart from the "
            "pr-check build) and each live stage's manual approval (who, when, the comment). Exit 0, 2 on a usage error, 3 if AWS "
            "failed in a way that stops the listing (one unreadable stage is reported on its own line)."
        ),
    )
    p.add_argument("pipeline_id", metavar="ID", help="the pipeline's folder name under pipeline-configs/")
    p.add_argument("--stage", metavar="S", help="only this stage's live commit (default: every stage)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="the newest N commits (default: 20)")
    p.add_argument("--offline", action="store_true", help="git only: do not read the stacks")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.set_defaults(run=run_history)


def run_history(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from functools import cache

    from mlops_gitops.aws.codecommit import CodeCommitGateway
    from mlops_gitops.aws.codepipeline import CodePipelineGateway
    from mlops_gitops.aws.stage import few_retries
    from mlops_gitops.ops.history import History, add_approvals, config_history, live_commits, serving_changes
    from mlops_gitops.report.history import history_json, history_markdown, history_text

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    repo, env, stages, _ = setup(args, environ)
    history = History(args.pipeline_id, config_history(repo, args.pipeline_id, env, args.limit))
    if not args.offline:
        aws = aws_context(args, environ, interactive=True)
        gateways_for = cache(lambda stage: stage_gateways(aws, env, stage, args))
        history.live = live_commits(gateways_for, env, args.pipeline_id, stages)
        history.serving = serving_changes(repo, history.changes, history.live)
        quick = few_retries(aws) if aws.endpoint_url else aws  # a stand-in may lack these APIs: fail fast
        region = args.region or env.region or aws.region
        add_approvals(
            history,
            repo,
            env,
            CodeCommitGateway.from_context(quick, region),
            CodePipelineGateway.from_context(quick, region),
        )
    render = {"json": history_json, "markdown": history_markdown}.get(args.format, history_text)
    out.write(render(history))
    return ExitCode.OK
