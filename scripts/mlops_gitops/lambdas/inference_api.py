"""Inference API Lambda: API Gateway (IAM auth, proxy integration) -> SageMaker InvokeEndpoint.

Request body: {"payload": <string or JSON value>, "content_type": "<MIME type>"}. A string payload
is sent as it is (default content type text/csv); any other JSON value is sent as JSON (default
application/json). The endpoint's answer is returned with its own content type.
"""

from __future__ import annotations

import base64
import json
import os

import boto3
from botocore.exceptions import ClientError

_client = None


def _runtime():
    global _client
    if _client is None:
        _client = boto3.client("sagemaker-runtime")
    return _client


def _response(status: int, body: str, content_type: str = "application/json") -> dict:
    return {"statusCode": status, "headers": {"Content-Type": content_type}, "body": body}


def _error(status: int, message: str) -> dict:
    return _response(status, json.dumps({"message": message}))


def parse_request(event: dict) -> tuple[bytes, str]:
    """The payload bytes and content type of an API Gateway proxy event; ValueError if malformed."""
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict) or "payload" not in body:
        raise ValueError('the request body must be a JSON object with a "payload" key')
    payload = body["payload"]
    content_type = body.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise ValueError('"content_type" must be a string')
    if isinstance(payload, str):
        return payload.encode("utf-8"), content_type or "text/csv"
    return json.dumps(payload).encode("utf-8"), content_type or "application/json"


def handler(event: dict, context: object = None) -> dict:
    try:
        data, content_type = parse_request(event)
    except ValueError as exc:
        return _error(400, str(exc))
    try:
        answer = _runtime().invoke_endpoint(
            EndpointName=os.environ["SAGEMAKER_ENDPOINT_NAME"], ContentType=content_type, Body=data
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        status = 400 if code == "ValidationError" else 502  # ModelError and the rest: the model failed
        return _error(status, f"{code}: {message}")
    body = answer["Body"].read()
    return _response(
        200, body.decode("utf-8", errors="replace"), answer.get("ContentType", "application/octet-stream")
    )
