"""Deploy's concurrency (issue 17): sized for waiting (default 32), set per repository in
environments.json's deploy.max_parallel, overridden by --max-parallel; a bad setting is a validate
finding at its JSON path, never a traceback."""

from __future__ import annotations

import io
import json

import pytest

from mlops_gitops.cli import deploy as deploy_verb
from mlops_gitops.cli import main
from mlops_gitops.config.environments import Environments
from mlops_gitops.defaults import DEFAULT_MAX_PARALLEL
from tests.conftest import CONFIGS, TmpRepo, run_cli

BASE = json.loads((CONFIGS / "environments.json").read_text())


@pytest.mark.parametrize(
    "flag, configured, expected",
    [(None, None, DEFAULT_MAX_PARALLEL), (None, 8, 8), (2, 8, 2), (50, None, 50)],
    ids=["default", "environments-json", "flag-over-setting", "flag-alone"],
)
def test_the_flag_overrides_the_setting_which_overrides_the_default(flag, configured, expected) -> None:
    assert deploy_verb.max_parallel(flag, configured) == expected


def test_the_default_is_sized_for_waiting_and_matches_the_clients_connection_pool() -> None:
    import inspect

    from mlops_gitops.aws import clients

    assert DEFAULT_MAX_PARALLEL == 32
    assert "max_pool_connections=32" in inspect.getsource(clients.AwsContext.client)


def test_the_setting_is_read_from_environments_json() -> None:
    assert Environments.from_data({**BASE, "deploy": {"max_parallel": 12}}).max_parallel == 12
    assert Environments.from_data(BASE).max_parallel is None


def test_the_deploy_flag_defaults_to_the_setting(tmp_repo: TmpRepo, monkeypatch) -> None:
    """deploy without --max-parallel hands environments.json's value to the Deployer."""
    from mlops_gitops.ops import deploy as ops_deploy

    seen = {}

    class Stop(Exception):
        pass

    def fake_deployer(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    tmp_repo.write_environments({**BASE, "deploy": {"max_parallel": 7}})
    monkeypatch.setattr(ops_deploy, "Deployer", fake_deployer)
    monkeypatch.setattr(deploy_verb, "render_or_fail", lambda *a: ([], []))
    monkeypatch.setattr(deploy_verb, "stage_gateways", lambda *a, **k: None)
    monkeypatch.setattr(deploy_verb, "stage_region", lambda *a: "us-east-1")
    for argv, expected in (
        (["deploy", "--stage", "dev"], 7),
        (["deploy", "--stage", "dev", "--max-parallel", "3"], 3),
    ):
        seen.clear()
        main(
            ["--repo-root", str(tmp_repo.root), *argv, "--region", "us-east-1", "--commit", "a" * 40],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )  # stops (exit 4) once the Deployer is made
        assert seen["max_parallel"] == expected


@pytest.mark.parametrize("value", [0, "many", 1000])
def test_a_bad_setting_is_a_finding_at_its_path(tmp_repo: TmpRepo, value) -> None:
    tmp_repo.write_environments({**BASE, "deploy": {"max_parallel": value}})
    result = run_cli("--repo-root", str(tmp_repo.root), "validate", "--format", "json")
    assert "Traceback" not in result.err, result.err
    assert result.code == 1, result.out + result.err
    paths = {f["path"] for f in result.json["findings"] if f["severity"] == "error"}
    assert "$.deploy.max_parallel" in paths
