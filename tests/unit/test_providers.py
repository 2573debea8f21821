"""The providers' REST clients (mlops_gitops/providers.py) against a fake API on 127.0.0.1
(tests/fake_provider.py): one comment kept up to date per pull request, the token only in its
header. GitHub https://docs.github.com/en/rest/issues/comments, GitLab
https://docs.gitlab.com/ee/api/notes.html#merge-requests, Bitbucket
https://developer.atlassian.com/cloud/bitbucket/rest/api-group-pullrequests/"""

from __future__ import annotations

import pytest

from mlops_gitops.providers import ProviderAPI, ProviderError
from tests.fake_provider import fake_provider

MARKER = "<!-- mlops-gitops:pr-check -->"


def test_github_posts_the_comment_once_then_edits_it() -> None:
    with fake_provider() as fake:
        api = ProviderAPI("github", "org/ml-configs", fake.token, fake.url)
        fake.comments["7"] = [{"id": 5, "body": "LGTM from a person"}]
        first = api.upsert_comment("7", f"{MARKER}\nplan v1", MARKER)
        second = api.upsert_comment("7", f"{MARKER}\nplan v2", MARKER)
    assert first == "posted 101" and second == "updated 101"
    assert [c["body"] for c in fake.comments["7"]] == ["LGTM from a person", f"{MARKER}\nplan v2"]
    calls = [(r["method"], r["path"]) for r in fake.requests]
    assert calls == [
        ("GET", "/repos/org/ml-configs/issues/7/comments"),
        ("POST", "/repos/org/ml-configs/issues/7/comments"),
        ("GET", "/repos/org/ml-configs/issues/7/comments"),
        ("PATCH", "/repos/org/ml-configs/issues/comments/101"),
    ]
    headers = fake.requests[1]["headers"]
    assert headers["Authorization"] == f"Bearer {fake.token}"
    assert headers["Accept"] == "application/vnd.github+json"


def test_gitlab_keeps_one_merge_request_note() -> None:
    with fake_provider() as fake:
        api = ProviderAPI("gitlab", "group/sub/ml-configs", fake.token, fake.url)
        assert api.upsert_comment("3", f"{MARKER}\nv1", MARKER) == "posted 101"
        assert api.upsert_comment("3", f"{MARKER}\nv2", MARKER) == "updated 101"
    paths = [(r["method"], r["path"]) for r in fake.requests]
    assert paths[1] == ("POST", "/projects/group%2Fsub%2Fml-configs/merge_requests/3/notes")
    assert paths[3] == ("PUT", "/projects/group%2Fsub%2Fml-configs/merge_requests/3/notes/101")
    assert fake.requests[1]["headers"]["Private-Token"] == fake.token
    assert fake.comments["3"][0]["body"] == f"{MARKER}\nv2"


def test_bitbucket_keeps_one_pull_request_comment() -> None:
    with fake_provider() as fake:
        api = ProviderAPI("bitbucket", "team/ml-configs", fake.token, fake.url)
        assert api.upsert_comment("9", f"{MARKER}\nv1", MARKER) == "posted 101"
        assert api.upsert_comment("9", f"{MARKER}\nv2", MARKER) == "updated 101"
    assert fake.requests[1]["body"] == {"content": {"raw": f"{MARKER}\nv1"}}
    assert (fake.requests[3]["method"], fake.requests[3]["path"]) == (
        "PUT",
        "/repositories/team/ml-configs/pullrequests/9/comments/101",
    )


@pytest.mark.parametrize("status", [401, 403, 404, 500])
def test_a_refusal_is_a_provider_error_that_never_shows_the_token(status) -> None:
    with fake_provider(status=status) as fake:
        api = ProviderAPI("github", "org/ml-configs", fake.token, fake.url)
        with pytest.raises(ProviderError) as caught:
            api.upsert_comment("7", "body", MARKER)
    message = str(caught.value)
    assert f"HTTP {status}" in message and "GitHub GET /repos/org/ml-configs/issues/7/comments" in message
    assert fake.token not in message and fake.token not in repr(api)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unreachable_provider_is_a_provider_error() -> None:
    api = ProviderAPI("github", "org/ml-configs", "tok", "http://127.0.0.1:9")
    with pytest.raises(ProviderError, match="GitHub GET"):
        api.upsert_comment("7", "body", MARKER)
