"""Deploy one stage: render every config, plan against what is deployed, apply through change sets.

Safe by construction: unchanged stacks (same mlops:spec-hash tag) cost no call beyond the one
listing of stacks; every change goes through a change set; a stack stuck from an earlier run is
recovered (never-created stacks deleted and recreated, UPDATE_ROLLBACK_FAILED continued, stacks in
progress waited for); one pipeline's failure does not stop the others; orphans are deleted only
with --prune, protected stages only with --allow-protected."""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from mlops_gitops import lambdas
from mlops_gitops.aws.cloudformation import (
    CloudFormationGateway,
    StackError,
    StackEvent,
    StackSnapshot,
)
from mlops_gitops.aws.errors import AWS_ERRORS, bootstrap_hint, reason, stand_in_lacks
from mlops_gitops.aws.s3 import ArtifactMismatch, ArtifactStore  # noqa: F401  (ArtifactMismatch: callers' name)
from mlops_gitops.aws.sagemaker import SageMakerGateway
from mlops_gitops.aws.stack_states import STABLE_OK
from mlops_gitops.aws.stage import StageGateways
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.params.base import with_model_revisions
from mlops_gitops.core.plan import Deployed, PlanItem, plan_stage
from mlops_gitops.core.render import StackSpec, repository_identity, spec_hash
from mlops_gitops.defaults import DEFAULT_MAX_PARALLEL
from mlops_gitops.errors import AwsError, GitOpsError
from mlops_gitops.findings import Finding
from mlops_gitops.ops import rollout, twostep
from mlops_gitops.ops.retained import retained_conflict  # noqa: F401  (callers import it from here too)
from mlops_gitops.ops.waves import Outcome, run_in_waves
from mlops_gitops.repo import CONFIG_FILE, CONFIGS_DIR, ENVIRONMENTS_FILE, Repo

log = logging.getLogger(__name__)
TEMPLATE_BODY_MAX = 51_200  # bytes; larger templates go through the artifact bucket
TEMPLATE_URL_MAX = 1_000_000  # bytes; CloudFormation refuses larger templates even from S3
ARTIFACT_BUCKET_PARAMETER = (
    "/mlops/artifact-bucket"  # published by target-account.yaml; templates read it too
)
EXEC_ROLE_PARAMETER = "/mlops/cfn-exec-role-arn"  # CloudFormation's role for pipeline stacks, if bootstrapped
PREVIEW_ROLE_PARAMETER = "/mlops/cfn-preview-role-arn"  # read-only role of change-set previews
_UNSET = object()
PACKAGE_PARAMS = (
    "ModelPackageArn",
    "Variant2ModelPackageArn",
    "Variant3ModelPackageArn",
    "ShadowModelPackageArn",
)


@dataclass
class StagePlan:
    stage: str
    items: list[PlanItem]
    findings: list[Finding] = field(default_factory=list)  # per-pipeline findings (registry gate...)
    blocked: dict[str, list[Finding]] = field(default_factory=dict)  # stack name -> its findings

    def touching(self, wanted: set[str] | None) -> StagePlan:
        """The part of this plan a change touches: the ``wanted`` pipelines (None: all of them)
        and every delete, with their findings only."""
        keep = [i for i in self.items if wanted is None or i.pipeline_id in wanted or i.action == "delete"]
        kept = {i.pipeline_id for i in keep}
        return replace(self, items=keep, findings=[f for f in self.findings if f.pipeline_id in kept])


def deployed(snapshot: StackSnapshot) -> Deployed:
    return Deployed(
        snapshot.name, snapshot.status, snapshot.tags, snapshot.parameters, snapshot.termination_protection
    )


@dataclass
class Deployer:
    """Plan and apply one stage through its gateways (aws.stage.StageGateways)."""

    repo: Repo
    env: Environments
    gateways: StageGateways
    artifact_bucket: str | None = None
    on_event: Callable[[str, StackEvent], None] = lambda stack, event: None
    on_progress: Callable[[str], None] = lambda text: None  # a line per wave, per two-step update
    max_parallel: int = DEFAULT_MAX_PARALLEL
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _uploaded: set[str] = field(default_factory=set)
    _latest: dict[str, str | None] = field(default_factory=dict)
    _role: Any = _UNSET
    _preview: Any = _UNSET
    _rollbacks: dict[str, str] = field(default_factory=dict)  # stack -> why SageMaker rolled it back
    told: list[str] = field(default_factory=list)  # what apply told the owners (ops.notify)
    # Previews upload large templates under review/<check>/, a prefix deploy never reads (the only
    # place review roles may write; target-account.yaml).
    review_prefix: str = field(default_factory=lambda: review_prefix(os.environ))

    @property
    def cfn(self) -> CloudFormationGateway:
        return self.gateways.cfn

    @property
    def sagemaker(self) -> SageMakerGateway:
        return self.gateways.sagemaker

    @property
    def region(self) -> str:
        return self.gateways.region

    # ------------------------------------------------------------------ planning

    def plan(
        self, stage: str, specs: list[StackSpec], snaps: dict[str, StackSnapshot] | None = None
    ) -> StagePlan:
        """``snaps``: the stage's listing when the caller has read it already (status), so the
        stacks are listed once per run."""
        specs, unresolved = self._resolve_deferred(specs)
        snaps = self.cfn.snapshots() if snaps is None else snaps
        st = self.env.stage(stage)
        items = plan_stage(
            stage,
            specs,
            {n: deployed(s) for n, s in snaps.items()},
            self.env.stack_prefix,
            bool(st and st.protected),
            present_ids=present_entries(self.repo),
            repository=repository_identity(self.env.orchestrator),
        )
        twostep.mark(self, items, snaps)
        result = StagePlan(stage, items)
        for item in items:
            gate = unresolved.get(item.stack_name, [])
            if (
                not gate
                and st is not None
                and (st.approval or st.protected)
                and item.spec is not None
                and item.action not in ("unchanged", "keep")
            ):
                gate = self._registry_gate(item.spec)
            if gate:  # the pipeline stays in the plan, blocked: never mistaken for an orphan
                result.blocked[item.stack_name] = gate
                item.action = "blocked"
                item.reasons.append("; ".join(f.message for f in gate))
                result.findings.extend(gate)
        return result

    def preview(self, plan: StagePlan) -> None:
        """Ask CloudFormation what each update would change (a change set created, read and
        deleted, never executed), so the plan can warn about replacements."""

        def one(item: PlanItem) -> None:
            spec = item.spec
            name = f"mlops-preview-{uuid.uuid4().hex[:12]}"
            try:
                self.cfn.create_change_set(
                    spec.stack_name,
                    name,
                    "UPDATE",
                    self._template(spec, preview=True),
                    spec.parameters,
                    spec.tags,
                    # read-only: were the preview executed by anyone, it could change nothing
                    self._preview_role(),
                )
                cs = self.cfn.wait_change_set(spec.stack_name, name)
            except (StackError, *AWS_ERRORS) as exc:
                item.reasons.append(f"no change-set preview: {exc}")
                return
            finally:
                self.cfn.delete_change_set(spec.stack_name, name)
            if cs.empty:
                item.resource_changes = []
            elif cs.status != "CREATE_COMPLETE":
                item.reasons.append(f"the change set would fail: {cs.reason}")
            else:
                item.resource_changes = [
                    (c.action, c.logical_id, c.resource_type, c.replacement) for c in cs.changes
                ]

        updates = [i for i in plan.items if i.action == "update" and i.spec is not None]
        with ThreadPoolExecutor(max_workers=max(1, self.max_parallel)) as pool:
            list(pool.map(one, updates))

    def _resolve_deferred(self, specs: list[StackSpec]) -> tuple[list[StackSpec], dict[str, list[Finding]]]:
        """Specs with dev's "latest approved" packages looked up (and hashed with them), and the
        findings of those that can't be resolved, by stack name."""
        out, unresolved = [], {}
        for spec in specs:
            params, problems = dict(spec.parameters), []
            for name, how in spec.deferred.items():
                group = how["latest_approved_model_package_of"]
                if group not in self._latest:  # one look-up per group per run
                    self._latest[group] = self.sagemaker.latest_approved(group)
                arn = self._latest[group]
                if arn is None:
                    problems.append(
                        _finding(
                            spec,
                            "model-registry",
                            f"model package group {group!r} has no Approved version to deploy to {spec.stage!r}",
                            "approve a version in the Model Registry, or pin one in the config",
                        )
                    )
                else:
                    params[name] = arn
            if spec.deferred and not problems:
                resolved = replace(
                    spec,
                    parameters=dict(
                        sorted(
                            (with_model_revisions(params) if "ModelRevision" in params else params).items()
                        )
                    ),
                    deferred={},
                )
                digest = spec_hash(resolved)
                spec = replace(resolved, spec_hash=digest, tags={**spec.tags, "mlops:spec-hash": digest})
            if problems:
                unresolved[spec.stack_name] = problems
            out.append(spec)
        return out, unresolved

    def _registry_gate(self, spec: StackSpec) -> list[Finding]:
        """Stages with approval deploy only Approved model-package versions."""
        findings = []
        for name in PACKAGE_PARAMS:
            arn = spec.parameters.get(name)
            if not arn:
                continue
            status = self.sagemaker.approval_status(arn)
            if status != "Approved":
                findings.append(
                    _finding(
                        spec,
                        "model-registry",
                        f"{arn} is {status}, not Approved; stage {spec.stage!r} deploys only approved versions",
                        "approve it in the Model Registry (or promote another version)",
                    )
                )
        return findings

    # ------------------------------------------------------------------ applying

    def apply(self, plan: StagePlan, prune: bool = False, allow_protected: bool = False) -> list[Outcome]:
        def one(item: PlanItem) -> Outcome:
            try:
                return self._apply_one(item, prune, allow_protected)
            except (StackError, *AWS_ERRORS) as exc:
                return Outcome(item, "failed", bootstrap_hint(str(exc)))
            except Exception as exc:  # noqa: BLE001 - one pipeline's surprise must not stop the others
                log.debug("deploying %s", item.stack_name, exc_info=True)
                return Outcome(item, "failed", f"{type(exc).__name__}: {exc}")

        # in dependency waves (core.plan.assign_waves), parallel within a wave (ops.waves)
        outcomes = run_in_waves(plan.items, one, self.max_parallel, self.on_progress)
        self.told = self._tell_owners(outcomes)
        return outcomes

    def _tell_owners(self, outcomes: list[Outcome]) -> list[str]:
        """Each pipeline's owners hear of its failure, rollback or pending approval (ops.notify);
        best-effort: what can't be told is a warning line, never a failed deploy."""
        from mlops_gitops.ops.notify import Notifier

        try:
            return Notifier(self.repo, self.env, self.gateways, self._rollbacks).after_apply(outcomes)
        except Exception as exc:  # noqa: BLE001 - telling owners must never fail the deploy
            log.debug("telling owners", exc_info=True)
            return [f"WARNING: owners not told: {type(exc).__name__}: {exc}"]

    def _apply_one(self, item: PlanItem, prune: bool, allow_protected: bool) -> Outcome:
        if item.action == "unchanged":
            return Outcome(item, "unchanged")
        if item.action == "keep":
            return Outcome(item, "kept", "; ".join(item.reasons))
        if item.action == "blocked":
            return Outcome(item, "blocked", "; ".join(item.reasons))
        if item.action == "delete":
            return self._delete(item, prune, allow_protected)
        spec = item.spec
        assert spec is not None
        before = self.cfn.current(spec.stack_name)
        snap = self.cfn.settle(spec.stack_name, before, self._events(spec.stack_name))
        if (
            snap is not before
            and snap is not None
            and snap.spec_hash == spec.spec_hash
            and snap.status in STABLE_OK
        ):
            return Outcome(item, "unchanged", "an earlier run had already applied it")
        # Recovery deletes a stack that never finished its first create (ROLLBACK_COMPLETE, an
        # empty REVIEW_IN_PROGRESS shell). That is safe only because deploy holds the stage's lease
        # (ops.lease, taken by the CLI before planning): no other run can be creating this stack.
        snap = self.cfn.recover(spec.stack_name, snap, self._events(spec.stack_name))
        self._upload_artifacts(spec)
        first = "" if snap is None else twostep.deregister_first(self, item, spec, snap)
        try:
            outcome = self._change_set(item, spec, creating=snap is None)
        except StackError as exc:
            if not first:
                raise
            what = str(exc).removeprefix(f"{spec.stack_name}: ")
            raise StackError(
                spec.stack_name,
                f"two-step update, step 2: {what}; step 1 had deregistered autoscaling: it stays off "
                "until a deploy of this stack succeeds",
            ) from exc
        outcome.detail = first + outcome.detail
        return outcome

    def lease(
        self,
        stage: str,
        commit: str,
        environ: Any,
        note: Callable[[str], None] = lambda text: None,
        **batch: Any,  # ops.lease.stage_lease's joint= and release= (a fanned-out batch's builds)
    ) -> AbstractContextManager[Any]:
        """The stage's deploy lease (ops.lease) in the deploy bucket: hold it around plan and apply."""
        from mlops_gitops.ops.lease import stage_lease

        try:
            bucket = self._bucket()
        except StackError as exc:
            raise AwsError(
                f"stage {stage!r}: no deploy bucket for the deploy lease ({exc}); nothing was deployed"
            ) from exc
        return stage_lease(self.gateways.lease, bucket, stage, commit, environ, note, **batch)

    def _change_set(self, item: PlanItem, spec: StackSpec, creating: bool) -> Outcome:
        stack = spec.stack_name
        started = datetime.now(timezone.utc)
        try:
            applied = self.cfn.apply(
                stack,
                f"mlops-{spec.spec_hash}-{uuid.uuid4().hex[:8]}",
                creating,
                self._template(spec),
                spec.parameters,
                spec.tags,
                self._events(stack),
                self._exec_role(),
                # an update's traffic shift, as the endpoint reports it (ops.rollout)
                watch=None if creating else rollout.traffic_watch(self.gateways, stack, self.on_progress),
            )
        except StackError as exc:
            hint = (
                retained_conflict(exc.reason, stack)
                if creating
                else rollout.explain_rollback(self.gateways, stack, spec.parameters, started)
            )
            if hint is None:
                raise
            if not creating:
                self._rollbacks[stack] = hint  # the owners' message says "rolled back" (ops.notify)
            return Outcome(item, "failed", f"{exc}; {hint}")
        if applied.result == "unchanged":
            detail = self._sync_protection(stack, spec, None)
            return Outcome(item, "unchanged", "CloudFormation found nothing to change" + detail)
        detail = f"{len(applied.changes)} resource change(s)" + (
            f"; replaced: {', '.join(applied.replaced)}" if applied.replaced else ""
        )
        assert applied.snapshot is not None
        detail += self._sync_protection(stack, spec, applied.snapshot.termination_protection)
        return Outcome(item, applied.result, detail)

    def _sync_protection(self, stack: str, spec: StackSpec, current: bool | None) -> str:
        """Termination protection as the stage (or the config's `protect`) wants it, both ways."""
        if current is None:
            snap = self.cfn.current(stack)
            current = snap.termination_protection if snap else spec.termination_protection
        if current == spec.termination_protection:
            return ""
        wanted = "set" if spec.termination_protection else "removed"
        try:
            self.cfn.set_termination_protection(stack, spec.termination_protection)
        except AWS_ERRORS as exc:  # the stack is deployed; say in one line what is missing
            if stand_in_lacks(exc):  # moto: UpdateTerminationProtection is not implemented
                return f"; termination protection not {wanted}: not available on this endpoint (a local stand-in)"
            log.warning("%s: termination protection not changed: %s", stack, reason(exc))
            return f"; WARNING: termination protection not {wanted} ({reason(exc)})"
        return "; termination protection " + ("on" if spec.termination_protection else "off")

    def _delete(self, item: PlanItem, prune: bool, allow_protected: bool) -> Outcome:
        if not prune:
            return Outcome(item, "skipped", "orphan kept: run with --prune to delete it")
        if item.protected and not allow_protected:
            return Outcome(item, "skipped", "protected: add --allow-protected to delete it")
        snap = self.cfn.current(item.stack_name)
        if snap is None:
            return Outcome(item, "deleted", "already gone")
        if snap.termination_protection:
            self.cfn.set_termination_protection(item.stack_name, False)
        since = self.cfn.mark(item.stack_name)
        self.cfn.delete_stack(item.stack_name)
        after = self.cfn.wait_stable(item.stack_name, self._events(item.stack_name))
        if after is not None and after.status != "DELETE_COMPLETE":
            raise StackError(
                item.stack_name,
                f"delete ended {after.status}",
                self.cfn.first_failure(item.stack_name, since),
            )
        why = item.reasons[0].split(";")[0] if item.reasons else "its pipeline folder is gone"
        return Outcome(item, "deleted", f"{why}; retained resources (buckets, registries) are kept")

    def apply_change_set(
        self, spec: StackSpec, name: str, parameters: dict[str, str], tags: dict[str, str]
    ) -> Any:
        """Update ``spec``'s stack through change set ``name`` with these parameters and tags, the
        way deploy does (its template, events, execution role): ops.twostep's step 1."""
        return self.cfn.apply(
            spec.stack_name,
            name,
            False,
            self._template(spec),
            parameters,
            tags,
            self._events(spec.stack_name),
            self._exec_role(),
        )

    # ------------------------------------------------------------------ artifacts

    def _template(self, spec: StackSpec, preview: bool = False) -> dict[str, str]:
        body = (self.repo.root / spec.template).read_text(encoding="utf-8")
        data = body.encode("utf-8")
        if len(data) <= TEMPLATE_BODY_MAX:
            return {"TemplateBody": body}
        if len(data) > TEMPLATE_URL_MAX:
            raise StackError(
                spec.stack_name,
                f"the template is over {TEMPLATE_URL_MAX:,} bytes, CloudFormation's limit",
                spec.template,
            )
        if preview:  # written for this check alone, never reused
            key = f"{self.review_prefix}/{spec.template_sha256}.yaml"
            self._store().put(self._bucket(), key, data)
        else:
            key = f"templates/{spec.template_sha256}.yaml"
            self._put_once(key, data)
        return {"TemplateURL": template_url(self._bucket(), key, self.region)}

    def _upload_artifacts(self, spec: StackSpec) -> None:
        for artifact in spec.artifacts:
            name = artifact.source.removeprefix("lambda:")
            self._put_once(artifact.key, lambdas.package(name).data)

    def _put_once(self, key: str, data: bytes) -> None:
        """Content-addressed: a key is uploaded once, and an object found there is used only after
        its SHA-256 is shown to be that of ``data`` - never on existence alone.

        The proof is S3's own SHA-256 checksum (HeadObject, ChecksumMode=ENABLED), which S3 checked
        against the bytes when they were written with it; an object without one (or with the
        checksum of a multipart upload's parts, "<b64>-<n>") is read and hashed. A digest in user
        metadata is never trusted: whoever writes an object writes its metadata too.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
        """
        with self._lock:
            if key in self._uploaded:
                return
            bucket = self._bucket()
            self._store().put_verified(bucket, key, data)
            self._uploaded.add(key)

    def deploy_bucket(self) -> tuple[ArtifactStore, str]:
        """The stage's deploy bucket (SSM's, unless given) and the store that reads and writes it:
        ops.shards keeps a fanned-out deploy's shard records there."""
        bucket = self._bucket()  # first: with neither, "no artifact bucket" is the message to act on
        return self._store(), bucket

    def _store(self) -> ArtifactStore:
        if self.gateways.artifacts is None:
            raise StackError("-", "no S3 access configured for artifacts", "run deploy with AWS credentials")
        return self.gateways.artifacts

    def _bucket(self) -> str:
        if not self.artifact_bucket:
            params = self.gateways.parameters
            try:
                self.artifact_bucket = params.get(ARTIFACT_BUCKET_PARAMETER) if params else None
            except AWS_ERRORS as exc:
                raise StackError(
                    "-",
                    f"no artifact bucket (SSM {ARTIFACT_BUCKET_PARAMETER}: {reason(exc)})",
                    "pass --artifact-bucket, or bootstrap the orchestrator",
                ) from exc
            if not self.artifact_bucket:
                raise StackError(
                    "-",
                    f"no artifact bucket (SSM {ARTIFACT_BUCKET_PARAMETER}: ParameterNotFound)",
                    "pass --artifact-bucket, or bootstrap the orchestrator",
                )
        return self.artifact_bucket

    def _exec_role(self) -> str | None:
        """The role CloudFormation creates pipeline stacks with (target-account.yaml publishes it),
        so the deploying identity itself needs no rights on the resources. None when the account
        was not bootstrapped: CloudFormation then acts with the caller's own permissions."""
        with self._lock:
            if self._role is _UNSET:
                params = self.gateways.parameters
                self._role = params.get(EXEC_ROLE_PARAMETER) if params else None
            return self._role

    def _preview_role(self) -> str | None:
        """The read-only role previews are made with (target-account.yaml); None when the account
        has none yet: CloudFormation then uses the stack's own role, still without executing."""
        with self._lock:
            if self._preview is _UNSET:
                params = self.gateways.parameters
                self._preview = params.get(PREVIEW_ROLE_PARAMETER) if params else None
            return self._preview

    def _events(self, stack: str) -> Callable[[StackEvent], None]:
        return lambda event: self.on_event(stack, event)


def deletions_note(outcomes: list[Outcome]) -> str:
    """One line for deploy's summary: how many stacks were deleted, and why."""
    deleted = [o for o in outcomes if o.result == "deleted"]
    if not deleted:
        return ""
    names = ", ".join(f"{o.item.stack_name} ({o.item.pipeline_id or '?'})" for o in deleted)
    return (
        f"deploy: deleted {len(deleted)} stack(s) whose pipeline folder is gone from "
        f"{CONFIGS_DIR}/ (their retained data is kept): {names}\n"
    )


def present_entries(repo: Repo) -> set[str]:
    """Every name under pipeline-configs/ that could be a pipeline's folder: directories, links
    (dangling or looping ones too), files, anything but environments.json and the schemas. Prune
    deletes a stack only when its pipeline id is not among them, so a folder whose config is
    misnamed, unreadable or a link is never mistaken for a deleted pipeline. Not
    Repo.pipeline_ids(): that lists folders only (a stray file named like a pipeline counts here)
    and reads an unreadable pipeline-configs/ as empty, where prune must stop instead."""
    try:
        entries = os.listdir(repo.configs_dir)
    except OSError as exc:  # without the listing nothing is provably gone
        raise GitOpsError(
            f"can't list {CONFIGS_DIR}/ ({exc.strerror or exc}); nothing was deployed or pruned"
        ) from exc
    return {e for e in entries if e != ENVIRONMENTS_FILE and not e.endswith(".schema.json")}


def review_prefix(environ: Any) -> str:
    """review/<check>: the build's id in CodeBuild (one prefix per pr-check run), else a random one."""
    build = re.sub(r"[^A-Za-z0-9-]+", "-", environ.get("CODEBUILD_BUILD_ID", "")).strip("-")
    return f"review/{build or uuid.uuid4().hex}"


def _finding(spec: StackSpec, code: str, message: str, hint: str) -> Finding:
    return Finding(
        f"{CONFIGS_DIR}/{spec.pipeline_id}/{CONFIG_FILE}",
        "$",
        code,
        message,
        hint,
        pipeline_id=spec.pipeline_id,
    )


def template_url(bucket: str, key: str, region: str) -> str:
    """The regional virtual-hosted S3 URL CloudFormation reads a large template from."""
    from mlops_gitops.images import dns_suffix

    return f"https://{bucket}.s3.{region}.{dns_suffix(region)}/{key}"
