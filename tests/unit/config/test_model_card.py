"""`model_card` (issue 19, part 4): the fields are the SageMaker model card JSON schema's
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-cards-json-schema.html, and
AWS::SageMaker::ModelCard in cfn-lint's bundled provider schema); a protected stage (prod) needs the
intended uses and a real risk rating on the card."""

from __future__ import annotations

import pytest

from tests.conftest import TmpRepo, example, validate_findings

GOOD = {
    "status": "PendingReview",
    "intended_uses": {
        "purpose_of_model": "Score churn risk.",
        "intended_uses": "Retention offers only; never pricing or credit.",
        "risk_rating": "Medium",
        "explanations_for_risk_rating": "Offers reach customers.",
    },
    "business_details": {"business_problem": "Customers leave.", "line_of_business": "Retention"},
    "evaluation_details": [{"name": "holdout-2026-11", "evaluation_observation": "AUC 0.91"}],
    "additional_information": {"caveats_and_recommendations": "Retrain quarterly."},
}


def _errors(tmp_repo: TmpRepo, card) -> set[tuple[str, str]]:
    config = example("churn-realtime")
    config["model_card"] = card
    return {(f["path"], f["code"]) for f in validate_findings(tmp_repo, config) if f["severity"] == "error"}


@pytest.mark.parametrize(
    "card, expected",
    [
        (GOOD, set()),
        # dev and staging are not protected: a draft card with nothing in it is fine there
        ({"dev": {}, "staging": {"status": "Draft"}, "prod": GOOD}, set()),
        ({"dev": {}, "staging": None, "prod": GOOD}, set()),
        (
            {"status": "Draft"},
            {
                ("$.model_card.intended_uses.intended_uses", "model-card-required"),
                ("$.model_card.intended_uses.risk_rating", "model-card-required"),
            },
        ),
        (
            {**GOOD, "intended_uses": {**GOOD["intended_uses"], "risk_rating": "Unknown"}},
            {("$.model_card.intended_uses.risk_rating", "model-card-required")},
        ),
        (
            {"dev": GOOD, "staging": GOOD, "prod": {"intended_uses": {"risk_rating": "High"}}},
            {("$.model_card.prod.intended_uses.intended_uses", "model-card-required")},
        ),
        # what the model card JSON schema refuses, the config schema refuses first
        (
            {**GOOD, "intended_uses": {**GOOD["intended_uses"], "risk_rating": "Severe"}},
            {("$.model_card.intended_uses.risk_rating", "enum")},
        ),
        (
            {**GOOD, "evaluation_details": [{"evaluation_observation": "x"}]},
            {("$.model_card.evaluation_details[0].name", "required")},
        ),
        (
            {**GOOD, "intended_uses": {**GOOD["intended_uses"], "purpose_of_model": "x" * 2049}},
            {("$.model_card.intended_uses.purpose_of_model", "length")},
        ),
        ({**GOOD, "model_overview": {}}, {("$.model_card.model_overview", "unknown-key")}),
    ],
    ids=[
        "one-card",
        "per-stage",
        "null-in-staging",
        "empty-in-prod",
        "unknown-risk",
        "prod-missing-uses",
        "bad-rating",
        "evaluation-unnamed",
        "too-long",
        "unknown-section",
    ],
)
def test_model_card_findings(tmp_repo: TmpRepo, card, expected) -> None:
    assert _errors(tmp_repo, card) == expected


def test_the_finding_says_which_stage_and_how_to_fix(tmp_repo: TmpRepo) -> None:
    config = example("churn-realtime")
    config["model_card"] = {"intended_uses": {"intended_uses": "Retention offers."}}
    [finding] = [f for f in validate_findings(tmp_repo, config) if f["severity"] == "error"]
    assert finding["message"] == "stage 'prod' is protected and its model card's risk_rating is 'Unknown'"
    assert "'High', 'Medium' or 'Low'" in finding["hint"]
