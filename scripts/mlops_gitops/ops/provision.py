"""MWO's REST API, git-first: POST /provisionpipeline and POST /pipelinestatus as workflows.

Provisioning never deploys. An MWO body becomes this repository's config (config/mwo.py, as
`mlopsctl migrate-mwo` converts it), is checked by the validator `mlopsctl validate` runs, against
the deployed branch's own environments.json, schemas and templates, and then becomes a commit: git
stays the only truth, and the pipeline deploys it as it deploys any other commit.

Where the commit goes (DESIGN §9: the API is no way around review):
- by default, a branch ``provision/<id>-<8 hex of the config>`` and a pull request into the deployed
  branch, so the pull-request check and a reviewer see it like any other change;
- onto the deployed branch itself only for a NEW pipeline, when the operator opted in (``direct_commit``) AND the
  repository has no approval rule template associated with it (bootstrap associates
  ``<prefix>-check-approval`` and ``<prefix>-human-approval``; with either, the team reviews every
  change to the branch, so a direct push is not what it wants).

The same body twice changes nothing: an identical config on the target is "already provisioned",
and CreateCommit's NoChangeException (no empty commit) is read the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops import names
from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.codecommit import CodeCommitGateway
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.mwo import MwoInputError, migrate
from mlops_gitops.findings import Finding, sort_findings
from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR, ENVIRONMENTS_FILE, Repo

# What the validator reads from the branch: the configs, environments.json and the schemas, and
# the templates (render's parameter constraints and physical names).
READ_FOLDERS = (CONFIGS_DIR, "cloudformation/pipelines")
NOT_YET = "pipeline cloudformation stack has not provisioned the pipeline yet."  # MWO's own text


class ProvisionError(ValueError):
    """The request can't be provisioned as sent (the API answers 400 with this text)."""


@dataclass(frozen=True)
class Settings:
    repository: str
    branch: str  # the deployed branch (environments.json's, as bootstrap configured it)
    prefix: str  # the stack prefix
    region: str
    direct_commit: bool = False  # opt-in; still refused while approval rule templates apply
    author: str = "mlops-provisioning-api"


@dataclass(frozen=True)
class Provisioned:
    outcome: str  # invalid | unchanged | committed | proposed
    pipeline_id: str
    message: str
    findings: tuple[Finding, ...] = ()
    commit_id: str = ""
    branch: str = ""
    pull_request_id: str = ""
    reference: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageState:
    stage: str
    stack: str
    status: str  # the stack's status, NOT_DEPLOYED, or ELSEWHERE (another account or region)
    reason: str = ""
    commit: str = ""  # the config commit deployed (tag mlops:config-commit)


@dataclass
class PipelineState:
    pipeline_id: str
    in_git: bool
    stages: list[StageState] = field(default_factory=list)

    @property
    def deployed(self) -> bool:
        return any(s.status not in ("NOT_DEPLOYED", "ELSEWHERE") for s in self.stages)


def config_path(pipeline_id: str) -> str:
    return f"{CONFIGS_DIR}/{pipeline_id}/{CONFIG_FILE}"


def provision(
    body: Any,
    git: CodeCommitGateway,
    settings: Settings,
    pipeline_id: str | None = None,
    requested_by: str = "",
) -> Provisioned:
    try:
        migration = migrate(body, pipeline_id)
    except MwoInputError as exc:
        raise ProvisionError(f"Bad request format. {exc}") from exc
    pid, text = migration.pipeline_id, migration.text().encode("utf-8")
    path = config_path(pid)
    tip = git.tip_or_none(settings.repository, settings.branch)
    if tip is None:
        raise ProvisionError(f"the branch {settings.branch!r} does not exist in {settings.repository}")
    notes = tuple(migration.notes + migration.decide)
    current = git.file_or_none(settings.repository, path, tip)
    if _same(current, migration.config):
        return Provisioned(
            "unchanged", pid, f"Pipeline {pid} is already provisioned, no changes.", notes=notes
        )
    findings = check(git, settings, tip, path, text)
    if any(f.is_error for f in findings):
        return Provisioned(
            "invalid", pid, f"{path} is not valid; nothing was committed.", tuple(findings), notes=notes
        )
    who = " ".join(requested_by.split())[:200]
    message = f"provision {pid}: {migration.config['pipeline_type']} through the provisioning API" + (
        f"\n\nRequested by {who}" if who else ""
    )
    # A direct commit only adds a pipeline: a change to an existing one (whoever provisioned it) is
    # proposed for review like any other change to it.
    if current is None and settings.direct_commit and not git.associated_templates(settings.repository):
        commit = git.create_commit(
            settings.repository, settings.branch, tip, {path: text}, message, settings.author
        )
        if commit is None:
            return Provisioned(
                "unchanged", pid, f"Pipeline {pid} is already provisioned, no changes.", notes=notes
            )
        return Provisioned(
            "committed",
            pid,
            f"success: {path} committed to {settings.branch}; the pipeline deploys it.",
            tuple(findings),
            commit_id=commit,
            branch=settings.branch,
            reference=f"codecommit://{settings.repository}/{settings.branch}@{commit}",
            notes=notes,
        )
    return _propose(git, settings, tip, pid, path, text, message, tuple(findings), notes)


def _propose(
    git: CodeCommitGateway,
    settings: Settings,
    tip: str,
    pid: str,
    path: str,
    text: bytes,
    message: str,
    findings: tuple[Finding, ...],
    notes: tuple[str, ...],
) -> Provisioned:
    """A branch named after the config's content and a pull request into the deployed branch."""
    branch = f"provision/{pid}-{hashlib.sha256(text).hexdigest()[:8]}"
    head = git.tip_or_none(settings.repository, branch)
    if head is not None and git.file_or_none(settings.repository, path, head) == text:
        return Provisioned(
            "unchanged",
            pid,
            f"Pipeline {pid}: this config is already proposed on branch {branch}, no changes.",
            findings,
            branch=branch,
            reference=f"codecommit://{settings.repository}/{branch}",
            notes=notes,
        )
    if head is None:
        git.create_branch(settings.repository, branch, tip)
        head = tip
    commit = git.create_commit(settings.repository, branch, head, {path: text}, message, settings.author)
    description = "\n".join(
        [message, "", "Merge to deploy it; the pull-request check validates it too."]
        + ([""] + [f"- {n}" for n in notes] if notes else [])
    )
    pr = git.create_pull_request(
        settings.repository, f"provision {pid}", description[:10240], branch, settings.branch
    )
    return Provisioned(
        "proposed",
        pid,
        f"success: pull request {pr} proposes {path} on branch {branch}; merging it deploys the pipeline.",
        findings,
        commit_id=commit or head,
        branch=branch,
        pull_request_id=pr,
        reference=(
            f"https://{settings.region}.console.aws.amazon.com/codesuite/codecommit/repositories/"
            f"{settings.repository}/pull-requests/{pr}/details?region={settings.region}"
        ),
        notes=notes,
    )


def _same(current: bytes | None, config: dict[str, Any]) -> bool:
    if current is None:
        return False
    try:
        return json.loads(current.decode("utf-8-sig")) == config
    except ValueError:
        return False


def check(git: CodeCommitGateway, settings: Settings, commit: str, path: str, text: bytes) -> list[Finding]:
    """What `mlopsctl validate` says about the repository at ``commit`` with ``text`` at ``path``:
    the branch's files are copied into a temporary folder that stands for the checkout."""
    with tempfile.TemporaryDirectory(prefix="mlops-provision-") as tmp:
        root = Path(tmp)
        for folder in READ_FOLDERS:
            for name in git.files_under(settings.repository, folder, commit):
                data = git.file_or_none(settings.repository, name, commit)
                if data is not None:
                    _write(root, name, data)
        _write(root, path, text)
        return validate_repository(root)


def _write(root: Path, rel: str, data: bytes) -> None:
    target = Path(os.path.normpath(root / rel))
    if not target.is_relative_to(root) or target == root:
        raise ProvisionError(f"the repository holds a path outside its root: {rel!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def validate_repository(root: Path) -> list[Finding]:
    """`mlopsctl validate` without --templates (cli/validate.py): every config and
    environments.json, then each valid config's physical names against AWS's limits."""
    from mlops_gitops.config.validate import Validator, validate
    from mlops_gitops.core.render import configs_name_findings

    repo = Repo(root)
    validator = Validator(repo)
    report, configs = validate(repo, validator=validator)
    return sort_findings([*report.findings, *configs_name_findings(repo, configs, validator)])


# ------------------------------------------------------------------ POST /pipelinestatus


def status(
    pipeline_id: Any, git: CodeCommitGateway, cfn: CloudFormationGateway, settings: Settings, account: str
) -> PipelineState:
    """Each stage's stack of the pipeline, as DescribeStacks shows it in this account and region;
    stages deployed elsewhere are named, not read (this function's role reads only its account)."""
    if not isinstance(pipeline_id, str) or not names.PIPELINE_ID.match(pipeline_id):
        raise ProvisionError(
            "Bad request. API body does not have the necessary parameter: pipeline_id (a pipeline id: "
            "lower-case letters, digits and single hyphens, at most 40 characters)"
        )
    tip = git.tip_or_none(settings.repository, settings.branch)
    in_git = False
    env_data: Any = None
    if tip is not None:
        in_git = git.file_or_none(settings.repository, config_path(pipeline_id), tip) is not None
        raw = git.file_or_none(settings.repository, f"{CONFIGS_DIR}/{ENVIRONMENTS_FILE}", tip)
        try:
            env_data = json.loads(raw.decode("utf-8-sig")) if raw else None
        except ValueError:
            env_data = None
    env = Environments.from_data(env_data)
    state = PipelineState(pipeline_id, in_git)
    for stage in env.stages:
        stack = names.stack_name(settings.prefix, pipeline_id, stage.name)
        elsewhere = (stage.account_id not in (None, account)) or (
            env.region_of(stage.name) not in (None, settings.region)
        )
        if elsewhere:
            where = f"account {stage.account_id or account}, region {env.region_of(stage.name)}"
            state.stages.append(StageState(stage.name, stack, "ELSEWHERE", f"deployed in {where}"))
            continue
        snap = cfn.snapshot(stack)
        if snap is None:
            state.stages.append(StageState(stage.name, stack, "NOT_DEPLOYED"))
        else:
            state.stages.append(
                StageState(
                    stage.name,
                    stack,
                    snap.status,
                    snap.status_reason,
                    snap.tags.get("mlops:config-commit", ""),
                )
            )
    return state
