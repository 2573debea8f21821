"""Model cards in protected stages: what a reviewer of a model that reaches prod must be able to read
on its card. The fields are the SageMaker model card JSON schema's
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-cards-json-schema.html); which of them a
protected stage requires is our policy: the intended uses and a real risk rating."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_gitops.config.rules.base import Context, by_path, check, per_stage, stages_text
from mlops_gitops.findings import Finding

RATED = ("High", "Medium", "Low")


def _missing(card: dict[str, Any]) -> Iterator[tuple[list, str, str]]:
    """(path inside the card, what is missing, how to fix) for each field a protected stage needs."""
    uses = card.get("intended_uses")
    uses = uses if isinstance(uses, dict) else {}
    if not str(uses.get("intended_uses") or "").strip():
        yield (
            ["intended_uses", "intended_uses"],
            "its model card says nothing of the model's intended uses",
            "write model_card.intended_uses.intended_uses: what the model may be used for (and what not)",
        )
    if uses.get("risk_rating", "Unknown") == "Unknown":  # another value is the schema's to refuse
        yield (
            ["intended_uses", "risk_rating"],
            f"its model card's risk_rating is {uses.get('risk_rating', 'Unknown')!r}",
            "set model_card.intended_uses.risk_rating to 'High', 'Medium' or 'Low' "
            "(and explanations_for_risk_rating: why)",
        )


@check
def model_card_in_protected_stages(config: dict[str, Any], ctx: Context) -> Iterator[Finding]:
    problems: list[tuple[list, str]] = []
    about: dict[tuple, tuple[str, str]] = {}
    for stage, card, path in per_stage(config, ctx, "model_card"):
        st = ctx.env.stage(stage)
        if not isinstance(card, dict) or st is None or not st.protected:
            continue
        for inner, what, hint in _missing(card):
            full = [*path, *inner]
            problems.append((full, stage))
            about[tuple(full)] = (what, hint)
    for path, stages in by_path(iter(problems)).items():
        what, hint = about[path]
        yield ctx.finding(
            list(path),
            "model-card-required",
            f"{stages_text(stages)} {'is' if len(stages) == 1 else 'are'} protected and {what}",
            hint,
        )
