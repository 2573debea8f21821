"""Every training, tuning and Autopilot example builds its parameters for every stage, and the
stack is created in a moto server; the state machine, roles, topic, log group and the rule that
starts a run on the stack's own create/update are then checked through the service APIs.

What moto does not do is asserted at template level here: it neither enforces the parameters'
constraints (tests/unit/core/params/test_training_params.py does) nor delivers CloudFormation status events to
rules, nor runs the definition, so the trigger's pattern is read from the template.
"""

from __future__ import annotations

import ast
import json

import pytest

from mlops_gitops import names
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.params import builder_for
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.templates import PIPELINES_DIR, load_template
from mlops_gitops.repo import Repo
from tests.aws.conftest import orchestrator_basics
from tests.conftest import REPO_ROOT

ARTIFACT_BUCKET = "mlops-artifacts-111122223333"
TEMPLATE = "model_training.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
SHORT = {"Training": "training", "Tuning": "tuning", "Autopilot": "autopilot"}
JOB_RESOURCE = {"Training": "training-job", "Tuning": "hyper-parameter-tuning-job", "Autopilot": "automl-job"}
CASES = []
for _name in ("churn-training", "churn-tuning", "churn-autopilot"):
    _cfg, _ = VALIDATOR.check_config(REPO.configs_dir / _name / "mlops-config.json", ENV)
    assert _cfg is not None, _name
    CASES += [pytest.param(_cfg, stage, id=f"{_name}-{stage}") for stage in _cfg.stages]


def _policy_statements(iam, role_name: str) -> list[dict]:
    out = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps CloudFormation's inline policies as a Python repr
            try:
                document = json.loads(document)
            except ValueError:
                document = ast.literal_eval(document)
        out += [s for s in document["Statement"] if s]  # AWS::NoValue statements read back as None
    return out


def _by_trust(iam, service: str, roles: list[dict]) -> dict:
    found = [r for r in roles if service in json.dumps(r["AssumeRolePolicyDocument"])]
    assert len(found) == 1, service
    return found[0]


@pytest.mark.parametrize("cfg, stage", CASES)
def test_training_stack_is_created_in_moto(aws, cfg, stage) -> None:
    ctx = ParamContext(cfg, stage, ENV, "us-east-1")
    params, deferred = builder_for(TEMPLATE)(ctx)
    assert ctx.findings == [] and deferred == {}
    orchestrator_basics(aws, ARTIFACT_BUCKET, upload_lambdas=False)
    cfn = aws("cloudformation")
    stack_name = names.stack_name(ENV.stack_prefix, cfg.pipeline_id, stage)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=(REPO_ROOT / PIPELINES_DIR / TEMPLATE).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Tags=[{"Key": "mlops:pipeline", "Value": cfg.pipeline_id}],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    kind, prefix = params["JobKind"], params["NamePrefix"]
    short = SHORT[kind]
    assert outputs["JobKind"] == kind and outputs["JobOutputUri"] == params["JobOutputUri"]

    # the state machine, with the definition moto resolved
    sfn = aws("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == [f"{prefix}-{short}"]
    assert machines[0]["stateMachineArn"] == outputs["TrainingStateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=outputs["TrainingStateMachineArn"])
    states = json.loads(described["definition"])["States"]
    assert states["Name"]["Parameters"]["name.$"].startswith(f"States.Format('{params['JobNamePrefix']}-")

    # roles: the job role (SageMaker), the state machine's, and EventBridge's
    iam = aws("iam")
    roles = iam.list_roles()["Roles"]
    job_role = _by_trust(iam, "sagemaker.amazonaws.com", roles)
    machine_role = _by_trust(iam, "states.amazonaws.com", roles)
    events_role = _by_trust(iam, "events.amazonaws.com", roles)
    assert described["roleArn"] == machine_role["Arn"]
    run = states["Run"]["Parameters"]
    role_in_definition = run.get("RoleArn") or run.get("TrainingJobDefinition", {}).get("RoleArn")
    assert role_in_definition == job_role["Arn"]

    job_statements = {s.get("Sid"): s for s in _policy_statements(iam, job_role["RoleName"])}
    data_bucket = params["TrainingDataUri"].split("/")[2]
    output_bucket = params["JobOutputUri"].split("/")[2]
    assert job_statements["ReadTrainingData"]["Resource"] == [
        f"arn:aws:s3:::{data_bucket}",
        f"arn:aws:s3:::{data_bucket}/*",
    ]
    assert f"arn:aws:s3:::{output_bucket}/*" in job_statements["WriteOutput"]["Resource"]
    assert ("ReadValidationData" in job_statements) == bool(params.get("ValidationDataUri"))
    assert ("UseTheStackKey" in job_statements) == bool(params["KmsKeyArn"])
    assert ("ChildJobs" in job_statements) == (kind == "Autopilot"), (
        "Autopilot's child jobs only for Autopilot"
    )

    machine = {s.get("Sid"): s for s in _policy_statements(iam, machine_role["RoleName"])}
    assert machine["Jobs"]["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:{JOB_RESOURCE[kind]}/{params['JobNamePrefix']}-*"
    )
    assert all(a.startswith("sagemaker:") for a in machine["Jobs"]["Action"])
    assert machine["PassJobRole"]["Resource"] == job_role["Arn"]
    assert machine["PassJobRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert ("WaitForJobs" in machine) == (kind != "Autopilot"), (
        ".sync's managed rule, not for the polled Autopilot"
    )
    topics = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    # without a topic of the config's, outcomes go to the pipeline's notify topic (issue 19): an
    # Autopilot job's from the state machine, a training or tuning job's from the stack's rules on
    # SageMaker's job events (tests/repo/test_notify_rules.py), so that state machine publishes nothing
    assert outputs["OutcomeTopicArn"] in topics and outputs["OutcomeTopicArn"] == outputs["NotifyTopicArn"]
    if kind == "Autopilot":
        assert machine["Report"]["Resource"] == outputs["OutcomeTopicArn"]
    else:
        assert "Report" not in machine
        outcome_rules = aws("events").list_rules(NamePrefix=f"{prefix}-{short}-")["Rules"]
        assert {r["Name"] for r in outcome_rules} >= {
            f"{prefix}-{short}-completed",
            f"{prefix}-{short}-failed",
        }

    # the rule starting a run when the stack is created or updated
    events = aws("events")
    rule = events.describe_rule(Name=f"{prefix}-{short}-deployed")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["stack-id"] == [stack["StackId"]]
    targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert [(t["Arn"], t["RoleArn"]) for t in targets] == [
        (outputs["TrainingStateMachineArn"], events_role["Arn"])
    ]
    starts = _policy_statements(iam, events_role["RoleName"])
    assert starts == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": outputs["TrainingStateMachineArn"]}
    ]

    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/vendedlogs/states/{prefix}-{short}")[
        "logGroups"
    ]
    assert [g.get("retentionInDays") for g in groups] == [90]


def test_a_run_starts_on_create_and_update_only() -> None:
    """moto stores the rule but never delivers CloudFormation's status events: read the pattern."""
    trigger = BODY["Resources"]["DeployTrigger"]["Properties"]
    statuses = trigger["EventPattern"]["detail"]["status-details"]["status"]
    assert statuses == ["CREATE_COMPLETE", "UPDATE_COMPLETE"], (
        "an unchanged config updates nothing, runs nothing"
    )
    assert trigger["EventPattern"]["detail"]["stack-id"] == [{"Ref": "AWS::StackId"}]


def test_no_custom_resource_and_no_resource_tags() -> None:
    """MWO's async Lambda custom resources are gone: the stack holds only what it owns."""
    types = {r["Type"] for r in BODY["Resources"].values()}
    assert not any(t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource" for t in types)
    assert types == {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",  # the notify topic's (issue 19); its key is the account's
        "AWS::Logs::LogGroup",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
    }
    for name, resource in BODY["Resources"].items():
        assert "Tags" not in resource.get("Properties", {}), name
