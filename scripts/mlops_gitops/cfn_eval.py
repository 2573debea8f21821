"""CloudFormation's intrinsic functions, evaluated offline against parameter values.

Used where a template must be read as CloudFormation would see it without deploying it: the local
pipeline runner reads the CodePipeline stages of orchestrator.yaml (moto ignores CodePipeline),
validate computes the physical names a stack will give its resources (core/physical_names), and
tests evaluate conditions and definitions. Covers the functions our templates use: Ref, Fn::GetAtt,
Fn::Sub (both forms, ``${!literal}``), Fn::If and AWS::NoValue, Fn::Equals/Not/And/Or, Condition,
Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap. References to resources resolve through the
``resources`` callback (a physical id the caller knows, or a placeholder).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property or list item disappears
_SUB = re.compile(r"\$\{([^}]+)\}")


class EvalError(ValueError):
    """The template uses something this evaluator can't resolve."""


def parameter_values(body: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Defaults overlaid with ``given``; List types become lists, as Ref returns them."""
    values: dict[str, Any] = {}
    for name, spec in (body.get("Parameters") or {}).items():
        if name in given:
            raw: Any = given[name]
        elif "Default" in spec:
            raw = str(spec["Default"])
        else:
            raise EvalError(f"parameter {name} has no default and no value")
        values[name] = (
            raw.split(",")
            if str(spec.get("Type", "")).startswith("CommaDelimitedList")
            or (str(spec.get("Type", "")).startswith("List<"))
            else raw
        )
    return values


class Evaluator:
    def __init__(
        self,
        body: Mapping[str, Any],
        params: Mapping[str, Any],
        pseudo: Mapping[str, str] | None = None,
        resources: Callable[[str, str | None], Any] | None = None,
    ) -> None:
        self.body = body
        self.refs: dict[str, Any] = {
            "AWS::Partition": "aws",
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
            "AWS::NoValue": NO_VALUE,
            **(pseudo or {}),
            **params,
        }
        self.resources = resources or (lambda name, attr: f"<{name}{'.' + attr if attr else ''}>")
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------ conditions and resources

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            try:
                node = self.body["Conditions"][name]
            except KeyError:
                raise EvalError(f"no condition {name}") from None
            self._conditions[name] = bool(self(node))
        return self._conditions[name]

    def present(self, logical_id: str) -> bool:
        """Whether CloudFormation would create this resource with these parameters."""
        cond = self.body["Resources"][logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def resource(self, logical_id: str) -> dict[str, Any]:
        """The resource with its properties evaluated."""
        if not self.present(logical_id):
            raise EvalError(f"{logical_id} is not created with these parameters")
        return self(self.body["Resources"][logical_id])

    # ------------------------------------------------------------------ evaluation

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, arg)
        return {k: v for k, v in ((k, self(v)) for k, v in node.items()) if v is not NO_VALUE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            if arg in self.refs:
                return self.refs[arg]
            if arg in (self.body.get("Resources") or {}):
                return self.resources(arg, None)
            raise EvalError(f"Ref to unknown {arg}")
        if key == "Fn::GetAtt":
            name, attr = arg.split(".", 1) if isinstance(arg, str) else (arg[0], self(arg[1]))
            return self.resources(name, attr)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            return self(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return str(self(arg[0])) == str(self(arg[1]))
        if key == "Fn::Not":
            return not self(arg[0])
        if key == "Fn::And":
            return all(self(a) for a in arg)
        if key == "Fn::Or":
            return any(self(a) for a in arg)
        if key == "Fn::Join":
            return str(arg[0]).join(str(v) for v in self(arg[1]))
        if key == "Fn::Select":
            items = self(arg[1])
            return items[int(self(arg[0]))]
        if key == "Fn::Split":
            return str(self(arg[1])).split(arg[0])
        if key == "Fn::FindInMap":
            return self.body["Mappings"][self(arg[0])][self(arg[1])][self(arg[2])]
        if key == "Fn::Sub":
            return self._sub(arg)
        raise EvalError(f"{key} is not supported offline")

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self(v) for k, v in extra.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if name in self.refs:
                return str(self.refs[name])
            if "." in name:
                resource, attr = name.split(".", 1)
                return str(self.resources(resource, attr))
            if name in (self.body.get("Resources") or {}):
                return str(self.resources(name, None))
            raise EvalError(f"Fn::Sub of unknown ${{{name}}}")

        return _SUB.sub(one, text)
