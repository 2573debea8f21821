"""The model card parameters of the inference templates (issue 19): one template parameter per card
field, read from the stage's ``model_card``. A stage without a card passes ModelCardStatus "" alone
(the template then leaves the card out): said explicitly, so that removing a card is a parameter
change the plan shows and deploy applies (the plan compares only the keys a spec sets).

Why a parameter per field rather than one JSON parameter: AWS::SageMaker::ModelCard's Content is an
object in CloudFormation (cfn-lint's bundled provider schema; CloudFormation has no intrinsic that
parses JSON), so a JSON string can't become the card. The template holds one condition for the card
and one for its optional evaluation, not one per field.

Why a card resource in the stage's stack rather than CreateModelPackage's ModelCard
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html): the
inference stacks don't own the registry version they serve (training registers it; git pins it),
so its card could only be set by an UpdateModelPackage call outside CloudFormation, on a version
every stage shares (one status for dev and prod), invisible to plan, drift and rollback. A card per
stage's stack is created, updated and deleted with what the stage serves, and names that version
in its model_package_details (or the artifact in model_overview)."""

from __future__ import annotations

import hashlib
from typing import Any

from mlops_gitops.core.params.base import ParamContext, Params

# template parameter -> (section, field) of the config's model_card
FIELDS: dict[str, tuple[str, str]] = {
    "ModelCardPurpose": ("intended_uses", "purpose_of_model"),
    "ModelCardIntendedUses": ("intended_uses", "intended_uses"),
    "ModelCardFactors": ("intended_uses", "factors_affecting_model_efficiency"),
    "ModelCardRiskExplanation": ("intended_uses", "explanations_for_risk_rating"),
    "ModelCardBusinessProblem": ("business_details", "business_problem"),
    "ModelCardBusinessStakeholders": ("business_details", "business_stakeholders"),
    "ModelCardLineOfBusiness": ("business_details", "line_of_business"),
    "ModelCardEthicalConsiderations": ("additional_information", "ethical_considerations"),
    "ModelCardCaveats": ("additional_information", "caveats_and_recommendations"),
}


def _section(card: dict[str, Any], name: str) -> dict[str, Any]:
    value = card.get(name)
    return value if isinstance(value, dict) else {}


def model_card_parameters(ctx: ParamContext) -> Params:
    card = ctx.value("model_card")
    if not isinstance(card, dict):
        return {"ModelCardStatus": ""}
    kms = ctx.value("kms_key_arn", "") or ""
    params = {
        "ModelCardStatus": str(card.get("status") or "Draft"),
        # the key is create-only on a card: a new key names a new card (see the template)
        "ModelCardKeyRevision": "-" + hashlib.sha256(kms.encode()).hexdigest()[:6] if kms else "",
        "ModelCardRiskRating": str(_section(card, "intended_uses").get("risk_rating") or "Unknown"),
    }
    for parameter, (section, field) in FIELDS.items():
        params[parameter] = str(_section(card, section).get(field) or "")
    evaluations = card.get("evaluation_details") or [{}]
    first = evaluations[0] if isinstance(evaluations, list) and isinstance(evaluations[0], dict) else {}
    params["ModelCardEvaluationName"] = str(first.get("name") or "")
    params["ModelCardEvaluationObservation"] = str(first.get("evaluation_observation") or "")
    return params
