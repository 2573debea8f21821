"""`mlopsctl bootstrap`: deploy the orchestrator and the stage accounts' stacks (see ops/bootstrap.py)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.cli.options import AWS_OPTIONS, aws_context
from mlops_gitops.errors import ExitCode


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    from mlops_gitops.defaults import DEFAULT_TARGET_ROLE

    p = verbs.add_parser(
        "bootstrap",
        parents=[AWS_OPTIONS],
        help="deploy the orchestrator (repository, pipeline, builds...) and the stage accounts' roles",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Deploy, through change sets, cloudformation/orchestrator.yaml as <prefix>-orchestrator in\n"
            "this account and environments.json's region, then cloudformation/target-account.yaml as\n"
            "<prefix>-target in every account and region a stage lives in (CloudFormation's execution\n"
            "role, the deploy bucket, the SSM parameters deploy reads; in other accounts the deploy role,\n"
            "trusted only by the deploy build, and the read-only review role for pr-check and drift).\n"
            "Settings come from environments.json: the stages (at most 3, with their approvals and\n"
            'accounts) and its optional "orchestrator" object (source, repository_name, branch,\n'
            "notification_email, drift_schedule, cloudtrail, model_package_groups). Safe to run again:\n"
            "unchanged stacks are left alone.\n\n"
            "Other accounts are reached by assuming --target-account-role there. Ends with the next\n"
            "steps (the clone URL to push to). Exit 0 when every stack is in place, 1 if environments.json\n"
            "is invalid, 3 if a stack failed."
        ),
    )
    p.add_argument(
        "--target-account-role",
        default=DEFAULT_TARGET_ROLE,
        metavar="NAME",
        help=f"role assumed in other stage accounts to deploy their stack (default: {DEFAULT_TARGET_ROLE})",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(run=run_bootstrap)


def run_bootstrap(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.awsdata import partition_of_region
    from mlops_gitops.config.validate import Report, Validator
    from mlops_gitops.ops.bootstrap import bootstrap, check_fits, next_steps, result_json, succeeded, summary
    from mlops_gitops.repo import find_repo
    from mlops_gitops.report.events import event_printer
    from mlops_gitops.report.findings import render_text

    repo = find_repo(explicit=args.repo_root)
    report = Report()
    env = Validator(repo).environments(report)
    if report.errors:
        err.write(render_text(report.errors))
        err.write("mlopsctl bootstrap: environments.json is invalid; nothing was deployed\n")
        return ExitCode.FINDINGS
    check_fits(env)
    aws = aws_context(args, environ)
    region = getattr(args, "region", None) or env.region or aws.region or "us-east-1"
    aws.region = aws.region or region  # STS needs one, even when only environments.json names it
    partition = partition_of_region(region) or "aws"
    arn = env.orchestrator.get("connection_arn")
    if env.orchestrator.get("source") == "connection" and arn:
        _check_connection(aws, arn, region, err)

    jobs, results = bootstrap(
        aws, env, repo.root, region, partition, args.target_account_role, event_printer(err)
    )
    ok = succeeded(results)
    rules = []
    if ok and env.orchestrator.get("source") != "connection":  # the repository's approval rule templates
        from mlops_gitops.aws.codecommit import CodeCommitGateway
        from mlops_gitops.aws.stage import few_retries
        from mlops_gitops.ops.approval_rules import ensure_all

        probe = few_retries(aws, attempts=1).client("codecommit", jobs[0].region)
        rules = ensure_all(
            CodeCommitGateway(probe),
            CodeCommitGateway(aws.client("codecommit", jobs[0].region)),
            env,
            aws.caller_account(),
            partition,
        )
        ok = all(rule.result != "failed" for rule in rules)
    steps = next_steps(env, results, jobs[0].region) if ok else ""
    if args.format == "json":
        doc = result_json(results, steps)
        if rules:
            doc["approval_rule_templates"] = [rule.to_dict() for rule in rules]
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        out.write(summary(results))
        out.write("".join(rule.line() for rule in rules))
        out.write(steps)
    return ExitCode.OK if ok else ExitCode.AWS


def _check_connection(aws, arn: str, region: str, err: TextIO) -> None:
    """Refuse a connection that is not AVAILABLE yet; an endpoint without the API (moto) or a
    caller that may not read it gets a note, and bootstrap goes on."""
    from mlops_gitops.aws.connections import ConnectionGateway
    from mlops_gitops.aws.errors import AWS_ERRORS, reason
    from mlops_gitops.aws.stage import few_retries
    from mlops_gitops.ops.bootstrap import check_connection

    try:
        status = ConnectionGateway.for_arn(few_retries(aws, attempts=1), arn, region).status(arn)
    except AWS_ERRORS as exc:
        err.write(f"note: the connection's status is unknown ({reason(exc)}); it must be AVAILABLE\n")
        return
    check_connection(arn, status)
