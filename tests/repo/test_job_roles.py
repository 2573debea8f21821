"""Issue 15 C: what SageMaker does with our job roles beyond the jobs we start, judged with the policy
evaluator (tests/repo/iam_eval.py) on the templates as rendered for the example configs.

- Autopilot in AUTO mode picks hyperparameter optimisation (HPO) for data over 100 MB and then runs
  hyperparameter tuning jobs under the job's role
  (https://docs.aws.amazon.com/sagemaker/latest/dg/autopilot-model-support-validation.html;
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoMLJobConfig.html, Mode).
- SageMaker Pipelines creates an experiment, a run group per execution and a run per job unless the
  definition's PipelineExperimentConfig is null ("set pipeline_experiment_config to None",
  https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-experiments.html). We turn it off: nothing
  reads those entities, deleting the pipeline leaves them behind, and the role needs no Experiments
  permissions."""

from __future__ import annotations

import json

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import PIPELINES_DIR, _parse
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.repo.iam_eval import allowed

pytestmark = pytest.mark.repo

REGION, ACCOUNT = "us-east-1", "123456789012"  # the Evaluator's pseudo parameters


def rendered(template: str, pipeline: str) -> tuple[dict, Evaluator]:
    repo = Repo(REPO_ROOT)
    validator = Validator(repo)
    env = validator.environments()
    cfg, _ = validator.check_config(repo.configs_dir / pipeline / "mlops-config.json", env)
    assert cfg is not None, pipeline
    params, _ = builder_for(template)(ParamContext(cfg, cfg.stages[0], env, REGION))
    body = _parse((REPO_ROOT / PIPELINES_DIR / template).read_text())
    return body, Evaluator(body, parameter_values(body, params))


def statements_of(body: dict, ev: Evaluator, role: str) -> list[dict]:
    """The role's inline policies and the AWS::IAM::Policy resources attached to it."""
    out = [
        s
        for p in ev.resource(role)["Properties"].get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
    ]
    for name, res in body["Resources"].items():
        if res["Type"] == "AWS::IAM::Policy" and ev.present(name):
            props = ev.resource(name)["Properties"]
            if f"<{role}>" in props["Roles"]:
                out += props["PolicyDocument"]["Statement"]
    return out


TUNING = [
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:DescribeHyperParameterTuningJob",
    "sagemaker:StopHyperParameterTuningJob",
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
]


def test_autopilot_job_role_runs_the_tuning_jobs_of_hpo_mode() -> None:
    body, ev = rendered("model_training.yaml", "churn-autopilot")
    sts = statements_of(body, ev, "JobRole")
    # Autopilot names its child jobs itself
    tuning_job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/churn-autopilo-abc12"
    for action in TUNING:
        assert allowed(sts, action, tuning_job), action
    training_job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/churn-autopilo-abc12-001-1f2e3d4c"
    assert allowed(sts, "sagemaker:CreateTrainingJob", training_job)
    # ...in this account and region only
    other = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:hyper-parameter-tuning-job/x"
    assert not allowed(sts, "sagemaker:CreateHyperParameterTuningJob", other)


def test_a_training_job_role_gets_no_tuning_jobs() -> None:
    body, ev = rendered("model_training.yaml", "churn-training")
    sts = statements_of(body, ev, "JobRole")
    tuning_job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:hyper-parameter-tuning-job/x"
    assert not any(allowed(sts, action, tuning_job) for action in TUNING)


def test_the_training_pipeline_tracks_no_experiments_and_needs_no_experiments_permissions() -> None:
    body, ev = rendered("model_training_pipeline.yaml", "defects-detector")
    definition = json.loads(
        ev.resource("Pipeline")["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    )
    assert "PipelineExperimentConfig" in definition and definition["PipelineExperimentConfig"] is None
    sts = statements_of(body, ev, "PipelineRole")
    for action in (
        "sagemaker:CreateExperiment",
        "sagemaker:CreateTrial",
        "sagemaker:AssociateTrialComponent",
    ):
        assert not allowed(sts, action, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:experiment/x"), action
