"""bootstrap with a connection source refuses a connection that is not AVAILABLE before deploying
anything: the orchestrator's pr-check project creates its webhook on the provider through it
(https://docs.aws.amazon.com/dtconsole/latest/userguide/connections-update.html: a connection is
PENDING until completed in the console)."""

from __future__ import annotations

import pytest

from mlops_gitops.aws.connections import ConnectionGateway
from mlops_gitops.ops import bootstrap as ops_bootstrap
from tests.conftest import CONFIGS, TmpRepo, run_cli

ARN = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


@pytest.fixture
def connected(tmp_repo: TmpRepo, monkeypatch: pytest.MonkeyPatch):
    import json

    env = json.loads((CONFIGS / "environments.json").read_text())
    env["region"] = "us-east-1"
    env["orchestrator"] = {"source": "connection", "connection_arn": ARN, "full_repository_id": "org/ml"}
    tmp_repo.write_environments(env)
    deployed: list[str] = []

    def no_deploy(*args, **kwargs):
        deployed.append("bootstrap")
        raise AssertionError("deployed")

    monkeypatch.setattr(ops_bootstrap, "bootstrap", no_deploy)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    return tmp_repo, deployed


@pytest.mark.parametrize("status", ["PENDING", "ERROR"])
def test_a_connection_not_available_stops_bootstrap_before_any_stack(connected, monkeypatch, status) -> None:
    tmp_repo, deployed = connected
    monkeypatch.setattr(ConnectionGateway, "status", lambda self, arn: status)
    result = run_cli("--repo-root", str(tmp_repo.root), "bootstrap")
    assert result.code == 1, result.out + result.err
    assert f"the connection {ARN} is {status}: complete it in the console" in result.err
    assert "Nothing was deployed" in result.err and "Traceback" not in result.err
    assert deployed == []


def test_an_available_connection_goes_on_to_deploy(connected, monkeypatch) -> None:
    tmp_repo, deployed = connected
    monkeypatch.setattr(ConnectionGateway, "status", lambda self, arn: "AVAILABLE")
    run_cli("--repo-root", str(tmp_repo.root), "bootstrap")
    assert deployed == ["bootstrap"]
