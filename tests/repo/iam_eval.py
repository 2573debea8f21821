"""A small IAM policy evaluator for the templates' policy documents (tests only).

It follows AWS's documented evaluation logic for one request against a set of statements:
an explicit Deny wins, else an Allow grants, else the request is implicitly denied
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
Action/NotAction and Resource/NotResource match with * and ? wildcards (actions case-insensitively,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
Conditions: the String*, Arn* and Bool operators with their IfExists forms; a key missing from the
request makes a positive operator false, a negated one (StringNotEquals, ArnNotLike...) true, and
any ...IfExists operator true
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
Set operators for multi-valued keys: ForAnyValue:<op> holds when some value of the request's key
satisfies <op>, and is false when the key is missing or empty; ForAllValues:<op> holds when every
value does, and is true when the key is missing or empty
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html).
Keys are compared case-insensitively, as AWS does. moto's own evaluator ignores conditions and most
resource ARNs (see tests/aws/test_iam_enforced.py), which is why this one exists.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

ALLOW, DENY, IMPLICIT = "Allow", "Deny", "ImplicitDeny"


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _match(pattern: str, value: str, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _strings(value: Any) -> list[str]:
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(value)]


def _operator(op: str, expected: list[str], actual: list[str] | None) -> bool:
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    negated = "Not" in op
    if actual is None:
        return True if if_exists else negated
    if op in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals", "Bool"):
        hit = any(a == e for a in actual for e in expected)
    elif op in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        hit = any(_match(e, a, case=True) for a in actual for e in expected)
    elif op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = any(a.lower() == e.lower() for a in actual for e in expected)
    else:
        raise AssertionError(f"operator {op} is not modelled here; add it with its documented meaning")
    return not hit if negated else hit


def _set_operator(qualifier: str, op: str, expected: list[str], actual: list[str] | None) -> bool:
    if not actual:
        return qualifier == "forallvalues"
    each = [_operator(op, expected, [value]) for value in actual]
    return any(each) if qualifier == "foranyvalue" else all(each)


def conditions_hold(condition: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    ctx = {k.lower(): _strings(v) for k, v in context.items()}
    for op, pairs in (condition or {}).items():
        qualifier, _, base = op.rpartition(":")
        for key, expected in pairs.items():
            actual = ctx.get(key.lower())
            if qualifier:
                if qualifier.lower() not in ("foranyvalue", "forallvalues"):
                    raise AssertionError(f"set operator {qualifier} is not modelled here")
                holds = _set_operator(qualifier.lower(), base, _strings(expected), actual)
            else:
                holds = _operator(op, _strings(expected), actual)
            if not holds:
                return False
    return True


def statement_applies(st: Mapping[str, Any], action: str, resource: str, context: Mapping[str, Any]) -> bool:
    if "Action" in st:
        if not any(_match(p, action, case=False) for p in as_list(st["Action"])):
            return False
    elif any(_match(p, action, case=False) for p in as_list(st["NotAction"])):
        return False
    if "Resource" in st:
        if not any(_match(p, resource, case=True) for p in as_list(st["Resource"])):
            return False
    elif "NotResource" in st and any(_match(p, resource, case=True) for p in as_list(st["NotResource"])):
        return False
    return conditions_hold(st.get("Condition"), context)


def decide(
    statements: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> str:
    context = context or {}
    verdict = IMPLICIT
    for st in statements:
        if statement_applies(st, action, resource, context):
            if st["Effect"] == "Deny":
                return DENY
            verdict = ALLOW
    return verdict


def allowed(statements, action: str, resource: str, context: Mapping[str, Any] | None = None) -> bool:
    return decide(statements, action, resource, context) == ALLOW


def action_granted_somewhere(statements: Iterable[Mapping[str, Any]], action: str) -> bool:
    """Some Allow statement names this action (on some resource, under some condition)."""
    for st in statements:
        if st["Effect"] != "Allow":
            continue
        if "Action" in st and any(_match(p, action, case=False) for p in as_list(st["Action"])):
            return True
        if "NotAction" in st and not any(_match(p, action, case=False) for p in as_list(st["NotAction"])):
            return True
    return False


def stand_ins(body: dict) -> dict[str, str]:
    """A value for each parameter of a template without a default: its first allowed value, else 1
    for a number and "x" for the rest, so that the template evaluates (the tests set what they judge)."""
    return {
        p: spec["AllowedValues"][0]
        if "AllowedValues" in spec
        else "1"
        if spec.get("Type") == "Number"
        else "x"
        for p, spec in body["Parameters"].items()
        if "Default" not in spec
    }
