"""Templates are read from cloudformation/pipelines/ itself (security review, finding 9):
pipeline-types.json comes from the repository, and pr-check renders a pull request's, so a name
with a path in it or a link out of the repository is a finding, never followed or echoed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlops_gitops.config.validate import Validator
from mlops_gitops.core.render import RenderError, render
from mlops_gitops.repo import Repo
from tests.conftest import repo_copy

SECRET = "top-secret-content-outside-the-repository"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = repo_copy(tmp_path / "repo", ("churn-batch",))
    (tmp_path / "outside.yaml").write_text(f"Description: {SECRET}\n")
    return root


def _render(root: Path):
    validator = Validator(Repo(root))
    env = validator.environments()
    cfg, findings = validator.check_config(
        root / "pipeline-configs" / "churn-batch" / "mlops-config.json", env
    )
    assert cfg is not None, findings
    return render(root, cfg, "dev", env, commit="c0ffee")


def _map(root: Path, name: str) -> None:
    path = root / "cloudformation" / "pipelines" / "pipeline-types.json"
    doc = json.loads(path.read_text())
    for key, types in list(doc["templates"].items()):
        if "byom_batch_builtin" in types or "byom_batch_custom" in types:
            del doc["templates"][key]
    doc["templates"][name] = ["byom_batch_builtin", "byom_batch_custom"]
    path.write_text(json.dumps(doc))


def test_the_real_template_renders(repo: Path) -> None:
    assert _render(repo).stack_name == "mlops-churn-batch-dev"


@pytest.mark.parametrize("how", ["dotdot", "link-out"])
def test_a_template_outside_the_pipelines_folder_is_a_finding_not_read(repo: Path, how: str) -> None:
    if how == "dotdot":
        _map(repo, "../../../outside.yaml")
    else:
        os.symlink(
            repo.parent / "outside.yaml",
            repo / "cloudformation" / "pipelines" / "batch_inference.yaml.lnk.yaml",
        )
        _map(repo, "batch_inference.yaml.lnk.yaml")
    with pytest.raises(RenderError) as caught:
        _render(repo)
    (finding,) = caught.value.findings
    assert finding.code == "template" and finding.pipeline_id == "churn-batch"
    assert SECRET not in finding.text()
