"""The model card (issue 19, part 4) as CloudFormation would build it from the rendered parameters.
moto's CloudFormation has no AWS::SageMaker::ModelCard, so the card is evaluated offline (cfn_eval)
against the resource's documented shape
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-modelcard.html,
and cfn-lint's bundled provider schema of the type, which tests/repo lints the templates against)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.templates import load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import assert_fits, build_params, valid_config

ENV = Validator(Repo(REPO_ROOT)).environments()
KMS = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
V7 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/churn/7"
CARD = {
    "intended_uses": {"intended_uses": "Retention offers.", "risk_rating": "Low"},
    "evaluation_details": [{"name": "holdout", "evaluation_observation": "AUC 0.91"}],
}


def _card(template: str, params: dict[str, str]) -> dict[str, Any] | None:
    body = load_template(REPO_ROOT, template).body
    given = {"ModelRevision": "0" * 8, "PermissionsBoundaryArn": "", **params}
    evaluate = Evaluator(body, parameter_values(body, given), resources=lambda name, attr: f"<{name}.{attr}>")
    if not evaluate.present("ModelCard"):
        return None
    return evaluate(body["Resources"]["ModelCard"]["Properties"])


def _params(tmp_repo: TmpRepo, base: str, template: str, stage: str, **changes) -> dict[str, str]:
    config = {**example(base), **changes}
    cfg = valid_config(tmp_repo, "p", config, ENV)
    params, ctx = build_params(template, cfg, stage, ENV)
    assert not ctx.findings
    assert_fits(load_template(REPO_ROOT, template).parameters, {"ModelRevision": "0" * 8, **params})
    return params


@pytest.mark.parametrize(
    "base, template", [("churn-realtime", "realtime_inference.yaml"), ("churn-batch", "batch_inference.yaml")]
)
def test_no_model_card_no_card_and_no_card_parameter(tmp_repo: TmpRepo, base: str, template: str) -> None:
    config = example(base)
    config.pop("model_card", None)
    cfg = valid_config(tmp_repo, "p", config, ENV)
    params, _ = build_params(template, cfg, "prod", ENV)
    card_params = {k: v for k, v in params.items() if k.startswith("ModelCard")}
    assert card_params == {"ModelCardStatus": ""}, (
        "said explicitly, so that removing a card shows in the plan"
    )
    assert _card(template, params) is None


@pytest.mark.parametrize(
    "base, template", [("churn-realtime", "realtime_inference.yaml"), ("churn-batch", "batch_inference.yaml")]
)
def test_the_card_describes_the_served_artifact_and_carries_the_config(
    tmp_repo: TmpRepo, base: str, template: str
) -> None:
    params = _params(tmp_repo, base, template, "prod", model_card=CARD)
    card = _card(template, params)
    assert card["ModelCardName"] == "mlops-p-prod-card" and card["ModelCardStatus"] == "Draft"
    content = card["Content"]
    assert content["ModelOverview"]["ModelName"] == "<Model.ModelName>"
    assert content["ModelOverview"]["ModelArtifact"] == [params["ModelArtifactUrl"]]
    assert "ModelPackageDetails" not in content and "SecurityConfig" not in card
    assert content["IntendedUses"]["IntendedUses"] == "Retention offers."
    assert content["IntendedUses"]["RiskRating"] == "Low"
    assert content["EvaluationDetails"] == [{"Name": "holdout", "EvaluationObservation": "AUC 0.91"}]


def test_a_registry_version_is_named_on_the_card_and_the_key_encrypts_it(tmp_repo: TmpRepo) -> None:
    config = example("churn-realtime")
    config.pop("model_artifact_location")
    for key in ("model_framework", "model_framework_version"):
        config.pop(key)
    params = _params(
        tmp_repo,
        "churn-realtime",
        "realtime_inference.yaml",
        "prod",
        **{k: v for k, v in config.items() if k != "model_card"},
        model_package_name=V7,
        kms_key_arn=KMS,
        model_card={**CARD, "status": "Approved", "evaluation_details": []},
    )
    card = _card("realtime_inference.yaml", params)
    assert card["Content"]["ModelPackageDetails"] == {"ModelPackageArn": V7}
    assert "ModelArtifact" not in card["Content"]["ModelOverview"]
    assert card["SecurityConfig"] == {"KmsKeyId": KMS}
    # the key is create-only on a card, and a custom-named resource can't be replaced under its name
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html)
    assert re.fullmatch(r"mlops-p-prod-card-[0-9a-f]{6}", card["ModelCardName"])
    longest = "x" * 51 + params["ModelCardKeyRevision"].join(["-card", ""])
    assert len(longest) <= 63, "SageMaker's 63 characters hold the longest NamePrefix"
    assert card["ModelCardStatus"] == "Approved" and "EvaluationDetails" not in card["Content"]


def test_a_stage_without_a_card_has_none(tmp_repo: TmpRepo) -> None:
    params = _params(
        tmp_repo,
        "churn-realtime",
        "realtime_inference.yaml",
        "dev",
        model_card={"dev": None, "staging": CARD, "prod": CARD},
    )
    assert _card("realtime_inference.yaml", params) is None
