"""Parameters of the data lake template: what the builder gives for the customer-lake example and for
a minimal data_lake config fits the template's declared parameters in every stage; the config
refusals the builder adds; and the template's fixed slots agree with the builder's limits."""

from __future__ import annotations

import json
import shutil

import pytest

from mlops_gitops.cfn_eval import Evaluator, parameter_values
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


def _evaluated(node: object, **given: str) -> object:
    """``node`` of the template as CloudFormation evaluates it with the example's parameters and ``given``."""
    params, _ = _build(CUSTOMER_LAKE, "dev")
    return Evaluator(BODY, parameter_values(BODY, {**params, **given}))(node)


def test_template_slots_match_the_builder_limits() -> None:
    """Every count the builder can pass switches on exactly that many slots, in order: the crawler's
    targets (Zones/ZoneCount) and the feature definitions (FeatureNames/FeatureTypes/FeatureCount),
    evaluated for every count, so that how the slots' conditions are written can change freely."""
    assert DECLARED["ZoneCount"]["MaxValue"] == MAX_ZONES
    resources = BODY["Resources"]
    targets = resources["Crawler"]["Properties"]["Targets"]["S3Targets"]
    for n in range(1, MAX_ZONES + 1):
        zones = [f"zone{i}" for i in range(n)]
        got = _evaluated(targets, Zones=",".join(zones), ZoneCount=str(n))
        assert got == [{"Path": f"s3://<LakeBucket>/{z}/"} for z in zones], n
    features = resources["FeatureGroup"]["Properties"]["FeatureDefinitions"]
    assert resources["FeatureGroup"]["Condition"] == "HasFeatureGroup"
    for n in range(MAX_FEATURES + 1):
        names = [f"f{i}" for i in range(max(n, 1))]  # the builder passes a name and a type even for none
        types = ["Integral", "Fractional", "String"] * MAX_FEATURES
        given = {"FeatureNames": ",".join(names), "FeatureTypes": ",".join(types[: len(names)])}
        params, _ = _build(CUSTOMER_LAKE, "dev")
        ev = Evaluator(BODY, parameter_values(BODY, {**params, **given, "FeatureCount": str(n)}))
        assert ev.condition("HasFeatureGroup") is (n > 0), n
        if n:
            expected = [{"FeatureName": f, "FeatureType": ty} for f, ty in zip(names, types, strict=False)]
            assert ev(features) == expected, n
    # FeatureCount keys FeatureCountDigits: every count the builder may pass is a key, nothing else passes
    digits = BODY["Mappings"]["FeatureCountDigits"]
    assert set(digits) == {str(n) for n in range(MAX_FEATURES + 1)}
    for value in (*digits, "101", "01", "-1", "1.0", ""):
        ok = value in digits
        assert (parameter_problem(DECLARED["FeatureCount"], value) is None) is ok, value


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
