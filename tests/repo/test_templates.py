"""The pipeline templates: one per pipeline type, lint-clean under cfn-lint and our policy rules,
described and constrained, nothing hard-coded."""

from __future__ import annotations

import json
import re

import pytest

from mlops_gitops.core.lint import lint_templates, template_files
from mlops_gitops.core.templates import PIPELINES_DIR, Template, load_template, mapping
from mlops_gitops.repo import Repo
from tests.conftest import CONFIGS, REPO_ROOT, run_cli

pytestmark = pytest.mark.repo

REPO = Repo(REPO_ROOT)
SCHEMA_TYPES = json.loads((CONFIGS / "mlops-config.schema.json").read_text())["properties"]["pipeline_type"][
    "enum"
]
MAPPING = mapping(REPO_ROOT)
TEMPLATE_NAMES = sorted(MAPPING["templates"])


def test_every_pipeline_type_has_exactly_one_template_or_is_pending() -> None:
    served = [t for types in MAPPING["templates"].values() for t in types]
    pending = list(MAPPING["pending"])
    assert sorted(served + pending) == sorted(SCHEMA_TYPES), "each schema type exactly once"
    assert len(set(served + pending)) == len(served) + len(pending), "a type appears twice"
    for name in MAPPING["templates"]:
        assert (REPO_ROOT / PIPELINES_DIR / name).is_file(), name
    on_disk = {p.name for p in (REPO_ROOT / PIPELINES_DIR).glob("*.yaml")}
    assert on_disk == set(MAPPING["templates"]), "every template file is mapped, and only those"


def test_pending_types_are_reported() -> None:
    # Printed so the pending list shows in verbose runs; it must shrink to nothing with issue 4.
    print("pending pipeline types:", ", ".join(f"{t} ({why})" for t, why in MAPPING["pending"].items()))
    assert all(MAPPING["pending"].values()), "every pending type says why"


def test_templates_are_lint_clean_with_the_policy_rules() -> None:
    findings, checked = lint_templates(REPO)
    assert [f.text() for f in findings] == []
    assert {f"cloudformation/pipelines/{n}" for n in TEMPLATE_NAMES} <= set(checked)


def test_validate_templates_passes_on_the_repository() -> None:
    result = run_cli("--repo-root", str(REPO_ROOT), "validate", "--templates", "--format", "json")
    assert result.code == 0, result.out
    assert result.json["checked"] == len(list(REPO.config_files())) + 1 + len(template_files(REPO))


@pytest.mark.parametrize(
    "name",
    [
        *TEMPLATE_NAMES,
        "../orchestrator.yaml",
        "../target-account.yaml",
        "../bootstrap-assets.yaml",
        "../provisioning-api.yaml",
    ],
)
def test_template_style(name: str) -> None:
    if name.startswith("../"):  # the bootstrap templates sit beside pipelines/, not in it
        path = REPO_ROOT / PIPELINES_DIR / name
        template = Template(path, path.name, path.read_text(encoding="utf-8"))
    else:
        template = load_template(REPO_ROOT, name)
    body = template.body
    assert list(body)[:3] == ["AWSTemplateFormatVersion", "Description", "Metadata"]
    grouped = {
        p
        for g in body["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        for p in g["Parameters"]
    }
    assert grouped == set(body["Parameters"]), "every parameter is in exactly the interface groups"
    for pname, spec in body["Parameters"].items():
        assert spec.get("Description"), f"{pname} has no Description"
        if spec["Type"] == "String":
            assert "AllowedValues" in spec or "AllowedPattern" in spec, f"{pname} is unconstrained"
        if "AllowedPattern" in spec:
            assert spec["AllowedPattern"].startswith("^") and spec["AllowedPattern"].endswith("$"), (
                f"{pname}: anchor the pattern"
            )
            assert spec.get("ConstraintDescription"), f"{pname}: say what the pattern wants"
    text = template.text
    assert not re.search(r"\b\d{12}\b", text), "no account id hard-coded"
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text), "no region hard-coded"
    assert "arn:aws:" not in text, "build ARNs with ${AWS::Partition}"
    for rname, resource in body["Resources"].items():
        assert "Tags" not in resource.get("Properties", {}), f"{rname}: tags are set once, on the stack"


def test_realtime_template_wires_what_moto_does_not_create() -> None:
    """moto silently skips alarms, autoscaling and API stages: assert them at template level."""
    resources = load_template(REPO_ROOT, "realtime_inference.yaml").body["Resources"]
    alarms = {
        r["Properties"]["MetricName"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms == {"Invocation5XXErrors", "ModelLatency"}
    policies = [r for r in resources.values() if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"]
    assert len(policies) == 3
    # an asynchronous endpoint tracks its queue per instance, the others their invocations
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html)
    for p in policies:
        condition, queued, invoked = p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["Fn::If"]
        assert condition == "Async"
        assert queued["CustomizedMetricSpecification"]["MetricName"] == "ApproximateBacklogSizePerInstance"
        assert queued["CustomizedMetricSpecification"]["Dimensions"][0]["Name"] == "EndpointName"
        assert invoked["PredefinedMetricSpecification"] == {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        }
    method = resources["InferenceMethod"]["Properties"]
    assert method["AuthorizationType"] == "AWS_IAM" and method["HttpMethod"] == "POST"
    # a serverless endpoint captures no data (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html)
    off, capture = resources["EndpointConfig"]["Properties"]["DataCaptureConfig"]["Fn::If"][1:]
    assert off == {"Ref": "AWS::NoValue"}
    assert capture["KmsKeyId"] == {"Fn::If": ["HasKms", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
    assert resources["InferenceFunction"]["Properties"]["Code"] == {
        "S3Bucket": {"Ref": "ArtifactBucket"},
        "S3Key": {"Ref": "InferenceLambdaKey"},
    }


def test_batch_state_machine_reports_both_outcomes() -> None:
    resources = load_template(REPO_ROOT, "batch_inference.yaml").body["Resources"]
    definition = resources["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][0]
    assert "createTransformJob.sync" in definition
    # both outcomes reach the config's topic (when given) from the state machine, the owners from
    # the rules on SageMaker's job events (tests/repo/test_notify_rules.py)
    variables = resources["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][1]
    assert "${SuccessReport}" in definition and "${FailureReport}" in definition
    for key in ("SuccessReport", "FailureReport"):
        assert "states:::sns:publish" in variables[key]["Fn::If"][1]["Fn::Sub"]
    assert '"Catch"' in definition
    trigger = resources["DeployTrigger"]["Properties"]  # "started": after each create/update of the stack
    assert trigger["EventPattern"]["detail"] == {
        "stack-id": [{"Ref": "AWS::StackId"}],
        "status-details": {"status": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]},
    }
    assert trigger["Targets"][0]["Arn"] == {"Ref": "StateMachine"}
