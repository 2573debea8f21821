"""drift against an endpoint without the drift APIs (moto answers them with an HTML HTTP 500):
a clear message and exit 3, never a parser traceback or a page of HTML."""

from __future__ import annotations

from pathlib import Path

from tests.aws.conftest import orchestrator_basics
from tests.conftest import repo_copy, run_cli


def test_drift_says_the_endpoint_lacks_drift_detection(tmp_path: Path, moto_endpoint: str, aws) -> None:
    root = repo_copy(tmp_path / "repo", ("churn-batch",))
    orchestrator_basics(aws, "art")
    common = ("--repo-root", str(root))
    deployed = run_cli(
        *common, "deploy", "--stage", "dev", "--endpoint-url", moto_endpoint, "--commit", "1" * 40
    )
    assert deployed.code == 0, deployed.out + deployed.err
    result = run_cli(*common, "drift", "--stage", "dev", "--endpoint-url", moto_endpoint)
    assert result.code == 3
    assert "drift detection could not start on any stack (1 tried)" in result.err
    assert "the endpoint answered HTTP 500" in result.err
    assert "<html" not in result.err and "Traceback" not in result.err
