"""The tags a config puts on its stacks: CloudFormation propagates stack tags to the resources it
creates, so the values must suit every service the stacks tag, and their count the stack's limit.

- CloudFormation Tag values are 1 to 256 characters:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Tag.html
- IAM (roles) and SageMaker tag values match ^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$:
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html
- a stack takes at most 50 tags:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import render
from mlops_gitops.core.templates import template_name
from mlops_gitops.repo import Repo
from tests.conftest import CONFIGS, REPO_ROOT, repo_copy, run_cli

STACK_TAGS_MAX = 50
# IAM's \p{L}\p{Z}\p{N}_.:/=+\-@, checked by config/rules/semantic.tag_characters (a schema pattern
# can't say \p{L}): letters of any alphabet pass, symbols such as # , & and the euro sign do not.
IAM_TAG_VALUE_CHARS = "letters, digits, spaces and _ . : / = + - @"
SCHEMA = json.loads((CONFIGS / "mlops-config.schema.json").read_text(encoding="utf-8"))


def _validate(tmp_path, **changes) -> tuple[int, list[dict]]:
    repo = repo_copy(tmp_path / "repo", ("churn-realtime",))
    path = repo / "pipeline-configs" / "churn-realtime" / "mlops-config.json"
    config = {**json.loads(path.read_text(encoding="utf-8")), **changes}
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    result = run_cli("--repo-root", str(repo), "validate", "--format", "json")
    return result.code, result.json["findings"]


def test_an_empty_tag_value_is_refused(tmp_path) -> None:
    code, findings = _validate(tmp_path, tags={"team": ""})
    assert code == 1
    (finding,) = findings
    assert finding["file"] == "pipeline-configs/churn-realtime/mlops-config.json"
    assert finding["path"] == "$.tags.team"
    assert "at least 1" in finding["hint"]


@pytest.mark.parametrize(
    "changes, path",
    [
        ({"owner": "Retention team #2"}, "$.owner"),
        ({"owner": "retention, ops"}, "$.owner"),
        ({"owner": "<ml@example.com>"}, "$.owner"),
        ({"tags": {"team": "a&b"}}, "$.tags.team"),
        ({"tags": {"team": "données €"}}, "$.tags.team"),
        ({"tags": {"cost#center": "x"}}, "$.tags['cost#center']"),
    ],
)
def test_an_owner_or_tag_value_iam_and_sagemaker_refuse_is_refused(tmp_path, changes, path) -> None:
    """The owner is a stack tag, propagated to the stack's IAM roles and SageMaker resources."""
    code, findings = _validate(tmp_path, **changes)
    assert code == 1
    (finding,) = findings
    assert finding["path"] == path
    assert IAM_TAG_VALUE_CHARS in finding["hint"]


@pytest.mark.parametrize(
    "owner",
    [
        "ml-platform@example.com",
        "Retention team 2",
        "team:ml/churn+ops=a_b",
        "José Müller",
        "Équipe données 2",
    ],
)
def test_owners_iam_takes_are_accepted(tmp_path, owner) -> None:
    code, findings = _validate(tmp_path, owner=owner)
    assert (code, findings) == (0, [])


def test_the_tag_limit_is_fifty_minus_what_mlopsctl_adds() -> None:
    """Every example (every pipeline type with a template), in every stage, with an owner and the
    most user tags the schema allows: render's stack tags are at most 50, and the schema allows
    exactly as many user tags as leave room for the tags mlopsctl adds."""
    most = SCHEMA["properties"]["tags"]["maxProperties"]
    user_tags = {f"k{i}": "v" for i in range(most)}
    repo = Repo(REPO_ROOT)
    validator = Validator(repo)
    env = validator.environments()
    added, types = set(), set()
    for path in repo.config_files():
        cfg, _ = validator.check_config(path, env)
        if template_name(REPO_ROOT, cfg.pipeline_type) is None:
            continue
        types.add(cfg.pipeline_type)
        cfg = replace(cfg, data={**cfg.data, "owner": "o", "tags": user_tags})
        for stage in cfg.stages:
            tags = render(REPO_ROOT, cfg, stage, env, commit="0" * 40).tags
            assert len(tags) <= STACK_TAGS_MAX, (cfg.pipeline_id, stage, len(tags))
            added.add(len(tags) - most)
    assert len(types) >= 10 and max(added) == STACK_TAGS_MAX - most, (added, most)


def test_the_most_tags_validate_and_one_more_is_refused(tmp_path) -> None:
    most = SCHEMA["properties"]["tags"]["maxProperties"]
    assert _validate(tmp_path / "a", tags={f"k{i}": "v" for i in range(most)}) == (0, [])
    code, findings = _validate(tmp_path / "b", tags={f"k{i}": "v" for i in range(most + 1)})
    assert code == 1 and [f["path"] for f in findings] == ["$.tags"]
