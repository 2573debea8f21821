"""A deploy under CloudFormation's API rate limit (issue 17): reads the fake throttles ("Rate
exceeded", as AWS answers beyond an account's request rate) are asked again at the next poll
interval; no stack fails for it. The clock is the test's, advanced by the waits: no sleeping.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"""

from __future__ import annotations

from dataclasses import replace

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fakes import Clock, FakeCloudFormation, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
BATCH = next(s for s in render_stage(REPO, "dev", "c0ffee")[0] if s.pipeline_id == "churn-batch")


def test_a_throttled_deploy_of_many_stacks_fails_none() -> None:
    clock = Clock()
    fake = FakeCloudFormation(reads_per_second=3, clock=clock)
    specs = [replace(BATCH, stack_name=f"mlops-b{i:02d}-dev", pipeline_id=f"b{i:02d}") for i in range(40)]
    for spec in specs:
        fake.execute_outcome[spec.stack_name] = ("rounds", 3)
    gateway = CloudFormationGateway(
        fake, sleep=clock.sleep, clock=clock, poll_seconds=5.0, timeout_seconds=10**7
    )
    deployer = Deployer(REPO, ENV, fake_stage(gateway), artifact_bucket="artifacts", max_parallel=10)
    outcomes = deployer.apply(deployer.plan("dev", specs))
    assert fake.throttled > 0, "the fake's rate limit was reached"
    assert {o.result for o in outcomes} == {"created"}, {o.detail for o in outcomes if o.result != "created"}
    assert {s.status for s in fake.stacks.values()} == {"CREATE_COMPLETE"}
