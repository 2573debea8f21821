"""Render: a validated config + environments + its template -> the stack spec deploy would apply.

Pure: no AWS calls. Values are checked against the template's own constraints (AllowedValues,
AllowedPattern with a full match, lengths, number bounds) so CloudFormation never sees a value it
would refuse. Values only AWS can supply (a dev stage following the latest approved model package)
are listed under ``deferred`` and resolved by deploy.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops import images, lambdas, names, templates
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.s3 import S3Location, parse_asset, parse_location
from mlops_gitops.config.validate import PipelineConfig
from mlops_gitops.errors import GitOpsError
from mlops_gitops.findings import Finding, json_path

MANAGED_BY = "mlops-gitops"
# Instance families with local NVMe storage: SageMaker refuses a volume KMS key on them (their
# local volumes are encrypted by the instance's hardware module).
_LOCAL_STORAGE = re.compile(
    r"^ml\.([a-z]+\d+[a-z]*dn?|g5|g6|g6e|gr6|p4de|p5|p5e|p5en|trn1|trn1n|trn2|x1|x1e)\."
)


def has_local_storage(instance_type: str) -> bool:
    return bool(_LOCAL_STORAGE.match(instance_type or ""))


def _revision(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8]


def with_model_revisions(params: dict[str, str]) -> dict[str, str]:
    """Name each model by what it runs: a new image, artifact or package gives a new model name, so
    CloudFormation's replace-then-delete of the create-only SageMaker model never collides."""
    out = dict(params)
    image, isolation = params.get("ImageUri", ""), params.get("NetworkIsolation", "true")

    def revision(package: str, artifact: str) -> str:
        return _revision(
            package, "" if package else image, artifact, isolation
        )  # a package brings its own image

    out["ModelRevision"] = revision(params.get("ModelPackageArn", ""), params.get("ModelArtifactUrl", ""))
    for n in (2, 3):
        if params.get(f"Variant{n}Name"):
            out[f"Variant{n}Revision"] = revision(
                params.get(f"Variant{n}ModelPackageArn", ""), params.get(f"Variant{n}ModelArtifactUrl", "")
            )
    return out


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Ctx:
    cfg: PipelineConfig
    stage: str
    env: Environments
    region: str
    findings: list[Finding] = field(default_factory=list)

    def value(self, name: str, default: Any = None) -> Any:
        return self.cfg.by_stage[self.stage].get(name, default)

    def fail(self, path: list, code: str, message: str, hint: str) -> None:
        display = f"pipeline-configs/{self.cfg.pipeline_id}/mlops-config.json"
        self.findings.append(Finding(display, json_path(path), code, message, hint))


def _s3_uri(ctx: _Ctx, name: str, value: str | None, asset: bool) -> str:
    if not value:
        return ""
    parsed = parse_asset(value) if asset else parse_location(value)
    if isinstance(parsed, S3Location):
        return parsed.uri
    if not ctx.env.assets_bucket:
        ctx.fail(
            [name],
            "assets-bucket",
            f"{value!r} is a key in the assets bucket, but environments.json names no assets_bucket",
            "write s3://bucket/key, or set assets_bucket in environments.json",
        )
        return ""
    return S3Location(ctx.env.assets_bucket, value.strip("/")).uri


def _model_source(ctx: _Ctx, package: Any, artifact: Any, path: list) -> tuple[str, str, dict[str, str]]:
    """(ModelPackageArn, ModelArtifactUrl, deferred) for one model."""
    if isinstance(package, str) and package:
        if re.fullmatch(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[^/]+/\d+", package):
            return package, "", {}
        group = package.rsplit("/", 1)[-1] if package.startswith("arn:") else package
        return "", "", {"latest_approved_model_package_of": group}
    return "", _s3_uri(ctx, path[-1], artifact, asset=True), {}


def _image(ctx: _Ctx, instance_type: str) -> str:
    if ctx.cfg.data.get("custom_image_uri"):
        return ctx.cfg.data["custom_image_uri"]
    framework, version = ctx.cfg.data.get("model_framework"), ctx.cfg.data.get("model_framework_version")
    if not framework:
        return ""
    try:
        return images.image_uri(framework, version or "", ctx.region, instance_type)
    except images.ImageError as exc:
        ctx.fail(["model_framework_version"], "image", exc.message, exc.hint)
        return ""


def _notification_topic(ctx: _Ctx) -> str:
    for item in ctx.cfg.data.get("notify", []):
        if item.startswith("arn:"):
            return item
    return ""


def _common_model_params(ctx: _Ctx, instance_type: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    package, artifact, deferred = _model_source(
        ctx,
        ctx.value("model_package_name"),
        ctx.cfg.data.get("model_artifact_location"),
        ["model_artifact_location"],
    )
    kms = ctx.value("kms_key_arn", "") or ""
    params = {
        "NamePrefix": names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage),
        "ModelPackageArn": package,
        # the registry package brings its own image; variants serving artifacts still need ours
        "ImageUri": _image(ctx, instance_type),
        "ModelArtifactUrl": artifact,
        "InstanceType": instance_type,
        "InstanceCount": str(ctx.value("instance_count", 1)),
        "KmsKeyArn": kms,
        "VolumeKmsKeyArn": "" if has_local_storage(instance_type) else kms,
        "NotificationTopicArn": _notification_topic(ctx),
    }
    return params, {"ModelPackageArn": deferred} if deferred else {}


def realtime_parameters(ctx: _Ctx) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    instance_type = ctx.value("inference_instance")
    params, deferred = _common_model_params(ctx, instance_type)
    params.update(
        {
            "EndpointName": (
                ctx.value("endpoint_name", "") or ""
            ).lower(),  # as MWO did; IAM matches lower-case ARNs
            "DataCaptureUri": _s3_uri(
                ctx, "data_capture_location", ctx.value("data_capture_location"), asset=False
            ),
            "DataCaptureSamplingPercentage": str(ctx.value("data_capture_sampling_percentage", 100)),
            "InferenceLambdaKey": lambdas.package("inference_api").key,
        }
    )
    variants = ctx.value("production_variants") or []
    for index, variant in enumerate(variants[:3], start=1):
        prefix = f"Variant{index}"
        params[f"{prefix}Name"] = variant["name"]
        params[f"{prefix}Weight"] = _number(variant.get("weight", 1))
        path = ["production_variants", index - 1]
        package, artifact, later = _model_source(
            ctx,
            variant.get("model_package_name"),
            variant.get("model_artifact_location"),
            [*path, "model_artifact_location"],
        )
        if index == 1:
            if package or artifact or later:  # the first variant brings its own model: it is the primary one
                params["ModelPackageArn"], params["ModelArtifactUrl"] = package, artifact
                deferred = {"ModelPackageArn": later} if later else {}
            if variant.get("inference_instance"):
                params["InstanceType"] = variant["inference_instance"]
            if variant.get("instance_count"):
                params["InstanceCount"] = str(variant["instance_count"])
            continue
        params[f"{prefix}ModelPackageArn"] = package
        params[f"{prefix}ModelArtifactUrl"] = artifact
        params[f"{prefix}InstanceType"] = variant.get("inference_instance", "")
        params[f"{prefix}InstanceCount"] = str(variant.get("instance_count", ctx.value("instance_count", 1)))
        if later:
            deferred[f"{prefix}ModelPackageArn"] = later
    for index in range(max(len(variants), 1) + 1, 4):  # unused variant slots are passed empty
        params[f"Variant{index}Name"] = ""
        params[f"Variant{index}ModelArtifactUrl"] = ""
    if any(has_local_storage(params.get(f"Variant{n}InstanceType", "")) for n in (2, 3)) or has_local_storage(
        params["InstanceType"]
    ):
        params["VolumeKmsKeyArn"] = ""  # one volume key for the whole endpoint config
    scaling = ctx.value("autoscaling")
    if isinstance(scaling, dict):
        params.update(
            {
                "AutoscalingMaxCapacity": str(scaling["max_capacity"]),
                "AutoscalingMinCapacity": str(scaling.get("min_capacity", 1)),
                "AutoscalingTargetInvocations": _number(scaling.get("target_invocations_per_instance", 70)),
                "AutoscalingScaleInCooldown": str(scaling.get("scale_in_cooldown", 300)),
                "AutoscalingScaleOutCooldown": str(scaling.get("scale_out_cooldown", 60)),
            }
        )
    return params, deferred


def batch_parameters(ctx: _Ctx) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    instance_type = ctx.value("inference_instance")
    params, deferred = _common_model_params(ctx, instance_type)
    params.update(
        {
            "BatchInputUri": _s3_uri(
                ctx, "batch_inference_data", ctx.value("batch_inference_data"), asset=False
            ),
            "BatchOutputUri": _s3_uri(
                ctx, "batch_job_output_location", ctx.value("batch_job_output_location"), asset=False
            ),
            "ContentType": ctx.cfg.data.get("batch_content_type", "text/csv"),
            "SplitType": ctx.cfg.data.get("batch_split_type", "Line"),
            "Schedule": ctx.value("batch_schedule", "") or "",
        }
    )
    return params, deferred


PARAMETER_BUILDERS = {
    "realtime_inference.yaml": realtime_parameters,
    "batch_inference.yaml": batch_parameters,
}


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


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
    display = f"pipeline-configs/{cfg.pipeline_id}/mlops-config.json"
    if stage not in cfg.stages:
        raise RenderError(
            [
                Finding(
                    display,
                    "$.stages",
                    "stage",
                    f"{cfg.pipeline_id!r} does not deploy to stage {stage!r}",
                    f"its stages are {', '.join(cfg.stages)}",
                )
            ]
        )
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
    template = templates.load_template(root, name)
    ctx = _Ctx(cfg, stage, env, region)
    params, deferred = PARAMETER_BUILDERS[name](ctx)
    params = with_model_revisions(params)
    check_parameters(ctx, template, params, deferred)
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
    )
    digest = spec_hash(spec)
    spec.tags.update({"mlops:spec-hash": digest, "mlops:commit": commit})
    return StackSpec(**{**spec.__dict__, "tags": dict(sorted(spec.tags.items())), "spec_hash": digest})


def spec_hash(spec: StackSpec) -> str:
    """Hash of everything that decides what gets deployed (not the commit: a commit that changes
    nothing for this stack must leave it alone)."""
    doc = spec.to_dict()
    doc["tags"] = {k: v for k, v in doc["tags"].items() if k not in ("mlops:commit", "mlops:spec-hash")}
    doc.pop("spec_hash", None)
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def check_parameters(ctx: _Ctx, template: templates.Template, params: dict[str, str], deferred: dict) -> None:
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
        problem = parameter_problem(spec, params[name])
        if problem:
            ctx.findings.append(
                Finding(
                    display,
                    "$",
                    "parameter",
                    f"stage {ctx.stage!r}: template parameter {name}={params[name]!r} {problem}",
                    spec.get("ConstraintDescription") or spec.get("Description", ""),
                )
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
