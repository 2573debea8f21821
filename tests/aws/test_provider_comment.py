"""pr-check on a connection's pull request (issue 19 part 2): the comment goes to the provider's
API (a fake GitHub on 127.0.0.1, tests/fake_provider.py) with the token read from Secrets Manager
(moto); without a token the check still runs and says the comment was not posted."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_gitops.ops.review import MARKER
from tests.conftest import TmpRepo, example, git_repo, run_cli
from tests.fake_provider import fake_provider

SECRET = "mlops/github-token"


def invalid_pull_request(tmp_repo: TmpRepo) -> Path:
    """A repository whose checkout has one invalid config: the check's verdict needs no plan."""
    tmp_repo.write("churn", example("churn-batch"))
    root = tmp_repo.root
    git_repo(root, "base")
    bad = example("churn-batch")
    bad["inference_instance"] = "ml.m5.hugeee"
    tmp_repo.write("churn", bad)
    return root


def pr_check(root: Path, endpoint: str, url: str, *extra: str):
    return run_cli(
        "--repo-root",
        str(root),
        "pr-check",
        "--base",
        "main",
        "--endpoint-url",
        endpoint,
        "--provider-pull-request",
        "12",
        "--provider-repository",
        "org/ml-configs",
        "--provider-api-url",
        url,
        *extra,
    )


def test_the_check_comments_on_the_github_pull_request_with_the_token_from_secrets_manager(
    tmp_repo: TmpRepo, moto_endpoint: str, aws
) -> None:
    root = invalid_pull_request(tmp_repo)
    with fake_provider() as fake:
        aws("secretsmanager").create_secret(Name=SECRET, SecretString=json.dumps({"token": fake.token}))
        first = pr_check(root, moto_endpoint, fake.url, "--provider-token-secret", SECRET)
        again = pr_check(
            root, moto_endpoint, fake.url, "--provider-token-secret", SECRET, "--provider", "GitHub"
        )
    assert first.code == 1 and again.code == 1, first.err  # the verdict is the exit code (commit status)
    assert "pr-check: pull request 12: comment posted 101" in first.err
    assert "pr-check: pull request 12: comment updated 101" in again.err
    (comment,) = fake.comments["12"]
    assert comment["body"].startswith(MARKER) and "ml.m5.hugeee" in comment["body"]
    assert comment["body"] == first.out  # the same report the log shows
    assert fake.token not in first.out + first.err + again.out + again.err


def test_without_a_token_the_check_runs_and_says_the_comment_was_not_posted(
    tmp_repo: TmpRepo, moto_endpoint: str, aws
) -> None:
    root = invalid_pull_request(tmp_repo)
    with fake_provider() as fake:
        no_name = pr_check(root, moto_endpoint, fake.url)
        missing = pr_check(root, moto_endpoint, fake.url, "--provider-token-secret", SECRET)
        aws("secretsmanager").create_secret(Name=SECRET, SecretString="not-the-token")
        refused = pr_check(root, moto_endpoint, fake.url, "--provider-token-secret", SECRET)
    for result in (no_name, missing, refused):
        assert result.code == 1 and "ml.m5.hugeee" in result.out, result.err  # the findings, not a failure
        assert "Traceback" not in result.err
    assert (
        "comment not posted: no token secret (environments.json orchestrator.provider_token_secret)"
        in no_name.err
    )
    assert f"comment not posted: the token secret {SECRET} does not exist or is empty" in missing.err
    assert "comment not posted: GitHub GET /repos/org/ml-configs/issues/12/comments: HTTP 401" in refused.err
    assert "not-the-token" not in refused.err
    assert fake.comments == {}
