"""The inference API Lambda, with sagemaker-runtime stubbed by botocore's Stubber (moto can't run
Lambda code without docker), and its content-addressed packaging."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from mlops_gitops import lambdas
from mlops_gitops.lambdas import inference_api


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch):
    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(inference_api, "_client", client)
    monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", "mlops-churn-dev")
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.mark.parametrize(
    "request_body, sent, content_type",
    [
        ({"payload": "5.1,3.5,1.4"}, b"5.1,3.5,1.4", "text/csv"),
        ({"payload": {"instances": [[1, 2]]}}, b'{"instances": [[1, 2]]}', "application/json"),
        ({"payload": "a b", "content_type": "text/plain"}, b"a b", "text/plain"),
    ],
)
def test_requests_are_forwarded_to_the_endpoint(runtime: Stubber, request_body, sent, content_type) -> None:
    runtime.add_response(
        "invoke_endpoint",
        {"Body": _body(b"0.93"), "ContentType": "text/csv"},
        {"EndpointName": "mlops-churn-dev", "ContentType": content_type, "Body": sent},
    )
    answer = inference_api.handler({"body": json.dumps(request_body)})
    assert answer == {"statusCode": 200, "headers": {"Content-Type": "text/csv"}, "body": "0.93"}


def test_base64_bodies_are_decoded(runtime: Stubber) -> None:
    runtime.add_response(
        "invoke_endpoint",
        {"Body": _body(b"1"), "ContentType": "text/csv"},
        {"EndpointName": "mlops-churn-dev", "ContentType": "text/csv", "Body": b"1,2"},
    )
    event = {"body": base64.b64encode(b'{"payload": "1,2"}').decode(), "isBase64Encoded": True}
    assert inference_api.handler(event)["statusCode"] == 200


@pytest.mark.parametrize(
    "body, message",
    [
        ("not json", "the request body is not JSON"),
        ("[1, 2]", 'with a "payload" key'),
        ('{"data": 1}', 'with a "payload" key'),
        ('{"payload": "x", "content_type": 5}', '"content_type" must be a string'),
        (None, "the request body is not JSON"),
    ],
)
def test_bad_requests_get_400_without_calling_sagemaker(runtime: Stubber, body, message) -> None:
    answer = inference_api.handler({"body": body})
    assert answer["statusCode"] == 400
    assert message in json.loads(answer["body"])["message"]


@pytest.mark.parametrize(
    "code, status", [("ModelError", 502), ("ValidationError", 400), ("ServiceUnavailable", 502)]
)
def test_sagemaker_errors_are_mapped(runtime: Stubber, code: str, status: int) -> None:
    runtime.add_client_error(
        "invoke_endpoint", service_error_code=code, service_message="boom", http_status_code=400
    )
    answer = inference_api.handler({"body": '{"payload": "1"}'})
    assert answer["statusCode"] == status
    assert json.loads(answer["body"]) == {"message": f"{code}: boom"}


def test_packages_are_deterministic_and_content_addressed() -> None:
    first = lambdas.package("inference_api")
    lambdas.package.cache_clear()
    second = lambdas.package("inference_api")
    assert first.data == second.data and first.key == second.key
    assert first.key == f"lambda/inference-api-{first.sha256[:16]}.zip"
    with zipfile.ZipFile(io.BytesIO(first.data)) as zf:
        assert zf.namelist() == ["inference_api.py"]
        assert zf.read("inference_api.py") == Path(inference_api.__file__).read_bytes()
    with pytest.raises(KeyError):
        lambdas.package("nope")
