"""The physical names a stack gives its resources, computed from the template itself, and AWS's
limit for each.

One source of truth: each resource's name property (``Name``, ``<Type>Name``, ...) is evaluated
offline (cfn_eval) with the parameters render passes for the stage, and compared with the
``maxLength`` (and ``pattern``) of that property in the CloudFormation resource-provider schema
cfn-lint bundles. A small table below gives the limits those schemas lack, each with its source.
Values only AWS knows are replaced by their longest form (a 12-digit account id; a generated name
at its type's limit), so a name that fits here fits when deployed.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlops_gitops import awsdata
from mlops_gitops.cfn_eval import NO_VALUE, EvalError, Evaluator
from mlops_gitops.config.validate import PipelineConfig
from mlops_gitops.findings import Finding, json_path

SCHEMA_REGION = "us-east-1"  # resource schemas barely differ by region; names' limits don't
ACCOUNT_ID_STANDIN = "123456789012"  # an account id is always 12 digits
GENERATED_NAME_MAX = 64  # a name CloudFormation generates, for a type whose limit is unknown

# The name property of types the naming rule below can't find.
NAME_PROPERTY: dict[str, tuple[str, ...]] = {"AWS::Glue::Database": ("DatabaseInput", "Name")}

# Limits the bundled schemas lack (no maxLength), or state looser than the service's API does.
LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("AWS::Lambda::Function", "FunctionName"): (
        64,  # the schema states none (its pattern allows the ARN form, 140)
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
    ),
    ("AWS::SQS::Queue", "QueueName"): (
        80,  # "A queue name can have up to 80 characters"
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    ("AWS::Athena::WorkGroup", "Name"): (
        128,
        "https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html",
    ),
    ("AWS::CodeBuild::Project", "Name"): (
        150,  # as botocore's codebuild model says too (ProjectName: min 2, max 150)
        "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html",
    ),
    ("AWS::SageMaker::Endpoint", "EndpointName"): (
        63,  # the schema says 64, its own pattern and the API 63
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html",
    ),
}


@dataclass(frozen=True)
class NameRule:
    """Where a resource type keeps its name, and what AWS allows there."""

    prop: tuple[str, ...]
    limit: int | None
    pattern: str | None
    source: str


@dataclass(frozen=True)
class PhysicalName:
    logical_id: str
    resource_type: str
    rule: NameRule
    value: str
    parameters: tuple[str, ...]  # the template parameters the name is built from
    estimated: bool  # a value only AWS knows stands in at its longest

    @property
    def prop(self) -> str:
        return ".".join(self.rule.prop)

    @property
    def too_long(self) -> bool:
        return self.rule.limit is not None and len(self.value) > self.rule.limit

    @property
    def bad_form(self) -> bool:
        """The name breaks the schema's pattern (checked only when that pattern is Python-readable)."""
        if self.rule.pattern is None:
            return False
        try:
            return re.search(self.rule.pattern, self.value) is None
        except re.error:
            return False


# ---------------------------------------------------------------- the schemas cfn-lint bundles


def _schemas_dir() -> Path | None:
    """cfn-lint's bundled schemas, found without importing cfn-lint (about 1 s to import)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@cache
def _providers() -> dict[str, str]:
    folder = _schemas_dir()
    if folder is None:
        return {}
    return json.loads((folder / "providers" / f"{SCHEMA_REGION}.json").read_text(encoding="utf-8"))


@cache
def resource_schema(resource_type: str) -> dict[str, Any] | None:
    key = _providers().get(resource_type)
    folder = _schemas_dir()
    if key is None or folder is None:
        return None
    return json.loads((folder / "resources" / f"{key}.json").read_text(encoding="utf-8"))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    for _ in range(10):
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def name_property(resource_type: str, properties: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``Name``, else ``<Type>Name`` (AWS::SNS::Topic TopicName), else a ``<Suffix>Name`` whose
    suffix ends the type (ScalingPolicy PolicyName, DataQualityJobDefinition JobDefinitionName)."""
    if resource_type in NAME_PROPERTY:
        return NAME_PROPERTY[resource_type]
    last = resource_type.rsplit("::", 1)[-1]
    if "Name" in properties:
        return ("Name",)
    if f"{last}Name" in properties:
        return (f"{last}Name",)
    suffixes = [p for p in properties if p.endswith("Name") and len(p) > 4 and last.endswith(p[:-4])]
    return (max(suffixes, key=len),) if suffixes else None


@cache
def name_rule(resource_type: str) -> NameRule | None:
    """The name property of ``resource_type`` and its limits, or None when it has no name."""
    schema = resource_schema(resource_type)
    if schema is None:
        return None
    read_only = {p.rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties", []) if p.count("/") == 2}
    node: dict[str, Any] = {"properties": schema.get("properties", {})}
    writable = {k: v for k, v in node["properties"].items() if k not in read_only}
    prop = name_property(resource_type, writable)
    if prop is None:
        return None
    for part in prop:
        node = _resolve(schema, node.get("properties", {}).get(part, {}))
    limit, pattern = node.get("maxLength"), node.get("pattern")
    source = f"cfn-lint's resource schema of {resource_type}"
    if (resource_type, prop[-1]) in LIMITS:
        limit, source = LIMITS[(resource_type, prop[-1])]
    return NameRule(prop, limit if isinstance(limit, int) else None, pattern, source)


# ---------------------------------------------------------------- evaluating the names


def _referenced_parameters(node: Any, parameters: Mapping[str, Any]) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _referenced_parameters(item, parameters)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value in parameters:
                yield value
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from (m for m in re.findall(r"\$\{([^}!.]+)\}", text) if m in parameters)
                if isinstance(value, list) and len(value) > 1:
                    yield from _referenced_parameters(value[1], parameters)
            else:
                yield from _referenced_parameters(value, parameters)


@dataclass(frozen=True)
class _NameSite:
    """What a template says about one named resource, whatever the parameters."""

    resource_type: str
    rule: NameRule | None
    node: Any  # the name property's value (None: CloudFormation generates the name)
    parameters: tuple[str, ...]  # the template parameters the name is built from
    mentions_account: bool
    from_parameter_store: bool  # built from an SSM parameter: not known offline


def _name_sites(body: Mapping[str, Any]) -> dict[str, _NameSite]:
    resources = body.get("Resources") or {}
    declared = body.get("Parameters") or {}
    sites = {}
    for logical_id, spec in resources.items():
        spec = spec if isinstance(spec, dict) else {}
        rule = name_rule(str(spec.get("Type", "")))
        node: Any = spec.get("Properties") or {}
        for part in rule.prop if rule else ():
            node = node.get(part) if isinstance(node, dict) else None
        if rule is None:
            node = None
        used = tuple(dict.fromkeys(_referenced_parameters(node, declared))) if node is not None else ()
        sites[logical_id] = _NameSite(
            str(spec.get("Type", "")),
            rule,
            node,
            used,
            node is not None and _mentions(node, "AWS::AccountId"),
            any(str(declared[p].get("Type", "")).startswith("AWS::SSM::") for p in used),
        )
    return sites


_SITES: dict[str, dict[str, _NameSite]] = {}  # template text -> its name sites (validate: 1,000s of stacks)


def physical_names(
    body: Mapping[str, Any],
    params: Mapping[str, str],
    *,
    region: str,
    account_id: str | None,
    stack_name: str,
    template_text: str | None = None,
) -> list[PhysicalName]:
    """The name of every resource the stack creates with ``params`` that sets its name property.
    EvalError when the template uses what the offline evaluator can't resolve. ``template_text``
    (the text ``body`` was read from) lets the parameter-independent part be reused across stacks
    of the same template: validate evaluates names for every stage of every config."""
    resources = body.get("Resources") or {}
    declared = body.get("Parameters") or {}
    if template_text is None:
        sites = _name_sites(body)
    else:
        sites = _SITES.get(template_text) or {}
        if not sites:
            if len(_SITES) > 64:
                _SITES.clear()
            sites = _SITES[template_text] = _name_sites(body)
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        value = params.get(name, spec.get("Default", ""))
        values[name] = (
            str(value).split(",") if str(spec.get("Type", "")).startswith(("List<", "Comma")) else str(value)
        )
    estimated: set[str] = set()
    evaluating: set[str] = set()

    def resource(logical_id: str, attr: str | None) -> str:
        """A resource's name as another name refers to it (Ref, or a *Name attribute): its own
        name when the template sets it, else the longest name CloudFormation may generate."""
        if attr is None or attr.endswith("Name"):
            named = _name_of(logical_id)
            if named is not None:
                return named
        estimated.add("generated")
        rule = name_rule(str(resources.get(logical_id, {}).get("Type", "")))
        return "x" * ((rule.limit if rule and rule.limit else None) or GENERATED_NAME_MAX)

    evaluator = Evaluator(
        body,
        values,
        pseudo={
            "AWS::Region": region,
            "AWS::AccountId": account_id or ACCOUNT_ID_STANDIN,
            "AWS::Partition": awsdata.partition_of_region(region) or "aws",
            "AWS::StackName": stack_name,
        },
        resources=resource,
    )

    def _name_of(logical_id: str) -> str | None:
        site = sites.get(logical_id)
        if site is None or site.node is None or logical_id in evaluating:
            return None
        evaluating.add(logical_id)
        try:
            value = evaluator(site.node)
        finally:
            evaluating.discard(logical_id)
        return None if value is NO_VALUE or value is None else str(value)

    out: list[PhysicalName] = []
    for logical_id, site in sites.items():
        if site.rule is None or not evaluator.present(logical_id):
            continue
        if site.node is None:
            continue  # CloudFormation generates the name
        estimated.clear()
        value = _name_of(logical_id)
        if value is None:
            continue
        if account_id is None and site.mentions_account:
            estimated.add("account")
        if site.from_parameter_store:
            continue  # a value read from Parameter Store at deploy: not known offline
        out.append(
            PhysicalName(logical_id, site.resource_type, site.rule, value, site.parameters, bool(estimated))
        )
    return out


def _mentions(node: Any, name: str) -> bool:
    return name in json.dumps(node)


# ---------------------------------------------------------------- findings

NAME_PREFIX = "NamePrefix"  # the templates' <stack_prefix>-<pipeline id>-<stage>


def _find_value(node: Any, wanted: str, path: list) -> list | None:
    if isinstance(node, str):
        return path if node.lower() == wanted.lower() else None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found = _find_value(value, wanted, [*path, key])
        if found is not None:
            return found
    return None


def driving_path(cfg: PipelineConfig, stage: str, name: PhysicalName, params: Mapping[str, str]) -> list:
    """The JSON path of the config value a name is built from: the field whose value the template
    parameter carries (endpoint_name, lake_bucket_name...), else the top ($: the pipeline id)."""
    view = cfg.by_stage.get(stage, cfg.data)
    for parameter in name.parameters:
        value = params.get(parameter, "")
        if parameter == NAME_PREFIX or not value:
            continue
        for key, raw in cfg.data.items():
            found = _find_value(view.get(key), value, [])
            if found is not None:
                staged = isinstance(raw, dict) and stage in raw and raw[stage] is view.get(key)
                return [key, stage, *found] if staged else [key, *found]
        # a value render derives from the key of the same name (model_package_group_name -> the
        # ModelPackageGroupName "<group>-<stage>" of a later stage in the same account)
        key = _snake(parameter)
        if isinstance(view.get(key), str) and view[key] and view[key] in value:
            raw = cfg.data.get(key)
            return [key, stage] if isinstance(raw, dict) and stage in raw else [key]
    return []


def _snake(parameter: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).lower()


def name_findings(
    cfg: PipelineConfig,
    by_stage: Mapping[str, tuple[Mapping[str, str], list[PhysicalName]]],
    fields: Collection[str] = (),
) -> list[Finding]:
    """One finding per config value driving names over AWS's limits (the worst such name, with a
    count of the others): ``by_stage`` maps a stage to (its parameters, its stack's names).
    ``fields`` (the pipeline type's config keys) lets the hint name a key that sets the name
    instead (LakeBucketName <- lake_bucket_name)."""
    display = f"pipeline-configs/{cfg.pipeline_id}/mlops-config.json"
    worst: dict[tuple, tuple[int, str, PhysicalName]] = {}
    counts: dict[tuple, int] = {}
    for stage, (params, found) in by_stage.items():
        for name in found:
            if not (name.too_long or name.bad_form):
                continue
            path = driving_path(cfg, stage, name, params)
            key = (tuple(path), "name-length" if name.too_long else "name-form")
            excess = len(name.value) - (name.rule.limit or len(name.value))
            counts[key] = counts.get(key, 0) + 1
            if key not in worst or excess > worst[key][0]:
                worst[key] = (excess, stage, name)
    out = []
    for (path, code), (excess, stage, name) in worst.items():
        what = (
            f"stage {stage!r}: {name.resource_type} {name.logical_id} would be named {name.value!r}, "
            + (
                f"{len(name.value)} characters, over the {name.rule.limit} AWS allows for its {name.prop}"
                if code == "name-length"
                else f"which does not match the form AWS allows for its {name.prop} ({name.rule.pattern})"
            )
            + (
                " (values only AWS knows counted at their longest, e.g. a 12-digit account id)"
                if name.estimated
                else ""
            )
            + (f"; {counts[(path, code)] - 1} more name(s) too" if counts[(path, code)] > 1 else "")
        )
        if path:
            fix = (
                f"shorten {json_path(list(path))} by at least {excess} characters"
                if excess > 0
                else f"change {json_path(list(path))}"
            )
        elif excess >= len(cfg.pipeline_id):
            fix = (
                f"shorten environments.json's stack_prefix by at least {excess - len(cfg.pipeline_id) + 1} "
                "characters: names are built from <stack_prefix>-<pipeline id>-<stage>, and shortening "
                "the pipeline id alone can't make this one fit"
            )
        elif excess > 0:
            room = len(cfg.pipeline_id) - excess
            own = [_snake(p) for p in name.parameters if p != NAME_PREFIX and _snake(p) in fields]
            fix = (
                (f"set {own[0]}, or " if own else "")
                + f"shorten the pipeline id (the folder name) to at most {room} characters, or "
                "environments.json's stack_prefix: names are built from <stack_prefix>-<pipeline id>-<stage>"
            )
        else:
            fix = "rename the pipeline folder"
        out.append(Finding(display, json_path(list(path)), code, what, fix, pipeline_id=cfg.pipeline_id))
    return out


__all__ = [
    "EvalError",
    "NameRule",
    "PhysicalName",
    "name_findings",
    "name_property",
    "name_rule",
    "physical_names",
]
