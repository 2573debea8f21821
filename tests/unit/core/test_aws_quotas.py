"""Values validate and render accept but AWS refuses: the limits of the text properties that the
templates build from parameters, whatever the parameters are."""

from __future__ import annotations

import re

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core import templates
from mlops_gitops.core.physical_names import resource_schema
from tests.conftest import REPO_ROOT

# A CloudFormation parameter value is at most 4,096 bytes
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
# the longest any parameter without its own bound can be.
UNBOUNDED = 4096


def _longest_values(body: dict, name_prefix: int) -> dict[str, str]:
    values = {}
    for name, param in body["Parameters"].items():
        if name == "NamePrefix":
            # the templates' own bound: "^[a-z0-9](-*[a-z0-9]){0,50}$", at most 51 characters
            assert "{0,50}" in param["AllowedPattern"], param
            values[name] = "a" * name_prefix
        elif param.get("Type") == "String":
            values[name] = "x" * int(param.get("MaxLength", UNBOUNDED))
        else:  # lists, numbers, SSM parameters: not part of the descriptions checked here
            values[name] = str(param.get("Default", "1"))
    return parameter_values(body, values)


@pytest.mark.parametrize(
    "template, logical_id, limit, url",
    [
        (
            "data_lake.yaml",
            "FeatureGroup",
            128,
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFeatureGroup.html",
        ),
        (
            "image_builder.yaml",
            "BuildProject",
            255,
            "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html",
        ),
    ],
)
def test_a_description_built_from_parameters_fits_its_limit_at_the_longest_values(
    template, logical_id, limit, url
) -> None:
    """Every parameter at its longest (NamePrefix 51, the rest MaxLength or CloudFormation's
    4,096), every resource name at 63: the description stays within the service's limit (the
    bundled resource schema's maxLength where it has one, else the API page cited here)."""
    body = templates.load_template(REPO_ROOT, template).body
    resource_type = body["Resources"][logical_id]["Type"]
    schema_limit = (resource_schema(resource_type) or {}).get("properties", {}).get("Description", {})
    assert schema_limit.get("maxLength", limit) == limit, url
    evaluator = Evaluator(
        body,
        _longest_values(body, 51),
        pseudo={"AWS::AccountId": "123456789012", "AWS::Region": "ap-southeast-2", "AWS::StackName": "s"},
        resources=lambda name, attr: "x" * 63,
    )
    description = evaluator(body["Resources"][logical_id]["Properties"]["Description"])
    assert len(description) <= limit, (url, len(description), re.sub("x{10,}", "x…", description))
