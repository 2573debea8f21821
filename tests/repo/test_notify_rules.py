"""The messages a pipeline stack's own EventBridge rules send its owners (issue 19): each rule's
pattern matches the event AWS documents (the sample is in the test, with its page), the input
transformer turns that event into exactly the golden message (tests/golden/notify/), the rule is
named <NamePrefix>-* so that the topic policy admits it, and the drift build still publishes nothing
(tests/repo/test_notify_policies.py)."""

from __future__ import annotations

import json

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import load_template, mapping
from mlops_gitops.report.notify import drift_next_step, drift_summary
from tests.conftest import REPO_ROOT
from tests.repo.eventbridge import matches, transform
from tests.repo.iam_eval import allowed, as_list, stand_ins

pytestmark = pytest.mark.repo

TEMPLATES = sorted(mapping(REPO_ROOT)["templates"])
GOLDEN = REPO_ROOT / "tests" / "golden" / "notify"
ACCOUNT, REGION = "123456789012", "us-east-1"
PREFIX = STACK = "mlops-fraud-ab-prod"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/5b8a2f10-3c1d-11ef-9a6b-0e1f2a3b4c5d"
OWN_TOPIC = f"arn:aws:sns:{REGION}:111122223333:team-alerts"
NOTIFY_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-notify"


def role_arn(logical_id: str, stack: str = STACK) -> str:
    """The ARN CloudFormation gives a role without a RoleName (<stack>-<logical id>-<suffix>)."""
    return f"arn:aws:iam::{ACCOUNT}:role/{stack}-{logical_id}-1A2B3C4D5E6F"


def evaluator(name: str, **given: str) -> Evaluator:
    body = load_template(REPO_ROOT, name).body

    def resources(r: str, attribute: str | None) -> str:
        if r == "NotifyTopic" and attribute is None:
            return NOTIFY_TOPIC
        if attribute == "Arn" and body["Resources"][r]["Type"] == "AWS::IAM::Role":
            return role_arn(r)
        if attribute == "ModelName":  # the model's own ModelName property
            return ev(body["Resources"][r]["Properties"]["ModelName"])
        return f"<{r}>"

    required = stand_ins(body)
    params = {**required, "NamePrefix": PREFIX, "PipelineId": "fraud-ab", "Stage": "prod", **given}
    ev = Evaluator(
        body,
        parameter_values(body, params),
        pseudo={"AWS::StackName": STACK, "AWS::StackId": STACK_ID},
        resources=resources,
    )
    return ev


def own_topic_cases(name: str) -> list[str]:
    """With and without the config's own topic, where the template takes one."""
    body = load_template(REPO_ROOT, name).body
    return ["", OWN_TOPIC] if "NotificationTopicArn" in body["Parameters"] else [""]


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8").rstrip("\n")


# Free text an event may carry (the job's FailureReason, written by the job's code; an alarm's
# description and CloudWatch's reasons), with what breaks a quoted template when EventBridge inserts
# it unescaped: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html#eb-transform-input-issues
HOSTILE = 'Error: "quoted"\nsecond line \\ back\\slash \\"'
FREE_TEXT = [
    ("detail", "FailureReason"),
    ("detail", "configuration", "description"),
    ("detail", "state", "reason"),
    ("detail", "previousState", "reason"),
]


def hostile(event: dict) -> dict:
    """The event with every free-text field it carries set to HOSTILE."""
    out = json.loads(json.dumps(event))
    for path in FREE_TEXT:
        node = out
        for step in path[:-1]:
            node = node.get(step, {})
        if path[-1] in node:
            node[path[-1]] = HOSTILE
    return out


def test_the_test_model_of_eventbridge_inserts_values_unescaped() -> None:
    """A template that inserts free text fails here, as its message would fail in EventBridge."""
    free = {"InputPathsMap": {"why": "$.detail.FailureReason"}, "InputTemplate": '"failed: <why>"'}
    assert transform(free, {"detail": {"FailureReason": "plain"}}) == "failed: plain"
    with pytest.raises(AssertionError, match="not valid JSON"):
        transform(free, {"detail": {"FailureReason": HOSTILE}})


def admitted_by_topic_policy(ev: Evaluator, rule_name: str) -> bool:
    """The topic policy, as IAM evaluates it for EventBridge publishing on behalf of this rule."""
    statements = ev.resource("NotifyTopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    service = "events.amazonaws.com"
    mine = [
        s for s in statements if s["Principal"] == "*" or service in as_list(s["Principal"].get("Service"))
    ]
    context = {
        "aws:SecureTransport": "true",
        "aws:PrincipalServiceName": service,
        "aws:SourceAccount": ACCOUNT,
        "aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}",
    }
    return allowed(mine, "sns:Publish", NOTIFY_TOPIC, context)


def check_targets(ev: Evaluator, rule: dict, own: str, event: dict, golden_file: str) -> None:
    """Every target is an SNS topic, the notify topic among them (plus the config's own topic when
    given), and each turns the event into the golden message."""
    targets = rule["Targets"]
    assert [t["Arn"] for t in targets] == [NOTIFY_TOPIC, *([own] if own else [])]
    assert len({t["Id"] for t in targets}) == len(targets) <= 5
    for target in targets:
        assert transform(target["InputTransformer"], event) == golden(golden_file)
        assert transform(target["InputTransformer"], hostile(event)) == golden(golden_file)
    assert rule["Name"].startswith(f"{PREFIX}-") and admitted_by_topic_policy(ev, rule["Name"])


# ---------------------------------------------------------------------------------------- drift

# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-drift-detection-change.html
# (the page's example event, with this stack's id)
DRIFT_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "CloudFormation Drift Detection Status Change",
    "source": "aws.cloudformation",
    "account": ACCOUNT,
    "time": "2017-12-22T18:43:48Z",
    "region": REGION,
    "resources": [STACK_ID],
    "detail": {
        "stack-id": STACK_ID,
        "stack-drift-detection-id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "status-details": {"stack-drift-status": "DRIFTED", "detection-status": "DETECTION_COMPLETE"},
        "drift-detection-details": {"drifted-stack-resource-count": 2},
        "client-request-token": "",
    },
}


def _with(event: dict, **detail) -> dict:
    return {**event, "detail": {**event["detail"], **detail}}


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_stack_tells_its_owners_when_drift_detection_finds_it_drifted(name: str) -> None:
    for own in own_topic_cases(name):
        ev = evaluator(name, NotificationTopicArn=own) if own else evaluator(name)
        rule = ev.resource("DriftedRule")["Properties"]
        assert rule["Name"] == f"{PREFIX}-drifted" and rule["State"] == "ENABLED"
        pattern = rule["EventPattern"]
        assert matches(pattern, DRIFT_EVENT)
        in_sync = {"stack-drift-status": "IN_SYNC", "detection-status": "DETECTION_COMPLETE"}
        assert not matches(pattern, _with(DRIFT_EVENT, **{"status-details": in_sync}))
        # the same event while a detection runs (count -1, the page says): not a message
        running = {"stack-drift-status": "DRIFTED", "detection-status": "DETECTION_IN_PROGRESS"}
        in_progress = _with(
            DRIFT_EVENT,
            **{"status-details": running, "drift-detection-details": {"drifted-stack-resource-count": -1}},
        )
        assert not matches(pattern, in_progress)
        # some resources could not be checked: the drifted ones are still news
        partial = {"stack-drift-status": "DRIFTED", "detection-status": "DETECTION_FAILED"}
        assert matches(pattern, _with(DRIFT_EVENT, **{"status-details": partial}))
        other = STACK_ID.replace(f"stack/{STACK}/", "stack/mlops-churn-prod/")
        assert not matches(pattern, _with(DRIFT_EVENT, **{"stack-id": other}))
        check_targets(ev, rule, own, DRIFT_EVENT, "drifted-rule.txt")


def test_the_drift_rules_words_are_report_notifys() -> None:
    """One wording: the rule's message says what report/notify.py's drifted message says."""
    text = golden("drifted-rule.txt")
    assert drift_summary("fraud-ab", "prod", "2") in text
    assert text.endswith(f"Next step: {drift_next_step('fraud-ab', 'prod')}")


def test_render_names_the_pipeline_and_stage_the_messages_need() -> None:
    """PipelineId and Stage default to "" in the templates (so that the builders' own tests stay
    whole); render sets them for every template, as each example shows."""
    from mlops_gitops.core.render import render
    from tests.repo.test_notify_topic import _examples_by_template

    examples = _examples_by_template()
    assert sorted(examples) == TEMPLATES
    for name, (cfg, env) in examples.items():
        for stage in cfg.stages:
            spec = render(REPO_ROOT, cfg, stage, env, commit="0" * 40)
            assert (spec.parameters["PipelineId"], spec.parameters["Stage"]) == (cfg.pipeline_id, stage), name


# ------------------------------------------------------------------------------ model monitor


def alarm_event(alarm: str, state: str = "ALARM") -> dict:
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
    (the page's single-metric alarm state change, with this stack's alarm)."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2019-10-02T17:04:40Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "configuration": {"description": "...", "metrics": []},
            "previousState": {
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints was not greater than or equal to the threshold (1.0).",
                "timestamp": "2019-10-02T16:04:40.985+0000",
                "value": "OK",
            },
            "state": {
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (02/10/19 16:04:00)] was greater than or equal to the threshold (1.0).",
                "timestamp": "2019-10-02T17:04:40.989+0000",
                "value": state,
            },
        },
    }


MONITOR_RULES = [
    ("ViolationsRule", "ViolationsAlarm", "violations", "monitor-violations.txt"),
    ("MonitorFailedRule", "MonitorFailedAlarm", "monitor-failed", "monitor-failed.txt"),
]


@pytest.mark.parametrize(("rule_id", "alarm_id", "suffix", "golden_file"), MONITOR_RULES)
@pytest.mark.parametrize("own", ["", OWN_TOPIC])
def test_a_monitor_alarm_reaches_its_owners_as_a_short_message(
    rule_id: str, alarm_id: str, suffix: str, golden_file: str, own: str
) -> None:
    given = {
        "MonitoringType": "DataQuality",
        "MonitoringOutputUri": "s3://mlops-demo-data/monitoring/fraud-ab",
        "NotificationTopicArn": own,
    }
    ev = evaluator("model_monitor.yaml", **given)
    alarm = ev.resource(alarm_id)["Properties"]
    assert alarm["AlarmName"] == f"{PREFIX}-{suffix}"
    # CloudWatch's long alarm text no longer reaches people; the config's topic (machines) keeps it
    assert alarm["AlarmActions"] == ([own] if own else [])
    rule = ev.resource(rule_id)["Properties"]
    event = alarm_event(alarm["AlarmName"])
    assert matches(rule["EventPattern"], event)
    assert not matches(rule["EventPattern"], alarm_event(alarm["AlarmName"], state="OK"))
    assert not matches(rule["EventPattern"], alarm_event(alarm["AlarmName"].replace("fraud-ab", "churn")))
    targets = rule["Targets"]
    assert [t["Arn"] for t in targets] == [NOTIFY_TOPIC]
    assert transform(targets[0]["InputTransformer"], event) == golden(golden_file)
    assert transform(targets[0]["InputTransformer"], hostile(event)) == golden(golden_file)
    assert rule["Name"].startswith(f"{PREFIX}-") and admitted_by_topic_policy(ev, rule["Name"])


# ------------------------------------------------------------------------------- batch jobs

BATCH_JOB = f"{PREFIX}-1a2b3c4d"  # <NamePrefix>-<8 hex>, as the state machine names each run
BATCH_OUTPUT_URI = "s3://mlops-demo-data/fraud/batch-output"
BATCH_OUTPUT = (
    f"{BATCH_OUTPUT_URI}/prod/{BATCH_JOB}"  # <BatchOutputUri>/<Stage>/<job>, as the state machine sets it
)
BATCH_MODEL = f"{PREFIX}-2ceaa928"  # the stack's Model: <NamePrefix>-<ModelRevision>


def transform_job_event(status: str, **extra: str) -> dict:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
    ("SageMaker Transform Job State Change": the detail is the job's description)."""
    return {
        "version": "0",
        "id": "7f8a9b0c-1d2e-3f4a-5b6c-7d8e9f0a1b2c",
        "detail-type": "SageMaker Transform Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-12-03T16:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{BATCH_JOB}"],
        "detail": {
            "TransformJobName": BATCH_JOB,
            "TransformJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{BATCH_JOB}",
            "TransformJobStatus": status,
            "ModelName": BATCH_MODEL,
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://mlops-demo-data/fraud/in"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": BATCH_OUTPUT, "Accept": "text/csv", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            "CreationTime": 1764777600000,
            "TransformStartTime": 1764777900000,
            "TransformEndTime": 1764778500000,
            "Tags": {},
            **extra,
        },
    }


BATCH_RULES = [
    ("BatchCompletedRule", transform_job_event("Completed"), "batch-completed.txt"),
    ("BatchCompletedRule", transform_job_event("Stopped"), "batch-stopped.txt"),
    (
        "BatchFailedRule",
        transform_job_event(
            "Failed",
            FailureReason="ClientError: See job logs for more information: model container returned 500",
        ),
        "batch-failed.txt",
    ),
]


@pytest.mark.parametrize(("rule_id", "event", "golden_file"), BATCH_RULES, ids=[g for _, _, g in BATCH_RULES])
def test_a_batch_jobs_outcome_reaches_its_owners_as_a_short_message(
    rule_id: str, event: dict, golden_file: str
) -> None:
    for own in own_topic_cases("batch_inference.yaml"):
        ev = evaluator(
            "batch_inference.yaml",
            NotificationTopicArn=own,
            BatchInputUri="s3://mlops-demo-data/fraud/in",
            BatchOutputUri=BATCH_OUTPUT_URI,
            ModelRevision=BATCH_MODEL.rsplit("-", 1)[1],
        )
        assert ev.resource("Model")["Properties"]["ModelName"] == BATCH_MODEL
        rule = ev.resource(rule_id)["Properties"]
        assert matches(rule["EventPattern"], event)
        assert not matches(rule["EventPattern"], _with(event, TransformJobStatus="InProgress"))
        other = BATCH_JOB.replace("fraud-ab", "churn")
        assert not matches(rule["EventPattern"], _with(event, TransformJobName=other))
        # a job named like this stack's but running another model is not this stack's (issue 19, MEDIUM 2)
        assert not matches(rule["EventPattern"], _with(event, ModelName=f"{PREFIX}-forged"))
        (target,) = rule["Targets"]
        assert target["Arn"] == NOTIFY_TOPIC
        assert transform(target["InputTransformer"], event) == golden(golden_file)
        assert transform(target["InputTransformer"], hostile(event)) == golden(golden_file)
        assert rule["Name"].startswith(f"{PREFIX}-") and admitted_by_topic_policy(ev, rule["Name"])
    # the free text the failed event carries (FailureReason) never reaches the message
    paths = ev.resource(rule_id)["Properties"]["Targets"][0]["InputTransformer"]["InputPathsMap"]
    assert "FailureReason" not in str(paths)


@pytest.mark.parametrize("own", ["", OWN_TOPIC])
def test_the_batch_state_machine_reports_to_the_configs_topic_only(own: str) -> None:
    """The owners hear of each job once, from the rules; the config's topic (machines) keeps the state
    machine's report, and the state machine may publish there alone."""
    ev = evaluator("batch_inference.yaml", NotificationTopicArn=own)
    body = load_template(REPO_ROOT, "batch_inference.yaml").body
    variables = body["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][1]
    for key in ("SuccessReport", "FailureReport"):
        text = ev(variables[key])
        if own:
            assert '"Resource": "arn:aws:states:::sns:publish"' in text and f'"TopicArn": "{own}"' in text
        else:
            assert text.startswith('"Type": "Pass"') and "sns" not in text
    definition = json.loads(ev(body["Resources"]["StateMachine"]["Properties"]["DefinitionString"]))
    assert definition["States"]["ReportFailure"]["Next"] == "Failed"  # valid ASL either way
    assert definition["States"]["ReportSuccess"]["Type"] == ("Task" if own else "Pass")
    statements = ev.resource("StateMachineRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    publishes = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
    assert [s["Resource"] for s in publishes] == ([own] if own else [])


# ---------------------------------------------------------------------------- training jobs

TRAINING_JOB = f"{PREFIX}-9f8e7d6c"  # <JobNamePrefix>-<8 hex>; the config's job_name defaults to NamePrefix
TRAINING_OUTPUT = "s3://mlops-demo-data/fraud/models"
JOB_ROLE = role_arn("JobRole")


def sagemaker_job_event(detail_type: str, name_key: str, status_key: str, status: str, **extra: str) -> dict:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
    ("SageMaker Training Job State Change", "SageMaker HyperParameter Tuning Job State Change": the
    detail is the job's description; the fields the rules read are kept, the rest shortened)."""
    resource = "training-job" if name_key == "TrainingJobName" else "hyper-parameter-tuning-job"
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{TRAINING_JOB}"
    return {
        "version": "0",
        "id": "5e6f7a8b-9c0d-1e2f-3a4b-5c6d7e8f9a0b",
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-12-03T16:00:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            name_key: TRAINING_JOB,
            name_key.replace("Name", "Arn"): arn,
            status_key: status,
            "CreationTime": 1764777600000,
            "LastModifiedTime": 1764778500000,
            "Tags": {},
            # the job's role: RoleArn of a training job, TrainingJobDefinition.RoleArn of a tuning job
            **(
                {"RoleArn": JOB_ROLE}
                if name_key == "TrainingJobName"
                else {"TrainingJobDefinition": {"RoleArn": JOB_ROLE, "StaticHyperParameters": {}}}
            ),
            **extra,
        },
    }


REASON = "AlgorithmError: framework error: ValueError: could not convert string to float: 'n/a'"
TRAINING = ("SageMaker Training Job State Change", "TrainingJobName", "TrainingJobStatus")
TUNING = (
    "SageMaker HyperParameter Tuning Job State Change",
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobStatus",
)
TRAINING_RULES = [
    (
        "Training",
        "TrainingCompletedRule",
        sagemaker_job_event(*TRAINING, "Completed"),
        "training-completed.txt",
    ),
    (
        "Training",
        "TrainingFailedRule",
        sagemaker_job_event(*TRAINING, "Failed", FailureReason=REASON),
        "training-failed.txt",
    ),
    ("Tuning", "TuningCompletedRule", sagemaker_job_event(*TUNING, "Stopped"), "tuning-stopped.txt"),
    (
        "Tuning",
        "TuningFailedRule",
        sagemaker_job_event(*TUNING, "Failed", FailureReason=REASON),
        "tuning-failed.txt",
    ),
]


def _training(kind: str, own: str = "") -> Evaluator:
    return evaluator(
        "model_training.yaml",
        JobKind=kind,
        JobNamePrefix=PREFIX,
        JobOutputUri=TRAINING_OUTPUT,
        NotificationTopicArn=own,
    )


@pytest.mark.parametrize(
    ("kind", "rule_id", "event", "golden_file"), TRAINING_RULES, ids=[g for *_, g in TRAINING_RULES]
)
def test_a_training_or_tuning_jobs_outcome_reaches_its_owners(
    kind: str, rule_id: str, event: dict, golden_file: str
) -> None:
    for own in ("", OWN_TOPIC):
        ev = _training(kind, own)
        rule = ev.resource(rule_id)["Properties"]
        assert matches(rule["EventPattern"], event)
        status_key = TRAINING[2] if kind == "Training" else TUNING[2]
        name_key = TRAINING[1] if kind == "Training" else TUNING[1]
        assert not matches(rule["EventPattern"], _with(event, **{status_key: "InProgress"}))
        assert not matches(
            rule["EventPattern"], _with(event, **{name_key: TRAINING_JOB.replace("fraud-ab", "churn")})
        )
        # a job of this name run by another role (another pipeline's) is not this stack's (issue 19, HIGH 1)
        other_role = role_arn("JobRole", stack="mlops-churn-prod")
        forged = (
            _with(event, RoleArn=other_role)
            if kind == "Training"
            else _with(event, TrainingJobDefinition={"RoleArn": other_role})
        )
        assert not matches(rule["EventPattern"], forged)
        (target,) = rule["Targets"]
        assert target["Arn"] == NOTIFY_TOPIC
        assert transform(target["InputTransformer"], event) == golden(golden_file)
        assert transform(target["InputTransformer"], hostile(event)) == golden(golden_file)
        assert rule["Name"].startswith(f"{PREFIX}-") and admitted_by_topic_policy(ev, rule["Name"])
    body = load_template(REPO_ROOT, "model_training.yaml").body
    rules = [
        r
        for r, res in body["Resources"].items()
        if res["Type"] == "AWS::Events::Rule" and "Job State" in str(res)
    ]
    for other in ("Training", "Tuning", "Autopilot"):  # each kind has its own rules only
        assert [r for r in rules if _training(other).present(r)] == [
            r for r in rules if r.startswith(other)
        ], other


@pytest.mark.parametrize("kind", ["Training", "Tuning", "Autopilot"])
@pytest.mark.parametrize("own", ["", OWN_TOPIC])
def test_the_training_state_machine_reports_where_no_rule_does(kind: str, own: str) -> None:
    """Training and tuning: the state machine reports to the config's topic only (the owners hear from
    the rules); Autopilot, of which SageMaker sends no job event, keeps reporting to the config's
    topic, else to the notify topic. The state machine may publish there alone."""
    ev = _training(kind, own)
    body = load_template(REPO_ROOT, "model_training.yaml").body
    variables = body["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][1]
    reports_to = own or (NOTIFY_TOPIC if kind == "Autopilot" else "")
    for key in ("SuccessReport", "FailureReport"):
        text = ev(variables[key])
        if reports_to:
            assert f'"TopicArn": "{reports_to}"' in text and "states:::sns:publish" in text
        else:
            assert text.startswith('"Type": "Pass"') and "sns" not in text
    statements = ev.resource("StateMachineRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    publishes = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
    assert [s["Resource"] for s in publishes] == ([reports_to] if reports_to else [])


# ------------------------------------------------------------- endpoint and reporting alarms

STACK_ALARMS = [
    ("realtime_inference.yaml", "Invocation5xxAlarm", "realtime-alarm.txt"),
    ("realtime_inference.yaml", "LatencyAlarm", None),
    ("realtime_reporting.yaml", "ErrorsAlarm", "reporting-alarm.txt"),
    ("realtime_reporting.yaml", "IteratorAgeAlarm", None),
    ("realtime_reporting.yaml", "FailedBatchesAlarm", None),
]


@pytest.mark.parametrize(
    ("name", "alarm_id", "golden_file"), STACK_ALARMS, ids=[f"{n}-{a}" for n, a, _ in STACK_ALARMS]
)
@pytest.mark.parametrize("own", ["", OWN_TOPIC])
def test_an_endpoint_or_reporting_alarm_reaches_its_owners_as_a_short_message(
    name: str, alarm_id: str, golden_file: str | None, own: str
) -> None:
    """One rule per stack for all its alarms: the message names the alarm and says where to read what
    it watches and why CloudWatch set it (free text of the event, left out of the message)."""
    ev = evaluator(name, NotificationTopicArn=own)
    alarm = ev.resource(alarm_id)["Properties"]
    assert alarm["AlarmActions"] == ([own] if own else [])  # the config's topic keeps the alarm's action
    rule = ev.resource("AlarmsRule")["Properties"]
    event = alarm_event(alarm["AlarmName"])
    event["detail"]["configuration"]["description"] = alarm["AlarmDescription"]
    assert matches(rule["EventPattern"], event)
    assert not matches(rule["EventPattern"], alarm_event(alarm["AlarmName"], state="OK"))
    assert not matches(rule["EventPattern"], alarm_event(alarm["AlarmName"].replace("fraud-ab", "churn")))
    (target,) = rule["Targets"]
    assert target["Arn"] == NOTIFY_TOPIC
    text = transform(target["InputTransformer"], event)
    # the alarm's name, and where its description and reason are: both are free text, which
    # EventBridge would insert unescaped
    assert alarm["AlarmName"] in text and f"describe-alarms --alarm-names {alarm['AlarmName']}" in text
    assert transform(target["InputTransformer"], hostile(event)) == text
    if golden_file:
        assert text == golden(golden_file)
    assert rule["Name"].startswith(f"{PREFIX}-") and admitted_by_topic_policy(ev, rule["Name"])


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_rules_keep_each_template_within_cloudformations_size_limit(name: str) -> None:
    """Template bodies above 51,200 bytes go through S3 (ops/deploy.py TEMPLATE_BODY_MAX), whose limit
    is 1 MB: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"""
    from mlops_gitops.ops.deploy import TEMPLATE_BODY_MAX

    size = len(load_template(REPO_ROOT, name).text.encode("utf-8"))
    assert TEMPLATE_BODY_MAX == 51_200 and size <= 1_048_576, size


# Every value a rule of ours inserts into a message, and why it can't carry a quote, a backslash or a
# newline (EventBridge inserts it unescaped:
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html#eb-transform-input-issues).
SAFE_PATHS = {
    # a number (CloudFormation's drift event)
    "$.detail.drift-detection-details.drifted-stack-resource-count",
    # SageMaker job names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$ (API_CreateTrainingJob,
    # API_CreateHyperParameterTuningJob, API_CreateTransformJob); statuses: enums of the same pages
    "$.detail.TrainingJobName",
    "$.detail.TrainingJobStatus",
    "$.detail.HyperParameterTuningJobName",
    "$.detail.HyperParameterTuningJobStatus",
    "$.detail.TransformJobName",
    "$.detail.TransformJobStatus",
    # an alarm of this stack's, named by the rule's pattern (resources: the alarm ARNs)
    "$.detail.alarmName",
    # the event's time: ISO 8601 (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html)
    "$.time",
    # CodeBuild: the project named in the pattern, the build id <project>:<uuid>, the status enum
    # (https://docs.aws.amazon.com/codebuild/latest/userguide/sample-build-notifications.html)
    "$.detail.project-name",
    "$.detail.build-id",
    "$.detail.build-status",
    # SageMaker Pipelines: the execution's ARN and its status enum
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html)
    "$.detail.pipelineExecutionArn",
    "$.detail.currentPipelineExecutionStatus",
}


def _input_paths(node: object) -> list[str]:
    if isinstance(node, dict):
        found = list(node["InputPathsMap"].values()) if isinstance(node.get("InputPathsMap"), dict) else []
        return found + [p for v in node.values() for p in _input_paths(v)]
    if isinstance(node, list):
        return [p for v in node for p in _input_paths(v)]
    return []


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_rule_inserts_free_text_of_an_event_into_a_message(name: str) -> None:
    paths = _input_paths(load_template(REPO_ROOT, name).body)
    assert set(paths) <= SAFE_PATHS, sorted(set(paths) - SAFE_PATHS)
