"""Helpers shared by the policy rules (no rule classes here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def present(props: dict[str, Any], *keys: str) -> bool:
    """Whether a (possibly conditional) property path exists: an Fn::If counts as present when
    at least one branch sets it (a branch of AWS::NoValue means "only when the condition holds")."""
    node: Any = props
    for key in keys:
        node = _unwrap_if(node)
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _unwrap_if(node: Any) -> Any:
    if (
        isinstance(node, dict)
        and list(node) == ["Fn::If"]
        and isinstance(node["Fn::If"], list)
        and len(node["Fn::If"]) == 3
    ):
        for branch in node["Fn::If"][1:]:
            if not (isinstance(branch, dict) and branch.get("Ref") == "AWS::NoValue"):
                return _unwrap_if(branch)
    return node


def statements(document: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    document = _unwrap_if(document)
    if not isinstance(document, dict):
        return
    items = _unwrap_if(document.get("Statement"))
    if isinstance(items, dict):
        items = [items]
    for index, item in enumerate(items or []):
        item = _unwrap_if(item)
        if isinstance(item, dict):
            yield index, item


def as_list(value: Any) -> list[Any]:
    value = _unwrap_if(value)
    return value if isinstance(value, list) else [value]


def policy_documents(resource_type: str, props: dict[str, Any]) -> Iterator[tuple[list[str | int], Any]]:
    """(path below Properties, policy document) of every identity policy of an IAM resource."""
    if resource_type == "AWS::IAM::Role":
        for index, policy in enumerate(as_list(props.get("Policies") or [])):
            policy = _unwrap_if(policy)
            if isinstance(policy, dict):
                yield ["Policies", index, "PolicyDocument"], policy.get("PolicyDocument")
    elif resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        yield ["PolicyDocument"], props.get("PolicyDocument")
