"""Values validate and render accept but AWS refuses: the limits of the text properties that the
templates build from parameters, whatever the parameters are."""

from __future__ import annotations

import json
import re

import pytest

from mlops_gitops import names
from mlops_gitops.cfn_eval import Evaluator, parameter_values
from mlops_gitops.core import templates
from mlops_gitops.core.physical_names import resource_schema
from tests.conftest import CONFIGS, REPO_ROOT, repo_copy, run_cli

SCHEMA = json.loads((CONFIGS / "mlops-config.schema.json").read_text(encoding="utf-8"))

# A CloudFormation parameter value is at most 4,096 bytes
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html):
# the longest any parameter without its own bound can be.
UNBOUNDED = 4096


def _longest_values(body: dict, name_prefix: int) -> dict[str, str]:
    values = {}
    for name, param in body["Parameters"].items():
        if name == "NamePrefix":
            # the templates' own bound: "^[a-z0-9](-*[a-z0-9]){0,50}$", at most 51 characters
            assert "{0,50}" in param["AllowedPattern"], param
            values[name] = "a" * name_prefix
        elif param.get("Type") == "String":
            values[name] = "x" * int(param.get("MaxLength", UNBOUNDED))
        else:  # lists, numbers, SSM parameters: not part of the descriptions checked here
            values[name] = str(param.get("Default", "1"))
    return parameter_values(body, values)


@pytest.mark.parametrize(
    "template, logical_id, limit, url",
    [
        (
            "data_lake.yaml",
            "FeatureGroup",
            128,
            "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFeatureGroup.html",
        ),
        (
            "image_builder.yaml",
            "BuildProject",
            255,
            "https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html",
        ),
    ],
)
def test_a_description_built_from_parameters_fits_its_limit_at_the_longest_values(
    template, logical_id, limit, url
) -> None:
    """Every parameter at its longest (NamePrefix 51, the rest MaxLength or CloudFormation's
    4,096), every resource name at 63: the description stays within the service's limit (the
    bundled resource schema's maxLength where it has one, else the API page cited here)."""
    body = templates.load_template(REPO_ROOT, template).body
    resource_type = body["Resources"][logical_id]["Type"]
    schema_limit = (resource_schema(resource_type) or {}).get("properties", {}).get("Description", {})
    assert schema_limit.get("maxLength", limit) == limit, url
    evaluator = Evaluator(
        body,
        _longest_values(body, 51),
        pseudo={"AWS::AccountId": "123456789012", "AWS::Region": "ap-southeast-2", "AWS::StackName": "s"},
        resources=lambda name, attr: "x" * 63,
    )
    description = evaluator(body["Resources"][logical_id]["Properties"]["Description"])
    assert len(description) <= limit, (url, len(description), re.sub("x{10,}", "x…", description))


def _write_config(tmp_path, pipeline: str, change) -> tuple:
    repo = repo_copy(tmp_path / "repo", (pipeline,))
    path = repo / "pipeline-configs" / pipeline / "mlops-config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    change(config)
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return repo, config


def test_a_parameter_value_over_4096_bytes_is_a_validate_finding_at_its_key(tmp_path) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html:
    a parameter value is at most 4,096 bytes. The model card's texts take 2,048 characters (the
    schema counts characters); 2,048 CJK characters are 6,144 bytes in UTF-8."""
    text = "語" * 2048
    repo, _ = _write_config(
        tmp_path,
        "churn-realtime",
        lambda c: c["model_card"]["intended_uses"].__setitem__("purpose_of_model", text),
    )
    result = run_cli("--repo-root", str(repo), "validate", "--format", "json")
    assert result.code == 1, result.err
    (finding,) = [f for f in result.json["findings"] if f["code"] == "too-long"]
    assert finding["file"] == "pipeline-configs/churn-realtime/mlops-config.json"
    assert finding["path"] == "$.model_card.intended_uses.purpose_of_model"
    assert "ModelCardPurpose would be 6144 bytes" in finding["message"]
    assert "4096 bytes" in finding["message"]
    assert "shorten $.model_card.intended_uses.purpose_of_model" in finding["hint"]
    # 1,365 three-byte characters (4,095 bytes) pass
    repo, _ = _write_config(
        tmp_path / "ok",
        "churn-realtime",
        lambda c: c["model_card"]["intended_uses"].__setitem__("purpose_of_model", "語" * 1365),
    )
    assert run_cli("--repo-root", str(repo), "validate").code == 0


def _longest_alarm_name(index: int) -> str:
    """model_monitor.yaml's violation alarm of a monitor, at the schema's longest stack prefix (20),
    pipeline id (40) and stage name (16) - longer than validate lets a monitor's names be."""
    env = json.loads((CONFIGS / "environments.schema.json").read_text(encoding="utf-8"))
    assert env["properties"]["stack_prefix"]["maxLength"] == 20
    assert "{0,15}" in env["$defs"]["stage"]["properties"]["name"]["pattern"]
    assert "{0,39}" in SCHEMA["$defs"]["pipeline_id"]["pattern"]
    monitor = f"{index:02d}" + "m" * 38
    return f"{names.resource_base_name('p' * 20, monitor, 's' * 16)}-violations"


def test_monitor_violations_keep_the_retraining_rules_event_pattern_under_4096() -> None:
    """EventBridge takes an event pattern of at most 4,096 characters
    (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html): the
    MonitorViolationTrigger's pattern lists one alarm per triggers.monitor_violations entry. The
    schema's maxItems is at most the number that fits at the longest names; computed here, from the
    template's own pattern."""
    body = templates.load_template(REPO_ROOT, "model_training_pipeline.yaml").body
    pattern = body["Resources"]["MonitorViolationTrigger"]["Properties"]["EventPattern"]

    def size(count: int) -> int:
        alarms = ",".join(_longest_alarm_name(i) for i in range(count))
        evaluator = Evaluator(
            body,
            parameter_values(body, {**_longest_values(body, 51), "MonitorAlarmNames": alarms}),
            pseudo={"AWS::AccountId": "123456789012", "AWS::Region": "us-east-1", "AWS::StackName": "s"},
            resources=lambda name, attr: "x" * 63,
        )
        return len(json.dumps(evaluator(pattern)))

    fits = 1
    while size(fits + 1) <= 4096:
        fits += 1
    most = SCHEMA["properties"]["triggers"]["properties"]["monitor_violations"].get("maxItems")
    assert most is not None and most <= fits, (most, fits)
    # the templates's CommaDelimitedList parameter is a CloudFormation parameter value too (4,096 bytes)
    assert len(",".join(_longest_alarm_name(i) for i in range(most)).encode()) <= UNBOUNDED


def test_a_list_a_builder_already_refuses_as_too_long_is_reported_once(tmp_path) -> None:
    """100 feature names of 61 characters join to 6,098 bytes: params/lake.py reports the list;
    the generic 4,096-byte check does not report the same value again at one of its names."""

    def many_features(config: dict) -> None:
        features = config["feature_group"]["features"]
        extra = [{"name": f"f{i:02d}_" + "x" * 58, "type": "String"} for i in range(100 - len(features))]
        config["feature_group"]["features"] = features + extra

    repo, _ = _write_config(tmp_path, "customer-lake", many_features)
    result = run_cli("--repo-root", str(repo), "validate", "--format", "json")
    assert result.code == 1, result.err
    assert [(f["path"], f["code"]) for f in result.json["findings"]] == [
        ("$.feature_group.features", "too-long")
    ]
