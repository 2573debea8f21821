"""Shared fixtures: a throw-away repository built from this repository's real schemas."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_gitops.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = REPO_ROOT / "pipeline-configs"
EXAMPLES = {p.parent.name: p for p in sorted(CONFIGS.glob("*/mlops-config.json"))}


def example(pipeline_id: str) -> dict[str, Any]:
    """A fresh copy of one example config of this repository."""
    return json.loads(EXAMPLES[pipeline_id].read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The botocore enum cache goes to a per-session temp folder, never to the user's home.
    monkeypatch.setenv("MLOPS_GITOPS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


class TmpRepo:
    """A repository in tmp_path with the real schemas and environments.json, and no configs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.configs = root / "pipeline-configs"
        self.configs.mkdir(parents=True)
        for name in ("mlops-config.schema.json", "environments.schema.json", "environments.json"):
            shutil.copy(CONFIGS / name, self.configs / name)

    def write(self, pipeline_id: str, config: dict[str, Any] | str | bytes) -> Path:
        """Write a config (a dict is dumped as JSON; str/bytes are written as they are)."""
        path = self.configs / pipeline_id / "mlops-config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(config, bytes):
            path.write_bytes(config)
        elif isinstance(config, str):
            path.write_text(config, encoding="utf-8")
        else:
            path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return path

    def write_environments(self, data: dict[str, Any] | str) -> Path:
        path = self.configs / "environments.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
        return path


@pytest.fixture
def tmp_repo(tmp_path: Path) -> TmpRepo:
    return TmpRepo(tmp_path / "repo")


def repo_copy(root: Path, pipelines: tuple[str, ...] | list[str], templates: bool = True) -> Path:
    """A repository at ``root`` with this one's schemas, environments.json, the given example
    pipelines and (by default) all of cloudformation/."""
    configs = root / "pipeline-configs"
    configs.mkdir(parents=True)
    for name in ("mlops-config.schema.json", "environments.schema.json", "environments.json"):
        shutil.copy(CONFIGS / name, configs / name)
    for pipeline in pipelines:
        shutil.copytree(CONFIGS / pipeline, configs / pipeline)
    if templates:
        shutil.copytree(REPO_ROOT / "cloudformation", root / "cloudformation")
    return root


def git_repo(root: Path, message: str = "initial") -> Path:
    """Make ``root`` a git repository on branch main with everything in it committed."""
    import subprocess

    for argv in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "test@example.com"],
        ["config", "user.name", "test"],
        ["add", "-A"],
        ["commit", "-qm", message],
    ):
        subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True)
    return root


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*argv: str) -> Result:
    """Run mlopsctl in-process, as a user would, capturing stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ={}, stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., Result]:
    return run_cli


def validate_findings(
    repo: TmpRepo, config: dict[str, Any] | str | bytes, pipeline_id: str = "p"
) -> list[dict]:
    """Write one config and return validate's JSON findings for it."""
    repo.write(pipeline_id, config)
    result = run_cli("--repo-root", str(repo.root), "validate", "--format", "json")
    assert result.code in (0, 1), result.err
    return result.json["findings"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current output; review the result as a diff before committing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
