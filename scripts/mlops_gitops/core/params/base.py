"""What every parameter builder shares: the stage's view of a config, S3 and model helpers."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops import images, names
from mlops_gitops.config.environments import Environments
from mlops_gitops.config.rules.notify import EMAIL_SLOTS
from mlops_gitops.config.s3 import S3Error, S3Location, parse_asset, parse_location
from mlops_gitops.config.validate import PipelineConfig
from mlops_gitops.findings import Finding, json_path

Params = dict[str, str]
Deferred = dict[str, dict[str, str]]


@dataclass
class ParamContext:
    cfg: PipelineConfig
    stage: str
    env: Environments
    region: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how a value was read (render shows them)

    def value(self, name: str, default: Any = None) -> Any:
        return self.cfg.by_stage[self.stage].get(name, default)

    def fail(self, path: list, code: str, message: str, hint: str) -> None:
        display = f"pipeline-configs/{self.cfg.pipeline_id}/mlops-config.json"
        self.findings.append(Finding(display, json_path(path), code, message, hint))


def s3_uri(ctx: ParamContext, name: str, value: str | None, asset: bool) -> str:
    if not value:
        return ""
    try:  # validate checked the field's own form; this is a guard, never a crash
        parsed = parse_asset(value) if asset else parse_location(value)
    except S3Error as exc:
        ctx.fail([name], "s3-location", exc.message, exc.hint)
        return ""
    if isinstance(parsed, S3Location):
        if not value.startswith("s3://"):  # MWO's bucket/prefix form
            ctx.notes.append(f"{name}: {value!r} is read as {parsed.uri} (MWO's bucket/prefix form)")
        return parsed.uri
    if not ctx.env.assets_bucket:
        ctx.fail(
            [name],
            "assets-bucket",
            f"{value!r} is a key in the assets bucket, but environments.json names no assets_bucket",
            "write s3://bucket/key, or set assets_bucket in environments.json",
        )
        return ""
    uri = S3Location(ctx.env.assets_bucket, value.strip("/")).uri
    ctx.notes.append(f"{name}: {value!r} is read as {uri} (a key in environments.json's assets_bucket)")
    return uri


def model_source(
    ctx: ParamContext, package: Any, artifact: Any, path: list
) -> tuple[str, str, dict[str, str]]:
    """(ModelPackageArn, ModelArtifactUrl, deferred) for one model."""
    if isinstance(package, str) and package:
        if re.fullmatch(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/[^/]+/[0-9]+", package):
            return package, "", {}
        group = package.rsplit("/", 1)[-1] if package.startswith("arn:") else package
        return "", "", {"latest_approved_model_package_of": group}
    return "", s3_uri(ctx, path[-1], artifact, asset=True), {}


def image(ctx: ParamContext, instance_type: str) -> str:
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


# How many e-mail subscriptions a pipeline template's notify topic has slots for (NotifyEmail1..N);
# validate refuses more, so none is dropped.
NOTIFY_EMAIL_SLOTS = EMAIL_SLOTS


def notify_entries(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(e-mail addresses, SNS topic ARNs) of a config's ``notify``, in the config's order."""
    items = [i for i in data.get("notify", []) if isinstance(i, str)]
    return [i for i in items if not i.startswith("arn:")], [i for i in items if i.startswith("arn:")]


def notification_topic(ctx: ParamContext) -> str:
    """The user's SNS topic (validate allows at most one, so nothing is dropped here)."""
    topics = notify_entries(ctx.cfg.data)[1]
    return topics[0] if topics else ""


def notify_parameters(ctx: ParamContext) -> Params:
    """NotifyEmail1..N of every pipeline template: the e-mails subscribed to its notify topic; and
    PipelineId and Stage, which the messages of the stack's own rules name (drift, monitor, jobs)."""
    emails = notify_entries(ctx.cfg.data)[0]
    slots = {f"NotifyEmail{i + 1}": e for i, e in enumerate(emails[:NOTIFY_EMAIL_SLOTS])}
    return {**slots, "PipelineId": ctx.cfg.pipeline_id, "Stage": ctx.stage}


def common_model_params(
    ctx: ParamContext, instance_type: str
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    package, artifact, deferred = model_source(
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
        "ImageUri": image(ctx, instance_type),
        "ModelArtifactUrl": artifact,
        "InstanceType": instance_type,
        "InstanceCount": str(ctx.value("instance_count", 1)),
        "KmsKeyArn": kms,
        "VolumeKmsKeyArn": "" if has_local_storage(instance_type) else kms,
        "NotificationTopicArn": notification_topic(ctx),
    }
    return params, {"ModelPackageArn": deferred} if deferred else {}


def number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


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
    if params.get("ModelMode", "SingleModel") != "SingleModel":  # the mode is create-only too
        out["ModelRevision"] = _revision(out["ModelRevision"], params["ModelMode"])
    for n in (2, 3):
        if params.get(f"Variant{n}Name"):
            out[f"Variant{n}Revision"] = revision(
                params.get(f"Variant{n}ModelPackageArn", ""), params.get(f"Variant{n}ModelArtifactUrl", "")
            )
    if params.get("ShadowVariantName"):
        out["ShadowRevision"] = revision(
            params.get("ShadowModelPackageArn", ""), params.get("ShadowModelArtifactUrl", "")
        )
    return out


def kms_key_arn(ctx: ParamContext, what: str) -> str:
    """The stage's KMS key, refused when it is an alias: IAM grants a role use of a key only
    through the key's own ARN. ``what`` names the principal in the hint (e.g. "the build")."""
    kms = ctx.value("kms_key_arn", "") or ""
    if ":alias/" in kms:
        ctx.fail(
            ["kms_key_arn"],
            "kms-alias",
            f"stage {ctx.stage!r}: {ctx.cfg.pipeline_type} needs a KMS key ARN, not an alias ({kms})",
            f"IAM grants {what} use of a key by its key ARN: write arn:...:key/<id>",
        )
    return kms
