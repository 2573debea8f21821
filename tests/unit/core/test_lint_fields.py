"""cfn-lint copies its Context, Validator and FunctionFilter dataclasses at every step of a template's
walk and asks `dataclasses.fields(cls)` each time; core.lint gives those modules a version that
remembers the answer per class (`_memoize_dataclass_fields`): the same findings, with 5-8% less
CPU in a cold lint of this repository (measured, not asserted here)."""

from __future__ import annotations

import dataclasses
import gc
import sys
import weakref

import pytest

from mlops_gitops.core import lint
from tests.conftest import REPO_ROOT

# Findings of several kinds: a property of the wrong type, an unknown Sub variable, an IAM action
# that doesn't exist, an Fn::If branch its condition rules out, a parameter nobody uses.
FLAWED = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
  Unused: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Equals [!Ref Env, dev]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      DelaySeconds: [1]
      QueueName: !If [IsProd, !If [IsDev, never, prod-queue], !Sub "dev-${Missing}"]
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [sqs:SendMessage, sqs:NoSuchAction]
                Resource: !GetAtt Queue.Arn
"""


def _cfn_lint_modules_using(function: object) -> list[str]:
    return sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("cfnlint.") and getattr(module, "fields", None) is function
    )


def _cfn_lint_modules_remembering() -> list[str]:
    """The cfn-lint modules whose `fields` is core.lint's memo of dataclasses.fields."""
    return sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("cfnlint.")
        and getattr(getattr(module, "fields", None), "__wrapped__", None) is dataclasses.fields
    )


def test_the_modules_that_copy_cfn_lints_dataclasses_remember_their_fields() -> None:
    lint.warm_runner()
    remembered = _cfn_lint_modules_remembering()
    # Where cfn-lint 1.x's evolve() methods live. Failing here means a cfn-lint release moved them:
    # the findings are still right (nothing is patched then) but the saving is gone - follow them in
    # core.lint._memoize_dataclass_fields.
    assert {"cfnlint.context.context", "cfnlint.jsonschema.validators"} <= set(remembered), remembered
    assert _cfn_lint_modules_using(dataclasses.fields) == []


def test_the_remembered_fields_are_dataclasses_fields() -> None:
    from cfnlint.context.context import Context
    from cfnlint.jsonschema._filter import FunctionFilter
    from cfnlint.jsonschema.validators import create

    lint.warm_runner()
    import cfnlint.context.context as context_module

    fields = context_module.fields
    validator_class = create()
    for cls in (Context, FunctionFilter, validator_class):
        assert fields(cls) == dataclasses.fields(cls)
        assert fields(cls) is fields(cls)  # the second answer is the remembered one
    instance = validator_class(schema={})
    assert fields(instance) == dataclasses.fields(instance)
    with pytest.raises(TypeError):
        fields(dict)  # not a dataclass: the same error as dataclasses.fields


def test_a_class_cfn_lint_no_longer_uses_is_not_kept() -> None:
    """cfn-lint creates a Validator class per rule it extends (hundreds per template): remembering
    their fields must not keep them alive."""
    from cfnlint.jsonschema.validators import create

    lint.warm_runner()
    import cfnlint.jsonschema.validators as validators_module

    validator_class = create()
    validators_module.fields(validator_class)
    gone = weakref.ref(validator_class)
    del validator_class
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize(
    "name, text",
    [
        ("flawed.yaml", FLAWED),
        ("model_training.yaml", None),  # a template of this repository, conditions and IAM included
    ],
)
def test_the_findings_are_the_same_as_without_it(
    name: str, text: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if text is None:
        text = (REPO_ROOT / "cloudformation" / "pipelines" / name).read_text(encoding="utf-8")
    lint.warm_runner()
    remembered = lint._lint_one((name, text, lint.DEFAULT_REGIONS))
    for module_name in _cfn_lint_modules_remembering():
        monkeypatch.setattr(sys.modules[module_name], "fields", dataclasses.fields)
    assert _cfn_lint_modules_using(dataclasses.fields)  # the test really lints without it
    assert lint._lint_one((name, text, lint.DEFAULT_REGIONS)) == remembered
    if name == "flawed.yaml":  # a comparison of real findings (cfn-lint 1.58: E3012 E1019 W3037 W1028 W2001)
        assert len({f.code for f in remembered}) >= 4, remembered
