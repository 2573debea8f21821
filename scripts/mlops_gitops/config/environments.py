"""environments.json: the stages, in promotion order, and where each lives."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops import awsdata
from mlops_gitops.config.arns import ArnError, parse_arn
from mlops_gitops.config.schedule import ScheduleError, check_schedule
from mlops_gitops.findings import Finding, json_path

# The orchestrator pipeline's Deploy-<stage> slots (cloudformation/orchestrator.yaml): bootstrap
# refuses more stages than this, so validate does too (ops/bootstrap.py holds the same number; a
# test keeps them equal).
PIPELINE_STAGES = 3
# CodeCommit refuses an approval rule template whose content is over 3,000 characters:
# https://docs.aws.amazon.com/codecommit/latest/APIReference/API_CreateApprovalRuleTemplate.html
APPROVAL_TEMPLATE_CONTENT_MAX = 3000


@dataclass(frozen=True)
class Stage:
    name: str
    account_id: str | None = None
    region: str | None = None
    approval: bool = False
    protected: bool = False
    shards: int | None = None  # stages[].shards: this stage's deploy shards (else deploy.shards)


@dataclass(frozen=True)
class Environments:
    stack_prefix: str
    region: str | None
    stages: tuple[Stage, ...]
    assets_bucket: str | None = None
    deploy_role: str | None = None  # assumed in stage accounts other than ours
    orchestrator: dict[str, Any] = field(default_factory=dict, compare=False)  # bootstrap's settings
    max_parallel: int | None = None  # deploy.max_parallel (None: defaults.DEFAULT_MAX_PARALLEL)
    shards: int = 1  # deploy.shards: builds of each stage's deploy batch (ops.shards); 1 = no batch

    @property
    def deploy_role_name(self) -> str:
        return self.deploy_role or f"{self.stack_prefix}-deploy"

    @property
    def review_role_name(self) -> str:
        """The read-only role (previews, status, drift) pr-check and drift assume in other accounts."""
        return f"{self.stack_prefix}-review"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def shards_of(self, name: str) -> int:
        """Builds the stage's deploy is fanned out over: stages[].shards, else deploy.shards."""
        stage = self.stage(name)
        return (stage.shards if stage and stage.shards else None) or self.shards

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def region_of(self, name: str) -> str | None:
        stage = self.stage(name)
        return (stage.region if stage else None) or self.region

    def after_a_stage_in_its_account(self, stages: list[str] | tuple[str, ...], name: str) -> bool:
        """Whether one of ``stages`` (in promotion order) before ``name`` deploys to the same account
        and region; stages without an account_id share the pipeline account."""

        def scope(stage: str) -> tuple[str | None, str | None]:
            found = self.stage(stage)
            return (found.account_id if found else None), self.region_of(stage)

        earlier = list(stages)[: list(stages).index(name)] if name in stages else []
        return any(scope(s) == scope(name) for s in earlier)

    @classmethod
    def from_data(cls, data: Any) -> Environments:
        """Best-effort model of a possibly invalid file, so configs can still be checked against it."""
        if not isinstance(data, dict):
            return DEFAULT
        prefix = data.get("stack_prefix")
        region = data.get("region")
        assets = data.get("assets_bucket")
        role = data.get("deploy_role_name")
        deploy = data.get("deploy") if isinstance(data.get("deploy"), dict) else {}
        parallel = deploy.get("max_parallel")
        stages = []
        for item in data.get("stages") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                stages.append(
                    Stage(
                        item["name"],
                        item.get("account_id") if isinstance(item.get("account_id"), str) else None,
                        item.get("region") if isinstance(item.get("region"), str) else None,
                        item.get("approval") is True,
                        item.get("protected") is True,
                        _shards(item["shards"]) if "shards" in item else None,
                    )
                )
        return cls(
            prefix if isinstance(prefix, str) and prefix else DEFAULT.stack_prefix,
            region if isinstance(region, str) else None,
            tuple(stages) or DEFAULT.stages,
            assets if isinstance(assets, str) and assets else None,
            role if isinstance(role, str) and role else None,
            data["orchestrator"] if isinstance(data.get("orchestrator"), dict) else {},
            parallel
            if isinstance(parallel, int) and not isinstance(parallel, bool) and parallel >= 1
            else None,
            _shards(deploy.get("shards")),
        )


def _shards(value: Any) -> int:
    """deploy.shards when it is one the schema allows (1..8), else 1 (the schema reports it)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8
    return value if ok else 1


DEFAULT = Environments(
    "mlops",
    None,
    (Stage("dev"), Stage("staging", approval=True), Stage("prod", approval=True, protected=True)),
)


def check_environments(data: dict[str, Any], display: str) -> list[Finding]:
    """What environments.schema.json can't say: unique stage names, no more stages than bootstrap
    deploys, a branch name git accepts, a connection in the orchestrator's partition and region,
    a drift schedule EventBridge accepts."""
    findings = []

    def add(path: list[str | int], code: str, message: str, hint: str) -> None:
        findings.append(Finding(display, json_path(path), code, message, hint))

    seen: set[str] = set()
    stages = data.get("stages") if isinstance(data.get("stages"), list) else []
    for index, item in enumerate(stages):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            if name in seen:
                add(
                    ["stages", index, "name"],
                    "duplicate",
                    f"stage {name!r} is listed twice",
                    "give every stage its own name",
                )
            seen.add(name)
    if len(stages) > PIPELINE_STAGES:
        add(
            ["stages"],
            "size",
            f"environments.json lists {len(stages)} stages; the orchestrator pipeline deploys at most "
            f"{PIPELINE_STAGES} (its Deploy-<stage> slots in cloudformation/orchestrator.yaml)",
            f"merge stages down to {PIPELINE_STAGES}, or add a slot to the orchestrator template",
        )
    orchestrator = data.get("orchestrator")
    if not isinstance(orchestrator, dict):
        return findings
    branch = orchestrator.get("branch")
    if isinstance(branch, str):
        problem = branch_problem(branch)
        if problem:
            add(
                ["orchestrator", "branch"],
                "branch",
                f"{branch!r} is not a valid git branch name: {problem}",
                "see git check-ref-format; e.g. main or release/1.0",
            )
    arn = orchestrator.get("connection_arn")
    if isinstance(arn, str):
        findings += _connection_findings(arn, data.get("region"), display)
    if (
        orchestrator.get("provisioning_api") not in (None, False)
        and orchestrator.get("source") == "connection"
    ):
        add(
            ["orchestrator", "provisioning_api"],
            "provisioning-api",
            "the provisioning API commits with CodeCommit's API, and orchestrator.source is connection",
            "drop provisioning_api, or keep the configs in the orchestrator's CodeCommit repository",
        )
    schedule = orchestrator.get("drift_schedule")
    if isinstance(schedule, str):
        try:
            check_schedule(schedule, allow_rate=True)
        except ScheduleError as exc:
            add(["orchestrator", "drift_schedule"], "schedule", exc.message, exc.hint)
    approvers = orchestrator.get("approvers")
    if isinstance(approvers, list) and all(isinstance(a, str) for a in approvers):
        size = len(approval_template_content(str(branch if isinstance(branch, str) else "main"), approvers))
        if size > APPROVAL_TEMPLATE_CONTENT_MAX:
            add(
                ["orchestrator", "approvers"],
                "too-long",
                f"the approval rule template bootstrap makes from these {len(approvers)} approvers (and the "
                f"branch) would be {size} characters, over CodeCommit's {APPROVAL_TEMPLATE_CONTENT_MAX}",
                "list fewer approvers: one wildcard ARN covers many (e.g. arn:aws:sts::111122223333:"
                "assumed-role/AWSReservedSSO_MLApprovers_*/*), or a shorter branch name",
            )
    return findings


def approval_template_content(branch: str, pool: list[str]) -> str:
    """The content of an approval rule template on ``branch`` whose approval pool is ``pool``
    (ops.approval_rules creates it; validate checks its size)."""
    return json.dumps(
        {
            "Version": "2018-11-08",
            "DestinationReferences": [f"refs/heads/{branch}"],
            "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": 1, "ApprovalPoolMembers": pool}],
        },
        separators=(",", ":"),
    )


def branch_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a branch (git check-ref-format --branch), or None.
    https://git-scm.com/docs/git-check-ref-format"""
    if not name:
        return "it is empty"
    if name == "@" or "@{" in name:
        return "it contains '@{' or is '@'"
    if any(ord(c) < 0x20 or c == "\x7f" or c in " ~^:?*[\\" for c in name):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if ".." in name:
        return "it contains '..'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it starts or ends with '/' or contains '//'"
    if name.endswith("."):
        return "it ends with '.'"
    if name.startswith("-"):
        return "it starts with '-'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"the component {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"the component {part!r} ends with '.lock'"
    return None


def _connection_findings(arn: str, region: Any, display: str) -> list[Finding]:
    where = json_path(["orchestrator", "connection_arn"])
    service = arn.split(":")[2] if arn.count(":") >= 5 else "codeconnections"
    try:
        parsed = parse_arn(
            arn, service if service == "codestar-connections" else "codeconnections", ["connection"]
        )
    except ArnError as exc:
        return [Finding(display, where, "arn", exc.message, exc.hint)]
    if isinstance(region, str) and awsdata.partition_of_region(region) is not None:
        if awsdata.partition_of_region(region) != parsed.partition:
            return [
                Finding(
                    display,
                    where,
                    "arn",
                    f"the connection is in partition {parsed.partition!r}, the orchestrator's region {region!r} in "
                    f"{awsdata.partition_of_region(region)!r}",
                    "create the connection in the orchestrator's partition and region",
                )
            ]
        if parsed.region != region:
            # a pipeline's CodeStarSourceConnection uses a connection of its own region
            return [
                Finding(
                    display,
                    where,
                    "arn",
                    f"the connection is in {parsed.region!r}, but the orchestrator pipeline is in {region!r}",
                    f"create (or use) a connection in {region}",
                )
            ]
    return []


def may_share_account(a: str | None, b: str | None) -> bool:
    """Whether stages with account ids ``a`` and ``b`` may deploy to one account: a stage without an
    account_id deploys to the pipeline account, whose id environments.json does not give, so it
    may be any stage's explicit account."""
    return not a or not b or a == b
