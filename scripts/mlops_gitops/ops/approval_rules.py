"""The approval rule templates bootstrap puts on the CodeCommit repository: a person must approve.

CloudFormation has no resource for approval rule templates, so bootstrap makes them through the API,
idempotently (created, updated when their content changed, associated once). Every pull request into
the deployed branch reaches prod (through the pipeline's approvals), so the rules apply to all of
them. Two rules, each with its own approval pool, so that no identity counts for the other:
- <prefix>-check-approval: one approval from the pr-check build (it approves clean changes);
- <prefix>-human-approval: one approval from a person (environments.json orchestrator.approvers;
  by default the account's IAM users and federated users). Never the build's role: two builds of one
  pull request are two sessions of it, and a pool without members would count them as two people.
Authors can't approve their own pull requests. CodeCommit approval pools:
https://docs.aws.amazon.com/codecommit/latest/userguide/approval-rule-templates.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase

from mlops_gitops.aws.codecommit import CodeCommitGateway
from mlops_gitops.aws.errors import AWS_ERRORS, error_code, not_implemented
from mlops_gitops.config.environments import Environments, approval_template_content


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


def check_template_name(env: Environments) -> str:
    return f"{env.stack_prefix}-check-approval"


def check_pool(env: Environments, account: str, partition: str = "aws") -> list[str]:
    """The pr-check build's sessions (CodeBuild names them AWSCodeBuild-<build id>)."""
    return [f"arn:{partition}:sts::{account}:assumed-role/{env.stack_prefix}-pr-check-build/*"]


def human_pool(env: Environments, account: str, partition: str = "aws") -> list[str]:
    configured = env.orchestrator.get("approvers")
    if isinstance(configured, list) and configured:
        return [str(a) for a in configured]
    return [f"arn:{partition}:iam::{account}:user/*", f"arn:{partition}:sts::{account}:federated-user/*"]


def build_in_pool(pool: list[str], env: Environments, account: str, partition: str = "aws") -> str | None:
    """The pool entry that would let the pr-check build's sessions approve as a person, if any."""
    session = f"arn:{partition}:sts::{account}:assumed-role/{env.stack_prefix}-pr-check-build/AWSCodeBuild-x"
    build = f"{env.stack_prefix}-pr-check-build"
    return next((p for p in pool if fnmatchcase(session, p) or build in p), None)


def template_content(branch: str, pool: list[str]) -> str:
    return approval_template_content(branch, pool)  # validate checks its size (at most 3,000)


def description(branch: str, who: str) -> str:
    return f"Pull requests into {branch} reach prod: {who} approves."


def ensure_all(
    probe: CodeCommitGateway,
    gateway: CodeCommitGateway,
    env: Environments,
    account: str,
    partition: str = "aws",
) -> list[RuleResult]:
    """Both rules; a person's pool that would admit the build is refused, not created."""
    branch = env.orchestrator.get("branch", "main")
    people = human_pool(env, account, partition)
    leak = build_in_pool(people, env, account, partition)
    if leak:
        return [
            RuleResult(
                template_name(env),
                "failed",
                f"orchestrator.approvers entry {leak!r} admits the pr-check build's role; name people's "
                "identities (IAM users, SSO roles) so that a person, not the build, gives this approval",
            )
        ]
    results = [
        ensure(
            probe,
            gateway,
            env,
            check_template_name(env),
            template_content(branch, check_pool(env, account, partition)),
            description(branch, "the pr-check build (clean changes only)"),
        )
    ]
    if results[0].result == "skipped":
        return results
    results.append(
        ensure(
            probe,
            gateway,
            env,
            template_name(env),
            template_content(branch, people),
            description(branch, "a person"),
        )
    )
    last = results[-1]
    if last.result != "failed":  # who may approve: a team that signs in through SSO sets approvers
        results[-1] = RuleResult(last.name, last.result, f"{last.detail}; approvers: {', '.join(people)}")
    return results


def ensure(
    probe: CodeCommitGateway,
    gateway: CodeCommitGateway,
    env: Environments,
    name: str,
    content: str,
    about: str,
) -> RuleResult:
    """Create or update one template and associate it with the repository. ``probe`` is a gateway
    that fails fast, for the first call: an endpoint without approval rule templates (moto) answers
    HTTP 500, and the step is then skipped rather than retried."""
    repository = env.orchestrator.get("repository_name", "mlops-gitops")
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
            gateway.create_approval_rule_template(name, content, about)
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


def is_check_build(arn: str, env: Environments) -> bool:
    """Whether an approver's ARN is a session of the pr-check build's role (the check's approval),
    not a person: the role's sessions are arn:<partition>:sts::<account>:assumed-role/<role>/<session>."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[2] != "sts":
        return False
    kind, _, rest = parts[5].partition("/")
    return kind == "assumed-role" and rest.split("/", 1)[0] == f"{env.stack_prefix}-pr-check-build"
