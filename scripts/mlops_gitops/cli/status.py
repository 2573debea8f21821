"""`mlopsctl status`: per pipeline and stage, in sync with git? healthy?"""

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
from mlops_gitops.errors import ExitCode


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "status",
        parents=[AWS_OPTIONS],
        help="per pipeline and stage: in sync with git? healthy?",
        description="Sync (deployed spec hash vs the one rendered from git) and health (stack status, endpoint InService, last batch job) of every pipeline.",
    )
    p.add_argument("--stage", metavar="S", help="one stage (default: every stage)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(run=run_status)


def run_status(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.ops.status import stage_status
    from mlops_gitops.report.status import status_json, status_text

    repo, env, stages, commit = setup(args, environ)
    aws = aws_context(args, environ, interactive=True)
    rows = []
    for stage in stages:
        specs, _ = render_or_fail(repo, stage, commit, stage_region(aws, env, stage, args), err)
        if specs is None:
            return ExitCode.FINDINGS
        rows += stage_status(repo, env, stage_gateways(aws, env, stage, args), specs)
    out.write(status_json(rows) if args.format == "json" else status_text(rows))
    return ExitCode.OK
