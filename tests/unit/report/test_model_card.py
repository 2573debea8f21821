"""pr-check's model card line (issue 19, part 4): per stack whose card changes, added / removed / the
card fields that change, under the stage's plan table."""

from __future__ import annotations

import pytest

from mlops_gitops.core.plan import PlanItem, param_changes
from mlops_gitops.report.model_card import card_change
from mlops_gitops.report.plan import plan_markdown

CARD = {"ModelCardStatus": "Draft", "ModelCardRiskRating": "Low", "ModelCardIntendedUses": "Offers."}
NONE = {"ModelCardStatus": ""}


def _item(old: dict | None, new: dict, stage: str = "prod") -> PlanItem:
    return PlanItem(
        stage,
        f"mlops-churn-{stage}",
        "create" if old is None else "update",
        "churn",
        status=None if old is None else "UPDATE_COMPLETE",
        param_changes=param_changes(old or {}, {"InstanceType": "ml.m5.large", **new}),
    )


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (None, CARD, "added"),
        (None, NONE, None),
        (NONE, CARD, "added"),
        ({}, CARD, "added"),  # a stack deployed before cards existed
        (CARD, NONE, "removed"),
        (CARD, CARD, None),
        (
            {**CARD, "ModelCardRiskRating": "Low"},
            {**CARD, "ModelCardRiskRating": "High", "ModelCardStatus": "Approved"},
            "changed: status, intended_uses.risk_rating",
        ),
        (CARD, {**CARD, "ModelCardEvaluationName": "holdout"}, "changed: evaluation_details[0].name"),
        ({"InstanceType": "ml.m5.xlarge", **CARD}, CARD, None),
        (
            {**CARD, "ModelCardKeyRevision": ""},
            {**CARD, "ModelCardKeyRevision": "-0a1b2c"},
            "changed: kms_key_arn (a new card replaces it)",
        ),
    ],
    ids=[
        "create-with",
        "create-without",
        "added",
        "added-to-old-stack",
        "removed",
        "same",
        "changed",
        "evaluation",
        "other-param",
        "new-key",
    ],
)
def test_card_change(old, new, expected) -> None:
    assert card_change(_item(old, new)) == expected


def test_the_pr_comment_has_one_model_card_line_per_stack_that_changes() -> None:
    items = [
        _item(NONE, CARD, "staging"),
        _item(CARD, {**CARD, "ModelCardRiskRating": "High"}, "prod"),
        PlanItem(
            "prod",
            "mlops-other-prod",
            "update",
            "other*x",
            status="UPDATE_COMPLETE",
            param_changes=param_changes(CARD, NONE),
        ),
    ]
    markdown = plan_markdown(items, models=[])
    assert "- model card of churn: added" in markdown
    assert "- model card of churn: changed: intended\\_uses.risk\\_rating" in markdown
    assert "- model card of other\\*x: removed" in markdown, "names from configs are escaped"
    staging = markdown.split("### Stage `prod`")[0]
    assert staging.count("model card of") == 1
