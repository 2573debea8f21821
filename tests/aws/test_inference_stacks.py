"""Every real-time and batch example renders for every stage, and the rendered stack is created
in a moto server; the resources are then checked through the service APIs.

moto notes that shape these tests (../shared/reference/moto-and-cfn-lint.md): SageMaker names in
the template are ignored and generated, so names are read from the stack's outputs; alarms,
API Gateway stages, autoscaling and SNS subscriptions are silently not created, so those are
asserted at template level in tests/repo/test_templates.py instead. The endpoint's DeploymentConfig
(churn-realtime's rollout in staging and prod) is accepted and ignored: moto runs no blue/green
update, so its shape is asserted offline in tests/unit/core/params/test_inference_params.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render
from mlops_gitops.repo import Repo
from tests.aws.conftest import create_pipeline_stack, orchestrator_basics
from tests.conftest import REPO_ROOT

ARTIFACT_BUCKET = "mlops-artifacts-111122223333"
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
CASES = []
for _path in REPO.config_files():
    _cfg, _ = VALIDATOR.check_config(_path, ENV)
    if _cfg is not None and _cfg.pipeline_type.startswith(("byom_realtime", "byom_batch")):
        CASES += [pytest.param(_cfg, stage, id=f"{_cfg.pipeline_id}-{stage}") for stage in _cfg.stages]


def _prepare(aws) -> None:
    orchestrator_basics(aws, ARTIFACT_BUCKET)


def _resolve_deferred(aws, spec) -> dict[str, str]:
    """Stand in for deploy: register an approved version in the group dev follows."""
    params = dict(spec.parameters)
    sm = aws("sagemaker")
    for name, how in spec.deferred.items():
        group = how["latest_approved_model_package_of"]
        sm.create_model_package_group(ModelPackageGroupName=group)
        arn = sm.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:2.3.0"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        params[name] = arn
    return params


@pytest.mark.parametrize("cfg, stage", CASES)
def test_rendered_stack_is_created_in_moto(aws, cfg, stage) -> None:
    spec = render(REPO_ROOT, cfg, stage, ENV, commit="0" * 40)
    _prepare(aws)
    params = _resolve_deferred(aws, spec)
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=spec.stack_name,
        TemplateBody=(REPO_ROOT / spec.template).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName=spec.stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["mlops:spec-hash"] == spec.spec_hash
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    sm = aws("sagemaker")
    model = sm.describe_model(ModelName=outputs["SageMakerModelName"])
    container = model["PrimaryContainer"]
    if params["ModelPackageArn"]:
        assert container["ModelPackageName"] == params["ModelPackageArn"]
    else:
        assert (
            container["Image"] == params["ImageUri"]
            and container["ModelDataUrl"] == params["ModelArtifactUrl"]
        )
    roles = {r["RoleName"]: r for r in aws("iam").list_roles()["Roles"]}
    role_name = model["ExecutionRoleArn"].rsplit("/", 1)[-1]
    assert json.dumps(roles[role_name]["AssumeRolePolicyDocument"]).count("sagemaker.amazonaws.com") == 1

    if cfg.pipeline_type.startswith("byom_realtime"):
        endpoint = sm.describe_endpoint(EndpointName=outputs["SageMakerEndpointName"])
        assert endpoint["EndpointStatus"] == "InService"
        config = sm.describe_endpoint_config(EndpointConfigName=outputs["SageMakerEndpointConfigName"])
        variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
        expected = [params.get(f"Variant{i}Name") for i in (1, 2, 3) if params.get(f"Variant{i}Name")] or [
            "AllTraffic"
        ]
        assert sorted(variants) == sorted(expected)
        first = variants[expected[0]]
        if params.get("ServerlessMemorySizeMb"):  # serverless: no instances and no data capture
            assert "InstanceType" not in first and "InitialInstanceCount" not in first
            assert first["ServerlessConfig"]["MemorySizeInMB"] == int(params["ServerlessMemorySizeMb"])
            assert first["ServerlessConfig"]["MaxConcurrency"] == int(params["ServerlessMaxConcurrency"])
            assert not config.get("DataCaptureConfig")
        else:
            assert first["InstanceType"] == params["InstanceType"]
            assert first["InitialInstanceCount"] == int(params["InstanceCount"])
            capture = config["DataCaptureConfig"]
            assert capture["DestinationS3Uri"] == params["DataCaptureUri"]
            assert capture["InitialSamplingPercentage"] == int(params["DataCaptureSamplingPercentage"])
        if params.get("AsyncOutputUri"):  # moto keeps the output config, without checking it
            output = config["AsyncInferenceConfig"]["OutputConfig"]
            assert output["S3OutputPath"] == params["AsyncOutputUri"]
            assert output.get("S3FailurePath", "") == params["AsyncFailureUri"]
        else:
            assert not config.get("AsyncInferenceConfig")
        # moto drops ShadowProductionVariants (its shape is asserted offline in
        # tests/unit/core/params/test_realtime_kinds_params.py); the shadow's model is created
        shadow_models = [
            r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName=spec.stack_name)["StackResourceSummaries"]
            if r["LogicalResourceId"] == "ShadowModel"
        ]
        assert len(shadow_models) == (1 if params.get("ShadowVariantName") else 0)
        for name in shadow_models:
            shadow = sm.describe_model(ModelName=name.rsplit("/", 1)[-1])  # Ref of a model: its ARN
            assert shadow["PrimaryContainer"]["ModelPackageName"] == params["ShadowModelPackageArn"]
        apis = aws("apigateway").get_rest_apis()["items"]
        assert [a["name"] for a in apis] == [f"{params['NamePrefix']}-inference"]
        resources = aws("apigateway").get_resources(restApiId=apis[0]["id"])["items"]
        method = next(r for r in resources if r.get("path") == "/inference")["resourceMethods"]["POST"]
        assert method["authorizationType"] == "AWS_IAM"
        function = aws("lambda").get_function(FunctionName=f"{params['NamePrefix']}-inference")[
            "Configuration"
        ]
        assert (
            function["Environment"]["Variables"]["SAGEMAKER_ENDPOINT_NAME"]
            == outputs["SageMakerEndpointName"]
        )
    else:
        machines = aws("stepfunctions").list_state_machines()["stateMachines"]
        assert [m["name"] for m in machines] == [f"{params['NamePrefix']}-batch"]
        definition = json.loads(
            aws("stepfunctions").describe_state_machine(stateMachineArn=machines[0]["stateMachineArn"])[
                "definition"
            ]
        )
        job = definition["States"]["Transform"]["Parameters"]
        assert job["ModelName"] == outputs["SageMakerModelName"]
        assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == params["BatchInputUri"]
        assert job["TransformOutput"]["S3OutputPath.$"] == (
            f"States.Format('{params['BatchOutputUri']}/{params['Stage']}/{{}}', $.run.name)"
        )
        assert job["TransformResources"] == {
            "InstanceType": params["InstanceType"],
            "InstanceCount": int(params["InstanceCount"]),
        }
        assert set(definition["States"]) == {
            "NameRun",
            "Transform",
            "ReportSuccess",
            "ReportFailure",
            "Failed",
        }
        rules = {r["Name"]: r for r in aws("events").list_rules()["Rules"]}
        assert json.loads(rules[f"{params['NamePrefix']}-batch-deployed"]["EventPattern"])["detail-type"] == [
            "CloudFormation Stack Status Change"
        ]


def test_a_multi_model_stack_is_created_in_moto(aws, tmp_repo) -> None:
    """A multi-model endpoint (no example pipeline has one): the model's container runs in Mode
    MultiModel on the prefix. moto records the container; SageMaker's checks of the image's
    multi-model contract happen only on AWS."""
    from tests.conftest import example

    config = example("claims-async")
    del config["async_inference"], config["autoscaling"]
    config["multi_model"] = {"model_prefix": "s3://mlops-demo-models/claims/tenants/"}
    tmp_repo.write("claims-mme", config)
    repo = Repo(tmp_repo.root)
    cfg, findings = Validator(repo).check_config(repo.configs_dir / "claims-mme" / "mlops-config.json", ENV)
    assert cfg is not None, [f.text() for f in findings]
    spec = render(REPO_ROOT, cfg, "dev", ENV, commit="0" * 40)
    _prepare(aws)
    stack = create_pipeline_stack(aws, Path(spec.template).name, spec.stack_name, spec.parameters)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    container = aws("sagemaker").describe_model(ModelName=outputs["SageMakerModelName"])["PrimaryContainer"]
    assert container["ModelDataUrl"] == "s3://mlops-demo-models/claims/tenants/"
    assert container["Mode"] == "MultiModel"
