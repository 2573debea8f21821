"""core.lint makes three changes to how cfn-lint runs, each for the same findings with less CPU
(measured, not asserted here; docs/architecture.md has the figures):

- `_memoize_dataclass_fields`: cfn-lint copies its Context, Validator and FunctionFilter dataclasses
  at every step of a template's walk and asks `dataclasses.fields(cls)` each time; those modules get
  a version that remembers the answer per class.
- `_walk_policy_documents_once`: where a policy rule validates a policy document, cfn-lint's
  key-by-key walk of it skips the keys that rule's schema knows (Id, Statement, Version): each
  function in a statement was checked three times, now twice.
- `_reuse_validator_classes`: the Validator class cfn-lint builds when a rule extends a validator is
  built once per distinct arguments, not each time.

The findings with and without them are compared below."""

from __future__ import annotations

import collections
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

    validator_class = create.__wrapped__()  # a class of its own (create() shares equal ones)
    validators_module.fields(validator_class)
    gone = weakref.ref(validator_class)
    del validator_class
    gc.collect()
    assert gone() is None


# Functions inside policy documents of each kind: an identity policy (with an unknown key holding a
# Ref at the top and a misspelt one in a statement: the policy rule only says they are unexpected,
# cfn-lint's key-by-key walk checks what they hold), a trust policy, a bucket policy, and an IoT
# policy, which no policy rule covers.
POLICIES = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: s3:*
            Resource: !Sub "arn:${AWS::Partition}:s3:::${NoSuchBucket}/*"
            Condition: {Bool: {aws:SecureTransport: false}}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: !Ref NoSuchService}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Extra: !Ref NoSuchTopLevel
            Statement:
              - Effect: Allow
                Action: s3:GetObject
                Resource: "*"
                Resourc: !Ref NoSuchParameter
              - Effect: Allow
                Action: s3:GetObject
                Resource: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/${NoSuchKey}"
  IotPolicy:
    Type: AWS::IoT::Policy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: iot:Connect
            Resource: !Ref NoSuchThing
"""


IGNORE_POLICY_RULES = """Metadata:
  cfn-lint:
    config:
      ignore_checks: [E3510, E3512, E3513, E3530]
"""


def _without_the_speedups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put back what core.lint replaced in cfn-lint, for the rest of the test."""
    from cfnlint.jsonschema import _filter
    from cfnlint.jsonschema import validators as validators_module

    for module_name in _cfn_lint_modules_remembering():
        monkeypatch.setattr(sys.modules[module_name], "fields", dataclasses.fields)
    monkeypatch.setattr(
        _filter.FunctionFilter, "_filter_schemas", _filter.FunctionFilter._filter_schemas.__wrapped__
    )
    monkeypatch.setattr(validators_module, "create", validators_module.create.__wrapped__)
    assert _cfn_lint_modules_using(dataclasses.fields)  # the test really lints without them


@pytest.mark.parametrize(
    "name, text",
    [
        ("flawed.yaml", FLAWED),
        ("policies.yaml", POLICIES),
        # the policy rules' own findings ignored: the functions' findings must stay
        ("ignored.yaml", POLICIES.replace("Resources:", IGNORE_POLICY_RULES + "Resources:", 1)),
        ("model_training.yaml", None),  # a template of this repository, conditions and IAM included
    ],
)
def test_the_findings_are_the_same_as_without_them(
    name: str, text: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if text is None:
        text = (REPO_ROOT / "cloudformation" / "pipelines" / name).read_text(encoding="utf-8")
    lint.warm_runner()
    faster = lint._lint_one((name, text, lint.DEFAULT_REGIONS))
    _without_the_speedups(monkeypatch)
    assert lint._lint_one((name, text, lint.DEFAULT_REGIONS)) == faster
    if name == "flawed.yaml":  # a comparison of real findings (cfn-lint 1.58: E3012 E1019 W3037 W1028 W2001)
        assert len({f.code for f in faster}) >= 4, faster
    if name in ("policies.yaml", "ignored.yaml"):  # every bad name in a policy is found, the IoT one too
        found = " ".join(f.message for f in faster)
        names = (
            "NoSuchBucket",
            "NoSuchService",
            "NoSuchTopLevel",
            "NoSuchParameter",
            "NoSuchKey",
            "NoSuchThing",
        )
        for missing in names:
            assert repr(missing) in found, (missing, faster)


def _refs_checked(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """How often cfn-lint's Ref rule (E1020) checks each Ref of the template linted next, by path."""
    rule = lint._runner(lint.DEFAULT_REGIONS).rules["E1020"]
    checked: collections.Counter[str] = collections.Counter()
    original = type(rule).ref.__get__(rule)  # the rule's own method, not an earlier counter

    def ref(validator, subschema, instance, schema):
        checked["/".join(str(p) for p in validator.context.path.path) + ":" + str(instance.get("Ref"))] += 1
        yield from original(validator, subschema, instance, schema)

    monkeypatch.setattr(rule, "ref", ref)
    return checked


def test_a_policy_document_a_policy_rule_checks_is_not_also_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    # POLICIES without its mistakes (cfn-lint may check a function with an error again, by design)
    valid = "\n".join(
        line for line in POLICIES.splitlines() if "Resourc:" not in line and "Extra:" not in line
    )
    for wrong, right in (
        ("${NoSuchBucket}", "${Bucket}"),
        ("!Ref NoSuchService", '!Sub "ec2.${AWS::URLSuffix}"'),
        ("${NoSuchKey}", "${AWS::AccountId}"),
        ("!Ref NoSuchThing", '!Sub "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:client/c"'),
    ):
        valid = valid.replace(wrong, right)
    lint.warm_runner()
    faster = _refs_checked(monkeypatch)
    findings = lint._lint_one(("valid.yaml", valid, lint.DEFAULT_REGIONS))
    assert "NoSuch" not in valid and not [f for f in findings if f.code.startswith("E1")], findings
    _without_the_speedups(monkeypatch)
    before = _refs_checked(monkeypatch)
    lint._lint_one(("valid.yaml", valid, lint.DEFAULT_REGIONS))
    in_policies = sorted(path for path in before if "PolicyDocument" in path)
    assert len(in_policies) >= 6 and set(faster) == set(before), (faster, before)
    # Every Ref in the bucket, trust and identity policies' statements was checked once more by the
    # key-by-key walk; the IoT policy, which no policy rule covers, is walked as before.
    assert [before[path] - faster[path] for path in in_policies] == [
        0 if "IotPolicy" in path else 1 for path in in_policies
    ], (faster, before)


def test_a_validator_class_is_built_once_for_equal_arguments() -> None:
    from cfnlint.jsonschema._filter import FunctionFilter
    from cfnlint.jsonschema._keywords import type as type_keyword
    from cfnlint.jsonschema.validators import create

    lint.warm_runner()
    assert create.__wrapped__ is not create  # type: ignore[attr-defined]
    first = create(validators={"type": type_keyword}, function_filter=FunctionFilter())
    assert create(validators={"type": type_keyword}, function_filter=FunctionFilter()) is first
    # another filter value, other keyword functions: another class, as cfn-lint built it
    other = create(
        validators={"type": type_keyword}, function_filter=FunctionFilter(add_cfn_lint_keyword=False)
    )
    assert other is not first
    assert other(schema={}).function_filter == FunctionFilter(add_cfn_lint_keyword=False)
    assert create(validators={}, function_filter=FunctionFilter()) is not first
    # what can't be compared gets a class of its own each time
    unhashable = {"x": []}
    assert create(fn_resolvers=unhashable) is not create(fn_resolvers=unhashable)


def test_only_classes_for_the_kept_runners_rules_are_kept() -> None:
    """Each cfn-lint Runner (cfnlint.api.lint builds one per call) extends validators with its own
    rules: a class kept for them would keep those rules alive, so only the rules of the Runners
    core.lint keeps get theirs kept, and the classes kept stay bounded in a long process."""
    from cfnlint.jsonschema._keywords import type as type_keyword
    from cfnlint.jsonschema.validators import create

    lint.warm_runner()
    ours = next(iter(lint._runner(lint.DEFAULT_REGIONS).rules.values()))

    class OtherRule:  # a rule of some other Runner
        def check(self, validator, value, instance, schema):
            return iter(())

    assert create(validators={"x": ours.validate}) is create(validators={"x": ours.validate})
    other = OtherRule()
    kept = len(lint._validator_classes)
    assert create(validators={"x": other.check}) is not create(validators={"x": other.check})
    assert len(lint._validator_classes) == kept
    gone = weakref.ref(other)
    del other
    gc.collect()
    assert gone() is None  # nothing of core.lint's holds it
    for i in range(3 * lint._VALIDATOR_CLASSES_KEPT):
        create(validators={f"keyword{i}": type_keyword})
    assert 0 < len(lint._validator_classes) <= lint._VALIDATOR_CLASSES_KEPT
