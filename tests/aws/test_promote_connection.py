"""promote when the configs live on GitHub/GitLab/Bitbucket through a connection (issue 19 part 2):
with a token in Secrets Manager (moto) the branch, the one-file commit and the pull request are made
through GitHub's API (a fake on 127.0.0.1, tests/fake_provider.py: git refs, contents and pulls,
https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents); without one, or on
GitLab/Bitbucket, the branch is made locally and the exact push command and the provider's
new-pull-request link are printed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.aws.conftest import orchestrator_basics
from tests.aws.test_promote import CONFIG, arn, git, mlopsctl, register
from tests.conftest import git_repo, repo_copy
from tests.fake_provider import fake_provider

SECRET = "mlops/github-token"
REL = "pipeline-configs/scorer/mlops-config.json"
BASE = "c" * 40


@pytest.fixture
def connected_repo(tmp_path: Path, aws):
    def make(provider: str = "github", secret: str | None = SECRET) -> Path:
        root = repo_copy(tmp_path / f"repo-{provider}-{secret is not None}", ())
        envs = root / "pipeline-configs" / "environments.json"
        env = json.loads(envs.read_text())
        env["orchestrator"] = {
            **env.get("orchestrator", {}),
            "source": "connection",
            "connection_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d",
            "full_repository_id": "org/ml-configs",
            "provider": provider,
            **({"provider_token_secret": secret} if secret else {}),
        }
        envs.write_text(json.dumps(env, indent=2) + "\n")
        (root / "pipeline-configs" / "scorer").mkdir()
        (root / "pipeline-configs" / "scorer" / "mlops-config.json").write_text(CONFIG)
        git_repo(root, "scorer pinned to v1")
        subprocess.run(
            ["git", "remote", "add", "gh", "https://github.com/org/ml-configs.git"], cwd=root, check=True
        )
        return root

    orchestrator_basics(aws, "mlops-artifacts-test", upload_lambdas=False)
    register(aws, [(0.71, "Approved"), (0.74, "Approved")])
    return make


def test_promote_opens_the_pull_request_through_githubs_api(connected_repo, moto_endpoint: str, aws) -> None:
    root = connected_repo()
    with fake_provider() as fake:
        fake.files[(BASE, REL)] = CONFIG  # main on GitHub: the same config
        aws("secretsmanager").create_secret(Name=SECRET, SecretString=fake.token)
        result = mlopsctl(
            root,
            moto_endpoint,
            "promote",
            "scorer",
            "--to",
            "prod",
            "--model-package-arn",
            arn(2),
            "--provider-api-url",
            fake.url,
        )
    assert result.code == 0, result.out + result.err
    branch = "promote/scorer-prod-scorer-v2"
    (pull,) = fake.pulls
    assert (pull["head"], pull["base"], pull["number"]) == (branch, "main", 1)
    assert pull["title"] == "Promote scorer to prod: scorer v1 → v2"
    assert "opened pull request 1 in org/ml-configs" in result.out
    assert "https://github.com/org/ml-configs/pull/1" in result.out
    # the branch starts at main's tip and its one commit changes the pin alone
    create = next(r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("/git/refs"))
    assert create["body"] == {"ref": f"refs/heads/{branch}", "sha": BASE}
    new = fake.files[(fake.refs[f"heads/{branch}"], REL)]
    changed = [(a, b) for a, b in zip(CONFIG.splitlines(), new.splitlines(), strict=True) if a != b]
    (before, after), *more = changed
    assert not more and after == before.replace(f'"prod": "{arn(1)}"', f'"prod": "{arn(2)}"') != before
    put = next(r for r in fake.requests if r["method"] == "PUT")
    assert put["body"]["message"].startswith("Promote scorer to prod: scorer v1 → v2\n")
    assert fake.token not in result.out + result.err
    # the local checkout is untouched: no branch made here
    assert git(root, "branch", "--list", branch) == ""


@pytest.mark.parametrize(
    ("provider", "secret", "note", "link"),
    [
        (
            "github",
            None,
            "no provider token (orchestrator.provider_token_secret); working locally",
            "https://github.com/org/ml-configs/compare/main...promote/scorer-prod-scorer-v2?expand=1",
        ),
        (
            "github",
            "mlops/absent",
            "the token secret mlops/absent does not exist or is empty; working locally",
            "https://github.com/org/ml-configs/compare/main...promote/scorer-prod-scorer-v2?expand=1",
        ),
        (
            "gitlab",
            SECRET,
            "opening pull requests through GitLab's API is not implemented",
            "https://gitlab.com/org/ml-configs/-/merge_requests/new?merge_request[source_branch]="
            "promote%2Fscorer-prod-scorer-v2&merge_request[target_branch]=main",
        ),
        (
            "bitbucket",
            None,
            "opening pull requests through Bitbucket's API is not implemented",
            "https://bitbucket.org/org/ml-configs/pull-requests/new?source=promote%2Fscorer-prod-scorer-v2&dest=main",
        ),
    ],
)
def test_without_the_api_promote_makes_the_branch_and_prints_the_push_and_the_link(
    connected_repo, moto_endpoint: str, aws, provider, secret, note, link
) -> None:
    root = connected_repo(provider, secret)
    result = mlopsctl(root, moto_endpoint, "promote", "scorer", "--to", "prod", "--model-package-arn", arn(2))
    assert result.code == 0, result.out + result.err
    assert note in result.err
    branch = "promote/scorer-prod-scorer-v2"
    assert f"  3. push it:           git push gh {branch}\n" in result.out  # the remote of org/ml-configs
    assert f"  4. open the pull request: {link}\n" in result.out
    assert git(root, "rev-list", "--count", f"main..{branch}").strip() == "1"
