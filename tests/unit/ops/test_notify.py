"""Deploy tells a pipeline's owners (issue 19) through its stack's notify topic: a failed update
with the first failed resource, its reason, the commit and the stage; a change that reached a stage
whose next stage needs approval; and, best-effort, a warning line when the topic is missing or the
publish fails - never a failed deploy. CloudFormation is the scripted fake of tests/fakes.py; the
SNS gateway is a recorder here and botocore's Stubber in tests/unit/aws/test_sns.py."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.aws.sns import Published
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.ops.notify import Notifier
from mlops_gitops.ops.waves import Outcome
from tests.fakes import FakeCloudFormation, FakeStack, fake_stage
from tests.unit.ops.test_deploy import DEV_SPECS, ENV, REPO, SPEC

TOPIC = f"arn:aws:sns:us-east-1:111122223333:{SPEC.parameters['NamePrefix']}-notify"


@dataclass
class RecordingSns:
    answer: str | None = "msg-1"
    problem: str = ""
    published: list[tuple[str, str, str]] = field(default_factory=list)

    def publish(self, topic_arn: str, subject: str, message: str) -> Published:
        self.published.append((topic_arn, subject, message))
        return Published(topic_arn, self.answer, self.problem)


def _deployed(spec, with_topic: bool = True) -> FakeStack:
    return FakeStack(
        spec.stack_name,
        "UPDATE_COMPLETE",
        tags={**spec.tags, "mlops:spec-hash": "old"},
        parameters=dict(spec.parameters),
        resources=[("NotifyTopic", "AWS::SNS::Topic", TOPIC)] if with_topic else [],
    )


def _apply(fake: FakeCloudFormation, sns: RecordingSns | None, specs=(SPEC,)) -> tuple[Deployer, dict]:
    gateway = CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60)
    d = Deployer(REPO, ENV, fake_stage(gateway, notify=sns), artifact_bucket="artifacts", max_parallel=1)
    outcomes = d.apply(d.plan("dev", list(specs)))
    return d, {o.item.stack_name: o for o in outcomes}


def test_a_failed_update_tells_the_owners_the_first_failed_resource_commit_and_stage() -> None:
    fake = FakeCloudFormation()
    fake.add(_deployed(SPEC))
    fake.execute_outcome[SPEC.stack_name] = ("fail", "ResourceLimitExceeded: the limit for ml.m5.xlarge is 0")
    sns = RecordingSns()
    d, outcomes = _apply(fake, sns)
    assert outcomes[SPEC.stack_name].result == "failed", "telling the owners changes no outcome"
    [(topic, subject, body)] = sns.published
    assert topic == TOPIC
    assert subject == "[mlops] churn-realtime: deploy to dev failed"
    assert (
        "Endpoint (AWS::SageMaker::Endpoint): ResourceLimitExceeded: the limit for ml.m5.xlarge is 0" in body
    )
    assert f"Commit: {SPEC.tags['mlops:commit'][:12]}" in body and "Stage: dev" in body
    assert (
        body.rstrip()
        .splitlines()[-1]
        .startswith("Next step: fix the cause in pipeline-configs/churn-realtime/")
    )
    assert d.told == [f"{SPEC.stack_name}: told its owners: {subject}"]


def test_a_change_in_dev_tells_the_owners_staging_waits_for_approval() -> None:
    fake = FakeCloudFormation()
    fake.add(_deployed(SPEC))
    sns = RecordingSns()
    _, outcomes = _apply(fake, sns)
    assert outcomes[SPEC.stack_name].result == "updated"
    [(_, subject, body)] = sns.published
    assert subject == "[mlops] churn-realtime: staging waits for approval"
    assert "approve (or reject) the action Approve-staging of the CodePipeline mlops-pipeline" in body


def test_unchanged_stacks_tell_nobody_and_call_nothing_more() -> None:
    fake = FakeCloudFormation()
    fake.add(
        FakeStack(SPEC.stack_name, "UPDATE_COMPLETE", tags=dict(SPEC.tags), parameters=dict(SPEC.parameters))
    )
    sns = RecordingSns()
    _, outcomes = _apply(fake, sns)
    assert outcomes[SPEC.stack_name].result == "unchanged"
    assert sns.published == [] and "list_stack_resources" not in fake.calls


def test_a_publish_that_fails_is_a_warning_not_a_failed_deploy() -> None:
    fake = FakeCloudFormation()
    fake.add(_deployed(SPEC))
    sns = RecordingSns(answer=None, problem="AuthorizationError: not authorized to perform SNS:Publish")
    d, outcomes = _apply(fake, sns)
    assert outcomes[SPEC.stack_name].result == "updated"
    assert d.told == [
        f"WARNING: {SPEC.stack_name}: owners not told ([mlops] churn-realtime: staging waits for approval): "
        "AuthorizationError: not authorized to perform SNS:Publish"
    ]


def test_a_stack_without_its_topic_is_a_warning() -> None:
    fake = FakeCloudFormation()
    fake.add(_deployed(SPEC, with_topic=False))
    d, _ = _apply(fake, RecordingSns())
    assert d.told and d.told[0].endswith("the stack has no notify topic")


def test_a_rollback_is_told_as_a_rollback_with_sagemakers_explanation() -> None:
    why = "SageMaker rolled the update back: alarm mlops-churn-realtime-dev-invocation-5xx went into ALARM"
    fake = FakeCloudFormation()
    fake.add(_deployed(SPEC))
    sns = RecordingSns()
    gateways = fake_stage(CloudFormationGateway(fake, sleep=lambda s: None), notify=sns)
    Notifier(REPO, ENV, gateways, {SPEC.stack_name: why}).after_apply(
        [Outcome(_item(SPEC), "failed", f"{SPEC.stack_name}: ended UPDATE_ROLLBACK_COMPLETE; {why}")]
    )
    [(_, subject, body)] = sns.published
    assert subject == "[mlops] churn-realtime: dev update rolled back"
    assert f"Why: {why}" in body


def test_a_new_stack_with_emails_says_its_owners_must_confirm() -> None:
    spec = next(s for s in DEV_SPECS if s.pipeline_id == "churn-realtime")
    spec = replace(spec, parameters={**spec.parameters, "NotifyEmail1": "a@example.com"})
    lines = Notifier(REPO, ENV, fake_stage(None)).after_apply([Outcome(_item(spec), "created")])
    assert lines[0] == (
        "churn-realtime: AWS sent a subscription confirmation to a@example.com; notifications arrive "
        "once its owner confirms it"
    )


def _item(spec):
    from mlops_gitops.core.plan import PlanItem

    return PlanItem(spec.stage, spec.stack_name, "update", spec.pipeline_id, spec=spec)


def test_the_next_stage_comes_from_what_render_read_not_from_the_config_again(tmp_path) -> None:  # noqa: ANN001
    """Deploy already loaded the configs (render): the notifier takes the pipeline's stages from
    the spec, so a repository without the config file at apply time tells the same."""
    from mlops_gitops.repo import Repo
    from tests.conftest import repo_copy

    bare = Repo(repo_copy(tmp_path / "repo", [], templates=False))
    fake = FakeCloudFormation()
    fake.add(_deployed(SPEC))
    sns = RecordingSns()
    gateways = fake_stage(CloudFormationGateway(fake, sleep=lambda s: None), notify=sns)
    Notifier(bare, ENV, gateways).after_apply([Outcome(_item(SPEC), "updated")])
    assert SPEC.pipeline_stages == ("dev", "staging", "prod")
    assert [subject for _, subject, _ in sns.published] == [
        "[mlops] churn-realtime: staging waits for approval"
    ]
