"""`mlopsctl history`: what a pipeline's config said over time, and which commit each stage runs.

From git: every commit that changed pipeline-configs/<id>/mlops-config.json, with its author, date,
subject and the model each stage pinned then. From AWS (unless offline): the commit recorded on
each stage's stack (tag mlops:commit), so the history says which version is live where."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from mlops_gitops.aws.codecommit import CodeCommitGateway
from mlops_gitops.aws.codepipeline import CodePipelineGateway
from mlops_gitops.aws.errors import AWS_ERRORS, reason, stand_in_lacks
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.rules.base import pipeline_stages
from mlops_gitops.errors import GitOpsError, UsageError
from mlops_gitops.names import stack_name
from mlops_gitops.ops.history_approvals import (
    PullRequestApproval,
    StageApproval,
    pull_requests,
    stage_approvals,
)
from mlops_gitops.ops.promote import git, pin_site
from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR, Repo
from mlops_gitops.report.models import version_label

_SEP = "\x1f"


@dataclass(frozen=True)
class ConfigChange:
    commit: str
    date: str  # ISO 8601, the author's
    author: str
    subject: str
    exists: bool  # False: this commit removed the config
    models: dict[str, str] = field(default_factory=dict)  # stage -> what it serves ("fraud-scorer v7")


@dataclass(frozen=True)
class Live:
    stage: str
    stack: str
    status: str  # the stack's status, "not deployed", or why it could not be read
    commit: str | None = None  # the mlops:commit tag


@dataclass
class History:
    pipeline_id: str
    changes: list[ConfigChange]
    live: list[Live] = field(default_factory=list)
    serving: dict[str, str] = field(default_factory=dict)  # stage -> the config change it runs
    # Who approved: change commit -> its pull request; stage -> the pipeline's approval of it.
    # None: not read (offline, or AWS did not answer: approvals_note says why).
    pull_requests: dict[str, PullRequestApproval] | None = None
    approvals: dict[str, StageApproval] | None = None
    approvals_note: str = "unknown (offline: read without --offline for pull requests and pipeline approvals)"

    def to_dict(self) -> dict:
        return {
            "pipeline_id": self.pipeline_id,
            "changes": [asdict(c) for c in self.changes],
            "live": [asdict(item) for item in self.live],
            "serving": dict(self.serving),
            "approvals_known": not self.approvals_note,
            "approvals_note": self.approvals_note,
            "pull_requests": None
            if self.pull_requests is None
            else {c: asdict(p) for c, p in self.pull_requests.items()},
            "approvals": None
            if self.approvals is None
            else {s: asdict(a) for s, a in self.approvals.items()},
        }

    def live_in(self, commit: str) -> list[str]:
        """The stages that run the config of change ``commit``: their stack records a commit that
        has this change as its newest change of the config (see ``serving_changes``)."""
        return [stage for stage, change in self.serving.items() if _same(change, commit)]


def _same(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def served(data: object, stage: str, stages: list[str]) -> str:
    """What ``stage`` serves according to one version of the config: a registry version, an
    artifact, or "-"."""
    if not isinstance(data, dict):
        return "-"
    try:
        current = pin_site(data, stage, stages).current
    except GitOpsError:
        current = None
    if current:
        group, version = version_label(current)
        if group:
            return f"{group} {version}"
        return current if ":" in current else f"{current} (latest approved)"
    artifact = data.get("model_artifact_location")
    if isinstance(artifact, dict):
        artifact = artifact.get(stage)
    return str(artifact) if artifact else "-"


def config_history(repo: Repo, pipeline_id: str, env: Environments, limit: int = 20) -> list[ConfigChange]:
    """The commits that changed the pipeline's config, newest first."""
    rel = f"{CONFIGS_DIR}/{pipeline_id}/{CONFIG_FILE}"
    log = git(
        repo.root, "log", f"-n{limit}", f"--format=%H{_SEP}%aI{_SEP}%an{_SEP}%s", "--", rel
    ).splitlines()
    if not log:
        raise UsageError(f"git has no commit of {rel}; commit it first (or check the pipeline id)")
    changes = []
    for line in log:
        commit, date, author, subject = line.split(_SEP, 3)
        try:
            data = json.loads(git(repo.root, "show", f"{commit}:{rel}"))
        except UsageError:  # the commit deleted it
            changes.append(ConfigChange(commit, date, author, subject, exists=False))
            continue
        except ValueError:
            changes.append(ConfigChange(commit, date, author, subject, True, {"*": "(not valid JSON)"}))
            continue
        stages = pipeline_stages(data, env) if isinstance(data, dict) else env.names
        models = {stage: served(data, stage, stages) for stage in stages}
        changes.append(ConfigChange(commit, date, author, subject, True, models))
    return changes


def live_commits(
    gateways_for: Callable[[str], StageGateways], env: Environments, pipeline_id: str, stages: Iterable[str]
) -> list[Live]:
    """Per stage, the commit its stack records; a stage that can't be read says why."""
    out = []
    for stage in stages:
        name = stack_name(env.stack_prefix, pipeline_id, stage)
        try:
            snap = gateways_for(stage).cfn.snapshot(name)
        except AWS_ERRORS as exc:
            out.append(Live(stage, name, f"unreadable ({reason(exc)})"))
            continue
        if snap is None:
            out.append(Live(stage, name, "not deployed"))
        else:
            out.append(Live(stage, name, snap.status, snap.tags.get("mlops:commit")))
    return out


def serving_changes(repo: Repo, changes: list[ConfigChange], live: list[Live]) -> dict[str, str]:
    """Stage -> the config change its stack runs: the newest change that is the live commit or one
    of its ancestors (a stack deployed from a later commit that left the config alone runs the
    config of the change before it). A live commit git does not know is left out."""
    out = {}
    for item in live:
        if not item.commit:
            continue
        for change in changes:  # newest first
            if _same(change.commit, item.commit) or _is_ancestor(repo, change.commit, item.commit):
                out[item.stage] = change.commit
                break
    return out


def _is_ancestor(repo: Repo, older: str, newer: str) -> bool:
    try:
        git(repo.root, "merge-base", "--is-ancestor", older, newer)
    except UsageError:  # not an ancestor (exit 1), or a commit git does not have
        return False
    return True


def _why(exc: Exception, what: str) -> str:
    return f"the endpoint does not implement {what}" if stand_in_lacks(exc) else reason(exc)


def add_approvals(
    history: History,
    repo: Repo,
    env: Environments,
    codecommit: CodeCommitGateway,
    codepipeline: CodePipelineGateway,
) -> None:
    """Who approved: the pull request of each change, the pipeline approval of each live stage. A
    part AWS can't answer (no permission, a stand-in without the API) is named as unknown, and the
    rest of the history stands."""
    notes = []
    if env.orchestrator.get("source") == "connection":
        notes.append("pull requests unknown (the repository is reached through a connection)")
    else:
        try:
            history.pull_requests = pull_requests(
                codecommit,
                repo,
                env,
                env.orchestrator.get("repository_name", "mlops-gitops"),
                [c.commit for c in history.changes],
            )
        except AWS_ERRORS as exc:
            notes.append(f"pull requests unknown ({_why(exc, 'CodeCommit pull requests')})")
    try:
        history.approvals = stage_approvals(
            codepipeline, env, {item.stage: item.commit for item in history.live}
        )
    except AWS_ERRORS as exc:
        notes.append(f"pipeline approvals unknown ({_why(exc, 'CodePipeline action executions')})")
    history.approvals_note = "; ".join(notes)
