"""The approval rule template bootstrap puts on the CodeCommit repository: a person must approve.

CloudFormation has no resource for approval rule templates, so bootstrap makes it through the API,
idempotently (created, updated when its content changed, associated once). Every pull request into
the deployed branch reaches prod (through the pipeline's approvals), so the rule applies to all of
them: two approvals, one of which the pr-check build gives to clean changes; authors can't approve
their own pull requests, so the other is a person's (or two people's, when the check found problems).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops_gitops.config.environments import Environments

APPROVALS_NEEDED = 2


@dataclass(frozen=True)
class RuleResult:
    name: str
    result: str  # created | updated | unchanged | skipped | failed
    detail: str

    def line(self) -> str:
        return (
            f"approval rule template {self.name}: {self.result}"
            + (f" ({self.detail})" if self.detail else "")
            + "\n"
        )

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "result": self.result, "detail": self.detail}


def template_name(env: Environments) -> str:
    return f"{env.stack_prefix}-human-approval"


def template_content(branch: str) -> str:
    return json.dumps(
        {
            "Version": "2018-11-08",
            "DestinationReferences": [f"refs/heads/{branch}"],
            "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": APPROVALS_NEEDED}],
        },
        separators=(",", ":"),
    )


def description(branch: str) -> str:
    return (
        f"Pull requests into {branch} reach prod: {APPROVALS_NEEDED} approvals, of which the pr-check "
        "build gives one to clean changes and authors none to their own, so a person approves."
    )


def ensure(probe: Any, client: Any, env: Environments) -> RuleResult:
    """Create or update the template and associate it with the repository. ``probe`` is a client
    that fails fast, for the first call: an endpoint without approval rule templates (moto) answers
    HTTP 500, and the step is then skipped rather than retried."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mlops_gitops.aws.codecommit import error_code, not_implemented

    name = template_name(env)
    branch = env.orchestrator.get("branch", "main")
    repository = env.orchestrator.get("repository_name", "mlops-gitops")
    content = template_content(branch)
    try:
        try:
            current = probe.get_approval_rule_template(approvalRuleTemplateName=name)["approvalRuleTemplate"]
        except ClientError as exc:
            if not_implemented(exc):
                return RuleResult(
                    name, "skipped", "the endpoint does not implement CodeCommit approval rule templates"
                )
            if error_code(exc) != "ApprovalRuleTemplateDoesNotExistException":
                raise
            current = None
        if current is None:
            client.create_approval_rule_template(
                approvalRuleTemplateName=name,
                approvalRuleTemplateContent=content,
                approvalRuleTemplateDescription=description(branch),
            )
            result = "created"
        elif json.loads(current["approvalRuleTemplateContent"]) != json.loads(content):
            client.update_approval_rule_template_content(
                approvalRuleTemplateName=name,
                newRuleContent=content,
                existingRuleContentSha256=current["ruleContentSha256"],
            )
            result = "updated"
        else:
            result = "unchanged"
        associated = _associated(client, repository)
        if name not in associated:
            client.associate_approval_rule_template_with_repository(
                approvalRuleTemplateName=name, repositoryName=repository
            )
            return RuleResult(
                name, result, f"associated with {repository}; applies to pull requests opened from now on"
            )
        return RuleResult(name, result, f"associated with {repository}")
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return RuleResult(name, "failed", f"{code}: {exc}; run mlopsctl bootstrap again once fixed")


def _associated(client: Any, repository: str) -> set[str]:
    names: set[str] = set()
    kwargs: dict[str, Any] = {"repositoryName": repository}
    while True:
        page = client.list_associated_approval_rule_templates_for_repository(**kwargs)
        names.update(page.get("approvalRuleTemplateNames", []))
        if not page.get("nextToken"):
            return names
        kwargs["nextToken"] = page["nextToken"]
