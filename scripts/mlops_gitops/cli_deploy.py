"""The verbs that reach AWS: plan, deploy, status (cli.py stays the one error funnel)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from mlops_gitops.errors import ExitCode, UsageError

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
        "--max-parallel", type=int, default=4, metavar="N", help="stacks deployed at once (default: 4)"
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
    p.set_defaults(run=run_deploy)

    p = verbs.add_parser(
        "status",
        parents=[AWS_OPTIONS],
        help="per pipeline and stage: in sync with git? healthy?",
        description="Sync (deployed spec hash vs the one rendered from git) and health (stack status, endpoint InService, last batch job) of every pipeline.",
    )
    p.add_argument("--stage", metavar="S", help="one stage (default: every stage)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(run=run_status)


# ------------------------------------------------------------------ shared


def _setup(args: argparse.Namespace, environ: Mapping[str, str]):
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


def _aws(args: argparse.Namespace, environ: Mapping[str, str]):
    from mlops_gitops.aws.clients import AwsContext

    return AwsContext.from_args(
        getattr(args, "region", None),
        getattr(args, "endpoint_url", None),
        getattr(args, "profile", None),
        environ,
    )


def _stage_aws(aws, env, stage: str, deploying: bool = False):
    """The AWS context of a stage: our own account, or the stage's account through a role of
    target-account.yaml - the deploy role to apply changes, else the read-only review role (plan
    previews, status, drift, pr-check: builds that may run a pull request's code)."""
    st = env.stage(stage)
    role = env.deploy_role_name if deploying else env.review_role_name
    return aws.for_account(st.account_id if st else None, role, f"mlopsctl-{stage}")


def _gateways(aws, region: str | None):
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.aws.sagemaker import SageMakerGateway

    return CloudFormationGateway(aws.client("cloudformation", region)), SageMakerGateway(
        aws.client("sagemaker", region)
    )


def _render_or_fail(repo, stage, commit, region, err: TextIO):
    from mlops_gitops.deploy import render_stage
    from mlops_gitops.findings import render_text

    specs, errors, notes = render_stage(repo, stage, commit, region)
    if errors:
        err.write(render_text(errors))
        err.write(
            "mlopsctl: the configs are invalid; nothing was planned or deployed (run mlopsctl validate)\n"
        )
        return None, notes
    return specs, notes


def _aws_failure(exc: Exception, err: TextIO) -> int:
    err.write(f"mlopsctl: AWS call failed: {exc}\n")
    return ExitCode.AWS


# ------------------------------------------------------------------ plan


def run_plan(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_gitops.deploy import Deployer
    from mlops_gitops.findings import render_text
    from mlops_gitops.plan import plan_json, plan_markdown, plan_text

    repo, env, stages, commit = _setup(args, environ)
    if args.offline:
        if not args.base:
            raise UsageError("--offline needs --base REF: offline plans compare with the configs at REF")
        from mlops_gitops.offline import offline_plan

        items, findings = offline_plan(repo, env, stages, args.base, commit)
    else:
        aws = _aws(args, environ)
        items, findings = [], []
        for stage in stages:
            region = getattr(args, "region", None) or env.region_of(stage) or aws.region
            specs, notes = _render_or_fail(repo, stage, commit, region, err)
            if specs is None:
                return ExitCode.FINDINGS
            stage_aws = _stage_aws(aws, env, stage)
            cfn, sm = _gateways(stage_aws, region)
            deployer = Deployer(
                repo,
                env,
                cfn,
                stage_aws.client("s3", region),
                sm,
                stage_aws.client("ssm", region),
                region=region or "us-east-1",
            )
            try:
                stage_plan = deployer.plan(stage, specs)  # every spec, so no stack passes for an orphan
                if not args.no_preview:
                    deployer.preview(stage_plan)
            except (ClientError, BotoCoreError) as exc:
                return _aws_failure(exc, err)
            if args.base:  # then report only what the change touches (and every delete)
                from mlops_gitops.changes import changed_pipelines

                wanted = changed_pipelines(repo, args.base)
                keep = [
                    i
                    for i in stage_plan.items
                    if wanted is None or i.pipeline_id in wanted or i.action == "delete"
                ]
                stage_plan.findings = [
                    f for f in stage_plan.findings if any(f.file.split("/")[1] == i.pipeline_id for i in keep)
                ]
                stage_plan.items = keep
            items += stage_plan.items
            findings += stage_plan.findings
    if args.format == "markdown":
        models = None
        if not args.offline:  # registry approval, metrics and prices of the versions the plan moves
            from mlops_gitops.pr_check import looked_up_models

            models = looked_up_models(items, aws, env)
        out.write(plan_markdown(items, models))
    else:
        out.write(plan_text(items) if args.format == "text" else plan_json(items, findings))
    if findings and args.format != "json":
        err.write(render_text(findings))
    return ExitCode.FINDINGS if any(f.is_error for f in findings) else ExitCode.OK


# ------------------------------------------------------------------ deploy


def run_deploy(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_gitops.aws.cloudformation import StackEvent
    from mlops_gitops.deploy import Deployer
    from mlops_gitops.findings import render_text

    if args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    repo, env, stages, commit = _setup(args, environ)
    stage = stages[0]
    aws = _aws(args, environ)
    region = getattr(args, "region", None) or env.region_of(stage) or aws.region
    specs, notes = _render_or_fail(repo, stage, commit, region, err)
    if specs is None:
        return ExitCode.FINDINGS
    if notes:
        skipped = ", ".join(n.file.split("/")[1] for n in notes)
        err.write(f"note: {len(notes)} pipeline(s) have no template yet and are not deployed: {skipped}\n")

    def on_event(stack: str, event: StackEvent) -> None:
        line = f"{stack}  {event.timestamp:%H:%M:%S}  {event.logical_id}  {event.status}"
        err.write(line + (f"  {event.reason}" if event.reason else "") + "\n")

    stage_aws = _stage_aws(aws, env, stage, deploying=True)
    cfn, sm = _gateways(stage_aws, region)
    deployer = Deployer(
        repo,
        env,
        cfn,
        stage_aws.client("s3", region),
        sm,
        stage_aws.client("ssm", region),
        args.artifact_bucket,
        on_event,
        args.max_parallel,
        region or "us-east-1",
    )
    try:
        stage_plan = deployer.plan(stage, specs)
    except (ClientError, BotoCoreError) as exc:
        return _aws_failure(exc, err)
    if stage_plan.findings:
        err.write(render_text(stage_plan.findings))
    outcomes = deployer.apply(stage_plan, prune=args.prune, allow_protected=args.allow_protected)
    out.write(summary(outcomes))
    if any(o.result == "failed" for o in outcomes):
        return ExitCode.AWS
    return (
        ExitCode.FINDINGS
        if any(o.result == "blocked" for o in outcomes) or stage_plan.findings
        else ExitCode.OK
    )


def summary(outcomes) -> str:
    header = ("PIPELINE", "STAGE", "STACK", "RESULT", "DETAIL")
    rows = [header] + [
        (o.item.pipeline_id or "?", o.item.stage, o.item.stack_name, o.result, o.detail) for o in outcomes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    tail = ", ".join(f"{n} {r}" for r, n in sorted(counts.items())) or "nothing to do"
    return "\n".join(line.rstrip() for line in lines) + f"\ndeploy: {tail}\n"


# ------------------------------------------------------------------ status


def run_status(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_gitops.deploy import Deployer
    from mlops_gitops.status import status_json, status_of, status_text

    repo, env, stages, commit = _setup(args, environ)
    aws = _aws(args, environ)
    rows = []
    for stage in stages:
        region = getattr(args, "region", None) or env.region_of(stage) or aws.region
        specs, _ = _render_or_fail(repo, stage, commit, region, err)
        if specs is None:
            return ExitCode.FINDINGS
        cfn, sm = _gateways(_stage_aws(aws, env, stage), region)
        try:
            stage_plan = Deployer(repo, env, cfn, None, sm, None, region=region or "us-east-1").plan(
                stage, specs
            )
            rows += status_of(stage_plan.items, cfn.snapshots(), cfn, sm)
        except (ClientError, BotoCoreError) as exc:
            return _aws_failure(exc, err)
    out.write(status_json(rows) if args.format == "json" else status_text(rows))
    return ExitCode.OK
