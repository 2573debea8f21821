"""Parameters of the real-time reporting template: what the builder gives for the web-events
example in every stage fits the template's declared parameters, and the config refusals it adds."""

from __future__ import annotations

import json
import shutil

import pytest

from mlops_gitops import lambdas
from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.render import parameter_problem, render
from mlops_gitops.core.templates import PIPELINES_DIR, load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import build_params, valid_config

TEMPLATE = "realtime_reporting.yaml"
DECLARED = load_template(REPO_ROOT, TEMPLATE).parameters
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
WEB_EVENTS, _ = VALIDATOR.check_config(REPO.configs_dir / "web-events" / "mlops-config.json", ENV)
assert WEB_EVENTS is not None
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _build(cfg: PipelineConfig, stage: str) -> tuple[dict[str, str], ParamContext]:
    return build_params(TEMPLATE, cfg, stage, ENV)


def _config(tmp_repo: TmpRepo, config: dict) -> PipelineConfig:
    return valid_config(tmp_repo, "clicks", config, ENV)


@pytest.mark.parametrize("stage", WEB_EVENTS.stages)
def test_every_stage_of_the_example_fits_the_template(stage: str) -> None:
    params, ctx = _build(WEB_EVENTS, stage)
    assert ctx.findings == []
    assert set(params) <= set(DECLARED), "the builder passes only declared parameters"
    needed = {n for n, spec in DECLARED.items() if "Default" not in spec}
    assert needed <= set(params), f"no value for {sorted(needed - set(params))}"
    for name, value in params.items():
        assert isinstance(value, str), name
        assert parameter_problem(DECLARED[name], value) is None, (name, value)


@pytest.mark.parametrize("stage, shards", [("dev", "1"), ("staging", "1"), ("prod", "4")])
def test_example_values_reach_the_parameters(stage: str, shards: str) -> None:
    params, _ = _build(WEB_EVENTS, stage)
    assert params == {
        "NamePrefix": f"mlops-web-events-{stage}",
        "EventFormat": "snowplow_enriched_tsv",
        "GroupBy": "app_id,event_name",
        "WindowSeconds": "300",
        "TtlDays": "90",
        "StreamMode": "PROVISIONED",
        "ShardCount": shards,
        "StreamRetentionHours": "48",
        "KmsKeyArn": "",
        "BatchSize": "500",
        "LambdaMemoryMb": "512",
        "AggregatorLambdaKey": lambdas.package("event_aggregator").key,
        "NotificationTopicArn": "",
    }


def test_schema_defaults_fill_a_minimal_config(tmp_repo: TmpRepo) -> None:
    cfg = _config(
        tmp_repo,
        {
            "pipeline_type": "realtime_reporting",
            "aggregation": {"group_by": ["event_type"]},
            "kms_key_arn": {"dev": KEY_ARN, "staging": "", "prod": KEY_ARN},
            "notify": ["arn:aws:sns:us-east-1:111122223333:reports"],
        },
    )
    params, ctx = _build(cfg, "dev")
    assert ctx.findings == []
    assert {k: params[k] for k in params if k not in ("NamePrefix", "AggregatorLambdaKey")} == {
        "EventFormat": "json",
        "GroupBy": "event_type",
        "WindowSeconds": "300",
        "TtlDays": "0",
        "StreamMode": "ON_DEMAND",
        "ShardCount": "1",
        "StreamRetentionHours": "24",
        "KmsKeyArn": KEY_ARN,
        "BatchSize": "100",
        "LambdaMemoryMb": "256",
        "NotificationTopicArn": "arn:aws:sns:us-east-1:111122223333:reports",
    }
    assert _build(cfg, "staging")[0]["KmsKeyArn"] == ""
    for name, value in params.items():
        assert parameter_problem(DECLARED[name], value) is None, (name, value)


@pytest.mark.parametrize(
    "change, code, message",
    [
        (
            {"kms_key_arn": "arn:aws:kms:us-east-1:111122223333:alias/reports"},
            "kms-alias",
            "needs a KMS key ARN, not an alias",
        ),
    ],
)
# group_by's reserved names and Snowplow columns are validate's now (config/rules/types.py, rows
# render-gap-group-by-* in tests/unit/config/test_invalid_configs.py); the builder keeps them as a guard.
def test_what_the_builder_refuses(tmp_repo: TmpRepo, change: dict, code: str, message: str) -> None:
    cfg = _config(tmp_repo, {**example("web-events"), **change})
    _, ctx = _build(cfg, "dev")
    assert [f.code for f in ctx.findings] == [code]
    assert message in ctx.findings[0].message


def test_json_events_may_group_by_any_field(tmp_repo: TmpRepo) -> None:
    config = {**example("web-events"), "event_format": "json"}
    config["aggregation"] = {"group_by": ["tenant", "event_type"], "window_seconds": 60}
    params, ctx = _build(_config(tmp_repo, config), "prod")
    assert ctx.findings == []
    assert (params["GroupBy"], params["WindowSeconds"], params["TtlDays"]) == ("tenant,event_type", "60", "0")


def test_renders_once_the_type_is_mapped(tmp_repo: TmpRepo) -> None:
    """With realtime_reporting mapped to the template, as the lead will, render gives the spec."""
    target = tmp_repo.root / PIPELINES_DIR
    shutil.copytree(REPO_ROOT / PIPELINES_DIR, target)
    mapping = json.loads((target / "pipeline-types.json").read_text())
    mapping["pending"].pop("realtime_reporting", None)
    mapping["templates"][TEMPLATE] = ["realtime_reporting"]
    (target / "pipeline-types.json").write_text(json.dumps(mapping))
    cfg = _config(tmp_repo, example("web-events"))
    spec = render(tmp_repo.root, cfg, "prod", ENV, commit="0" * 40)
    assert spec.parameters["ShardCount"] == "4"
    assert [a.source for a in spec.artifacts] == ["lambda:event_aggregator"]


def test_validate_reads_the_same_names_as_the_aggregator() -> None:
    from mlops_gitops.config.rules.types import aggregator_names
    from mlops_gitops.lambdas.event_aggregator import RESERVED_ATTRIBUTES, SNOWPLOW_INDEX

    assert aggregator_names() == (tuple(RESERVED_ATTRIBUTES), SNOWPLOW_INDEX)
