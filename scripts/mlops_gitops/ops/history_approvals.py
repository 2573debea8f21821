"""Who approved what `history` lists: the pull request that brought each config change (and who
approved it: the pr-check build's approval apart from a person's, see ops/approval_rules.py), and the
orchestrator pipeline's manual approval before each stage's Deploy-<stage> (who, when, the comment).

Calls, bounded: CodeCommit ListPullRequests (ids only) and one GetPullRequest per closed pull
request until every change is matched (at most ``scan`` of them; the API has no look-up by commit),
then one GetPullRequestApprovalStates per matched pull request; CodePipeline one
ListPipelineExecutions page and one ListActionExecutions per execution that ran a live commit.
A change is matched to the pull request whose merge brought it: its merge commit (squash,
fast-forward), or a commit between the pull request's merge base and its source commit (git rev-list).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mlops_gitops.aws.codecommit import CodeCommitGateway, PullRequest
from mlops_gitops.aws.codepipeline import ActionExecution, CodePipelineGateway
from mlops_gitops.config.environments import Environments
from mlops_gitops.errors import UsageError
from mlops_gitops.ops.approval_rules import is_check_build
from mlops_gitops.ops.promote import git
from mlops_gitops.repo import Repo

PULL_REQUESTS_SCANNED = 100
EXECUTIONS_SCANNED = 100


@dataclass(frozen=True)
class PullRequestApproval:
    pull_request_id: str
    title: str
    merged_by: str
    people: list[str] = field(default_factory=list)  # approvers who are not the pr-check build
    check: list[str] = field(default_factory=list)  # the pr-check build's sessions that approved


@dataclass(frozen=True)
class StageApproval:
    stage: str
    status: str  # approved | rejected | waiting | abandoned | no approval step | no live commit | not found
    commit: str | None = None
    execution_id: str = ""
    by: str = ""
    at: str = ""
    summary: str = ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


def _brought(repo: Repo, pr: PullRequest) -> set[str]:
    """The commits a merged pull request brought into its destination (what local git knows)."""
    commits = {c for c in (pr.merge_commit, pr.source_commit) if c}
    if pr.merge_base and pr.source_commit:
        try:
            commits.update(git(repo.root, "rev-list", f"{pr.merge_base}..{pr.source_commit}").split())
        except UsageError:  # a commit this clone does not have
            pass
    return commits


def pull_requests(
    codecommit: CodeCommitGateway,
    repo: Repo,
    env: Environments,
    repository: str,
    commits: Iterable[str],
    scan: int = PULL_REQUESTS_SCANNED,
) -> dict[str, PullRequestApproval]:
    """Commit -> the merged pull request that brought it, with its approvers; a commit no scanned
    pull request brought is left out (pushed directly, or older than the scanned ones)."""
    wanted = [c for c in commits if c]
    branch = f"refs/heads/{env.orchestrator.get('branch', 'main')}"
    found: dict[str, PullRequest] = {}
    for pr_id in codecommit.closed_pull_request_ids(repository, scan):
        if len(found) == len(wanted):
            break
        pr = codecommit.pull_request(pr_id)
        if not pr.merged or pr.destination_reference not in (branch, branch.removeprefix("refs/heads/")):
            continue
        brought = _brought(repo, pr)
        for commit in wanted:
            if commit not in found and any(_same(commit, b) for b in brought):
                found[commit] = pr
    out: dict[str, PullRequestApproval] = {}
    approvers: dict[str, list[str]] = {}
    for commit, pr in found.items():
        if pr.pull_request_id not in approvers:
            approvers[pr.pull_request_id] = codecommit.approvals(pr.pull_request_id, pr.revision_id)
        arns = approvers[pr.pull_request_id]
        out[commit] = PullRequestApproval(
            pr.pull_request_id,
            pr.title,
            pr.merged_by,
            people=[a for a in arns if not is_check_build(a, env)],
            check=[a for a in arns if is_check_build(a, env)],
        )
    return out


_STATUS = {"Succeeded": "approved", "Failed": "rejected", "InProgress": "waiting", "Abandoned": "abandoned"}


def stage_approvals(
    codepipeline: CodePipelineGateway, env: Environments, live: dict[str, str | None]
) -> dict[str, StageApproval]:
    """Stage -> the manual approval (stage Approve-<stage>, orchestrator.yaml) of the newest
    pipeline execution that ran the stage's live commit; ``live`` maps stage -> that commit."""
    pipeline = f"{env.stack_prefix}-pipeline"
    out: dict[str, StageApproval] = {}
    executions = None
    actions: dict[str, list[ActionExecution]] = {}
    for stage, commit in live.items():
        st = env.stage(stage)
        if not (st and st.approval):
            out[stage] = StageApproval(stage, "no approval step", commit)
            continue
        if not commit:
            out[stage] = StageApproval(stage, "no live commit")
            continue
        if executions is None:
            executions = codepipeline.executions(pipeline, EXECUTIONS_SCANNED)
        out[stage] = StageApproval(stage, "not found", commit)
        for execution in (e for e in executions if any(_same(commit, r) for r in e.revisions)):
            if execution.execution_id not in actions:
                actions[execution.execution_id] = codepipeline.actions(pipeline, execution.execution_id)
            approval = next(
                (
                    a
                    for a in actions[execution.execution_id]
                    if a.stage_name == f"Approve-{stage}" and a.category in ("Approval", "")
                ),
                None,
            )
            if approval is not None and (out[stage].status == "not found" or approval.status == "Succeeded"):
                out[stage] = StageApproval(
                    stage,
                    _STATUS.get(approval.status, approval.status.lower()),
                    commit,
                    execution.execution_id,
                    approval.updated_by,
                    approval.updated,
                    approval.summary,
                )
                if approval.status == "Succeeded":
                    break
    return out
