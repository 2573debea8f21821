"""Endpoint updates SageMaker refuses while a variant is autoscaled (issue 15, item 4). Pure.

"If the update would change the instance type for any model that is a target for auto scaling, the
update fails"; removing such a variant fails too. The variant must first be deregistered as a
scalable target (which deletes its scaling policies), the endpoint updated, and the variant
registered again: https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html
(changing only the model of an autoscaled variant is allowed).

CloudFormation cannot order that inside one update: resources removed from a template are deleted
in the cleanup phase, after every update, so the endpoint would be updated while the targets are
still registered (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
Deploy therefore applies two change sets: step 1 sets realtime_inference.yaml's
AutoscalingRegistration to "deregistered" with the deployed values of every other parameter, so
CloudFormation deletes only the AWS::ApplicationAutoScaling::ScalableTarget and ScalingPolicy
resources (their delete handlers call DeregisterScalableTarget and DeleteScalingPolicy); step 2 is
the ordinary update with the new values, in which the endpoint changes first and the scalable
targets, which refer to it, are created (registered) again after it.

How realtime_inference.yaml builds its ProductionVariants from parameters: Variant1 is named
Variant1Name and runs InstanceType; Variant2/3 exist when their name is set and run their own
Variant<n>InstanceType, or InstanceType when that is empty. Autoscaling covers every variant when
AutoscalingMaxCapacity is not 0 (one setting for all variants)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEMPLATE = "cloudformation/pipelines/realtime_inference.yaml"
REGISTRATION = "AutoscalingRegistration"
DEREGISTERED = "deregistered"


def variant_types(params: Mapping[str, str]) -> dict[str, str]:
    """Variant name -> instance type, from the stack's parameters (template defaults included)."""
    out = {params.get("Variant1Name") or "": params.get("InstanceType", "")}
    for n in (2, 3):
        name = params.get(f"Variant{n}Name") or ""
        if name:
            out[name] = params.get(f"Variant{n}InstanceType") or params.get("InstanceType", "")
    return out


def registered(params: Mapping[str, str]) -> bool:
    """Whether the stack's variants are registered as scalable targets."""
    return (
        params.get("AutoscalingMaxCapacity", "0") not in ("", "0")
        and params.get(REGISTRATION) != DEREGISTERED
    )


def refused_changes(deployed: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """Why an update from ``deployed`` to ``wanted`` parameters must go in two steps (one line per
    autoscaled variant whose instance type changes or that is removed); [] when it need not."""
    if not registered(deployed):
        return []
    old, new = variant_types(deployed), variant_types(wanted)
    out = []
    for name, itype in old.items():
        if name not in new:
            out.append(f"variant {name} ({itype}) is removed while autoscaled")
        elif new[name] != itype:
            out.append(f"variant {name} instance type {itype} → {new[name]} is autoscaled")
    return out


def step_one_parameters(
    deployed: Mapping[str, str], wanted: Mapping[str, str], declared: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Step 1's parameters: the ones the spec sets (``wanted``), each at its deployed value, so
    nothing but the registration changes; those the spec leaves out stay at the template's default
    as in every deploy. A parameter the deployed stack lacks, and an AWS::SSM::Parameter::Value one
    (DescribeStacks may report its resolved value, which is no parameter name), keep the spec's
    value. ``declared``: the template's Parameters section."""
    params = {}
    for name, value in wanted.items():
        ssm = str(declared.get(name, {}).get("Type", "")).startswith("AWS::SSM::Parameter::Value")
        params[name] = value if ssm else deployed.get(name, value)
    params[REGISTRATION] = DEREGISTERED
    return params


def with_defaults(params: Mapping[str, str], declared: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``params`` and, for what they leave out, the template's defaults (as CloudFormation fills them)."""
    return {**{k: str(d["Default"]) for k, d in declared.items() if "Default" in d}, **params}
