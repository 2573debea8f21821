"""Issue 17, "Done when": a no-op deploy at 5,000 pipelines makes fewer CloudFormation calls than
pages of stacks plus two. Counted on the scripted fake (tests/fakes.py), which pages
DescribeStacks as CloudFormation does; not timed. One listing serves the plan, and an unchanged
stack costs no call of its own (no change set, no description).
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html"""

from __future__ import annotations

import math
from dataclasses import replace

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.deploy import Deployer
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT
from tests.fakes import PAGE_SIZE, FakeCloudFormation, FakeStack, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
DEV_SPECS, _, _ = render_stage(REPO, "dev", "c0ffee")
BATCH = next(s for s in DEV_SPECS if s.pipeline_id == "churn-batch")


def test_a_no_op_deploy_of_5000_pipelines_makes_fewer_calls_than_pages_of_stacks_plus_two() -> None:
    specs = [replace(BATCH, stack_name=f"mlops-s{i:04d}-dev", pipeline_id=f"s{i:04d}") for i in range(5000)]
    fake = FakeCloudFormation()
    for spec in specs:
        fake.add(FakeStack(spec.stack_name, "UPDATE_COMPLETE", dict(spec.tags), dict(spec.parameters)))
    for i in range(150):  # the account's other stacks are listed too
        fake.add(FakeStack(f"other-{i:03d}", "UPDATE_COMPLETE"))
    deployer = Deployer(REPO, ENV, fake_stage(CloudFormationGateway(fake)), artifact_bucket="bench")
    outcomes = deployer.apply(deployer.plan("dev", specs))
    assert len(outcomes) == 5000 and {o.result for o in outcomes} == {"unchanged"}
    pages = math.ceil(len(fake.stacks) / PAGE_SIZE)
    assert pages == 52
    assert len(fake.calls) < pages + 2, sorted(set(fake.calls))
    assert set(fake.calls) == {"describe_stacks"}
