"""Parameters of the image builder template: what the builder gives for the fraud-image example in
every stage fits the template's declared parameters, and the config refusals it adds."""

from __future__ import annotations

import json
import shutil

import pytest

from mlops_gitops.config.validate import PipelineConfig, Validator
from mlops_gitops.core.params.base import ParamContext
from mlops_gitops.core.render import render
from mlops_gitops.core.templates import PIPELINES_DIR, load_template
from mlops_gitops.repo import Repo
from tests.conftest import REPO_ROOT, TmpRepo, example
from tests.params_support import assert_fits, build_params, valid_config

TEMPLATE = "image_builder.yaml"
DECLARED = load_template(REPO_ROOT, TEMPLATE).parameters
REPO = Repo(REPO_ROOT)
VALIDATOR = Validator(REPO)
ENV = VALIDATOR.environments()
FRAUD_IMAGE, _ = VALIDATOR.check_config(REPO.configs_dir / "fraud-image" / "mlops-config.json", ENV)
assert FRAUD_IMAGE is not None
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:images"


def _build(cfg: PipelineConfig, stage: str) -> tuple[dict[str, str], ParamContext]:
    return build_params(TEMPLATE, cfg, stage, ENV)


def _config(tmp_repo: TmpRepo, config: dict) -> PipelineConfig:
    return valid_config(tmp_repo, "scorer-image", config, ENV)


def _fits(params: dict[str, str]) -> None:
    assert_fits(DECLARED, params)


@pytest.mark.parametrize("stage", FRAUD_IMAGE.stages)
def test_every_stage_of_the_example_fits_the_template(stage: str) -> None:
    params, ctx = _build(FRAUD_IMAGE, stage)
    assert ctx.findings == []
    _fits(params)


@pytest.mark.parametrize("stage", FRAUD_IMAGE.stages)
def test_example_values_reach_the_parameters(stage: str) -> None:
    params, _ = _build(FRAUD_IMAGE, stage)
    assert params == {
        "NamePrefix": f"mlops-fraud-image-{stage}",
        "CustomAlgorithmDocker": "s3://mlops-demo-assets/images/fraud-scorer-2.3.0.zip",
        "EcrRepoName": "fraud-scorer",
        "ImageTag": "2.3.0",
        "ScanOnPush": "true",
        "ImageTagMutability": "IMMUTABLE",
        "PullThroughCachePrefix": "",
        "KmsKeyArn": "",
        "NotificationTopicArn": "",
    }


def test_schema_defaults_and_assets_keys_fill_a_minimal_config(tmp_repo: TmpRepo) -> None:
    cfg = _config(
        tmp_repo,
        {
            "pipeline_type": "byom_image_builder",
            "custom_algorithm_docker": "images/scorer.zip",
            "ecr_repo_name": "team/scorer",
            "image_tag": "v1",
            "scan_on_push": False,
            "image_tag_mutability": "MUTABLE",
            "kms_key_arn": {"dev": KEY_ARN},
            "notify": [TOPIC_ARN],
            "stages": ["dev"],  # one account holds the repository
        },
    )
    params, ctx = _build(cfg, "dev")
    assert ctx.findings == []
    assert params == {
        "NamePrefix": "mlops-scorer-image-dev",
        # an MWO-style assets key resolves against environments.json's assets_bucket
        "CustomAlgorithmDocker": "s3://mlops-demo-assets/images/scorer.zip",
        "EcrRepoName": "team/scorer",
        "ImageTag": "v1",
        "ScanOnPush": "false",
        "ImageTagMutability": "MUTABLE",
        "PullThroughCachePrefix": "",
        "KmsKeyArn": KEY_ARN,
        "NotificationTopicArn": TOPIC_ARN,
    }
    _fits(params)


@pytest.mark.parametrize(
    "change, code, message",
    [
        (
            {"image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION"},
            "tag-mutability",
            "needs exclusion filters",
        ),
        (
            {"kms_key_arn": "arn:aws:kms:us-east-1:111122223333:alias/images"},
            "kms-alias",
            "needs a KMS key ARN, not an alias",
        ),
    ],
)
def test_what_the_builder_refuses(tmp_repo: TmpRepo, change: dict, code: str, message: str) -> None:
    cfg = _config(tmp_repo, {**example("fraud-image"), **change})
    _, ctx = _build(cfg, "dev")
    assert [f.code for f in ctx.findings] == [code]
    assert message in ctx.findings[0].message


def test_validate_refuses_a_bundle_that_is_not_a_zip(tmp_repo: TmpRepo) -> None:
    """The builder's own check (bundle-zip) stays as a guard; validate refuses it first, at the key."""
    from tests.conftest import validate_findings

    config = {**example("fraud-image"), "custom_algorithm_docker": "s3://mlops-demo-assets/images/scorer/"}
    findings = validate_findings(tmp_repo, config, "fraud-image")
    assert [(f["path"], f["code"]) for f in findings if f["severity"] == "error"] == [
        ("$.custom_algorithm_docker", "file-type")
    ]


def test_renders_once_the_type_is_mapped(tmp_repo: TmpRepo) -> None:
    """With byom_image_builder mapped to the template, as the lead will, render gives the spec."""
    target = tmp_repo.root / PIPELINES_DIR
    shutil.copytree(REPO_ROOT / PIPELINES_DIR, target)
    mapping = json.loads((target / "pipeline-types.json").read_text())
    mapping["pending"].pop("byom_image_builder", None)
    mapping["templates"][TEMPLATE] = ["byom_image_builder"]
    (target / "pipeline-types.json").write_text(json.dumps(mapping))
    cfg = _config(tmp_repo, example("fraud-image"))
    spec = render(tmp_repo.root, cfg, "dev", ENV, commit="0" * 40)
    assert spec.parameters["EcrRepoName"] == "fraud-scorer"
    assert spec.parameters["CustomAlgorithmDocker"] == "s3://mlops-demo-assets/images/fraud-scorer-2.3.0.zip"
    assert spec.artifacts == []


def test_a_pull_through_cache_prefix_reaches_the_build(tmp_repo: TmpRepo) -> None:
    """Issue 15 part 5d: Docker Hub base images through the account's ECR pull-through cache."""
    config = {k: v for k, v in example("fraud-image").items() if k != "$schema"}
    params, ctx = _build(_config(tmp_repo, {**config, "pull_through_cache_prefix": "docker-hub"}), "dev")
    assert ctx.findings == []
    _fits(params)
    assert params["PullThroughCachePrefix"] == "docker-hub"
