"""Render: golden stack specs of the examples, and the rules render enforces before AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import RenderError, parameter_problem, render
from mlops_gitops.core.templates import template_name
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example, run_cli

GOLDEN = REPO_ROOT / "tests" / "golden" / "render"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()


def _renderable():
    cases = []
    for path in REPO.config_files():
        cfg, _ = VALIDATOR.check_config(path, ENV)
        assert cfg is not None, path
        if template_name(REPO_ROOT, cfg.pipeline_type) is not None:  # every type whose template exists
            cases += [pytest.param(cfg, stage, id=f"{cfg.pipeline_id}.{stage}") for stage in cfg.stages]
    return cases


@pytest.mark.parametrize("cfg, stage", _renderable())
def test_rendered_specs_match_the_golden_files(cfg, stage, update_golden: bool) -> None:
    spec = render(REPO_ROOT, cfg, stage, ENV, commit=COMMIT).to_dict()
    text = json.dumps(spec, indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / f"{cfg.pipeline_id}.{stage}.json"
    if update_golden:
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}: run pytest --update-golden and review the diff"
    assert text == golden.read_text(), (
        f"{golden.name} differs: if intended, run pytest --update-golden and review the diff"
    )


def test_every_golden_file_belongs_to_a_rendered_case() -> None:
    names = {f"{p.values[0].pipeline_id}.{p.values[1]}.json" for p in _renderable()}
    assert {p.name for p in GOLDEN.glob("*.json")} == names


def test_cli_render_prints_the_spec() -> None:
    result = run_cli(
        "--repo-root", str(REPO_ROOT), "render", "churn-realtime", "--stage", "prod", "--commit", COMMIT
    )
    assert result.code == 0, result.err
    spec = result.json
    golden = json.loads((GOLDEN / "churn-realtime.prod.json").read_text())
    assert spec == golden
    assert spec["stack_name"] == "mlops-churn-realtime-prod"
    assert (
        spec["parameters"]["ImageUri"]
        == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    assert spec["tags"]["mlops:spec-hash"] == spec["spec_hash"]
    assert spec["termination_protection"] is True  # prod is protected in environments.json


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["render", "churn-realtim", "--stage", "dev"], 2, "did you mean 'churn-realtime'?"),
        (["render", "churn-realtime", "--stage", "prd"], 2, "did you mean 'prod'?"),
        (["render", "churn-training", "--stage", "prod"], 1, "does not deploy to stage 'prod'"),
        (["render", "churn-realtime"], 2, "--stage"),
    ],
)
def test_cli_render_errors(argv: list[str], code: int, message: str) -> None:
    result = run_cli("--repo-root", str(REPO_ROOT), *argv)
    assert result.code == code
    assert message in result.err
    assert "Traceback" not in result.err


def test_an_invalid_config_is_not_rendered(tmp_repo: TmpRepo) -> None:
    config = example("churn-realtime")
    config["inference_instance"] = "ml.m5.hugeee"
    tmp_repo.write("churn", config)
    result = run_cli("--repo-root", str(tmp_repo.root), "render", "churn", "--stage", "dev")
    assert result.code == 1
    assert "is not a SageMaker hosting instance type" in result.err


def test_spec_hash_ignores_the_commit_but_not_the_parameters() -> None:
    cfg, _ = VALIDATOR.check_config(REPO.configs_dir / "churn-realtime" / "mlops-config.json", ENV)
    a = render(REPO_ROOT, cfg, "dev", ENV, commit="a" * 40)
    b = render(REPO_ROOT, cfg, "dev", ENV, commit="b" * 40)
    assert a.spec_hash == b.spec_hash and a.tags["mlops:commit"] != b.tags["mlops:commit"]
    cfg.by_stage["dev"]["inference_instance"] = "ml.m5.2xlarge"
    c = render(REPO_ROOT, cfg, "dev", ENV, commit="a" * 40)
    assert c.spec_hash != a.spec_hash


def test_dev_following_the_latest_approved_package_is_deferred_to_deploy() -> None:
    cfg, _ = VALIDATOR.check_config(REPO.configs_dir / "fraud-ab" / "mlops-config.json", ENV)
    spec = render(REPO_ROOT, cfg, "dev", ENV, commit=COMMIT)
    assert spec.deferred == {"ModelPackageArn": {"latest_approved_model_package_of": "fraud-scorer"}}
    assert spec.parameters["ModelPackageArn"] == ""


def test_a_value_the_template_refuses_is_caught_before_aws(tmp_repo: TmpRepo, tmp_path: Path) -> None:
    # validate accepts any botocore instance type; the template's pattern is the last line of defence
    template = (REPO_ROOT / "cloudformation" / "pipelines" / "realtime_inference.yaml").read_text()
    target = tmp_repo.root / "cloudformation" / "pipelines"
    target.mkdir(parents=True)
    (target / "realtime_inference.yaml").write_text(
        template.replace(
            "Default: 100\n    MinValue: 0\n    MaxValue: 100",
            "Default: 100\n    MinValue: 0\n    MaxValue: 50",
            1,
        )
    )
    (target / "pipeline-types.json").write_text(
        (REPO_ROOT / "cloudformation" / "pipelines" / "pipeline-types.json").read_text()
    )
    tmp_repo.write("churn", example("churn-realtime"))
    repo = Repo(tmp_repo.root)
    validator = Validator(repo)
    env = validator.environments()
    cfg, findings = validator.check_config(repo.configs_dir / "churn" / "mlops-config.json", env)
    assert cfg is not None, findings
    with pytest.raises(RenderError) as info:
        render(tmp_repo.root, cfg, "dev", env)
    [finding] = info.value.findings
    assert finding.code == "parameter"
    assert "DataCaptureSamplingPercentage='100' is above MaxValue 50" in finding.message


@pytest.mark.parametrize(
    "spec, value, problem",
    [
        ({"Type": "String", "AllowedValues": ["a", "b"]}, "c", "is not one of ['a', 'b']"),
        ({"Type": "String", "AllowedValues": ["a", "b"]}, "a", None),
        ({"Type": "String", "AllowedPattern": "^x+$"}, "xxy", "does not match AllowedPattern ^x+$"),
        (
            {"Type": "String", "AllowedPattern": "x+"},
            "axx",
            "does not match AllowedPattern x+",
        ),  # full match, as CloudFormation
        ({"Type": "String", "AllowedPattern": "x+"}, "xx", None),
        ({"Type": "String", "MinLength": 2}, "a", "is shorter than MinLength 2"),
        ({"Type": "String", "MaxLength": 2}, "abc", "is longer than MaxLength 2"),
        ({"Type": "Number", "MinValue": 1}, "0", "is below MinValue 1"),
        ({"Type": "Number", "MaxValue": 10}, "10.5", "is above MaxValue 10"),
        ({"Type": "Number"}, "ten", "is not a number"),
        ({"Type": "Number", "AllowedValues": [1, 3]}, "3", None),
    ],
)
def test_parameter_constraints(spec: dict, value: str, problem: str | None) -> None:
    assert parameter_problem(spec, value) == problem


def test_models_are_named_by_what_they_run() -> None:
    """SageMaker models are create-only: a new image or artifact replaces the model, and a fixed name
    would make CloudFormation's replace-then-delete fail with 'already exists'."""
    from mlops_gitops.core.params.base import with_model_revisions

    base = {
        "ImageUri": "i:1",
        "ModelArtifactUrl": "s3://b-b/m1.tar.gz",
        "ModelPackageArn": "",
        "NetworkIsolation": "true",
    }
    first = with_model_revisions(base)["ModelRevision"]
    assert with_model_revisions(base)["ModelRevision"] == first
    assert with_model_revisions({**base, "ModelArtifactUrl": "s3://b-b/m2.tar.gz"})["ModelRevision"] != first
    assert with_model_revisions({**base, "ImageUri": "i:2"})["ModelRevision"] != first
    package = {
        **base,
        "ModelArtifactUrl": "",
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:111122223333:model-package/g/1",
    }
    assert (
        with_model_revisions(package)["ModelRevision"]
        == with_model_revisions({**package, "ImageUri": "i:2"})["ModelRevision"]
    )
    from mlops_gitops.core.templates import load_template

    for name in ("realtime_inference.yaml", "batch_inference.yaml"):
        model = load_template(REPO_ROOT, name).body["Resources"]["Model"]["Properties"]
        assert model["ModelName"] == {"Fn::Sub": "${NamePrefix}-${ModelRevision}"}


@pytest.mark.parametrize(
    "instance_type, local",
    [
        ("ml.m5.large", False),
        ("ml.m5d.large", True),
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.c5.xlarge", False),
        ("ml.p4d.24xlarge", True),
        ("ml.inf2.xlarge", False),
    ],
)
def test_volume_key_is_left_out_for_instances_with_local_storage(instance_type: str, local: bool) -> None:
    from mlops_gitops.core.params.base import has_local_storage

    assert has_local_storage(instance_type) is local


def test_a_pending_type_validates_but_does_not_render(tmp_repo: TmpRepo) -> None:
    """pipeline-types.json can list a type as pending (its template not written yet)."""
    import shutil

    target = tmp_repo.root / "cloudformation" / "pipelines"
    shutil.copytree(REPO_ROOT / "cloudformation" / "pipelines", target)
    mapping = json.loads((target / "pipeline-types.json").read_text())
    mapping["templates"].pop("model_training_pipeline.yaml")
    (target / "model_training_pipeline.yaml").unlink()
    mapping["pending"] = {"model_training_pipeline": "being written"}
    (target / "pipeline-types.json").write_text(json.dumps(mapping))
    config = example("defects-detector")
    config["triggers"].pop("monitor_violations")
    tmp_repo.write("defects", config)
    assert run_cli("--repo-root", str(tmp_repo.root), "validate").code == 0
    result = run_cli("--repo-root", str(tmp_repo.root), "render", "defects", "--stage", "dev")
    assert result.code == 1
    assert "has no template yet (being written)" in result.err


def test_an_s3_shorthand_is_rendered_with_a_note_naming_the_uri_it_became() -> None:
    """Issue 16: MWO's bucket/prefix and assets-key forms were read silently, one way for some
    fields and another for others. render says how each was read, and the note changes no hash."""
    from tests.conftest import run_cli

    result = run_cli("--repo-root", str(REPO_ROOT), "render", "fraud-batch", "--stage", "dev")
    assert result.code == 0, result.err
    notes = json.loads(result.out)["notes"]
    assert (
        "model_artifact_location: 'models/fraud/model.tar.gz' is read as "
        "s3://mlops-demo-assets/models/fraud/model.tar.gz (a key in environments.json's assets_bucket)"
    ) in notes
    assert any("(MWO's bucket/prefix form)" in note for note in notes)
    assert [line.removeprefix("note: ") for line in result.err.splitlines()] == notes
