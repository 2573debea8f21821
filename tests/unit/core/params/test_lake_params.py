"""Parameters of the data lake template: what the builder gives for the customer-lake example and for
a minimal data_lake config fits the template's declared parameters in every stage; the config
refusals the builder adds; and the template's fixed slots agree with the builder's limits."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.params.lake import MAX_FEATURES, MAX_ZONES, table_mappings
from mlops_gitops.core.render import parameter_problem, render
from mlops_gitops.core.templates import PIPELINES_DIR, load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import build_params, valid_config

TEMPLATE = "data_lake.yaml"
BODY = load_template(REPO_ROOT, TEMPLATE).body
DECLARED = BODY["Parameters"]
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
CUSTOMER_LAKE, _ = VALIDATOR.check_config(REPO.configs_dir / "customer-lake" / "mlops-config.json", ENV)
assert CUSTOMER_LAKE is not None
MINIMAL = {"pipeline_type": "data_lake"}
COND = "Condition"  # the long form {Condition: X}: moto reads the short !Condition as false


def _build(cfg: PipelineConfig, stage: str) -> tuple[dict[str, str], ParamContext]:
    return build_params(TEMPLATE, cfg, stage, ENV)


def _config(tmp_repo: TmpRepo, config: dict, pipeline_id: str = "lake") -> PipelineConfig:
    return valid_config(tmp_repo, pipeline_id, config, ENV)


def _assert_fits(params: dict[str, str]) -> None:
    assert set(params) <= set(DECLARED), "the builder passes only declared parameters"
    needed = {n for n, spec in DECLARED.items() if "Default" not in spec}
    assert needed <= set(params), f"no value for {sorted(needed - set(params))}"
    for name, value in params.items():
        assert isinstance(value, str), name
        assert parameter_problem(DECLARED[name], value) is None, (name, value)
        if DECLARED[name]["Type"] == "CommaDelimitedList" and value:
            # CloudFormation matches the pattern against each item, render against the whole value
            for item in value.split(","):
                assert parameter_problem(DECLARED[name], item) is None, (name, item)


@pytest.mark.parametrize("stage", CUSTOMER_LAKE.stages)
def test_every_stage_of_the_example_fits_the_template(stage: str) -> None:
    params, ctx = _build(CUSTOMER_LAKE, stage)
    assert ctx.findings == []
    _assert_fits(params)


@pytest.mark.parametrize("stage", ENV.names)
def test_every_stage_of_a_minimal_config_fits_the_template(tmp_repo: TmpRepo, stage: str) -> None:
    params, ctx = _build(_config(tmp_repo, MINIMAL), stage)
    assert ctx.findings == []
    _assert_fits(params)
    assert params == {
        "NamePrefix": f"mlops-lake-{stage}",
        "LakeBucketName": "",
        "Zones": "raw,curated",
        "ZoneCount": "2",
        "PartitionKeys": "year,month,day",
        "GlacierTransitionDays": "90",
        "ExpirationDays": "0",
        "KmsKeyArn": "",
        "GlueDatabaseName": f"mlops_lake_{stage}",
        "CrawlerSchedule": "cron(0 2 * * ? *)",
        "AthenaBytesScannedCutoff": "0",
        "DmsEngine": "",
        "DmsSecretArn": "",
        "DmsDatabaseName": "",
        "DmsTableMappings": "",
        "DmsSubnetIds": "",
        "DmsSecurityGroupIds": "",
        "DmsTargetZone": "raw",
        "FeatureGroupName": "",
        "FeatureRecordIdentifier": "",
        "FeatureEventTime": "",
        "FeatureNames": "",
        "FeatureTypes": "",
        "FeatureCount": "0",
    }


@pytest.mark.parametrize("stage, glacier, expiration", [("dev", "30", "60"), ("prod", "90", "730")])
def test_example_values_reach_the_parameters(stage: str, glacier: str, expiration: str) -> None:
    params, _ = _build(CUSTOMER_LAKE, stage)
    assert (params["GlacierTransitionDays"], params["ExpirationDays"]) == (glacier, expiration)
    assert params["LakeBucketName"] == ""  # the template names it <NamePrefix>-<account>
    assert (
        params["GlueDatabaseName"]
        == {"dev": "customer_lake_dev", "staging": "customer_lake_staging", "prod": "customer_lake"}[stage]
    )
    assert params["AthenaBytesScannedCutoff"] == "10000000000"
    assert params["CrawlerSchedule"] == "cron(0 3 * * ? *)"
    assert (params["DmsEngine"], params["DmsDatabaseName"], params["DmsTargetZone"]) == (
        "postgres",
        "crm",
        "raw",
    )
    assert params["DmsSecretArn"].endswith(":secret:crm-readonly-AbCdEf")
    rules = json.loads(params["DmsTableMappings"])["rules"]
    assert [r["object-locator"] for r in rules] == [{"schema-name": "public", "table-name": "%"}]
    assert params["FeatureGroupName"] == f"mlops-customer-lake-{stage}"
    assert params["FeatureNames"] == "customer_id,event_time,tenure_months,monthly_spend"
    assert params["FeatureTypes"] == "String,String,Integral,Fractional"
    assert (params["FeatureCount"], params["FeatureOnlineStore"]) == ("4", "true")


@pytest.mark.parametrize(
    "schemas, expected",
    [
        ([], ["%"]),  # every schema
        (["sales", "crm"], ["sales", "crm"]),
    ],
)
def test_table_mappings_select_the_schemas(schemas: list[str], expected: list[str]) -> None:
    rules = json.loads(table_mappings(schemas))["rules"]
    assert [r["object-locator"]["schema-name"] for r in rules] == expected
    assert {(r["rule-type"], r["rule-action"], r["object-locator"]["table-name"]) for r in rules} == {
        ("selection", "include", "%")
    }
    assert len({r["rule-id"] for r in rules}) == len(rules)


def test_full_dms_and_feature_options_reach_the_parameters(tmp_repo: TmpRepo) -> None:
    config = {
        **MINIMAL,
        "zones": ["landing", "curated"],
        "partition_keys": [],
        "lake_bucket_name": "acme-lake",
        "kms_key_arn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "stages": ["prod"],
        "dms_replication": {
            "engine": "sqlserver",
            "secret_arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:erp-AbCdEf",
            "database_name": "erp",
            "migration_type": "cdc",
            "replication_instance_class": "dms.r5.large",
            "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "security_group_ids": ["sg-0123456789abcdef0"],
        },
        "feature_group": {
            "name": "orders-features",
            "record_identifier": "order_id",
            "event_time": "ts",
            "features": [{"name": "order_id", "type": "Integral"}, {"name": "ts", "type": "Fractional"}],
        },
    }
    params, ctx = _build(_config(tmp_repo, config), "prod")
    assert ctx.findings == []
    _assert_fits(params)
    assert (params["Zones"], params["ZoneCount"], params["PartitionKeys"]) == ("landing,curated", "2", "")
    assert params["LakeBucketName"] == "acme-lake"
    assert params["DmsTargetZone"] == "landing"  # no zone called raw: the first one
    assert (params["DmsMigrationType"], params["DmsReplicationInstanceClass"]) == ("cdc", "dms.r5.large")
    assert params["DmsSubnetIds"] == "subnet-0123456789abcdef0,subnet-0123456789abcdef1"
    assert params["DmsSecurityGroupIds"] == "sg-0123456789abcdef0"
    assert json.loads(params["DmsTableMappings"])["rules"][0]["object-locator"]["schema-name"] == "%"
    assert (params["FeatureGroupName"], params["FeatureOnlineStore"]) == ("orders-features", "false")


def _features(count: int) -> list[dict[str, str]]:
    return [{"name": "id", "type": "String"}, {"name": "ts", "type": "String"}] + [
        {"name": f"f{i}", "type": "Fractional"} for i in range(count - 2)
    ]


def _group(**changes) -> dict:
    return {
        "feature_group": {"record_identifier": "id", "event_time": "ts", "features": _features(3), **changes}
    }


@pytest.mark.parametrize(
    "changes, code, message",
    [
        ({"zones": ["raw", "athena-results"]}, "reserved", "a prefix the data lake uses itself"),
        (_group(features=[*_features(3), {"name": "ID", "type": "String"}]), "duplicate", "defined twice"),
        (
            _group(features=[*_features(3), {"name": "write_time", "type": "String"}]),
            "reserved",
            "Feature Store adds",
        ),
    ],
)
def test_configs_the_template_cannot_serve_are_refused(
    tmp_repo: TmpRepo, changes: dict, code: str, message: str
) -> None:
    params, ctx = _build(_config(tmp_repo, {**MINIMAL, **changes}), "dev")
    assert [f.code for f in ctx.findings] == [code], [f.text() for f in ctx.findings]
    assert message in ctx.findings[0].message


@pytest.mark.parametrize(
    "changes, path, code",
    [
        ({"zones": [f"z{i}" for i in range(MAX_ZONES + 1)]}, "$.zones", "size"),
        (_group(features=_features(MAX_FEATURES + 1)), "$.feature_group.features", "size"),
        ({"lake_bucket_name": "acme-lake"}, "$.lake_bucket_name", "name-collision"),
        ({"glue_database_name": "acme"}, "$.glue_database_name", "name-collision"),
        (_group(record_identifier="customer"), "$.feature_group.record_identifier", "reference"),
        (
            _group(event_time="f0", features=[*_features(2), {"name": "f0", "type": "Integral"}]),
            "$.feature_group.event_time",
            "type",
        ),
    ],
)
def test_limits_of_the_template_are_refused_by_validate_already(
    tmp_repo: TmpRepo, changes: dict, path: str, code: str
) -> None:
    from tests.conftest import validate_findings

    findings = validate_findings(tmp_repo, {**MINIMAL, **changes}, "lake")
    assert [(f["path"], f["code"]) for f in findings if f["severity"] == "error"] == [(path, code)]


def test_one_named_bucket_is_fine_for_a_single_stage(tmp_repo: TmpRepo) -> None:
    params, ctx = _build(
        _config(tmp_repo, {**MINIMAL, "lake_bucket_name": "acme-lake", "stages": ["prod"]}), "prod"
    )
    assert ctx.findings == [] and params["LakeBucketName"] == "acme-lake"


def _slots(items: list, kind: str, pattern: str) -> list[tuple[str | None, int]]:
    """(condition, selected index) of each slot of a list built from Fn::If items."""
    found = []
    for item in items:
        condition = None
        if "Fn::If" in item:
            condition, item, no_value = item["Fn::If"]
            assert no_value == {"Ref": "AWS::NoValue"}, kind
        indexes = {int(i) for i in re.findall(pattern, json.dumps(item))}
        assert len(indexes) == 1, (kind, item)
        found.append((condition, indexes.pop()))
    return found


def test_template_slots_match_the_builder_limits() -> None:
    params, resources, conditions = DECLARED, BODY["Resources"], BODY["Conditions"]
    assert (params["ZoneCount"]["MaxValue"], params["FeatureCount"]["MaxValue"]) == (MAX_ZONES, MAX_FEATURES)
    targets = resources["Crawler"]["Properties"]["Targets"]["S3Targets"]
    assert _slots(targets, "zones", r'"Fn::Select": \[(\d+), \{"Ref": "Zones"\}') == [(None, 0)] + [
        (f"HasZone{k}", k - 1) for k in range(2, MAX_ZONES + 1)
    ]
    features = resources["FeatureGroup"]["Properties"]["FeatureDefinitions"]
    assert _slots(features, "features", r'"Fn::Select": \[(\d+), \{"Ref": "Feature(?:Names|Types)"\}') == [
        (None, 0)
    ] + [(f"HasFeature{k}", k - 1) for k in range(2, MAX_FEATURES + 1)]
    # slot k is on when the count is at least k: a chain of "and not exactly k-1"
    assert conditions["HasZone2"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ZoneCount"}, 1]}]}
    for k in range(3, MAX_ZONES + 1):
        assert conditions[f"HasZone{k}"] == {
            "Fn::And": [
                {COND: f"HasZone{k - 1}"},
                {"Fn::Not": [{"Fn::Equals": [{"Ref": "ZoneCount"}, k - 1]}]},
            ]
        }
    assert conditions["HasFeature2"]["Fn::And"][0] == {COND: "HasFeatureGroup"}
    for k in range(2, MAX_FEATURES + 1):
        assert conditions[f"HasFeature{k}"]["Fn::And"][1] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": "FeatureCount"}, k - 1]}]
        }
        if k > 2:
            assert conditions[f"HasFeature{k}"]["Fn::And"][0] == {COND: f"HasFeature{k - 1}"}


def test_renders_once_the_type_is_mapped(tmp_repo: TmpRepo) -> None:
    """With data_lake mapped to the template, as the lead will, render gives the spec."""
    target = tmp_repo.root / PIPELINES_DIR
    shutil.copytree(REPO_ROOT / PIPELINES_DIR, target)
    mapping = json.loads((target / "pipeline-types.json").read_text())
    mapping["pending"].pop("data_lake", None)
    mapping["templates"][TEMPLATE] = ["data_lake"]
    (target / "pipeline-types.json").write_text(json.dumps(mapping))
    cfg = _config(tmp_repo, example("customer-lake"), "customer-lake")
    spec = render(tmp_repo.root, cfg, "prod", ENV, commit="0" * 40)
    assert spec.stack_name == "mlops-customer-lake-prod" and spec.template == f"{PIPELINES_DIR}/{TEMPLATE}"
    assert spec.parameters["GlueDatabaseName"] == "customer_lake"
    assert "ModelRevision" not in spec.parameters
    assert spec.deferred == {} and spec.artifacts == []
    assert spec.tags["mlops:pipeline-type"] == "data_lake"


@pytest.mark.parametrize(
    "flag, expected", [(True, "true"), ("True", "true"), (False, "false"), ("false", "false")]
)
def test_online_store_flag_accepts_the_mwo_string_forms(tmp_repo: TmpRepo, flag, expected: str) -> None:
    params, ctx = _build(_config(tmp_repo, {**MINIMAL, **_group(online_store=flag)}), "dev")
    assert ctx.findings == [] and params["FeatureOnlineStore"] == expected
