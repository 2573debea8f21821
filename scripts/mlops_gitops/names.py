"""Names built from a pipeline id and a stage. Render and validate share these, so a name that
validate accepts is exactly the name deploy will use."""

from __future__ import annotations

import re

PIPELINE_ID = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$")
STACK_NAME_MAX = 128
# A Model Registry version: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<n>.
# Groups 1 and 2: the group and the version number. Use fullmatch; ASCII digits only.
MODEL_PACKAGE_VERSION_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/([^/]+)/([0-9]+)", re.ASCII
)


def stack_name(prefix: str, pipeline_id: str, stage: str) -> str:
    return f"{prefix}-{pipeline_id}-{stage}"


def bootstrap_stacks(prefix: str) -> tuple[str, ...]:
    """The stacks `mlopsctl bootstrap` deploys (ops/bootstrap.py names them from these); the last,
    the provisioning API's, only when environments.json asks for it."""
    return (
        f"{prefix}-orchestrator",
        f"{prefix}-target",
        f"{prefix}-bootstrap-assets",
        f"{prefix}-provisioning-api",
    )


# First words of a pipeline id that bootstrap's guards keep for themselves. A pipeline's stack and
# the names CloudFormation generates from it (roles, buckets, projects) start with
# <prefix>-<id>-, so an id `deploy-x` would make `<prefix>-deploy-x-dev-...`, which the boundary and
# the execution role's Deny statements reserve for bootstrap's own (target-account.yaml:
# role/<prefix>-cfn-*, role/<prefix>-target-*, policy/<prefix>-boundary-*, s3 <prefix>-deploy-*,
# <prefix>-pipeline-*, <prefix>-bootstrap-*, project/<prefix>-deploy-*). Real IAM would refuse the
# deploy; moto would not. tests/repo/test_reserved_ids.py keeps this list in step with the templates.
RESERVED_ID_WORDS = ("bootstrap", "boundary", "cfn", "deploy", "pipeline", "target")


def reserved_id_word(pipeline_id: str) -> str | None:
    """The reserved first word ``pipeline_id`` starts with (``deploy`` or ``deploy-...``), or None."""
    for word in RESERVED_ID_WORDS:
        if pipeline_id == word or pipeline_id.startswith(word + "-"):
            return word
    return None


def resource_base_name(prefix: str, pipeline_id: str, stage: str) -> str:
    """Base of SageMaker names (model, endpoint, jobs, schedules): the stack name."""
    return stack_name(prefix, pipeline_id, stage)


def model_package_group(name: str, stage: str, after_a_stage_in_its_account: bool) -> str:
    """The Model Registry group a training pipeline's stage creates and registers into: ``name`` (the
    configured or default group), with -<stage> when an earlier stage of the same pipeline deploys to
    the same account and region. Each stage's stack creates its group, and a group name exists once
    per account and region (CreateModelPackageGroup:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackageGroup.html), so
    the later stage's create would fail; the first stage keeps the plain name."""
    return f"{name}-{stage}" if after_a_stage_in_its_account else name
