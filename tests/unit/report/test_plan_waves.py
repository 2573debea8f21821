"""The plan shows the deploy waves (issue 15, item 3) in text, JSON and markdown."""

from __future__ import annotations

import json

from mlops_gitops.core.plan import plan_stage
from mlops_gitops.core.render import render_stage
from mlops_gitops.repo import Repo
from mlops_gitops.report.plan import plan_json, plan_markdown, plan_text
from tests.conftest import REPO_ROOT

DEV_SPECS, _, _ = render_stage(Repo(REPO_ROOT), "dev", "c0ffee")
IDS = ("churn-realtime", "churn-data-quality", "defects-detector", "churn-batch")
ITEMS = plan_stage("dev", [s for s in DEV_SPECS if s.pipeline_id in IDS], {}, "mlops")


def test_text_groups_the_stacks_by_wave_and_names_what_each_waits_for() -> None:
    lines = plan_text(ITEMS).splitlines()
    assert lines == [
        "-- dev: wave 1/3",
        "create    mlops-churn-batch-dev  (no stack yet)",
        "create    mlops-churn-realtime-dev  (no stack yet)",
        "-- dev: wave 2/3",
        "create    mlops-churn-data-quality-dev  [after churn-realtime]  (no stack yet)",
        "-- dev: wave 3/3",
        "create    mlops-defects-detector-dev  [after churn-data-quality]  (no stack yet)",
        "plan: 4 create",
    ]


def test_json_carries_each_items_wave_and_dependencies() -> None:
    doc = json.loads(plan_json(ITEMS))
    assert [(i["pipeline_id"], i["wave"], i["depends_on"]) for i in doc["items"]] == [
        ("churn-batch", 1, []),
        ("churn-realtime", 1, []),
        ("churn-data-quality", 2, ["churn-realtime"]),
        ("defects-detector", 3, ["churn-data-quality"]),
    ]


def test_markdown_says_the_wave_in_the_details() -> None:
    text = plan_markdown(ITEMS, models=[])
    row = next(line for line in text.splitlines() if "mlops-churn-data-quality-dev" in line)
    assert "wave 2/3, after churn-realtime; no stack yet" in row


def test_a_stage_in_one_wave_shows_no_waves() -> None:
    items = plan_stage("dev", [s for s in DEV_SPECS if s.pipeline_id == "churn-batch"], {}, "mlops")
    assert plan_text(items) == "create    mlops-churn-batch-dev  (no stack yet)\nplan: 1 create\n"
    assert "wave" not in plan_markdown(items, models=[])
