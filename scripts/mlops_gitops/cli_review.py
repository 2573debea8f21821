"""The verbs of model review: pr-check (the pull-request build) and promote (cli.py stays the one
error funnel; botocore errors that reach it exit 3)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from mlops_gitops.cli_deploy import AWS_OPTIONS, _aws, _setup, _stage_aws
from mlops_gitops.errors import ExitCode, UsageError

REPOSITORY_PARAMETER = "/mlops/repository-name"  # published by the orchestrator


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
    p.add_argument("--dry-run", action="store_true", help="print the comment; post nothing, approve nothing")
    p.add_argument("--no-preview", action="store_true", help="skip the change-set preview of updates")
    p.set_defaults(run=run_pr_check)

    p = verbs.add_parser(
        "promote",
        parents=[AWS_OPTIONS],
        help="pin a model-package version for one stage, on a new branch with a pull request",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Pin a Model Registry version for pipeline ID in stage S: the one config value that decides\n"
            "the stage's model (its first, or --variant, production variant's model_package_name, else\n"
            "model_package_name's per-stage key) is changed and nothing else, as one commit on a new\n"
            "branch. The version must exist, and be Approved for stages with approval.\n\n"
            "With a CodeCommit repository (--repository, else SSM /mlops/repository-name) the branch and\n"
            "a pull request are made there through the API. Otherwise (or with --local) the branch is\n"
            "made in this git repository, without touching the checkout, and the next steps are printed.\n"
            "Roll back by promoting an older version, or with git revert.\n\n"
            "Exit 0 when done, 1 if the promotion is refused, 2 on a usage error, 3 if AWS failed."
        ),
    )
    p.add_argument("pipeline_id", metavar="ID", help="the pipeline's folder name under pipeline-configs/")
    p.add_argument(
        "--to", dest="stage", required=True, metavar="S", help="the stage to promote to, e.g. prod"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--model-package-arn", metavar="ARN", help="the version to pin (…:model-package/<group>/<n>)"
    )
    which.add_argument(
        "--latest-approved",
        action="store_true",
        help="the newest Approved version of the group the stage follows now",
    )
    p.add_argument("--variant", metavar="NAME", help="the production variant to pin (default: the first)")
    p.add_argument(
        "--base",
        metavar="BRANCH",
        help="branch to start from and merge into (default: the deployed branch, main)",
    )
    p.add_argument(
        "--branch", metavar="NAME", help="the new branch (default: promote/<id>-<stage>-<group>-v<n>)"
    )
    p.add_argument(
        "--repository", metavar="NAME", help="CodeCommit repository (default: SSM /mlops/repository-name)"
    )
    p.add_argument(
        "--local", action="store_true", help="make the branch in this git repository, not in CodeCommit"
    )
    p.set_defaults(run=run_promote)


def _few_retries(aws):
    """A context whose clients give up soon: for calls a stand-in endpoint may not implement (it
    answers HTTP 500, which the normal adaptive retries would retry for a long time)."""
    return dataclasses.replace(aws, max_attempts=2, _clients={})


# ------------------------------------------------------------------ pr-check


def run_pr_check(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.aws.codecommit import CodeCommitGateway
    from mlops_gitops.findings import render_text
    from mlops_gitops.pr_check import HUMAN_RULE, plan_review, publish, render_comment
    from mlops_gitops.promote import resolve

    repo, env, stages, commit = _setup(args, environ)
    destination = resolve(repo.root, args.destination)
    source = args.source_commit or commit
    if args.source_commit and commit != "unknown" and not commit.startswith(args.source_commit):
        err.write(
            f"warning: the checkout is {commit[:12]}, not --source-commit {args.source_commit[:12]}; planning the checkout\n"
        )
    aws = _aws(args, environ)
    review = plan_review(repo, env, aws, stages, source, destination, preview=not args.no_preview)
    rule = (
        HUMAN_RULE.format(prefix=env.stack_prefix) if env.orchestrator.get("source") != "connection" else None
    )
    body = render_comment(review, rule)
    out.write(body)
    if review.findings:
        err.write(render_text(review.findings))
    if args.pull_request_id and not args.dry_run:
        from botocore.exceptions import ClientError

        from mlops_gitops.aws.codecommit import not_implemented
        from mlops_gitops.pr_check import Published

        stand_in = bool(aws.endpoint_url)  # a local stand-in for AWS may lack these APIs: fail fast
        gateway = CodeCommitGateway((_few_retries(aws) if stand_in else aws).client("codecommit"))
        try:
            done = publish(gateway, args.pull_request_id, args.repository, review, body)
        except ClientError as exc:
            if not not_implemented(exc):
                raise
            why = "the endpoint does not implement CodeCommit pull requests"
            done = Published(f"not posted: {why}", f"not set: {why}")
        err.write(
            f"pr-check: pull request {args.pull_request_id}: comment {done.comment}; approval {done.approval}\n"
        )
    verdict = "clean" if review.clean else f"{len(review.errors)} finding(s)"
    err.write(
        f"pr-check: {len(review.items)} stack(s) planned, {len(review.models)} model change(s), {verdict}\n"
    )
    return ExitCode.OK if review.clean else ExitCode.FINDINGS


# ------------------------------------------------------------------ promote


def run_promote(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.config.semantic import pipeline_stages
    from mlops_gitops.promote import VERSION_ARN, PromotionError, apply_pin, pin_site
    from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR

    repo, env, _, _ = _setup(argparse.Namespace(repo_root=args.repo_root, stage=args.stage), environ)
    if args.model_package_arn and not VERSION_ARN.fullmatch(args.model_package_arn):
        raise UsageError(
            f"--model-package-arn {args.model_package_arn!r} is not a model-package version ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    rel = f"{CONFIGS_DIR}/{args.pipeline_id}/{CONFIG_FILE}"
    aws = _aws(args, environ)
    base = args.base or env.orchestrator.get("branch", "main")
    target = _target(args, aws, err)
    text, origin = _read_config(repo.root, target, base, rel, args.base is None, err)
    if target is not None and target.gateway is None:  # the endpoint had no CodeCommit content
        target = None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PromotionError(f"{rel} at {base} is not valid JSON ({exc}); fix it first") from exc
    stages = pipeline_stages(data, env) if isinstance(data, dict) else []
    if args.stage not in stages:
        raise PromotionError(
            f"{args.pipeline_id} does not deploy to {args.stage!r} (its stages: {', '.join(stages)})"
        )
    site = pin_site(data, args.stage, stages, args.variant)
    registry = _Registry(aws, env, args.stage)
    arn = args.model_package_arn or registry.latest(site, data)
    if arn == site.current:
        out.write(f"promote: {args.pipeline_id} already pins {arn} in {args.stage}; nothing to do\n")
        return ExitCode.OK
    promotion = registry.promotion(args, site, arn, rel, base)
    new_text = apply_pin(text, site, args.stage, stages, arn)
    _check_config(repo, env, args.pipeline_id, new_text, err)
    promotion.branch = args.branch or promotion.default_branch()
    out.write(
        f"promote {args.pipeline_id} to {args.stage}: {promotion.versions()} ({promotion.new_facts.approval})\n"
    )
    for line in promotion.metrics():
        out.write(f"  metric: {line}\n")
    out.write(f"  {rel} {site.display}\n")
    if target is not None:
        return _open_pull_request(target, origin, promotion, rel, new_text, out)
    return _local_branch(repo.root, origin, promotion, rel, new_text, out)


@dataclasses.dataclass
class _Target:
    gateway: object
    repository: str
    region: str


def _target(args: argparse.Namespace, aws, err: TextIO) -> _Target | None:
    """The CodeCommit repository to open the pull request in, or None for local mode."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_gitops.aws.codecommit import CodeCommitGateway

    if args.local:
        return None
    quick = _few_retries(aws)
    name = args.repository
    if not name:
        try:
            name = quick.client("ssm").get_parameter(Name=REPOSITORY_PARAMETER)["Parameter"]["Value"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code != "ParameterNotFound":
                err.write(f"note: SSM {REPOSITORY_PARAMETER} unreadable ({code}); working locally\n")
            return None
        except BotoCoreError as exc:
            err.write(f"note: no AWS repository ({type(exc).__name__}); working locally\n")
            return None
        if "/" in name:
            err.write(
                f"note: the configs live in {name} (a CodeStar connection): working locally; push there\n"
            )
            return None
    return _Target(CodeCommitGateway(quick.client("codecommit")), name, quick.region or "us-east-1")


def _read_config(root: Path, target: _Target | None, base: str, rel: str, default_base: bool, err: TextIO):
    """(text at the base, the commit it was read from); falls back to local mode when the endpoint
    has no CodeCommit content (moto)."""
    from botocore.exceptions import ClientError

    from mlops_gitops.aws.codecommit import not_implemented
    from mlops_gitops.promote import file_at, resolve

    if target is not None:
        try:
            tip = target.gateway.branch_tip(target.repository, base)
            return target.gateway.file_text(target.repository, rel, tip), tip
        except ClientError as exc:
            if not not_implemented(exc):
                raise
            err.write(
                "note: the endpoint does not implement CodeCommit branches and files; working locally\n"
            )
            target.gateway = None
    try:
        commit = resolve(root, base)
    except UsageError:
        if not default_base:
            raise
        commit = resolve(root, "HEAD")
        err.write(f"note: no branch {base!r} here; starting from HEAD ({commit[:12]})\n")
    text, _ = file_at(root, commit, rel)
    return text, commit


class _Registry:
    """The stage's Model Registry (in the stage's account and region)."""

    def __init__(self, aws, env, stage: str) -> None:
        region = env.region_of(stage) or aws.region
        stage_aws = _stage_aws(aws, env, stage)
        self.sm = stage_aws.client("sagemaker", region)
        self.s3 = stage_aws.client("s3", region)
        self.stage = env.stage(stage)

    def latest(self, site, data) -> str:
        from mlops_gitops.aws.sagemaker import SageMakerGateway
        from mlops_gitops.promote import PromotionError, group_of

        group = group_of(site.current) or group_of(_dev_value(data))
        if not group:
            raise PromotionError(
                "no model package group to take the latest approved version of; pass --model-package-arn"
            )
        arn = SageMakerGateway(self.sm).latest_approved(group)
        if arn is None:
            raise PromotionError(f"model package group {group!r} has no Approved version")
        return arn

    def facts(self, arn: str):
        from mlops_gitops.aws.sagemaker import describe_package, read_s3_object
        from mlops_gitops.model_report import package_facts

        package = describe_package(self.sm, arn)
        return package, package_facts(package, lambda uri: read_s3_object(self.s3, uri))

    def promotion(self, args, site, arn: str, rel: str, base: str):
        from mlops_gitops.promote import VERSION_ARN, Promotion, PromotionError

        package, facts = self.facts(arn)
        if package is None:
            raise PromotionError(f"{arn} is not in the Model Registry (no such model package version)")
        gated = self.stage is not None and (self.stage.approval or self.stage.protected)
        if gated and package.approval != "Approved":
            raise PromotionError(
                f"{arn} is {package.approval}; {args.stage!r} deploys only Approved versions. Approve it first "
                f"(aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved)"
            )
        old = self.facts(site.current)[1] if site.current and VERSION_ARN.fullmatch(site.current) else None
        return Promotion(args.pipeline_id, args.stage, rel, site, arn, facts, old, base)


def _dev_value(data: dict) -> str | None:
    value = data.get("model_package_name")
    if isinstance(value, dict):
        return next((v for v in value.values() if isinstance(v, str)), None)
    return value if isinstance(value, str) else None


def _check_config(repo, env, pipeline_id: str, text: str, err: TextIO) -> None:
    """The promoted config must validate (ARN region/account rules, stage coverage...)."""
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.promote import PromotionError

    with tempfile.TemporaryDirectory(prefix="mlops-promote-") as tmp:
        path = Path(tmp) / pipeline_id / "mlops-config.json"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        _, findings = Validator(repo).check_config(path, env)
    errors = [f for f in findings if f.is_error]
    if errors:
        for f in errors:
            err.write(f"pipeline-configs/{pipeline_id}/mlops-config.json: {f.path}: {f.message}; {f.hint}\n")
        raise PromotionError("the promoted config would be invalid; nothing was changed")


def _local_branch(root: Path, base_commit: str, promotion, rel: str, text: str, out: TextIO) -> int:
    from mlops_gitops.promote import commit_on_branch, file_at

    _, mode = file_at(root, base_commit, rel)
    commit = commit_on_branch(root, base_commit, rel, text, mode, promotion.branch, promotion.message())
    b = promotion.branch
    out.write(
        f"created branch {b} (commit {commit[:12]}) from {promotion.base}; your checkout is unchanged\n"
        "next steps:\n"
        f"  1. check the change:  git diff {base_commit[:12]} {b}\n"
        f"  2. see its plan:      git switch {b} && mlopsctl plan --base {promotion.base} --format markdown\n"
        f"  3. push it:           git push <remote> {b}\n"
        f"  4. open a pull request from {b} into {promotion.base}; its pr-check build comments the plan\n"
        f"     and the model diff, and a person approves it\n"
        f"rollback later: {promotion.rollback()}\n"
    )
    return ExitCode.OK


def _open_pull_request(target: _Target, tip: str, promotion, rel: str, text: str, out: TextIO) -> int:
    gw, repo = target.gateway, target.repository
    gw.create_branch(repo, promotion.branch, tip)
    commit = gw.put_file(repo, promotion.branch, rel, text, tip, promotion.message())
    pr_id = gw.create_pull_request(
        repo, promotion.title(), promotion.description(), promotion.branch, promotion.base
    )
    out.write(
        f"opened pull request {pr_id} in {repo}: {promotion.branch} (commit {commit[:12]}) into {promotion.base}\n"
        f"  https://{target.region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repo}"
        f"/pull-requests/{pr_id}/details?region={target.region}\n"
        f"rollback later: {promotion.rollback()}\n"
    )
    return ExitCode.OK
