"""Render: a validated config + environments + its template -> the stack spec deploy would apply.

Pure: no AWS calls. Values are checked against the template's own constraints (AllowedValues,
AllowedPattern with a full match, lengths, number bounds) so CloudFormation never sees a value it
would refuse. Values only AWS can supply (a dev stage following the latest approved model package)
are listed under ``deferred`` and resolved by deploy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mlops_gitops import lambdas, names
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.references import stage_references
from mlops_gitops.config.rules.base import image_builder_stage
from mlops_gitops.config.validate import PipelineConfig, Validator, validate
from mlops_gitops.core import templates
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext, notify_parameters, with_model_revisions
from mlops_gitops.core.params.lake import PARAMETER_VALUE_MAX
from mlops_gitops.core.physical_names import (
    EvalError,
    PhysicalName,
    name_findings,
    physical_names,
)
from mlops_gitops.errors import GitOpsError, RepoError
from mlops_gitops.findings import Finding, json_path
from mlops_gitops.repo import Repo

log = logging.getLogger(__name__)

MANAGED_BY = "mlops-gitops"
REPOSITORY_TAG = "mlops:repository"  # which repository owns a stack: prune touches only its own
DEFAULT_REPOSITORY = "mlops-gitops"  # the orchestrator's default CodeCommit repository name


def repository_identity(orchestrator: Mapping[str, Any]) -> str:
    """The identity of the repository that owns our stacks, from environments.json's
    ``orchestrator`` settings (or the orchestrator stack's parameters, spelled the same way by
    ``ops.bootstrap``): a connection's full repository id (owner/name), else the CodeCommit
    repository name (default mlops-gitops). The one place it is derived."""
    if orchestrator.get("source") == "connection" and orchestrator.get("full_repository_id"):
        return str(orchestrator["full_repository_id"])
    return str(orchestrator.get("repository_name") or DEFAULT_REPOSITORY)


class RenderError(GitOpsError):
    """A config that validates but can't become a stack (pending template, a refused value...)."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.text() for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class Artifact:
    key: str  # S3 key in the artifact bucket
    sha256: str
    source: str  # e.g. "lambda:inference_api"


@dataclass(frozen=True)
class StackSpec:
    pipeline_id: str
    pipeline_type: str
    stage: str
    stack_name: str
    template: str  # repository-relative path
    template_sha256: str
    region: str
    account_id: str | None
    parameters: dict[str, str]
    deferred: dict[str, dict[str, str]]
    tags: dict[str, str]
    artifacts: list[Artifact]
    termination_protection: bool
    spec_hash: str = field(default="")
    # how values were read, e.g. an S3 shorthand and the s3:// URI it became; not part of the
    # hash (it changes nothing deployed) and left out of the dict when there are none
    notes: list[str] = field(default_factory=list)
    # (pipeline id, kind of reference) of each pipeline of this stage whose stack this one refers
    # to (config.references). They order the deploy in waves (core.plan); they change nothing
    # deployed, so they are not part of the hash and are left out of the dict when empty.
    depends_on: tuple[tuple[str, str], ...] = ()
    # every stage of this pipeline, in environments.json's order (PipelineConfig.stages), as render
    # read it: deploy tells the owners when the next one waits for approval (ops.notify) without
    # reading the config again. Nothing deployed: neither hashed nor in the dict.
    pipeline_stages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["pipeline_stages"]
        for key in ("notes", "depends_on"):
            if not doc[key]:
                del doc[key]
        return doc


def render(
    root: Path,
    cfg: PipelineConfig,
    stage: str,
    env: Environments,
    *,
    commit: str = "unknown",
    region: str | None = None,
) -> StackSpec:
    """The stack spec of ``cfg`` in ``stage``; RenderError with findings when it can't be built."""
    template, ctx, params, deferred = stack_inputs(root, cfg, stage, env, region=region)
    region = ctx.region
    if not ctx.findings:
        ctx.findings += name_findings(cfg, {stage: (params, _names(template, params, ctx))})
    if ctx.findings:
        raise RenderError(ctx.findings)
    st = env.stage(stage)
    protect = cfg.data.get("protect")
    protect_value = protect.get(stage) if isinstance(protect, dict) else protect
    termination_protection = bool(protect_value) if protect_value is not None else bool(st and st.protected)
    tags = {**cfg.data.get("tags", {})}
    if cfg.data.get("owner"):
        tags["owner"] = cfg.data["owner"]
    tags.update(
        {
            "mlops:pipeline-id": cfg.pipeline_id,
            "mlops:pipeline-type": cfg.pipeline_type,
            "mlops:stage": stage,
            "mlops:managed-by": MANAGED_BY,
            REPOSITORY_TAG: repository_identity(env.orchestrator),
        }
    )
    artifacts = [
        Artifact(z.key, z.sha256, f"lambda:{z.name}")
        for z in (lambdas.package(f) for f in lambdas.FUNCTIONS)
        if z.key in params.values()
    ]
    spec = StackSpec(
        pipeline_id=cfg.pipeline_id,
        pipeline_type=cfg.pipeline_type,
        stage=stage,
        stack_name=names.stack_name(env.stack_prefix, cfg.pipeline_id, stage),
        template=template.relpath,
        template_sha256=template.sha256,
        region=region,
        account_id=st.account_id if st else None,
        parameters=dict(sorted(params.items())),
        deferred=deferred,
        tags=tags,
        artifacts=artifacts,
        termination_protection=termination_protection,
        notes=list(dict.fromkeys(ctx.notes)),
        pipeline_stages=tuple(cfg.stages),
    )
    digest = spec_hash(spec)
    spec.tags.update({"mlops:spec-hash": digest, "mlops:commit": commit})
    return StackSpec(**{**spec.__dict__, "tags": dict(sorted(spec.tags.items())), "spec_hash": digest})


def stack_inputs(
    root: Path, cfg: PipelineConfig, stage: str, env: Environments, *, region: str | None = None
) -> tuple[templates.Template, ParamContext, dict[str, str], dict]:
    """(template, context, parameters, deferred) of ``cfg`` in ``stage``, the parameters checked
    against the template's constraints (problems in ``context.findings``); RenderError when there
    is no template or region to render with."""
    display = f"pipeline-configs/{cfg.pipeline_id}/mlops-config.json"
    if stage not in cfg.stages:
        raise RenderError([Finding(display, "$.stages", "stage", *_no_stack_in(cfg, stage, env))])
    name = templates.template_name(root, cfg.pipeline_type)
    if name is None:
        reason = templates.pending_reason(root, cfg.pipeline_type) or "no template"
        raise RenderError(
            [
                Finding(
                    display,
                    "$.pipeline_type",
                    "template-pending",
                    f"pipeline_type {cfg.pipeline_type!r} has no template yet ({reason})",
                    "it validates, but can't be rendered or deployed yet",
                )
            ]
        )
    region = region or env.region_of(stage)
    if not region:
        raise RenderError(
            [
                Finding(
                    "pipeline-configs/environments.json",
                    "$.region",
                    "region",
                    f"no region for stage {stage!r}",
                    "set region in environments.json (for all stages or this one), or pass --region",
                )
            ]
        )
    try:
        template = templates.load_template(root, name)
    except RepoError as exc:
        raise RenderError(
            [
                Finding(
                    f"{templates.PIPELINES_DIR.as_posix()}/{templates.MAPPING_FILE}",
                    "$.templates",
                    "template",
                    str(exc),
                    "templates are .yaml files of cloudformation/pipelines/ itself, never links out of it",
                    pipeline_id=cfg.pipeline_id,
                )
            ]
        ) from exc
    ctx = ParamContext(cfg, stage, env, region)
    params, deferred = builder_for(name)(ctx)
    params = {**params, **notify_parameters(ctx)}  # every pipeline template has the notify topic
    if "ModelRevision" in template.parameters:  # templates that name SageMaker models by revision
        params = with_model_revisions(params)
    check_parameters(ctx, template, params, deferred)
    return template, ctx, params, deferred


def _names(template: templates.Template, params: dict[str, str], ctx: ParamContext) -> list[PhysicalName]:
    st = ctx.env.stage(ctx.stage)
    try:
        return physical_names(
            template.body,
            params,
            region=ctx.region,
            account_id=st.account_id if st else None,
            stack_name=names.stack_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage),
            template_text=template.text,
        )
    except EvalError as exc:  # a template the offline evaluator can't read: CloudFormation judges
        log.warning("%s: physical names not checked: %s", template.relpath, exc)
        return []


def configs_name_findings(
    repo: Any, configs: list[PipelineConfig], validator: Validator | None = None
) -> list[Finding]:
    """physical_name_findings of each valid config, as `mlopsctl validate` and the provisioning API
    run it after the config checks (``configs``: what config.validate.validate accepted;
    ``validator``: the one that did, so its schemas and environments.json are not read again)."""
    if not configs:
        return []
    validator = validator or Validator(repo)
    env = validator.environments()
    return [
        f
        for cfg in configs
        for f in physical_name_findings(repo.root, cfg, env, validator.schema.types[cfg.pipeline_type].fields)
    ]


def physical_name_findings(
    root: Path, cfg: PipelineConfig, env: Environments, fields: Collection[str] = ()
) -> list[Finding]:
    """Validate's check that every physical name the stacks of ``cfg`` would create fits AWS's
    limits, computed from the templates themselves (core/physical_names), and that the values
    render passes meet the template's own constraints (a name prefix the template caps). Stages
    without a template to read are left to render, which reports why."""
    by_stage = {}
    refused: dict[tuple[str, str, str], Finding] = {}  # render's refusals, from the longest-named stage
    for stage in sorted(cfg.stages, key=lambda s: len(s), reverse=True):
        try:
            template, ctx, params, _ = stack_inputs(root, cfg, stage, env)
        except (RenderError, RepoError):  # no template to read: render says why
            continue
        for finding in ctx.findings:
            what = re.sub(r"^stage '[^']*': ", "", finding.message).split("=")[0]
            refused.setdefault((finding.path, finding.code, what), finding.of_pipeline(cfg.pipeline_id))
        by_stage[stage] = (params, _names(template, params, ctx))
    return _worst_per_path([*refused.values(), *name_findings(cfg, by_stage, fields)])


def _worst_per_path(findings: list[Finding]) -> list[Finding]:
    """One name-length finding per path: the one leaving the least room (its hint's "at most N")."""

    def room(finding: Finding) -> int:
        found = re.search(r"at most (\d+) characters", finding.hint)
        return int(found.group(1)) if found else 0

    out: dict[tuple, Finding] = {}
    for finding in findings:
        key = (finding.path, finding.code) if finding.code == "name-length" else (id(finding),)
        if key not in out or room(finding) < room(out[key]):
            out[key] = finding
    return list(out.values())


def spec_hash(spec: StackSpec) -> str:
    """Hash of everything that decides what gets deployed (not the commit: a commit that changes
    nothing for this stack must leave it alone)."""
    doc = spec.to_dict()
    doc["tags"] = {k: v for k, v in doc["tags"].items() if k not in ("mlops:commit", "mlops:spec-hash")}
    doc.pop("spec_hash", None)
    doc.pop("notes", None)
    doc.pop("depends_on", None)
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def check_parameters(
    ctx: ParamContext, template: templates.Template, params: dict[str, str], deferred: dict
) -> None:
    """Every value against the template's declared constraints, before AWS sees it."""
    declared = template.parameters
    display = f"pipeline-configs/{ctx.cfg.pipeline_id}/mlops-config.json"
    for name in params:
        if name not in declared:
            raise GitOpsError(f"internal error: {template.relpath} declares no parameter {name!r}")
    for name, spec in declared.items():
        if spec.get("Type", "").startswith("AWS::SSM::Parameter"):
            continue
        if name not in params:
            if "Default" not in spec:
                ctx.findings.append(
                    Finding(
                        display,
                        "$",
                        "parameter",
                        f"the template needs {name!r} but the config gives no value for it",
                        f"{spec.get('Description', '')}",
                    )
                )
            continue
        if name in deferred:
            continue
        size = len(params[name].encode("utf-8"))
        if size > PARAMETER_VALUE_MAX:
            finding = _too_big_finding(ctx, name, params[name], size)
            # a builder that reported it already (params/lake.py's joined names), at the list
            if not any(f.code == "too-long" and finding.path.startswith(f.path) for f in ctx.findings):
                ctx.findings.append(finding)
            continue
        problem = parameter_problem(spec, params[name])
        room = _id_room(ctx, spec, params[name]) if problem else 0
        if room:
            ctx.findings.append(_name_prefix_finding(ctx, name, params[name], room))
        elif problem:
            ctx.findings.append(
                Finding(
                    display,
                    "$",
                    "parameter",
                    f"stage {ctx.stage!r}: template parameter {name}={params[name]!r} {problem}",
                    spec.get("ConstraintDescription") or spec.get("Description", ""),
                )
            )


def _too_big_finding(ctx: ParamContext, name: str, value: str, size: int) -> Finding:
    """CloudFormation refuses a parameter value over 4,096 bytes (not characters: a schema's
    maxLength counts characters, and a non-ASCII character is 2-4 bytes in UTF-8)
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
    Reported at the config value that fed the parameter: its longest string found in it."""
    path = _source_path(ctx.cfg, ctx.stage, value)
    where = json_path(path) if path else "$"
    return Finding(
        f"pipeline-configs/{ctx.cfg.pipeline_id}/mlops-config.json",
        where,
        "too-long",
        f"stage {ctx.stage!r}: template parameter {name} would be {size} bytes (UTF-8), over CloudFormation's "
        f"{PARAMETER_VALUE_MAX} bytes per parameter value",
        f"shorten {where if path else 'the values that feed ' + name} to at most {PARAMETER_VALUE_MAX} bytes "
        "(a non-ASCII character takes 2 to 4 bytes)",
    )


def _source_path(cfg: PipelineConfig, stage: str, value: str) -> list:
    """The JSON path of the config's longest string (in ``stage``'s view) that ``value`` holds."""
    view = cfg.by_stage.get(stage, cfg.data)
    best: tuple[int, list] = (0, [])

    def walk(node: Any, path: list) -> None:
        nonlocal best
        if isinstance(node, str):
            if node and node in value and len(node.encode("utf-8")) > best[0]:
                best = (len(node.encode("utf-8")), path)
            return
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, item in items:
            walk(item, [*path, key])

    for key, raw in cfg.data.items():
        before = best
        walk(view.get(key), [key])
        if best is not before and isinstance(raw, dict) and stage in raw and raw[stage] is view.get(key):
            best = (best[0], [key, stage, *best[1][1:]])
    return best[1]


def _id_room(ctx: ParamContext, spec: dict[str, Any], value: str) -> int:
    """For a value built from the stack's base name (NamePrefix, a default feature group name...):
    the longest pipeline id with which the template takes it; 0 when shortening the id won't do."""
    base = names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage)
    if base not in value:
        return 0
    for size in range(len(ctx.cfg.pipeline_id) - 1, 0, -1):
        shorter = names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id[:size], ctx.stage)
        if parameter_problem(spec, value.replace(base, shorter)) is None:
            return size
    return 0


def _name_prefix_finding(ctx: ParamContext, name: str, value: str, room: int) -> Finding:
    return Finding(
        f"pipeline-configs/{ctx.cfg.pipeline_id}/mlops-config.json",
        "$",
        "name-length",
        f"stage {ctx.stage!r}: template parameter {name}={value!r}, built from <stack_prefix>-<pipeline id>-<stage>, "
        "is longer than the template takes (so that the names built from it fit AWS's limits)",
        f"shorten the pipeline id (the folder name) to at most {room} characters, or environments.json's stack_prefix",
    )


def parameter_problem(spec: dict[str, Any], value: str) -> str | None:
    """Why CloudFormation would refuse ``value`` for a parameter declared as ``spec``, or None."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        return f"is not one of {[str(a) for a in allowed]}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "is not a number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"is below MinValue {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"is above MaxValue {spec['MaxValue']}"
        return None
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        return f"does not match AllowedPattern {pattern}"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"is shorter than MinLength {spec['MinLength']}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"is longer than MaxLength {spec['MaxLength']}"
    return None


BUILT_ELSEWHERE = "image-built-per-account"


def _no_stack_in(cfg: PipelineConfig, stage: str, env: Environments) -> tuple[str, str]:
    """(message, hint) for a stage ``cfg`` has no stack in."""
    builder = image_builder_stage(env, stage)
    if cfg.pipeline_type == "byom_image_builder" and "stages" not in cfg.data and builder in cfg.stages:
        return (
            f"{cfg.pipeline_id!r} has no stack in stage {stage!r}: its image is built by stage {builder!r} "
            "in this account and region, and used from there (built once per account, not per stage)",
            f"render stage {builder!r}",
        )
    return (
        f"{cfg.pipeline_id!r} does not deploy to stage {stage!r}",
        f"its stages are {', '.join(cfg.stages)}",
    )


def render_stage(
    repo: Repo, stage: str, commit: str, region: str | None = None
) -> tuple[list[StackSpec], list[Finding], list[Finding]]:
    """(specs, errors, notes): every valid config deploying to ``stage`` rendered; config errors
    stop the run before AWS is touched; types without a template yet are notes (code
    template-pending), and so are image builders whose image an earlier stage of the account
    builds (code BUILT_ELSEWHERE: no stack here)."""
    report, configs = validate(repo)
    if report.errors:
        return [], report.errors, []
    env = Validator(repo).environments()
    specs, notes = [], []
    refs: dict[str, list[tuple[str, str]]] = {}
    for ref in stage_references(configs, env.stack_prefix, stage):
        refs.setdefault(ref.pipeline_id, []).append((ref.target, ref.kind))
    for cfg in configs:
        if stage not in cfg.stages:
            if cfg.pipeline_type == "byom_image_builder" and "stages" not in cfg.data:
                message, _ = _no_stack_in(cfg, stage, env)
                display = f"pipeline-configs/{cfg.pipeline_id}/mlops-config.json"
                notes.append(
                    Finding(display, "$.stages", BUILT_ELSEWHERE, message, severity="warning").of_pipeline(
                        cfg.pipeline_id
                    )
                )
            continue
        try:
            spec = render(repo.root, cfg, stage, env, commit=commit, region=region)
            specs.append(replace(spec, depends_on=tuple(refs.get(cfg.pipeline_id, ()))))
        except RenderError as exc:
            exc.findings = [f.of_pipeline(cfg.pipeline_id) for f in exc.findings]
            pending = [f for f in exc.findings if f.code == "template-pending"]
            if pending:
                notes.extend(replace(f, severity="warning") for f in pending)
            else:
                return [], exc.findings, []
    return specs, [], notes
