"""The model card line of a plan (issue 19): per stack whose card changes, "added", "removed" or the
card fields that change, named as in the config's model_card (the template carries one parameter
per field, core/params/model_card.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_gitops.core.params.model_card import FIELDS

if TYPE_CHECKING:
    from mlops_gitops.core.plan import PlanItem

CARD_FIELDS: dict[str, str] = {
    "ModelCardStatus": "status",
    "ModelCardKeyRevision": "kms_key_arn (a new card replaces it)",
    "ModelCardRiskRating": "intended_uses.risk_rating",
    **{parameter: f"{section}.{field}" for parameter, (section, field) in FIELDS.items()},
    "ModelCardEvaluationName": "evaluation_details[0].name",
    "ModelCardEvaluationObservation": "evaluation_details[0].evaluation_observation",
}


def card_change(item: PlanItem) -> str | None:
    """``added``, ``removed``, ``changed: <fields>`` or None when the stack's card stays as it is."""
    changes = {c.key: c for c in item.param_changes if c.key in CARD_FIELDS}
    if not changes:
        return None
    status = changes.get("ModelCardStatus")
    if item.status is None or (status and not status.old and status.new):
        return "added" if (status and status.new) else None
    if status and status.old and not status.new:
        return "removed"
    return "changed: " + ", ".join(CARD_FIELDS[key] for key in CARD_FIELDS if key in changes)
