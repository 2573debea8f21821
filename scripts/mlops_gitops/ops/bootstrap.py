"""`mlopsctl bootstrap`: the one-time stacks, through change sets, idempotently.

Two templates: cloudformation/orchestrator.yaml (repository, pipeline, builds, key, buckets, topic,
rules, dashboard) in the orchestrator's own account and region, and cloudformation/target-account.yaml
(CloudFormation's execution role, the deploy bucket and the SSM parameters deploy reads, and in other
accounts the deploy role) in every (account, region) a stage lives in. The orchestrator goes first:
target accounts trust its build roles, which must exist. A second run finds nothing to change.

Both are sent through S3 (TemplateURL, up to 1 MB) rather than as TemplateBody (51,200 bytes at
most): each (account, region) first gets a small <prefix>-bootstrap-assets stack, whose bucket holds
the templates under their SHA-256, verified before use.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_gitops import names
from mlops_gitops.config.environments import PIPELINE_STAGES, Environments
from mlops_gitops.core.render import MANAGED_BY, REPOSITORY_TAG, repository_identity
from mlops_gitops.errors import GitOpsError

if TYPE_CHECKING:  # botocore stays unimported until AWS is reached (mlopsctl validate never does)
    from mlops_gitops.aws.cloudformation import CloudFormationGateway, StackEvent
    from mlops_gitops.aws.s3 import ArtifactStore

ORCHESTRATOR_TEMPLATE = Path("cloudformation") / "orchestrator.yaml"
TARGET_TEMPLATE = Path("cloudformation") / "target-account.yaml"
ASSETS_TEMPLATE = Path("cloudformation") / "bootstrap-assets.yaml"
PROVISIONING_TEMPLATE = Path("cloudformation") / "provisioning-api.yaml"  # optional companion stack
REVIEW_BUILD_ROLES = ("pr-check-build", "drift-build")  # they run pull-request code: read-only roles only


class BootstrapError(GitOpsError):
    """environments.json asks for something the orchestrator can't do (exit 1)."""


@dataclass(frozen=True)
class StackJob:
    kind: str  # assets | orchestrator | target-account | provisioning-api
    stack_name: str
    account: str
    region: str
    template: Path
    parameters: dict[str, str]


@dataclass(frozen=True)
class StackResult:
    job: StackJob
    result: str  # created | updated | unchanged | failed
    detail: str = ""


def check_fits(env: Environments) -> None:
    """Refuse, before any AWS call, what the orchestrator template can't express."""
    if len(env.stages) > PIPELINE_STAGES:
        raise BootstrapError(
            f"environments.json lists {len(env.stages)} stages; the orchestrator pipeline deploys at most "
            f"{PIPELINE_STAGES} (Deploy-<stage> slots in {ORCHESTRATOR_TEMPLATE.as_posix()}); merge stages or add a slot there"
        )


# environments.json orchestrator.provider -> the orchestrator's ConnectionProvider
PROVIDERS = {"github": "GitHub", "gitlab": "GitLab", "bitbucket": "Bitbucket"}


def check_connection(arn: str, status: str) -> None:
    """A connection source must be AVAILABLE before the orchestrator is made: its pr-check and drift
    projects clone through it, and CodeBuild creates the pull-request webhook on the provider
    through it when the project is created. Refused before anything is deployed (exit 1)."""
    if status != "AVAILABLE":
        raise BootstrapError(
            f"the connection {arn} is {status}: complete it in the console (Developer Tools > Settings > "
            "Connections > Update pending connection), then run bootstrap again. Nothing was deployed"
        )


def orchestrator_parameters(
    env: Environments,
    stage_role_arns: dict[str, str] | None = None,
    review_role_arns: list[str] | None = None,
) -> dict[str, str]:
    """The orchestrator's parameters from environments.json (stages, approvals, its settings).
    stage_role_arns: stage -> the deploy role of the other account it lives in (a stage of the
    orchestrator's own account is absent); each stage's deploy build may assume that role alone."""
    check_fits(env)
    o = env.orchestrator
    stages = list(env.stages) + [None] * (PIPELINE_STAGES - len(env.stages))
    params = {
        "StackPrefix": env.stack_prefix,
        "SourceProvider": "CodeStarSourceConnection" if o.get("source") == "connection" else "CodeCommit",
        "RepositoryName": o.get("repository_name", "mlops-gitops"),
        "BranchName": o.get("branch", "main"),
        "ConnectionArn": o.get("connection_arn", ""),
        "FullRepositoryId": o.get("full_repository_id", ""),
        "ConnectionProvider": PROVIDERS[o.get("provider", "github")],
        "ProviderTokenSecret": o.get("provider_token_secret", "") if o.get("source") == "connection" else "",
        "NotificationEmail": o.get("notification_email", ""),
        "DriftSchedule": o.get("drift_schedule", "cron(0 6 * * ? *)"),
        "EnableCloudTrail": "true" if o.get("cloudtrail") else "false",
        "TargetReviewRoleArns": ",".join(review_role_arns or []),
    }
    for i, stage in enumerate(stages, start=1):
        params[f"Stage{i}Name"] = stage.name if stage else ""
        params[f"Stage{i}DeployRoleArn"] = (stage_role_arns or {}).get(stage.name, "") if stage else ""
        # the stage's deploy as a batch of N shards and a final step (ops.shards)
        params[f"Stage{i}DeployShards"] = str(env.shards_of(stage.name)) if stage else "1"
        if i > 1:
            params[f"Stage{i}Approval"] = "true" if stage and stage.approval else "false"
    groups = list(o.get("model_package_groups") or [])
    for i in range(1, 4):
        params[f"RegistryGroup{i}"] = groups[i - 1] if i <= len(groups) else ""
    return params


def plan_jobs(env: Environments, own_account: str, own_region: str, partition: str) -> list[StackJob]:
    """The orchestrator, then one target-account stack per (account, region) of the stages."""
    places: list[tuple[str, str]] = []
    stages_of: dict[str, list[str]] = {}  # account -> the stages living there
    for stage in env.stages:
        place = (stage.account_id or own_account, stage.region or env.region or own_region)
        if place not in places:
            places.append(place)
        stages_of.setdefault(place[0], []).append(stage.name)
    remote = sorted({account for account, _ in places if account != own_account})
    stage_roles = {
        stage: f"arn:{partition}:iam::{account}:role/{env.deploy_role_name}"
        for account in remote
        for stage in stages_of[account]
    }
    review_roles = [f"arn:{partition}:iam::{a}:role/{env.review_role_name}" for a in remote]
    own_role = f"arn:{partition}:iam::{own_account}:role/{env.stack_prefix}"
    home = (own_account, env.region or own_region)
    jobs = [
        assets_job(env, *home),
        StackJob(
            "orchestrator",
            names.bootstrap_stacks(env.stack_prefix)[0],
            own_account,
            env.region or own_region,
            ORCHESTRATOR_TEMPLATE,
            orchestrator_parameters(env, stage_roles, review_roles),
        ),
    ]
    roles_made: set[str] = set()
    for account, region in places:
        if (account, region) != home:
            jobs.append(assets_job(env, account, region))
        jobs.append(
            StackJob(
                "target-account",
                names.bootstrap_stacks(env.stack_prefix)[1],
                account,
                region,
                TARGET_TEMPLATE,
                {
                    "StackPrefix": env.stack_prefix,
                    "DeployRoleName": env.deploy_role_name,
                    "OrchestratorAccountId": own_account,
                    # only the build roles of the stages living in this account (any of its regions)
                    "DeployBuildRoleArns": ",".join(
                        deploy_build_role_arn(partition, own_account, env.stack_prefix, s)
                        for s in stages_of[account]
                    ),
                    "ReviewBuildRoleArns": ",".join(f"{own_role}-{r}" for r in REVIEW_BUILD_ROLES),
                    # IAM names are account-wide: the account's roles come with its first region
                    "MakeAccountRoles": "false" if account in roles_made else "true",
                },
            )
        )
        roles_made.add(account)
    return jobs + provisioning_jobs(env, *home)


def deploy_build_role_arn(partition: str, account: str, prefix: str, stage: str) -> str:
    """The deploy build role of one stage (cloudformation/orchestrator.yaml, Stage<i>DeployBuildRole)."""
    return f"arn:{partition}:iam::{account}:role/{prefix}-deploy-build-{stage}"


def assets_job(env: Environments, account: str, region: str) -> StackJob:
    return StackJob(
        "assets",
        names.bootstrap_stacks(env.stack_prefix)[2],
        account,
        region,
        ASSETS_TEMPLATE,
        {"StackPrefix": env.stack_prefix},
    )


def provisioning_jobs(env: Environments, account: str, region: str) -> list[StackJob]:
    """The provisioning API's companion stack (cloudformation/provisioning-api.yaml) in the
    orchestrator's account and region, when environments.json's orchestrator.provisioning_api asks
    for it: true, or an object with direct_commit and dependencies_layer_arn."""
    from mlops_gitops import lambdas

    setting = env.orchestrator.get("provisioning_api")
    if not setting:
        return []
    options = setting if isinstance(setting, dict) else {}
    if env.orchestrator.get("source") == "connection":
        raise BootstrapError(
            "orchestrator.provisioning_api commits with CodeCommit's API, and orchestrator.source is "
            "connection: drop provisioning_api, or use a CodeCommit source. Nothing was deployed"
        )
    layer = str(options.get("dependencies_layer_arn", ""))
    check_layer_account(layer, account)
    return [
        StackJob(
            "provisioning-api",
            names.bootstrap_stacks(env.stack_prefix)[3],
            account,
            region,
            PROVISIONING_TEMPLATE,
            {
                "StackPrefix": env.stack_prefix,
                "RepositoryName": env.orchestrator.get("repository_name", "mlops-gitops"),
                "BranchName": env.orchestrator.get("branch", "main"),
                "DirectCommit": "Yes" if options.get("direct_commit") is True else "No",
                "CodeBucket": assets_bucket(env.stack_prefix, account, region),
                "CodeKey": lambdas.package_provisioning().key,
                "DependenciesLayerArn": options.get("dependencies_layer_arn", ""),
            },
        )
    ]


def check_layer_account(layer_arn: str, account: str) -> None:
    """The provisioning function runs its layer's code with its own role, which commits to the
    repository, so the layer must be one this account published: Lambda loads another account's
    layer whenever that account's layer policy lets it
    (https://docs.aws.amazon.com/lambda/latest/dg/permissions-layer-cross-account.html), and a
    template's AllowedPattern is a fixed expression that can't name the stack's account."""
    parts = layer_arn.split(":")
    owner = parts[4] if len(parts) > 4 else ""
    if layer_arn and owner != account:
        raise BootstrapError(
            f"orchestrator.provisioning_api.dependencies_layer_arn {layer_arn!r} is a layer of account "
            f"{owner!r}, not of the orchestrator's account {account}: its code would run with the "
            "provisioning function's role, which commits to the repository. Publish the layer in "
            f"account {account} (docs/operators.md, 'The provisioning API') and name that version. "
            "Nothing was deployed"
        )


def assets_bucket(prefix: str, account: str, region: str) -> str:
    """The bucket of <prefix>-bootstrap-assets (its BucketName, computed: no Outputs needed)."""
    return f"{prefix}-bootstrap-{account}-{region}"


def template_source(job: StackJob, root: Path, store: ArtifactStore | None) -> dict[str, str]:
    """TemplateBody for the small assets stack; for the others the template is put in the assets
    bucket under its SHA-256 (an object already there is used only once its checksum matches) and
    named by TemplateURL, so neither is bound by TemplateBody's 51,200 bytes."""
    data = (root / job.template).read_bytes()
    if job.kind == "assets" or store is None:
        return {"TemplateBody": data.decode("utf-8")}
    from mlops_gitops.ops.deploy import template_url

    bucket = assets_bucket(job.parameters.get("StackPrefix", "mlops"), job.account, job.region)
    key = f"templates/{job.template.stem}-{hashlib.sha256(data).hexdigest()}.yaml"
    store.put_verified(bucket, key, data)
    return {"TemplateURL": template_url(bucket, key, job.region)}


def apply_job(
    cfn: CloudFormationGateway,
    root: Path,
    job: StackJob,
    on_event: Callable[[StackEvent], None],
    store: ArtifactStore | None = None,
) -> StackResult:
    """Create or update one bootstrap stack through a change set (stuck stacks recovered first)."""
    snap = cfn.snapshot(job.stack_name)
    snap = cfn.settle(job.stack_name, snap, on_event)
    snap = cfn.recover(job.stack_name, snap, on_event)
    tags = {"mlops:managed-by": MANAGED_BY, "mlops:role": job.kind}
    if job.kind == "provisioning-api" and store is not None:  # the function's code, beside the templates
        from mlops_gitops import lambdas

        code = lambdas.package_provisioning()
        store.put_verified(job.parameters["CodeBucket"], job.parameters["CodeKey"], code.data)
    if job.kind == "orchestrator":
        tags[REPOSITORY_TAG] = owner_of(job.parameters)
    applied = cfn.apply(
        job.stack_name,
        f"mlops-bootstrap-{uuid.uuid4().hex[:12]}",
        snap is None,
        template_source(job, root, store),
        job.parameters,
        tags,
        on_event,
    )
    if applied.result == "unchanged":
        return StackResult(job, "unchanged", "no changes")
    detail = f"{len(applied.changes)} resource change(s)" + (
        f"; replaced: {', '.join(applied.replaced)}" if applied.replaced else ""
    )
    return StackResult(job, applied.result, detail)


def owner_of(parameters: dict[str, str]) -> str:
    """The repository an orchestrator stack serves, from its parameters (the same derivation as
    the mlops:repository tag deploy puts on pipeline stacks)."""
    return repository_identity(
        {
            "source": "connection" if parameters.get("SourceProvider") == "CodeStarSourceConnection" else "",
            "repository_name": parameters.get("RepositoryName", ""),
            "full_repository_id": parameters.get("FullRepositoryId", ""),
        }
    )


def check_owner(job: StackJob, tags: dict[str, str], parameters: dict[str, str]) -> None:
    """Refuse a stack prefix whose orchestrator serves another repository: the two would deploy
    and prune under one prefix (BootstrapError, exit 1, before anything changes)."""
    theirs = tags.get(REPOSITORY_TAG) or (owner_of(parameters) if parameters.get("RepositoryName") else None)
    ours = owner_of(job.parameters)
    if theirs is not None and theirs != ours:
        raise BootstrapError(
            f"stack prefix {job.parameters.get('StackPrefix', '?')!r} is already owned by repository {theirs!r} "
            f"(stack {job.stack_name} in account {job.account}, {job.region}); this repository is {ours!r}: "
            "choose another stack_prefix in environments.json. Nothing was deployed"
        )


def bootstrap(
    aws: Any,
    env: Environments,
    root: Path,
    region: str,
    partition: str,
    target_role: str,
    on_event: Callable[[str, StackEvent], None],
    poll_seconds: float = 5.0,
) -> tuple[list[StackJob], list[StackResult]]:
    """Plan the stacks from ``aws``'s own account and run them, reaching other accounts through
    ``target_role`` (an AwsContext; used by `mlopsctl bootstrap` and by the local mode)."""
    from mlops_gitops.aws.cloudformation import CloudFormationGateway
    from mlops_gitops.aws.s3 import ArtifactStore

    jobs = plan_jobs(env, aws.caller_account(), region, partition)
    for template in sorted({job.template for job in jobs}):
        if not (root / template).is_file():
            raise BootstrapError(
                f"{template.as_posix()} is missing: bootstrap deploys it; restore it from mlops-gitops. "
                "Nothing was deployed"
            )

    def gateway_for(job: StackJob) -> tuple[CloudFormationGateway, ArtifactStore]:
        ctx = aws.for_account(job.account, target_role, "mlopsctl-bootstrap")
        return (
            CloudFormationGateway(ctx.client("cloudformation", job.region), poll_seconds=poll_seconds),
            # the assets bucket is the job's account's own (bootstrap-assets.yaml)
            ArtifactStore(ctx.client("s3", job.region), expected_owner=job.account),
        )

    return jobs, run_jobs(jobs, gateway_for, root, on_event)


def succeeded(results: list[StackResult]) -> bool:
    return all(r.result in ("created", "updated", "unchanged") for r in results)


def run_jobs(
    jobs: list[StackJob],
    gateway_for: Callable[[StackJob], tuple[CloudFormationGateway, ArtifactStore]],
    root: Path,
    on_event: Callable[[str, StackEvent], None],
) -> list[StackResult]:
    """Each job in order. The target accounts are skipped when the orchestrator failed (they would
    trust roles that may not exist), a stack when its account's assets stack failed (there is no
    bucket to send it through), and one target's failure does not stop the others."""
    from mlops_gitops.aws.cloudformation import StackError
    from mlops_gitops.aws.errors import AWS_ERRORS

    for job in jobs:  # before anything changes, in any account
        if job.kind == "orchestrator":
            snap = gateway_for(job)[0].snapshot(job.stack_name)
            if snap is not None:
                check_owner(job, snap.tags, snap.parameters)
    results: list[StackResult] = []
    failed_assets: set[tuple[str, str]] = set()
    for job in jobs:
        place = (job.account, job.region)
        if job.kind in ("target-account", "provisioning-api") and any(
            r.job.kind == "orchestrator" and not succeeded([r]) for r in results
        ):
            results.append(StackResult(job, "skipped", "the orchestrator stack did not deploy"))
            continue
        if job.kind != "assets" and place in failed_assets:
            results.append(
                StackResult(
                    job, "skipped", f"the bootstrap-assets stack of {job.account} {job.region} failed"
                )
            )
            continue
        try:
            cfn, store = gateway_for(job)
            results.append(apply_job(cfn, root, job, lambda e, s=job.stack_name: on_event(s, e), store))
        except (StackError, *AWS_ERRORS) as exc:
            results.append(StackResult(job, "failed", str(exc)))
        if job.kind == "assets" and results[-1].result == "failed":
            failed_assets.add(place)
    return results


def next_steps(env: Environments, results: list[StackResult], region: str) -> str:
    """What the platform engineer does next: push the configs, confirm the e-mail."""
    o = env.orchestrator
    lines = ["next steps:"]
    if o.get("source") == "connection":
        lines += [
            f"  1. Protect {o.get('branch', 'main')} on the provider: require the {env.stack_prefix}-pr-check status "
            "check and a reviewer's approval (the provider has no approval rule of ours).",
            f"  2. Push this repository to {o.get('full_repository_id')} (branch {o.get('branch', 'main')}).",
        ]
    else:
        from mlops_gitops.images import dns_suffix

        name = o.get("repository_name", "mlops-gitops")
        url = f"https://git-codecommit.{region}.{dns_suffix(region)}/v1/repos/{name}"
        lines += [
            f"  1. git remote add codecommit {url}",
            f"  2. git push codecommit HEAD:{o.get('branch', 'main')}",
            "     (needs git-remote-codecommit, or: git config credential.helper '!aws codecommit credential-helper $@')",
        ]
    if o.get("notification_email"):
        lines.append(f"  - confirm the subscription e-mail sent to {o['notification_email']}")
    lines.append(
        f"  - watch it run: the CodePipeline {env.stack_prefix}-pipeline, or mlopsctl status once deployed"
    )
    return "\n".join(lines) + "\n"


def summary(results: list[StackResult]) -> str:
    rows = [("STACK", "KIND", "ACCOUNT", "REGION", "RESULT", "DETAIL")] + [
        (r.job.stack_name, r.job.kind, r.job.account, r.job.region, r.result, r.detail) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return (
        "\n".join(
            ("  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5]).rstrip()
            for row in rows
        )
        + "\n"
    )


def result_json(results: list[StackResult], steps: str) -> dict[str, Any]:
    return {
        "stacks": [
            {
                "stack": r.job.stack_name,
                "kind": r.job.kind,
                "account": r.job.account,
                "region": r.job.region,
                "result": r.result,
                "detail": r.detail,
            }
            for r in results
        ],
        "next_steps": steps,
    }
