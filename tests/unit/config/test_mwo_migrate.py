"""`mlopsctl migrate-mwo` (issue 20): every MWO pipeline type's documented config (tests/fixtures/mwo,
written from MWO's field reference) migrates, validates and renders for every stage it deploys to;
the report is a golden file; API bodies and API Gateway events migrate alike; bad input is a
finding, nothing is overwritten without --force, and a second run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.config.mwo import MwoInputError, migrate, pipeline_id_for
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import RenderError, render
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, repo_copy, run_cli

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "mwo"
GOLDEN = REPO_ROOT / "tests" / "golden" / "mwo"
TYPES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def test_every_mwo_pipeline_type_has_a_fixture() -> None:
    assert len(TYPES) == 12


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return repo_copy(tmp_path / "repo", ())


@pytest.mark.parametrize("ptype", TYPES)
def test_an_mwo_config_migrates_validates_and_renders(ptype: str, repo: Path, update_golden: bool) -> None:
    result = run_cli("--repo-root", str(repo), "migrate-mwo", str(FIXTURES / f"{ptype}.json"))
    assert result.code == 0, result.out + result.err
    golden = GOLDEN / f"{ptype}.txt"
    if update_golden:
        golden.write_text(result.out)
    assert result.out == golden.read_text(), f"{golden.name} differs: if intended, run make golden"
    mwo = json.loads((FIXTURES / f"{ptype}.json").read_text())
    pid = pipeline_id_for(mwo)
    path = repo / "pipeline-configs" / pid / "mlops-config.json"
    written = json.loads(path.read_text())
    assert {k: v for k, v in written.items() if k != "$schema"} == mwo, "MWO's fields kept, nothing added"
    validator = Validator(Repo(repo))
    env = validator.environments()
    config, findings = validator.check_config(path, env)
    assert config is not None, [f.text() for f in findings]
    for stage in config.stages:
        try:
            render(repo, config, stage, env, commit="c0ffee")
        except RenderError as exc:
            if not all(f.code == "template-pending" for f in exc.findings):
                raise


def test_a_second_run_changes_nothing_and_a_different_config_is_not_overwritten(repo: Path) -> None:
    source = str(FIXTURES / "byom_realtime_custom.json")
    assert run_cli("--repo-root", str(repo), "migrate-mwo", source).code == 0
    again = run_cli("--repo-root", str(repo), "migrate-mwo", source)
    assert again.code == 0 and "unchanged" in again.out
    path = repo / "pipeline-configs" / "fraud" / "mlops-config.json"
    path.write_text(path.read_text().replace("ml.m5.large", "ml.m5.xlarge"))
    refused = run_cli("--repo-root", str(repo), "migrate-mwo", source)
    assert refused.code == 1 and "differs" in refused.err and "ml.m5.xlarge" in path.read_text()
    forced = run_cli("--repo-root", str(repo), "migrate-mwo", source, "--force")
    assert forced.code == 0 and "ml.m5.large" in path.read_text()


def test_an_api_gateway_event_for_provisionpipeline_migrates_like_its_body(
    tmp_path: Path, repo: Path
) -> None:
    body = json.loads((FIXTURES / "byom_batch_custom.json").read_text())
    event = {"httpMethod": "POST", "path": "/provisionpipeline", "body": json.dumps(body)}
    assert migrate(event).text() == migrate(body).text()
    source = tmp_path / "event.json"
    source.write_text(json.dumps(event))
    result = run_cli("--repo-root", str(repo), "migrate-mwo", str(source), "--id", "nightly-fraud")
    assert result.code == 0, result.err
    assert (repo / "pipeline-configs" / "nightly-fraud" / "mlops-config.json").is_file()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "expected a JSON object"),
        ({"model_name": "x"}, "no pipeline_type"),
        ({"pipeline_type": "create_model_card", "name": "c"}, "model-card operation"),
        ({"httpMethod": "POST", "path": "/pipelinestatus", "body": "{}"}, "only /provisionpipeline"),
        ({"httpMethod": "POST", "path": "/provisionpipeline", "body": "{nope"}, "body is not JSON"),
    ],
)
def test_what_is_not_an_mwo_pipeline_is_refused_with_the_reason(document, message: str) -> None:
    with pytest.raises(MwoInputError, match=message):
        migrate(document)


def test_bad_input_is_exit_1_and_writes_nothing(tmp_path: Path, repo: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"pipeline_type": "byom_realtime_builtin", "model_name": "x"}))
    for source in (bad, invalid):
        result = run_cli("--repo-root", str(repo), "migrate-mwo", str(source))
        assert result.code == 1 and "nothing written" in result.err, result.err
        assert "Traceback" not in result.err
    assert not (repo / "pipeline-configs" / "x").exists()


def test_ids_come_from_mwo_names() -> None:
    assert (
        pipeline_id_for({"pipeline_type": "byom_realtime_builtin", "model_name": " Churn_Model.v2 "})
        == "churn-model-v2"
    )
    assert pipeline_id_for({"pipeline_type": "byom_image_builder", "image_tag": "Tree"}) == "tree"


def test_a_registry_version_for_every_stage_is_a_decision_for_the_user() -> None:
    body = json.loads((FIXTURES / "byom_realtime_custom.json").read_text())
    del body["model_artifact_location"], body["custom_image_uri"]
    body["model_package_name"] = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud/3"
    report = migrate(body).report("pipeline-configs/fraud/mlops-config.json")
    assert "you decide:" in report and "mlopsctl promote" in report


@pytest.mark.parametrize(
    "ptype", ["model_training_builtin", "model_tuner_builtin", "model_autopilot_training"]
)
def test_an_mwo_job_name_is_dropped_and_said_so(ptype: str, repo: Path) -> None:
    """One job_name for every stage would give stages in one account the same job names, which
    validate refuses (job-name-prefix, issue 19): the migrated config names jobs by stack instead."""
    body = json.loads((FIXTURES / f"{ptype}.json").read_text())
    body["job_name"] = "churn-train"
    m = migrate(body)
    assert "job_name" not in m.config
    assert any("job_name 'churn-train' dropped" in line for line in m.changed)
    source = repo / "mwo.json"
    source.write_text(json.dumps(body))
    assert run_cli("--repo-root", str(repo), "migrate-mwo", str(source)).code == 0
    assert run_cli("--repo-root", str(repo), "validate").code == 0


def test_a_migrated_config_whose_names_would_not_fit_is_refused(repo: Path) -> None:
    """migrate-mwo checks the names its stacks would create, as validate does: with a 20-character
    stack prefix, the autopilot template's <prefix>-<id>-<stage>-autopilot-deployed EventBridge rule
    (at most 64 characters) overflows for a 26-character id."""
    env_file = repo / "pipeline-configs" / "environments.json"
    env = json.loads(env_file.read_text(encoding="utf-8"))
    env["stack_prefix"] = "p" * 20
    env_file.write_text(json.dumps(env), encoding="utf-8")
    source = str(FIXTURES / "model_autopilot_training.json")
    result = run_cli("--repo-root", str(repo), "migrate-mwo", source, "--id", "a" * 26)
    assert result.code == 1, result.out + result.err
    assert "$: stage 'staging': AWS::Events::Rule DeployTrigger would be named" in result.err
    assert "the migrated config would be invalid" in result.err
    assert not (repo / "pipeline-configs" / ("a" * 26)).exists()
