"""environments.json's orchestrator.provisioning_api: its shapes, and the one combination the
schema can't refuse (a connection source: the API commits with CodeCommit's API)."""

from __future__ import annotations

import json

import pytest

from mlops_gitops.config.validate import Report, Validator
from mlops_gitops.repo import Repo
from tests.conftest import CONFIGS

CONNECTION = {
    "source": "connection",
    "connection_arn": "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
    "full_repository_id": "my-org/ml-configs",
}


def findings(tmp_repo, orchestrator: dict) -> list:
    data = json.loads((CONFIGS / "environments.json").read_text())
    tmp_repo.write_environments({**data, "orchestrator": orchestrator})
    report = Report()
    Validator(Repo(tmp_repo.root)).environments(report)
    return report.findings


@pytest.mark.parametrize(
    "setting",
    [
        True,
        False,
        {},
        {"direct_commit": True},
        {"dependencies_layer_arn": "arn:aws:lambda:us-east-1:111122223333:layer:v:1"},
    ],
)
def test_accepted_shapes(tmp_repo, setting) -> None:
    assert findings(tmp_repo, {"provisioning_api": setting}) == []


@pytest.mark.parametrize(
    "setting", ["yes", {"direct_commit": "true"}, {"layer": "x"}, {"dependencies_layer_arn": "my-layer"}]
)
def test_other_shapes_are_findings_at_its_path(tmp_repo, setting) -> None:
    found = findings(tmp_repo, {"provisioning_api": setting})
    assert found and all(f.path.startswith("$.orchestrator.provisioning_api") for f in found), found


def test_with_a_connection_source_it_is_a_finding_naming_the_fix(tmp_repo) -> None:
    (finding,) = findings(tmp_repo, {**CONNECTION, "provisioning_api": True})
    assert (finding.path, finding.code) == ("$.orchestrator.provisioning_api", "provisioning-api")
    assert "CodeCommit" in finding.message and "drop provisioning_api" in finding.hint
    assert findings(tmp_repo, {**CONNECTION, "provisioning_api": False}) == []
