"""`mlopsctl migrate-mwo STACK` (issue 20): a stack MWO provisioned, read back through
DescribeStacks (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html),
becomes the pipeline config MWO was given. The stacks here are tiny templates declaring the
parameters MWO's blueprints declare, with the values its orchestrator passed; moto stands in for
CloudFormation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import repo_copy, run_cli

REALTIME = {
    "AssetsBucket": "mwo-assets",
    "BlueprintBucket": "mwo-blueprints",
    "KmsKeyArn": "",
    "ModelName": "churn-xgb",
    "ModelArtifactLocation": "model.tar.gz",
    "InferenceInstance": "ml.m5.large",
    "CustomAlgorithmsECRRepoArn": "arn:aws:ecr:us-east-1:123456789012:repository/mlops-ecr-repo",
    "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.2-2",
    "ModelPackageGroupName": "",
    "ModelPackageName": "",
    "DataCaptureLocation": "mlops-demo-capture/churn",
    "EndpointName": "",
}
DATA_QUALITY = {
    "AssetsBucket": "mwo-assets",
    "BlueprintBucket": "mwo-blueprints",
    "KmsKeyArn": "",
    "BaselineJobName": "churn-endpoint-dataquality-1a2b",
    "BaselineOutputBucket": "mlops-demo-monitoring",
    "BaselineJobOutputLocation": "mlops-demo-monitoring/baseline/churn-endpoint-dataquality-1a2b",
    "DataCaptureBucket": "mlops-demo-capture",
    "DataCaptureLocation": "mlops-demo-capture/churn",
    "EndpointName": "churn-endpoint",
    "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
    "InstanceType": "ml.m5.large",
    "InstanceVolumeSize": "20",
    "BaselineMaxRuntimeSeconds": "3300",
    "MonitorMaxRuntimeSeconds": "3300",
    "MonitoringOutputLocation": "mlops-demo-monitoring/output",
    "MonitoringScheduleName": "churn-endpoint-dataquality-9f8e",
    "ScheduleExpression": "cron(0 * ? * * *)",
    "BaselineData": "baseline/training-with-header.csv",
}


def create_stack(aws, name: str, parameters: dict[str, str]) -> None:
    template = {
        "Parameters": {key: {"Type": "String"} for key in parameters},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
    aws("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_copy(tmp_path / "repo", ())


def migrate(moto_endpoint: str, repo: Path, *args: str):
    return run_cli("--repo-root", str(repo), "migrate-mwo", *args, "--endpoint-url", moto_endpoint)


@pytest.mark.parametrize(
    ("stack", "parameters", "pid", "expected"),
    [
        pytest.param(
            "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin",
            REALTIME,
            "churn-xgb",
            {
                "pipeline_type": "byom_realtime_builtin",
                "model_name": "churn-xgb",
                "model_artifact_location": "model.tar.gz",
                "inference_instance": "ml.m5.large",
                "data_capture_location": "mlops-demo-capture/churn",
                "model_framework": "xgboost",
                "model_framework_version": "1.2-2",
            },
            id="realtime-builtin",
        ),
        pytest.param(
            "mlops-pipeline-churn-dq-byomdataqualitymonitor",
            DATA_QUALITY,
            "churn-dq",
            json.loads(
                (Path(__file__).parents[1] / "fixtures/mwo/byom_data_quality_monitor.json").read_text()
            ),
            id="data-quality-monitor",
        ),
    ],
)
def test_an_mwo_stack_becomes_the_config_mwo_was_given_and_it_validates(
    aws, moto_endpoint: str, repo: Path, stack: str, parameters: dict, pid: str, expected: dict
) -> None:
    create_stack(aws, stack, parameters)
    result = migrate(moto_endpoint, repo, stack)
    assert result.code == 0, result.out + result.err
    assert f"read back from the parameters of stack {stack!r}" in result.out
    written = json.loads((repo / "pipeline-configs" / pid / "mlops-config.json").read_text())
    assert {k: v for k, v in written.items() if k != "$schema"} == expected
    assert run_cli("--repo-root", str(repo), "validate").code == 0


def test_a_source_that_is_neither_a_file_nor_a_stack_is_a_usage_error(
    aws, moto_endpoint: str, repo: Path
) -> None:
    result = migrate(moto_endpoint, repo, "mlops-pipeline-gone-byompipelinerealtimecustom")
    assert result.code == 2, result.err
    assert "no such file, and no stack of that name in us-east-1" in result.err
    result = migrate(moto_endpoint, repo, "missing-config.json")  # not a stack name: no AWS call
    assert result.code == 2 and "can't read it" in result.err
    assert not (repo / "pipeline-configs" / "gone").exists()


def test_a_stack_mwo_did_not_provision_is_refused_with_the_reason(
    aws, moto_endpoint: str, repo: Path
) -> None:
    create_stack(aws, "someone-elses-stack", {"BucketName": "b"})
    result = migrate(moto_endpoint, repo, "someone-elses-stack")
    assert result.code == 1, result.err
    assert "not a stack MWO provisioned" in result.err and "nothing written" in result.err
    create_stack(aws, "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline", {"StackName": "x"})
    result = migrate(moto_endpoint, repo, "mlops-pipeline-churn-xgb-byompipelinerealtimebuiltin-codepipeline")
    assert result.code == 1 and "CodePipeline stack MWO made" in result.err, result.err


def test_aws_failing_while_looking_a_stack_up_is_exit_3(aws, repo: Path) -> None:
    """Nothing listens on port 1: the lookup fails at once (after the interactive retries)."""
    result = run_cli(
        "--repo-root",
        str(repo),
        "migrate-mwo",
        "mlops-pipeline-x-byomdataqualitymonitor",
        "--endpoint-url",
        "http://127.0.0.1:1",
    )
    assert result.code == 3, result.err
    assert "AWS call failed" in result.err and "Traceback" not in result.err
