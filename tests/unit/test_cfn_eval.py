"""The offline evaluator of CloudFormation intrinsics (local pipeline runner, template tests)."""

from __future__ import annotations

import pytest

from mlops_gitops.cfn_eval import EvalError, Evaluator, parameter_values

BODY = {
    "Parameters": {
        "Name": {"Type": "String", "Default": "dev"},
        "Accounts": {"Type": "CommaDelimitedList", "Default": ""},
        "Required": {"Type": "String"},
    },
    "Conditions": {
        "IsDev": {"Fn::Equals": [{"Ref": "Name"}, "dev"]},
        "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
        "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Ref": "Required"}, "x"]}]},
    },
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${Name}-topic"}}},
        "Only": {"Type": "AWS::SNS::Topic", "Condition": "NotDev", "Properties": {}},
    },
}


def evaluator(**given: str) -> Evaluator:
    return Evaluator(BODY, parameter_values(BODY, {"Required": "x", **given}), {"AWS::Region": "eu-west-1"})


def test_parameters_take_defaults_and_lists_split() -> None:
    values = parameter_values(BODY, {"Required": "x", "Accounts": "1,2"})
    assert values == {"Name": "dev", "Accounts": ["1", "2"], "Required": "x"}
    with pytest.raises(EvalError, match="Required has no default"):
        parameter_values(BODY, {})


def test_functions_and_conditions() -> None:
    ev = evaluator()
    assert ev({"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${Name}:${!Literal}"}) == (
        "arn:aws:sns:eu-west-1:dev:${Literal}"
    )
    assert (
        ev({"Fn::Sub": ["${A}-${Name}", {"A": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}}]})
        == "b-dev"
    )
    assert ev({"Fn::Join": ["/", ["x", {"Ref": "Name"}]]}) == "x/dev"
    assert ev.condition("Both") is True and ev.condition("NotDev") is False
    assert ev([1, {"Fn::If": ["NotDev", 2, {"Ref": "AWS::NoValue"}]}, 3]) == [1, 3], "NoValue drops the item"
    assert ev({"A": {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, 1]}, "B": 2}) == {"B": 2}
    assert (
        ev({"Ref": "Topic"}) == "<Topic>" and ev({"Fn::GetAtt": ["Topic", "TopicArn"]}) == "<Topic.TopicArn>"
    )
    assert ev.resource("Topic")["Properties"]["TopicName"] == "dev-topic"
    assert not ev.present("Only") and evaluator(Name="prod").present("Only")


def test_what_it_cannot_resolve_is_an_error_not_a_guess() -> None:
    ev = evaluator()
    with pytest.raises(EvalError, match="Ref to unknown Nope"):
        ev({"Ref": "Nope"})
    with pytest.raises(EvalError, match="Fn::Sub of unknown"):
        ev({"Fn::Sub": "${Nope}"})
    with pytest.raises(EvalError, match="Fn::Base64 is not supported"):
        ev({"Fn::Base64": "x"})
    with pytest.raises(EvalError, match="Only is not created"):
        ev.resource("Only")
