"""What the verbs that reach AWS share: the AWS options, the repository and stage set-up, one
stage's gateways, and rendering a stage or saying why not. The error funnel stays in __init__."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from mlops_gitops.errors import UsageError

if TYPE_CHECKING:
    from mlops_gitops.aws.clients import AwsContext
    from mlops_gitops.aws.stage import StageGateways
    from mlops_gitops.config.environments import Environments
    from mlops_gitops.core.render import StackSpec
    from mlops_gitops.findings import Finding
    from mlops_gitops.repo import Repo

AWS_OPTIONS = argparse.ArgumentParser(add_help=False)
_group = AWS_OPTIONS.add_argument_group("AWS")
_group.add_argument(
    "--region", default=argparse.SUPPRESS, help="AWS region (default: environments.json's per stage)"
)
_group.add_argument(
    "--endpoint-url",
    default=argparse.SUPPRESS,
    metavar="URL",
    help="AWS endpoint, e.g. a local moto server (default: $AWS_ENDPOINT_URL)",
)
_group.add_argument("--profile", default=argparse.SUPPRESS, help="AWS named profile (default: $AWS_PROFILE)")
_group.add_argument(
    "--timeout",
    type=float,
    default=argparse.SUPPRESS,
    metavar="MINUTES",
    help="give up waiting on AWS after this long in all (default: 120 for deploy, 15 for reads); "
    "what is still in progress is said, and the next run resumes it",
)
DEPLOY_MINUTES, READ_MINUTES = 120.0, 15.0


def setup(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Repo, Environments, list[str], str]:
    """(repository, environments, the stages asked for, the commit to record)."""
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.repo import find_repo, git_head

    repo = find_repo(explicit=args.repo_root)
    env = Validator(repo).environments()
    stages = env.names
    if getattr(args, "stage", None):
        if args.stage not in stages:
            from mlops_gitops.suggest import did_you_mean

            raise UsageError(
                f"no stage {args.stage!r} in environments.json; {did_you_mean(args.stage, stages, 'stages: ' + ', '.join(stages))}"
            )
        stages = [args.stage]
    commit = (
        getattr(args, "commit", None)
        or environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION")
        or git_head(repo.root)
        or "unknown"
    )
    return repo, env, stages, commit


INTERACTIVE_ATTEMPTS = 3  # reads a person waits for: a few retries, not deploy's ten


def aws_context(
    args: argparse.Namespace, environ: Mapping[str, str], *, interactive: bool = False
) -> AwsContext:
    """The AWS context of the command line. ``interactive`` verbs (plan, status, drift, pr-check,
    history: reads someone waits for) retry a failed call a few times, not deploy's ten: an
    endpoint that lacks an API (moto answers HTTP 500) then costs seconds, not a minute per call.
    AWS_MAX_ATTEMPTS still wins."""
    from mlops_gitops.aws.clients import AwsContext

    return AwsContext.from_args(
        getattr(args, "region", None),
        getattr(args, "endpoint_url", None),
        getattr(args, "profile", None),
        environ,
        attempts=INTERACTIVE_ATTEMPTS if interactive else None,
    )


def deadline_of(args: argparse.Namespace, default_minutes: float) -> float:
    """The monotonic time the command's AWS waits end by (--timeout MINUTES, else the default)."""
    import time

    minutes = getattr(args, "timeout", default_minutes)
    if not minutes > 0:
        raise UsageError(f"--timeout {minutes:g}: give a number of minutes above 0")
    return time.monotonic() + minutes * 60


def stage_gateways(
    aws: AwsContext, env: Environments, stage: str, args: argparse.Namespace, *, deploying: bool = False
) -> StageGateways:
    """The stage's gateways (aws.stage decides account, role and region); --region wins; their
    waits end by the command's deadline."""
    from mlops_gitops.aws.stage import StageGateways

    if not hasattr(args, "_deadline"):
        args._deadline = deadline_of(args, DEPLOY_MINUTES if deploying else READ_MINUTES)
    return StageGateways.for_stage(
        aws, env, stage, region=getattr(args, "region", None), deploying=deploying, deadline=args._deadline
    )


def stage_region(aws: AwsContext, env: Environments, stage: str, args: argparse.Namespace) -> str | None:
    """The region a stage is rendered for (aws.stage decides it: --region, else environments.json's,
    else the context's)."""
    from mlops_gitops.aws import stage as aws_stage

    return aws_stage.stage_region(aws, env, stage, getattr(args, "region", None))


def render_or_fail(
    repo: Repo, stage: str, commit: str, region: str | None, err: TextIO
) -> tuple[list[StackSpec] | None, list[Finding]]:
    """(specs, notes), or (None, notes) after printing why the configs can't be rendered."""
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.report.findings import render_text

    specs, errors, notes = render_stage(repo, stage, commit, region)
    if errors:
        err.write(render_text(errors))
        err.write(
            "mlopsctl: the configs are invalid; nothing was planned or deployed (run mlopsctl validate)\n"
        )
        return None, notes
    return specs, notes
