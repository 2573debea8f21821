"""Pipeline ids that bootstrap's guards reserve (names.RESERVED_ID_WORDS) stay in step with the
templates: every `<prefix>-<word>-*` wildcard that target-account.yaml's Deny statements name is a
reserved first word, so a pipeline whose resources would fall under one is a validate finding
rather than an AccessDenied in a real account (moto does not enforce the boundary)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_gitops import names

ROOT = Path(__file__).resolve().parents[2]


def _denied_wildcards() -> set[str]:
    text = (ROOT / "cloudformation" / "target-account.yaml").read_text()
    return set(re.findall(r"\$\{StackPrefix\}-([a-z]+)-\*", text))


def test_every_denied_wildcard_is_a_reserved_first_word() -> None:
    wildcards = _denied_wildcards()
    assert wildcards, "the pattern no longer finds the guards' wildcards"
    assert wildcards <= set(names.RESERVED_ID_WORDS)


def test_reserved_words_match_whole_words_only() -> None:
    assert names.reserved_id_word("deploy") == "deploy"
    assert names.reserved_id_word("deploy-churn") == "deploy"
    assert names.reserved_id_word("deployment-churn") is None
    assert names.reserved_id_word("churn-deploy") is None
    assert names.reserved_id_word("cfn-x") == "cfn"


@pytest.mark.parametrize("stack", names.bootstrap_stacks("mlops"))
def test_no_pipeline_can_name_a_bootstrap_stack(stack: str, tmp_path) -> None:
    """A pipeline's stack is <prefix>-<id>-<stage>: every (id, stage) split of a bootstrap stack's name
    is refused by validate, through the reserved first word or the stack-name check."""
    from tests.conftest import TmpRepo, example, validate_findings

    rest = stack[len("mlops") + 1 :]
    for cut in [i for i, ch in enumerate(rest) if ch == "-"]:
        pipeline_id, stage = rest[:cut], rest[cut + 1 :]
        repo = TmpRepo(tmp_path / f"{pipeline_id}-{stage}")
        repo.write_environments(
            {"stack_prefix": "mlops", "region": "us-east-1", "stages": [{"name": stage}, {"name": "prod"}]}
        )
        config = example("churn-batch")
        config["batch_inference_data"] = "s3://mlops-demo-data/churn/batch/input.csv"
        codes = {f["code"] for f in validate_findings(repo, config, pipeline_id) if f["severity"] == "error"}
        assert codes & {"name-reserved", "name-collision"}, (stack, pipeline_id, stage)
