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

from mlops_gitops.aws.codecommit import CodeCommitGateway
from mlops_gitops.aws.errors import AWS_ERRORS, error_code, not_implemented
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


def ensure(probe: CodeCommitGateway, gateway: CodeCommitGateway, env: Environments) -> RuleResult:
    """Create or update the template and associate it with the repository. ``probe`` is a gateway
    that fails fast, for the first call: an endpoint without approval rule templates (moto) answers
    HTTP 500, and the step is then skipped rather than retried."""
    name = template_name(env)
    branch = env.orchestrator.get("branch", "main")
    repository = env.orchestrator.get("repository_name", "mlops-gitops")
    content = template_content(branch)
    try:
        try:
            current = probe.approval_rule_template(name)
        except AWS_ERRORS as exc:
            if not_implemented(exc):
                return RuleResult(
                    name, "skipped", "the endpoint does not implement CodeCommit approval rule templates"
                )
            raise
        if current is None:
            gateway.create_approval_rule_template(name, content, description(branch))
            result = "created"
        elif json.loads(current["approvalRuleTemplateContent"]) != json.loads(content):
            gateway.update_approval_rule_template(name, content, current["ruleContentSha256"])
            result = "updated"
        else:
            result = "unchanged"
        if name not in gateway.associated_templates(repository):
            gateway.associate_template(name, repository)
            return RuleResult(
                name, result, f"associated with {repository}; applies to pull requests opened from now on"
            )
        return RuleResult(name, result, f"associated with {repository}")
    except AWS_ERRORS as exc:
        code = error_code(exc) or type(exc).__name__
        return RuleResult(name, "failed", f"{code}: {exc}; run mlopsctl bootstrap again once fixed")
