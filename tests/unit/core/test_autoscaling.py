"""Which endpoint updates need two steps (core.autoscaling), over realtime_inference.yaml's
parameters: https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html"""

from __future__ import annotations

import pytest

from mlops_gitops.core.autoscaling import refused_changes, step_one_parameters, variant_types

BASE = {
    "Variant1Name": "AllTraffic",
    "InstanceType": "ml.m5.large",
    "Variant2Name": "",
    "Variant2InstanceType": "",
    "Variant3Name": "",
    "Variant3InstanceType": "",
    "AutoscalingMaxCapacity": "4",
}
AB = {
    **BASE,
    "Variant1Name": "a",
    "Variant2Name": "b",
    "Variant3Name": "c",
    "Variant3InstanceType": "ml.c5.large",
}


def test_variant_types_follow_the_templates_production_variants() -> None:
    assert variant_types(AB) == {"a": "ml.m5.large", "b": "ml.m5.large", "c": "ml.c5.large"}


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            BASE,
            {**BASE, "InstanceType": "ml.c5.xlarge"},
            ["variant AllTraffic instance type ml.m5.large → ml.c5.xlarge is autoscaled"],
        ),
        (BASE, {**BASE, "ModelPackageArn": "arn:new"}, []),  # a new model is allowed
        ({**BASE, "AutoscalingMaxCapacity": "0"}, {**BASE, "InstanceType": "ml.c5.xlarge"}, []),
        ({**BASE, "AutoscalingRegistration": "deregistered"}, {**BASE, "InstanceType": "ml.c5.xlarge"}, []),
        # variant b followed InstanceType; it gets its own type now
        (
            AB,
            {**AB, "Variant2InstanceType": "ml.c5.large"},
            ["variant b instance type ml.m5.large → ml.c5.large is autoscaled"],
        ),
        (AB, {**AB, "Variant3Name": ""}, ["variant c (ml.c5.large) is removed while autoscaled"]),
        # turning autoscaling off in the same update does not help: the targets go after the endpoint
        (
            BASE,
            {**BASE, "InstanceType": "ml.c5.xlarge", "AutoscalingMaxCapacity": "0"},
            ["variant AllTraffic instance type ml.m5.large → ml.c5.xlarge is autoscaled"],
        ),
    ],
)
def test_refused_changes(old: dict, new: dict, expected: list[str]) -> None:
    assert refused_changes(old, new) == expected


def test_step_one_keeps_what_is_deployed_and_deregisters() -> None:
    declared = {name: {"Type": "String", "Default": ""} for name in BASE} | {
        "AutoscalingRegistration": {"Type": "String", "Default": "registered"},
        "New": {"Type": "String", "Default": "x"},
        "Unset": {"Type": "String", "Default": "d"},
        "Boundary": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/mlops/b"},
    }
    deployed = {**BASE, "Unset": "d", "Boundary": "arn:aws:iam::111122223333:policy/resolved"}
    wanted = {**BASE, "InstanceType": "ml.c5.xlarge", "New": "y", "Boundary": "/mlops/b"}
    # the spec's keys at their deployed values (a new one as wanted, the SSM one as the spec names
    # it); what the spec leaves out (Unset) is left out: its default, as in every deploy
    assert step_one_parameters(deployed, wanted, declared) == {
        **BASE,
        "New": "y",
        "Boundary": "/mlops/b",
        "AutoscalingRegistration": "deregistered",
    }
