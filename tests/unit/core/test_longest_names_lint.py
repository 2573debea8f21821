"""The systematic net: every example rendered at the longest pipeline id and stack prefix validate
accepts, each template evaluated with those parameter values (cfn_eval), and cfn-lint run on the
evaluated template, so that its maxLength / pattern / enum rules (the CloudFormation resource
provider schemas it bundles: https://github.com/aws-cloudformation/cfn-lint, and
https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html) see the
concrete values AWS would get. What validate accepts must deploy: no E-finding."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.config.validate import Validator, validate
from mlops_gitops.core import templates
from mlops_gitops.core.physical_names import physical_names
from mlops_gitops.core.render import render
from tests.unit.core.test_physical_names import PIPELINES, _long_repo, _name_errors

ACCOUNT = "123456789012"
REGIONS = ("us-east-1",)
# Values of the SSM parameters target-account.yaml writes (resolved by CloudFormation, not render).
SSM_VALUES = {
    "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/mlops-boundary-us-east-1",
    "ArtifactBucket": f"mlops-deploy-{ACCOUNT}-us-east-1",
    "NotifyKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0123abcd-0123-0123-0123-0123456789ab",
}
ARNS = {  # how a resource's ARN reads, for Ref / GetAtt Arn of the types the templates use
    "AWS::IAM::Role": "arn:aws:iam::{a}:role/{n}",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::{a}:policy/{n}",
    "AWS::SNS::Topic": "arn:aws:sns:{r}:{a}:{n}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{r}:{a}:stateMachine:{n}",
    "AWS::Lambda::Function": "arn:aws:lambda:{r}:{a}:function:{n}",
    "AWS::SQS::Queue": "arn:aws:sqs:{r}:{a}:{n}",
    "AWS::Kinesis::Stream": "arn:aws:kinesis:{r}:{a}:stream/{n}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{r}:{a}:table/{n}",
    "AWS::S3::Bucket": "arn:aws:s3:::{n}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{r}:{a}:log-group:{n}:*",
}
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::IAM::ManagedPolicy"}


@cache
def _runner():
    """cfn-lint's own rules (the resource provider schemas), one Runner for the module. The
    project's rules (core/lint's RULES_DIR) judge the source templates, where a KMS key or a
    bucket policy is conditional; here they would only see one branch of each condition."""
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(**ManualArgs(regions=list(REGIONS))))


def _errors(text: str) -> list:
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(text)
    assert not errors and template is not None, errors
    return [m for m in _runner().validate_template(template) if m.rule.severity == "error"]


def _evaluated(root, spec) -> dict:
    """The template of ``spec`` with every condition, parameter and intrinsic resolved: physical
    names as core/physical_names computes them, ARNs in their documented form, ids made up."""
    body = templates.load_template(root, spec.template.split("/")[-1]).body
    found = physical_names(
        body, spec.parameters, region=spec.region, account_id=spec.account_id, stack_name=spec.stack_name
    )
    named = {n.logical_id: n.value for n in found}
    types = {k: v["Type"] for k, v in body["Resources"].items()}

    def resource(logical_id: str, attr: str | None) -> str:
        kind = types.get(logical_id, "")
        name = named.get(logical_id, "x" * 40)
        arn = ARNS.get(kind)
        if attr is None and (kind in REF_IS_ARN or kind.endswith("JobDefinition")) or attr == "Arn":
            if arn is None:
                service = kind.split("::")[1].lower()
                arn = f"arn:aws:{service}:{{r}}:{{a}}:{service}/{{n}}"
            return arn.format(a=ACCOUNT, r=spec.region, n=name)
        if attr and attr.endswith("Id"):
            return "abcdef1234"
        return name

    given = dict(spec.parameters)
    for key, how in spec.deferred.items():  # deploy resolves it: the latest approved version
        assert key == "ModelPackageArn", how
        group = how["latest_approved_model_package_of"]
        given[key] = f"arn:aws:sagemaker:{spec.region}:{ACCOUNT}:model-package/{group}/1"
    for key, param in body.get("Parameters", {}).items():
        if str(param.get("Type", "")).startswith("AWS::SSM::Parameter") and key not in given:
            given[key] = SSM_VALUES[key]
    evaluator = Evaluator(
        body,
        parameter_values(body, given),
        pseudo={
            "AWS::AccountId": spec.account_id or ACCOUNT,
            "AWS::Region": spec.region,
            "AWS::StackName": spec.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{spec.region}:{ACCOUNT}:stack/{spec.stack_name}/0123abcd",
        },
        resources=resource,
    )
    out: dict = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}
    for logical_id in body["Resources"]:
        if not evaluator.present(logical_id):
            continue
        evaluated = evaluator.resource(logical_id)
        evaluated.pop("Condition", None)
        depends = evaluated.pop("DependsOn", None)
        depends = [
            d for d in ([depends] if isinstance(depends, str) else depends or []) if evaluator.present(d)
        ]
        if depends:
            evaluated["DependsOn"] = depends
        out["Resources"][logical_id] = evaluated
    return out


def _room(tmp_path, pipeline: str) -> int:
    findings = _name_errors(_long_repo(tmp_path, pipeline, "a" * 40), "a" * 40)
    hints = [re.search(r"at most (\d+) characters", f.hint) for f in findings if f.path == "$"]
    return min([int(h.group(1)) for h in hints if h] or [40])


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_the_longest_names_validate_accepts_pass_cfn_lint_once_evaluated(tmp_path, pipeline) -> None:
    pipeline_id = "a" * _room(tmp_path, pipeline)
    repo = _long_repo(tmp_path, pipeline, pipeline_id)
    report, configs = validate(repo)
    assert not report.errors, report.errors
    env = Validator(repo).environments()
    (cfg,) = [c for c in configs if c.pipeline_id == pipeline_id]
    problems = []
    for stage in cfg.stages:
        spec = render(repo.root, cfg, stage, env)
        text = json.dumps(_evaluated(repo.root, spec), indent=1)
        for match in _errors(text):
            problems.append(f"{stage} {match.rule.id} {'/'.join(map(str, match.path))}: {match.message}")
    assert not problems, "\n".join(problems)
