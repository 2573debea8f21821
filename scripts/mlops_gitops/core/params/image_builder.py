"""Parameters of the image builder template (Dockerfile bundle in S3 -> CodeBuild -> ECR)."""

from __future__ import annotations

from mlops_gitops import names
from mlops_gitops.core.params.base import (
    Deferred,
    ParamContext,
    Params,
    kms_key_arn,
    notification_topic,
    s3_uri,
)

# The schema's defaults (the config carries only what the user wrote).
DEFAULTS = {"scan_on_push": True, "image_tag_mutability": "IMMUTABLE"}
# What the template's repository takes; the *_WITH_EXCLUSION modes need filters it does not declare.
MUTABILITIES = ("IMMUTABLE", "MUTABLE")


def image_builder_parameters(ctx: ParamContext) -> tuple[Params, Deferred]:
    bundle = s3_uri(ctx, "custom_algorithm_docker", ctx.value("custom_algorithm_docker"), asset=True)
    if bundle and not bundle.endswith(".zip"):
        ctx.fail(
            ["custom_algorithm_docker"],
            "bundle-zip",
            f"the Dockerfile bundle {bundle} is not a .zip; CodeBuild reads an S3 source as one zip",
            "zip the Dockerfile (at the zip's root) and its files, upload it and name the .zip key",
        )
    mutability = ctx.value("image_tag_mutability", DEFAULTS["image_tag_mutability"])
    if mutability not in MUTABILITIES:
        ctx.fail(
            ["image_tag_mutability"],
            "tag-mutability",
            f"image_tag_mutability {mutability!r} needs exclusion filters the image builder does not set",
            "use IMMUTABLE or MUTABLE",
        )
    kms = kms_key_arn(ctx, "the build")
    params = {
        "NamePrefix": names.resource_base_name(ctx.env.stack_prefix, ctx.cfg.pipeline_id, ctx.stage),
        "CustomAlgorithmDocker": bundle,
        "EcrRepoName": ctx.value("ecr_repo_name", ""),
        "ImageTag": ctx.value("image_tag", ""),
        "ScanOnPush": "true" if ctx.value("scan_on_push", DEFAULTS["scan_on_push"]) else "false",
        "ImageTagMutability": mutability,
        "PullThroughCachePrefix": ctx.value("pull_through_cache_prefix", "") or "",
        "KmsKeyArn": kms,
        "NotificationTopicArn": notification_topic(ctx),
    }
    return params, {}


BUILDERS = {"image_builder.yaml": image_builder_parameters}
