"""`mlopsctl history` (issue 19, part 5): config changes from git with the model each stage served,
and which commit each stage's stack records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops_gitops.aws.cloudformation import StackSnapshot
from mlops_gitops.config.validate import Validator
from mlops_gitops.ops.history import History, Live, config_history, live_commits, serving_changes
from mlops_gitops.repo import Repo
from mlops_gitops.report.history import history_json, history_markdown, history_text
from tests.conftest import CONFIGS, git_repo, repo_copy, run_cli

V6 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/6"
V7 = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scorer/7"


def commit(root: Path, message: str, author: str = "Ada <ada@example.com>") -> str:
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, capture_output=True)
    subprocess.run(
        ["git", "-C", str(root), "commit", "-qm", message, f"--author={author}"],
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_empty(root: Path, message: str) -> str:
    (root / "NOTES.md").write_text(message)
    return commit(root, message)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    root = git_repo(
        repo_copy(tmp_path / "repo", ("fraud-ab",), templates=False), "fraud-ab as in the examples"
    )
    path = root / "pipeline-configs" / "fraud-ab" / "mlops-config.json"
    data = json.loads((CONFIGS / "fraud-ab" / "mlops-config.json").read_text())
    commits = []
    for arn, who in ((V6, "Ada <ada@example.com>"), (V7, "Bo | Tables <bo@example.com>")):
        text = (
            json.dumps(data).replace(V6, arn).replace(V7, arn)
            if arn == V6
            else path.read_text().replace(V6, V7)
        )
        path.write_text(text)
        commits.append(commit(root, f"prod serves {arn.rsplit('/', 1)[1]}", who))
    return root, commits


def test_each_commit_shows_what_every_stage_served(repo) -> None:
    root, (first, second) = repo
    env = Validator(Repo(root)).environments()
    changes = config_history(Repo(root), "fraud-ab", env)
    assert [c.commit for c in changes[:2]] == [second, first]
    assert changes[0].models["prod"] == "fraud-scorer v7" and changes[1].models["prod"] == "fraud-scorer v6"
    assert changes[0].author == "Bo | Tables" and changes[0].subject == "prod serves 7"
    assert changes[0].models["dev"].endswith("(latest approved)") or changes[0].models["dev"].startswith(
        "fraud"
    )


class _Cfn:
    def __init__(self, stacks: dict[str, StackSnapshot | Exception]) -> None:
        self.stacks = stacks

    def snapshot(self, name: str):
        found = self.stacks.get(name)
        if isinstance(found, Exception):
            raise found
        return found


class _Gateways:
    def __init__(self, cfn: _Cfn) -> None:
        self.cfn = cfn


def _snap(name: str, commit: str) -> StackSnapshot:
    return StackSnapshot(name, "id", "UPDATE_COMPLETE", {"mlops:commit": commit}, {}, {}, False)


def test_live_commits_say_which_version_runs_where(repo) -> None:
    from botocore.exceptions import ClientError

    root, (first, second) = repo
    env = Validator(Repo(root)).environments()
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeStacks")
    cfn = _Cfn({"mlops-fraud-ab-prod": _snap("mlops-fraud-ab-prod", first), "mlops-fraud-ab-staging": denied})
    live = live_commits(lambda stage: _Gateways(cfn), env, "fraud-ab", ["dev", "staging", "prod"])
    assert [(item.stage, item.status) for item in live] == [
        ("dev", "not deployed"),
        ("staging", "unreadable (AccessDenied: no)"),
        ("prod", "UPDATE_COMPLETE"),
    ]
    changes = config_history(Repo(root), "fraud-ab", env)
    history = History("fraud-ab", changes, live, serving_changes(Repo(root), changes, live))
    assert history.live_in(first) == ["prod"] and history.live_in(second) == []
    # a stack deployed from a later commit that did not touch the config runs the last change's config
    later = commit_empty(root, "docs only")
    live_later = [Live("prod", "mlops-fraud-ab-prod", "UPDATE_COMPLETE", later)]
    assert serving_changes(Repo(root), changes, live_later) == {"prod": second}
    text = history_text(history)
    assert f"{first[:12]}" in text and "prod: mlops-fraud-ab-prod UPDATE_COMPLETE, commit" in text
    assert json.loads(history_json(history))["live"][2]["commit"] == first
    markdown = history_markdown(history)
    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert len(rows) == len(history.changes)
    assert all(row.count(" | ") == rows[0].count(" | ") for row in rows), "the author's | is escaped"
    assert "Bo \\| Tables" in markdown


def test_the_cli_offline_and_for_an_unknown_pipeline(repo) -> None:
    root, (first, second) = repo
    result = run_cli("--repo-root", str(root), "history", "fraud-ab", "--offline", "--limit", "1")
    assert result.code == 0, result.err
    assert second[:12] in result.out and first[:12] not in result.out
    unknown = run_cli("--repo-root", str(root), "history", "nope", "--offline")
    assert unknown.code == 2 and "no commit of pipeline-configs/nope/mlops-config.json" in unknown.err
