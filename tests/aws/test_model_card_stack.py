"""What moto makes of the model card (issue 19, part 4): its CloudFormation has no
AWS::SageMaker::ModelCard, and ignores the resource: the stack with a card is created, and no card
exists. The card's shape is therefore asserted offline (tests/unit/core/params/test_model_card_params.py)
and against cfn-lint's provider schema (tests/repo); the execution role's card permissions by the
policy evaluator (tests/repo/test_handler_permissions.py)."""

from __future__ import annotations

from pathlib import Path

from mlops_gitops.core.render import render
from tests.aws.conftest import create_pipeline_stack
from tests.aws.test_inference_stacks import ENV, REPO_ROOT, VALIDATOR, _prepare


def test_moto_creates_the_stack_with_a_card_and_ignores_the_card(aws) -> None:
    cfg, findings = VALIDATOR.check_config(
        REPO_ROOT / "pipeline-configs" / "churn-realtime" / "mlops-config.json", ENV
    )
    assert cfg is not None, findings
    spec = render(REPO_ROOT, cfg, "prod", ENV, commit="0" * 40)
    assert spec.parameters["ModelCardStatus"] == "PendingReview", "the example has a card"
    _prepare(aws)
    stack = create_pipeline_stack(aws, Path(spec.template).name, spec.stack_name, spec.parameters)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert aws("sagemaker").list_model_cards()["ModelCardSummaries"] == []
