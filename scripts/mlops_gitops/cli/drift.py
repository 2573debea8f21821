"""mlopsctl drift: CloudFormation drift plus the live SageMaker state the templates do not pin.

Each stage is read in the account deploy uses for it (through the read-only review role when
multi-account), so drift sees exactly the stacks deploy manages."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.cli.options import AWS_OPTIONS, aws_context, setup, stage_gateways
from mlops_gitops.errors import ExitCode

DESCRIPTION = """\
For every stack of ours (tag mlops:managed-by, name <stack_prefix>-<id>-<stage>) in each stage:

  * CloudFormation drift detection (started on all stacks, several at a time, then polled, a
    bounded number of status reads per poll interval): resources
    MODIFIED (with each property path, expected and actual value) or DELETED outside
    CloudFormation;
  * resources CloudFormation cannot check (types without drift support, NOT_CHECKED, UNKNOWN,
    a failed detection) are listed as "not checked", never skipped;
  * live state no template pins: a real-time endpoint serving another endpoint config than its
    stack's, or not InService; a monitoring schedule Stopped; an EventBridge rule DISABLED.

A live check that AWS refuses (e.g. access denied) is listed as "not checked" with its reason.

exit codes: 0 no drift (not-checked items alone do not fail), 1 drift found, 2 usage error,
3 AWS could not be read (e.g. the stacks could not be listed)
"""


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "drift",
        parents=[AWS_OPTIONS],
        help="what changed in AWS behind CloudFormation's back (stacks, endpoints, schedules, rules)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--stage", metavar="S", help="one stage (default: every stage, in order)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    p.add_argument(
        "--no-detect",
        action="store_true",
        help="start no detection: each stack's last known drift as the stack listing carries it "
        "(one call per page of stacks); resources and live state read only for stacks that drifted",
    )
    p.set_defaults(run=run_drift)


def run_drift(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.aws.errors import AWS_ERRORS, reason
    from mlops_gitops.ops.drift import DriftUnavailable, check_stage
    from mlops_gitops.report.drift import drift_json, drift_text, exit_code

    _, env, stages, _ = setup(args, environ)
    aws = aws_context(args, environ, interactive=True)
    reports = []
    failure: Exception | None = None
    for stage in stages:
        try:
            reports += check_stage(
                stage_gateways(aws, env, stage, args), env.stack_prefix, not args.no_detect
            )
        except (*AWS_ERRORS, DriftUnavailable) as exc:
            failure = exc  # what was read so far is still printed: it is true
            break
    out.write(drift_json(reports) if args.format == "json" else drift_text(reports))
    if failure is not None:
        why = reason(failure) if isinstance(failure, AWS_ERRORS) else str(failure)
        err.write(f"mlopsctl: AWS call failed: {why}\n")
        return ExitCode.AWS
    return exit_code(reports)
