"""Parameters of the training-pipeline template (model_training_pipeline): what the builder gives
for every stage of the example fits the template's declared parameters, and the SageMaker pipeline
definition the template assembles with Fn::Sub from them is JSON with Process, Train, Evaluate,
CheckMetric (the configured metric, threshold and comparison) and Register, in that order."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.params_support import assert_fits, build_params

TEMPLATE = "model_training_pipeline.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
DECLARED = BODY["Parameters"]
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
EXAMPLE, _ = VALIDATOR.check_config(REPO.configs_dir / "defects-detector" / "mlops-config.json", ENV)
assert EXAMPLE is not None
CASES = [pytest.param(EXAMPLE, stage, id=f"defects-detector-{stage}") for stage in EXAMPLE.stages]
ROLE_ARN = "arn:aws:iam::111122223333:role/pipeline-role"


def _evaluator(params: dict[str, str]) -> Evaluator:
    """The template evaluated as CloudFormation would; roles stand in as one ARN."""
    return Evaluator(
        BODY, parameter_values(BODY, params), {"AWS::AccountId": "111122223333"}, lambda name, attr: ROLE_ARN
    )


def definition(params: dict[str, str]) -> dict[str, Any]:
    body = BODY["Resources"]["Pipeline"]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    return json.loads(_evaluator(params)(body))


def _present(params: dict[str, str]) -> set[str]:
    """The resources CloudFormation would create with these parameters."""
    evaluate = _evaluator(params)
    return {n for n, r in BODY["Resources"].items() if evaluate.present(n)}


def _build_config(tmp_config: dict[str, Any], stage: str = "dev") -> tuple[dict[str, str], ParamContext]:
    cfg = dataclasses.replace(
        EXAMPLE,
        data={**EXAMPLE.data, **tmp_config},
        by_stage={s: {**EXAMPLE.by_stage[s], **tmp_config} for s in EXAMPLE.by_stage},
    )
    ctx = ParamContext(cfg, stage, ENV, "us-east-1")
    params, _ = builder_for(TEMPLATE)(ctx)
    return params, ctx


@pytest.mark.parametrize("cfg, stage", CASES)
def test_every_stage_of_the_example_fits_the_template(cfg: PipelineConfig, stage: str) -> None:
    params, ctx = build_params(TEMPLATE, cfg, stage, ENV)
    assert [f.text() for f in ctx.findings] == []
    assert_fits(DECLARED, params)
    assert params["NamePrefix"] == f"mlops-defects-detector-{stage}"
    assert params["ModelPackageGroupName"] == "mlops-defects-detector"
    assert params["ProcessingImageUri"].endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert "pytorch-training:2.1" in params["TrainingImageUri"] and "-gpu-" in params["TrainingImageUri"]
    assert "pytorch-inference:2.1" in params["InferenceImageUri"]
    assert params["VolumeKmsKeyArn"] == "", "g5 has local NVMe storage"


@pytest.mark.parametrize("cfg, stage", CASES)
def test_definition_has_the_five_steps_in_order(cfg: PipelineConfig, stage: str) -> None:
    params, _ = build_params(TEMPLATE, cfg, stage, ENV)
    d = definition(params)
    assert d["Version"] == "2020-12-01"
    steps = d["Steps"]
    assert [(s["Name"], s["Type"]) for s in steps] == [
        ("Process", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("CheckMetric", "Condition"),
    ]
    check = steps[3]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in check["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in check["ElseSteps"]] == [("MetricTooLow", "Fail")]

    evaluation = cfg.data["evaluation"]
    (condition,) = check["Conditions"]
    assert condition["Type"] == evaluation.get("comparison", "GreaterThanOrEqualTo") == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == f"metrics.{evaluation['metric_name']}.value"
    assert condition["LeftValue"]["Std:JsonGet"]["PropertyFile"] == {
        "Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"
    }
    assert condition["RightValue"] == {"Get": "Parameters.MetricThreshold"}
    parameters = {p["Name"]: p for p in d["Parameters"]}
    assert parameters["MetricThreshold"] == {"Name": "MetricThreshold", "Type": "Float", "DefaultValue": 0.7}
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert parameters["InputDataUri"]["DefaultValue"] == params["TrainingDataUri"]

    process, train, evaluate = (s["Arguments"] for s in steps[:3])
    assert {o["OutputName"] for o in process["ProcessingOutputConfig"]["Outputs"]} == {
        "train",
        "validation",
        "test",
    }
    assert process["AppSpecification"]["ContainerArguments"] == [
        "--test-split",
        "0.15",
        "--validation-split",
        "0.15",
    ]
    assert process["ProcessingInputs"][1]["S3Input"]["S3Uri"] == cfg.data["processing"]["script"]
    assert train["HyperParameters"] == {
        "epochs": "30",
        "batch-size": "16",
        "lr": "0.001",
        "export-onnx": '"true"',
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": '"s3://mlops-demo-assets/defects/code/sourcedir.tar.gz"',
    }
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 28800, "MaxWaitTimeInSeconds": 57600}
    # per execution (issue 15 part 5c): a run never resumes from another run's checkpoints
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html)
    assert train["CheckpointConfig"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3://mlops-demo-models/defects",
                {"Get": "Execution.PipelineExecutionId"},
                "checkpoints",
            ],
        }
    }
    assert train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Process.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert evaluate["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {
        "Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"
    }
    assert steps[2]["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    for job in (process, train, evaluate):
        assert job["RoleArn"] == ROLE_ARN

    register = check["IfSteps"][0]["Arguments"]
    assert register["ModelPackageGroupName"] == params["ModelPackageGroupName"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    spec = register["InferenceSpecification"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == ["ml.g5.xlarge", "ml.m5.xlarge"]
    assert spec["SupportedContentTypes"] == ["application/x-image"]
    assert spec["Containers"][0]["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"]["Std:Join"]["Values"][1] == "evaluation.json"
    metadata = register["CustomerMetadataProperties"]
    assert metadata == {
        "metric": "mAP",
        "comparison": "GreaterThanOrEqualTo",
        "threshold": "0.7",
        "onnx": "true",
    }
    for value in metadata.values():  # the API's character set for metadata values
        assert re.fullmatch(r"[\w\s.:/=+\-@]{1,256}", value)


@pytest.mark.parametrize("cfg, stage", CASES)
def test_configured_triggers_are_present(cfg: PipelineConfig, stage: str) -> None:
    params, _ = build_params(TEMPLATE, cfg, stage, ENV)
    assert params["TriggerBucket"] == "mlops-demo-data"
    assert params["TriggerKeyPrefix"] == "defects/images/incoming/"
    assert params["TriggerSchedule"] == "rate(7 days)"
    assert params["MonitorAlarmNames"] == f"mlops-churn-data-quality-{stage}-violations"
    triggers = {"NewDataTrigger", "ScheduleTrigger", "MonitorViolationTrigger", "EventsRole"}
    assert triggers <= _present(params)


@pytest.mark.parametrize(
    "triggers, expected",
    [
        ({}, set()),
        ({"schedule": "cron(0 3 ? * MON *)"}, {"ScheduleTrigger", "EventsRole"}),
        ({"s3_prefix": "s3://b-data/in/"}, {"NewDataTrigger", "EventsRole"}),
        ({"monitor_violations": ["a", "b"]}, {"MonitorViolationTrigger", "EventsRole"}),
    ],
)
def test_triggers_exist_only_when_configured(triggers: dict, expected: set[str]) -> None:
    params, ctx = _build_config({"triggers": triggers})
    assert ctx.findings == []
    assert_fits(DECLARED, params)
    present = _present(params)
    all_triggers = {"NewDataTrigger", "ScheduleTrigger", "MonitorViolationTrigger", "EventsRole"}
    assert present & all_triggers == expected
    if "monitor_violations" in triggers:
        assert params["MonitorAlarmNames"] == "mlops-a-dev-violations,mlops-b-dev-violations"


def test_comparison_and_threshold_follow_the_config() -> None:
    evaluation = {
        **EXAMPLE.data["evaluation"],
        "metric_name": "rmse",
        "threshold": 3,
        "comparison": "LessThan",
    }
    params, ctx = _build_config({"evaluation": evaluation, "register": {}, "use_spot_instances": False})
    assert ctx.findings == []
    assert_fits(DECLARED, params)
    d = definition(params)
    (condition,) = d["Steps"][3]["Arguments"]["Conditions"]
    assert condition["Type"] == "LessThan"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "metrics.rmse.value"
    assert {p["Name"]: p for p in d["Parameters"]}["MetricThreshold"]["DefaultValue"] == 3.0
    train = d["Steps"][1]["Arguments"]
    assert "export-onnx" not in train["HyperParameters"] and "CheckpointConfig" not in train
    assert train["EnableManagedSpotTraining"] is False


def test_kms_key_reaches_every_job_output() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/abc-123"
    params, ctx = _build_config({"kms_key_arn": key, "instance_type": "ml.m5.2xlarge"})
    assert ctx.findings == []
    assert_fits(DECLARED, params)
    steps = definition(params)["Steps"]
    assert steps[0]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert steps[1]["Arguments"]["OutputDataConfig"]["KmsKeyId"] == key
    assert steps[1]["Arguments"]["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert steps[2]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key


def test_a_missing_evaluation_script_is_a_finding() -> None:
    evaluation = {k: v for k, v in EXAMPLE.data["evaluation"].items() if k != "script"}
    _, ctx = _build_config({"evaluation": evaluation})
    assert [f.code for f in ctx.findings] == ["script-required"]
    assert "evaluation.json" in ctx.findings[0].text()


def test_the_definition_is_too_big_for_one_parameter() -> None:
    """Why the template assembles the definition: a parameter value holds at most 4096 bytes."""
    params, _ = build_params(TEMPLATE, EXAMPLE, "dev", ENV)
    assert len(json.dumps(definition(params))) > 4096


SOURCE = "s3://mlops-demo-assets/defects/code/sourcedir.tar.gz"


@pytest.mark.parametrize(
    "changes, expected, policy",
    [
        pytest.param(
            {"algo_hyperparamaters": {"epochs": 3, "optimizer": "adam", "amp": True}},
            {
                "epochs": "3",
                "optimizer": '"adam"',
                "amp": "true",
                "export-onnx": '"true"',
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"{SOURCE}"',
            },
            True,
            id="framework-script-mode-json-encoded-as-the-sdk",
        ),
        pytest.param(
            {
                "algo_hyperparamaters": {"optimizer": "adam"},
                "training": {"entry_point": "src/fit.py", "source_dir": "defects/code/src.tar.gz"},
            },
            {
                "optimizer": '"adam"',
                "export-onnx": '"true"',
                "sagemaker_program": '"src/fit.py"',
                "sagemaker_submit_directory": '"s3://mlops-demo-assets/defects/code/src.tar.gz"',
            },
            True,
            id="assets-key-and-script-in-a-folder",
        ),
        pytest.param(
            {
                "algo_hyperparamaters": {"optimizer": "adam"},
                "custom_image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/defects-train:1",
                "training": None,
            },
            {"optimizer": "adam", "export-onnx": "true"},
            False,
            id="custom-image-keeps-its-own-entry-point",
        ),
    ],
)
def test_the_train_step_has_an_entry_point(changes: dict, expected: dict, policy: bool) -> None:
    """Issue 15 part 5c. A framework training image runs the script named by the hyperparameter
    sagemaker_program from the .tar.gz at sagemaker_submit_directory, both JSON-encoded like every
    other value (SageMaker Python SDK script mode, which encodes them with json.dumps:
    https://sagemaker.readthedocs.io/en/stable/overview.html#prepare-a-training-script; the
    framework containers' https://github.com/aws/sagemaker-training-toolkit reads them, downloads
    and unpacks the .tar.gz and runs the script). The pipeline role may read that archive, in a
    policy of its own."""
    params, ctx = _build_config(changes)
    assert ctx.findings == []
    assert_fits(DECLARED, params)
    train = definition(params)["Steps"][1]["Arguments"]
    assert train["HyperParameters"] == expected
    assert ("TrainingSourcePolicy" in _present(params)) is policy
    if policy:
        statement = _evaluator(params).resource("TrainingSourcePolicy")["Properties"]["PolicyDocument"]
        source = json.loads(expected["sagemaker_submit_directory"])
        assert statement["Statement"] == [
            {
                "Sid": "ReadTrainingSource",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{source[5:]}",
            }
        ]


def test_onnx_is_asked_of_the_training_script_and_the_schema_says_only_that() -> None:
    """Issue 15 part 5e: register.export_onnx passes export-onnx to the training script and tags
    the registered version; the pipeline has no conversion step, no onnxruntime check and registers
    one model package per run, so the schema must not promise an ONNX model "registered alongside"."""
    params, _ = build_params(TEMPLATE, EXAMPLE, "dev", ENV)
    steps = definition(params)["Steps"]
    registers = [s for s in steps[3]["Arguments"]["IfSteps"] if s["Type"] == "RegisterModel"]
    assert len(registers) == 1 and registers[0]["Arguments"]["CustomerMetadataProperties"]["onnx"] == "true"
    assert not [s for s in steps if "onnx" in s["Name"].lower()], "no ONNX step exists"
    schema = json.loads((REPO_ROOT / "pipeline-configs" / "mlops-config.schema.json").read_text())
    promise = schema["properties"]["register"]["properties"]["export_onnx"]["description"]
    assert "alongside" not in promise
    assert "does not convert, check or separately register" in promise


@pytest.mark.parametrize(
    "accounts, expected",
    [
        pytest.param(
            {},
            {"dev": "mlops-p", "staging": "mlops-p-staging", "prod": "mlops-p-prod"},
            id="one-account-a-group-per-stage",
        ),
        pytest.param(
            {"dev": "111111111111", "staging": "222222222222", "prod": "222222222222"},
            {"dev": "mlops-p", "staging": "mlops-p", "prod": "mlops-p-prod"},
            id="staging-and-prod-share-an-account",
        ),
        pytest.param(
            {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"},
            {"dev": "mlops-p", "staging": "mlops-p", "prod": "mlops-p"},
            id="an-account-each-one-name",
        ),
    ],
)
def test_stages_sharing_an_account_create_a_group_each(tmp_repo, accounts: dict, expected: dict) -> None:
    """Issue 15 part 5f. Each stage's stack creates its ModelPackageGroup, and a group name exists
    once per account and region (CreateModelPackageGroup:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackageGroup.html):
    the first stage of an account keeps the group's name, a later one in that account adds -<stage>,
    and validate's name claims (the same function) see no collision."""
    from mlops_gitops.config.validate import validate
    from tests.params_support import valid_config

    environments = json.loads((REPO_ROOT / "pipeline-configs" / "environments.json").read_text())
    for stage in environments["stages"]:
        if stage["name"] in accounts:
            stage["account_id"] = accounts[stage["name"]]
    tmp_repo.write_environments(environments)
    config = {k: v for k, v in EXAMPLE.data.items() if k not in ("stages", "triggers")}
    env = Validator(Repo(tmp_repo.root)).environments()
    cfg = valid_config(tmp_repo, "p", config, env)
    groups = {}
    for stage in cfg.stages:
        params, ctx = build_params(TEMPLATE, cfg, stage, env)
        assert ctx.findings == []
        assert_fits(DECLARED, params)
        groups[stage] = params["ModelPackageGroupName"]
        register = definition(params)["Steps"][3]["Arguments"]["IfSteps"][0]["Arguments"]
        assert register["ModelPackageGroupName"] == groups[stage], "the pipeline registers into its own"
    assert groups == expected
    report, _ = validate(Repo(tmp_repo.root))
    assert [f.text() for f in report.errors] == []
