"""`mlopsctl migrate-mwo --adopt`: take over the real-time endpoint an MWO stack serves, without a
moment where the endpoint is absent.

The AWS rules the plan follows:

- A resource can be imported only with a DeletionPolicy in the template, and it must not belong to
  another stack; an IMPORT change set imports resources and changes nothing else.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-new-stack.html
- AWS::SageMaker::Endpoint supports import: its resource-provider schema (bundled with cfn-lint)
  has read and list handlers, and its primaryIdentifier (EndpointArn) is the ResourceIdentifier.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-supported-resources.html
- A resource leaves a stack without being deleted when its DeletionPolicy is Retain: update the
  stack to set it, then delete the stack.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-revert.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
- UpdateEndpoint with a new EndpointConfig keeps the endpoint InService ("there is no availability
  loss"). In the Endpoint's provider schema EndpointName is a createOnlyProperty (a new name
  replaces, i.e. deletes, the endpoint) and EndpointConfigName is not (an update in place).
  https://docs.aws.amazon.com/sagemaker/latest/dg/API_UpdateEndpoint.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-endpoint.html
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops_gitops.aws.cloudformation import CloudFormationGateway
from mlops_gitops.core.physical_names import resource_schema
from mlops_gitops.core.render import StackSpec

ENDPOINT_TYPE = "AWS::SageMaker::Endpoint"
# The outputs of MWO's real-time blueprint (byom_realtime_inference_pipeline.yaml); our stacks
# carry the mlops:managed-by tag instead.
MWO_REALTIME_OUTPUTS = ("SageMakerEndpointName", "SageMakerEndpointConfigName", "SageMakerModelName")
REALTIME_TYPES = ("byom_realtime_builtin", "byom_realtime_custom")


class AdoptionRefused(Exception):
    """The takeover can't be done safely; nothing was changed."""


class AdoptionFailed(Exception):
    """A step failed in AWS; the message says what state that left and what to do."""


# What a failed step leaves (none of them touches the endpoint itself).
_AFTER_FAILURE = {
    "retain": "CloudFormation rolls MWO's stack back to what it was; nothing else changed: fix the "
    "reason and run the same command again",
    "retire": "MWO's stack could not be deleted; its resources keep DeletionPolicy Retain: fix the "
    "reason, delete the stack (aws cloudformation delete-stack), then import the endpoint as step 3 says",
    "import": "MWO's stack is gone and the endpoint runs on, retained, in no stack: fix the reason "
    "and import it as step 3 says (a create-change-set of type IMPORT with that template)",
}


@dataclass(frozen=True)
class Step:
    key: str  # retain | retire | import | deploy
    title: str
    changes: str  # what changes
    endpoint: str  # why the endpoint stays up
    applied_here: bool = True  # False: done by `mlopsctl deploy`


@dataclass
class AdoptionPlan:
    mwo_stack: str
    our_stack: str
    stage: str
    endpoint_name: str
    endpoint_arn: str
    live_config: str
    logical_id: str  # the endpoint's logical id in our template
    retained: list[tuple[str, str, str]]  # (logical id, type, physical id) of MWO's resources
    steps: list[Step] = field(default_factory=list)


def import_identifier(resource_type: str, physical: dict[str, str]) -> dict[str, str]:
    """The ResourceIdentifier of an IMPORT change set: the type's primaryIdentifier properties
    (from its resource-provider schema), refused unless the schema has the read and list handlers
    import needs."""
    schema = resource_schema(resource_type) or {}
    handlers = schema.get("handlers") or {}
    if not {"read", "list"} <= set(handlers):
        raise AdoptionRefused(f"{resource_type} does not support resource import (no read/list handler)")
    keys = [p.rsplit("/", 1)[-1] for p in schema.get("primaryIdentifier", [])]
    missing = [k for k in keys if k not in physical]
    if not keys or missing:
        raise AdoptionRefused(f"{resource_type}: no value for its import identifier {missing or keys}")
    return {k: physical[k] for k in keys}


def endpoint_logical_id(template_body: dict[str, Any]) -> str:
    ids = [k for k, r in (template_body.get("Resources") or {}).items() if r.get("Type") == ENDPOINT_TYPE]
    if len(ids) != 1:
        raise AdoptionRefused(f"the pipeline's template has {len(ids)} {ENDPOINT_TYPE} resources, not one")
    return ids[0]


def plan_adoption(
    cfn: CloudFormationGateway, sagemaker: Any, mwo_stack: str, spec: StackSpec, template_body: dict[str, Any]
) -> AdoptionPlan:
    """The steps, or AdoptionRefused naming what is wrong and how to fix it. Reads only."""
    if spec.pipeline_type not in REALTIME_TYPES:
        raise AdoptionRefused(
            f"--adopt takes over real-time endpoints; {spec.pipeline_id} is {spec.pipeline_type}"
        )
    snap = cfn.snapshot(mwo_stack)
    if snap is None:
        raise AdoptionRefused(f"stack {mwo_stack} does not exist in {spec.region}")
    if "mlops:managed-by" in snap.tags:
        raise AdoptionRefused(f"stack {mwo_stack} is already one of ours (mlops:managed-by tag), not MWO's")
    missing = [o for o in MWO_REALTIME_OUTPUTS if o not in snap.outputs]
    if missing:
        raise AdoptionRefused(
            f"stack {mwo_stack} is not an MWO real-time pipeline stack (no output {', '.join(missing)}); "
            "name the stack MWO's byom_realtime pipeline deployed"
        )
    if snap.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        raise AdoptionRefused(f"stack {mwo_stack} is {snap.status}; wait until it is stable")
    if snap.termination_protection:
        raise AdoptionRefused(
            f"stack {mwo_stack} has termination protection, so step 2 could not delete it; turn it off "
            "first (aws cloudformation update-termination-protection --no-enable-termination-protection)"
        )
    name = snap.outputs["SageMakerEndpointName"]
    live = sagemaker.describe_endpoint(name)
    status = live.get("EndpointStatus")
    if status != "InService":
        raise AdoptionRefused(
            f"endpoint {name} is {status}, not InService; adopt it once SageMaker has it InService"
        )
    ours = spec.parameters.get("EndpointName", "")
    if ours != name:
        raise AdoptionRefused(
            f"the config names the endpoint {ours or '(generated)'!r}, the live one is {name!r}: a "
            f'different EndpointName replaces (deletes) the endpoint; set "endpoint_name": "{name}" '
            "in the migrated config"
        )
    if cfn.snapshot(spec.stack_name) is not None:
        raise AdoptionRefused(f"stack {spec.stack_name} exists already; adoption creates it")
    logical = endpoint_logical_id(template_body)
    arn = live["EndpointArn"]
    import_identifier(ENDPOINT_TYPE, {"EndpointArn": arn, "EndpointName": name})
    retained = cfn.resources(mwo_stack)
    plan = AdoptionPlan(
        mwo_stack, spec.stack_name, spec.stage, name, arn, live["EndpointConfigName"], logical, retained
    )
    plan.steps = [
        Step(
            "retain",
            f"set DeletionPolicy Retain on every resource of {mwo_stack}",
            f"an update of {mwo_stack} with its own template and parameters, only DeletionPolicy "
            "and UpdateReplacePolicy added",
            "no property changes, so CloudFormation updates no resource",
        ),
        Step(
            "retire",
            f"delete stack {mwo_stack}, its {len(retained) or 'all'} resources retained",
            f"{mwo_stack} is gone; its endpoint, endpoint config, model and the rest stay as they are",
            "a retained resource is left in place, not deleted",
        ),
        Step(
            "import",
            f"create stack {spec.stack_name} by importing endpoint {name} as {logical}",
            f"an IMPORT change set: {ENDPOINT_TYPE} {logical} (EndpointArn {arn}) with its live "
            f"EndpointConfigName {plan.live_config}, DeletionPolicy Retain; nothing else",
            "an import reads the resource and changes nothing",
        ),
        Step(
            "deploy",
            f"mlopsctl deploy --stage {spec.stage}: our template on {spec.stack_name}",
            f"a new model and endpoint config; endpoint {name} switched to it (UpdateEndpoint)",
            "the same EndpointName: SageMaker moves traffic to the new instances, InService throughout",
            applied_here=False,
        ),
    ]
    return plan


def retained_template(body: Any) -> str:
    """MWO's template with DeletionPolicy and UpdateReplacePolicy Retain on every resource."""
    if isinstance(body, str):
        from mlops_gitops.core.templates import _parse

        body = _parse(body)
    body = json.loads(json.dumps(body, default=str))
    for resource in (body.get("Resources") or {}).values():
        resource["DeletionPolicy"] = "Retain"
        resource["UpdateReplacePolicy"] = "Retain"
    return json.dumps(body, separators=(",", ":"))


def import_template(plan: AdoptionPlan) -> str:
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"{plan.endpoint_name}, imported from MWO stack {plan.mwo_stack}",
            "Resources": {
                plan.logical_id: {
                    "Type": ENDPOINT_TYPE,
                    "DeletionPolicy": "Retain",
                    "Properties": {
                        "EndpointName": plan.endpoint_name,
                        "EndpointConfigName": plan.live_config,
                    },
                }
            },
        }
    )


def apply_adoption(
    plan: AdoptionPlan,
    cfn: CloudFormationGateway,
    spec: StackSpec,
    report: Callable[[str], None],
) -> None:
    """Steps retain, retire and import, in that order, each reported; the deploy step is the
    ordinary `mlopsctl deploy`. The imported stack carries our tags but not the spec hash, so the
    next deploy updates it."""
    from mlops_gitops.aws.cloudformation import StackError
    from mlops_gitops.aws.errors import AWS_ERRORS, reason

    at = ["retain"]  # the step under way
    try:
        _apply_steps(plan, cfn, spec, report, at)
    except (StackError, *AWS_ERRORS) as exc:
        step = next(s for s in plan.steps if s.key == at[0])
        why = str(exc) if isinstance(exc, StackError) else reason(exc)
        raise AdoptionFailed(
            f"step {plan.steps.index(step) + 1} ({step.title}) failed: {why}. The endpoint was not "
            f"touched; {_AFTER_FAILURE[step.key]}"
        ) from exc


def _apply_steps(
    plan: AdoptionPlan,
    cfn: CloudFormationGateway,
    spec: StackSpec,
    report: Callable[[str], None],
    at: list[str],
) -> None:
    tag = uuid.uuid4().hex[:8]
    at[0] = "retain"
    snap = cfn.snapshot(plan.mwo_stack)
    params = sorted(snap.parameters) if snap else []
    cfn.run_change_set(
        plan.mwo_stack,
        f"mlops-adopt-retain-{tag}",
        "UPDATE_COMPLETE",
        ChangeSetType="UPDATE",
        TemplateBody=retained_template(cfn.template_body(plan.mwo_stack)),
        Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in params],
        Tags=[{"Key": k, "Value": v} for k, v in (snap.tags if snap else {}).items()],
    )
    report(f"  done: {plan.steps[0].title}\n")
    at[0] = "retire"
    cfn.delete_and_wait(plan.mwo_stack)
    report(f"  done: {plan.steps[1].title}\n")
    at[0] = "import"
    tags = {k: v for k, v in spec.tags.items() if k != "mlops:spec-hash"}
    cfn.run_change_set(
        plan.our_stack,
        f"mlops-adopt-import-{tag}",
        "IMPORT_COMPLETE",
        ChangeSetType="IMPORT",
        TemplateBody=import_template(plan),
        ResourcesToImport=[
            {
                "ResourceType": ENDPOINT_TYPE,
                "LogicalResourceId": plan.logical_id,
                "ResourceIdentifier": import_identifier(
                    ENDPOINT_TYPE, {"EndpointArn": plan.endpoint_arn, "EndpointName": plan.endpoint_name}
                ),
            }
        ],
        Parameters=[],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    report(f"  done: {plan.steps[2].title}\n")


def adopt_pipeline(
    root: Any,
    config: Any,
    env: Any,
    stage: str,
    gateways: Any,
    mwo_stack: str,
    apply: bool,
    report: Callable[[str], None],
) -> AdoptionPlan:
    """Render ``config`` (a PipelineConfig) for ``stage``, plan the takeover of ``mwo_stack``'s
    endpoint, report the plan, and with ``apply`` run its steps. AdoptionRefused: nothing changed."""
    from mlops_gitops.core.render import RenderError, render
    from mlops_gitops.core.templates import load_template
    from mlops_gitops.report.adopt import render_plan

    if stage not in config.stages:
        raise AdoptionRefused(f"{config.pipeline_id} does not deploy to {stage!r} (stages: {config.stages})")
    try:
        spec = render(root, config, stage, env, region=gateways.region)
    except RenderError as exc:
        raise AdoptionRefused("; ".join(f.message for f in exc.findings)) from exc
    body = load_template(root, spec.template.rsplit("/", 1)[-1]).body
    plan = plan_adoption(gateways.cfn, gateways.sagemaker, mwo_stack, spec, body)
    report(render_plan(plan, apply))
    if apply:
        apply_adoption(plan, gateways.cfn, spec, report)
        report(f"  next: mlopsctl deploy --stage {stage} (step 4)\n")
    return plan
