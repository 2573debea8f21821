"""`mlopsctl pr-check`: validate a pull request's configs, plan what it changes in every stage, read
the model versions it moves (registry approval, metrics, instances, cost), keep one comment on the
pull request up to date and set the check's approval: APPROVE when clean, REVOKE on findings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops.aws.errors import AWS_ERRORS, error_code
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.plan import PlanItem
from mlops_gitops.findings import Finding
from mlops_gitops.ops.models import GatewaysFor
from mlops_gitops.repo import Repo
from mlops_gitops.report import markdown as md
from mlops_gitops.report.models import (
    ModelChange,
)
from mlops_gitops.report.plan import plan_markdown
from mlops_gitops.report.serving import ServingChange

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
    serving: list[ServingChange] = field(default_factory=list)  # variant kinds and shadows (configs)
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
    gateways_for: GatewaysFor,
    stages: list[str],
    source_commit: str,
    destination: str,
    preview: bool = True,
) -> Review:
    """Validate, then plan every stage against what is deployed, keeping what the change touches
    (and every delete). The model section is left to the caller (ops.models.looked_up_models)."""
    from mlops_gitops.config.validate import validate
    from mlops_gitops.core.changes import beyond_pipeline_folders, changed_pipelines
    from mlops_gitops.core.render import render_stage
    from mlops_gitops.ops.deploy import Deployer

    review = Review(source_commit, destination)
    report, _ = validate(repo)
    review.findings += report.findings
    review.findings += [
        Finding(
            path,
            "$",
            "maintainer-review",
            "this change runs with the deploy role once merged, or changes every stage; the check "
            "approves changes to pipeline configs only",
            "a maintainer reviews it and merges by overriding the check's approval rule (CodeCommit "
            "OverridePullRequestApprovalRules), or split the config changes into their own pull request",
        )
        for path in beyond_pipeline_folders(repo.root, destination)
    ]
    if report.errors:
        review.planned = False
        return review
    wanted = changed_pipelines(repo, destination)
    for stage in stages:
        gateways = gateways_for(stage)
        specs, errors, notes = render_stage(repo, stage, source_commit, gateways.region)
        if errors:
            review.findings += errors
            review.planned = False
            return review
        pending = [n for n in notes if n.code == "template-pending"]  # not every image builder's other stages
        review.notes = list(dict.fromkeys([*review.notes, *(f"{n.file}: {n.message}" for n in pending)]))
        deployer = Deployer(repo, env, gateways)
        stage_plan = deployer.plan(stage, specs).touching(wanted)
        if preview:
            deployer.preview(stage_plan)
        review.findings += stage_plan.findings
        review.items += stage_plan.items
        st = env.stage(stage)
        if (
            st is not None
            and st.protected
            and any(i.action not in ("unchanged", "keep") for i in stage_plan.items)
        ):
            review.protected_touched.append(stage)
    return review


# ------------------------------------------------------------------ the comment


def render_comment(review: Review, rule_name: str | None = None, limit: int = COMMENT_LIMIT) -> str:
    n = len(review.errors)
    head = [
        MARKER,
        f"## mlops-gitops check: {'✅ no findings' if n == 0 else f'❌ {n} finding' + 's' * (n != 1)}",
        "",
        f"Source {md.code(review.source_commit[:12])} compared with {md.code(review.destination[:12])}; planned against "
        "what is deployed in each stage. This comment is updated on every push.",
        "",
    ]
    if review.protected_touched:
        stages = ", ".join(f"**{md.text(s)}**" for s in review.protected_touched)
        rule = f" (approval rule {md.code(rule_name)})" if rule_name else ""
        head += [f"> ⚠️ This pull request changes {stages}: it needs a person's approval{rule}.", ""]
    if review.findings:
        head += ["### Findings", ""]
        for f in review.findings:  # file names, JSON paths and messages echo what the PR holds
            mark = "❌" if f.is_error else "⚠️"
            hint = f"; {md.text(f.hint)}" if f.hint else ""
            head.append(f"- {mark} {md.code(f.file)}: {md.code(f.path)}: {md.text(f.message)}{hint}")
        head.append("")
    if not review.planned:
        head += ["Nothing was planned: fix the configs first (`mlopsctl validate`).", ""]
    elif not review.items:
        head += ["This pull request changes no pipeline: no stack is created, updated or deleted.", ""]
    body = (
        plan_markdown(review.items, review.models, review.serving) if review.planned and review.items else ""
    )
    tail = [f"- {md.text(note)}" for note in review.notes]
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
    except AWS_ERRORS as exc:
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
    ours = [c for c in gateway.comments(pr.pull_request_id) if c.content.startswith(MARKER)]
    for comment in reversed(ours):  # the newest first; one the check can't edit is left alone
        try:
            gateway.update_comment(comment.comment_id, body)
            return f"updated {comment.comment_id}"
        except AWS_ERRORS as exc:
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


def comment_on_provider(
    secrets: Any, provider: str, repository: str, number: str, secret_name: str, body: str, api_url: str = ""
) -> str:
    """Post or update the check's comment on a connection's pull request with the token kept in
    Secrets Manager. Never fails the check: without a token, or when the provider refuses, it says
    why nothing was posted (the commit status CodeBuild sets still reports the verdict)."""
    from mlops_gitops.aws.errors import reason
    from mlops_gitops.providers import ProviderAPI, ProviderError

    if not secret_name:
        return "not posted: no token secret (environments.json orchestrator.provider_token_secret)"
    try:
        token = secrets.token(secret_name)
    except AWS_ERRORS as exc:
        return f"not posted: the token secret {secret_name} could not be read ({reason(exc)})"
    if not token:
        return f"not posted: the token secret {secret_name} does not exist or is empty"
    try:
        return ProviderAPI(provider, repository, token, api_url).upsert_comment(number, body, MARKER)
    except ProviderError as exc:
        return f"not posted: {exc}"
