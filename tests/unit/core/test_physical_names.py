"""Physical names computed from the templates themselves: which property names each resource type,
AWS's limit for it (cfn-lint's bundled resource schemas, plus a cited table), and validate's
findings for every template at the longest pipeline id and stack prefix validate accepts.

Limits: the CloudFormation resource-provider schemas' maxLength, e.g. AWS::Events::Rule Name 64
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html), IAM role names 64
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html), S3 buckets 63
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html); the table's own
sources are cited in core/physical_names.py."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from mlops_gitops.config.validate import Validator, validate
from mlops_gitops.core import templates
from mlops_gitops.core.physical_names import NameRule, PhysicalName, name_findings, name_rule, physical_names
from mlops_gitops.core.render import physical_name_findings, render
from mlops_gitops.repo import Repo
from tests.conftest import CONFIGS, REPO_ROOT, repo_copy, run_cli

PIPELINES = sorted(p.parent.name for p in CONFIGS.glob("*/mlops-config.json"))
LONGEST_PREFIX = "p" * 20  # environments.schema.json: stack_prefix maxLength 20
TEMPLATE_FILES = sorted((REPO_ROOT / "cloudformation" / "pipelines").glob("*.yaml"))

# Every resource type the pipeline templates use, and the property that names it (None: the type
# has no name, or CloudFormation always generates it).
NAME_PROPERTIES = {
    "AWS::ApiGateway::Deployment": None,
    "AWS::ApiGateway::Method": None,
    "AWS::ApiGateway::Resource": None,
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::ApiGateway::Stage": "StageName",
    "AWS::ApplicationAutoScaling::ScalableTarget": None,
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
    "AWS::Athena::WorkGroup": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::DMS::Endpoint": None,
    "AWS::DMS::ReplicationInstance": None,
    "AWS::DMS::ReplicationSubnetGroup": None,
    "AWS::DMS::ReplicationTask": None,
    "AWS::DynamoDB::Table": "TableName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::Events::Rule": "Name",
    "AWS::Glue::Crawler": "Name",
    "AWS::Glue::Database": "DatabaseInput.Name",
    "AWS::Glue::SecurityConfiguration": "Name",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::KMS::Key": None,
    "AWS::Kinesis::Stream": "Name",
    "AWS::Lambda::EventSourceMapping": None,
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::Permission": None,
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::S3::BucketPolicy": None,
    "AWS::SNS::Topic": "TopicName",
    "AWS::SNS::TopicPolicy": None,
    "AWS::SQS::Queue": "QueueName",
    "AWS::SQS::QueuePolicy": None,
    "AWS::SageMaker::DataQualityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
    "AWS::SageMaker::FeatureGroup": "FeatureGroupName",
    "AWS::SageMaker::Model": "ModelName",
    "AWS::SageMaker::ModelBiasJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::ModelCard": "ModelCardName",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::SageMaker::ModelQualityJobDefinition": "JobDefinitionName",
    "AWS::SageMaker::MonitoringSchedule": "MonitoringScheduleName",
    "AWS::SageMaker::Pipeline": "PipelineName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
}
# Named types whose name has no documented length limit (API Gateway's REST API and stage names);
# every other named type must have one.
NO_LIMIT = {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage"}


def _used_types() -> set[str]:
    return {
        str(r["Type"])
        for path in TEMPLATE_FILES
        for r in templates.load_template(REPO_ROOT, path.name).body["Resources"].values()
    }


def test_every_resource_type_of_the_templates_has_a_known_name_property() -> None:
    """A new resource type must be classified here: its name property is what validate checks."""
    used = _used_types()
    assert used <= set(NAME_PROPERTIES), f"classify these: {sorted(used - set(NAME_PROPERTIES))}"
    for resource_type in sorted(used):
        rule = name_rule(resource_type)
        got = ".".join(rule.prop) if rule else None
        if NAME_PROPERTIES[resource_type] is None:
            continue  # a property the templates never set is never checked
        assert got == NAME_PROPERTIES[resource_type], resource_type
        assert (rule.limit is None) == (resource_type in NO_LIMIT), resource_type


@pytest.mark.parametrize(
    "resource_type, limit, source",
    [
        ("AWS::Events::Rule", 64, "schema"),
        ("AWS::IAM::Role", 64, "schema"),
        ("AWS::StepFunctions::StateMachine", 80, "schema"),
        ("AWS::Logs::LogGroup", 512, "schema"),
        ("AWS::CloudWatch::Alarm", 255, "schema"),
        ("AWS::SageMaker::Model", 63, "schema"),
        ("AWS::S3::Bucket", 63, "schema"),
        ("AWS::SNS::Topic", 256, "schema"),
        ("AWS::Glue::Database", 255, "schema"),
        ("AWS::Lambda::Function", 64, "https://docs.aws.amazon.com/lambda/"),
        ("AWS::SQS::Queue", 80, "https://docs.aws.amazon.com/AWSSimpleQueueService/"),
        ("AWS::SageMaker::Endpoint", 63, "https://docs.aws.amazon.com/sagemaker/"),
        ("AWS::CodeBuild::Project", 150, "https://docs.aws.amazon.com/codebuild/"),
        ("AWS::Athena::WorkGroup", 128, "https://docs.aws.amazon.com/athena/"),
    ],
)
def test_limits_come_from_the_bundled_schemas_or_a_cited_source(resource_type, limit, source) -> None:
    rule = name_rule(resource_type)
    assert rule is not None and rule.limit == limit
    assert source in rule.source


def _long_repo(tmp_path: Path, pipeline: str, pipeline_id: str, prefix: str = LONGEST_PREFIX) -> Repo:
    """A copy of this repository holding one example (and what it refers to) as ``pipeline_id``,
    with environments.json's stack_prefix set to ``prefix``."""
    root = tmp_path / f"repo{len(list(tmp_path.iterdir()))}"
    repo_copy(root, [])
    configs = root / "pipeline-configs"
    env = json.loads((configs / "environments.json").read_text(encoding="utf-8"))
    env["stack_prefix"] = prefix
    (configs / "environments.json").write_text(json.dumps(env), encoding="utf-8")
    text = (CONFIGS / pipeline / "mlops-config.json").read_text(encoding="utf-8")
    for other in re.findall(r'"monitor_violations":\s*\[([^\]]*)\]', text):
        for ref in re.findall(r'"([^"]+)"', other):
            (configs / ref).mkdir()
            (configs / ref / "mlops-config.json").write_text(
                (CONFIGS / ref / "mlops-config.json").read_text(encoding="utf-8"), encoding="utf-8"
            )
    (configs / pipeline_id).mkdir()
    (configs / pipeline_id / "mlops-config.json").write_text(text, encoding="utf-8")
    return Repo(root)


def _name_errors(repo: Repo, pipeline_id: str) -> list:
    report, configs = validate(repo)
    assert not [f for f in report.errors if f.pipeline_id == pipeline_id], report.errors
    validator = Validator(repo)
    env = validator.environments()
    (cfg,) = [c for c in configs if c.pipeline_id == pipeline_id]
    return physical_name_findings(repo.root, cfg, env, validator.schema.types[cfg.pipeline_type].fields)


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_the_longest_id_validate_accepts_renders_with_every_name_in_its_limit(tmp_path, pipeline) -> None:
    """For every template (through its example): with the longest stack prefix, a 40-character id
    is either accepted, or refused with a hint naming the longest id that fits; that id renders in
    every stage with every physical name within AWS's limit, and one character more is refused."""
    findings = _name_errors(_long_repo(tmp_path, pipeline, "a" * 40), "a" * 40)
    room = 40
    if findings:
        assert {(f.path, f.code) for f in findings} <= {("$", "name-length")} | {
            (f.path, "name-length") for f in findings if f.path != "$"
        }
        hints = [re.search(r"at most (\d+) characters", f.hint) for f in findings if f.path == "$"]
        room = min(int(h.group(1)) for h in hints if h)
    pipeline_id = "a" * room
    repo = _long_repo(tmp_path, pipeline, pipeline_id)
    assert _name_errors(repo, pipeline_id) == []
    report, configs = validate(repo)
    env = Validator(repo).environments()
    (cfg,) = [c for c in configs if c.pipeline_id == pipeline_id]
    name = templates.template_name(repo.root, cfg.pipeline_type)
    body = templates.load_template(repo.root, name).body
    for stage in cfg.stages:
        spec = render(repo.root, cfg, stage, env)
        for physical in physical_names(
            body, spec.parameters, region=spec.region, account_id=spec.account_id, stack_name=spec.stack_name
        ):
            assert not physical.too_long and not physical.bad_form, physical
    if room < 40:
        longer = "a" * (room + 1)
        assert [f.code for f in _name_errors(_long_repo(tmp_path, pipeline, longer), longer)] == [
            "name-length"
        ]


def test_an_autopilot_rule_name_over_64_characters_is_refused(tmp_path) -> None:
    """EventBridge rule names are at most 64 characters: with a 20-character stack prefix and a
    26-character id, the autopilot template's <prefix>-<id>-dev-autopilot-deployed rule is 70.
    The old fixed margin (51 for every base name, met here) let it through to CloudFormation."""
    pipeline_id = "churn-autopilot-abcdefghij"
    repo = _long_repo(tmp_path, "churn-autopilot", pipeline_id)
    result = run_cli("--repo-root", str(repo.root), "validate", "--format", "json")
    assert result.code == 1, result.err
    (finding,) = result.json["findings"]
    assert finding["file"] == f"pipeline-configs/{pipeline_id}/mlops-config.json"
    assert (finding["path"], finding["code"]) == ("$", "name-length")
    assert "AWS::Events::Rule DeployTrigger" in finding["message"]
    assert f"'{LONGEST_PREFIX}-{pipeline_id}-dev-autopilot-deployed', 70 characters" in finding["message"]
    assert "over the 64" in finding["message"]
    assert "shorten the pipeline id (the folder name) to at most 20 characters" in finding["hint"]


def test_a_later_stages_model_package_group_is_refused_at_its_key(tmp_path) -> None:
    """A later stage in the account of an earlier one registers into <group>-<stage>
    (names.model_package_group); SageMaker allows 63 characters. The finding names the key the
    name is built from, though the name is longer than its value."""
    repo = repo_copy(tmp_path / "repo", ("defects-detector",))
    path = repo / "pipeline-configs" / "defects-detector" / "mlops-config.json"
    config = json.loads(path.read_text())
    config["triggers"].pop("monitor_violations", None)
    config.update(stages=["dev", "staging"], model_package_group_name="g" * 60)
    path.write_text(json.dumps(config))
    result = run_cli("--repo-root", str(repo), "validate", "--format", "json")
    assert result.code == 1, result.err
    (finding,) = [f for f in result.json["findings"] if f["code"] == "name-length"]
    assert finding["path"] == "$.model_package_group_name"
    assert f"'{'g' * 60}-staging', 68 characters, over the 63" in finding["message"]
    assert finding["hint"] == "shorten $.model_package_group_name by at least 5 characters"
    config["model_package_group_name"] = "g" * 55
    path.write_text(json.dumps(config))
    assert run_cli("--repo-root", str(repo), "validate").code == 0


@pytest.mark.parametrize(
    "pipeline, stage, parameter, value, path",
    [
        ("fraud-ab", "prod", "EndpointName", "fraud", "$.endpoint_name.prod"),
        (
            "customer-lake",
            "staging",
            "GlueDatabaseName",
            "customer_lake_staging",
            "$.glue_database_name.staging",
        ),
        ("fraud-image", "dev", "EcrRepoName", "fraud-scorer", "$.ecr_repo_name"),
        ("fraud-ab", "prod", "NamePrefix", "mlops-fraud-ab-prod", "$"),
    ],
)
def test_a_finding_points_at_the_key_that_sets_the_name(pipeline, stage, parameter, value, path) -> None:
    """A name written in the config is reported at its key (per stage when the key is); a name
    built from the prefix, at the top (the pipeline id)."""
    repo = Repo(REPO_ROOT)
    validator = Validator(repo)
    cfg, _ = validator.check_config(
        repo.configs_dir / pipeline / "mlops-config.json", validator.environments()
    )
    rule = NameRule(("Name",), len(value) - 3, None, "test")
    name = PhysicalName("R", "AWS::Test::Thing", rule, value, (parameter, "NamePrefix"), estimated=False)
    (finding,) = name_findings(cfg, {stage: ({parameter: value, "NamePrefix": "x"}, [name])})
    assert (finding.path, finding.code) == (path, "name-length")
    excess = 3
    if path != "$":
        assert finding.hint == f"shorten {path} by at least {excess} characters"
    else:
        assert f"at most {len(pipeline) - excess} characters" in finding.hint
    rule = NameRule(("Name",), 4, None, "test")
    (finding,) = name_findings(cfg, {stage: ({parameter: value}, [replace(name, rule=rule)])})
    if path == "$":  # 15 over with an 8-character id: the stack prefix must give way
        assert finding.hint.startswith("shorten environments.json's stack_prefix by at least 8 characters")


def test_render_refuses_what_validate_refuses(tmp_path) -> None:
    """deploy renders before it touches AWS: an over-long name stops it there too."""
    from mlops_gitops.core.render import RenderError

    pipeline_id = "churn-autopilot-abcdefghij"
    repo = _long_repo(tmp_path, "churn-autopilot", pipeline_id)
    _, configs = validate(repo)
    (cfg,) = configs
    with pytest.raises(RenderError) as caught:
        render(repo.root, cfg, "dev", Validator(repo).environments())
    assert [f.code for f in caught.value.findings] == ["name-length"]


def test_a_kms_data_lake_names_its_crawler_log_group_from_generated_names() -> None:
    """The crawler's log group is named after the crawler role, whose name CloudFormation
    generates: it is counted at the longest a role name can be (64), and marked as estimated."""
    body = templates.load_template(REPO_ROOT, "data_lake.yaml").body
    params = {
        "NamePrefix": "mlops-lake-prod",
        "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/k",
        "FeatureGroupName": "",
    }
    found = {
        n.logical_id: n
        for n in physical_names(body, params, region="us-east-1", account_id=None, stack_name="s")
    }
    logs = found["CrawlerLogs"]
    assert logs.value == f"/aws-glue/crawlers-role/{'x' * 64}-mlops-lake-prod-lake"
    assert logs.estimated and not logs.too_long
    assert found["LakeBucket"].value == "mlops-lake-prod-123456789012" and found["LakeBucket"].estimated


def test_a_name_breaking_the_schemas_pattern_is_refused_as_name_form() -> None:
    """Within the length but not of the form AWS takes (the schema's pattern): its own finding."""
    repo = Repo(REPO_ROOT)
    validator = Validator(repo)
    cfg, _ = validator.check_config(
        repo.configs_dir / "fraud-ab" / "mlops-config.json", validator.environments()
    )
    rule = NameRule(("Name",), 63, "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", "test")
    name = PhysicalName(
        "R", "AWS::Test::Thing", rule, "mlops-fraud-ab-prod_x", ("NamePrefix",), estimated=False
    )
    (finding,) = name_findings(cfg, {"prod": ({"NamePrefix": "mlops-fraud-ab-prod"}, [name])})
    assert (finding.path, finding.code) == ("$", "name-form")
    assert "does not match the form AWS allows for its Name" in finding.message


def test_names_reuse_each_templates_name_sites_across_stacks(monkeypatch) -> None:
    """validate evaluates the names of every stage of every config (1,000s of stacks): what a
    template says about its names, whatever the parameters (which resources are named, by which
    property, from which parameters), is read once per template text, and the names are the same
    as when it is read for each stack."""
    from mlops_gitops.core import physical_names as module

    repo = Repo(REPO_ROOT)
    _, configs = validate(repo)
    env = Validator(repo).environments()
    module._SITES.clear()
    reads = []
    real = module._name_sites
    monkeypatch.setattr(module, "_name_sites", lambda body: reads.append(1) or real(body))
    stacks, texts = 0, set()
    for cfg in configs:
        name = templates.template_name(repo.root, cfg.pipeline_type)
        template = templates.load_template(repo.root, name)
        texts.add(template.text)
        for stage in cfg.stages:
            spec = render(repo.root, cfg, stage, env)
            kwargs = dict(region=spec.region, account_id=spec.account_id, stack_name=spec.stack_name)
            before = len(reads)
            fresh = physical_names(template.body, spec.parameters, **kwargs)
            assert len(reads) == before + 1, "no template text: read for this stack"
            reused = physical_names(template.body, spec.parameters, template_text=template.text, **kwargs)
            assert reused == fresh and fresh, (cfg.pipeline_id, stage)
            stacks += 1
    assert len(reads) == stacks + len(texts), "with the text: once per template"
