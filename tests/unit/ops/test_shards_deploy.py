"""A fanned-out deploy of a realistic count through the fake CloudFormation (issue 17): the
shards, each a Deployer over the same stage, together create every stack exactly once, keep each
dependency group in one shard (a monitor after its endpoint), and their records summarize to the
stage's outcome. No AWS, no sleeping: the clock is the test's."""

from __future__ import annotations

from dataclasses import replace

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops import shards
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.ops.shards import Shard, ShardRecord
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fakes import Clock, FakeCloudFormation, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
SPECS = {s.pipeline_id: s for s in render_stage(REPO, "dev", "c0ffee")[0]}


def specs(count: int) -> list:
    """``count`` batch pipelines, and every tenth one an endpoint watched by a monitor."""
    out = []
    for i in range(count):
        out.append(replace(SPECS["churn-batch"], stack_name=f"mlops-b{i:03d}-dev", pipeline_id=f"b{i:03d}"))
        if i % 10 == 0:
            out.append(
                replace(SPECS["churn-realtime"], stack_name=f"mlops-e{i:03d}-dev", pipeline_id=f"e{i:03d}")
            )
            monitor = SPECS["churn-data-quality"]
            out.append(
                replace(
                    monitor,
                    stack_name=f"mlops-m{i:03d}-dev",
                    pipeline_id=f"m{i:03d}",
                    depends_on=[(f"e{i:03d}", "endpoint_name")],
                )
            )
    return out


def test_shards_of_a_stage_deploy_every_stack_once_groups_whole() -> None:
    clock = Clock()
    fake = FakeCloudFormation(clock=clock)
    stage_specs = specs(200)
    creates: list[str] = []
    original = fake.create_change_set

    def counting(**kwargs):
        creates.append(kwargs["StackName"])
        return original(**kwargs)

    fake.create_change_set = counting  # type: ignore[method-assign]
    gateway = CloudFormationGateway(
        fake, sleep=clock.sleep, clock=clock, poll_seconds=5.0, timeout_seconds=10**7
    )
    records = {}
    for index in (1, 2, 3):
        shard = Shard(index, 3)
        deployer = Deployer(REPO, ENV, fake_stage(gateway), artifact_bucket="artifacts", max_parallel=8)
        plan = deployer.plan("dev", stage_specs)
        part = shards.with_items(plan, shards.owned(plan.items, shard))
        outcomes = deployer.apply(part)
        records[index] = ShardRecord.of("dev", shard, "b", "c" * 40, outcomes, 0)
        ids = {i.pipeline_id for i in part.items}
        for i in range(0, 200, 10):
            assert (f"e{i:03d}" in ids) == (f"m{i:03d}" in ids), "a monitor deploys in its endpoint's shard"
    assert sorted(creates) == sorted(s.stack_name for s in stage_specs), "every stack created exactly once"
    assert {s.status for s in fake.stacks.values()} == {"CREATE_COMPLETE"}
    assert min(len(r.rows) for r in records.values()) > 40, "the work is spread"

    final = Deployer(REPO, ENV, fake_stage(gateway), artifact_bucket="artifacts", max_parallel=8)
    summary = shards.summarize(final.plan("dev", stage_specs).items, 3, records, "c" * 40, [])
    assert not summary.failed and len(summary.outcomes) == len(stage_specs)
    assert {o.result for o in summary.outcomes} == {"created"}
