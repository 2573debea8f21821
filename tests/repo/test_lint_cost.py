"""How the templates are written so that cfn-lint (a cold `validate --templates`) stays fast: rules
of form that keep its work down without changing what CloudFormation creates. The lint's time is
measured in `make bench` (tests/bench/run.py), not here; these tests keep the forms that made it
shorter from being undone.

cfn-lint checks a Fn::Sub's string against its property's constraints (a state machine's
DefinitionString has a maximum length) by resolving it: it expands the Sub's variables in the order
they are listed, every value of the first (both branches of a Fn::If, every AllowedValue of a
parameter) with every value of the next, and so on. A variable it can't resolve (Fn::GetAtt: the
attribute exists only once the resource does) ends the expansion, but only when it is reached: listed
after a few Fn::Ifs it is reached once per combination of them. Listed first, it ends the expansion
at once. model_training.yaml's state machine took half of that template's lint, ~7% of the whole
repository's, before its variables were reordered (core/lint.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_gitops.core.lint import template_files
from mlops_gitops.core.templates import _parse
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT

# The intrinsic functions cfn-lint has no value for (cfnlint/jsonschema/_resolvers_cfn.py).
UNRESOLVABLE = {
    "Fn::GetAtt",
    "Fn::ImportValue",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::GetStackOutput",
    "Fn::ForEach",
    "Fn::Transform",
}
REPO = Repo(REPO_ROOT)
TEMPLATES = {REPO.display(path): path for path in template_files(REPO)}


def _holds_unresolvable(node: Any) -> bool:
    if isinstance(node, dict):
        return any(key in UNRESOLVABLE or _holds_unresolvable(value) for key, value in node.items())
    if isinstance(node, list):
        return any(_holds_unresolvable(value) for value in node)
    return False


def _subs(node: Any, path: str = "$"):
    """(path, variables) of every Fn::Sub with a variable map, at any depth."""
    if isinstance(node, dict):
        sub = node.get("Fn::Sub")
        if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[1], dict):
            yield path, sub[1]
        for key, value in node.items():
            yield from _subs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _subs(value, f"{path}[{i}]")


def misordered_subs(body: dict[str, Any]) -> list[str]:
    """The Fn::Subs listing a variable that cfn-lint can resolve before one holding a function it
    can't. A variable holding one only in a Fn::If branch counts as holding one (the order then buys
    little, and costs nothing); a Ref to a resource or a `${Resource.Attr}` in the string is not seen
    (cfn-lint lists those after the map's variables; none is in the templates)."""
    out = []
    for path, variables in _subs(body):
        held = [_holds_unresolvable(value) for value in variables.values()]
        if held != sorted(held, reverse=True):
            out.append(f"{path}: {list(variables)}")
    return out


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_sub_lists_the_variables_cfn_lint_cannot_resolve_first(name: str) -> None:
    assert misordered_subs(_parse(TEMPLATES[name].read_text(encoding="utf-8"))) == []


def test_the_check_finds_a_getatt_listed_after_a_fn_if() -> None:
    body = {
        "Resources": {
            "Machine": {
                "Properties": {
                    "DefinitionString": {
                        "Fn::Sub": [
                            "${Part} ${Role}",
                            {
                                "Part": {"Fn::If": ["HasKms", "a", "b"]},
                                "Role": {"Fn::Sub": ["${Arn}", {"Arn": {"Fn::GetAtt": ["Role", "Arn"]}}]},
                            },
                        ]
                    }
                }
            }
        }
    }
    assert misordered_subs(body) == ["$.Resources.Machine.Properties.DefinitionString: ['Part', 'Role']"]
    variables = body["Resources"]["Machine"]["Properties"]["DefinitionString"]["Fn::Sub"][1]
    body["Resources"]["Machine"]["Properties"]["DefinitionString"]["Fn::Sub"][1] = {
        "Role": variables["Role"],
        "Part": variables["Part"],
    }
    assert misordered_subs(body) == []
