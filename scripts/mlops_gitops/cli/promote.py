"""`mlopsctl promote`: pin a model-package version for one stage on a new branch (see ops/promote.py)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from mlops_gitops.cli.options import AWS_OPTIONS, aws_context, setup, stage_gateways
from mlops_gitops.errors import ExitCode, UsageError

REPOSITORY_PARAMETER = "/mlops/repository-name"  # published by the orchestrator


def add_verbs(verbs: argparse._SubParsersAction) -> None:
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
            "--from-shadow: the stage's shadow_variant becomes its production model (its model and\n"
            "instance settings; with several production variants, the one named by --variant) and\n"
            "its shadow_variant is set to null, in the same kind of commit.\n\n"
            "Exit 0 when done, 1 if the promotion is refused, 2 on a usage error, 3 if AWS failed."
        ),
    )
    p.add_argument("pipeline_id", metavar="ID", help="the pipeline's folder name under pipeline-configs/")
    p.add_argument(
        "--to", "--stage", dest="stage", required=True, metavar="S", help="the stage to promote to, e.g. prod"
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
    which.add_argument(
        "--from-shadow",
        action="store_true",
        help="the stage's shadow_variant becomes its production model (and stops being a shadow)",
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
    p.add_argument(
        "--provider-token-secret",
        metavar="NAME",
        help="source connection: the Secrets Manager secret with the provider's API token "
        "(default: environments.json orchestrator.provider_token_secret)",
    )
    p.add_argument(
        "--provider-api-url", metavar="URL", default="", help=argparse.SUPPRESS
    )  # tests, stand-ins
    p.set_defaults(run=run_promote)


def run_promote(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from mlops_gitops.config.rules.base import pipeline_stages
    from mlops_gitops.ops.promote import VERSION_ARN, PromotionError, Registry, apply_pin, pin_site
    from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR

    repo, env, _, _ = setup(args, environ)  # --to is dest "stage": checked against environments.json
    if args.model_package_arn and not VERSION_ARN.fullmatch(args.model_package_arn):
        raise UsageError(
            f"--model-package-arn {args.model_package_arn!r} is not a model-package version ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    rel = f"{CONFIGS_DIR}/{args.pipeline_id}/{CONFIG_FILE}"
    aws = aws_context(args, environ)
    base = args.base or env.orchestrator.get("branch", "main")
    target = _provider_target(args, env, aws, err) if _connection(args, env) else _target(args, aws, err)
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
    if args.from_shadow:
        return _from_shadow(args, repo, env, aws, data, stages, (text, origin, rel, base, target), out, err)
    site = pin_site(data, args.stage, stages, args.variant)
    registry = Registry(stage_gateways(aws, env, args.stage, args), env.stage(args.stage))
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
    return _local_branch(repo.root, origin, promotion, rel, new_text, out, _push_steps(args, env, repo.root))


def _from_shadow(args, repo, env, aws, data, stages, read, out: TextIO, err: TextIO) -> int:
    """promote --from-shadow: the stage's shadow becomes its production model (ops.shadow)."""
    from mlops_gitops.ops.promote import PromotionError, Registry
    from mlops_gitops.ops.shadow import (
        ShadowPromotion,
        apply_edits,
        shadow_edits,
        shadow_package,
        stage_shadow,
    )

    text, origin, rel, base, target = read
    edits, where = shadow_edits(data, args.stage, stages, args.variant)
    shadow = stage_shadow(data, args.stage) or {}
    approval = ""
    arn = shadow_package(shadow)
    if arn:  # a version ARN must exist, and be Approved where the stage deploys only approved ones
        stage = env.stage(args.stage)
        package, _ = Registry(stage_gateways(aws, env, args.stage, args), stage).facts(arn)
        if package is None:
            raise PromotionError(f"{arn} is not in the Model Registry (no such model package version)")
        approval = package.approval
        if stage is not None and (stage.approval or stage.protected) and approval != "Approved":
            raise PromotionError(
                f"{arn} is {approval}; {args.stage!r} deploys only Approved versions. Approve it first "
                f"(aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved)"
            )
    new_text = apply_edits(text, edits)
    _check_config(repo, env, args.pipeline_id, new_text, err)
    promotion = ShadowPromotion(args.pipeline_id, args.stage, rel, shadow, edits, where, base, approval)
    promotion.branch = args.branch or promotion.default_branch()
    out.write(f"promote {args.pipeline_id} in {args.stage}: {promotion.versions()}\n")
    for edit in edits:
        out.write(f"  {rel} {edit.display}\n")
    if target is not None:
        return _open_pull_request(target, origin, promotion, rel, new_text, out)
    return _local_branch(repo.root, origin, promotion, rel, new_text, out, _push_steps(args, env, repo.root))


@dataclasses.dataclass
class _Target:
    gateway: object
    repository: str
    region: str


def _target(args: argparse.Namespace, aws, err: TextIO) -> _Target | None:
    """The CodeCommit repository to open the pull request in, or None for local mode."""
    from mlops_gitops.aws.codecommit import CodeCommitGateway
    from mlops_gitops.aws.errors import AWS_ERRORS, error_code
    from mlops_gitops.aws.ssm import ParameterStore
    from mlops_gitops.aws.stage import few_retries

    if args.local:
        return None
    quick = few_retries(aws)
    name = args.repository
    if not name:
        try:
            name = ParameterStore.from_context(quick).get(REPOSITORY_PARAMETER)
        except AWS_ERRORS as exc:
            code = error_code(exc)
            if code:
                err.write(f"note: SSM {REPOSITORY_PARAMETER} unreadable ({code}); working locally\n")
            else:
                err.write(f"note: no AWS repository ({type(exc).__name__}); working locally\n")
            return None
        if name is None:
            return None
        if "/" in name:
            err.write(
                f"note: the configs live in {name} (a CodeStar connection): working locally; push there\n"
            )
            return None
    return _Target(CodeCommitGateway.from_context(quick), name, quick.region or "us-east-1")


def _read_config(root: Path, target: _Target | None, base: str, rel: str, default_base: bool, err: TextIO):
    """(text at the base, the commit it was read from); falls back to local mode when the endpoint
    has no CodeCommit content (moto)."""
    from mlops_gitops.aws.errors import AWS_ERRORS, not_implemented
    from mlops_gitops.ops.promote import file_at, resolve

    if target is not None:
        try:
            tip = target.gateway.branch_tip(target.repository, base)
            return target.gateway.file_text(target.repository, rel, tip), tip
        except AWS_ERRORS as exc:
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


def _check_config(repo, env, pipeline_id: str, text: str, err: TextIO) -> None:
    """The promoted config must validate (ARN region/account rules, stage coverage...)."""
    from mlops_gitops.config.validate import Validator
    from mlops_gitops.ops.promote import PromotionError

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


def _local_branch(
    root: Path,
    base_commit: str,
    promotion,
    rel: str,
    text: str,
    out: TextIO,
    push: tuple[str, str] | None = None,
) -> int:
    from mlops_gitops.ops.promote import commit_on_branch, file_at

    _, mode = file_at(root, base_commit, rel)
    commit = commit_on_branch(root, base_commit, rel, text, mode, promotion.branch, promotion.message())
    b = promotion.branch
    remote, provider_repo = push or ("<remote>", "")
    step4 = (
        f"  4. open the pull request: {_new_pr_url(provider_repo, b, promotion.base)}\n"
        f"     its pr-check build reports the plan on it, and a person approves it\n"
        if provider_repo
        else f"  4. open a pull request from {b} into {promotion.base}; its pr-check build comments the plan\n"
        f"     and the model diff, and a person approves it\n"
    )
    out.write(
        f"created branch {b} (commit {commit[:12]}) from {promotion.base}; your checkout is unchanged\n"
        "next steps:\n"
        f"  1. check the change:  git diff {base_commit[:12]} {b}\n"
        f"  2. see its plan:      git switch {b} && mlopsctl plan --base {promotion.base} --format markdown\n"
        f"  3. push it:           git push {remote} {b}\n"
        + step4
        + f"rollback later: {promotion.rollback()}\n"
    )
    return ExitCode.OK


# ------------------------------------------------------------------ source connection (GitHub, GitLab, Bitbucket)


def _connection(args: argparse.Namespace, env) -> bool:
    return env.orchestrator.get("source") == "connection" and not args.local and not args.repository


def _provider_target(args: argparse.Namespace, env, aws, err: TextIO) -> _Target | None:
    """The connected repository when promote can open the pull request through its API (GitHub,
    with a token from Secrets Manager); None (a local branch and the push command) otherwise."""
    from mlops_gitops.aws.errors import AWS_ERRORS, reason
    from mlops_gitops.aws.secrets import SecretStore
    from mlops_gitops.aws.stage import few_retries
    from mlops_gitops.providers import NAMES, ProviderAPI

    o = env.orchestrator
    provider, repository = o.get("provider", "github"), o.get("full_repository_id", "")
    if provider != "github":
        err.write(
            f"note: opening pull requests through {NAMES.get(provider, provider)}'s API is not implemented; "
            "working locally: push the branch and open the pull request with the link below\n"
        )
        return None
    secret = args.provider_token_secret or o.get("provider_token_secret")
    if not secret:
        err.write("note: no provider token (orchestrator.provider_token_secret); working locally\n")
        return None
    try:
        token = SecretStore.from_context(few_retries(aws)).token(secret)
    except AWS_ERRORS as exc:
        err.write(f"note: the token secret {secret} is unreadable ({reason(exc)}); working locally\n")
        return None
    if not token:
        err.write(f"note: the token secret {secret} does not exist or is empty; working locally\n")
        return None
    return _Target(ProviderAPI(provider, repository, token, args.provider_api_url), repository, "")


def _push_steps(args: argparse.Namespace, env, root: Path) -> tuple[str, str] | None:
    """(the git remote of the connected repository, its provider:owner/name) for the next steps."""
    from mlops_gitops.ops.promote import git

    o = env.orchestrator
    if o.get("source") != "connection" or not o.get("full_repository_id"):
        return None
    repository = o["full_repository_id"]
    remote = "origin"
    try:
        for line in git(root, "remote", "-v").splitlines():
            name, url, *_ = line.split()
            if url.removesuffix(".git").endswith(repository):
                remote = name
                break
    except Exception:  # no git remotes: origin is the usual name
        pass
    return remote, f"{o.get('provider', 'github')}:{repository}"


def _new_pr_url(provider_repo: str, branch: str, base: str) -> str:
    from mlops_gitops.providers import new_pull_request_url

    provider, _, repository = provider_repo.partition(":")
    return new_pull_request_url(provider, repository, branch, base)


def _open_pull_request(target: _Target, tip: str, promotion, rel: str, text: str, out: TextIO) -> int:
    gw, repo = target.gateway, target.repository
    gw.create_branch(repo, promotion.branch, tip)
    commit = gw.put_file(repo, promotion.branch, rel, text, tip, promotion.message())
    pr_id = gw.create_pull_request(
        repo, promotion.title(), promotion.description(), promotion.branch, promotion.base
    )
    url = getattr(gw, "pull_request_url", "") or (
        f"https://{target.region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repo}"
        f"/pull-requests/{pr_id}/details?region={target.region}"
    )
    out.write(
        f"opened pull request {pr_id} in {repo}: {promotion.branch} (commit {commit[:12]}) into {promotion.base}\n"
        f"  {url}\n"
        f"rollback later: {promotion.rollback()}\n"
    )
    return ExitCode.OK
