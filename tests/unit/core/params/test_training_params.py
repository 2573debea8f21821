"""Parameters of the training template (training, tuning and Autopilot): what the builder gives for
each example in every stage fits the template's declared parameters, and the state machine
definition, substituted with those parameters, is the JSON each kind needs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.params.training import job_name_prefix, parameter_ranges
from mlops_gitops.core.render import parameter_problem
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.params_support import build_params

TEMPLATE = "model_training.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
DECLARED = BODY["Parameters"]
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
EXAMPLES = {}
for _name in ("churn-training", "churn-tuning", "churn-autopilot"):
    _cfg, _ = VALIDATOR.check_config(REPO.configs_dir / _name / "mlops-config.json", ENV)
    assert _cfg is not None, _name
    EXAMPLES[_name] = _cfg
CASES = [
    pytest.param(cfg, stage, id=f"{name}-{stage}") for name, cfg in EXAMPLES.items() for stage in cfg.stages
]
ROLE_ARN = "arn:aws:iam::111122223333:role/job-role"
TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:outcome"


def _build(cfg: PipelineConfig, stage: str) -> tuple[dict[str, str], ParamContext]:
    return build_params(TEMPLATE, cfg, stage, ENV)


def _evaluator(params: dict[str, str]) -> Evaluator:
    """The template evaluated as CloudFormation would: the outcome topic and roles stand in as ARNs."""
    return Evaluator(
        BODY,
        parameter_values(BODY, params),
        {"AWS::AccountId": "111122223333"},
        lambda name, attr: TOPIC_ARN if name == "NotifyTopic" and attr is None else ROLE_ARN,
    )


def definition(params: dict[str, str]) -> dict[str, Any]:
    text = _evaluator(params)(BODY["Resources"]["StateMachine"]["Properties"]["DefinitionString"])
    return json.loads(text)


@pytest.mark.parametrize("cfg, stage", CASES)
def test_every_stage_of_the_examples_fits_the_template(cfg: PipelineConfig, stage: str) -> None:
    params, ctx = _build(cfg, stage)
    assert ctx.findings == []
    assert set(params) <= set(DECLARED), "the builder passes only declared parameters"
    needed = {n for n, spec in DECLARED.items() if "Default" not in spec}
    assert needed <= set(params), f"no value for {sorted(needed - set(params))}"
    for name, value in params.items():
        assert isinstance(value, str), name
        assert parameter_problem(DECLARED[name], value) is None, (name, value)


@pytest.mark.parametrize("cfg, stage", CASES)
def test_definition_is_json_for_each_kind(cfg: PipelineConfig, stage: str) -> None:
    params, _ = _build(cfg, stage)
    states = definition(params)["States"]
    run = states["Run"]
    assert states["Name"]["Parameters"]["name.$"].startswith(
        f"States.Format('{params['JobNamePrefix']}-{{}}'"
    )
    assert {"ReportSuccess", "ReportFailure", "Failed"} <= set(states)
    assert run["Catch"][0]["Next"] == "ReportFailure"
    kind = params["JobKind"]
    if kind == "Autopilot":
        assert run["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createAutoMLJobV2"
        p = run["Parameters"]
        tabular = p["AutoMLProblemTypeConfig"]["TabularJobConfig"]
        assert tabular["TargetAttributeName"] == params["TargetAttribute"]
        assert tabular["ProblemType"] == params["ProblemType"]
        assert tabular["CompletionCriteria"]["MaxCandidates"] == int(params["AutopilotMaxCandidates"])
        assert p["AutoMLJobObjective"] == {"MetricName": params["AutopilotObjective"]}
        assert p["RoleArn"] == ROLE_ARN
        assert states["Poll"]["Resource"].endswith("describeAutoMLJobV2")
        choices = states["Finished"]["Choices"]
        assert choices[0]["Next"] == "ReportSuccess" and choices[1]["Next"] == "JobEnded"
        return
    api = "createTrainingJob" if kind == "Training" else "createHyperParameterTuningJob"
    assert run["Resource"] == f"arn:aws:states:::sagemaker:{api}.sync"
    if kind == "Training":
        job = run["Parameters"]
        assert job["TrainingJobName.$"] == "$.run.name"
        assert job["HyperParameters"] == json.loads(params["Hyperparameters"])
    else:
        p = run["Parameters"]
        config = p["HyperParameterTuningJobConfig"]
        assert config["HyperParameterTuningJobObjective"]["MetricName"] == params["TunerObjectiveMetric"]
        assert config["ParameterRanges"] == json.loads(params["ParameterRanges"])
        assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == int(params["TunerMaxJobs"])
        job = p["TrainingJobDefinition"]
        assert job["StaticHyperParameters"] == json.loads(params["Hyperparameters"])
        assert not set(job["StaticHyperParameters"]) & {
            r["Name"] for v in config["ParameterRanges"].values() for r in v
        }
    assert job["AlgorithmSpecification"]["TrainingImage"] == params["ImageUri"]
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == params["TrainingDataUri"]
    assert ("validation" in channels) == bool(params.get("ValidationDataUri"))
    assert job["ResourceConfig"]["InstanceType"] == params["InstanceType"]
    spot = params["UseSpotInstances"] == "true"
    assert job["EnableManagedSpotTraining"] is spot
    assert ("MaxWaitTimeInSeconds" in job["StoppingCondition"]) is spot
    assert ("CheckpointConfig" in job) is spot


def test_kms_and_optional_parts_reach_the_definition() -> None:
    params, _ = _build(EXAMPLES["churn-training"], "dev")
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    params.update(
        KmsKeyArn=key,
        VolumeKmsKeyArn=key,
        S3DataType="AugmentedManifestFile",
        AttributeNames='["source-ref","label"]',
        ValidationDataUri="",
        UseSpotInstances="false",
    )
    job = definition(params)["States"]["Run"]["Parameters"]
    assert job["OutputDataConfig"]["KmsKeyId"] == key
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["train"]
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["AttributeNames"] == [
        "source-ref",
        "label",
    ]
    auto, _ = _build(EXAMPLES["churn-autopilot"], "dev")
    auto.update(ProblemType="", AutopilotObjective="", KmsKeyArn=key, VolumeKmsKeyArn=key)
    p = definition(auto)["States"]["Run"]["Parameters"]
    assert (
        "AutoMLJobObjective" not in p
        and "ProblemType" not in p["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    )
    assert p["SecurityConfig"]["VolumeKmsKeyId"] == key and p["OutputDataConfig"]["KmsKeyId"] == key


def test_job_name_prefixes_leave_room_for_the_run_suffix() -> None:
    ctx = ParamContext(EXAMPLES["churn-tuning"], "dev", ENV, "us-east-1")
    base = "mlops-" + "a" * 45
    assert len(job_name_prefix(ctx, "Training", base)) + 9 <= 63
    for kind in ("Tuning", "Autopilot"):
        prefix = job_name_prefix(ctx, kind, base)
        assert len(prefix) + 9 <= 32 and not prefix.endswith("-")
    assert job_name_prefix(ctx, "Training", "Mlops--Churn") == "mlops-churn"


def test_two_pipelines_whose_names_share_the_cut_never_share_a_job_name_prefix() -> None:
    """Tuning and Autopilot job names are capped at 32 characters, so a long name is cut to 23; the
    cut ends in a hash of the full stack name (issue 19): customer-churn-tuning-v1 and -v2 share
    their first 23 characters but not their prefix. A name that fits is kept as it is."""
    from mlops_gitops.config.rules.job_names import job_name_prefix as pure

    prefixes = {}
    for suffix in ("v1", "v2"):
        cfg = dataclasses.replace(EXAMPLES["churn-tuning"], pipeline_id=f"customer-churn-tuning-{suffix}")
        ctx = ParamContext(cfg, "dev", ENV, "us-east-1")
        base = f"mlops-customer-churn-tuning-{suffix}-dev"
        prefixes[suffix] = job_name_prefix(ctx, "Tuning", base)
        assert len(prefixes[suffix]) <= 23 and prefixes[suffix].startswith("mlops-customer-")
        assert prefixes[suffix] == pure(None, base, "Tuning", base)  # the stack name is the base
    assert prefixes["v1"] != prefixes["v2"]
    assert not prefixes["v1"].startswith(prefixes["v2"] + "-") and not prefixes["v2"].startswith(
        prefixes["v1"] + "-"
    )
    assert (
        pure(None, "mlops-churn-tuning-dev", "Tuning", "mlops-churn-tuning-dev") == "mlops-churn-tuning-dev"
    )
    # the same long job_name in two stacks: two prefixes
    assert pure("a-very-long-job-name-for-tuning", "x", "Tuning", "s1") != pure(
        "a-very-long-job-name-for-tuning", "x", "Tuning", "s2"
    )


def test_parameter_ranges_follow_sagemaker() -> None:
    assert parameter_ranges({"eta": ["continuous", [0.1, 0.5]], "depth": ["integer", [1, 10], "Linear"]}) == {
        "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}],
        "IntegerParameterRanges": [
            {"Name": "depth", "MinValue": "1", "MaxValue": "10", "ScalingType": "Linear"}
        ],
    }
