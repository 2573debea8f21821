"""The AWS smoke run: bootstrap into a throw-away prefix, deploy the cheapest pipeline of each
template to one stage, check each is healthy, update one, delete everything, and say what was
created that costs money.

It drives mlopsctl exactly as a user (or the deploy build) does, through its command line, so a
run proves the commands, the templates and the permissions together. The same code runs against
moto in CI (``real=False``): there only the jobs a real account would run are left out, and every
check moto can't answer is reported as skipped, never as passed.

Safety: the prefix is always ``smk`` and five random hex digits; the run refuses a prefix that
already has stacks, and its clean-up deletes only what carries its prefix."""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from mlops_gitops.cfn_eval import EvalError, Evaluator, parameter_values
from mlops_gitops.cli import main
from mlops_gitops.core.templates import Template
from tests.smoke import checks, fixtures, plan

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = re.compile(r"^smk[0-9a-f]{5}$")
# Resource types that bill while they exist or when they run, and what they bill for
# (https://aws.amazon.com/pricing/ per service); everything else the stacks make is free at rest.
COST_BEARING = {
    "AWS::SageMaker::Endpoint": "instance-hours while it exists",
    "AWS::SageMaker::MonitoringSchedule": "a processing job per scheduled run",
    "AWS::StepFunctions::StateMachine": "the jobs its executions start (transform, training, baseline)",
    "AWS::SageMaker::Pipeline": "the jobs of an execution (none started by the smoke)",
    "AWS::SageMaker::FeatureGroup": "offline store in S3; online store by the hour (off in the smoke)",
    "AWS::CodeBuild::Project": "build minutes",
    "AWS::ECR::Repository": "image storage",
    "AWS::S3::Bucket": "storage and requests",
    "AWS::KMS::Key": "USD 1 a month, pro rata, while it exists",
    "AWS::Kinesis::Stream": "shard-hours while it exists",
    "AWS::DynamoDB::Table": "requests and storage",
    "AWS::Lambda::Function": "invocations",
    "AWS::Glue::Crawler": "DPU-hours per crawl",
    "AWS::CloudWatch::Alarm": "alarm-months, pro rata",
    "AWS::Logs::LogGroup": "ingested and stored logs",
    "AWS::CodePipeline::Pipeline": "action minutes (V2)",
    "AWS::CloudTrail::Trail": "events beyond the first copy",
    "AWS::DMS::ReplicationInstance": "instance-hours (not in the smoke)",
}


class SmokeFailure(Exception):
    pass


def new_prefix() -> str:
    return "smk" + secrets.token_hex(3)[:5]


@dataclass
class Smoke:
    """One run. ``clients(service)`` gives boto3 clients for the account; ``environ`` is what
    mlopsctl runs with (credentials, region and, for moto, AWS_ENDPOINT_URL)."""

    clients: Callable[[str], Any]
    environ: Mapping[str, str]
    region: str
    work: Path
    out: TextIO
    real: bool
    prefix: str = field(default_factory=new_prefix)
    minutes: int = 60
    source: dict[str, str] | None = None  # environments.json orchestrator source settings
    modelled: set[str] = field(default_factory=set)  # dry run: types moto's CloudFormation creates
    results: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # step -> (what, verdict)
    created: list[tuple[str, str, str, str]] = field(default_factory=list)  # stack, id, type, physical

    def __post_init__(self) -> None:
        if not PREFIX.fullmatch(self.prefix):
            raise SmokeFailure(f"the smoke prefix must be smk and five hex digits, not {self.prefix!r}")
        self.started = time.monotonic()
        checks.deadline = self.started + self.minutes * 60
        self.account = self.clients("sts").get_caller_identity()["Account"]
        self.data = f"{self.prefix}-smoke-{self.account}-{self.region}"
        self.repo = self.work / "repo"
        self.pipelines = plan.pipelines(self.prefix, self.data)

    # -- the steps ---------------------------------------------------------------------------
    def run(self) -> None:
        """Every step; the clean-up runs whatever happened before it."""
        failure: BaseException | None = None
        try:
            self.step("prepare", self.prepare)
            self.step("bootstrap", lambda: self.cli("bootstrap"))
            self.step("validate", lambda: self.cli("validate"))
            self.step("deploy", lambda: self.cli("deploy", "--stage", plan.STAGE))
            self.step("inventory", self.inventory)
            self.step("health", self.health)
            self.step("update", self.update)
        except BaseException as exc:  # Ctrl-C too: the clean-up runs, then the failure is raised
            failure = exc
        try:
            self.step("clean-up", self.clean_up)
        except Exception as exc:
            if failure is not None:  # say both: the first cause, and what is left to delete by hand
                raise SmokeFailure(f"{failure}; then the clean-up failed too: {exc}") from exc
            raise
        if failure is not None:
            raise failure
        self.say(f"smoke {self.prefix}: passed in {self.elapsed()}")

    def prepare(self) -> None:
        taken = [s for s in self._stacks() if s["StackName"].startswith(self.prefix + "-")]
        if taken:
            raise SmokeFailure(f"stacks with the prefix {self.prefix} exist already: choose another prefix")
        configs = self.repo / "pipeline-configs"
        configs.mkdir(parents=True)
        for name in ("mlops-config.schema.json", "environments.schema.json"):
            shutil.copy(REPO_ROOT / "pipeline-configs" / name, configs / name)
        shutil.copytree(REPO_ROOT / "cloudformation", self.repo / "cloudformation")
        environments = plan.environments(self.prefix, self.region, self.data, self.source)
        (configs / "environments.json").write_text(json.dumps(environments, indent=2))
        for pipeline in self.pipelines:
            self._write(pipeline.pipeline_id, pipeline.config)
        self._commit("smoke pipelines")
        s3 = self.clients("s3")
        bucket = {"Bucket": self.data}
        if self.region != "us-east-1":
            bucket["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**bucket)
        for key, body in fixtures.files().items():
            s3.put_object(Bucket=self.data, Key=key, Body=body)
        self.say(f"smoke prefix {self.prefix}: everything this run creates is named {self.prefix}-*")
        self.say(f"repository {self.repo}, data bucket {self.data} ({len(fixtures.files())} files)")

    def inventory(self) -> None:
        """Every cost-bearing resource of every stack of the prefix, as CloudFormation lists it."""
        cfn = self.clients("cloudformation")
        for stack in sorted(s["StackName"] for s in self._stacks() if s["StackName"].startswith(self.prefix)):
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
                for r in page["StackResourceSummaries"]:
                    if r["ResourceType"] in COST_BEARING:
                        self.created.append(
                            (
                                stack,
                                r["LogicalResourceId"],
                                r["ResourceType"],
                                r.get("PhysicalResourceId", ""),
                            )
                        )
        self.say(f"cost-bearing resources created ({len(self.created)}):")
        for stack, logical, kind, physical in self.created:
            self.say(f"  {stack:<40} {kind:<36} {physical or logical}  ({COST_BEARING[kind]})")
        for pipeline in self.pipelines:
            if pipeline.instances:
                self.say(f"  {pipeline.pipeline_id}: {', '.join(pipeline.instances)}")

    def health(self) -> None:
        problems = []
        for check in checks.CHECKS:
            verdict = self._verdict(check)
            self.results.setdefault("health", []).append((f"{check.pipeline_id}: {check.what}", verdict))
            self.say(f"  {check.pipeline_id:<26} {check.what:<30} {verdict}")
            if verdict.startswith("FAILED"):
                problems.append(f"{check.pipeline_id}: {check.what}: {verdict}")
        if problems:
            raise SmokeFailure("; ".join(problems))

    def update(self) -> None:
        realtime = next(p for p in self.pipelines if p.template == "realtime_inference")
        self._write(realtime.pipeline_id, plan.update(realtime.config))
        self._commit("smoke: sample half the requests")
        out = self.cli("deploy", "--stage", plan.STAGE)
        if "updated" not in out:
            raise SmokeFailure(f"the deploy after the change did not update {realtime.pipeline_id}")
        endpoint = next(c for c in checks.CHECKS if c.read is checks.endpoint_in_service)
        verdict = self._verdict(endpoint)
        self.say(f"  after the update: {endpoint.what}: {verdict}")
        if verdict.startswith("FAILED"):
            raise SmokeFailure(f"after the update: {verdict}")

    def clean_up(self) -> None:
        """Prune the pipelines, delete the bootstrap stacks, then what they retain: nothing of
        the prefix may be left. Runs after a failure too."""
        if (self.repo / "pipeline-configs").is_dir():
            for pipeline in self.pipelines:
                shutil.rmtree(self.repo / "pipeline-configs" / pipeline.pipeline_id, ignore_errors=True)
            self._commit("smoke: remove the pipelines")
            self.cli("deploy", "--stage", plan.STAGE, "--prune", check=False)
        cfn = self.clients("cloudformation")
        keys = [r[3] for r in self._resources() if r[2] == "AWS::KMS::Key" and r[3]]
        moto_ordering = False
        for stack in sorted(s["StackName"] for s in self._stacks() if s["StackName"].startswith(self.prefix)):
            if cfn.describe_stacks(StackName=stack)["Stacks"][0].get("EnableTerminationProtection"):
                cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=False)
            try:
                cfn.delete_stack(StackName=stack)
            except ClientError as exc:
                # moto deletes a stack's resources in its own order (a role before the managed policy
                # attached to it, then trips on the role already gone); CloudFormation deletes
                # dependants first. In the dry run only, finish moto's job by hand below.
                if self.real or exc.response["Error"]["Code"] not in ("DeleteConflict", "NoSuchEntity"):
                    raise
                self.say(f"  moto stopped deleting {stack} on IAM ordering ({exc.response['Error']['Code']})")
                moto_ordering = True
                continue
            cfn.get_waiter("stack_delete_complete").wait(
                StackName=stack, WaiterConfig={"Delay": 15 if self.real else 1, "MaxAttempts": 120}
            )
            self.say(f"  deleted stack {stack}")
        if moto_ordering:
            self._drop_iam()
            self.say("  removed the prefix's IAM roles and policies that moto left")
        for what, deleted in self._sweep():
            self.say(f"  deleted {what} {deleted}")
        for key in keys:  # the orchestrator and target stacks keep theirs; only a scheduled deletion ends one
            try:
                self.clients("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
            except ClientError as exc:  # gone, or already pending (a stack's own key, deleted with it)
                if exc.response["Error"]["Code"] in ("NotFoundException", "KMSInvalidStateException"):
                    continue
                raise
            self.say(f"  scheduled the deletion of retained KMS key {key} (7 days)")
        left = self.leftovers()
        if left:
            raise SmokeFailure("left behind: " + ", ".join(left))
        self.say(f"nothing of {self.prefix} is left")

    def leftovers(self) -> list[str]:
        """What still carries the prefix: stacks, buckets, repositories, model groups, endpoints."""
        found = [f"stack {s['StackName']}" for s in self._stacks() if s["StackName"].startswith(self.prefix)]
        found += [f"bucket {b}" for b in self._buckets()]
        found += [f"ECR repository {r}" for r in self._repositories()]
        found += [f"model package group {g}" for g in self._groups()]
        found += [f"CodeCommit repository {r}" for r in self._code_repositories()]
        found += [f"IAM role {r}" for r in self._roles()] + [
            f"IAM policy {p['PolicyName']}" for p in self._policies()
        ]
        sm = self.clients("sagemaker")
        found += [
            f"endpoint {e['EndpointName']}" for e in sm.list_endpoints(NameContains=self.prefix)["Endpoints"]
        ]
        return found

    # -- helpers -----------------------------------------------------------------------------
    def cli(self, *argv: str, check: bool = True) -> str:
        remaining = max(1, self.minutes - int((time.monotonic() - self.started) // 60))
        timed = ("--timeout", str(remaining)) if argv[0] in ("bootstrap", "deploy") else ()
        buffer = io.StringIO()
        code = main(
            ["--repo-root", str(self.repo), *argv, *timed], environ=self.environ, stdout=buffer, stderr=buffer
        )
        text = buffer.getvalue()
        self.say("  " + "\n  ".join(text.rstrip().splitlines()))
        if check and code != 0:
            raise SmokeFailure(f"mlopsctl {' '.join(argv)} exited {code}")
        return text

    def step(self, name: str, action: Callable[[], Any]) -> None:
        self.say(f"== {name} ({self.elapsed()})")
        action()
        self.results.setdefault("steps", []).append((name, "ok"))

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}m{seconds % 60:02d}s"

    def _verdict(self, check: checks.Check) -> str:
        if not self.real and check.job:
            return "not run: moto runs no jobs"
        if not self.real and check.resource_type not in self.modelled:
            return f"skipped: moto's CloudFormation does not create {check.resource_type}"
        outputs = self._outputs(f"{self.prefix}-{check.pipeline_id}-{plan.STAGE}")
        try:
            problem = check.read(self.clients, outputs)
        except Exception as exc:  # any API error is the check's failure, said with its reason
            problem = f"{type(exc).__name__}: {exc}"
        return "ok" if problem is None else f"FAILED: {problem}"

    def _outputs(self, stack: str) -> dict[str, str]:
        described = self.clients("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        if "Outputs" not in described and not self.real:
            return self._stand_in_outputs(described)
        return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}

    def _stand_in_outputs(self, described: dict[str, Any]) -> dict[str, str]:
        """moto leaves Outputs off stacks made through change sets (reference/moto-and-cfn-lint.md,
        "Outputs after a change set"): evaluate the stack's own Outputs from its template, its
        parameters and the physical ids moto gave its resources. Outputs that need what moto did
        not create are left out, so a check on them fails rather than passes."""
        cfn, stack = self.clients("cloudformation"), described["StackName"]
        body = Template(Path(stack), stack, cfn.get_template(StackName=stack)["TemplateBody"]).body
        physical = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
            physical.update(
                {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in page["StackResourceSummaries"]}
            )

        def resource(name: str, attribute: str | None) -> str:
            if not physical.get(name):
                raise EvalError(f"moto did not create {name}")
            value = physical[name]  # SageMaker's physical ids are ARNs; their *Name attributes are the tail
            return value.rsplit("/", 1)[-1] if attribute and attribute.endswith("Name") else value

        given = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
        evaluate = Evaluator(
            body,
            parameter_values(body, given),
            pseudo={"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::StackName": stack},
            resources=resource,
        )
        outputs = {}
        for key, output in (body.get("Outputs") or {}).items():
            try:
                if "Condition" not in output or evaluate.condition(output["Condition"]):
                    outputs[key] = str(evaluate(output["Value"]))
            except EvalError:
                continue
        return outputs

    def _write(self, pipeline_id: str, config: dict[str, Any]) -> None:
        path = self.repo / "pipeline-configs" / pipeline_id / "mlops-config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"$schema": "../mlops-config.schema.json", **config}, indent=2))

    def _commit(self, message: str) -> None:
        def git(*argv: str) -> None:
            subprocess.run(["git", "-C", str(self.repo), *argv], check=True, capture_output=True)

        if not (self.repo / ".git").exists():
            git("init", "-q", "-b", "main")
            git("config", "user.email", "smoke@example.com")
            git("config", "user.name", "mlops-gitops smoke")
        git("add", "-A")
        git("commit", "-qm", message, "--allow-empty")

    def _stacks(self) -> list[dict[str, Any]]:
        live = []
        for page in self.clients("cloudformation").get_paginator("list_stacks").paginate():
            live += [s for s in page["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
        return live

    def _buckets(self) -> list[str]:
        return [
            b["Name"]
            for b in self.clients("s3").list_buckets()["Buckets"]
            if b["Name"].startswith(self.prefix + "-")
        ]

    def _repositories(self) -> list[str]:
        names = []
        for page in self.clients("ecr").get_paginator("describe_repositories").paginate():
            names += [
                r["repositoryName"]
                for r in page["repositories"]
                if r["repositoryName"].startswith(self.prefix)
            ]
        return names

    def _groups(self) -> list[str]:
        groups = self.clients("sagemaker").list_model_package_groups(NameContains=self.prefix)
        return [g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]]

    def _resources(self) -> list[tuple[str, str, str, str]]:
        """(stack, logical id, type, physical id) of every resource of the prefix's stacks."""
        cfn, found = self.clients("cloudformation"), []
        for stack in sorted(s["StackName"] for s in self._stacks() if s["StackName"].startswith(self.prefix)):
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
                for r in page["StackResourceSummaries"]:
                    found.append(
                        (stack, r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId", ""))
                    )
        return found

    def _roles(self) -> list[str]:
        names = []
        for page in self.clients("iam").get_paginator("list_roles").paginate():
            names += [r["RoleName"] for r in page["Roles"] if r["RoleName"].startswith(self.prefix + "-")]
        return names

    def _policies(self) -> list[dict[str, Any]]:
        found = []
        for page in self.clients("iam").get_paginator("list_policies").paginate(Scope="Local"):
            found += [p for p in page["Policies"] if p["PolicyName"].startswith(self.prefix + "-")]
        return found

    def _drop_iam(self) -> None:
        """Dry run only (see clean_up): the prefix's roles and managed policies, detached first."""
        iam = self.clients("iam")
        for role in self._roles():
            for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
            for inline in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                iam.delete_role_policy(RoleName=role, PolicyName=inline)
            for profile in iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"], RoleName=role
                )
            iam.delete_role(RoleName=role)
        for policy in self._policies():
            for version in iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=policy["Arn"])

    def _code_repositories(self) -> list[str]:
        """The CodeCommit repository bootstrap makes (environments.json names it), if it exists."""
        name = plan.environments(self.prefix, self.region, self.data)["orchestrator"]["repository_name"]
        try:
            self.clients("codecommit").get_repository(repositoryName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "RepositoryDoesNotExistException":
                return []
            raise
        return [name]

    def _sweep(self) -> list[tuple[str, str]]:
        """Delete what the stacks retain on purpose (buckets, repositories, model groups)."""
        done = []
        s3 = self.clients("s3")
        for bucket in self._buckets():
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
                doomed += [
                    {"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])
                ]
                if doomed:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
            s3.delete_bucket(Bucket=bucket)
            done.append(("bucket", bucket))
        for repository in self._repositories():
            self.clients("ecr").delete_repository(repositoryName=repository, force=True)
            done.append(("ECR repository", repository))
        for repository in self._code_repositories():
            self.clients("codecommit").delete_repository(repositoryName=repository)
            done.append(("CodeCommit repository", repository))
        sm = self.clients("sagemaker")
        for group in self._groups():
            for package in sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]:
                sm.delete_model_package(ModelPackageName=package["ModelPackageArn"])
            sm.delete_model_package_group(ModelPackageGroupName=group)
            done.append(("model package group", group))
        return done
