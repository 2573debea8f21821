"""Deploy in dependency waves (issue 15, item 3): a stack that refers to another pipeline's
resources deploys after it; a failure skips its dependants, not the others; prune deletes
dependants first. Against the scripted fake in tests/fakes.py (moto creates a monitoring schedule
for an endpoint that does not exist; real AWS does not:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateMonitoringSchedule.html)."""

from __future__ import annotations

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fakes import FakeCloudFormation, FakeStack, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
DEV_SPECS, _, _ = render_stage(REPO, "dev", "c0ffee")
BY_ID = {s.pipeline_id: s for s in DEV_SPECS}
MONITORS = ["churn-bias", "churn-data-quality", "churn-explainability", "churn-model-quality"]
WATCHED = ["churn-realtime", *MONITORS, "defects-detector", "churn-batch"]


def specs(*ids: str):
    return [BY_ID[i] for i in ids]


def deployer(fake: FakeCloudFormation, max_parallel: int = 1, notes: list | None = None) -> Deployer:
    gateway = CloudFormationGateway(fake, sleep=lambda s: None, poll_seconds=0, timeout_seconds=60)
    return Deployer(
        REPO,
        ENV,
        fake_stage(gateway),
        artifact_bucket="artifacts",
        max_parallel=max_parallel,
        **({"on_progress": notes.append} if notes is not None else {}),
    )


def stack(pipeline_id: str) -> str:
    return BY_ID[pipeline_id].stack_name


@pytest.mark.parametrize("max_parallel", [1, 4])
def test_monitors_are_created_after_the_endpoint_they_watch_and_retraining_after_its_monitor(
    max_parallel: int,
) -> None:
    fake = FakeCloudFormation()
    d = deployer(fake, max_parallel)
    outcomes = d.apply(d.plan("dev", specs(*WATCHED)))
    assert {o.result for o in outcomes} == {"created"}
    order = fake.executed
    for monitor in MONITORS:
        assert order.index(stack("churn-realtime")) < order.index(stack(monitor)), monitor
    # defects-detector retrains on churn-data-quality's violations (triggers.monitor_violations)
    assert order.index(stack("churn-data-quality")) < order.index(stack("defects-detector"))


def test_a_failed_endpoint_skips_what_depends_on_it_and_independent_pipelines_still_deploy() -> None:
    fake = FakeCloudFormation()
    fake.execute_outcome[stack("churn-realtime")] = ("fail", "ml.t2.medium: not enough capacity")
    notes: list[str] = []
    d = deployer(fake, 4, notes)
    outcomes = {o.item.pipeline_id: o for o in d.apply(d.plan("dev", specs(*WATCHED)))}
    assert outcomes["churn-realtime"].result == "failed"
    for monitor in MONITORS:
        assert (outcomes[monitor].result, outcomes[monitor].detail) == (
            "skipped",
            "skipped: depends on churn-realtime, which failed",
        )
        assert stack(monitor) not in fake.executed
    assert outcomes["defects-detector"].result == "skipped"
    assert outcomes["defects-detector"].detail == "skipped: depends on churn-data-quality, which was skipped"
    assert outcomes["churn-batch"].result == "created"  # independent: deployed all the same
    assert notes[0].startswith("deploy: wave 1/3: ")
    assert notes[1] == f"deploy: wave 2/3: {', '.join(MONITORS)} (after churn-realtime)\n"


def test_an_unchanged_dependant_stays_unchanged_when_its_dependency_fails() -> None:
    fake = FakeCloudFormation()
    monitor = BY_ID["churn-data-quality"]
    fake.add(FakeStack(monitor.stack_name, "UPDATE_COMPLETE", dict(monitor.tags), dict(monitor.parameters)))
    fake.execute_outcome[stack("churn-realtime")] = ("fail", "boom")
    d = deployer(fake)
    outcomes = {
        o.item.pipeline_id: o.result
        for o in d.apply(d.plan("dev", specs("churn-realtime", "churn-data-quality")))
    }
    assert outcomes == {"churn-realtime": "failed", "churn-data-quality": "unchanged"}


def orphan(pipeline_id: str, pipeline_type: str) -> FakeStack:
    tags = {
        "mlops:managed-by": "mlops-gitops",
        "mlops:stage": "dev",
        "mlops:pipeline-id": pipeline_id,
        "mlops:pipeline-type": pipeline_type,
        "mlops:repository": BY_ID["churn-realtime"].tags["mlops:repository"],
    }
    return FakeStack(f"mlops-{pipeline_id}-dev", "UPDATE_COMPLETE", tags=tags)


def pruned(fake: FakeCloudFormation):
    d = deployer(fake)
    return {o.item.pipeline_id: o for o in d.apply(d.plan("dev", []), prune=True)}


def test_prune_deletes_dependants_first_retraining_then_monitor_then_endpoint() -> None:
    fake = FakeCloudFormation()
    # alphabetical order would delete the endpoint first, under the monitor watching it
    fake.add(orphan("a-gone-endpoint", "byom_realtime_builtin"))
    fake.add(orphan("b-gone-monitor", "byom_data_quality_monitor"))
    fake.add(orphan("c-gone-retraining", "model_training_pipeline"))
    outcomes = pruned(fake)
    assert {o.result for o in outcomes.values()} == {"deleted"}
    assert fake.deleted == [
        "mlops-c-gone-retraining-dev",
        "mlops-b-gone-monitor-dev",
        "mlops-a-gone-endpoint-dev",
    ]


def test_a_failed_delete_of_a_monitor_keeps_the_endpoint_it_watches() -> None:
    fake = FakeCloudFormation()
    fake.add(orphan("a-gone-endpoint", "byom_realtime_builtin"))
    fake.add(orphan("b-gone-monitor", "byom_data_quality_monitor"))
    fake.delete_fails.add("mlops-b-gone-monitor-dev")
    outcomes = pruned(fake)
    assert outcomes["b-gone-monitor"].result == "failed"
    assert (outcomes["a-gone-endpoint"].result, outcomes["a-gone-endpoint"].detail) == (
        "skipped",
        "skipped: deleted only after b-gone-monitor, which failed",
    )
    assert fake.deleted == ["mlops-b-gone-monitor-dev"]
