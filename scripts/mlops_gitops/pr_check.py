"""`mlopsctl pr-check`: validate a pull request's configs, plan what it changes in every stage, read
the model versions it moves (registry approval, metrics, instances, cost), keep one comment on the
pull request up to date and set the check's approval: APPROVE when clean, REVOKE on findings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mlops_gitops.config.environments import Environments
from mlops_gitops.findings import Finding
from mlops_gitops.model_report import (
    HourlyPrice,
    ModelChange,
    PackageFacts,
    enrich,
    model_changes,
    package_facts,
)
from mlops_gitops.plan import PlanItem, plan_markdown
from mlops_gitops.repo import Repo

log = logging.getLogger(__name__)
MARKER = "<!-- mlops-gitops:pr-check -->"  # how the check finds its own comment again
COMMENT_LIMIT = 10_240  # CodeCommit's limit on a comment's content, in characters
HUMAN_RULE = "{prefix}-human-approval"  # the approval rule template bootstrap associates


@dataclass
class Review:
    source_commit: str
    destination: str
    items: list[PlanItem] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    models: list[ModelChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    protected_touched: list[str] = field(default_factory=list)  # protected stages the change reaches
    planned: bool = True  # False when invalid configs stopped the plan

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def clean(self) -> bool:
        return not self.errors


# ------------------------------------------------------------------ planning


def plan_review(
    repo: Repo,
    env: Environments,
    aws: Any,
    stages: list[str],
    source_commit: str,
    destination: str,
    preview: bool = True,
) -> Review:
    """Validate, then plan every stage against what is deployed, keeping what the change touches
    (and every delete); the model section is read from the registry of each stage's account."""
    from mlops_gitops.changes import changed_pipelines
    from mlops_gitops.cli_deploy import _gateways, _stage_aws
    from mlops_gitops.config.validate import validate
    from mlops_gitops.deploy import Deployer, render_stage

    review = Review(source_commit, destination)
    report, _ = validate(repo)
    review.findings += report.findings
    if report.errors:
        review.planned = False
        return review
    wanted = changed_pipelines(repo, destination)
    for stage in stages:
        region = env.region_of(stage) or aws.region or "us-east-1"
        specs, errors, notes = render_stage(repo, stage, source_commit, region)
        if errors:
            review.findings += errors
            review.planned = False
            return review
        review.notes = list(dict.fromkeys([*review.notes, *(f"{n.file}: {n.message}" for n in notes)]))
        stage_aws = _stage_aws(aws, env, stage)
        cfn, sm = _gateways(stage_aws, region)
        deployer = Deployer(
            repo, env, cfn, stage_aws.client("s3", region), sm, stage_aws.client("ssm", region), region=region
        )
        stage_plan = deployer.plan(stage, specs)
        keep = [
            i for i in stage_plan.items if wanted is None or i.pipeline_id in wanted or i.action == "delete"
        ]
        if preview:
            deployer.preview(replace(stage_plan, items=keep))
        kept = {i.pipeline_id for i in keep}
        review.findings += [f for f in stage_plan.findings if f.file.split("/")[1] in kept]
        review.items += keep
        st = env.stage(stage)
        if st is not None and st.protected and any(i.action not in ("unchanged", "keep") for i in keep):
            review.protected_touched.append(stage)
    review.models = looked_up_models(review.items, aws, env)
    return review


def looked_up_models(items: list[PlanItem], aws: Any, env: Environments) -> list[ModelChange]:
    """The model section of a plan, with each version's registry approval and metrics read in its
    stage's account and region, and hourly prices from the AWS Price List (for plan_markdown)."""
    models = model_changes(items)
    enrich(models, _facts_reader(aws, env), *_pricer(aws))
    return models


def _facts_reader(aws: Any, env: Environments) -> Callable[[ModelChange, str], PackageFacts]:
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_gitops.aws.sagemaker import describe_package, read_s3_object
    from mlops_gitops.cli_deploy import _stage_aws

    contexts: dict[str, Any] = {}  # one per stage: another account's role is assumed once

    def facts(change: ModelChange, arn: str) -> PackageFacts:
        region = env.region_of(change.stage) or aws.region
        try:
            if change.stage not in contexts:
                contexts[change.stage] = _stage_aws(aws, env, change.stage)
            sm = contexts[change.stage].client("sagemaker", region)
            s3 = contexts[change.stage].client("s3", region)
            package = describe_package(sm, arn)
        except (ClientError, BotoCoreError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code")
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            return PackageFacts(f"unreadable ({code})", note="the registry could not be read")
        return package_facts(package, lambda uri: read_s3_object(s3, uri))

    return facts


def _pricer(aws: Any) -> tuple[Callable[[str, str], HourlyPrice] | None, str]:
    """The price look-up, or None and why there is none."""
    if aws.endpoint_url:
        return None, (
            f"prices are not looked up through {aws.endpoint_url} (a stand-in for AWS has no AWS Price List)"
        )
    from mlops_gitops.aws.pricing import API_REGION, PriceList
    from mlops_gitops.awsdata import partition_of_region

    partition = partition_of_region(aws.region or "us-east-1") or "aws"
    if partition not in API_REGION:
        return None, f"the AWS Price List API does not serve the {partition} partition"
    prices = PriceList(aws.client("pricing", API_REGION[partition]))

    def price(instance_type: str, region: str) -> HourlyPrice:
        p = prices.hosting(instance_type, region)
        return HourlyPrice(p.usd_per_hour, p.effective, p.source)

    return price, ""


# ------------------------------------------------------------------ the comment


def render_comment(review: Review, rule_name: str | None = None, limit: int = COMMENT_LIMIT) -> str:
    n = len(review.errors)
    head = [
        MARKER,
        f"## mlops-gitops check: {'✅ no findings' if n == 0 else f'❌ {n} finding' + 's' * (n != 1)}",
        "",
        f"Source `{review.source_commit[:12]}` compared with `{review.destination[:12]}`; planned against "
        "what is deployed in each stage. This comment is updated on every push.",
        "",
    ]
    if review.protected_touched:
        stages = ", ".join(f"**{s}**" for s in review.protected_touched)
        rule = f" (approval rule `{rule_name}`)" if rule_name else ""
        head += [f"> ⚠️ This pull request changes {stages}: it needs a person's approval{rule}.", ""]
    if review.findings:
        head += ["### Findings", ""]
        for f in review.findings:
            mark = "❌" if f.is_error else "⚠️"
            hint = f"; {f.hint}" if f.hint else ""
            head.append(f"- {mark} `{f.file}`: `{f.path}`: {f.message}{hint}")
        head.append("")
    if not review.planned:
        head += ["Nothing was planned: fix the configs first (`mlopsctl validate`).", ""]
    elif not review.items:
        head += ["This pull request changes no pipeline: no stack is created, updated or deleted.", ""]
    body = plan_markdown(review.items, review.models) if review.planned and review.items else ""
    tail = [f"- {note}" for note in review.notes]
    text = "\n".join(head) + "\n" + body + ("\n" + "\n".join(["Notes:", *tail]) + "\n" if tail else "")
    return _fit(text, limit)


def _fit(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = "\n\n… the plan is longer than a comment may be; the whole of it is in the pr-check build log.\n"
    keep = text[: limit - len(cut)]
    return keep[: keep.rfind("\n")] + cut


# ------------------------------------------------------------------ publishing


@dataclass
class Published:
    comment: str  # "posted 123", "updated 123", or why nothing was posted
    approval: str  # "APPROVE", "REVOKE", or why it was not set


def publish(
    gateway: Any, pull_request_id: str, repository: str | None, review: Review, body: str
) -> Published:
    """Post or update the check's comment and set its approval state on the pull request."""
    from botocore.exceptions import ClientError

    from mlops_gitops.aws.codecommit import error_code

    pr = gateway.pull_request(pull_request_id)
    if pr.status == "CLOSED":
        return Published("not posted: the pull request is closed", "not set: the pull request is closed")
    if pr.source_commit and not _same_commit(pr.source_commit, review.source_commit):
        why = f"the pull request has moved on to {pr.source_commit[:12]}; that commit's own check reports"
        return Published(f"not posted: {why}", f"not set: {why}")
    comment = _upsert_comment(gateway, pr, repository or pr.repository, review, body)
    try:
        gateway.set_approval(pull_request_id, pr.revision_id, review.clean)
        approval = "APPROVE" if review.clean else "REVOKE"
    except ClientError as exc:
        reasons = {
            "PullRequestCannotBeApprovedByAuthorException": "the check's role opened this pull request",
            "RevisionNotCurrentException": "the pull request changed meanwhile; its next check sets it",
            "PullRequestAlreadyClosedException": "the pull request is closed",
        }
        if error_code(exc) not in reasons:
            raise
        approval = f"not set: {reasons[error_code(exc)]}"
    return Published(comment, approval)


def _same_commit(a: str, b: str) -> bool:
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


def _upsert_comment(gateway: Any, pr: Any, repository: str, review: Review, body: str) -> str:
    from botocore.exceptions import ClientError

    from mlops_gitops.aws.codecommit import error_code

    ours = [c for c in gateway.comments(pr.pull_request_id) if c.content.startswith(MARKER)]
    for comment in reversed(ours):  # the newest first; one the check can't edit is left alone
        try:
            gateway.update_comment(comment.comment_id, body)
            return f"updated {comment.comment_id}"
        except ClientError as exc:
            if error_code(exc) not in (
                "CommentNotCreatedByCallerException",
                "CommentDeletedException",
                "CommentDoesNotExistException",
            ):
                raise
    before = pr.destination_commit or review.destination
    after = pr.source_commit or review.source_commit
    if _same_commit(before, after):
        return "not posted: the source and destination commits are the same"
    return f"posted {gateway.post_comment(pr.pull_request_id, repository, before, after, body)}"
