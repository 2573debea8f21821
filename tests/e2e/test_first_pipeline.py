"""The README's "Your first pipeline", step by step, as a newcomer runs it (issue 16): copy an
example into a new folder, edit it, validate and render it, commit, keep a local AWS running
(`local up`, demo registry data seeded by default), `local init`, then two pushes in a row to that
one local AWS, both green through dev, staging and prod, and the stacks visible to an AWS client.
If the README's commands change, change this test with them."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_gitops.cli import main
from tests.conftest import REPO_ROOT
from tests.e2e.test_local_run import local_client, mlopsctl, pipeline_repo

NEW = "my-first-model"
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def git(repo: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """This repository with one example (churn-realtime) and the templates it needs."""
    return pipeline_repo(tmp_path / "repo", ("churn-realtime",), "realtime_inference.yaml", "the example")


def test_the_readme_steps_are_the_ones_this_test_runs() -> None:
    for command in (
        f"cp -r pipeline-configs/churn-realtime pipeline-configs/{NEW}",
        f"mlopsctl validate pipeline-configs/{NEW}",
        f"mlopsctl render {NEW} --stage dev",
        "mlopsctl local up",
        "mlopsctl local init",
        "git push local HEAD:main",
        "source .venv/bin/activate",
    ):
        assert command in README, f"README.md no longer says {command!r}: update this test with it"


def test_a_new_pipeline_goes_green_on_two_pushes_to_one_local_aws(repo: Path) -> None:
    # 1. copy an example; 2. edit it
    shutil.copytree(repo / "pipeline-configs" / "churn-realtime", repo / "pipeline-configs" / NEW)
    path = repo / "pipeline-configs" / NEW / "mlops-config.json"
    config = json.loads(path.read_text())
    config.update(model_name="my-model", description="My first model.", owner="me@example.com")
    path.write_text(json.dumps(config, indent=2) + "\n")
    # 3. check it and look at its stack
    code, out, err = mlopsctl(repo, "validate", str(path.parent))
    assert code == 0, out + err
    code, out, err = mlopsctl(repo, "render", NEW, "--stage", "dev")
    assert code == 0 and json.loads(out)["stack_name"] == f"mlops-{NEW}-dev", err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "my first model")
    # 4. a local AWS that stays up, and the local remote
    code, out, err = mlopsctl(repo, "local", "up")
    assert code == 0, out + err
    state = json.loads((repo / ".mlops-local" / "server.json").read_text())
    try:
        code, out, err = mlopsctl(repo, "local", "init")
        assert code == 0, out + err
        first = git(repo, "push", "local", "HEAD:main")
        assert "pipeline mlops-pipeline: Succeeded" in first.stderr, first.stderr[-4000:]
        assert f"using the one `local up` started on {state['endpoint']}" in first.stderr
        # a change, pushed to the same local AWS
        config["instance_count"] = {"dev": 1, "staging": 1, "prod": 3}
        path.write_text(json.dumps(config, indent=2) + "\n")
        git(repo, "commit", "-qam", "three instances in prod")
        second = git(repo, "push", "local", "HEAD:main")
        assert "pipeline mlops-pipeline: Succeeded" in second.stderr, second.stderr[-4000:]
        assert f"using the one `local up` started on {state['endpoint']}" in second.stderr
        assert "does not answer any more" not in first.stderr + second.stderr
        # an AWS client sees the stacks, in every stage
        cfn = local_client(state, "cloudformation")
        names = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
        # what moto's CloudFormation skips exists too, as on AWS after bootstrap
        clients = {
            service: local_client(state, service) for service in ("codecommit", "codebuild", "codepipeline")
        }
        assert clients["codecommit"].get_repository(repositoryName="mlops-gitops")["repositoryMetadata"]
        assert {"mlops-validate", "mlops-deploy-dev"} <= set(clients["codebuild"].list_projects()["projects"])
        stages = clients["codepipeline"].get_pipeline(name="mlops-pipeline")["pipeline"]["stages"]
        assert [s["name"] for s in stages][:3] == ["Source", "Validate", "Deploy-dev"]
        for stage in ("dev", "staging", "prod"):
            assert names.get(f"mlops-{NEW}-{stage}", "").endswith("_COMPLETE"), names
        env = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_MAX_ATTEMPTS": "2",
            "PATH": os.environ.get("PATH", ""),
        }
        out_io, err_io = io.StringIO(), io.StringIO()
        code = main(
            [
                "--repo-root",
                str(repo),
                "status",
                "--endpoint-url",
                state["endpoint"],
                "--region",
                state["region"],
            ],
            environ=env,
            stdout=out_io,
            stderr=err_io,
        )
        assert code == 0, err_io.getvalue()
        rows = {line.split()[1]: line for line in out_io.getvalue().splitlines() if line.startswith(NEW)}
        assert set(rows) == {"dev", "staging", "prod"}, out_io.getvalue()
        assert " in-sync " in rows["dev"] and " in-sync " in rows["staging"], out_io.getvalue()
        # prod was updated by the second push. moto keeps a stack's tags from its creation when a
        # change set updates it, so the mlops:spec-hash tag status compares is the first push's and
        # prod reads out-of-sync here; on AWS the change set's tags replace them.
        assert "UPDATE_COMPLETE" in rows["prod"] and "healthy" in rows["prod"], out_io.getvalue()
    finally:
        assert mlopsctl(repo, "local", "down")[0] == 0
        with pytest.raises(ProcessLookupError):
            os.kill(state["pid"], 0)
