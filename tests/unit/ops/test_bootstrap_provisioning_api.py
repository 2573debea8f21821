"""bootstrap deploys the provisioning API's companion stack only when environments.json asks
(orchestrator.provisioning_api), with parameters its template accepts."""

from __future__ import annotations

import re

import pytest

from mlops_gitops import lambdas
from mlops_gitops.config.environments import Environments
from mlops_gitops.core.templates import _parse
from mlops_gitops.ops.bootstrap import BootstrapError, plan_jobs
from tests.conftest import REPO_ROOT

OWN = "123456789012"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:mlops-validator:3"


def jobs(orchestrator: dict) -> list:
    env = Environments.from_data(
        {
            "stack_prefix": "ml",
            "region": "us-east-1",
            "stages": [{"name": "dev"}],
            "orchestrator": orchestrator,
        }
    )
    return [j for j in plan_jobs(env, OWN, "us-east-1", "aws") if j.kind == "provisioning-api"]


@pytest.mark.parametrize("setting", [{}, {"provisioning_api": False}])
def test_no_companion_stack_unless_asked(setting: dict) -> None:
    assert jobs(setting) == []


def test_asked_for_it_is_one_stack_in_the_orchestrators_account_after_the_others() -> None:
    env = Environments.from_data(
        {
            "stack_prefix": "ml",
            "region": "us-east-1",
            "stages": [{"name": "dev"}],
            "orchestrator": {"provisioning_api": True},
        }
    )
    planned = plan_jobs(env, OWN, "us-east-1", "aws")
    job = planned[-1]
    assert (job.kind, job.stack_name, job.account, job.region) == (
        "provisioning-api",
        "ml-provisioning-api",
        OWN,
        "us-east-1",
    )
    assert job.parameters == {
        "StackPrefix": "ml",
        "RepositoryName": "mlops-gitops",
        "BranchName": "main",
        "DirectCommit": "No",
        "CodeBucket": f"ml-bootstrap-{OWN}-us-east-1",
        "CodeKey": lambdas.package_provisioning().key,
        "DependenciesLayerArn": "",
    }


def test_options_reach_the_template_and_it_accepts_them() -> None:
    (job,) = jobs(
        {
            "repository_name": "configs",
            "branch": "trunk",
            "provisioning_api": {"direct_commit": True, "dependencies_layer_arn": LAYER},
        }
    )
    assert (job.parameters["DirectCommit"], job.parameters["DependenciesLayerArn"]) == ("Yes", LAYER)
    assert (job.parameters["RepositoryName"], job.parameters["BranchName"]) == ("configs", "trunk")
    declared = _parse((REPO_ROOT / job.template).read_text())["Parameters"]
    assert set(job.parameters) <= set(declared)
    for name, value in job.parameters.items():
        spec = declared[name]
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), name
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"], name


def test_a_connection_source_is_refused_before_aws() -> None:
    with pytest.raises(BootstrapError, match="CodeCommit"):
        jobs({"source": "connection", "provisioning_api": True})


@pytest.mark.parametrize(
    "layer",
    [
        "arn:aws:lambda:us-east-1:999999999999:layer:mlops-validator:3",
        "arn:aws:lambda:us-east-1:1234567890123:layer:x:1",  # a longer id that starts with ours
    ],
)
def test_a_layer_of_another_account_is_refused_before_aws(layer: str) -> None:
    """Its code would run with the function's role, which commits; Lambda loads a layer of another
    account that shares it (https://docs.aws.amazon.com/lambda/latest/dg/permissions-layer-cross-account.html)."""
    with pytest.raises(
        BootstrapError, match=r"not of the orchestrator's account 123456789012.*Nothing was deployed"
    ):
        jobs({"provisioning_api": {"dependencies_layer_arn": layer}})
