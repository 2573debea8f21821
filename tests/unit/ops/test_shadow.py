"""promote --from-shadow (issue 18): the stage's shadow variant becomes its production model in one
commit, by targeted edits (the rest of the file keeps its bytes), and the stage's shadow_variant is
set to null so the file stays valid for the other stages. A shadow variant receives a copy of the
requests and its responses are only captured:
https://docs.aws.amazon.com/sagemaker/latest/dg/model-shadow-deployment.html

These tests work on config texts: shadow_variant joins the schema with the variant kinds of issue 18
(another branch), so the CLI's end-to-end run, which validates the promoted config, is tested once
both are merged; only its refusals that need no schema change are run here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops_gitops.errors import UsageError
from mlops_gitops.ops.promote import PromotionError, commit_on_branch
from mlops_gitops.ops.shadow import (
    ShadowPromotion,
    apply_edits,
    shadow_edits,
    stage_shadow,
)
from tests.conftest import EXAMPLES, TmpRepo, git_repo, run_cli

STAGES = ["dev", "staging", "prod"]
PATH = "pipeline-configs/fraud-ab/mlops-config.json"


def arn(version: int, group: str = "fraud-scorer") -> str:
    return f"arn:aws:sagemaker:us-east-1:111122223333:model-package/{group}/{version}"


SHADOW = (
    f'{{"model_package_name": "{arn(8)}", "inference_instance": "ml.c5.2xlarge", "sampling_percent": 50}}'
)
# a single-model pipeline (no production_variants): the stage's model_package_name decides
SINGLE = (
    "{\n"
    '  "pipeline_type": "byom_realtime_custom",\n'
    '  "model_package_name": {\n'
    '    "dev": "fraud-scorer",\n'
    f'    "staging": "{arn(7)}",\n'
    f'    "prod": "{arn(6)}"\n'
    "  },\n"
    '  "inference_instance": "ml.c5.xlarge",\n'
    f'  "shadow_variant": {{"dev": null, "staging": null, "prod": {SHADOW}}}\n'
    "}\n"
)


def edited(text: str, stage: str = "prod", variant: str | None = None) -> tuple[str, ShadowPromotion]:
    data = json.loads(text)
    edits, where = shadow_edits(data, stage, STAGES, variant)
    promotion = ShadowPromotion(
        "fraud-ab", stage, PATH, stage_shadow(data, stage) or {}, edits, where, "main"
    )
    return apply_edits(text, edits), promotion


def test_the_shadow_becomes_the_stage_pin_and_stops_being_a_shadow_there() -> None:
    new, promotion = edited(SINGLE)
    assert json.loads(new) == {
        "pipeline_type": "byom_realtime_custom",
        "model_package_name": {"dev": "fraud-scorer", "staging": arn(7), "prod": arn(8)},
        # the shadow's instance type, for prod alone: the single value becomes per-stage
        "inference_instance": {"dev": "ml.c5.xlarge", "staging": "ml.c5.xlarge", "prod": "ml.c5.2xlarge"},
        "shadow_variant": {"dev": None, "staging": None, "prod": None},
    }
    # targeted: the pin's own line changes, the layout of the rest stays
    assert f'    "prod": "{arn(8)}"\n' in new and '    "dev": "fraud-scorer",\n' in new
    assert promotion.where == "the stage's model"
    assert promotion.title() == "Promote fraud-ab's shadow in prod: fraud-scorer v8"


def test_one_commit_on_a_new_branch_with_the_edits_in_its_message(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("fraud-ab", SINGLE)
    root = git_repo(tmp_repo.root, "base")
    new, promotion = edited(SINGLE)
    base = git(root, "rev-parse", "HEAD")
    commit = commit_on_branch(
        root, base, PATH, new, "100644", promotion.default_branch(), promotion.message()
    )
    assert promotion.default_branch() == "promote/fraud-ab-prod-shadow-fraud-scorer-v8"
    assert git(root, "rev-list", "--count", f"{base}..{commit}") == "1"
    assert git(root, "show", f"{commit}:{PATH}") == new.rstrip("\n")
    message = git(root, "log", "-1", "--format=%B", commit)
    assert message.splitlines() == [
        "Promote fraud-ab's shadow in prod: fraud-scorer v8",
        "",
        f"{PATH}: the shadow variant of prod becomes the stage's model",
        "  fraud-scorer v8",
        "and stops being a shadow there. Edits:",
        f'  $.model_package_name.prod = "{arn(8)}"',
        '  $.inference_instance = {"dev": "ml.c5.xlarge", "staging": "ml.c5.xlarge", "prod": "ml.c5.2xlarge"}',
        "  $.shadow_variant.prod = null",
        "",
        "Rollback: git revert this commit (the previous model and the shadow come back)",
        "",
        "Made by mlopsctl promote --from-shadow.",
    ]
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # the checkout is untouched


def test_one_shadow_for_every_stage_is_switched_off_in_the_promoted_stage_only() -> None:
    text = SINGLE.replace(f'{{"dev": null, "staging": null, "prod": {SHADOW}}}', SHADOW)
    new, _ = edited(text, "staging")
    shadow = json.loads(SHADOW)
    data = json.loads(new)
    assert data["shadow_variant"] == {"dev": shadow, "staging": None, "prod": shadow}
    assert data["model_package_name"]["staging"] == arn(8)


def test_several_production_variants_need_the_one_the_shadow_replaces() -> None:
    fraud = json.loads(EXAMPLES["fraud-ab"].read_text())
    fraud["shadow_variant"] = {"dev": None, "staging": None, "prod": json.loads(SHADOW)}
    text = json.dumps(fraud, indent=2)
    with pytest.raises(
        PromotionError, match=r"2 production variants \(current, challenger\); say which one .* --variant"
    ):
        edited(text)
    with pytest.raises(UsageError, match="no variant 'nope'"):
        edited(text, variant="nope")
    new, promotion = edited(text, variant="challenger")
    variants = json.loads(new)["production_variants"]["prod"]
    assert variants[1] == {
        "name": "challenger",
        "weight": 0.1,  # kept
        "model_package_name": arn(8),
        "inference_instance": "ml.c5.2xlarge",
    }
    assert variants[0] == fraud["production_variants"]["prod"][0]
    assert json.loads(new)["model_package_name"] == fraud["model_package_name"]  # the pipeline's own: kept
    assert promotion.where == "production variant 'challenger'"


def test_a_single_variant_with_its_own_model_takes_the_shadow_itself() -> None:
    data = {
        "model_package_name": {"dev": "g", "staging": arn(7), "prod": arn(6)},
        "production_variants": {
            "dev": [{"name": "a"}],
            "staging": [{"name": "a"}],
            "prod": [{"name": "a", "model_artifact_location": "s3://b/old.tar.gz"}],
        },
        "shadow_variant": {
            "dev": None,
            "staging": None,
            "prod": {"model_artifact_location": "s3://b/new.tar.gz", "instance_count": 3},
        },
    }
    new, _ = edited(json.dumps(data))
    assert json.loads(new)["production_variants"]["prod"] == [
        {"name": "a", "model_artifact_location": "s3://b/new.tar.gz", "instance_count": 3}
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"model_package_name": arn(6)}, "'prod' has no shadow_variant to promote"),
        (
            {"model_package_name": arn(6), "shadow_variant": {"dev": None, "staging": None, "prod": None}},
            "no shadow_variant",
        ),
        ({"model_package_name": arn(6), "shadow_variant": {"sampling_percent": 10}}, "names no model"),
        (
            {
                "model_artifact_location": "s3://b/m.tar.gz",
                "shadow_variant": {"model_artifact_location": "s3://b/n.tar.gz"},
            },
            "model_artifact_location is shared by every stage",
        ),
        (
            {"model_artifact_location": "s3://b/m.tar.gz", "shadow_variant": {"model_package_name": arn(8)}},
            "serves model_artifact_location, not a Model Registry package",
        ),
    ],
)
def test_what_can_not_be_promoted_is_refused_with_what_to_do(data: dict, message: str) -> None:
    with pytest.raises(PromotionError, match=message):
        shadow_edits(data, "prod", STAGES)


def test_the_cli_refuses_a_stage_without_a_shadow(tmp_repo: TmpRepo) -> None:
    tmp_repo.write("fraud-ab", EXAMPLES["fraud-ab"].read_text())
    root = git_repo(tmp_repo.root, "base")
    result = run_cli(
        "--repo-root", str(root), "promote", "fraud-ab", "--from-shadow", "--stage", "prod", "--local"
    )
    assert result.code == 1, result.out + result.err
    assert "'prod' has no shadow_variant to promote; nothing was changed" in result.err
    assert git(root, "branch", "--list", "promote/*") == ""


def git(root: Path, *argv: str) -> str:
    return subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def test_the_cli_makes_the_branch_locally(tmp_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's wiring, with the promoted config's validation skipped: the schema learns
    shadow_variant on the variant-kinds branch (after the merge this runs unpatched)."""
    import mlops_gitops.cli.promote as cli_promote

    fraud = json.loads(EXAMPLES["fraud-ab"].read_text())
    fraud["shadow_variant"] = {"dev": {"model_package_name": "fraud-scorer-b"}, "staging": None, "prod": None}
    tmp_repo.write("fraud-ab", json.dumps(fraud, indent=2) + "\n")
    root = git_repo(tmp_repo.root, "base")
    checked: list[str] = []
    monkeypatch.setattr(cli_promote, "_check_config", lambda repo, env, pid, text, err: checked.append(text))
    result = run_cli(
        "--repo-root", str(root), "promote", "fraud-ab", "--from-shadow", "--stage", "dev", "--local"
    )
    assert result.code == 0, result.out + result.err
    assert (
        "promote fraud-ab in dev: shadow latest approved of fraud-scorer-b becomes the stage's model"
        in result.out
    )
    assert "created branch promote/fraud-ab-dev-shadow" in result.out
    promoted = json.loads(git(root, "show", f"promote/fraud-ab-dev-shadow:{PATH}"))
    assert promoted["model_package_name"]["dev"] == "fraud-scorer-b"
    assert promoted["shadow_variant"] == {"dev": None, "staging": None, "prod": None}
    assert checked and json.loads(checked[0]) == promoted  # what is committed is what was checked
    assert git(root, "status", "--porcelain") == ""
