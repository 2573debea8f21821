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


def resource_base_name(prefix: str, pipeline_id: str, stage: str) -> str:
    """Base of SageMaker names (model, endpoint, jobs, schedules): the stack name."""
    return stack_name(prefix, pipeline_id, stage)
