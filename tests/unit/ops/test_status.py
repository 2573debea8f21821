"""mlopsctl status reads CloudFormation in bulk (issue 17): one paginated DescribeStacks listing
serves the plan and every row, so N pipelines cost ceil(stacks / page) calls, not N. Counted on
the scripted fake (tests/fakes.py), which pages as CloudFormation does.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render_stage
from mlops_gitops.ops.status import stage_status
from mlops_gitops.repo import Repo
from mlops_gitops.report.status import status_json, status_text
from tests.conftest import REPO_ROOT
from tests.fakes import PAGE_SIZE, FakeCloudFormation, FakeStack, fake_stage

REPO = Repo(REPO_ROOT)
ENV = Validator(REPO).environments()
DEV_SPECS, _, _ = render_stage(REPO, "dev", "c0ffee")
REALTIME = next(s for s in DEV_SPECS if s.pipeline_id == "churn-realtime")


def clones(count: int):
    """``count`` real-time pipelines: one rendered spec under names of its own."""
    return [
        replace(REALTIME, stack_name=f"mlops-s{i:04d}-dev", pipeline_id=f"s{i:04d}") for i in range(count)
    ]


def deployed(fake: FakeCloudFormation, specs, outputs: bool = True) -> None:
    for spec in specs:
        stack = FakeStack(spec.stack_name, "UPDATE_COMPLETE", dict(spec.tags), dict(spec.parameters))
        if outputs:
            stack.outputs = {"SageMakerEndpointName": f"{spec.pipeline_id}-endpoint"}
        stack.resources = [
            (
                "Endpoint",
                "AWS::SageMaker::Endpoint",
                f"arn:aws:sagemaker:::endpoint/{spec.pipeline_id}-endpoint",
            )
        ]
        fake.add(stack)


@pytest.mark.parametrize("count", [1, 99, 250])
def test_status_of_n_pipelines_costs_one_listing_page_per_100_stacks_not_a_call_per_stack(count: int) -> None:
    specs = clones(count)
    fake = FakeCloudFormation()
    deployed(fake, specs)
    rows = stage_status(REPO, ENV, fake_stage(CloudFormationGateway(fake)), specs)
    assert {r.sync for r in rows} == {"in-sync"} and len(rows) == count
    assert {r.health for r in rows} == {"healthy"}
    assert fake.calls == ["describe_stacks"] * math.ceil(count / PAGE_SIZE)


def test_the_endpoint_name_comes_from_the_listed_output_and_its_physical_id_only_without_it() -> None:
    specs = clones(3)
    fake = FakeCloudFormation()
    deployed(fake, specs[:2])
    deployed(fake, specs[2:], outputs=False)  # deployed before the output existed
    rows = stage_status(REPO, ENV, fake_stage(CloudFormationGateway(fake)), specs)
    assert [r.detail.split(" InService")[0] for r in rows] == [
        "endpoint s0000-endpoint",
        "endpoint s0001-endpoint",
        "endpoint s0002-endpoint",
    ]
    assert fake.calls == ["describe_stacks", "list_stack_resources"]


def test_each_row_shows_the_stacks_last_known_drift_from_the_listing_without_a_detection() -> None:
    specs = clones(3)
    fake = FakeCloudFormation()
    deployed(fake, specs)
    fake.stacks[specs[0].stack_name].drift = "DRIFTED"
    fake.stacks[specs[0].stack_name].drift_checked = datetime(2026, 3, 1, 6, 0, 12, tzinfo=timezone.utc)
    fake.stacks[specs[1].stack_name].drift = "IN_SYNC"
    fake.stacks[specs[1].stack_name].drift_checked = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)
    rows = stage_status(REPO, ENV, fake_stage(CloudFormationGateway(fake)), specs)
    assert [r.drift for r in rows] == [
        "DRIFTED (checked 2026-03-01 06:00 UTC)",
        "IN_SYNC (checked 2026-03-02 07:30 UTC)",
        "NOT_CHECKED",
    ]
    assert "detect_stack_drift" not in fake.calls
    text = status_text(rows).splitlines()
    assert "LAST DRIFT" in text[0] and "DRIFTED (checked 2026-03-01 06:00 UTC)" in text[1]
    assert '"drift": "IN_SYNC (checked 2026-03-02 07:30 UTC)"' in status_json(rows)


def test_a_pipeline_not_deployed_has_no_drift_to_show() -> None:
    specs = clones(1)
    fake = FakeCloudFormation()
    rows = stage_status(REPO, ENV, fake_stage(CloudFormationGateway(fake)), specs)
    assert (rows[0].sync, rows[0].drift) == ("not-deployed", "-")
