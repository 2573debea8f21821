"""What moto's CloudFormation skips, created through moto's own APIs: after `bootstrap` into the
local AWS, the orchestrator's CodeCommit repository, CodeBuild projects and CodePipeline exist as
a real account would have them, so `aws codecommit get-repository`, `aws codebuild list-projects`
and `aws codepipeline get-pipeline` answer as they would on AWS. They are made from the same
template resources (evaluated offline by cfn_eval), never executed: the local pipeline runs them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlops_gitops.aws.errors import AWS_ERRORS, is_missing
from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core.templates import _parse

MIRRORED = ("AWS::CodeCommit::Repository", "AWS::CodeBuild::Project", "AWS::CodePipeline::Pipeline")


def _camel(value: Any, keep: bool = False) -> Any:
    """CloudFormation's PascalCase property names as the APIs' camelCase (values under a
    `Configuration` key are the action's own names and stay as they are)."""
    if isinstance(value, dict):
        if keep:
            return {k: str(v) for k, v in value.items()}
        return {k[:1].lower() + k[1:]: _camel(v, k == "Configuration") for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9]+)(?:\.([A-Za-z]+))?>")


def _resolved(value: Any, physical: Mapping[str, tuple[str, str]], account: str, region: str) -> Any:
    """The offline evaluator's `<Logical>` and `<Logical.Arn>` placeholders replaced by what the
    stack really created (physical ids from ListStackResources; ARNs built for roles and keys)."""
    if isinstance(value, dict):
        return {k: _resolved(v, physical, account, region) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, physical, account, region) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        logical, attribute = match.group(1), match.group(2)
        if logical not in physical:
            return match.group(0)
        kind, pid = physical[logical]
        if attribute == "Arn" and kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{account}:role/{pid}"
        if attribute == "Arn" and kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{region}:{account}:key/{pid}"
        return pid

    return _PLACEHOLDER.sub(one, value)


def resources(
    template: Path, parameters: Mapping[str, str], account: str, region: str
) -> list[tuple[str, dict]]:
    """(type, evaluated properties) of every mirrored resource the template creates."""
    body = _parse(template.read_text(encoding="utf-8"))
    ev = Evaluator(
        body, parameter_values(body, parameters), {"AWS::AccountId": account, "AWS::Region": region}
    )
    out = []
    for name, resource in body["Resources"].items():
        if resource["Type"] in MIRRORED and ev.present(name):
            out.append((resource["Type"], ev.resource(name)["Properties"]))
    order = {t: i for i, t in enumerate(MIRRORED)}  # the pipeline refers to the projects
    return sorted(out, key=lambda item: order[item[0]])


def mirror(
    template: Path,
    parameters: Mapping[str, str],
    stack: str,
    account: str,
    region: str,
    client: Callable[[str], Any],
    say: Callable[[str], None],
) -> list[str]:
    """Create each mirrored resource of ``stack`` (deployed from ``template``) that does not exist
    yet; the names created."""
    physical = {
        r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId", ""))
        for r in client("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    }
    made = []
    for kind, raw in resources(template, parameters, account, region):
        props = _resolved(raw, physical, account, region)
        if kind == "AWS::CodeCommit::Repository":
            made += _repository(client("codecommit"), props)
        elif kind == "AWS::CodeBuild::Project":
            made += _project(client("codebuild"), props)
        else:
            made += _pipeline(client("codepipeline"), props)
    if made:
        say(f"local AWS: created what moto's CloudFormation skips: {', '.join(made)}")
    return made


def _repository(codecommit: Any, props: dict) -> list[str]:
    name = props["RepositoryName"]
    try:  # moto has no ListRepositories
        codecommit.get_repository(repositoryName=name)
        return []
    except AWS_ERRORS as exc:
        if not is_missing(exc, "RepositoryDoesNotExistException"):
            raise
    codecommit.create_repository(
        repositoryName=name, repositoryDescription=props.get("RepositoryDescription", "")
    )
    return [f"CodeCommit repository {name}"]


def _project(codebuild: Any, props: dict) -> list[str]:
    name = props["Name"]
    if name in codebuild.list_projects().get("projects", []):
        return []
    env = props["Environment"]
    codebuild.create_project(
        name=name,
        description=props.get("Description", ""),
        # moto requires a source location even for CODEPIPELINE sources, which AWS does not
        source={
            "type": props["Source"]["Type"],
            "location": props["Source"].get("Location") or "codepipeline",
            **({"buildspec": props["Source"]["BuildSpec"]} if props["Source"].get("BuildSpec") else {}),
        },
        artifacts=_artifacts(props.get("Artifacts", {}).get("Type", "NO_ARTIFACTS")),
        environment={
            "type": env["Type"],
            "image": env["Image"],
            "computeType": env["ComputeType"],
            "environmentVariables": [
                {"name": v["Name"], "value": str(v["Value"]), "type": v.get("Type", "PLAINTEXT")}
                for v in env.get("EnvironmentVariables", [])
            ],
        },
        serviceRole=props["ServiceRole"],
        timeoutInMinutes=int(props.get("TimeoutInMinutes", 60)),
    )
    return [f"CodeBuild project {name}"]


def _artifacts(kind: str) -> dict[str, str]:
    # moto wants a location for every artifact type but NO_ARTIFACTS (AWS does not for CODEPIPELINE)
    return {"type": kind} if kind == "NO_ARTIFACTS" else {"type": kind, "location": "codepipeline"}


def _pipeline(codepipeline: Any, props: dict) -> list[str]:
    name = props["Name"]
    if name in {p["name"] for p in codepipeline.list_pipelines().get("pipelines", [])}:
        return []
    pipeline = _camel({k: v for k, v in props.items() if k in ("Name", "RoleArn", "ArtifactStore", "Stages")})
    codepipeline.create_pipeline(pipeline=pipeline)
    return [f"CodePipeline {name}"]
