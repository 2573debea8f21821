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
