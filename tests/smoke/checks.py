"""What "healthy" means for each smoke pipeline, read through the AWS APIs a user would call.

A check reads one resource of a stack (found through the stack's outputs). ``resource_type`` is
the CloudFormation type it depends on: in the dry run against moto, a check whose type moto's
CloudFormation does not model is skipped and said so, never passed. ``job`` checks wait for
work a real account runs after a deploy (a transform, a training job, an image build); moto runs
none, so the dry run lists them as not run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clients = Callable[[str], Any]
Outputs = dict[str, str]
# How long a real account gets for the jobs the deploy started, and how often they are polled.
JOB_WAIT_SECONDS = 25 * 60
POLL_SECONDS = 20
# The run's own deadline (time.monotonic()), set by the runner: no wait goes past it.
deadline: float | None = None


@dataclass(frozen=True)
class Check:
    pipeline_id: str
    what: str
    resource_type: str
    read: Callable[[Clients, Outputs], str | None]  # None when healthy, else what is wrong
    job: bool = False


def _status(value: str, wanted: str) -> str | None:
    return None if value == wanted else f"status {value}, expected {wanted}"


def endpoint_in_service(aws: Clients, out: Outputs) -> str | None:
    return _status(
        aws("sagemaker").describe_endpoint(EndpointName=out["SageMakerEndpointName"])["EndpointStatus"],
        "InService",
    )


def endpoint_predicts(aws: Clients, out: Outputs) -> str | None:
    answer = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=out["SageMakerEndpointName"], ContentType="text/csv", Body=b"3,60.5,8\n"
    )
    body = answer["Body"].read().decode().strip()
    try:
        score = float(body.split(",")[0])
    except ValueError:
        return f"the answer {body[:80]!r} is not a score"
    return None if 0.0 <= score <= 1.0 else f"the score {score} is not a probability"


def schedule_scheduled(aws: Clients, out: Outputs) -> str | None:
    schedule = aws("sagemaker").describe_monitoring_schedule(
        MonitoringScheduleName=out["MonitoringScheduleName"]
    )
    return _status(schedule["MonitoringScheduleStatus"], "Scheduled")


def _machine_active(key: str) -> Callable[[Clients, Outputs], str | None]:
    def read(aws: Clients, out: Outputs) -> str | None:
        return _status(
            aws("stepfunctions").describe_state_machine(stateMachineArn=out[key])["status"], "ACTIVE"
        )

    return read


def _machine_ran(key: str) -> Callable[[Clients, Outputs], str | None]:
    """The newest execution of the state machine the deploy started ends SUCCEEDED."""

    def read(aws: Clients, out: Outputs) -> str | None:
        def latest() -> str | None:
            runs = aws("stepfunctions").list_executions(stateMachineArn=out[key], maxResults=1)["executions"]
            return runs[0]["status"] if runs else None

        status = _wait(latest, {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
        return _status(status or "no execution", "SUCCEEDED")

    return read


def pipeline_active(aws: Clients, out: Outputs) -> str | None:
    return _status(
        aws("sagemaker").describe_pipeline(PipelineName=out["PipelineName"])["PipelineStatus"], "Active"
    )


def project_exists(aws: Clients, out: Outputs) -> str | None:
    found = aws("codebuild").batch_get_projects(names=[out["BuildProjectName"]])["projects"]
    return None if found else f"no CodeBuild project {out['BuildProjectName']}"


def image_built(aws: Clients, out: Outputs) -> str | None:
    def latest() -> str | None:
        ids = aws("codebuild").list_builds_for_project(projectName=out["BuildProjectName"])["ids"]
        return aws("codebuild").batch_get_builds(ids=ids[:1])["builds"][0]["buildStatus"] if ids else None

    status = _wait(latest, {"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"})
    if status != "SUCCEEDED":
        return _status(status or "no build", "SUCCEEDED")
    repository, _, tag = out["ImageUri"].rpartition(":")
    images = aws("ecr").describe_images(
        repositoryName=repository.split("/", 1)[1], imageIds=[{"imageTag": tag}]
    )
    return None if images["imageDetails"] else f"no image {out['ImageUri']}"


def bucket_exists(aws: Clients, out: Outputs) -> str | None:
    aws("s3").head_bucket(Bucket=out["LakeBucketName"])
    return None


def database_exists(aws: Clients, out: Outputs) -> str | None:
    aws("glue").get_database(Name=out["GlueDatabaseName"])
    return None


def feature_group_created(aws: Clients, out: Outputs) -> str | None:
    group = aws("sagemaker").describe_feature_group(FeatureGroupName=out["FeatureGroupName"])
    return _status(group["FeatureGroupStatus"], "Created")


def stream_active(aws: Clients, out: Outputs) -> str | None:
    summary = aws("kinesis").describe_stream_summary(StreamName=out["StreamName"])["StreamDescriptionSummary"]
    return _status(summary["StreamStatus"], "ACTIVE")


def table_active(aws: Clients, out: Outputs) -> str | None:
    return _status(
        aws("dynamodb").describe_table(TableName=out["ResultsTableName"])["Table"]["TableStatus"], "ACTIVE"
    )


def events_aggregated(aws: Clients, out: Outputs) -> str | None:
    """One event in, one count out: the stream, the mapping, the function and the table together."""
    aws("kinesis").put_record(
        StreamName=out["StreamName"], PartitionKey="smoke", Data=b'{"app_id": "smoke", "event_name": "ping"}'
    )

    def counted() -> str | None:
        return "found" if aws("dynamodb").scan(TableName=out["ResultsTableName"], Limit=1)["Items"] else None

    return None if _wait(counted, {"found"}) else "no aggregate in the results table"


def _wait(read: Callable[[], str | None], final: set[str]) -> str | None:
    """Poll a real account until ``read`` gives a final value, for at most JOB_WAIT_SECONDS."""
    until = min(time.monotonic() + JOB_WAIT_SECONDS, deadline or float("inf"))
    value = read()
    while value not in final and time.monotonic() < until:
        time.sleep(POLL_SECONDS)
        value = read()
    return value


CHECKS = [
    Check("smoke-realtime", "endpoint InService", "AWS::SageMaker::Endpoint", endpoint_in_service),
    Check("smoke-realtime", "endpoint answers a score", "AWS::SageMaker::Endpoint", endpoint_predicts),
    Check("smoke-monitor", "schedule Scheduled", "AWS::SageMaker::MonitoringSchedule", schedule_scheduled),
    Check(
        "smoke-monitor",
        "baseline ran",
        "AWS::StepFunctions::StateMachine",
        _machine_ran("MonitorStateMachineArn"),
        True,
    ),
    Check(
        "smoke-batch",
        "state machine ACTIVE",
        "AWS::StepFunctions::StateMachine",
        _machine_active("BatchStateMachineArn"),
    ),
    Check(
        "smoke-batch",
        "transform ran",
        "AWS::StepFunctions::StateMachine",
        _machine_ran("BatchStateMachineArn"),
        True,
    ),
    Check(
        "smoke-training",
        "state machine ACTIVE",
        "AWS::StepFunctions::StateMachine",
        _machine_active("TrainingStateMachineArn"),
    ),
    Check(
        "smoke-training",
        "training ran",
        "AWS::StepFunctions::StateMachine",
        _machine_ran("TrainingStateMachineArn"),
        True,
    ),
    Check("smoke-training-pipeline", "pipeline Active", "AWS::SageMaker::Pipeline", pipeline_active),
    Check("smoke-image", "build project exists", "AWS::CodeBuild::Project", project_exists),
    Check("smoke-image", "image built and pushed", "AWS::CodeBuild::Project", image_built, True),
    Check("smoke-lake", "lake bucket exists", "AWS::S3::Bucket", bucket_exists),
    Check("smoke-lake", "Glue database exists", "AWS::Glue::Database", database_exists),
    Check("smoke-lake", "feature group Created", "AWS::SageMaker::FeatureGroup", feature_group_created),
    Check("smoke-reporting", "stream ACTIVE", "AWS::Kinesis::Stream", stream_active),
    Check("smoke-reporting", "results table ACTIVE", "AWS::DynamoDB::Table", table_active),
    Check(
        "smoke-reporting",
        "an event is aggregated",
        "AWS::Lambda::EventSourceMapping",
        events_aggregated,
        True,
    ),
]
