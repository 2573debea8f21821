"""Issue 20: an image builder builds once per account and region, in the first stage there
(environments.json's order); later stages of that account and region have no stack of it and use
its image (promoted by digest, not rebuilt). An ECR repository name exists once per account and
region: https://docs.aws.amazon.com/AmazonECR/latest/userguide/Repositories.html"""

from __future__ import annotations

import json

import pytest

from mlops_gitops.config.environments import DEFAULT, Environments
from mlops_gitops.config.rules.base import pipeline_stages
from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import RenderError, render, render_stage
from mlops_gitops.repo import Repo
from tests.conftest import example, run_cli

BUILDER = {"pipeline_type": "byom_image_builder", "ecr_repo_name": "r", "image_tag": "1"}


def env_of(*stages: dict) -> Environments:
    return Environments.from_data({"stack_prefix": "mlops", "region": "us-east-1", "stages": list(stages)})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(DEFAULT, ["dev"], id="one-account"),
        pytest.param(
            env_of(
                {"name": "dev", "account_id": "111111111111"},
                {"name": "staging", "account_id": "222222222222"},
                {"name": "prod", "account_id": "222222222222"},
            ),
            ["dev", "staging"],
            id="each-accounts-first-stage",
        ),
        pytest.param(
            env_of({"name": "dev"}, {"name": "staging"}, {"name": "prod", "region": "eu-west-1"}),
            ["dev", "prod"],
            id="ecr-is-regional",
        ),
        pytest.param(
            env_of(
                {"name": "dev", "account_id": "111111111111"},
                {"name": "staging", "account_id": "222222222222"},
                {"name": "prod", "account_id": "333333333333"},
            ),
            ["dev", "staging", "prod"],
            id="three-accounts",
        ),
    ],
)
def test_an_image_builder_without_stages_builds_in_each_account_and_regions_first_stage(
    env, expected
) -> None:
    assert pipeline_stages(BUILDER, env) == expected
    assert pipeline_stages({**BUILDER, "stages": ["prod"]}, env) == ["prod"], "explicit stages win"
    assert pipeline_stages({"pipeline_type": "byom_realtime_custom"}, env) == env.names


def test_the_unchanged_image_builder_validates_and_renders_once_in_one_account(tmp_repo) -> None:
    config = example("fraud-image")
    config.pop("stages", None)
    tmp_repo.write("fraud-image", config)
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert result.code == 0, result.out + result.err
    repo = Repo(tmp_repo.root)
    validator = Validator(repo)
    env = validator.environments()
    cfg, _ = validator.check_config(tmp_repo.configs / "fraud-image" / "mlops-config.json", env)
    assert cfg is not None and cfg.stages == ("dev",)


def test_later_stages_of_the_account_get_no_stack_and_render_says_where_the_image_is_built(tmp_path) -> None:
    from tests.conftest import repo_copy

    root = repo_copy(tmp_path / "repo", ("fraud-image",))
    config_path = root / "pipeline-configs" / "fraud-image" / "mlops-config.json"
    config = json.loads(config_path.read_text())
    config.pop("stages", None)
    config_path.write_text(json.dumps(config))
    repo = Repo(root)
    dev, errors, _ = render_stage(repo, "dev", "c0ffee", "us-east-1")
    assert not errors and [s.stack_name for s in dev] == ["mlops-fraud-image-dev"]
    for stage in ("staging", "prod"):
        specs, errors, _ = render_stage(repo, stage, "c0ffee", "us-east-1")
        assert not errors and specs == [], "no second stack creating the same ECR repository"
    validator = Validator(repo)
    env = validator.environments()
    cfg, _ = validator.check_config(config_path, env)
    with pytest.raises(RenderError) as exc:
        render(root, cfg, "staging", env, commit="c0ffee")
    assert "its image is built by stage 'dev' in this account and region" in exc.value.findings[0].message
    result = run_cli("--repo-root", str(root), "render", "fraud-image", "--stage", "prod")
    assert result.code == 1 and "built by stage 'dev'" in result.err, result.err


def test_a_per_stage_value_for_a_stage_that_uses_the_built_image_says_so(tmp_repo) -> None:
    from tests.conftest import validate_findings

    config = example("fraud-image")
    config.pop("stages", None)
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config["kms_key_arn"] = {"dev": key, "staging": key}
    errors = [f for f in validate_findings(tmp_repo, config, "fraud-image") if f["severity"] == "error"]
    assert [(f["path"], f["code"]) for f in errors] == [("$.kms_key_arn.staging", "stage")]
    assert "uses the image stage 'dev' builds" in errors[0]["hint"]
