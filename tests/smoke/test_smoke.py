"""The AWS smoke run: for real with `make aws-smoke`, and as a dry run against moto in every CI run.

The dry run is what keeps the real run correct by construction: the same repository, fixtures,
commands, checks and clean-up, against a moto server on 127.0.0.1 that this test starts and stops."""

from __future__ import annotations

import io
import json
import logging
import os
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.smoke import checks, fixtures, plan
from tests.smoke.runner import Smoke, SmokeFailure

REGION = "us-east-1"
FAKE_KEYS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def allowed() -> bool:
    return os.environ.get("MLOPS_TEST_ALLOW_AWS", "").lower() == "true"


@pytest.mark.aws_verified
def test_smoke_on_a_real_account(tmp_path: Path) -> None:
    """`make aws-smoke`: costs money (see README); skipped unless MLOPS_TEST_ALLOW_AWS=true."""
    if not allowed():
        pytest.skip("set MLOPS_TEST_ALLOW_AWS=true to run against real AWS (it creates billed resources)")
    session = boto3.Session()
    if session.get_credentials() is None:
        pytest.skip("MLOPS_TEST_ALLOW_AWS=true but no AWS credentials were found")
    region = session.region_name or REGION
    source = None
    if os.environ.get("MLOPS_SMOKE_CONNECTION_ARN"):
        source = {
            "source": "connection",
            "connection_arn": os.environ["MLOPS_SMOKE_CONNECTION_ARN"],
            "full_repository_id": os.environ["MLOPS_SMOKE_REPOSITORY"],
        }
    smoke = Smoke(
        clients=lambda service: session.client(service, region_name=region),
        environ={**os.environ, "AWS_DEFAULT_REGION": region},
        region=region,
        work=tmp_path,
        out=_stdout(),
        real=True,
        minutes=int(os.environ.get("MLOPS_SMOKE_MINUTES", "60")),
        source=source,
    )
    smoke.run()


def _stdout():  # pytest -s shows the run as it goes; without -s it is kept for the failure report
    import sys

    return sys.stdout


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch):
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for key, value in {**FAKE_KEYS, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's state is per process, shared by every server in it: start clean, leave clean
    _reset(endpoint)
    try:
        yield endpoint
    finally:
        _reset(endpoint)
        server.stop()


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
    ).close()


def _dry_run(endpoint: str, work: Path, out: io.StringIO) -> Smoke:
    from moto.cloudformation.parsing import get_model_map

    no_retry = Config(retries={"max_attempts": 1, "mode": "standard"})
    # What the model would answer (moto's SageMaker runtime answers what it is told to).
    results = {"results": [{"Body": "0.79209405", "ContentType": "text/csv"}], "region": REGION}
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps(results).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    return Smoke(
        clients=lambda service: boto3.client(
            service, region_name=REGION, endpoint_url=endpoint, config=no_retry
        ),
        environ={**FAKE_KEYS, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint},
        region=REGION,
        work=work,
        out=out,
        real=False,
        minutes=10,
        modelled=set(get_model_map()),
    )


def test_smoke_dry_run_against_moto(moto_server: str, tmp_path: Path) -> None:
    out = io.StringIO()
    smoke = _dry_run(moto_server, tmp_path, out)
    smoke.run()
    report = out.getvalue()
    steps = [name for name, _ in smoke.results["steps"]]
    assert steps == [
        "prepare",
        "bootstrap",
        "validate",
        "deploy",
        "inventory",
        "health",
        "update",
        "clean-up",
    ]
    verdicts = dict(smoke.results["health"])
    # what moto can answer is answered; jobs are said to be not run, never passed
    assert verdicts["smoke-realtime: endpoint InService"] == "ok"
    assert verdicts["smoke-realtime: endpoint answers a score"] == "ok"
    assert verdicts["smoke-lake: lake bucket exists"] == "ok"
    assert verdicts["smoke-reporting: stream ACTIVE"] == "ok"
    assert all(
        verdicts[f"{c.pipeline_id}: {c.what}"] == "not run: moto runs no jobs" for c in checks.CHECKS if c.job
    )
    assert not [v for v in verdicts.values() if v.startswith("FAILED")]
    # the cost report names the endpoint with its instance type, and the clean-up left nothing
    assert any(kind == "AWS::SageMaker::Endpoint" for _, _, kind, _ in smoke.created)
    assert "smoke-realtime: ml.t2.medium" in report
    assert smoke.leftovers() == []
    assert f"nothing of {smoke.prefix} is left" in report
    # what the stacks retain on purpose is deleted by the smoke, and said (moto keeps only what is
    # marked exactly Retain, not RetainExceptOnCreate, so fewer of them reach the sweep here)
    assert f"deleted bucket {smoke.data}" in report


def test_a_failed_step_still_cleans_up(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    smoke = _dry_run(moto_server, tmp_path, out)

    def broken(aws, outputs):
        return "the endpoint is not there"

    failing = checks.Check("smoke-realtime", "endpoint InService", "AWS::SageMaker::Endpoint", broken)
    monkeypatch.setattr(checks, "CHECKS", [failing])
    with pytest.raises(SmokeFailure, match="the endpoint is not there"):
        smoke.run()
    assert [name for name, _ in smoke.results["steps"]][-1] == "clean-up"
    assert smoke.leftovers() == []


def test_a_prefix_that_is_not_throwaway_is_refused(moto_server: str, tmp_path: Path) -> None:
    smoke = _dry_run(moto_server, tmp_path, io.StringIO())
    with pytest.raises(SmokeFailure, match="smk and five hex digits"):
        _with_prefix(smoke, "mlops")


def _with_prefix(smoke: Smoke, prefix: str) -> Smoke:
    return Smoke(
        clients=smoke.clients,
        environ=smoke.environ,
        region=smoke.region,
        work=smoke.work,
        out=smoke.out,
        real=False,
        prefix=prefix,
    )


def test_the_smoke_covers_every_template_cheaply() -> None:
    templates = {
        p.stem for p in (Path(__file__).resolve().parents[2] / "cloudformation" / "pipelines").glob("*.yaml")
    }
    chosen = plan.pipelines("smk00000", "smk00000-smoke-111122223333-us-east-1")
    assert {p.template for p in chosen} == templates
    for p in chosen:
        config = json.dumps(p.config)
        assert "autoscaling" not in config and "dms_replication" not in config
        assert p.config.get("instance_count", 1) in (1, "1")
    # the smallest size that each kind of job accepts
    assert {i for p in chosen for i in p.instances} <= {"ml.t2.medium", "ml.m5.large"}
    assert all(c.pipeline_id in {p.pipeline_id for p in chosen} for c in checks.CHECKS)


def test_the_fixture_model_is_the_one_its_data_makes() -> None:
    """The committed model was trained on fixtures.rows() (regenerate: python -m tests.smoke.fixtures)."""
    model = json.loads(fixtures.MODEL.read_text())
    learner = model["learner"]
    assert learner["learner_model_param"]["num_feature"] == str(len(fixtures.FEATURES))
    assert learner["objective"]["name"] == "binary:logistic"
    assert model["version"][:2] == [1, 7]
    files = fixtures.files()
    assert files["batch/input.csv"].decode().count("\n") == 10
    assert files["train/train.csv"].decode().splitlines()[0].count(",") == len(fixtures.FEATURES)
