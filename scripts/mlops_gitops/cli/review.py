"""`mlopsctl pr-check`: the pull-request build's review (see ops/review.py)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.cli.options import AWS_OPTIONS, aws_context, setup, stage_gateways
from mlops_gitops.errors import ExitCode


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "pr-check",
        parents=[AWS_OPTIONS],
        help="review a pull request: validate, plan every stage, comment the plan and model diff, approve or revoke",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Validate the configs checked out (the pull request's source commit), plan every stage\n"
            "against what is deployed, keeping the pipelines changed since --destination-commit (and\n"
            "every delete), and read the model versions the change moves: registry approval, evaluation\n"
            "metrics of the new version against the deployed one, instances and on-demand hourly cost.\n"
            "With --pull-request-id it keeps one comment on the pull request up to date (edited on new\n"
            "pushes) and sets the check's approval: APPROVE when there are no findings, REVOKE otherwise.\n"
            "Without it (or with --dry-run) it only prints the comment: the same report, locally.\n\n"
            "Exit 0 when clean, 1 on findings (invalid config, unapproved model version...), 3 if AWS failed."
        ),
    )
    p.add_argument(
        "--destination-commit",
        "--base",
        dest="destination",
        required=True,
        metavar="REF",
        help="what the pull request merges into (commit or branch), e.g. origin/main",
    )
    p.add_argument(
        "--source-commit",
        metavar="SHA",
        help="the pull request's source commit (default: the checkout); a pull request that has moved past it is left alone",
    )
    p.add_argument(
        "--pull-request-id", metavar="ID", help="the CodeCommit pull request to comment on and approve"
    )
    p.add_argument(
        "--repository", metavar="NAME", help="its CodeCommit repository (default: the pull request's own)"
    )
    p.add_argument(
        "--provider-pull-request",
        metavar="NUMBER",
        help="a pull request on GitHub/GitLab/Bitbucket (source connection) to keep the comment on",
    )
    p.add_argument(
        "--provider",
        type=str.lower,
        choices=["github", "gitlab", "bitbucket"],
        default="github",
        help="the connected provider (with --provider-pull-request; default github)",
    )
    p.add_argument(
        "--provider-repository",
        metavar="OWNER/NAME",
        help="the repository on the provider (with --provider-pull-request)",
    )
    p.add_argument(
        "--provider-token-secret",
        metavar="NAME",
        default="",
        help="the Secrets Manager secret holding the provider's API token; without it nothing is posted",
    )
    p.add_argument(
        "--provider-api-url", metavar="URL", default="", help=argparse.SUPPRESS
    )  # tests, stand-ins
    p.add_argument("--dry-run", action="store_true", help="print the comment; post nothing, approve nothing")
    p.add_argument("--no-preview", action="store_true", help="skip the change-set preview of updates")
    p.set_defaults(run=run_pr_check)


def run_pr_check(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from functools import cache

    from mlops_gitops.aws.codecommit import CodeCommitGateway
    from mlops_gitops.aws.stage import few_retries
    from mlops_gitops.ops.models import looked_up_models, looked_up_serving
    from mlops_gitops.ops.promote import resolve
    from mlops_gitops.ops.review import HUMAN_RULE, plan_review, publish, render_comment
    from mlops_gitops.report.findings import render_text

    repo, env, stages, commit = setup(args, environ)
    destination = resolve(repo.root, args.destination)
    source = args.source_commit or commit
    if args.source_commit and commit != "unknown" and not commit.startswith(args.source_commit):
        err.write(
            f"warning: the checkout is {commit[:12]}, not --source-commit {args.source_commit[:12]}; planning the checkout\n"
        )
    aws = aws_context(args, environ, interactive=True)
    gateways_for = cache(lambda stage: stage_gateways(aws, env, stage, args))  # a role assumed once a stage
    review = plan_review(repo, env, gateways_for, stages, source, destination, preview=not args.no_preview)
    if review.planned:
        review.serving = looked_up_serving(review.items, repo.root, destination, aws)
        review.models = looked_up_models(review.items, gateways_for, aws, review.serving)
    rule = (
        HUMAN_RULE.format(prefix=env.stack_prefix) if env.orchestrator.get("source") != "connection" else None
    )
    body = render_comment(review, rule)
    out.write(body)
    if review.findings:
        err.write(render_text(review.findings))
    if args.pull_request_id and not args.dry_run:
        from mlops_gitops.aws.errors import AWS_ERRORS, not_implemented
        from mlops_gitops.ops.review import Published

        stand_in = bool(aws.endpoint_url)  # a local stand-in for AWS may lack these APIs: fail fast
        gateway = CodeCommitGateway.from_context(few_retries(aws) if stand_in else aws)
        try:
            done = publish(gateway, args.pull_request_id, args.repository, review, body)
        except AWS_ERRORS as exc:
            if not not_implemented(exc):
                raise
            why = "the endpoint does not implement CodeCommit pull requests"
            done = Published(f"not posted: {why}", f"not set: {why}")
        err.write(
            f"pr-check: pull request {args.pull_request_id}: comment {done.comment}; approval {done.approval}\n"
        )
    if args.provider_pull_request and not args.dry_run:
        from mlops_gitops.aws.secrets import SecretStore
        from mlops_gitops.ops.review import comment_on_provider

        done_comment = comment_on_provider(
            SecretStore.from_context(aws),
            args.provider,
            args.provider_repository or "",
            args.provider_pull_request,
            args.provider_token_secret,
            body,
            args.provider_api_url,
        )
        err.write(f"pr-check: pull request {args.provider_pull_request}: comment {done_comment}\n")
    verdict = "clean" if review.clean else f"{len(review.errors)} finding(s)"
    err.write(
        f"pr-check: {len(review.items)} stack(s) planned, {len(review.models)} model change(s), {verdict}\n"
    )
    return ExitCode.OK if review.clean else ExitCode.FINDINGS
