"""The model-monitor template: every stage of the four monitor examples is created in a moto server
with the builder's parameters, and what moto creates is checked through the service APIs (the state
machine and its definition, the roles, the log group, the EventBridge rules).

moto silently skips the monitoring job definitions, the monitoring schedule and the alarms
(../shared/reference/moto-and-cfn-lint.md), and would fail a stack that GetAtt's them: those are
asserted at template level below, and the template is checked to reach them only through Ref/names.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest

from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.params.monitor import build
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT

REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
TEMPLATE = load_template(REPO_ROOT, "model_monitor.yaml")
BODY = TEMPLATE.body
RESOURCES = BODY["Resources"]
MONITOR_TYPES = {
    "DataQuality": "AWS::SageMaker::DataQualityJobDefinition",
    "ModelQuality": "AWS::SageMaker::ModelQualityJobDefinition",
    "ModelBias": "AWS::SageMaker::ModelBiasJobDefinition",
    "ModelExplainability": "AWS::SageMaker::ModelExplainabilityJobDefinition",
}
NOT_IN_MOTO = {*MONITOR_TYPES.values(), "AWS::SageMaker::MonitoringSchedule", "AWS::CloudWatch::Alarm"}
CONFIGS: dict[str, PipelineConfig] = {}
for _pid in ("churn-data-quality", "churn-model-quality", "churn-bias", "churn-explainability"):
    _cfg, _ = VALIDATOR.check_config(REPO_ROOT / "pipeline-configs" / _pid / "mlops-config.json", ENV)
    assert _cfg is not None
    CONFIGS[_pid] = _cfg
CASES = [
    pytest.param(cfg, stage, id=f"{pid}-{stage}") for pid, cfg in CONFIGS.items() for stage in cfg.stages
]


def _params(cfg: PipelineConfig, stage: str) -> dict[str, str]:
    ctx = ParamContext(cfg, stage, ENV, ENV.region_of(stage))
    params, _ = build(ctx)
    assert ctx.findings == []
    return params


def _short(params: dict[str, str]) -> str:
    return BODY["Mappings"]["Monitor"][params["MonitoringType"]]["Short"]


def _create(aws, cfg: PipelineConfig, stage: str, params: dict[str, str]) -> dict[str, Any]:
    cfn = aws("cloudformation")
    name = f"{ENV.stack_prefix}-{cfg.pipeline_id}-{stage}"
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.text,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Tags=[{"Key": "mlops:pipeline-id", "Value": cfg.pipeline_id}],
        Capabilities=["CAPABILITY_IAM"],
    )
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def _statements(aws, role_name: str) -> list[dict[str, Any]]:
    iam = aws("iam")
    out = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps a CloudFormation role's document as a Python repr,
            document = ast.literal_eval(document)  # with None where AWS::NoValue removed a statement
        out += [s for s in document["Statement"] if s is not None]
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("cfg, stage", CASES)
def test_monitor_stack_is_created_in_moto(aws, cfg: PipelineConfig, stage: str) -> None:
    params = _params(cfg, stage)
    stack = _create(aws, cfg, stage, params)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    prefix, short = params["NamePrefix"], _short(params)
    schedule = f"{prefix}-{short}"
    baseline_dir = f"{params['BaselineOutputUri']}/{prefix}-{short}-{params['BaselineRevision']}"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["MonitoringScheduleName"] == schedule
    assert outputs["MonitoringJobDefinitionName"] == f"{prefix}-{short}-{params['JobRevision']}"
    assert outputs["BaselineUri"] == baseline_dir
    assert outputs["ViolationsAlarmName"] == f"{prefix}-violations"
    assert outputs["MonitoredEndpointName"] == params["EndpointName"]

    resources = aws("cloudformation").list_stack_resources(StackName=stack["StackName"])[
        "StackResourceSummaries"
    ]
    created = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"]}
    assert set(created) == {
        "MonitorRole",
        "StateMachineRole",
        "EventsRole",
        "StateMachineLogs",
        "StateMachine",
        "BaselineTrigger",
        "ReportTrigger",
        *(["ModelTrigger"] if params["MonitoringType"] in ("ModelBias", "ModelExplainability") else []),
        "NotifyTopic",  # the pipeline's notify topic (issue 19), under the account's notify key
        # short messages to the notify topic: drift, and the two alarms (tests/repo/test_notify_rules.py)
        "DriftedRule",
        "ViolationsRule",
        "MonitorFailedRule",
    }, "moto skips the job definition, the schedule, the alarms and the topic policy"

    # the state machine: names, role, logs and the definition it was given
    sfn = aws("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=outputs["MonitorStateMachineArn"])
    assert machine["name"] == f"{prefix}-monitor"
    roles = {r["RoleName"]: r for r in aws("iam").list_roles()["Roles"]}
    role_of = {
        logical: created[logical].rsplit("/", 1)[-1] for logical in ("MonitorRole", "StateMachineRole")
    }
    assert machine["roleArn"] == roles[role_of["StateMachineRole"]]["Arn"]
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/vendedlogs/states/{prefix}")[
        "logGroups"
    ]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [
        (f"/aws/vendedlogs/states/{prefix}-monitor", 90)
    ]
    definition = json.loads(machine["definition"])
    states = definition["States"]
    assert definition["QueryLanguage"] == "JSONata"
    constants = states["Constants"]["Assign"]
    clarify = params["MonitoringType"] in ("ModelBias", "ModelExplainability")
    assert constants["schedule"] == schedule
    assert constants["baselineDir"] == baseline_dir
    assert constants["dataUri"] == params["BaselineDataUri"]
    assert constants["clarify"] is clarify
    assert constants["baselineFile"] == ("analysis.json" if clarify else "constraints.json")
    job = states["ClarifyBaseline" if clarify else "AnalyzerBaseline"]["Arguments"]
    assert job["RoleArn"] == roles[role_of["MonitorRole"]]["Arn"]
    assert job["AppSpecification"] == {"ImageUri": params["ImageUri"]}
    assert job["ProcessingJobName"].startswith(f"{{% '{prefix}-{short}-bl'")
    assert job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == baseline_dir
    assert job["ProcessingInputs"][0]["S3Input"]["S3Uri"] == params["BaselineDataUri"]
    assert job["ProcessingResources"]["ClusterConfig"] == {
        "InstanceType": params["InstanceType"],
        "InstanceCount": 1,
        "VolumeSizeInGB": int(params["VolumeSizeGb"]),
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": int(params["BaselineMaxRuntimeSeconds"])}
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": not clarify}, "Clarify calls a shadow endpoint"
    if clarify:
        assert json.dumps(constants["analysis"], sort_keys=True) == json.dumps(
            json.loads(params["AnalysisConfig"]), sort_keys=True
        )
        assert job["ProcessingInputs"][1]["S3Input"]["S3Uri"] == f"{baseline_dir}/config"
    else:
        env = constants["analyzerEnv"]
        assert json.loads(env["dataset_format"]) == {
            "csv": {"header": True, "output_columns_position": "START"}
        }
        quality = params["MonitoringType"] == "ModelQuality"
        assert env["analysis_type"] == ("MODEL_QUALITY" if quality else "")
        assert env["ground_truth_attribute"] == params.get("BaselineGroundTruthAttribute", "")

    # roles: who may assume them, and what they may touch
    assert "sagemaker.amazonaws.com" in json.dumps(roles[role_of["MonitorRole"]]["AssumeRolePolicyDocument"])
    monitor = _statements(aws, role_of["MonitorRole"])
    for statement in monitor:
        assert not any(a == "*" or a.endswith(":*") for a in _as_list(statement["Action"])), statement
    by_sid = {s["Sid"]: s for s in monitor}
    assert f"arn:aws:s3:::{params['BaselineDataUri'][5:]}" in _as_list(by_sid["ReadInputs"]["Resource"])
    assert f"arn:aws:s3:::{params['DataCaptureUri'][5:]}/*" in _as_list(by_sid["ReadInputs"]["Resource"])
    assert by_sid["WriteReports"]["Resource"] == f"arn:aws:s3:::{params['MonitoringOutputUri'][5:]}/*"
    assert (
        by_sid["ReadWriteBaseline"]["Resource"]
        == f"arn:aws:s3:::{params['BaselineOutputUri'][5:]}/{prefix}-*/*"
    )
    assert ("ClarifyShadowEndpoint" in by_sid) is clarify
    if params["GroundTruthUri"]:
        assert f"arn:aws:s3:::{params['GroundTruthUri'][5:]}/*" in _as_list(by_sid["ReadInputs"]["Resource"])
    machine_role = {s["Sid"]: s for s in _statements(aws, role_of["StateMachineRole"])}
    assert machine_role["HoldAndStartTheSchedule"]["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{schedule}"
    )
    assert machine_role["BaselineJobs"]["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{prefix}-*"
    )
    assert machine_role["PassMonitorRole"]["Resource"] == roles[role_of["MonitorRole"]]["Arn"]
    assert ("FindTheEndpointModel" in machine_role) is clarify
    events_role = created["EventsRole"].rsplit("/", 1)[-1]
    assert [(s["Action"], s["Resource"]) for s in _statements(aws, events_role)] == [
        ("states:StartExecution", outputs["MonitorStateMachineArn"])
    ]

    # the two ways in: a deploy of this stack, and the hourly report
    events = aws("events")
    trigger = events.describe_rule(Name=f"{prefix}-baseline")
    pattern = json.loads(trigger["EventPattern"])
    assert pattern["source"] == ["aws.cloudformation"]
    assert pattern["detail-type"] == ["CloudFormation Stack Status Change"]
    assert pattern["detail"]["stack-id"] == [stack["StackId"]]
    assert pattern["detail"]["status-details"]["status"] == [
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    report = events.describe_rule(Name=f"{prefix}-report")
    assert report["ScheduleExpression"] == "rate(1 hour)"
    for rule, payload in ((trigger, None), (report, {"action": "report"})):
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == outputs["MonitorStateMachineArn"]
        assert target["RoleArn"].rsplit("/", 1)[-1] == events_role
        assert (json.loads(target["Input"]) if target.get("Input") else None) == payload


@pytest.mark.parametrize("pipeline_id", list(CONFIGS))
def test_state_machine_definition_is_valid_asl(aws, pipeline_id: str) -> None:
    """The definition moto received (every Sub resolved) passes cfn-lint's Step Functions schema,
    and every state is reachable; with a KMS key, so that the conditional fragments are in."""
    from cfnlint.api import ManualArgs, lint

    cfg = CONFIGS[pipeline_id]
    params = _params(cfg, "dev")
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    params.update(KmsKeyArn=key, VolumeKmsKeyArn=key)
    stack = _create(aws, cfg, "dev", params)
    arn = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "MonitorStateMachineArn")
    definition = json.loads(aws("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    wrapper = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/x", "Definition": definition},
            }
        },
    }
    assert [str(m) for m in lint(json.dumps(wrapper), config=ManualArgs(regions=["us-east-1"]))] == []
    states = definition["States"]
    targets = {definition["StartAt"]}
    for state in states.values():
        targets |= {state[k] for k in ("Next", "Default") if k in state}
        targets |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
    assert targets == set(states), "every state is reachable and every target exists"
    job = states["ClarifyBaseline" if params["MonitoringType"].startswith("Model") else "AnalyzerBaseline"]
    assert job["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert job["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert states["WriteMonitorConfig"]["Arguments"]["SSEKMSKeyId"] == key


# ---------------------------------------------------------------------- template level (moto skips)


def _walk(node: Any, path: tuple = ()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, (*path, i))


def test_one_job_definition_per_type_with_kms_isolation_and_baseline() -> None:
    definitions = {
        r["Type"]: (name, r) for name, r in RESOURCES.items() if r["Type"] in MONITOR_TYPES.values()
    }
    assert set(definitions) == set(MONITOR_TYPES.values()), "one template serves the four types"
    conditions = BODY["Conditions"]
    for monitoring_type, resource_type in MONITOR_TYPES.items():
        name, resource = definitions[resource_type]
        assert conditions[resource["Condition"]] == {
            "Fn::Equals": [{"Ref": "MonitoringType"}, monitoring_type]
        }
        props = resource["Properties"]
        short = BODY["Mappings"]["Monitor"][monitoring_type]["Short"]
        assert props["JobDefinitionName"] == {"Fn::Sub": f"${{NamePrefix}}-{short}-${{JobRevision}}"}
        assert props["RoleArn"] == {"Fn::GetAtt": ["MonitorRole", "Arn"]}
        cluster = props["JobResources"]["ClusterConfig"]
        assert cluster["VolumeKmsKeyId"] == {
            "Fn::If": ["HasVolumeKms", {"Ref": "VolumeKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
        }
        assert props[f"{monitoring_type}JobOutputConfig"]["KmsKeyId"] == {
            "Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]
        }
        assert props["NetworkConfig"]["EnableNetworkIsolation"] is (monitoring_type != "ModelExplainability")
        assert props[f"{monitoring_type}AppSpecification"]["ImageUri"] == {"Ref": "ImageUri"}
        assert props[f"{monitoring_type}AppSpecification"]["Environment"] == {
            "publish_cloudwatch_metrics": "Enabled"
        }
        endpoint = props[f"{monitoring_type}JobInput"]["EndpointInput"]
        assert endpoint["EndpointName"] == {"Ref": "EndpointName"}
        baseline_file = BODY["Mappings"]["Monitor"][monitoring_type]["BaselineFile"]
        constraints = props[f"{monitoring_type}BaselineConfig"]["ConstraintsResource"]["S3Uri"]["Fn::Sub"]
        assert (
            constraints
            == f"${{BaselineOutputUri}}/${{NamePrefix}}-{short}-${{BaselineRevision}}/{baseline_file}"
        )
        if monitoring_type in ("ModelQuality", "ModelBias"):
            assert props[f"{monitoring_type}JobInput"]["GroundTruthS3Input"] == {
                "S3Uri": {"Ref": "GroundTruthUri"}
            }
        if monitoring_type in ("ModelBias", "ModelExplainability"):
            config = props[f"{monitoring_type}AppSpecification"]["ConfigUri"]["Fn::Sub"]
            assert config.endswith(f"-{short}-${{BaselineRevision}}/monitor/analysis_config.json")
    assert definitions[MONITOR_TYPES["DataQuality"]][1]["Properties"]["DataQualityBaselineConfig"][
        "StatisticsResource"
    ]


def test_schedule_has_a_stable_name_and_waits_for_the_trigger() -> None:
    schedule = RESOURCES["MonitoringSchedule"]
    props = schedule["Properties"]
    assert schedule["DependsOn"] == "BaselineTrigger", "the trigger exists before the schedule's event"
    name = props["MonitoringScheduleName"]["Fn::Sub"]
    assert name[0] == "${NamePrefix}-${Short}", "no revision: the schedule is updated in place"
    config = props["MonitoringScheduleConfig"]
    assert config["MonitoringType"] == {"Ref": "MonitoringType"}
    assert config["ScheduleConfig"] == {"ScheduleExpression": {"Ref": "ScheduleExpression"}}
    assert props["EndpointName"] == {"Ref": "EndpointName"}
    chosen = json.dumps(config["MonitoringJobDefinitionName"])
    for name, resource in RESOURCES.items():
        if resource["Type"] in MONITOR_TYPES.values():
            assert json.dumps({"Ref": name}) in chosen
    trigger = RESOURCES["BaselineTrigger"]["Properties"]["EventPattern"]
    assert trigger["detail"]["stack-id"] == [{"Ref": "AWS::StackId"}], "this stack's deploys only"


def test_alarms_watch_violations_and_failures() -> None:
    alarms = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"ViolationsAlarm", "MonitorFailedAlarm"}
    violations = alarms["ViolationsAlarm"]
    assert violations["AlarmName"] == {"Fn::Sub": "${NamePrefix}-violations"}
    assert (violations["Namespace"], violations["MetricName"]) == ("mlops-gitops/ModelMonitor", "Violations")
    assert violations["Dimensions"][0]["Name"] == "MonitoringSchedule"
    assert (
        violations["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and violations["Threshold"] == 1
    )
    failed = alarms["MonitorFailedAlarm"]
    metrics = {m["Id"]: m for m in failed["Metrics"]}
    assert metrics["failedBaselines"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsFailed"
    assert metrics["failedExecutions"]["MetricStat"]["Metric"]["MetricName"] == "FailedExecutions"
    for props in alarms.values():  # people get the rules' short messages (tests/repo/test_notify_rules.py)
        assert props["AlarmActions"] == {"Fn::If": ["HasTopic", [{"Ref": "NotificationTopicArn"}], []]}
    # the state machine publishes exactly what the alarms read
    text = RESOURCES["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][0]
    assert '"Namespace": "mlops-gitops/ModelMonitor"' in text
    assert '"MetricName": "Violations"' in text and '"MetricName": "FailedExecutions"' in text
    assert "CompletedWithViolations" in text


def test_the_baseline_comes_before_the_schedule_runs() -> None:
    text = RESOURCES["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][0]
    for fragment in (
        "aws-sdk:s3:listObjectsV2",  # is this revision's baseline there?
        "aws-sdk:sagemaker:stopMonitoringSchedule",  # if not, hold the schedule
        "sagemaker:createProcessingJob.sync",  # run the baseline and wait for it
        "aws-sdk:sagemaker:startMonitoringSchedule",  # only then start the schedule
    ):
        assert fragment in text, fragment
    assert text.count("createProcessingJob.sync") == 2, "analyzer and Clarify baselines"
    assert text.count('"Next": "BaselineFailed"') == 2, "a failed baseline never starts the schedule"


def test_nothing_moto_skips_is_reached_through_getatt_or_outputs() -> None:
    skipped = {name for name, r in RESOURCES.items() if r["Type"] in NOT_IN_MOTO}
    for path, node in _walk(BODY):
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            assert node["Fn::GetAtt"][0] not in skipped, path
        if isinstance(node, dict) and node.get("Ref") in skipped:
            assert path[:2] == ("Resources", "MonitoringSchedule"), (
                f"only the schedule refers to {node}: {path}"
            )
    assert "DependsOn" not in {k for r in RESOURCES.values() if r["Type"] not in NOT_IN_MOTO for k in r}


def test_the_state_machine_logs_to_its_own_log_group() -> None:
    # moto drops LoggingConfiguration from CloudFormation (describe_state_machine says OFF)
    logging = RESOURCES["StateMachine"]["Properties"]["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogs", "Arn"]}}}
    ]
    logs = RESOURCES["StateMachineLogs"]
    assert (logs["DeletionPolicy"], logs["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert logs["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_type_has_its_image_repository_and_short_name() -> None:
    mapping = BODY["Mappings"]["Monitor"]
    assert set(mapping) == set(MONITOR_TYPES) == set(BODY["Parameters"]["MonitoringType"]["AllowedValues"])
    assert len({m["Short"] for m in mapping.values()}) == 4
    assert {t: m["Image"] for t, m in mapping.items()} == {
        "DataQuality": "sagemaker-model-monitor-analyzer",
        "ModelQuality": "sagemaker-model-monitor-analyzer",
        "ModelBias": "sagemaker-clarify-processing",
        "ModelExplainability": "sagemaker-clarify-processing",
    }


@pytest.mark.parametrize("pipeline_id", list(CONFIGS))
def test_clarify_monitors_follow_the_endpoints_current_model(aws, pipeline_id: str) -> None:
    """Issue 15 part 5b. The Clarify job definitions name no model: the monitoring job builds its
    shadow endpoint from predictor.model_name in the analysis config at ConfigUri
    (https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-config-json-monitor-model-explainability-parameters.html).
    When the endpoint is back IN_SERVICE (after a model update, an EventBridge "SageMaker Endpoint
    State Change": https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html),
    the state machine compares the served model with the one the baseline config names and, when they
    differ, takes the baseline path (hold, rewrite the configs with the served model, re-baseline, start)."""
    cfg = CONFIGS[pipeline_id]
    params = _params(cfg, "dev")
    clarify = params["MonitoringType"] in ("ModelBias", "ModelExplainability")
    stack = _create(aws, cfg, "dev", params)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    events = aws("events")
    rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    name = f"{params['NamePrefix']}-follow-model"
    assert (name in rules) is clarify, "only Clarify monitors run the model"
    definition = json.loads(
        aws("stepfunctions").describe_state_machine(stateMachineArn=outputs["MonitorStateMachineArn"])[
            "definition"
        ]
    )
    states = definition["States"]
    if not clarify:
        return
    assert json.loads(rules[name]["EventPattern"]) == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Endpoint State Change"],
        "detail": {"EndpointName": [params["EndpointName"]], "EndpointStatus": ["IN_SERVICE"]},
    }
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    assert target["Arn"] == outputs["MonitorStateMachineArn"]
    assert json.loads(target["Input"]) == {"action": "follow-model"}
    (route,) = [c for c in states["Route"]["Choices"] if "follow-model" in c["Condition"]]
    step = states[route["Next"]]
    assert step["Resource"].endswith("aws-sdk:sagemaker:describeEndpoint")
    assert step["Arguments"] == {"EndpointName": params["EndpointName"]}
    step = states[step["Next"]]
    assert step["Resource"].endswith("aws-sdk:sagemaker:describeEndpointConfig")
    assert step["Assign"]["model"] == "{% $states.result.ProductionVariants[0].ModelName %}"
    step = states[step["Next"]]
    assert step["Resource"].endswith("aws-sdk:s3:getObject")
    assert step["Arguments"]["Key"] == "{% $baselineKey & '/config/analysis_config.json' %}"
    assert step["Assign"]["baselineModel"] == "{% $parse($states.result.Body).predictor.model_name %}"
    choice = states[step["Next"]]
    assert choice["Choices"] == [{"Condition": "{% $baselineModel = $model %}", "Next": "Monitoring"}]
    assert choice["Default"] == "ReadScheduleToHold", "another model: the baseline path"
    # that path writes the served model into both configs the jobs read
    assert "'model_name': $model" in states["WriteBaselineConfig"]["Arguments"]["Body"]
    assert "'model_name': $model" in states["WriteMonitorConfig"]["Arguments"]["Body"]
    job_definition = next(
        r for r in RESOURCES.values() if r["Type"] == MONITOR_TYPES[params["MonitoringType"]]
    )["Properties"]
    spec = job_definition[f"{params['MonitoringType']}AppSpecification"]
    assert spec["ConfigUri"]["Fn::Sub"].endswith("/monitor/analysis_config.json"), "the file rewritten"
