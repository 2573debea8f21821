"""Pipeline ids that bootstrap's guards reserve (names.RESERVED_ID_WORDS) stay in step with the
templates: every `<prefix>-<word>-*` wildcard that target-account.yaml's Deny statements name is a
reserved first word, so a pipeline whose resources would fall under one is a validate finding
rather than an AccessDenied in a real account (moto does not enforce the boundary)."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_no_unreserved_id_can_name_a_bootstrap_stack() -> None:
    """A pipeline's stack is <prefix>-<id>-<stage>; a bootstrap stack's name can only come out of an id
    that starts with a reserved word, so the reserved-id finding covers stack collisions too."""
    prefix = "mlops"
    for stack in names.bootstrap_stacks(prefix):
        rest = stack[len(prefix) + 1 :]
        for cut in [i for i, ch in enumerate(rest) if ch == "-"]:
            pipeline_id = rest[:cut]
            assert names.reserved_id_word(pipeline_id), (stack, pipeline_id)
