"""The test-only IAM evaluator's set operators (tests/repo/iam_eval.py), against the cases of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html:
ForAnyValue holds when some request value matches and not when the key is missing or empty;
ForAllValues holds when every request value matches and when the key is missing or empty."""

from __future__ import annotations

import pytest

from tests.repo.iam_eval import ALLOW, DENY, IMPLICIT, conditions_hold, decide

pytestmark = pytest.mark.repo

ANY = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/mlops-notify"}}
ALL = {"ForAllValues:StringLike": {"aws:TagKeys": ["team", "cost-*"]}}


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        (ANY, {"kms:ResourceAliases": ["alias/other", "alias/mlops-notify"]}, True),
        (ANY, {"kms:ResourceAliases": ["alias/other"]}, False),
        (ANY, {"kms:ResourceAliases": []}, False),
        (ANY, {}, False),
        (ANY, {"KMS:RESOURCEALIASES": "alias/mlops-notify"}, True),  # keys are case-insensitive
        (ALL, {"aws:TagKeys": ["team", "cost-centre"]}, True),
        (ALL, {"aws:TagKeys": ["team", "owner"]}, False),
        (ALL, {}, True),
        (ALL, {"aws:TagKeys": []}, True),
        ({"ForAnyValue:StringNotEquals": {"k": "a"}}, {"k": ["a", "b"]}, True),  # b is not a
        ({"ForAllValues:StringNotEquals": {"k": "a"}}, {"k": ["a", "b"]}, False),
    ],
)
def test_set_operators(condition: dict, context: dict, holds: bool) -> None:
    assert conditions_hold(condition, context) is holds


def test_a_deny_with_for_any_value_applies_only_when_a_value_matches() -> None:
    statements = [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:DisableKey", "Resource": "*", "Condition": ANY},
    ]
    key = "arn:aws:kms:us-east-1:111111111111:key/k"
    assert decide(statements, "kms:DisableKey", key, {"kms:ResourceAliases": ["alias/mlops-notify"]}) == DENY
    assert decide(statements, "kms:DisableKey", key, {"kms:ResourceAliases": ["alias/x"]}) == ALLOW
    assert decide(statements, "kms:DisableKey", key) == ALLOW
    assert decide(statements[1:], "kms:Decrypt", key) == IMPLICIT


def test_an_unknown_set_operator_is_refused() -> None:
    with pytest.raises(AssertionError, match="not modelled"):
        conditions_hold({"ForSomeValues:StringEquals": {"k": "a"}}, {"k": ["a"]})
